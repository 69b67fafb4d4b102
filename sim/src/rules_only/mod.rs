//! Rules-only mode: "where does this packet go?" for an iptables-save dump pasted from a
//! node, without a cluster around it. The node is rebuilt from its dumps (`node.rs`: one
//! namespace with the dumped tables, ipsets and IPVS table and the addresses given) and the
//! packet, the first of a new connection, walks the same engine as every scenario: the same
//! hook registry, conntrack, NAT and IPVS. Every random choice (`-m statistic`, the
//! position of an IPVS round robin) is enumerated, so the answer lists every possible
//! outcome with its probability, the way kube-proxy's own test tracer lists endpoints.
//! `outcome.rs` reads each walk's trace back as an answer; `crate::render::rules` prints it.

mod arrival;
mod node;
mod outcome;
pub mod unknowns;

pub use node::{DumpedNode, build};

use crate::ipvs::Ipvs;
use crate::netfilter::eval::{HitAction, RuleHit};
use crate::netfilter::ipset::{Elem, IpSet};
use crate::netfilter::{Match, Netfilter};
use crate::node_dump::NodeState;
use crate::wire::{IpProtocol, Ipv4Addr};
use serde::Serialize;
use std::sync::Arc;

/// The question.
#[derive(Clone, Debug)]
pub struct RulesQuery {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub dport: u16,
    /// tcp, udp or icmp.
    pub proto: IpProtocol,
    /// The node's own addresses (`-m addrtype LOCAL`, and whether the packet is for the node).
    pub local_ips: Vec<Ipv4Addr>,
    /// Interface names iptables sees, if the rules match on them.
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// The node's ipsets (`ipset save`), for `-m set` rules.
    pub sets: Vec<IpSet>,
    /// The node's IPVS table (`ipvsadm-save -n`), for kube-proxy's IPVS mode: a packet for
    /// a virtual service goes on to a real server.
    pub ipvs: Option<Ipvs>,
}

impl RulesQuery {
    /// One of the node's addresses: given, implied by IPVS, or loopback.
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        ip.is_loopback() || self.local_ips.contains(&ip) || ipvs_addresses(self).contains(&ip)
    }
}

/// What became of the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RuleVerdict {
    Accept,
    Drop,
    Reject,
}

impl RuleVerdict {
    pub fn name(&self) -> &'static str {
        match self {
            RuleVerdict::Accept => "ACCEPT",
            RuleVerdict::Drop => "DROP",
            RuleVerdict::Reject => "REJECT",
        }
    }
}

/// Which way the packet went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RulePath {
    /// Delivered to the node.
    Local,
    /// Forwarded (or sent) out of the node.
    Forward,
    /// A virtual service took it (or may have: no IPVS table to tell).
    Ipvs,
    /// A rule dropped or rejected it.
    Dropped,
}

impl RulePath {
    pub fn name(&self) -> &'static str {
        match self {
            RulePath::Local => "local",
            RulePath::Forward => "forward",
            RulePath::Ipvs => "ipvs",
            RulePath::Dropped => "dropped",
        }
    }
}

/// One possible fate.
#[derive(Clone, Debug, Serialize)]
pub struct RuleOutcome {
    pub verdict: RuleVerdict,
    /// `IP:PORT` after DNAT (the original destination when nothing translated it); None
    /// when the packet was dropped or rejected.
    pub destination: Option<String>,
    /// Source NAT (MASQUERADE or SNAT) in POSTROUTING.
    pub masquerade: bool,
    pub probability: f64,
    pub path: RulePath,
    /// Every rule that matched, in order, per table and hook.
    pub hits: Vec<RuleHit>,
    /// What IPVS did, when a virtual service took the packet (or may have: no table given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipvs: Option<IpvsStep>,
    /// The device the packet left the node by, when it did (a node from its whole dump).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
    /// What the answer assumed or could not know, in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How the packet left the node.
#[derive(Clone, Debug, Serialize)]
pub struct Egress {
    /// The device that transmitted it (a NIC, or a bridge port's veth).
    pub device: String,
    /// The bridge it was forwarded through, when it left by one of its ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// The Ethernet destination of the frame (00:00:00:00:00:00 when the neighbour was not
    /// in the dump).
    pub mac: String,
    /// The VXLAN header around it when it left encapsulated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vxlan: Option<VxlanEncap>,
}

/// A VXLAN device's encapsulation (`vxlan_xmit_one`): the outer UDP/IPv4 header.
#[derive(Clone, Debug, Serialize)]
pub struct VxlanEncap {
    /// The VXLAN device (flannel.1).
    pub device: String,
    pub vni: u32,
    pub outer_src: Ipv4Addr,
    pub outer_dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
}

/// What IPVS did with the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpvsResult {
    /// Sent on to a real server elsewhere.
    Forwarded,
    /// The real server is the node.
    Local,
    /// No real server available: `ip_vs_leave`.
    Rejected,
    /// The transmit refused it.
    Dropped,
    /// No `ipvsadm-save` given to tell.
    Unknown,
}

/// IPVS taking a packet: the hook, the virtual service, the real server it picked.
#[derive(Clone, Debug, Serialize)]
pub struct IpvsStep {
    /// `LOCAL_IN` (a packet delivered to the node) or `LOCAL_OUT` (one the node sends).
    pub hook: &'static str,
    /// `ip_vs_in_hook`'s priority there: 99 (NF_IP_PRI_NAT_SRC - 1) at LOCAL_IN, -98
    /// (NF_IP_PRI_NAT_DST + 2) at LOCAL_OUT.
    pub priority: i32,
    pub protocol: &'static str,
    /// The virtual service, `ADDR:PORT`.
    pub service: String,
    /// Its scheduler (`rr`, `wrr`, ...); None without an IPVS table.
    pub scheduler: Option<&'static str>,
    /// `ADDR:PORT` of the real server picked.
    pub real_server: Option<String>,
    /// How the real server is reached: Masq, Route, Tunnel.
    pub forward: Option<&'static str>,
    pub result: IpvsResult,
    /// The kernel functions that did it, in order.
    pub functions: Vec<&'static str>,
    /// How many of the outcome's `hits` came before IPVS took the packet.
    pub after_hits: usize,
}

/// Addresses that are the node's on an IPVS node beyond the ones given: kube-proxy binds
/// every ClusterIP, externalIP and LoadBalancer IP to kube-ipvs0 (the set KUBE-IPVS-IPS
/// lists them), and a virtual service only ever sees packets for a local address (IPVS
/// hooks LOCAL_IN and LOCAL_OUT), so every virtual-service address is local too.
pub fn ipvs_addresses(q: &RulesQuery) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = Vec::new();
    let bound = q
        .sets
        .iter()
        .filter(|s| s.name == "KUBE-IPVS-IPS")
        .flat_map(|s| s.entries().iter())
        .filter_map(|e| match e.first() {
            Some(Elem::Ip(a)) => Some(*a),
            _ => None,
        });
    let services = q
        .ipvs
        .iter()
        .flat_map(|i| i.services.iter().map(|s| s.addr));
    for a in bound.chain(services) {
        if !q.local_ips.contains(&a) && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// A dump of kube-proxy's IPVS mode: its filter chain or its sets are there.
fn ipvs_mode(nf: &Netfilter) -> bool {
    nf.tables.iter().flat_map(|t| t.chains().iter()).any(|c| {
        c.name == "KUBE-IPVS-FILTER"
            || c.rules.iter().any(|r| {
                r.matches.iter().any(|m| {
                    matches!(m, Match::Set(s)
                        if s.name == "KUBE-IPVS-IPS" || s.name == "KUBE-CLUSTER-IP")
                })
            })
    })
}

/// Whether an outcome stopped at IPVS for want of the node's `ipvsadm-save -n`.
pub fn missing_ipvs(outcomes: &[RuleOutcome]) -> bool {
    outcomes.iter().any(|o| {
        o.ipvs
            .as_ref()
            .is_some_and(|s| s.result == IpvsResult::Unknown)
    })
}

/// Every possible outcome, most probable first (ties in the order found): the node rebuilt
/// from the dumps, the packet walked through the engine once per combination of choices.
pub fn trace_rules(nf: &Netfilter, q: &RulesQuery) -> Vec<RuleOutcome> {
    trace_rules_shared(Arc::new(nf.clone()), q)
}

/// [`trace_rules`] for tables already shared: the node holds them without a copy.
pub fn trace_rules_shared(nf: Arc<Netfilter>, q: &RulesQuery) -> Vec<RuleOutcome> {
    trace_node(nf, q, None).outcomes
}

/// The answer on a node rebuilt from its whole dump (`--node-dump`): where the packet
/// entered, and every outcome.
pub struct NodeAnswer {
    /// Where the packet entered and why, when the node's own tables decided it.
    pub arrival: Option<String>,
    pub outcomes: Vec<RuleOutcome>,
}

/// Every possible outcome on the node: the one given by its dumped devices, routes,
/// neighbours and FDBs (`state`), or, without it, one built around the rules.
pub fn trace_node(nf: Arc<Netfilter>, q: &RulesQuery, state: Option<&NodeState>) -> NodeAnswer {
    let mode = ipvs_mode(&nf);
    let node = build(nf, q, mode, state);
    let outcomes = crate::engine::injected_outcomes(&node.world, &node.packet)
        .into_iter()
        .map(|o| outcome::read(&node, q, &o.result, o.probability))
        .collect();
    NodeAnswer {
        arrival: node.arrival,
        outcomes,
    }
}

/// Sets the rules match on that the query does not hold: without them every
/// `--match-set` reads as "not in the set", so answers may be wrong.
pub fn missing_sets(nf: &Netfilter, q: &RulesQuery) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &nf.tables {
        for c in t.chains() {
            for r in &c.rules {
                for m in &r.matches {
                    if let Match::Set(set) = m
                        && !q.sets.iter().any(|s| s.name == set.name)
                        && !out.contains(&set.name)
                    {
                        out.push(set.name.clone());
                    }
                }
            }
        }
    }
    out
}

/// What the answer had to assume about interfaces: the rules match on `-i`/`-o` names and
/// the question named none for that side, so the packet came in (or went out) by an
/// unnamed uplink, which every `-i NAME` misses and every `! -i NAME` holds.
pub fn interface_assumptions(nf: &Netfilter, q: &RulesQuery) -> Vec<String> {
    let rules = || {
        nf.tables
            .iter()
            .flat_map(|t| t.chains())
            .flat_map(|c| &c.rules)
    };
    let names = |pick: fn(&crate::netfilter::Rule) -> Option<&String>| {
        let mut v: Vec<String> = rules().filter_map(|r| pick(r)).cloned().collect();
        v.sort();
        v.dedup();
        v
    };
    let mut out = Vec::new();
    for (side, given, opt, found) in [
        (
            "in",
            q.iif.is_some(),
            "--in-iface",
            names(|r| r.in_iface.as_ref().map(|b| &b.0)),
        ),
        (
            "out",
            q.oif.is_some(),
            "--out-iface",
            names(|r| r.out_iface.as_ref().map(|b| &b.0)),
        ),
    ] {
        if !given && !found.is_empty() {
            let shown: Vec<&str> = found.iter().take(5).map(String::as_str).collect();
            let more = if found.len() > 5 { ", ..." } else { "" };
            out.push(format!(
                "the rules match {side}-interfaces ({}{more}) and none was given: assumed an unnamed one, which every `-{} NAME` misses and every `! -{} NAME` holds; give {opt} NAME",
                shown.join(", "),
                &side[..1],
                &side[..1]
            ));
        }
    }
    out
}

/// Whether a hit changed the walk's course (used by renderers to keep paths short).
pub fn is_decision(h: &RuleHit) -> bool {
    !matches!(h.action, HitAction::Continue)
}
