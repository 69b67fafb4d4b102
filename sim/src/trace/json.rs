//! The JSON form of a trace (schema in docs/trace-json.md): stable field names, every step
//! with the packet as it is after the step, the inner packet first and the VXLAN outer
//! headers under `outer`.

use super::{Step, Trace};
use crate::wire::{Frame, Ipv4, L3, L4, UdpPayload};
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
    disposition: &'a super::Disposition,
}

#[derive(Serialize)]
struct StepView<'a> {
    #[serde(flatten)]
    step: &'a Step,
    packet: PacketView,
}

/// The headers of a packet, flattened for machines.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct PacketView {
    pub eth_src: String,
    pub eth_dst: String,
    /// `icmp`, `tcp`, `udp` or `arp` (of the inner packet when encapsulated).
    pub proto: &'static str,
    pub src: String,
    pub dst: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// IP total length (ARP: 28).
    pub len: usize,
    /// Bytes of the whole frame on the wire (without FCS).
    pub frame_len: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outer: Option<OuterView>,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct OuterView {
    pub eth_src: String,
    pub eth_dst: String,
    pub src: String,
    pub dst: String,
    pub udp_sport: u16,
    pub udp_dport: u16,
    pub vni: u32,
    pub ttl: u8,
    pub len: usize,
}

impl PacketView {
    pub fn of(f: &Frame) -> PacketView {
        let frame_len = f.len();
        match &f.payload {
            L3::Ipv4(ip) => {
                if let L4::Udp(u) = &ip.payload
                    && let UdpPayload::Vxlan(v) = &u.payload
                {
                    let mut inner = PacketView::of(&v.inner);
                    inner.frame_len = frame_len;
                    inner.outer = Some(OuterView {
                        eth_src: f.src.to_string(),
                        eth_dst: f.dst.to_string(),
                        src: ip.src.to_string(),
                        dst: ip.dst.to_string(),
                        udp_sport: u.sport,
                        udp_dport: u.dport,
                        vni: v.vni,
                        ttl: ip.ttl,
                        len: ip.total_len(),
                    });
                    return inner;
                }
                ipv4_view(f, ip, frame_len)
            }
            L3::Arp(a) => PacketView {
                eth_src: f.src.to_string(),
                eth_dst: f.dst.to_string(),
                proto: "arp",
                src: a.sender_ip.to_string(),
                dst: a.target_ip.to_string(),
                sport: None,
                dport: None,
                ttl: None,
                len: crate::wire::ARP_LEN,
                frame_len,
                tcp_flags: None,
                icmp: None,
                outer: None,
            },
        }
    }
}

fn ipv4_view(f: &Frame, ip: &Ipv4, frame_len: usize) -> PacketView {
    let (proto, sport, dport, flags, icmp) = match &ip.payload {
        L4::Icmp(i) => ("icmp", None, None, None, Some(i.msg.to_string())),
        L4::Tcp(t) => (
            "tcp",
            Some(t.sport),
            Some(t.dport),
            Some(t.flags.to_string()),
            None,
        ),
        L4::Udp(u) => ("udp", Some(u.sport), Some(u.dport), None, None),
    };
    PacketView {
        eth_src: f.src.to_string(),
        eth_dst: f.dst.to_string(),
        proto,
        src: ip.src.to_string(),
        dst: ip.dst.to_string(),
        sport,
        dport,
        ttl: Some(ip.ttl),
        len: ip.total_len(),
        frame_len,
        tcp_flags: flags,
        icmp,
        outer: None,
    }
}

/// Render a trace as pretty JSON (deterministic: fields in declaration order).
pub fn render(t: &Trace) -> String {
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
pub fn render_flow(f: &super::FlowTrace) -> String {
    #[derive(Serialize)]
    struct PacketView<'a> {
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
        packets: Vec<PacketView<'a>>,
    }
    let packets = f
        .packets
        .iter()
        .map(|p| PacketView {
            label: &p.label,
            side: p.side,
            trace: serde_json::from_str(&render(&p.trace)).unwrap_or(serde_json::Value::Null),
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
