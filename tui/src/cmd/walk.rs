//! What `kpath trace`, `kpath pcap` and `kpath diagram` walk: pick the packets and flows
//! of a scenario and ask `kpath_sim` to walk them once each.

use crate::args::{DnsForm, WorldArgs};
use crate::failure::{Failure, usage};
use kpath_sim::k8s::build_world;
use kpath_sim::net::World;
pub use kpath_sim::run::Walked;
use kpath_sim::run::run_flow;
use kpath_sim::scenario::{Scenario, did_you_mean};

/// What the user asked to walk.
pub struct Selection<'a> {
    pub packet: Option<&'a str>,
    pub flow: Option<&'a str>,
}

pub(super) fn engine_error(
    s: &Scenario,
    name: &str,
    e: impl std::fmt::Display,
    known: Vec<&str>,
) -> Failure {
    let hint = did_you_mean(name, known.iter().copied())
        .map(|m| format!("\n  = hint: did you mean `{m}`?"))
        .unwrap_or_default();
    usage(format!("{}: {e}{hint}", s.file))
}

/// The names to walk: the one asked for, or every packet and flow of the scenario.
pub(super) fn names(s: &Scenario, sel: &Selection) -> Result<(Vec<String>, Vec<String>), Failure> {
    // Check the name here, against both lists: the engine's error for an unknown flow
    // says "no packet named" and lists the packets, and a packet given to --flow (or a
    // flow to --packet) deserves the right option rather than "unknown".
    let packets: Vec<&str> = s.packets.iter().map(|p| p.name.value.as_str()).collect();
    let flows: Vec<&str> = s.flows.iter().map(|f| f.name.value.as_str()).collect();
    let check = |name: &str, kind: &str, own: &[&str], other: &[&str], other_opt: &str| {
        if own.contains(&name) {
            return Ok(());
        }
        if other.contains(&name) {
            return Err(usage(format!(
                "{}: `{name}` is not a {kind} but a {}\n  = hint: use {other_opt} {name}",
                s.file,
                if kind == "packet" { "flow" } else { "packet" }
            )));
        }
        let hint = match did_you_mean(name, own.iter().copied()) {
            Some(m) => format!("did you mean `{m}`? "),
            None => String::new(),
        };
        let list = if own.is_empty() {
            format!("the scenario defines no {kind}s")
        } else {
            format!("{kind}s: {}", own.join(", "))
        };
        Err(usage(format!(
            "{} has no {kind} `{name}`\n  = hint: {hint}{list}",
            s.file
        )))
    };
    if let Some(p) = sel.packet {
        check(p, "packet", &packets, &flows, "--flow")?;
    }
    if let Some(f) = sel.flow {
        check(f, "flow", &flows, &packets, "--packet")?;
    }
    match (sel.packet, sel.flow) {
        (Some(p), _) => Ok((vec![p.to_string()], Vec::new())),
        (None, Some(f)) => Ok((Vec::new(), vec![f.to_string()])),
        (None, None) if s.packets.is_empty() && s.flows.is_empty() => Err(usage(format!(
            "{} defines no packets and no flows\n  = hint: add a `packets:` or `flows:` list (docs/scenario.md)",
            s.file
        ))),
        (None, None) => Ok((
            s.packets.iter().map(|p| p.name.value.clone()).collect(),
            s.flows.iter().map(|f| f.name.value.clone()).collect(),
        )),
    }
}

pub(super) fn world(s: &Scenario, args: &WorldArgs) -> Result<World, Failure> {
    let mut w = build_world(s.model(), args.seed.unwrap_or(s.seed))?;
    // The command line's traces say why the rules before a drop did not match.
    w.why_not = true;
    w.dns_packets = args.dns == DnsForm::Packets;
    Ok(w)
}

/// Load the scenario file and walk `--packet NAME` or `--flow NAME` (or everything) once.
pub fn load_and_walk(
    scenario: &std::path::Path,
    packet: Option<&str>,
    flow: Option<&str>,
    args: &WorldArgs,
) -> Result<(Scenario, Vec<Walked>), Failure> {
    let s = crate::cmd::shared::load(scenario)?;
    let walked = walk(&s, &Selection { packet, flow }, args)?;
    Ok((s, walked))
}

/// Walk the selection once each (random choices from the seed).
pub fn walk(s: &Scenario, sel: &Selection, args: &WorldArgs) -> Result<Vec<Walked>, Failure> {
    let w = world(s, args)?;
    let (packets, flows) = names(s, sel)?;
    let mut out = Vec::new();
    for p in &packets {
        let t = kpath_sim::run_packet(s, &w, p).map_err(|e| {
            engine_error(
                s,
                p,
                e,
                s.packets.iter().map(|x| x.name.value.as_str()).collect(),
            )
        })?;
        out.push(Walked::Packet(t));
    }
    for f in &flows {
        let t = run_flow(s, &w, f).map_err(|e| {
            engine_error(
                s,
                f,
                e,
                s.flows.iter().map(|x| x.name.value.as_str()).collect(),
            )
        })?;
        out.push(Walked::Flow(t));
    }
    Ok(out)
}
