//! Reading a node's dump files for rules-only mode: bounded in size, text only, and a bad
//! byte located as every other error is.

use crate::failure::Failure;
use kpath_sim::scenario::ScenarioError;

/// The largest dump read: 128 MiB. A kube-proxy node's iptables-save grows by about 2.5 KB
/// per Service of 5 endpoints (25 MB at 10,000 Services), so this holds about 50,000 such
/// Services, and memory stays bounded on any input.
pub(super) const MAX_DUMP_BYTES: u64 = 128 * 1024 * 1024;

/// A dump's bytes: mapped from the file when it is a regular file, read otherwise.
///
/// A node's dump is tens of megabytes that are read once, front to back. Mapping them
/// shares the page cache's pages instead of copying them into as many freshly zeroed ones,
/// which on a VM cost more than the parse itself. Stated assumption: the file is not
/// changed while kpath reads it (as for any tool that maps its input, e.g. ripgrep).
pub(super) enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Read(v) => v,
        }
    }
}

/// A dump read whole: its name for errors, and its bytes, checked to be UTF-8 text.
pub(super) struct Dump {
    pub(super) name: String,
    bytes: Bytes,
}

impl Dump {
    pub(super) fn text(&self) -> &str {
        // Checked by `read_dump`.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }
}

/// Read a dump file, refusing one too large to be a node's dump, a directory, and bytes
/// that are not UTF-8 text (located, not read lossily: a stray byte would otherwise turn
/// into a word no rule has).
pub(super) fn read_dump(file: &std::path::Path) -> Result<Dump, Failure> {
    use std::io::Read;
    let name = file.display().to_string();
    let limit = MAX_DUMP_BYTES;
    let cannot = |e: std::io::Error| -> Failure {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => {
                "check the path; save the dump on the node with e.g. `iptables-save > node.rules`"
            }
            std::io::ErrorKind::PermissionDenied => "the file is not readable by you",
            _ => "give the dump file itself",
        };
        ScenarioError::whole_file(&name, format!("cannot read {name}: {e}"))
            .with_hint(hint)
            .into()
    };
    let meta = std::fs::metadata(file).map_err(cannot)?;
    if meta.is_dir() {
        return Err(
            ScenarioError::whole_file(&name, format!("{name} is a directory, not a dump"))
                .with_hint("give the dump file itself, e.g. node.rules")
                .into(),
        );
    }
    let too_large = |size: String| -> Failure {
        ScenarioError::whole_file(
            &name,
            format!("{name} is {size} bytes; dumps are limited to {limit} bytes"),
        )
        .with_hint(
            "a kube-proxy node with 10,000 Services dumps about 25 MB; is this a node's dump?",
        )
        .into()
    };
    if meta.len() > limit {
        return Err(too_large(meta.len().to_string()));
    }
    let f = std::fs::File::open(file).map_err(cannot)?;
    let bytes = if meta.is_file() && meta.len() > 0 {
        // SAFETY: the map is read only, and kpath does not change the file; another
        // process changing it meanwhile is outside what kpath can know (see `Bytes`).
        match unsafe { memmap2::Mmap::map(&f) } {
            Ok(m) if m.len() as u64 <= limit => Bytes::Mapped(m),
            Ok(m) => return Err(too_large(m.len().to_string())),
            Err(e) => return Err(cannot(e)),
        }
    } else {
        // At most limit + 1 bytes, whatever the metadata said: a FIFO, /dev/zero or a
        // file still growing has no size to check first, and memory stays bounded.
        let mut v = Vec::new();
        f.take(limit + 1).read_to_end(&mut v).map_err(cannot)?;
        if v.len() as u64 > limit {
            return Err(too_large(format!("more than {limit}")));
        }
        Bytes::Read(v)
    };
    if let Err(e) = std::str::from_utf8(&bytes) {
        return Err(not_utf8(&name, &bytes, e));
    }
    Ok(Dump { name, bytes })
}

/// Bytes that are not UTF-8, located: the first bad byte's offset as line:column (columns
/// count characters, as every other error does), the line shown with the bad bytes as U+FFFD.
fn not_utf8(name: &str, bytes: &[u8], e: std::str::Utf8Error) -> Failure {
    let at = e.valid_up_to();
    // Everything before `at` is valid UTF-8.
    let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    let line_end = bytes[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| at + p);
    // The shown line: control characters (binary files are full of them) would drive the
    // terminal, so they show as U+FFFD too (one character each: the column stays right).
    let source_line: String = String::from_utf8_lossy(&bytes[line_start..line_end])
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    let err = ScenarioError {
        file: name.to_string(),
        line,
        column,
        message: format!(
            "{name} is not UTF-8 text: byte 0x{:02x} at offset {at} is not valid UTF-8",
            bytes[at]
        ),
        source_line,
        width: 1,
        hint: Some(
            "iptables-save, ipset and ipvsadm-save print plain text; is this a compressed or binary file, or a dump saved in another encoding?".into(),
        ),
    };
    err.into()
}
