//! `kpath compare`: one scenario in each kube-proxy mode, side by side. `kpath_sim::compare`
//! walks and measures; this file lays the numbers out.

use crate::args::Format;
use crate::cmd::shared::{load, no_packet_or_flow};
use crate::failure::{Failure, Output, usage};
use kpath_sim::compare::{Comparison, compare};
use kpath_sim::k8s::kube_proxy::{self, controller};
use kpath_sim::scenario::{ProxyMode, Scenario};
use std::fmt::Write as _;
use std::path::PathBuf;

/// `kpath compare`.
pub fn command(
    scenario: PathBuf,
    proxy_modes: String,
    packet: Option<String>,
    flow: Option<String>,
    format: Format,
    seed: Option<u64>,
) -> Result<Output, Failure> {
    let modes = parse_modes(&proxy_modes)?;
    let s = load(&scenario)?;
    if let Some(p) = &packet
        && s.packet(p).is_none()
    {
        return Err(no_packet_or_flow(&s, p));
    }
    if let Some(f) = &flow
        && !s.flows.iter().any(|x| &x.name.value == f)
    {
        return Err(no_packet_or_flow(&s, f));
    }
    let (text, ok) = run(&s, &modes, packet.as_deref(), flow.as_deref(), seed, format)?;
    Ok(Output::Report { text, ok })
}

/// Parse `iptables,ipvs`: the modes kpath models (kube_proxy::parse_modes), at least two.
pub fn parse_modes(text: &str) -> Result<Vec<ProxyMode>, Failure> {
    let modes = kube_proxy::parse_modes("--proxy-modes", text)
        .map_err(|e| usage(format!("{}\n  = hint: {}", e.message, e.hint)))?;
    if modes.len() < 2 {
        let all: Vec<&str> = kube_proxy::MODES
            .iter()
            .map(|m| controller(*m).name())
            .collect();
        return Err(usage(format!(
            "--proxy-modes: a comparison needs two modes\n  = hint: `--proxy-modes {}`",
            all.join(",")
        )));
    }
    Ok(modes)
}

/// Run the comparison and render it.
pub fn run(
    s: &Scenario,
    modes: &[ProxyMode],
    packet: Option<&str>,
    flow: Option<&str>,
    seed: Option<u64>,
    format: Format,
) -> Result<(String, bool), Failure> {
    let (packets, flows): (Vec<String>, Vec<String>) = match (packet, flow) {
        (Some(p), _) => (vec![p.to_string()], Vec::new()),
        (None, Some(f)) => (Vec::new(), vec![f.to_string()]),
        (None, None) => (
            s.packets.iter().map(|p| p.name.value.clone()).collect(),
            s.flows.iter().map(|f| f.name.value.clone()).collect(),
        ),
    };
    if packets.is_empty() && flows.is_empty() {
        return Err(usage(format!(
            "{} defines no packets and no flows\n  = hint: add a `packets:` or `flows:` list (docs/scenario.md)",
            s.file
        )));
    }
    let seed = seed.unwrap_or(s.seed);
    let cs =
        compare(s, modes, seed, &packets, &flows).map_err(|e| usage(format!("{}: {e}", s.file)))?;
    let same = cs.iter().all(Comparison::same_endpoints);
    let out = match format {
        Format::Json => {
            let v = serde_json::json!({
                "schema": "kpath.compare/1",
                "scenario": s.title(),
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
        Format::Text => cs
            .iter()
            .map(|c| text(s, seed, c))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    Ok((out, same))
}

fn text(s: &Scenario, seed: u64, c: &Comparison) -> String {
    let what = if c.flow { "flow" } else { "packet" };
    let mut out = format!(
        "{}: {what} `{}` in each kube-proxy mode (seed {seed})\n",
        s.title(),
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
