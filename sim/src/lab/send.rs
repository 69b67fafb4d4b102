//! What the lab's sender (`kpath lab send`, a small program of kpath's own) does to make the
//! kernel send exactly the packet kpath traced: the same source port, ICMP id, payload
//! bytes, TTL and path MTU discovery; for a TCP segment, the very bytes kpath built, sent
//! through a raw socket. For a flow, the whole exchange: connect, request, response, close.
//! The binary runs it; this module only decides what to send and how to read the answer.

use crate::net::Pmtudisc;
use crate::trace::Trace;
use crate::wire::{L3, L4};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// One run of the sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendPlan {
    pub proto: Proto,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// TCP and UDP.
    pub sport: u16,
    pub dport: u16,
    /// ICMP echo id.
    pub ident: u16,
    /// Payload bytes (ICMP data, UDP payload; TCP: the request of a flow).
    pub size: usize,
    /// `want`, `do` or `dont`.
    pub pmtudisc: String,
    pub ttl: Option<u8>,
    /// A TCP packet item: the datagram to send as it is (IP_HDRINCL).
    pub raw: Option<Vec<u8>>,
    /// A flow: the exchange to run.
    pub flow: Option<FlowPlan>,
    /// A flow of several connections: each one's source port (ICMP: echo id), in order;
    /// empty for one.
    pub again: Vec<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Icmp,
    Tcp,
    Udp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowPlan {
    pub request: usize,
    pub response: usize,
    pub close: bool,
}

/// What the lab's servers do with each connection or datagram (they read it from a file
/// the verifier writes before each item): wait for `request` bytes, answer `response`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServePlan {
    pub request: usize,
    pub response: usize,
}

pub fn pmtudisc_word(p: Pmtudisc) -> &'static str {
    match p {
        Pmtudisc::Want => "want",
        Pmtudisc::Do => "do",
        Pmtudisc::Dont => "dont",
    }
}

/// `IP_MTU_DISCOVER`'s value for a word (`IP_PMTUDISC_DONT` 0, `WANT` 1, `DO` 2).
pub fn pmtudisc_value(word: &str) -> i32 {
    match word {
        "dont" => 0,
        "do" => 2,
        _ => 1,
    }
}

/// The plan for a packet or a flow's first packet as kpath sent it (its `sent` frame):
/// `flow` for a whole exchange. None when the trace sent nothing (a name that did not
/// resolve) or the protocol is not one the sender speaks.
pub fn plan(t: &Trace, pmtudisc: Pmtudisc, flow: Option<FlowPlan>) -> Option<SendPlan> {
    let L3::Ipv4(ip) = &t.sent.as_ref()?.payload else {
        return None;
    };
    let mut p = SendPlan {
        proto: Proto::Udp,
        src: ip.src,
        dst: ip.dst,
        sport: 0,
        dport: 0,
        ident: 0,
        size: 0,
        pmtudisc: pmtudisc_word(pmtudisc).into(),
        ttl: Some(ip.ttl),
        raw: None,
        flow,
        again: Vec::new(),
    };
    match &ip.payload {
        L4::Icmp(i) => {
            p.proto = Proto::Icmp;
            if let crate::wire::IcmpMessage::EchoRequest { ident, .. } = i.msg {
                p.ident = ident;
            }
            p.size = i.data.len();
        }
        L4::Udp(u) => {
            (p.sport, p.dport) = (u.sport, u.dport);
            p.size = ip.payload.len() - crate::wire::UDP_HEADER_LEN;
        }
        L4::Tcp(t) => {
            p.proto = Proto::Tcp;
            (p.sport, p.dport) = (t.sport, t.dport);
            if flow.is_none() {
                p.raw = Some(ip.emit());
            }
        }
        L4::Fragment(_) => return None,
    }
    if let Some(f) = flow
        && p.proto != Proto::Icmp
    {
        p.size = f.request;
    }
    Some(p)
}

/// The source port (ICMP: echo id) of each connection of a flow outcome, in order: the
/// client's first packet of each.
pub fn connection_ports(f: &crate::trace::FlowTrace) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    for p in f.packets.iter().filter(|p| p.side == "client") {
        let Some(L3::Ipv4(ip)) = p.trace.sent.as_ref().map(|s| &s.payload) else {
            continue;
        };
        let port = match &ip.payload {
            L4::Icmp(i) => match i.msg {
                crate::wire::IcmpMessage::EchoRequest { ident, .. } => ident,
                _ => continue,
            },
            _ => match ip.l4_ports() {
                Some((s, _)) => s,
                None => continue,
            },
        };
        if !out.contains(&port) {
            out.push(port);
        }
    }
    out
}

/// What the sender prints when it ends, in the words `kernel_fate` reads.
pub fn outcome_words(kind: &str) -> &'static str {
    match kind {
        "reply" => "delivered: the answer came back",
        "sent" => "sent: no answer expected",
        "refused" => "refused",
        "frag" => "frag needed",
        "emsgsize" => "message too long",
        "ttl" => "time to live exceeded",
        "host" => "host unreachable",
        "net" => "network is unreachable",
        _ => "no answer",
    }
}
