//! The tracks a learner can follow: each packet of a scenario (every outcome of it when
//! kube-proxy's pick makes several) and each packet of each flow, computed whole by
//! `kpath_sim` before the first frame.

use kpath_sim::net::World;
use kpath_sim::resolve::ResolveError;
use kpath_sim::run::{flow_outcomes, packet_outcomes};
use kpath_sim::scenario::Scenario;
use kpath_sim::trace::Trace;

/// One trace the learner can follow: a packet, one outcome of it, or one packet of a flow.
pub struct Track {
    pub label: String,
    pub trace: Trace,
    /// The outcome `kpath trace` gives for the same seed (every track of a packet or
    /// flow with one outcome): where the TUI opens.
    pub seeded: bool,
    /// Tracks with the same group are the packets of one flow (one outcome of it), in
    /// order: play goes on from one to the next.
    pub group: usize,
}

/// Flows with more outcomes than this are shown by their most probable ones.
const MAX_FLOW_OUTCOMES: usize = 8;

/// Everything the learner can follow: each packet (every outcome of it when kube-proxy's
/// pick makes several), and each packet of each flow (per outcome).
pub fn tracks(s: &Scenario, w: &World, only: Option<&str>) -> Result<Vec<Track>, ResolveError> {
    let mut out = Vec::new();
    for p in s
        .packets
        .iter()
        .filter(|p| only.is_none_or(|o| o == p.name.value))
    {
        let name = &p.name.value;
        let outcomes = packet_outcomes(s, w, name)?;
        let n = outcomes.len();
        // The outcome `kpath trace` prints for this seed: the one the TUI opens on.
        let seeded = (n > 1)
            .then(|| kpath_sim::run_packet(s, w, name))
            .transpose()?
            .map(|t| same_json(&t));
        for o in outcomes {
            // What tells the outcomes apart first (a label is cut where the pane ends).
            let label = if n == 1 {
                name.clone()
            } else {
                let d = &o.result.disposition;
                format!(
                    "{name} {:.0}%: {} at {}",
                    o.probability * 100.0,
                    d.kind.name(),
                    d.netns
                )
            };
            out.push(Track {
                label,
                seeded: seeded.as_ref().is_none_or(|j| *j == same_json(&o.result)),
                group: out.len(),
                trace: o.result,
            });
        }
    }
    for f in s
        .flows
        .iter()
        .filter(|f| only.is_none_or(|o| o == f.name.value))
    {
        let name = &f.name.value;
        // Each repeated connection multiplies the outcomes (3 endpoints, 8 connections:
        // 6561 whole flows); follow the seeded run of those, every outcome of the others.
        let outcomes = if f.connections() > 1 {
            vec![kpath_sim::engine::Outcome {
                probability: 1.0,
                choices: Vec::new(),
                result: kpath_sim::run::run_flow(s, w, name)?,
            }]
        } else {
            flow_outcomes(s, w, name)?
        };
        let n = outcomes.len();
        let seeded = (n > 1)
            .then(|| kpath_sim::run::run_flow(s, w, name))
            .transpose()?
            .map(|f| same_json(&f));
        for o in outcomes.into_iter().take(MAX_FLOW_OUTCOMES) {
            // The packets of this outcome play one after the other.
            let group = out.len();
            let is_seeded = seeded.as_ref().is_none_or(|j| *j == same_json(&o.result));
            // Where the flow's first packet arrived tells its outcomes apart.
            let at = o
                .result
                .packets
                .first()
                .map(|p| p.trace.disposition.netns.clone())
                .unwrap_or_default();
            for p in o.result.packets {
                let label = if n == 1 {
                    format!("{name}: {}", p.label)
                } else {
                    format!("{name} {:.0}% {at}: {}", o.probability * 100.0, p.label)
                };
                out.push(Track {
                    label,
                    seeded: is_seeded,
                    group,
                    trace: p.trace,
                });
            }
        }
    }
    Ok(out)
}

/// A trace or flow as JSON: two outcomes are the same walk when these are equal.
fn same_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
