//! `kpath compare`: one scenario in each kube-proxy mode, side by side. `kpath_sim::compare`
//! walks and measures; `kpath_sim::render::compare` lays the numbers out.

use crate::args::Format;
use crate::cmd::shared::{load, no_packet_or_flow};
use crate::failure::{Failure, Output, usage};
use kpath_sim::compare::{Comparison, compare};
use kpath_sim::k8s::kube_proxy::{self, controller};
use kpath_sim::render;
use kpath_sim::scenario::{ProxyMode, Scenario};
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
        Format::Json => render::compare::as_json(s.title(), seed, modes, &cs),
        Format::Text => render::compare::as_text(s.title(), seed, &cs),
    };
    Ok((out, same))
}
