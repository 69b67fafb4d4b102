//! `kpath test`'s report: one line per case and a closing `N passed, N failed[, N skipped]`
//! line as text; the same as JSON; or JUnit XML, the format CI systems read.

use crate::check::{Case, Status};
use std::fmt::Write as _;

fn counts(cases: &[Case]) -> (usize, usize, usize) {
    let c = |s| cases.iter().filter(|x| x.status == s).count();
    (c(Status::Pass), c(Status::Fail), c(Status::Skip))
}

/// The closing line: `N passed, N failed` and `, N skipped` when any.
pub fn closing(cases: &[Case]) -> String {
    let (p, f, s) = counts(cases);
    if s > 0 {
        format!("{p} passed, {f} failed, {s} skipped")
    } else {
        format!("{p} passed, {f} failed")
    }
}

/// `PASS FILE NAME` per case, a failure's details under it, then the closing line.
pub fn as_text(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        let _ = writeln!(
            out,
            "{} {} {}",
            c.status.word().to_uppercase(),
            c.file,
            c.name
        );
        if c.status == Status::Fail {
            for d in &c.details {
                let _ = writeln!(out, "     {d}");
            }
        }
    }
    let _ = writeln!(out, "{}", closing(cases));
    out
}

/// `{"cases": [...], "passed": N, "failed": N, "skipped": N}`.
pub fn as_json(cases: &[Case]) -> String {
    let (p, f, s) = counts(cases);
    serde_json::to_string_pretty(
        &serde_json::json!({"cases": cases, "passed": p, "failed": f, "skipped": s}),
    )
    .unwrap_or_default()
        + "\n"
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one testsuite, a testcase per case, with `<failure>` or `<skipped>`.
pub fn as_junit(cases: &[Case]) -> String {
    let (_, f, s) = counts(cases);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kpath\" tests=\"{}\" failures=\"{f}\" skipped=\"{s}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"kpath scenarios\" tests=\"{}\" failures=\"{f}\" skipped=\"{s}\">",
        cases.len()
    );
    for c in cases {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(&c.file),
            xml(&c.name)
        );
        match c.status {
            Status::Fail => {
                let first = c.details.first().cloned().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{open}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml(&first),
                    xml(&c.details.join("\n"))
                );
            }
            Status::Skip => {
                let _ = writeln!(
                    out,
                    "{open}>\n      <skipped message=\"no expect block\"/>\n    </testcase>"
                );
            }
            Status::Pass => {
                let _ = writeln!(out, "{open}/>");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
