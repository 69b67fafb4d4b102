//! Where a trace's packet is at a step: the place it stands, the places it has been, and
//! the VXLAN tunnel it is inside.

use super::{NodeBox, Place, Topology, Tunnel};
use crate::trace::{Step, Trace};
use crate::wire::{Ipv4Addr, L3, L4, UdpPayload};
use serde::Serialize;

/// A step's packet inside a VXLAN tunnel: the VXLAN header and the outer addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Encap {
    pub vni: u32,
    pub dstport: u16,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

/// How a place is to be shown at a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// The packet is here now.
    Here,
    /// The packet has been here (up to and including now).
    Been,
    /// Not yet, or never.
    Not,
}

/// Where the packet is at one step of a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Where it stands now (None past the end of the trace).
    pub here: Option<Place>,
    /// Where it has been, up to and including now ([`path`]).
    pub path: Vec<Place>,
    /// The tunnel it is inside now, if it is encapsulated.
    pub encap: Option<Encap>,
    /// That tunnel's ends, when they are nodes of the topology.
    pub tunnel: Option<Tunnel>,
}

impl Position {
    /// Is the packet now inside what `p` names?
    pub fn is_here(&self, p: &Place) -> bool {
        self.here.as_ref().is_some_and(|h| p.covers(h))
    }

    /// Has the packet been inside what `p` names, now or before?
    pub fn has_been(&self, p: &Place) -> bool {
        self.path.iter().any(|at| p.covers(at))
    }

    pub fn mark(&self, p: &Place) -> Mark {
        if self.is_here(p) {
            Mark::Here
        } else if self.has_been(p) {
            Mark::Been
        } else {
            Mark::Not
        }
    }

    /// Is the packet now in this node (its host namespace or one of its pods)?
    pub fn in_node(&self, n: &NodeBox) -> bool {
        self.here.as_ref().is_some_and(|h| n.holds(h))
    }
}

/// Where a step stands.
pub fn where_is(step: &Step) -> Place {
    Place {
        netns: step.netns.clone(),
        device: step.device.clone(),
    }
}

/// Where the packet stood in the first `upto` steps, in order, a place repeated by
/// consecutive steps given once.
pub fn path(trace: &Trace, upto: usize) -> Vec<Place> {
    let mut out: Vec<Place> = Vec::new();
    for s in trace.steps.iter().take(upto) {
        if out
            .last()
            .is_none_or(|p| p.netns != s.netns || p.device != s.device)
        {
            out.push(where_is(s));
        }
    }
    out
}

/// The tunnel a step's packet is inside: a UDP datagram carrying VXLAN.
pub fn encapsulation(step: &Step) -> Option<Encap> {
    let L3::Ipv4(ip) = &step.packet.payload else {
        return None;
    };
    let L4::Udp(u) = &ip.payload else {
        return None;
    };
    let UdpPayload::Vxlan(v) = &u.payload else {
        return None;
    };
    Some(Encap {
        vni: v.vni,
        dstport: u.dport,
        src: ip.src,
        dst: ip.dst,
    })
}

impl Topology {
    /// The tunnel an encapsulated packet is inside, when both its ends are nodes.
    pub fn tunnel_of(&self, e: &Encap) -> Option<&Tunnel> {
        self.tunnels
            .iter()
            .find(|t| t.vni == e.vni && t.local == e.src && t.remote == e.dst)
    }

    /// Where the packet is at step `step` (0-based) of `trace`: the step's place, the path
    /// up to and including it, and the tunnel it is inside then.
    pub fn position(&self, trace: &Trace, step: usize) -> Position {
        let now = trace.steps.get(step);
        let encap = now.and_then(encapsulation);
        Position {
            here: now.map(where_is),
            path: path(trace, step.saturating_add(1)),
            tunnel: encap.and_then(|e| self.tunnel_of(&e)).cloned(),
            encap,
        }
    }
}
