//! A real node's state as `kpath collect` gathers it: one directory of command outputs.
//! The rule dumps (iptables-save, ipset save, ipvsadm-save -n, nft list ruleset) are read
//! by their own parsers; this module reads the rest - iproute2's JSON (`ip -j -d addr`,
//! `ip -j -d link`, `ip -j route show table all`, `ip -j neigh`, `bridge -j fdb`) and
//! `sysctl -a` - into one network namespace with the node's devices, addresses, routes,
//! neighbours, forwarding databases and sysctls, so the one engine walks the node as it is.
//!
//! [`FILES`] names every file and the command that writes it: `kpath collect`'s script and
//! the reader both come from it, so the two cannot drift apart.

mod iproute2_json;
mod netns;
mod sysctl_a;

pub use netns::{NodeState, build};

use crate::diag::InputError;
use std::path::{Path, PathBuf};

/// One file of a node dump: its name in the directory and the command that prints it.
pub struct DumpFile {
    pub name: &'static str,
    pub command: &'static str,
}

/// Every file kpath reads from a node dump, in the order `kpath collect` gathers them.
pub const FILES: &[DumpFile] = &[
    DumpFile {
        name: IPTABLES,
        command: "iptables-save",
    },
    DumpFile {
        name: IPSETS,
        command: "ipset save",
    },
    DumpFile {
        name: IPVS,
        command: "ipvsadm-save -n",
    },
    DumpFile {
        name: NFT,
        command: "nft list ruleset",
    },
    DumpFile {
        name: ADDR,
        command: "ip -j -d addr show",
    },
    DumpFile {
        name: LINK,
        command: "ip -j -d link show",
    },
    DumpFile {
        name: ROUTE,
        command: "ip -j route show table all",
    },
    DumpFile {
        name: NEIGH,
        command: "ip -4 -j neigh show",
    },
    DumpFile {
        name: FDB,
        command: "bridge -j fdb show",
    },
    DumpFile {
        name: SYSCTL,
        command: "sysctl -a",
    },
];

pub const IPTABLES: &str = "iptables-save";
pub const IPSETS: &str = "ipset-save";
pub const IPVS: &str = "ipvsadm-save";
pub const NFT: &str = "nft-ruleset";
const ADDR: &str = "ip-addr.json";
const LINK: &str = "ip-link.json";
const ROUTE: &str = "ip-route.json";
const NEIGH: &str = "ip-neigh.json";
const FDB: &str = "bridge-fdb.json";
const SYSCTL: &str = "sysctl.txt";

/// The largest file kpath reads from a dump (a node's `sysctl -a` is about 60 KB, its
/// `ip -j -d addr` with a thousand pods' veths a few MB).
const MAX_FILE_BYTES: u64 = 256 << 20;

/// The directory of a node dump: which of [`FILES`] it holds.
pub struct NodeDir {
    pub dir: PathBuf,
    /// The files present, by name.
    pub present: Vec<&'static str>,
    /// Files in the directory kpath does not read (a typo, or another tool's output).
    pub unknown: Vec<String>,
}

impl NodeDir {
    /// Look in `dir`. An error when it is no directory or holds none of the files.
    pub fn open(dir: &Path) -> Result<NodeDir, InputError> {
        let shown = dir.display().to_string();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            InputError::whole_file(&shown, format!("cannot read the node dump directory: {e}"))
                .with_hint("give the directory `kpath collect`'s script wrote (sh collect.sh DIR on the node)")
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let present: Vec<&'static str> = FILES
            .iter()
            .map(|f| f.name)
            .filter(|n| names.iter().any(|m| m == n))
            .collect();
        let unknown: Vec<String> = names
            .into_iter()
            .filter(|n| !FILES.iter().any(|f| f.name == n))
            .collect();
        if present.is_empty() {
            let expected: Vec<&str> = FILES.iter().map(|f| f.name).collect();
            return Err(InputError::whole_file(
                &shown,
                "the node dump directory holds none of the files kpath reads",
            )
            .with_hint(format!(
                "expected any of {}; `kpath collect` prints the script that writes them",
                expected.join(", ")
            )));
        }
        Ok(NodeDir {
            dir: dir.to_path_buf(),
            present,
            unknown,
        })
    }

    /// The path of file `name` when the dump holds it.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.present.contains(&name).then(|| self.dir.join(name))
    }

    /// Read file `name`: None when absent; its shown name and text.
    fn read(&self, name: &str) -> Result<Option<(String, String)>, InputError> {
        let Some(path) = self.path(name) else {
            return Ok(None);
        };
        let shown = path.display().to_string();
        let too_big = std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_FILE_BYTES);
        if too_big {
            return Err(InputError::whole_file(
                &shown,
                format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
            )
            .with_hint(
                "a node's dump files are kilobytes to a few megabytes: is this the right file?",
            ));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| InputError::whole_file(&shown, format!("cannot read it: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            InputError::whole_file(
                &shown,
                format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            )
        })?;
        Ok(Some((shown, text)))
    }

    /// The node's network state from the iproute2 and sysctl files (rules are read apart);
    /// None when the dump lists no devices, and with them nothing else can be placed.
    /// Files the directory holds beside kpath's are named in the notes.
    pub fn state(&self) -> Result<Option<NodeState>, InputError> {
        let texts = Texts {
            addr: self.read(ADDR)?,
            link: self.read(LINK)?,
            route: self.read(ROUTE)?,
            neigh: self.read(NEIGH)?,
            fdb: self.read(FDB)?,
            sysctl: self.read(SYSCTL)?,
        };
        let mut state = build(&texts)?;
        if let Some(s) = &mut state
            && !self.unknown.is_empty()
        {
            s.notes.push(format!(
                "files in the node dump kpath does not read: {}",
                self.unknown.join(", ")
            ));
        }
        Ok(state)
    }
}

/// The iproute2 and sysctl files of a dump, each as (shown name, text) when present.
#[derive(Default)]
pub struct Texts {
    pub addr: Option<(String, String)>,
    pub link: Option<(String, String)>,
    pub route: Option<(String, String)>,
    pub neigh: Option<(String, String)>,
    pub fdb: Option<(String, String)>,
    pub sysctl: Option<(String, String)>,
}

/// iptables-nft's tables as `nft list ruleset` shows them (`table ip nat`, ...) when the
/// dump's iptables-save holds the same tables: one ruleset seen twice. Their lines are
/// blanked (so errors keep their lines) and the tables named.
pub fn without_iptables_tables(nft: &str, iptables: &str) -> (String, Vec<String>) {
    let held: Vec<&str> = iptables
        .lines()
        .filter_map(|l| l.strip_prefix('*'))
        .map(str::trim)
        .collect();
    let mut out = String::with_capacity(nft.len());
    let mut dropped = Vec::new();
    let mut inside = false;
    for line in nft.lines() {
        if !inside
            && let Some(name) = line
                .strip_prefix("table ip ")
                .and_then(|r| r.strip_suffix(" {"))
            && held.contains(&name)
        {
            inside = true;
            dropped.push(format!("ip {name}"));
        }
        if !inside {
            out.push_str(line);
        }
        out.push('\n');
        if inside && line == "}" {
            inside = false;
        }
    }
    (out, dropped)
}

/// The POSIX script `kpath collect` prints: run on a node, it writes every file of
/// [`FILES`] its tools can, into one directory.
pub fn collect_script() -> String {
    let mut s = String::from(
        r#"#!/bin/sh
# kpath collect: gather a node's network state for `kpath trace --node-dump DIR`.
# Run it as root on the node (or in its network namespace: ip netns exec NS sh collect.sh):
#   sh collect.sh [DIR]        (DIR defaults to ./kpath-node-HOSTNAME)
# It only reads. Each command's output goes to a file named after it; a missing tool or
# a failing command is skipped, and kpath reads whichever files are there.
set -u
dir=${1:-kpath-node-$(hostname 2>/dev/null || echo node)}
mkdir -p "$dir" || exit 1

# run FILE COMMAND...: COMMAND's output into DIR/FILE, its complaint to stderr.
run() {
	file=$1
	shift
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "kpath collect: $1 not found, $file skipped" >&2
		return 0
	fi
	if ! "$@" >"$dir/$file" 2>"$dir/.err"; then
		echo "kpath collect: '$*' failed, $file skipped: $(head -n 1 "$dir/.err")" >&2
		rm -f "$dir/$file"
	fi
	rm -f "$dir/.err"
}

"#,
    );
    for f in FILES {
        s.push_str(&format!("run {} {}\n", f.name, f.command));
    }
    s.push_str(
        "echo \"kpath collect: wrote $dir; ask it: kpath trace --node-dump $dir --src IP --dst IP:PORT\" >&2\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_nft_tables_seen_twice_are_blanked_keeping_lines() {
        let nft =
            "table ip nat {\n\tchain X {\n\t}\n}\ntable ip kube-proxy {\n\tchain Y {\n\t}\n}\n";
        let (out, dropped) = without_iptables_tables(nft, "*nat\n:X - [0:0]\nCOMMIT\n");
        assert_eq!(dropped, vec!["ip nat".to_string()]);
        assert_eq!(out.lines().count(), nft.lines().count());
        assert!(!out.contains("table ip nat"));
        assert!(out.contains("table ip kube-proxy {\n\tchain Y"));
    }

    #[test]
    fn the_script_gathers_every_file_the_reader_reads() {
        let script = collect_script();
        for f in FILES {
            assert!(
                script.contains(&format!("run {} {}\n", f.name, f.command)),
                "{}",
                f.name
            );
        }
    }
}
