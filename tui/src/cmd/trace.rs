//! `kpath trace` for scenarios: ask `kpath_sim` to walk the packets and flows (once, or
//! every possible outcome) and render what it returns.

use crate::args::{Format, WorldArgs};
use crate::cmd::shared::load_with;
use crate::cmd::walk::{Selection, Walked, engine_error, names, walk, world};
use crate::failure::{Failure, Output, usage};
use kpath_sim::engine::Outcome;
use kpath_sim::render::outcomes::Named;
use kpath_sim::render::{self, json, text};
use kpath_sim::run::{flow_outcomes, packet_outcomes};
use kpath_sim::scenario::Scenario;
use std::path::PathBuf;

/// Every possible outcome of each selected packet and flow.
fn outcomes(s: &Scenario, sel: &Selection, args: &WorldArgs) -> Result<Vec<Named>, Failure> {
    let w = world(s, args)?;
    let (packets, flows) = names(s, sel)?;
    let mut out = Vec::new();
    for p in &packets {
        let o = packet_outcomes(s, &w, p).map_err(|e| {
            engine_error(
                s,
                p,
                e,
                s.packets.iter().map(|x| x.name.value.as_str()).collect(),
            )
        })?;
        out.push((
            p.clone(),
            o.into_iter()
                .map(|o| Outcome {
                    probability: o.probability,
                    choices: o.choices,
                    result: Walked::Packet(o.result),
                })
                .collect(),
        ));
    }
    for f in &flows {
        let o = flow_outcomes(s, &w, f).map_err(|e| {
            engine_error(
                s,
                f,
                e,
                s.flows.iter().map(|x| x.name.value.as_str()).collect(),
            )
        })?;
        out.push((
            f.clone(),
            o.into_iter()
                .map(|o| Outcome {
                    probability: o.probability,
                    choices: o.choices,
                    result: Walked::Flow(o.result),
                })
                .collect(),
        ));
    }
    Ok(out)
}

/// `--from A --to B [--proto P]`: a packet the scenario does not define.
pub struct AdhocArgs {
    pub from: String,
    pub to: String,
    pub protocol: String,
}

/// `kpath trace SCENARIO ...` (rules-only mode, with --iptables-save, is cmd/rules.rs).
#[allow(clippy::too_many_arguments)]
pub fn command(
    scenario: Option<PathBuf>,
    packet: Option<String>,
    flow: Option<String>,
    adhoc: Option<AdhocArgs>,
    all_outcomes: bool,
    format: Format,
    opts: text::TextOptions,
    manifests: &[PathBuf],
    args: &WorldArgs,
) -> Result<Output, Failure> {
    let Some(scenario) = scenario else {
        return Err(usage(
            "give a scenario file, or --iptables-save FILE with --src and --dst".into(),
        ));
    };
    let mut s = load_with(&scenario, manifests)?;
    let mut packet = packet;
    let mut flow = flow;
    match adhoc {
        Some(a) => {
            let ask = kpath_sim::scenario::adhoc::Adhoc {
                from: &a.from,
                to: &a.to,
                protocol: &a.protocol,
                flow: flow.as_deref() == Some(""),
            };
            if flow.as_deref().is_some_and(|f| !f.is_empty()) {
                return Err(usage(
                    "--from/--to send their own packet; --flow takes no NAME with them\n  = hint: add --flow alone for the whole connection".into(),
                ));
            }
            let name = kpath_sim::scenario::adhoc::add(&mut s, &ask).map_err(usage)?;
            if ask.flow {
                flow = Some(name);
            } else {
                packet = Some(name);
            }
        }
        None if flow.as_deref() == Some("") => {
            return Err(usage(
                "--flow needs the NAME of one of the scenario's flows\n  = hint: or give --from and --to for a connection the scenario does not define".into(),
            ));
        }
        None => {}
    }
    let sel = Selection {
        packet: packet.as_deref(),
        flow: flow.as_deref(),
    };
    let out = trace(&s, &sel, args, format, &opts, all_outcomes)?;
    Ok(Output::Text(out))
}

/// `kpath trace SCENARIO ...`.
pub fn trace(
    s: &Scenario,
    sel: &Selection,
    args: &WorldArgs,
    format: Format,
    opts: &text::TextOptions,
    all: bool,
) -> Result<String, Failure> {
    if !all {
        let walked = walk(s, sel, args)?;
        return Ok(match format {
            Format::Text => text::walks(&walked, opts),
            Format::Json => json::walks(&walked),
        });
    }
    let all = outcomes(s, sel, args)?;
    Ok(match format {
        Format::Text => render::outcomes::as_text(s.title(), &all, opts),
        Format::Json => render::outcomes::as_json(&all),
    })
}
