//! `kpath compare`'s report: one scenario in each kube-proxy mode, side by side, as a table
//! per packet or flow, or as JSON (schema `kpath.compare/1`).

use crate::compare::Comparison;
use crate::k8s::kube_proxy::controller;
use crate::scenario::ProxyMode;
use std::fmt::Write as _;

/// Every comparison as text, a blank line between.
pub fn as_text(title: &str, seed: u64, cs: &[Comparison]) -> String {
    cs.iter()
        .map(|c| comparison(title, seed, c))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every comparison as one JSON document.
pub fn as_json(title: &str, seed: u64, modes: &[ProxyMode], cs: &[Comparison]) -> String {
    let v = serde_json::json!({
        "schema": "kpath.compare/1",
        "scenario": title,
        "seed": seed,
        "modes": modes.iter().map(|m| controller(*m).name()).collect::<Vec<_>>(),
        "comparisons": cs.iter().map(|c| serde_json::json!({
            "name": c.name,
            "flow": c.flow,
            "sameEndpoints": c.same_endpoints(),
            "runs": c.runs,
        })).collect::<Vec<_>>(),
    });
    let mut t = serde_json::to_string_pretty(&v).unwrap_or_default();
    t.push('\n');
    t
}

/// One comparison as a table: a column per mode, then where each mode's outcomes end and
/// what translated the packet.
fn comparison(title: &str, seed: u64, c: &Comparison) -> String {
    let what = if c.flow { "flow" } else { "packet" };
    let mut out = format!(
        "{title}: {what} `{}` in each kube-proxy mode (seed {seed})\n",
        c.name
    );
    let pct = |p: f64| {
        let v = p * 100.0;
        if (v - v.round()).abs() < 0.005 {
            format!("{v:.0}%")
        } else {
            format!("{v:.2}%")
        }
    };
    let rows: Vec<(&str, Vec<String>)> = vec![
        ("", c.runs.iter().map(|r| r.mode.to_string()).collect()),
        ("fate", c.runs.iter().map(|r| r.fate.clone()).collect()),
        (
            "arrives as",
            c.runs
                .iter()
                .map(|r| r.arrival.clone().unwrap_or_else(|| "-".into()))
                .collect(),
        ),
        (
            "TTL on arrival",
            c.runs
                .iter()
                .map(|r| r.ttl.map_or("-".into(), |t| t.to_string()))
                .collect(),
        ),
        (
            "destination NAT",
            c.runs
                .iter()
                .map(|r| r.dnat_at.clone().unwrap_or_else(|| "none".into()))
                .collect(),
        ),
        (
            "rules matched",
            c.runs.iter().map(|r| r.rules_matched.to_string()).collect(),
        ),
        (
            "rules looked at",
            c.runs
                .iter()
                .map(|r| r.rules_evaluated.to_string())
                .collect(),
        ),
        (
            "steps",
            c.runs.iter().map(|r| r.steps.to_string()).collect(),
        ),
    ];
    let label_w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let col_w: Vec<usize> = (0..c.runs.len())
        .map(|i| rows.iter().map(|(_, v)| v[i].len()).max().unwrap_or(0) + 3)
        .collect();
    for (label, vals) in &rows {
        let mut line = format!("  {label:<label_w$}");
        for (v, w) in vals.iter().zip(&col_w) {
            let _ = write!(line, "{v:<w$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for r in &c.runs {
        let _ = writeln!(out, "  {}:", r.mode);
        let ends: Vec<String> = r
            .endpoints
            .iter()
            .map(|(e, p)| format!("{e} {}", pct(*p)))
            .collect();
        let _ = writeln!(out, "    reaches     {}", ends.join(", "));
        if r.translations.is_empty() {
            let _ = writeln!(out, "    translated  nowhere");
        }
        for (i, t) in r.translations.iter().enumerate() {
            let head = if i == 0 { "translated" } else { "" };
            let _ = writeln!(out, "    {head:<11} {t}");
        }
    }
    let _ = writeln!(
        out,
        "  same endpoints in every mode: {}",
        if c.same_endpoints() { "yes" } else { "NO" }
    );
    out
}
