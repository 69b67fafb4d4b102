//! `kpath show --node N --nft`: the `ip kube-proxy` table nftables mode writes on a node,
//! printed as `nft list ruleset` does. Every shipped scenario's node-1 table reads back
//! with kpath's reader and, where this machine can (root, nft), loads into a fresh network
//! namespace with `nft -f`, and the kernel lists the same ruleset.

mod common;

use kpath_sim::netfilter::nftables;
use std::process::{Command, Stdio};

fn can_load() -> bool {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    });
    let nft = Command::new("nft").arg("--version").output().is_ok();
    if !(root && nft) {
        eprintln!("SKIPPED loading into the kernel: needs root and nft");
    }
    root && nft
}

/// Load `text` with `nft -f` into a new namespace and return `nft list ruleset`.
fn kernel_listing(name: &str, text: &str) -> String {
    let ns = format!("kpath-show-{}-{name}", std::process::id());
    assert!(
        Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap()
            .success()
    );
    let mut load = Command::new("ip")
        .args(["netns", "exec", &ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    load.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let loaded = load.wait_with_output().unwrap();
    let listed = Command::new("ip")
        .args(["netns", "exec", &ns, "nft", "list", "ruleset"])
        .output()
        .unwrap();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    assert!(
        loaded.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    String::from_utf8_lossy(&listed.stdout).into_owned()
}

#[test]
fn every_scenarios_nftables_table_reads_back_and_loads_into_the_kernel() {
    let load = can_load();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".yaml").map(String::from))
        .collect();
    names.sort();
    for name in names {
        let out = common::kpath()
            .args(["show"])
            .arg(common::scenario_path(&name))
            .args(["--node", "node-1", "--nft"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("table ip kube-proxy {") && text.contains("chain nat-prerouting {"),
            "{name}:\n{text}"
        );
        let ours = nftables::parse(&name, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if load {
            let listed = kernel_listing(&name, &text);
            let kernels = nftables::parse("kernel", &listed)
                .unwrap_or_else(|e| panic!("{name}: {e}\n{listed}"));
            assert_eq!(kernels.unordered(), ours.unordered(), "{name}");
        }
    }
}
