//! `kpath trace` for scenarios: ask `kpath_sim` to walk the packets and flows (once, or
//! every possible outcome) and render what it returns.

use crate::args::Format;
use crate::cmd::shared::load;
use crate::cmd::walk::{Selection, Walked, engine_error, names, walk, world};
use crate::failure::{Failure, Output, usage};
use kpath_sim::engine::Outcome;
use kpath_sim::run::{flow_outcomes, packet_outcomes};
use kpath_sim::scenario::Scenario;
use kpath_sim::trace::{DispositionKind, json, text};
use std::path::PathBuf;

impl Walked {
    fn text(&self, opts: &text::TextOptions) -> String {
        match self {
            Walked::Packet(t) => text::render(t, opts),
            Walked::Flow(f) => text::render_flow(f, opts),
        }
    }
    fn json(&self) -> String {
        match self {
            Walked::Packet(t) => json::render(t),
            Walked::Flow(f) => json::render_flow(f),
        }
    }
    /// One line: how it ended.
    fn summary(&self) -> String {
        match self {
            Walked::Packet(t) => {
                let d = &t.disposition;
                let at = match t
                    .steps
                    .last()
                    .map(|s| kpath_sim::trace::json::PacketView::of(&s.packet))
                {
                    Some(p) if d.kind == DispositionKind::Delivered => format!(
                        " as {}{} -> {}{}",
                        p.src,
                        port(p.sport),
                        p.dst,
                        port(p.dport)
                    ),
                    _ => String::new(),
                };
                format!("{} at {}{at}", d.kind.name(), d.netns)
            }
            Walked::Flow(f) => format!(
                "{}: {}",
                if f.completed { "completed" } else { "failed" },
                f.summary
            ),
        }
    }
}

fn port(p: Option<u16>) -> String {
    p.map(|p| format!(":{p}")).unwrap_or_default()
}

/// A packet's or flow's name with its outcomes.
type Named = (String, Vec<Outcome<Walked>>);

/// Every possible outcome of each selected packet and flow.
fn outcomes(s: &Scenario, sel: &Selection, seed: Option<u64>) -> Result<Vec<Named>, Failure> {
    let w = world(s, seed)?;
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

/// `kpath trace SCENARIO ...` (rules-only mode, with --iptables-save, is cmd/rules.rs).
pub fn command(
    scenario: Option<PathBuf>,
    packet: Option<String>,
    flow: Option<String>,
    all_outcomes: bool,
    format: Format,
    explain: bool,
    seed: Option<u64>,
) -> Result<Output, Failure> {
    let Some(scenario) = scenario else {
        return Err(usage(
            "give a scenario file, or --iptables-save FILE with --src and --dst".into(),
        ));
    };
    let s = load(&scenario)?;
    let sel = Selection {
        packet: packet.as_deref(),
        flow: flow.as_deref(),
    };
    let out = trace(&s, &sel, seed, format, explain, all_outcomes)?;
    Ok(Output::Text(out))
}

/// `kpath trace SCENARIO ...`.
pub fn trace(
    s: &Scenario,
    sel: &Selection,
    seed: Option<u64>,
    format: Format,
    explain: bool,
    all: bool,
) -> Result<String, Failure> {
    let opts = text::TextOptions { explain };
    if !all {
        let walked = walk(s, sel, seed)?;
        return Ok(match format {
            Format::Text => walked
                .iter()
                .map(|w| w.text(&opts))
                .collect::<Vec<_>>()
                .join("\n"),
            Format::Json if walked.len() == 1 => walked[0].json() + "\n",
            Format::Json => format!(
                "[\n{}\n]\n",
                walked
                    .iter()
                    .map(|w| w.json())
                    .collect::<Vec<_>>()
                    .join(",\n")
            ),
        });
    }
    let all = outcomes(s, sel, seed)?;
    Ok(match format {
        Format::Text => {
            let mut out = String::new();
            for (name, os) in &all {
                out.push_str(&format!(
                    "{}: `{name}` has {} possible outcome{}:\n",
                    s.title(),
                    os.len(),
                    if os.len() == 1 { "" } else { "s" }
                ));
                let covered = kpath_sim::engine::explored(os);
                if covered < 1.0 - 1e-9 {
                    out.push_str(&format!(
                        "  (cut short after {} outcomes - kpath keeps at most {} outcomes or {} steps in all - covering {:.2}% of the probability: the rest were not walked)\n",
                        os.len(),
                        kpath_sim::engine::MAX_OUTCOMES,
                        kpath_sim::engine::MAX_ENUMERATED_STEPS,
                        covered * 100.0
                    ));
                }
                for (i, o) in os.iter().enumerate() {
                    out.push_str(&format!(
                        "  {:>2}. {:>6.2}%  {}\n",
                        i + 1,
                        o.probability * 100.0,
                        o.result.summary()
                    ));
                }
                for (i, o) in os.iter().enumerate() {
                    let why: Vec<String> = o
                        .choices
                        .iter()
                        .map(|c| format!("{} -> {}", c.what, c.taken()))
                        .collect();
                    out.push_str(&format!(
                        "\n--- outcome {} of {} ({:.2}%){} ---\n",
                        i + 1,
                        os.len(),
                        o.probability * 100.0,
                        if why.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", why.join("; "))
                        }
                    ));
                    out.push_str(&o.result.text(&opts));
                }
            }
            out
        }
        Format::Json => {
            let v: Vec<serde_json::Value> = all
                .iter()
                .map(|(name, os)| {
                    serde_json::json!({
                        "name": name,
                        "outcomes": os.iter().map(|o| serde_json::json!({
                            "probability": o.probability,
                            "summary": o.result.summary(),
                            "choices": o.choices,
                            "trace": serde_json::from_str::<serde_json::Value>(&o.result.json()).unwrap_or(serde_json::Value::Null),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let doc = if v.len() == 1 {
                v.into_iter().next().unwrap_or_default()
            } else {
                serde_json::Value::Array(v)
            };
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
    })
}
