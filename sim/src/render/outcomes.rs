//! Every possible outcome of a packet or flow (`kpath trace --all-outcomes`): a numbered
//! list with each outcome's probability and one-line fate, then each outcome's trace under
//! the choices (`-m statistic`, IPVS scheduling) that led to it.

use super::{json, text};
use crate::engine::{MAX_ENUMERATED_STEPS, MAX_OUTCOMES, Outcome, explored};
use crate::run::Walked;
use crate::trace::{DispositionKind, PacketView};
use std::fmt::Write as _;

/// A packet's or flow's name with its outcomes.
pub type Named = (String, Vec<Outcome<Walked>>);

/// How a walk ended, in one line: `delivered at node-2/web-b as 10.244.1.2 -> 10.244.2.4:80`,
/// or for a flow `completed: ...`.
pub fn summary(w: &Walked) -> String {
    match w {
        Walked::Packet(t) => {
            let d = &t.disposition;
            let at = match t.arrival().map(|s| PacketView::of(&s.packet)) {
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

fn port(p: Option<u16>) -> String {
    p.map(|p| format!(":{p}")).unwrap_or_default()
}

/// The outcomes as text; `title` names the scenario.
pub fn as_text(title: &str, all: &[Named], opts: &text::TextOptions) -> String {
    let mut out = String::new();
    for (name, os) in all {
        let _ = writeln!(
            out,
            "{title}: `{name}` has {} possible outcome{}:",
            os.len(),
            if os.len() == 1 { "" } else { "s" }
        );
        let covered = explored(os);
        if covered < 1.0 - 1e-9 {
            let _ = writeln!(
                out,
                "  (cut short after {} outcomes - kpath keeps at most {MAX_OUTCOMES} outcomes or {MAX_ENUMERATED_STEPS} steps in all - covering {:.2}% of the probability: the rest were not walked)",
                os.len(),
                covered * 100.0
            );
        }
        for (i, o) in os.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {:>2}. {:>6.2}%  {}",
                i + 1,
                o.probability * 100.0,
                summary(&o.result)
            );
        }
        for (i, o) in os.iter().enumerate() {
            let why: Vec<String> = o
                .choices
                .iter()
                .map(|c| format!("{} -> {}", c.what, c.taken()))
                .collect();
            let _ = writeln!(
                out,
                "\n--- outcome {} of {} ({:.2}%){} ---",
                i + 1,
                os.len(),
                o.probability * 100.0,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {}", why.join("; "))
                }
            );
            out.push_str(&text::walked(&o.result, opts));
        }
    }
    out
}

/// The outcomes as JSON: per name, each outcome's probability, summary, choices and trace.
/// One name gives one document, several an array.
pub fn as_json(all: &[Named]) -> String {
    let v: Vec<serde_json::Value> = all
        .iter()
        .map(|(name, os)| {
            serde_json::json!({
                "name": name,
                "outcomes": os.iter().map(|o| serde_json::json!({
                    "probability": o.probability,
                    "summary": summary(&o.result),
                    "choices": o.choices,
                    "trace": json::walked_value(&o.result),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = match <[_; 1]>::try_from(v) {
        Ok([one]) => one,
        Err(v) => serde_json::Value::Array(v),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
