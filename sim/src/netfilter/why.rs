//! Why a rule matched, in the packet's own values: what a trace says beside a rule's
//! `return` (`mark 0x0 & 0x4000 is 0x0`), so that a learner sees the condition that sent
//! the packet back without reading the rule's options.

use super::eval::{PacketMeta, RuleEnv};
use super::rule::{Match, Rule, Target};
use crate::wire::L4;

/// The packet's value for each condition of `rule` (its comments say nothing of the
/// packet, so they are left out), in the rule's order.
pub fn facts(rule: &Rule, p: &PacketMeta, env: &dyn RuleEnv) -> Vec<String> {
    let ip = p.ip;
    let mut out = Vec::new();
    let within = |net: &crate::wire::Ipv4Net, a| if net.contains(a) { "in" } else { "outside" };
    if let Some((n, _)) = &rule.src {
        out.push(format!("source {} is {} {n}", ip.src, within(n, ip.src)));
    }
    if let Some((n, _)) = &rule.dst {
        out.push(format!(
            "destination {} is {} {n}",
            ip.dst,
            within(n, ip.dst)
        ));
    }
    if rule.in_iface.is_some() {
        out.push(match p.iif {
            Some(i) => format!("in-interface is {i}"),
            None => "no in-interface".into(),
        });
    }
    if rule.out_iface.is_some() {
        out.push(match p.oif {
            Some(o) => format!("out-interface is {o}"),
            None => "no out-interface".into(),
        });
    }
    if rule.proto.is_some() {
        out.push(format!("protocol is {}", ip.protocol()));
    }
    let ports = match &ip.payload {
        L4::Tcp(t) => Some((t.sport, t.dport)),
        L4::Udp(u) => Some((u.sport, u.dport)),
        _ => None,
    };
    let ct_state = || match p.ct {
        Some(c) => format!("conntrack state is {}", c.state.name()),
        None => "no conntrack entry (INVALID)".into(),
    };
    for m in &rule.matches {
        match m {
            Match::Comment(_) | Match::Nfacct(_) => {}
            Match::Mark { mask, .. } => out.push(format!(
                "mark {:#x} & {mask:#x} is {:#x}",
                p.mark,
                p.mark & mask
            )),
            Match::Conntrack(c) => {
                if c.ctstate.is_some() {
                    out.push(ct_state());
                }
                if c.ctorigdst.is_some() || c.ctorigdstport.is_some() {
                    match p.ct {
                        Some(c) => out.push(format!(
                            "original destination is {}:{}",
                            c.orig_dst, c.orig_dport
                        )),
                        None => out.push("no conntrack entry".into()),
                    }
                }
            }
            Match::State { .. } => out.push(ct_state()),
            Match::Tcp { sport, dport, .. } | Match::Udp { sport, dport } => {
                if let Some((s, d)) = ports {
                    if sport.is_some() {
                        out.push(format!("source port is {s}"));
                    }
                    if dport.is_some() {
                        out.push(format!("destination port is {d}"));
                    }
                }
            }
            Match::Multiport { .. } => {
                if let Some((s, d)) = ports {
                    out.push(format!("ports are {s} > {d}"));
                }
            }
            Match::AddrType(a) => {
                if a.src.is_some() {
                    let t = env.addr_type(ip.src);
                    out.push(format!("source {} is of type {}", ip.src, t.name()));
                }
                if a.dst.is_some() {
                    let t = env.addr_type(ip.dst);
                    out.push(format!("destination {} is of type {}", ip.dst, t.name()));
                }
            }
            // The rest (sets, statistic draws, recent lists, ...) are said as written.
            other => out.push(format!("{}", other).trim().to_string()),
        }
    }
    out
}

/// Why a matched rule with a non-deciding target went on to the next rule.
pub fn continues(rule: &Rule) -> Option<&'static str> {
    match rule.target {
        Target::Mark { .. } => Some("MARK sets the mark and goes on"),
        Target::Log { .. } => Some("LOG only logs"),
        Target::Trace => Some("TRACE only marks the packet for tracing"),
        Target::None => Some("no target: the rule only counts"),
        _ => None,
    }
}
