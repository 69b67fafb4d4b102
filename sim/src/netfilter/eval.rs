//! Walking a table's chain the way `ipt_do_table` does: rules in order, the first verdict
//! wins, jumps push a return point, gotos do not, RETURN (or running off a user chain) pops,
//! running off a built-in chain applies its policy. Non-terminating targets (MARK, LOG,
//! TRACE, a bare counter) let the walk go on.

use super::RuleTable;
pub use super::packet_meta::{CtView, PacketMeta, RuleEnv};
use super::rule::*;
use super::table::{Table, Verdict};
use super::why::{Part, Reasons};
use super::{Hook, TableKind};
use crate::wire::Ipv4Net;
use crate::wire::{Ipv4, L4};
use serde::Serialize;
use std::net::Ipv4Addr;

/// A guard against pathological rulesets: no real packet evaluates this many rules.
pub const MAX_RULES_PER_WALK: usize = 1_000_000;

/// The hit that ends a walk kpath had to stop (a guard, not a rule): says why.
fn stopped(table: TableKind, chain: &str, mark: u32, why: String) -> RuleHit {
    RuleHit {
        table: RuleTable::Iptables(table),
        chain: chain.to_string(),
        position: 0,
        rule: String::new(),
        comment: Some(why),
        action: HitAction::Drop,
        mark,
        reasons: None,
    }
}

/// `ipvs_mt` (xt_ipvs.c): `--ipvs` alone tests `skb->ipvs_property`; any other option
/// needs an IPVS-handled packet of a known connection, then checks each option given.
fn ipvs_matches(m: &crate::netfilter::rule::IpvsMatch, p: &PacketMeta) -> bool {
    let only_property = m.vproto.is_none()
        && m.vaddr.is_none()
        && m.vport.is_none()
        && m.vdir.is_none()
        && m.vmethod.is_none();
    if only_property {
        return p.ipvs_property != m.property.unwrap_or(false);
    }
    if !p.ipvs_property {
        return false;
    }
    if let Some((proto, neg)) = m.vproto
        && (p.ip.protocol() == proto) == neg
    {
        return false;
    }
    let Some((_, vaddr, vport)) = p.ipvs_vs else {
        return false;
    };
    if let Some((port, neg)) = m.vport
        && (vport == port) == neg
    {
        return false;
    }
    if let Some(reply) = m.vdir {
        let Some(ct) = p.ct.filter(|c| c.state != CtState::Invalid) else {
            return false;
        };
        if ct.reply != reply {
            return false;
        }
    }
    // kube-proxy's real servers are all Masq.
    if let Some((method, neg)) = &m.vmethod
        && (method == "MASQ") == *neg
    {
        return false;
    }
    if let Some((net, neg)) = &m.vaddr
        && net.contains(vaddr) == *neg
    {
        return false;
    }
    true
}

/// A NAT target the walk reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NatAction {
    Dnat {
        to: String,
        addr: Ipv4Addr,
        port: Option<u16>,
    },
    Snat {
        to: String,
        addr: Ipv4Addr,
        port: Option<u16>,
        random_fully: bool,
    },
    Masquerade {
        random_fully: bool,
        to_ports: Option<(u16, u16)>,
    },
}

/// How the walk of one table ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Final {
    Accept,
    Drop,
    /// REJECT: dropped, and an ICMP error (or TCP RST) is sent back.
    Reject {
        with: String,
    },
}

/// What a matching rule did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "arg", rename_all = "snake_case")]
pub enum HitAction {
    /// A non-terminating target (MARK, LOG, TRACE, a counter): go on.
    Continue,
    Jump(String),
    Goto(String),
    Return,
    Accept,
    Drop,
    Reject(String),
    Nat(NatAction),
    /// The chain's policy decided (no rule did).
    Policy(Verdict),
    /// `-j CT --notrack`: the packet is to stay untracked (a non-terminating target).
    Notrack,
    /// `-j TCPMSS`: lower the SYN's MSS option to this, or (None) to the path MTU less 40.
    Tcpmss(Option<u16>),
    /// kpath could not evaluate the rule (a module or target it does not model, named
    /// here): the walk went on past it, as if it did not match or did nothing.
    Unevaluated(String),
}

impl HitAction {
    /// nft monitor trace's words for it: `(verdict jump KUBE-SERVICES)`, `policy accept`.
    pub fn describe(&self) -> String {
        match self {
            HitAction::Continue => "verdict continue".into(),
            HitAction::Jump(c) => format!("verdict jump {c}"),
            HitAction::Goto(c) => format!("verdict goto {c}"),
            HitAction::Return => "verdict return".into(),
            HitAction::Accept => "verdict accept".into(),
            HitAction::Drop => "verdict drop".into(),
            HitAction::Reject(w) => format!("reject with {w}"),
            HitAction::Nat(NatAction::Dnat { to, .. }) => format!("dnat to {to}"),
            HitAction::Nat(NatAction::Snat { to, .. }) => format!("snat to {to}"),
            HitAction::Nat(NatAction::Masquerade { .. }) => "masquerade".into(),
            HitAction::Policy(v) => format!("policy {}", v.name().to_lowercase()),
            HitAction::Unevaluated(what) => format!("unevaluated {what}"),
            // xt_CT's target returns XT_CONTINUE.
            HitAction::Notrack | HitAction::Tcpmss(_) => "verdict continue".into(),
        }
    }
}

impl HitAction {
    /// The `IP:PORT` (or `IP`) a DNAT rule translated to.
    pub fn dnat_to(&self) -> Option<&str> {
        match self {
            HitAction::Nat(NatAction::Dnat { to, .. }) => Some(to),
            _ => None,
        }
    }
}

/// A rule that matched (or the policy that decided), in the order the walk met them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleHit {
    pub table: RuleTable,
    pub chain: String,
    /// 1-based position in the chain; 0 for the policy.
    pub position: usize,
    /// `-A CHAIN ...` as iptables-save prints it (empty for the policy).
    pub rule: String,
    pub comment: Option<String>,
    pub action: HitAction,
    /// The packet mark after this rule.
    pub mark: u32,
    /// Why it acted and why the rules before it did not (text only), when the walk was
    /// asked ([`RuleEnv::why_not`]); boxed, as most walks keep none.
    #[serde(skip)]
    pub reasons: Option<Box<Reasons>>,
}

impl RuleHit {
    /// The rule as a trace step names it.
    pub fn rule_ref(&self) -> super::RuleRef {
        super::RuleRef {
            table: self.table.clone(),
            chain: self.chain.clone(),
            position: self.position,
            text: self.rule.clone(),
            comment: self.comment.clone(),
        }
    }
}

/// The result of walking a table at a hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableWalk {
    /// The connection's mark when `-j CONNMARK` changed it.
    pub ct_mark: Option<u32>,
    pub table: TableKind,
    pub hook: Hook,
    pub verdict: Final,
    pub nat: Option<NatAction>,
    pub mark: u32,
    pub hits: Vec<RuleHit>,
    /// Every rule looked at, matched or not (a cost measure).
    pub evaluated: usize,
}

fn iface_matches(pattern: &str, name: Option<&str>) -> bool {
    let Some(name) = name else { return false };
    match pattern.strip_suffix('+') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// What `--sport`/`--dport` read: a later fragment has no ports (`tcp_mt`/`udp_mt` refuse
/// `fragoff != 0`), the first one has its header.
fn ports(ip: &Ipv4) -> Option<(u16, u16)> {
    ip.l4_ports()
}

fn in_net(n: &Ipv4Net, ip: Ipv4Addr) -> bool {
    n.contains(ip)
}

/// Where xt_statistic's nth counter starts: at every-1, so the first packet takes it to 0
/// and `--every N --packet P` matches packets P+1, P+1+N, ... Measured on Linux 6.18 with
/// iptables 1.8.9 (nf_tables) and rule counters (docs/lab/2026-11-27-nth.md); older
/// libxt_statistic sources start it at (every-1)-packet, which the kernel did not show.
pub fn nth_start(every: u32, _packet: u32) -> u32 {
    every.saturating_sub(1)
}

/// One packet through an nth match (`statistic_mt`): the counter advances, wrapping after
/// every-1, and the packet matches when the new value is `packet`. With --packet 0 the
/// first packet matches, then every Nth.
pub fn nth_step(counter: &mut u32, every: u32, packet: u32) -> bool {
    *counter = if *counter >= every.saturating_sub(1) {
        0
    } else {
        *counter + 1
    };
    *counter == packet
}

/// Does `m` match? `key` names the rule for per-rule state (nth counters).
fn match_one(m: &Match, p: &PacketMeta, env: &mut dyn RuleEnv, key: &str) -> bool {
    let ip = p.ip;
    let port_ok = |r: &Option<(PortRange, bool)>, v: u16| {
        r.as_ref().is_none_or(|(pr, n)| pr.contains(v) != *n)
    };
    match m {
        // A limit's bucket is state nobody dumps: the packet is taken as under its rate.
        Match::Comment(_) | Match::Nfacct(_) | Match::Limit(_) => true,
        // What kpath does not model does not match; the walk records that it met it.
        Match::Unknown(_) => false,
        // connmark_mt: a packet without a connection matches nothing, `!` or not.
        Match::Connmark { value, mask, neg } => {
            p.ct.filter(tracked)
                .is_some_and(|c| ((c.mark & mask) == *value) != *neg)
        }
        // owner_mt: without a socket only inverted criteria hold; with one, its owner is
        // uid 0, gid 0 (kpath models no users; the answer says so).
        Match::Owner(o) => {
            if !env.local_socket() {
                let given = [o.socket_exists, o.uid.map(|u| u.2), o.gid.map(|g| g.2)];
                return given.iter().flatten().all(|inv| *inv);
            }
            let in_range =
                |r: Option<(u32, u32, bool)>| r.is_none_or(|(a, b, n)| (a..=b).contains(&0) != n);
            o.socket_exists.is_none_or(|n| !n) && in_range(o.uid) && in_range(o.gid)
        }
        // rpfilter_mt; without the node's routes the source is taken as routed back by
        // the device it came in on (the answer says so).
        Match::Rpfilter(r) => env.rpfilter(ip, p.mark, r).unwrap_or(true) != r.invert,
        // pkttype_mt: the frame's class; kpath's frames carry the IP destination's.
        Match::PktType { kind, neg } => {
            let d = ip.dst;
            let class = if d.is_multicast() {
                crate::netfilter::rule::PktType::Multicast
            } else if d.is_broadcast() || env.addr_type(d) == AddrType::Broadcast {
                crate::netfilter::rule::PktType::Broadcast
            } else {
                crate::netfilter::rule::PktType::Unicast
            };
            (class == *kind) != *neg
        }
        Match::Tcp {
            sport,
            dport,
            flags,
        } => match &ip.payload {
            L4::Tcp(t) => {
                port_ok(sport, t.sport)
                    && port_ok(dport, t.dport)
                    && flags
                        .as_ref()
                        .is_none_or(|(mask, comp, n)| ((t.flags.0 & mask) == *comp) != *n)
            }
            _ => false,
        },
        Match::Udp { sport, dport } => match &ip.payload {
            L4::Udp(u) => port_ok(sport, u.sport) && port_ok(dport, u.dport),
            _ => false,
        },
        Match::IpRange(m) => {
            let within = |r: &Option<(Ipv4Addr, Ipv4Addr, bool)>, a: Ipv4Addr| {
                r.is_none_or(|(lo, hi, n)| (lo <= a && a <= hi) != n)
            };
            within(&m.src, ip.src) && within(&m.dst, ip.dst)
        }
        Match::Length { lo, hi, neg } => {
            let len = ip.total_len();
            (usize::from(*lo) <= len && len <= usize::from(*hi)) != *neg
        }
        // No SCTP packet is walked (the wire model has no SCTP header).
        Match::Sctp { .. } => false,
        Match::Icmp {
            icmp_type,
            code,
            neg,
        } => match &ip.payload {
            L4::Icmp(_) => {
                let (t, c) = icmp_type_code(&ip.payload);
                let hit = *icmp_type == 255 || (t == *icmp_type && code.is_none_or(|x| x == c));
                hit != *neg
            }
            _ => false,
        },
        Match::Multiport {
            kind,
            ports: list,
            neg,
        } => match ports(ip) {
            Some((s, d)) => {
                let any = |v: u16| list.iter().any(|r| r.contains(v));
                let hit = match kind {
                    MultiportKind::Sports => any(s),
                    MultiportKind::Dports => any(d),
                    MultiportKind::Ports => any(s) || any(d),
                };
                hit != *neg
            }
            None => false,
        },
        Match::Mark { value, mask, neg } => ((p.mark & mask) == *value) != *neg,
        Match::AddrType(m) => {
            let AddrTypeMatch { src, dst, .. } = &**m;
            let ok = |spec: &Option<(Vec<AddrType>, bool)>, a: Ipv4Addr| {
                spec.as_ref()
                    .is_none_or(|(ts, n)| ts.contains(&env.addr_type(a)) != *n)
            };
            ok(src, ip.src) && ok(dst, ip.dst)
        }
        Match::Statistic(Statistic::Random { probability, neg }) => {
            env.random(*probability) != *neg
        }
        Match::Statistic(Statistic::Nth { every, packet, neg }) => {
            env.nth(key, *every, *packet) != *neg
        }
        Match::Conntrack(m) => {
            let ConntrackMatch {
                ctstate,
                ctorigdst,
                ctorigdstport,
            } = &**m;
            // No conntrack entry reads as INVALID (xt_conntrack: !ct and not the untracked
            // template; kpath models no NOTRACK).
            let state = p.ct.map(|c| c.state).unwrap_or(CtState::Invalid);
            let st_ok = ctstate.as_ref().is_none_or(|(ss, n)| {
                let hit = ss.iter().any(|s| match s {
                    CtState::Snat => p.ct.is_some_and(|c| c.snat),
                    CtState::Dnat => p.ct.is_some_and(|c| c.dnat),
                    other => *other == state,
                });
                hit != *n
            });
            let dst_ok = ctorigdst
                .as_ref()
                .is_none_or(|(net, n)| p.ct.is_some_and(|c| in_net(net, c.orig_dst)) != *n);
            let port_ok = ctorigdstport
                .as_ref()
                .is_none_or(|(r, n)| p.ct.is_some_and(|c| r.contains(c.orig_dport)) != *n);
            st_ok && dst_ok && port_ok
        }
        Match::State { states, neg } => {
            let state = p.ct.map(|c| c.state).unwrap_or(CtState::Invalid);
            states.contains(&state) != *neg
        }
        Match::Recent(r) => {
            let a = if r.source { ip.src } else { ip.dst };
            let masked = Ipv4Addr::from(u32::from(a) & u32::from(r.mask));
            env.recent(r, masked) != r.neg
        }
        Match::Set(m) => env.in_set(&m.name, &m.dirs, p).unwrap_or(false) != m.neg,
        Match::Ipvs(m) => ipvs_matches(m, p),
        Match::Physdev(m) => {
            let PhysdevMatch {
                physdev_in,
                physdev_out,
                is_in,
                is_out,
                is_bridged,
            } = &**m;
            let name_ok = |spec: &Option<(String, bool)>, v: Option<&str>| {
                spec.as_ref()
                    .is_none_or(|(pat, n)| iface_matches(pat, v) != *n)
            };
            let flag_ok = |spec: &Option<bool>, v: bool| spec.is_none_or(|n| v != n);
            name_ok(physdev_in, p.physin)
                && name_ok(physdev_out, p.physout)
                && flag_ok(is_in, p.physin.is_some())
                && flag_ok(is_out, p.physout.is_some())
                && flag_ok(is_bridged, p.physout.is_some())
        }
    }
}

/// ICMP type and code of an ICMP payload.
fn icmp_type_code(l4: &L4) -> (u8, u8) {
    use crate::wire::IcmpMessage::*;
    match l4 {
        L4::Icmp(i) => match i.msg {
            EchoRequest { .. } => (8, 0),
            EchoReply { .. } => (0, 0),
            DestUnreachable { code, .. } => (3, code),
            TimeExceeded { code } => (11, code),
            Redirect { code, .. } => (5, code),
        },
        _ => (255, 255),
    }
}

/// Does the rule's whole match part hold?
pub fn rule_matches(r: &Rule, p: &PacketMeta, env: &mut dyn RuleEnv, key: &str) -> bool {
    first_miss(r, p, env, key).is_none()
}

/// The first of the rule's conditions that does not hold, in the order the kernel tests
/// them (`ip_packet_match`, then each match); None when the rule matches.
pub fn first_miss(r: &Rule, p: &PacketMeta, env: &mut dyn RuleEnv, key: &str) -> Option<Part> {
    let ip = p.ip;
    if let Some((n, inv)) = &r.src
        && in_net(n, ip.src) == *inv
    {
        return Some(Part::Src);
    }
    if let Some((n, inv)) = &r.dst
        && in_net(n, ip.dst) == *inv
    {
        return Some(Part::Dst);
    }
    if let Some((pat, inv)) = r.in_iface.as_deref()
        && iface_matches(pat, p.iif) == *inv
    {
        return Some(Part::In);
    }
    if let Some((pat, inv)) = r.out_iface.as_deref()
        && iface_matches(pat, p.oif) == *inv
    {
        return Some(Part::Out);
    }
    if let Some((proto, inv)) = &r.proto {
        let hit = proto.number() == 0 || *proto == ip.protocol();
        if hit == *inv {
            return Some(Part::Proto);
        }
    }
    // Matches are evaluated in order and stop at the first miss, as xt does; this matters
    // for stateful ones (recent --set, statistic draws) that come after a miss.
    r.matches
        .iter()
        .position(|m| !match_one(m, p, env, key))
        .map(Part::Module)
}

/// Walk `table`'s built-in chain for `hook`. `mark` is the packet's mark going in.
pub fn walk_table<'a>(
    table: &'a Table,
    hook: Hook,
    meta: &PacketMeta,
    env: &mut dyn RuleEnv,
) -> TableWalk {
    let mut mark = meta.mark;
    let mut hits = Vec::new();
    let mut evaluated = 0usize;
    // xt_CONNMARK's writes, seen by the rules after them and kept on the connection.
    let ct_mark: std::cell::Cell<Option<u32>> = std::cell::Cell::new(None);
    let done = |verdict: Final,
                nat: Option<NatAction>,
                mark: u32,
                hits: Vec<RuleHit>,
                evaluated: usize| TableWalk {
        ct_mark: ct_mark.get(),
        table: table.kind,
        hook,
        verdict,
        nat,
        mark,
        hits,
        evaluated,
    };
    let Some(base) = table.hook_chain(hook) else {
        return done(Final::Accept, None, mark, hits, evaluated);
    };
    let policy = base.policy.unwrap_or(Verdict::Accept);
    let policy_end = |mark: u32, mut hits: Vec<RuleHit>, passed: Vec<String>, evaluated: usize| {
        hits.push(RuleHit {
            table: RuleTable::Iptables(table.kind),
            chain: base.name.clone(),
            position: 0,
            rule: String::new(),
            comment: None,
            action: HitAction::Policy(policy),
            mark,
            reasons: (!passed.is_empty()).then(|| {
                Box::new(Reasons {
                    passed,
                    ..Reasons::default()
                })
            }),
        });
        let v = if policy == Verdict::Accept {
            Final::Accept
        } else {
            Final::Drop
        };
        done(v, None, mark, hits, evaluated)
    };
    // (chain, next rule index, the chain's destination index) frames; jumps push, gotos
    // replace the top.
    type Frame<'t> = (&'t super::Chain, usize, Option<&'t super::DstIndex>);
    let frame = |c: &'a super::Chain| -> Frame<'a> { (c, 0, table.dst_index(c)) };
    let mut stack: Vec<Frame> = vec![frame(base)];
    // Why not: the rules the packet met in the current chain since its last hit there.
    let why_not = env.why_not();
    let mut passed: Vec<String> = Vec::new();
    while let Some((chain, mut i, ix)) = stack.pop() {
        // Step over the rules that require another destination (dst_index.rs): the
        // kernel reads them and rejects each at its IP header, so they count as looked at.
        if let Some(ix) = ix {
            let next = ix.next_candidate(i, meta.ip.dst);
            if why_not && next > i {
                let which = if next - i == 1 {
                    format!("#{}", i + 1)
                } else {
                    format!("#{}-#{}", i + 1, next)
                };
                passed.push(format!(
                    "{which} -d: each needs another destination than {}",
                    meta.ip.dst
                ));
            }
            evaluated += next - i;
            i = next;
        }
        let Some(rule) = chain.rules.get(i) else {
            // Off the end: an implicit return to the caller or, with nothing to return to
            // (the base chain itself, or a chain reached by -g from it), the base chain's
            // policy - ipt_do_table's underflow entry for the hook.
            if stack.is_empty() {
                return policy_end(mark, hits, std::mem::take(&mut passed), evaluated);
            }
            // The caller's rules met before its jump went with that jump's hit.
            passed.clear();
            continue;
        };
        evaluated += 1;
        if evaluated > MAX_RULES_PER_WALK {
            // Loops are refused at load, but jumps can still multiply paths; say why the
            // walk ended instead of blaming the last rule that matched.
            hits.push(stopped(
                table.kind,
                &chain.name,
                mark,
                format!(
                    "kpath stopped this walk after {MAX_RULES_PER_WALK} rules: the ruleset's jumps multiply its paths"
                ),
            ));
            return done(Final::Drop, None, mark, hits, evaluated);
        }
        // Only nth counters need the rule's name; most rules never allocate one.
        let needs_key = rule
            .matches
            .iter()
            .any(|m| matches!(m, Match::Statistic(Statistic::Nth { .. })));
        let key = if needs_key {
            format!("{}/{}/{}", table.kind.name(), chain.name, i + 1)
        } else {
            String::new()
        };
        let m = PacketMeta {
            mark,
            ct: meta.ct.map(|c| CtView {
                mark: ct_mark.get().unwrap_or(c.mark),
                ..c
            }),
            ..meta.clone()
        };
        if let Some(part) = first_miss(rule, &m, env, &key) {
            if why_not {
                passed.push(super::why::missed(rule, i + 1, part, &m, &*env));
            }
            // A module kpath does not model stopped the rule: say the walk met it.
            if let super::why::Part::Module(k) = part
                && let Some(Match::Unknown(u)) = rule.matches.get(k)
            {
                hits.push(RuleHit {
                    table: RuleTable::Iptables(table.kind),
                    chain: chain.name.clone(),
                    position: i + 1,
                    rule: rule.text(&chain.name).into_owned(),
                    comment: rule.comment().map(str::to_string),
                    action: HitAction::Unevaluated(format!("-m {}", u.name)),
                    mark,
                    reasons: None,
                });
            }
            stack.push((chain, i + 1, ix));
            continue;
        }
        let met = std::mem::take(&mut passed);
        let held = why_not
            .then(|| super::why::held(rule, &m, &*env))
            .filter(|h| !h.is_empty());
        let hit = |action: HitAction, mark: u32| RuleHit {
            table: RuleTable::Iptables(table.kind),
            chain: chain.name.clone(),
            position: i + 1,
            rule: rule.text(&chain.name).into_owned(),
            comment: rule.comment().map(str::to_string),
            action,
            mark,
            reasons: why_not.then(|| {
                Box::new(Reasons {
                    why: None,
                    passed: met.clone(),
                    held: held.clone(),
                })
            }),
        };
        match &rule.target {
            Target::Unknown(u) => {
                hits.push(hit(HitAction::Unevaluated(format!("-j {}", u.name)), mark));
                stack.push((chain, i + 1, ix));
            }
            Target::Notrack { .. } => {
                hits.push(hit(HitAction::Notrack, mark));
                stack.push((chain, i + 1, ix));
            }
            Target::Connmark(op) => {
                // connmark_tg: nothing without a connection (untracked included).
                if let Some(c) = m.ct.filter(tracked) {
                    match *op {
                        ConnmarkOp::SetXmark { value, mask } => {
                            ct_mark.set(Some((c.mark & !mask) ^ value));
                        }
                        ConnmarkOp::Save { nfmask, ctmask } => {
                            ct_mark.set(Some((c.mark & !ctmask) ^ (mark & nfmask)));
                        }
                        ConnmarkOp::Restore { nfmask, ctmask } => {
                            mark = (mark & !nfmask) ^ (c.mark & ctmask);
                        }
                    }
                }
                let mut h = hit(HitAction::Continue, mark);
                if let Some(r) = h.reasons.as_mut() {
                    r.why = super::why::continues(rule).map(str::to_string);
                }
                hits.push(h);
                stack.push((chain, i + 1, ix));
            }
            Target::Tcpmss { mss } => {
                hits.push(hit(HitAction::Tcpmss(*mss), mark));
                stack.push((chain, i + 1, ix));
            }
            Target::None
            | Target::Log { .. }
            | Target::Nflog(_)
            | Target::Trace
            | Target::Mark { .. } => {
                if let Target::Mark { value, mask } = rule.target {
                    mark = (mark & !mask) ^ value;
                }
                let mut h = hit(HitAction::Continue, mark);
                if let Some(r) = h.reasons.as_mut() {
                    r.why = super::why::continues(rule).map(str::to_string);
                }
                hits.push(h);
                stack.push((chain, i + 1, ix));
            }
            Target::Accept => {
                hits.push(hit(HitAction::Accept, mark));
                return done(Final::Accept, None, mark, hits, evaluated);
            }
            Target::Drop => {
                hits.push(hit(HitAction::Drop, mark));
                return done(Final::Drop, None, mark, hits, evaluated);
            }
            Target::Reject { with } => {
                hits.push(hit(HitAction::Reject(with.clone()), mark));
                return done(
                    Final::Reject { with: with.clone() },
                    None,
                    mark,
                    hits,
                    evaluated,
                );
            }
            Target::Return => {
                // Why it returned: the conditions that held, in the packet's values (put
                // in words only when asked, like every other reason).
                let mut h = hit(HitAction::Return, mark);
                if let Some(r) = h.reasons.as_mut() {
                    r.why = held.clone();
                }
                hits.push(h);
                if stack.is_empty() {
                    // RETURN with nothing to return to: the base chain's policy decides.
                    return policy_end(mark, hits, std::mem::take(&mut passed), evaluated);
                }
            }
            Target::Jump(to) | Target::Goto(to) => {
                let goto = matches!(rule.target, Target::Goto(_));
                hits.push(hit(
                    if goto {
                        HitAction::Goto(to.clone())
                    } else {
                        HitAction::Jump(to.clone())
                    },
                    mark,
                ));
                if !goto {
                    stack.push((chain, i + 1, ix));
                }
                // Without a loop a chain is on the jump stack at most once, so the stack
                // never holds more frames than the table has chains (the kernel sizes its
                // jumpstack the same way). Deeper means a loop - loading refuses those, a
                // hand-built table may not: end the walk now, saying so.
                if stack.len() > table.chains().len() {
                    hits.push(stopped(
                        table.kind,
                        &chain.name,
                        mark,
                        format!("kpath stopped this walk: jumping to `{to}` again makes a loop"),
                    ));
                    return done(Final::Drop, None, mark, hits, evaluated);
                }
                match table.chain(to) {
                    Some(c) => stack.push(frame(c)),
                    // Loading refuses jumps to missing chains; a hand-built table may not.
                    None => return done(Final::Drop, None, mark, hits, evaluated),
                }
            }
            Target::Dnat { to, .. } => {
                let a = NatAction::Dnat {
                    to: to.to_string(),
                    addr: to.lo,
                    port: to.ports.map(|p| p.lo),
                };
                hits.push(hit(HitAction::Nat(a.clone()), mark));
                return done(Final::Accept, Some(a), mark, hits, evaluated);
            }
            Target::Snat {
                to, random_fully, ..
            } => {
                let a = NatAction::Snat {
                    to: to.to_string(),
                    addr: to.lo,
                    port: to.ports.map(|p| p.lo),
                    random_fully: *random_fully,
                };
                hits.push(hit(HitAction::Nat(a.clone()), mark));
                return done(Final::Accept, Some(a), mark, hits, evaluated);
            }
            Target::Redirect { to_ports, .. } => {
                // nf_nat_redirect_ipv4: no address on the incoming device is NF_DROP.
                let Some(addr) = env.redirect_addr() else {
                    hits.push(hit(HitAction::Drop, mark));
                    return done(Final::Drop, None, mark, hits, evaluated);
                };
                let to = match to_ports {
                    Some(p) => format!("{addr}:{}", p.nat_text()),
                    None => addr.to_string(),
                };
                let a = NatAction::Dnat {
                    to,
                    addr,
                    port: to_ports.map(|p| p.lo),
                };
                hits.push(hit(HitAction::Nat(a.clone()), mark));
                return done(Final::Accept, Some(a), mark, hits, evaluated);
            }
            Target::Masquerade {
                to_ports,
                random_fully,
                ..
            } => {
                let a = NatAction::Masquerade {
                    random_fully: *random_fully,
                    to_ports: to_ports.map(|p| (p.lo, p.hi)),
                };
                hits.push(hit(HitAction::Nat(a.clone()), mark));
                return done(Final::Accept, Some(a), mark, hits, evaluated);
            }
        }
    }
    policy_end(mark, hits, passed, evaluated)
}

/// Has the packet a connection (`nf_ct_get` not NULL): not the untracked template, not
/// INVALID for want of one.
fn tracked(c: &CtView) -> bool {
    !matches!(c.state, CtState::Untracked | CtState::Invalid)
}

#[cfg(test)]
mod tests {
    use super::{nth_start, nth_step};

    /// Which of the first `n` packets an nth rule matches (1-based).
    fn matched(every: u32, packet: u32, n: u32) -> Vec<u32> {
        let mut c = nth_start(every, packet);
        (1..=n)
            .filter(|_| nth_step(&mut c, every, packet))
            .collect()
    }

    #[test]
    fn nth_matches_as_the_kernel_counts() {
        // `--every 2`: packets 1, 3, 5 (kube-proxy's old round-robin idiom).
        assert_eq!(matched(2, 0, 6), [1, 3, 5]);
        assert_eq!(matched(3, 0, 7), [1, 4, 7]);
        // --packet P: packet P+1 first, then every Nth (as the lab's kernel counted).
        assert_eq!(matched(4, 1, 9), [2, 6]);
        assert_eq!(matched(4, 2, 9), [3, 7]);
        assert_eq!(matched(1, 0, 3), [1, 2, 3]);
    }
}
