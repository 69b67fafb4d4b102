//! The JSON form of a trace (schema in docs/trace-json.md): stable field names, every step
//! with the packet as it is after the step, the inner packet first and the VXLAN outer
//! headers under `outer`.

use crate::run::Walked;
use crate::trace::{Disposition, FlowTrace, PacketView, Step, Trace};
use serde::Serialize;

/// Bump when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct TraceView<'a> {
    schema: u32,
    scenario: &'a str,
    packet_name: &'a str,
    seed: u64,
    steps: Vec<StepView<'a>>,
    disposition: &'a Disposition,
}

#[derive(Serialize)]
struct StepView<'a> {
    #[serde(flatten)]
    step: &'a Step,
    packet: PacketView,
}

/// Render a trace as pretty JSON (deterministic: fields in declaration order).
pub fn trace(t: &Trace) -> String {
    let view = TraceView {
        schema: SCHEMA_VERSION,
        scenario: &t.scenario,
        packet_name: &t.packet,
        seed: t.seed,
        steps: t
            .steps
            .iter()
            .map(|s| StepView {
                step: s,
                packet: PacketView::of(&s.packet),
            })
            .collect(),
        disposition: &t.disposition,
    };
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(&view).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A flow as JSON: `packets[]`, each with its label, side and full trace.
pub fn flow(f: &FlowTrace) -> String {
    #[derive(Serialize)]
    struct FlowPacketView<'a> {
        label: &'a str,
        side: &'a str,
        trace: serde_json::Value,
    }
    #[derive(Serialize)]
    struct FlowView<'a> {
        schema: u32,
        scenario: &'a str,
        flow: &'a str,
        seed: u64,
        completed: bool,
        summary: &'a str,
        packets: Vec<FlowPacketView<'a>>,
    }
    let packets = f
        .packets
        .iter()
        .map(|p| FlowPacketView {
            label: &p.label,
            side: p.side,
            trace: serde_json::from_str(&trace(&p.trace)).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    let view = FlowView {
        schema: SCHEMA_VERSION,
        scenario: &f.scenario,
        flow: &f.flow,
        seed: f.seed,
        completed: f.completed,
        summary: &f.summary,
        packets,
    };
    serde_json::to_string_pretty(&view).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A walked packet or flow.
pub fn walked(w: &Walked) -> String {
    match w {
        Walked::Packet(t) => trace(t),
        Walked::Flow(f) => flow(f),
    }
}

/// Several walks: the one document when there is one, else an array of them.
pub fn walks(ws: &[Walked]) -> String {
    match ws {
        [w] => walked(w) + "\n",
        _ => format!(
            "[\n{}\n]\n",
            ws.iter().map(walked).collect::<Vec<_>>().join(",\n")
        ),
    }
}
