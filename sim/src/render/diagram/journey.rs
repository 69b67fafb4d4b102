//! A packet's (or a flow's) journey as the diagrams draw it: the namespaces it visits in
//! order, the hops between them (which device handed the packet to which, and whether it
//! rode the VXLAN tunnel), and the decisions taken inside each (a rule that changed or
//! decided, NAT, IPVS, the tunnel's ends, the fate). Read from the trace's steps; the
//! diagrams only draw it.

use crate::render::text::in_brief;
use crate::trace::{FlowTrace, PacketView, Role, Step, StepKind, Trace};

pub struct Journey {
    pub title: String,
    /// The namespaces visited, in the order the packet first reached them.
    pub places: Vec<String>,
    pub events: Vec<Event>,
}

pub enum Event {
    /// The packet went from `places[from]` to `places[to]`.
    Hop {
        from: usize,
        to: usize,
        /// `veth_xmit eth0 -> cni0`.
        via: String,
        /// The packet as it arrived (the inner one inside a tunnel).
        packet: String,
        /// `VXLAN vni 1, 172.31.0.11 > 172.31.0.13` while encapsulated.
        tunnel: Option<String>,
        /// A reply or an answer the kernel sent (drawn dashed).
        reply: bool,
    },
    /// Something decided inside `places[at]`.
    Note { at: usize, text: String },
    /// The start of one packet of a flow (`packet 2 of 5: SYN-ACK from the server`).
    Packet { label: String },
}

/// The journey of one packet.
pub fn of_trace(t: &Trace) -> Journey {
    let mut j = Journey {
        title: format!("{}: packet {}", t.scenario, t.packet),
        places: Vec::new(),
        events: Vec::new(),
    };
    add_trace(&mut j, t, false);
    j
}

/// The journey of every packet of a flow, one after the other.
pub fn of_flow(f: &FlowTrace) -> Journey {
    let mut j = Journey {
        title: format!("{}: flow {}", f.scenario, f.flow),
        places: Vec::new(),
        events: Vec::new(),
    };
    for (i, p) in f.packets.iter().enumerate() {
        j.events.push(Event::Packet {
            label: format!(
                "packet {} of {}: {} from the {}",
                i + 1,
                f.packets.len(),
                p.label,
                p.side
            ),
        });
        add_trace(&mut j, &p.trace, p.side != "client");
    }
    j
}

fn place(j: &mut Journey, ns: &str) -> usize {
    match j.places.iter().position(|p| p == ns) {
        Some(i) => i,
        None => {
            j.places.push(ns.to_string());
            j.places.len() - 1
        }
    }
}

fn add_trace(j: &mut Journey, t: &Trace, reply: bool) {
    let mut prev: Option<&Step> = None;
    for (i, s) in t.steps.iter().enumerate() {
        if s.role == Role::Response {
            let at = place(j, &s.netns);
            let v = PacketView::of(&s.packet);
            let what = v
                .icmp
                .clone()
                .unwrap_or_else(|| format!("TCP [{}]", v.tcp_flags.clone().unwrap_or_default()));
            j.events.push(Event::Note {
                at,
                text: format!("{}: {what} sent back to {}", s.func, v.dst),
            });
            continue;
        }
        if s.role != Role::Packet {
            continue;
        }
        let at = place(j, &s.netns);
        if let Some(p) = prev.filter(|p| p.netns != s.netns) {
            let from = place(j, &p.netns);
            let dev = |x: &Step| x.device.clone().unwrap_or_default();
            let v = PacketView::of(&s.packet);
            j.events.push(Event::Hop {
                from,
                to: at,
                via: format!("{} {} -> {}", p.func, dev(p), dev(s)),
                packet: packet_words(&v),
                tunnel: v
                    .outer
                    .as_ref()
                    .map(|o| format!("VXLAN vni {}, {} > {}", o.vni, o.src, o.dst)),
                reply,
            });
        }
        if let Some(text) = decision(&t.steps, i) {
            j.events.push(Event::Note { at, text });
        }
        prev = Some(s);
    }
    let d = &t.disposition;
    let at = place(j, &d.netns);
    let what = d.socket.as_deref().unwrap_or(&d.reason).to_string();
    j.events.push(Event::Note {
        at,
        text: format!("{}: {what}", d.kind.name().to_uppercase()),
    });
}

/// `TCP [S] 10.244.0.2:35032 > 10.96.100.1:80`.
fn packet_words(v: &PacketView) -> String {
    let port = |p: Option<u16>| p.map(|p| format!(":{p}")).unwrap_or_default();
    let what = match (&v.tcp_flags, &v.icmp) {
        (Some(f), _) => format!("TCP [{f}]"),
        (_, Some(i)) => format!("ICMP {i}"),
        _ => v.proto.to_uppercase(),
    };
    format!(
        "{what} {}{} > {}{}",
        v.src,
        port(v.sport),
        v.dst,
        port(v.dport)
    )
}

/// What step `i` decided, in a few words, when it is a decision (the ones the brief
/// trace keeps, less the hops, routes and conntrack lookups the arrows already show).
fn decision(steps: &[Step], i: usize) -> Option<String> {
    let s = &steps[i];
    if !in_brief(steps, i) {
        return None;
    }
    match s.kind {
        StepKind::Netfilter => s.nf.as_ref().map(|n| {
            let action = n.action.describe();
            let action = action.trim_start_matches("verdict ");
            if n.rule.is_policy() {
                format!("{} {}: {action}", n.rule.table.name(), n.rule.chain)
            } else {
                format!(
                    "{} {} #{}: {action}",
                    n.rule.table.name(),
                    n.rule.chain,
                    n.rule.position
                )
            }
        }),
        StepKind::Nat | StepKind::Ipvs => {
            Some(s.note.trim_start_matches("nf_nat_packet: ").to_string())
        }
        // The note's first clause: what was done, without the why.
        StepKind::Encap | StepKind::Decap => {
            let what = s.note.split([';', '(']).next().unwrap_or_default().trim();
            Some(format!("{}: {what}", s.func))
        }
        _ => None,
    }
}
