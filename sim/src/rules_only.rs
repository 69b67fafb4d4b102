//! Rules-only mode: "where does this packet go?" for an iptables-save dump pasted from a
//! node, without a cluster around it. The packet takes the hooks a real node would walk it
//! through (PREROUTING, then INPUT or FORWARD, then POSTROUTING; or OUTPUT first when the
//! source is one of the node's addresses), as the first packet of a new connection. Every
//! random choice (`-m statistic`) is enumerated, so the answer lists every possible
//! outcome with its probability, the way kube-proxy's own test tracer lists endpoints.

use crate::engine::choices::Choices;
use crate::netfilter::eval::{
    CtView, Final, HitAction, NatAction, PacketMeta, RuleEnv, RuleHit, walk_table,
};
use crate::netfilter::rule::{AddrType, CtState, Recent};
use crate::netfilter::{Hook, Netfilter, TableKind};
use crate::wire::{Icmp, IcmpMessage, Ipv4, Ipv4Addr, L4, Tcp, TcpFlags, Udp, UdpPayload};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::Serialize;

/// The question.
#[derive(Clone, Debug)]
pub struct RulesQuery {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub dport: u16,
    /// 6 (tcp), 17 (udp) or 1 (icmp).
    pub proto: u8,
    /// The node's own addresses (`-m addrtype LOCAL`, and whether the packet is for the node).
    pub local_ips: Vec<Ipv4Addr>,
    /// Interface names iptables sees, if the rules match on them.
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// The node's ipsets (`ipset save`), for `-m set` rules.
    pub sets: Vec<crate::netfilter::ipset::IpSet>,
}

/// One possible fate.
#[derive(Clone, Debug, Serialize)]
pub struct RuleOutcome {
    /// ACCEPT, DROP or REJECT.
    pub verdict: &'static str,
    /// `IP:PORT` after DNAT (the original destination when nothing translated it); None
    /// when the packet was dropped or rejected.
    pub destination: Option<String>,
    /// Source NAT (MASQUERADE or SNAT) in POSTROUTING.
    pub masquerade: bool,
    pub probability: f64,
    /// Where the packet went: `local` (delivered to the node) or `forward`.
    pub path: &'static str,
    /// Every rule that matched, in order, per table and hook.
    pub hits: Vec<RuleHit>,
}

struct Env<'a> {
    local: &'a [Ipv4Addr],
    sets: &'a [crate::netfilter::ipset::IpSet],
    choices: &'a mut Choices,
    rng: &'a mut ChaCha8Rng,
}

impl RuleEnv for Env<'_> {
    fn addr_type(&self, ip: Ipv4Addr) -> AddrType {
        if ip.is_loopback() || self.local.contains(&ip) {
            AddrType::Local
        } else if ip.is_broadcast() {
            AddrType::Broadcast
        } else if ip.is_multicast() {
            AddrType::Multicast
        } else {
            AddrType::Unicast
        }
    }
    fn in_set(&self, name: &str, dirs: &[bool], meta: &PacketMeta) -> Option<bool> {
        let set = self.sets.iter().find(|s| s.name == name)?;
        Some(set.test(meta.ip, dirs))
    }
    /// A first packet: no source has been seen by any `-m recent` list.
    fn recent(&mut self, r: &Recent, _: Ipv4Addr) -> bool {
        matches!(r.cmd, crate::netfilter::rule::RecentCmd::Set)
    }
    fn random(&mut self, stored: u32) -> bool {
        let what = format!(
            "statistic probability {:.11}",
            f64::from(stored) / 2147483648.0
        );
        self.choices.statistic(self.rng, stored, what)
    }
    /// The counter's state on the node is unknown: one packet in `every` matches, so
    /// both answers are outcomes, the match with probability 1/every.
    fn nth(&mut self, _: &str, every: u32, packet: u32) -> bool {
        let stored = (2_147_483_648.0 / f64::from(every.max(1))) as u32;
        let what = format!("statistic nth: every {every}, packet {packet} (counter state unknown)");
        self.choices.statistic(self.rng, stored, what)
    }
}

fn packet(q: &RulesQuery) -> Ipv4 {
    let payload = match q.proto {
        6 => L4::Tcp(Tcp {
            sport: 40000,
            dport: q.dport,
            seq: 1,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            options: Vec::new(),
            payload: Vec::new(),
        }),
        17 => L4::Udp(Udp {
            sport: 40000,
            dport: q.dport,
            payload: UdpPayload::Data(Vec::new()),
        }),
        _ => L4::Icmp(Icmp {
            msg: IcmpMessage::EchoRequest { ident: 1, seq: 1 },
            data: Vec::new(),
        }),
    };
    Ipv4 {
        tos: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        ttl: 64,
        src: q.src,
        dst: q.dst,
        payload,
    }
}

/// One run of the hooks with some choices forced.
fn run_once(nf: &Netfilter, q: &RulesQuery, choices: &mut Choices) -> RuleOutcome {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut ip = packet(q);
    let mut mark = 0u32;
    let mut hits: Vec<RuleHit> = Vec::new();
    let mut masquerade = false;
    let local_src = q.local_ips.contains(&q.src) || q.src.is_loopback();
    let ct = CtView {
        state: CtState::New,
        orig_dst: q.dst,
        orig_dport: q.dport,
        dnat: false,
        snat: false,
    };
    let first_hooks: &[Hook] = if local_src {
        &[Hook::Output]
    } else {
        &[Hook::Prerouting]
    };
    // The nat table's destination decision is made once per connection (the first
    // PREROUTING or OUTPUT walk); whether it translated is what `--ctstate DNAT` sees.
    let mut dnat_done = DstNat::default();
    // Run the tables of one hook in priority order; returns a final verdict when not ACCEPT.
    let mut run_hook = |hook: Hook,
                        ip: &mut Ipv4,
                        mark: &mut u32,
                        hits: &mut Vec<RuleHit>,
                        masq: &mut bool,
                        dnat_done: &mut DstNat,
                        choices: &mut Choices|
     -> Option<&'static str> {
        for (_, table) in nf.at(hook) {
            let iif = if matches!(hook, Hook::Prerouting | Hook::Input | Hook::Forward) {
                q.iif.as_deref()
            } else {
                None
            };
            let oif = if matches!(hook, Hook::Output | Hook::Forward | Hook::Postrouting) {
                q.oif.as_deref()
            } else {
                None
            };
            let nat_dst =
                table.kind == TableKind::Nat && matches!(hook, Hook::Prerouting | Hook::Output);
            if nat_dst && dnat_done.decided {
                continue;
            }
            let snapshot = ip.clone();
            let meta = PacketMeta {
                ip: &snapshot,
                iif,
                oif,
                physin: None,
                physout: None,
                mark: *mark,
                ct: Some(CtView {
                    dnat: dnat_done.applied,
                    ..ct
                }),
            };
            let mut env = Env {
                local: &q.local_ips,
                sets: &q.sets,
                choices,
                rng: &mut rng,
            };
            let w = walk_table(table, hook, &meta, &mut env);
            *mark = w.mark;
            hits.extend(w.hits.iter().cloned());
            match (&w.verdict, &w.nat) {
                (Final::Drop, _) => return Some("DROP"),
                (Final::Reject { .. }, _) => return Some("REJECT"),
                (Final::Accept, Some(NatAction::Dnat { addr, port, .. })) => {
                    ip.dst = *addr;
                    if let Some(p) = port {
                        set_dport(ip, *p);
                    }
                    *dnat_done = DstNat {
                        decided: true,
                        applied: true,
                    };
                }
                (Final::Accept, Some(NatAction::Snat { .. } | NatAction::Masquerade { .. })) => {
                    *masq = true
                }
                (Final::Accept, None) => {
                    if nat_dst {
                        dnat_done.decided = true;
                    }
                }
            }
        }
        None
    };
    let local_dst = |ip: &Ipv4| q.local_ips.contains(&ip.dst) || ip.dst.is_loopback();
    // The first hook, then the rest of the way, which the first hook's DNAT may change.
    for phase in 0..2 {
        let hooks: &[Hook] = if phase == 0 {
            first_hooks
        } else {
            // A local packet to a local address loops back through lo: POSTROUTING, then
            // PREROUTING (its nat already decided) and INPUT.
            match (local_src, local_dst(&ip)) {
                (true, true) => &[Hook::Postrouting, Hook::Prerouting, Hook::Input],
                (true, false) => &[Hook::Postrouting],
                (false, true) => &[Hook::Input],
                (false, false) => &[Hook::Forward, Hook::Postrouting],
            }
        };
        for h in hooks {
            if let Some(v) = run_hook(
                *h,
                &mut ip,
                &mut mark,
                &mut hits,
                &mut masquerade,
                &mut dnat_done,
                choices,
            ) {
                return RuleOutcome {
                    verdict: v,
                    destination: None,
                    masquerade: false,
                    probability: choices.probability(),
                    path: "dropped",
                    hits,
                };
            }
        }
    }
    let destination = match &ip.payload {
        L4::Tcp(t) => format!("{}:{}", ip.dst, t.dport),
        L4::Udp(u) => format!("{}:{}", ip.dst, u.dport),
        L4::Icmp(_) => ip.dst.to_string(),
    };
    RuleOutcome {
        verdict: "ACCEPT",
        destination: Some(destination),
        masquerade,
        probability: choices.probability(),
        path: if local_dst(&ip) { "local" } else { "forward" },
        hits,
    }
}

fn set_dport(ip: &mut Ipv4, p: u16) {
    match &mut ip.payload {
        L4::Tcp(t) => t.dport = p,
        L4::Udp(u) => u.dport = p,
        L4::Icmp(_) => {}
    }
}

/// The connection's destination NAT: decided (the nat table walked once), and applied
/// (it translated: conntrack's IPS_DST_NAT, which `--ctstate DNAT` reads).
#[derive(Clone, Copy, Debug, Default)]
struct DstNat {
    decided: bool,
    applied: bool,
}

/// Every possible outcome, most probable first (ties in the order found).
pub fn trace_rules(nf: &Netfilter, q: &RulesQuery) -> Vec<RuleOutcome> {
    let mut out = Vec::new();
    let mut todo: Vec<Vec<usize>> = vec![Vec::new()];
    while let Some(forced) = todo.pop() {
        let mut choices = Choices {
            forced,
            log: Vec::new(),
            enumerate: true,
        };
        let o = run_once(nf, q, &mut choices);
        let mut alts = choices.alternatives();
        alts.reverse();
        todo.extend(alts);
        out.push(o);
        if out.len() >= crate::engine::MAX_OUTCOMES {
            break;
        }
    }
    out.sort_by(|a, b| {
        b.probability
            .partial_cmp(&a.probability)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// Sets the rules match on that the query does not hold: without them every
/// `--match-set` reads as "not in the set", so answers may be wrong.
pub fn missing_sets(nf: &Netfilter, q: &RulesQuery) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &nf.tables {
        for c in &t.chains {
            for r in &c.rules {
                for m in &r.matches {
                    if let crate::netfilter::Match::Set { name, .. } = m
                        && !q.sets.iter().any(|s| &s.name == name)
                        && !out.contains(name)
                    {
                        out.push(name.clone());
                    }
                }
            }
        }
    }
    out
}

/// Whether a hit changed the walk's course (used by renderers to keep paths short).
pub fn is_decision(h: &RuleHit) -> bool {
    !matches!(h.action, HitAction::Continue)
}

/// The answer as text: one block per outcome, the rules that decided it underneath.
pub fn render_text(file: &str, q: &RulesQuery, outcomes: &[RuleOutcome]) -> String {
    use std::fmt::Write;
    let proto = match q.proto {
        6 => "tcp",
        17 => "udp",
        _ => "icmp",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{file}: {proto} {} -> {}:{} (the first packet of a new connection)",
        q.src, q.dst, q.dport
    );
    let locals: Vec<String> = q.local_ips.iter().map(|i| i.to_string()).collect();
    let _ = writeln!(
        out,
        "node addresses: {}",
        if locals.is_empty() {
            "none given (--local-ip)".into()
        } else {
            locals.join(", ")
        }
    );
    let n = outcomes.len();
    let _ = writeln!(
        out,
        "{n} possible outcome{}:",
        if n == 1 { "" } else { "s" }
    );
    let covered: f64 = outcomes.iter().map(|o| o.probability).sum();
    if covered < 1.0 - 1e-9 {
        let _ = writeln!(
            out,
            "(cut short at {} outcomes, covering {:.2}% of the probability: the rest were not walked)",
            crate::engine::MAX_OUTCOMES,
            covered * 100.0
        );
    }
    for o in outcomes {
        let dest = o
            .destination
            .as_deref()
            .map(|d| format!(" -> {d}"))
            .unwrap_or_default();
        let masq = if o.masquerade { ", masqueraded" } else { "" };
        let _ = writeln!(
            out,
            "\n{:>7.2}%  {}{dest} ({}{masq})",
            o.probability * 100.0,
            o.verdict,
            o.path
        );
        for h in &o.hits {
            let pos = if h.position == 0 {
                String::new()
            } else {
                format!(" #{}", h.position)
            };
            let comment = h
                .comment
                .as_ref()
                .map(|c| format!("  \"{c}\""))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {} {}{pos} -> {}{comment}",
                h.table.name(),
                h.chain,
                h.action.describe().trim_start_matches("verdict ")
            );
        }
    }
    out
}

/// The answer as JSON: `outcomes` with verdict, destination, masquerade, probability and
/// the matched rules.
pub fn render_json(outcomes: &[RuleOutcome]) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        outcomes: &'a [RuleOutcome],
    }
    serde_json::to_string_pretty(&View { outcomes }).unwrap_or_default() + "\n"
}
