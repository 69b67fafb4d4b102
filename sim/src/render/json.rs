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

fn view(t: &Trace) -> TraceView<'_> {
    TraceView {
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
    }
}

/// Render a trace as pretty JSON (deterministic: fields in declaration order).
pub fn trace(t: &Trace) -> String {
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(&view(t)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A trace as a JSON value, to nest in a larger document (a flow, a list of outcomes).
pub fn trace_value(t: &Trace) -> serde_json::Value {
    serde_json::to_value(view(t)).unwrap_or(serde_json::Value::Null)
}

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

fn flow_view(f: &FlowTrace) -> FlowView<'_> {
    FlowView {
        schema: SCHEMA_VERSION,
        scenario: &f.scenario,
        flow: &f.flow,
        seed: f.seed,
        completed: f.completed,
        summary: &f.summary,
        packets: f
            .packets
            .iter()
            .map(|p| FlowPacketView {
                label: &p.label,
                side: p.side,
                trace: trace_value(&p.trace),
            })
            .collect(),
    }
}

/// A flow as JSON: `packets[]`, each with its label, side and full trace.
pub fn flow(f: &FlowTrace) -> String {
    serde_json::to_string_pretty(&flow_view(f))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A flow as a JSON value.
fn flow_value(f: &FlowTrace) -> serde_json::Value {
    serde_json::to_value(flow_view(f)).unwrap_or(serde_json::Value::Null)
}

/// A walked packet or flow as a JSON value.
pub fn walked_value(w: &Walked) -> serde_json::Value {
    match w {
        Walked::Packet(t) => trace_value(t),
        Walked::Flow(f) => flow_value(f),
    }
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
