//! `kpath verify`'s report: per packet, the kernel's path against kpath's, check by check.

use crate::lab::verify::Row;
use std::fmt::Write as _;

/// The rows as a table; `!` marks a difference.
pub fn as_text(label: &str, rows: &[Row]) -> String {
    let bad = rows.iter().filter(|r| !r.ok).count();
    let verdict = if bad == 0 { "AGREES" } else { "DIFFERS" };
    let mut out = format!(
        "\n{label}: {verdict} ({} checks, {bad} differences)\n",
        rows.len()
    );
    let _ = writeln!(out, "  {:<28} {:<44} kpath", "check", "kernel");
    for r in rows {
        let mark = if r.ok { ' ' } else { '!' };
        let _ = writeln!(out, "{mark} {:<28} {:<44} {}", r.what, r.kernel, r.kpath);
    }
    out
}
