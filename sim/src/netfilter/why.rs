//! A rule's conditions in the packet's own values: why a rule matched (what a trace says
//! beside a `return`: `mark 0x0 & 0x4000 is 0x0`) and why one did not (the first condition
//! that failed: `-s 203.0.113.0/25: source 203.0.113.200 is outside`), so that a learner
//! sees the reason without reading the rule's options against the packet by hand.

use super::packet_meta::{PacketMeta, RuleEnv};
use super::rule::{Match, Rule, Target};
use crate::wire::L4;

/// What a walk says of one rule it acted on, for the text trace (JSON carries the rule).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reasons {
    /// Why a `return` or `continue` went on, in a few words ([`held`], [`continues`]).
    pub why: Option<String>,
    /// The rules of its chain the packet met since the walk entered the chain or last acted
    /// there, each with the first condition that failed ([`missed`]): what "why not the
    /// others?" asks of a drop. Filled when the env asks (`RuleEnv::why_not`).
    pub passed: Vec<String>,
    /// Why the rule matched, in the packet's values (`10.244.1.3,tcp:80,10.244.1.3 is in
    /// KUBE-LOOP-BACK`); filled with `passed`, shown on request (`--why`).
    pub held: Option<String>,
}

/// No reasons: what a walk that was not asked why says.
static NONE: Reasons = Reasons {
    why: None,
    passed: Vec::new(),
    held: None,
};

impl Reasons {
    /// The reasons a walk kept (boxed, as most walks keep none), or none.
    pub fn of(kept: &Option<Box<Reasons>>) -> &Reasons {
        kept.as_deref().unwrap_or(&NONE)
    }
}

/// One condition of a rule, in the order the kernel tests them: the IP header's fields
/// (`ip_packet_match`), then each `-m` module (`xt_ematch_foreach`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Src,
    Dst,
    In,
    Out,
    Proto,
    /// The rule's `matches[i]`.
    Module(usize),
}

/// The conditions `rule` has, in the kernel's order.
pub fn parts(rule: &Rule) -> impl Iterator<Item = Part> + '_ {
    let base = [
        (rule.src.is_some(), Part::Src),
        (rule.dst.is_some(), Part::Dst),
        (rule.in_iface.is_some(), Part::In),
        (rule.out_iface.is_some(), Part::Out),
        (rule.proto.is_some(), Part::Proto),
    ];
    base.into_iter()
        .filter_map(|(has, p)| has.then_some(p))
        .chain((0..rule.matches.len()).map(Part::Module))
}

/// The condition as the rule writes it: `! -s 10.0.0.0/8`, `-m mark --mark 0x4000/0x4000`.
pub fn option(rule: &Rule, part: Part) -> String {
    let not = |inv: bool| if inv { "! " } else { "" };
    match part {
        Part::Src => rule
            .src
            .map(|(n, inv)| format!("{}-s {n}", not(inv)))
            .unwrap_or_default(),
        Part::Dst => rule
            .dst
            .map(|(n, inv)| format!("{}-d {n}", not(inv)))
            .unwrap_or_default(),
        Part::In => rule
            .in_iface
            .as_deref()
            .map(|(i, inv)| format!("{}-i {i}", not(*inv)))
            .unwrap_or_default(),
        Part::Out => rule
            .out_iface
            .as_deref()
            .map(|(o, inv)| format!("{}-o {o}", not(*inv)))
            .unwrap_or_default(),
        Part::Proto => rule
            .proto
            .map(|(p, inv)| format!("{}-p {p}", not(inv)))
            .unwrap_or_default(),
        Part::Module(i) => rule
            .matches
            .get(i)
            .map(|m| m.to_string().trim().to_string())
            .unwrap_or_default(),
    }
}

/// The packet's value for one condition (`source 10.244.0.2 is in 10.244.0.0/16`); None
/// for a condition that says nothing of the packet (a comment) or whose value kpath does
/// not put in words (a set, a statistic draw: the condition is said as written).
pub fn fact(rule: &Rule, part: Part, p: &PacketMeta, env: &dyn RuleEnv) -> Option<String> {
    let ip = p.ip;
    let within = |net: &crate::wire::Ipv4Net, a| if net.contains(a) { "in" } else { "outside" };
    let ports = match &ip.payload {
        L4::Tcp(t) => Some((t.sport, t.dport)),
        L4::Udp(u) => Some((u.sport, u.dport)),
        _ => None,
    };
    let ct_state = || match p.ct {
        Some(c) => format!("conntrack state is {}", c.state.name()),
        None => "no conntrack entry (INVALID)".into(),
    };
    let fact = match part {
        Part::Src => {
            let (n, _) = rule.src?;
            format!("source {} is {} {n}", ip.src, within(&n, ip.src))
        }
        Part::Dst => {
            let (n, _) = rule.dst?;
            format!("destination {} is {} {n}", ip.dst, within(&n, ip.dst))
        }
        Part::In => match p.iif {
            Some(i) => format!("in-interface is {i}"),
            None => "no in-interface".into(),
        },
        Part::Out => match p.oif {
            Some(o) => format!("out-interface is {o}"),
            None => "no out-interface".into(),
        },
        Part::Proto => format!("protocol is {}", ip.protocol()),
        Part::Module(i) => match rule.matches.get(i)? {
            Match::Comment(_) | Match::Nfacct(_) => return None,
            Match::Limit(l) => format!(
                "-m limit {}/{} burst {}: assumed under its rate",
                l.count, l.unit, l.burst
            ),
            Match::Mark { mask, .. } => {
                format!("mark {:#x} & {mask:#x} is {:#x}", p.mark, p.mark & mask)
            }
            Match::Conntrack(c) => {
                let mut f = Vec::new();
                if c.ctstate.is_some() {
                    f.push(ct_state());
                }
                if c.ctorigdst.is_some() || c.ctorigdstport.is_some() {
                    f.push(match p.ct {
                        Some(c) => {
                            format!("original destination is {}:{}", c.orig_dst, c.orig_dport)
                        }
                        None => "no conntrack entry".into(),
                    });
                }
                f.join(", ")
            }
            Match::State { .. } => ct_state(),
            Match::Tcp { sport, dport, .. } | Match::Udp { sport, dport } => {
                let (s, d) = ports?;
                let mut f = Vec::new();
                if sport.is_some() {
                    f.push(format!("source port is {s}"));
                }
                if dport.is_some() {
                    f.push(format!("destination port is {d}"));
                }
                if f.is_empty() {
                    f.push(format!("protocol is {}", ip.protocol()));
                }
                f.join(", ")
            }
            Match::Multiport { .. } => {
                let (s, d) = ports?;
                format!("ports are {s} > {d}")
            }
            Match::AddrType(a) => {
                let mut f = Vec::new();
                if a.src.is_some() {
                    let t = env.addr_type(ip.src);
                    f.push(format!("source {} is of type {}", ip.src, t.name()));
                }
                if a.dst.is_some() {
                    let t = env.addr_type(ip.dst);
                    f.push(format!("destination {} is of type {}", ip.dst, t.name()));
                }
                f.join(", ")
            }
            Match::Set(set) => {
                // The element the packet makes, as ipset prints one: `10.96.0.10,udp:53`
                // (an address, then a port for the second dimension of hash:ip,port sets).
                let (sport, dport) = ports.unwrap_or((0, 0));
                let elem: Vec<String> = set
                    .dirs
                    .iter()
                    .enumerate()
                    .map(|(k, &src)| match (k, src) {
                        (1, true) => format!("{}:{sport}", ip.protocol()),
                        (1, false) => format!("{}:{dport}", ip.protocol()),
                        (_, true) => ip.src.to_string(),
                        (_, false) => ip.dst.to_string(),
                    })
                    .collect();
                let elem = elem.join(",");
                match env.in_set(&set.name, &set.dirs, p) {
                    Some(true) => format!("{elem} is in {}", set.name),
                    Some(false) => format!("{elem} is not in {}", set.name),
                    None => format!("there is no set {}", set.name),
                }
            }
            _ => return None,
        },
    };
    (!fact.is_empty()).then_some(fact)
}

/// Why a matched rule matched: the packet's value for each of its conditions.
pub fn held(rule: &Rule, p: &PacketMeta, env: &dyn RuleEnv) -> String {
    parts(rule)
        .filter_map(|part| match fact(rule, part, p, env) {
            Some(f) => Some(f),
            // Said as written: `-m set --match-set KUBE-... dst,dst` held.
            None if !matches!(
                part,
                Part::Module(i) if matches!(rule.matches[i], Match::Comment(_) | Match::Nfacct(_))
            ) =>
            {
                Some(option(rule, part))
            }
            None => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why rule `position` did not match: its first condition that failed, with the
/// packet's value (`#2 -s 203.0.113.0/25: source 203.0.113.200 is outside`).
pub fn missed(
    rule: &Rule,
    position: usize,
    part: Part,
    p: &PacketMeta,
    env: &dyn RuleEnv,
) -> String {
    let what = match (part, fact(rule, part, p, env)) {
        // The option beside it names the network already.
        (Part::Src | Part::Dst, Some(f)) => f.rsplit_once(' ').map_or(f.clone(), |(s, _)| s.into()),
        (_, Some(f)) => f,
        (_, None) => "does not hold".into(),
    };
    format!("#{position} {}: {what}", option(rule, part))
}

/// Why a matched rule with a non-deciding target went on to the next rule.
pub fn continues(rule: &Rule) -> Option<&'static str> {
    match rule.target {
        Target::Mark { .. } => Some("MARK sets the mark and goes on"),
        Target::Log { .. } => Some("LOG only logs"),
        Target::Nflog(_) => Some("NFLOG only logs"),
        Target::Trace => Some("TRACE only marks the packet for tracing"),
        Target::Connmark(_) => {
            Some("CONNMARK sets the connection's mark (or the packet's from it) and goes on")
        }
        Target::Tcpmss { mss: None } => {
            Some("TCPMSS lowers a SYN's MSS option to the path MTU less 40 and goes on")
        }
        Target::Tcpmss { mss: Some(_) } => Some("TCPMSS lowers a SYN's MSS option and goes on"),
        Target::Notrack { .. } => Some(
            "CT --notrack gives the packet the untracked template: conntrack leaves it alone, no NAT",
        ),
        Target::None => Some("no target: the rule only counts"),
        _ => None,
    }
}
