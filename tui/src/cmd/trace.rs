//! `kpath trace` and `kpath pcap` for scenarios: pick the packets and flows, ask `kpath_sim`
//! to walk them (once, or every possible outcome), and render what it returns.

use crate::args::Format;
use crate::failure::{Failure, usage};
use kpath_sim::engine::{Outcome, flow_outcomes, packet_outcomes, run_flow};
use kpath_sim::k8s::build_world;
use kpath_sim::net::World;
use kpath_sim::scenario::{Scenario, did_you_mean};
use kpath_sim::trace::{DispositionKind, FlowTrace, Trace, json, text};

/// What the user asked to walk.
pub struct Selection<'a> {
    pub packet: Option<&'a str>,
    pub flow: Option<&'a str>,
}

/// A walked packet or flow.
pub enum Walked {
    Packet(Trace),
    Flow(FlowTrace),
}

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
    /// The traces, in order (one, or a flow's packets).
    pub fn traces(&self) -> Vec<&Trace> {
        match self {
            Walked::Packet(t) => vec![t],
            Walked::Flow(f) => f.packets.iter().map(|p| &p.trace).collect(),
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

fn engine_error(s: &Scenario, name: &str, e: impl std::fmt::Display, known: Vec<&str>) -> Failure {
    let hint = did_you_mean(name, known.iter().copied())
        .map(|m| format!("\n  = hint: did you mean `{m}`?"))
        .unwrap_or_default();
    usage(format!("{}: {e}{hint}", s.file))
}

/// The names to walk: the one asked for, or every packet and flow of the scenario.
fn names(s: &Scenario, sel: &Selection) -> Result<(Vec<String>, Vec<String>), Failure> {
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

fn world(s: &Scenario, seed: Option<u64>) -> Result<World, Failure> {
    Ok(build_world(s, seed.unwrap_or(s.seed))?)
}

/// Walk the selection once each (random choices from the seed).
pub fn walk(s: &Scenario, sel: &Selection, seed: Option<u64>) -> Result<Vec<Walked>, Failure> {
    let w = world(s, seed)?;
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
