//! One walk's trace read back as a rules-only answer: the verdict, where the packet went,
//! its destination after NAT, whether it was masqueraded, the rules it met, what IPVS did,
//! and what the answer had to assume. Nothing here decides the packet's fate: the engine
//! did; this only names it.

use super::{
    DumpedNode, Egress, IpvsResult, IpvsStep, RuleOutcome, RulePath, RuleVerdict, RulesQuery,
    VxlanEncap,
};
use crate::engine::Origin;
use crate::ipvs::{Scheduler, VirtualService};
use crate::netfilter::eval::{HitAction, NatAction, RuleHit};
use crate::netfilter::{Hook, priority};
use crate::trace::{DispositionKind, Role, Step, StepKind, Trace};
use crate::wire::{IpProtocol, Ipv4, L3, L4, Udp, UdpPayload};

/// The transmit functions of IPVS's forwarding methods.
const XMIT: [&str; 3] = ["ip_vs_nat_xmit", "ip_vs_dr_xmit", "ip_vs_tunnel_xmit"];

pub(super) fn read(node: &DumpedNode, q: &RulesQuery, t: &Trace, probability: f64) -> RuleOutcome {
    let steps: Vec<&Step> = t.steps.iter().filter(|s| s.role == Role::Packet).collect();
    let mut hits = Vec::new();
    let mut ipvs_at = None;
    for s in &steps {
        if ipvs_at.is_none() && matches!(s.func, "ip_vs_in_hook" | "ip_vs_leave") {
            ipvs_at = Some(hits.len());
        }
        if let Some(n) = &s.nf {
            hits.push(RuleHit {
                table: n.rule.table.clone(),
                chain: n.rule.chain.clone(),
                position: n.rule.position,
                rule: n.rule.text.clone(),
                comment: n.rule.comment.clone(),
                action: n.action.clone(),
                mark: n.mark,
                reasons: n.reasons.clone(),
            });
        }
    }
    let mut notes = Vec::new();
    let ipvs = ipvs_at.and_then(|after| ipvs_step(node, q, t, &steps, after, &mut notes));
    let kind = t.disposition.kind;
    let verdict = match kind {
        DispositionKind::Delivered
        | DispositionKind::Transmitted
        | DispositionKind::Undetermined => RuleVerdict::Accept,
        DispositionKind::Rejected => RuleVerdict::Reject,
        _ => RuleVerdict::Drop,
    };
    // The step that ended the packet (an answer the kernel sent comes after it).
    let last = steps.iter().rev().find(|s| s.role == Role::Packet);
    let ended_by_ipvs =
        last.is_some_and(|s| s.kind == StepKind::Ipvs || s.func.starts_with("ip_vs_"));
    let ended_by_rule = last.is_some_and(|s| s.nf.is_some());
    let path = match (verdict, kind) {
        (RuleVerdict::Accept, _) if ipvs.is_some() => RulePath::Ipvs,
        (RuleVerdict::Accept, DispositionKind::Delivered) => RulePath::Local,
        (RuleVerdict::Accept, _) => RulePath::Forward,
        _ if ended_by_ipvs => RulePath::Ipvs,
        _ => RulePath::Dropped,
    };
    // xt_TCPMSS changed the SYN: say from what to what.
    let first_mss = steps
        .first()
        .and_then(|s| ipv4(s))
        .and_then(crate::netfilter::tcpmss::mss);
    let last_mss = last
        .and_then(|s| ipv4(s))
        .and_then(crate::netfilter::tcpmss::mss);
    if let Some(to) = last_mss
        && first_mss != Some(to)
    {
        let from = first_mss.map_or("none".to_string(), |m| m.to_string());
        // A node built around its rules alone has 1500-byte devices (node.rs); a dumped
        // node's are its own.
        let mtu = if node.arrival.is_none() {
            " (a clamp to the path MTU reads the devices' MTUs, taken as 1500 here)"
        } else {
            ""
        };
        notes.push(format!("TCPMSS: the SYN's MSS option {from} -> {to}{mtu}"));
    }
    // A dumped node's neighbour table holds what it held when dumped.
    for s in steps.iter().filter(|s| s.func == "neigh_resolve_output") {
        if node.world.ns(node.ns).unknowns.neighbours {
            notes.push(s.note.clone());
        }
    }
    if kind == DispositionKind::Transmitted && last.is_some_and(|s| s.func == "br_flood") {
        notes.push(t.disposition.reason.clone());
    }
    if verdict != RuleVerdict::Accept && !ended_by_rule && !ended_by_ipvs {
        // Not a rule's doing: say what the kernel did.
        notes.push(format!("{}: {}", kind.name(), t.disposition.reason));
    }
    let accepted = verdict == RuleVerdict::Accept;
    // Only a node from its whole dump has real devices to name (`arrival` is set then).
    let egress = (kind == DispositionKind::Transmitted && node.arrival.is_some())
        .then(|| egress(node, &steps))
        .flatten();
    let destination = last
        .and_then(|s| ipv4(s))
        .map(|ip| inner(ip).unwrap_or(ip))
        .filter(|_| accepted)
        .map(|ip| match dport(ip) {
            Some(p) => format!("{}:{p}", ip.dst),
            None => ip.dst.to_string(),
        });
    let masquerade = accepted
        && hits.iter().any(|h| {
            matches!(
                h.action,
                HitAction::Nat(NatAction::Snat { .. } | NatAction::Masquerade { .. })
            )
        });
    RuleOutcome {
        verdict,
        destination,
        masquerade,
        probability,
        path,
        hits,
        ipvs,
        egress,
        notes,
    }
}

/// The packet inside a VXLAN packet.
fn inner(ip: &Ipv4) -> Option<&Ipv4> {
    match &ip.payload {
        L4::Udp(Udp {
            payload: UdpPayload::Vxlan(v),
            ..
        }) => match &v.inner.payload {
            L3::Ipv4(i) => Some(i),
            L3::Arp(_) => None,
        },
        _ => None,
    }
}

/// How a transmitted packet left: the device of the last transmit, the bridge whose port
/// it is, the frame's destination MAC, and the VXLAN header when it left encapsulated.
fn egress(node: &DumpedNode, steps: &[&Step]) -> Option<Egress> {
    let last = steps
        .iter()
        .rev()
        .find(|s| matches!(s.func, "dev_hard_start_xmit" | "br_flood"))?;
    let device = last.device.clone()?;
    let ns = node.world.ns(node.ns);
    let bridge = ns
        .link_by_name(&device)
        .and_then(|l| l.master)
        .map(|b| ns.dev_name(b));
    let ip = ipv4(last)?;
    let vxlan = match &ip.payload {
        L4::Udp(Udp {
            sport,
            dport,
            payload: UdpPayload::Vxlan(v),
        }) => {
            let dev = steps
                .iter()
                .rev()
                .find(|s| s.func.starts_with("vxlan_xmit"))
                .and_then(|s| s.device.clone())
                .unwrap_or_default();
            Some(VxlanEncap {
                device: dev,
                vni: v.vni,
                outer_src: ip.src,
                outer_dst: ip.dst,
                sport: *sport,
                dport: *dport,
            })
        }
        _ => None,
    };
    Some(Egress {
        device,
        bridge,
        mac: last.packet.dst.to_string(),
        vxlan,
    })
}

fn ipv4(s: &Step) -> Option<&Ipv4> {
    match &s.packet.payload {
        L3::Ipv4(ip) => Some(ip),
        L3::Arp(_) => None,
    }
}

fn dport(ip: &Ipv4) -> Option<u16> {
    ip.l4_ports().map(|p| p.1)
}

/// What IPVS did, from its steps in the trace: the first of them (`ip_vs_in_hook`, or
/// `ip_vs_leave` when no real server was there) came after `after` rule hits.
fn ipvs_step(
    node: &DumpedNode,
    q: &RulesQuery,
    t: &Trace,
    steps: &[&Step],
    after: usize,
    notes: &mut Vec<String>,
) -> Option<IpvsStep> {
    let first = steps
        .iter()
        .position(|s| matches!(s.func, "ip_vs_in_hook" | "ip_vs_leave"))?;
    let at = steps[first];
    let ip = ipv4(at)?;
    let port = dport(ip)?;
    let proto = ip.protocol();
    let pname = if proto == IpProtocol::Udp {
        "udp"
    } else {
        "tcp"
    };
    let sent = matches!(node.packet.origin, Origin::Sent { .. });
    let (hook, prio) = match at.hook {
        Some(Hook::Output) => ("LOCAL_OUT", priority::NAT_DST + 2),
        Some(_) => ("LOCAL_IN", priority::NAT_SRC - 1),
        None if sent => ("LOCAL_OUT", priority::NAT_DST + 2),
        None => ("LOCAL_IN", priority::NAT_SRC - 1),
    };
    let mut step = IpvsStep {
        hook,
        priority: prio,
        protocol: pname,
        service: format!("{}:{port}", ip.dst),
        scheduler: None,
        real_server: None,
        forward: None,
        result: IpvsResult::Unknown,
        functions: vec!["ip_vs_in_hook"],
        after_hits: after,
    };
    if t.disposition.kind == DispositionKind::Undetermined {
        let known = super::node::kube_proxy_vip_sets()
            .iter()
            .any(|(name, ..)| q.sets.iter().any(|s| &s.name == name));
        notes.push(format!(
            "the answer stops at IPVS: ip_vs_in_hook ({hook}, priority {prio}) looks up a virtual service for {pname} {}:{port}{}, but no `ipvsadm-save -n` was given (--ipvsadm-save FILE)",
            ip.dst,
            if known { ", a Service address in the node's ipsets" } else { ", which may be one (no ipsets given to tell)" }
        ));
        return Some(step);
    }
    let table = q.ipvs.as_ref()?;
    let vs = table
        .find(proto, ip.dst, port)
        .and_then(|i| table.services.get(i))?;
    step.scheduler = Some(vs.scheduler.name());
    step.functions.push("ip_vs_schedule");
    if let Some(t) = vs.persistent {
        notes.push(format!(
            "persistent {t}s (ip_vs_sched_persist): a client with no template yet is scheduled like this; its later connections within {t}s go to the same real server"
        ));
    }
    schedule_note(vs, ip, notes);
    if at.func == "ip_vs_leave" {
        step.result = IpvsResult::Rejected;
        step.functions.push("ip_vs_leave");
        notes.push(format!(
            "ip_vs_leave: {pname} {}:{port} has no available real server, so IPVS answers ICMP port unreachable and drops the packet",
            ip.dst
        ));
        return Some(step);
    }
    let conn = at.ipvs.as_ref()?;
    let rs = vs
        .dests
        .iter()
        .find(|d| (d.addr, d.port) == (conn.daddr, conn.dport))?;
    step.real_server = Some(format!("{}:{}", conn.daddr, conn.dport));
    step.forward = Some(rs.forward.name());
    let xmit = steps[first..].iter().find(|s| XMIT.contains(&s.func))?;
    step.functions.push(xmit.func);
    let rs_local = node.world.ns(node.ns).is_local(conn.daddr);
    if xmit.kind == StepKind::Drop {
        step.result = IpvsResult::Dropped;
        let why = if rs_local && conn.daddr.is_loopback() && !sent {
            "stopping DNAT to loopback: a packet from outside may not go to a 127.0.0.0/8 real server"
                .to_string()
        } else if !rs_local && ip.src.is_loopback() {
            "a 127.0.0.0/8 source may not leave the node (crosses_local_route_boundary)".to_string()
        } else {
            t.disposition.reason.clone()
        };
        notes.push(format!("{}: {why}", xmit.func));
        return Some(step);
    }
    if !rs.forward.is_masq() && rs.forward != crate::ipvs::Forward::Local {
        notes.push(format!(
            "{}: kpath walks the rest of the way with the packet unchanged (kube-proxy programs Masq only)",
            rs.forward.name()
        ));
    }
    step.result = if rs_local {
        IpvsResult::Local
    } else {
        IpvsResult::Forwarded
    };
    Some(step)
}

/// What the scheduler's pick rests on, since a dump holds no scheduler state.
fn schedule_note(vs: &VirtualService, ip: &Ipv4, notes: &mut Vec<String>) {
    let name = vs.scheduler.name();
    let avail = vs.dests.iter().filter(|d| d.weight > 0).count();
    let (src, sport) = (ip.src, ip.l4_ports().map_or(0, |p| p.0));
    match &vs.scheduler {
        Scheduler::Rr { .. } | Scheduler::Wrr(_) => {
            if avail > 1 {
                notes.push(format!(
                    "{name}: the scheduler's position is not in the dump, so each of the {avail} available real servers is an outcome, weighed by its long-run share{}",
                    if name == "rr" { " (rr gives every weight above 0 the same share)" } else { " (its weight over the sum of weights)" }
                ));
            }
        }
        Scheduler::Sh => notes.push(format!(
            "sh: the source address {src} always hashes to this real server"
        )),
        Scheduler::Lc => notes.push("lc: an ipvsadm-save dump holds no connection counts, so every server has none and the first available in the kernel's list wins".to_string()),
        Scheduler::Mh(_) => notes.push(format!(
            "mh: the source address {src} and (mh-port) source port {sport} hash to this real server; another source port may hash to another"
        )),
    }
}
