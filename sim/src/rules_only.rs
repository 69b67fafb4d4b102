//! Rules-only mode: "where does this packet go?" for an iptables-save dump pasted from a
//! node, without a cluster around it. The packet takes the hooks a real node would walk it
//! through (PREROUTING, then INPUT or FORWARD, then POSTROUTING; or OUTPUT first when the
//! source is one of the node's addresses), as the first packet of a new connection. Every
//! random choice (`-m statistic`) is enumerated, so the answer lists every possible
//! outcome with its probability, the way kube-proxy's own test tracer lists endpoints.
//!
//! With the node's IPVS table (`ipvsadm-save -n`, kube-proxy's IPVS mode) a packet for a
//! virtual service is taken where the kernel takes it (docs/design/ipvs.md 2.1-2.3):
//! `ip_vs_in_hook` at LOCAL_IN (priority 99, after filter INPUT) for a packet delivered to
//! the node, at LOCAL_OUT (priority -98, after nat OUTPUT) for one the node sends;
//! `ip_vs_schedule` picks a real server, `ip_vs_nat_xmit` rewrites the destination and sends
//! the packet through LOCAL_OUT again, then POSTROUTING. Every real server the scheduler
//! can pick is an outcome.

use crate::engine::choices::Choices;
use crate::ipvs::{Forward, Ipvs, Scheduler, VirtualService};
use crate::netfilter::eval::{
    CtView, Final, HitAction, NatAction, PacketMeta, RuleEnv, RuleHit, walk_table,
};
use crate::netfilter::ipset::Elem;
use crate::netfilter::rule::{AddrType, CtState, Recent};
use crate::netfilter::{Hook, Netfilter, TableKind};
use crate::wire::{
    Icmp, IcmpMessage, IpProtocol, Ipv4, Ipv4Addr, L4, Tcp, TcpFlags, Udp, UdpPayload,
};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::Serialize;

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
    pub sets: Vec<crate::netfilter::ipset::IpSet>,
    /// The node's IPVS table (`ipvsadm-save -n`), for kube-proxy's IPVS mode: a packet for
    /// a virtual service goes on to a real server.
    pub ipvs: Option<Ipvs>,
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
    /// Where the packet went: `local` (delivered to the node), `forward`, or `ipvs` (a
    /// virtual service took it).
    pub path: &'static str,
    /// Every rule that matched, in order, per table and hook.
    pub hits: Vec<RuleHit>,
    /// What IPVS did, when a virtual service took the packet (or may have: no table given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipvs: Option<IpvsStep>,
    /// What the answer assumed or could not know, in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
    /// `forwarded` (sent on to the real server), `local` (the real server is the node),
    /// `rejected` (no real server available: `ip_vs_leave`), `dropped` (the transmit
    /// refused it) or `unknown` (no `ipvsadm-save` given to tell).
    pub result: &'static str,
    /// The kernel functions that did it, in order.
    pub functions: Vec<&'static str>,
    /// How many of the outcome's `hits` came before IPVS took the packet.
    pub after_hits: usize,
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
        IpProtocol::Tcp => L4::Tcp(Tcp {
            sport: 40000,
            dport: q.dport,
            seq: 1,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            options: Vec::new(),
            payload: Vec::new(),
        }),
        IpProtocol::Udp => L4::Udp(Udp {
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

/// `ip_vs_in_hook`'s priorities (`ip_vs_ops4[]`): after filter INPUT at LOCAL_IN
/// (NF_IP_PRI_NAT_SRC - 1), after nat OUTPUT at LOCAL_OUT (NF_IP_PRI_NAT_DST + 2).
const IPVS_LOCAL_IN: i32 = 99;
const IPVS_LOCAL_OUT: i32 = -98;

/// The packet as it walks, and what it met.
struct Walk<'a> {
    nf: &'a Netfilter,
    q: &'a RulesQuery,
    /// The node's addresses: the ones given and the ones IPVS implies.
    local: &'a [Ipv4Addr],
    rng: ChaCha8Rng,
    ip: Ipv4,
    mark: u32,
    hits: Vec<RuleHit>,
    masquerade: bool,
    /// The nat table's destination decision is made once per connection (the first
    /// PREROUTING or OUTPUT walk); whether it translated is what `--ctstate DNAT` sees.
    dnat: DstNat,
    ipvs: Option<IpvsStep>,
    notes: Vec<String>,
}

impl Walk<'_> {
    fn is_local(&self, ip: Ipv4Addr) -> bool {
        self.local.contains(&ip) || ip.is_loopback()
    }

    /// Run the tables registered at `hook` whose priority `keep` accepts, in priority
    /// order; the verdict when one ends the packet (DROP or REJECT).
    fn hook(
        &mut self,
        hook: Hook,
        keep: impl Fn(i32) -> bool,
        choices: &mut Choices,
    ) -> Option<&'static str> {
        let (nf, q) = (self.nf, self.q);
        for (prio, table) in nf.at(hook) {
            if !keep(prio) {
                continue;
            }
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
            if nat_dst && self.dnat.decided {
                continue;
            }
            let snapshot = self.ip.clone();
            // After ip_vs_nat_xmit the packet carries ipvs_property and belongs to the
            // virtual service's connection (for `-m ipvs`).
            let ipvs_vs = self
                .ipvs
                .as_ref()
                .filter(|s| s.result == "forwarded" || s.result == "local")
                .and_then(|s| s.service.parse::<std::net::SocketAddrV4>().ok())
                .map(|a| (self.ip.protocol(), *a.ip(), a.port()));
            let meta = PacketMeta {
                ip: &snapshot,
                iif,
                oif,
                physin: None,
                physout: None,
                mark: self.mark,
                ct: Some(CtView {
                    state: CtState::New,
                    orig_dst: q.dst,
                    orig_dport: q.dport,
                    dnat: self.dnat.applied,
                    snat: false,
                    reply: false,
                }),
                ipvs_property: ipvs_vs.is_some(),
                ipvs_vs,
            };
            let mut env = Env {
                local: self.local,
                sets: &q.sets,
                choices,
                rng: &mut self.rng,
            };
            let w = walk_table(table, hook, &meta, &mut env);
            self.mark = w.mark;
            self.hits.extend(w.hits.iter().cloned());
            match (&w.verdict, &w.nat) {
                (Final::Drop, _) => return Some("DROP"),
                (Final::Reject { .. }, _) => return Some("REJECT"),
                (Final::Accept, Some(NatAction::Dnat { addr, port, .. })) => {
                    self.ip.dst = *addr;
                    if let Some(p) = port {
                        set_dport(&mut self.ip, *p);
                    }
                    self.dnat = DstNat {
                        decided: true,
                        applied: true,
                    };
                }
                (Final::Accept, Some(NatAction::Snat { .. } | NatAction::Masquerade { .. })) => {
                    self.masquerade = true
                }
                (Final::Accept, None) => {
                    if nat_dst {
                        self.dnat.decided = true;
                    }
                }
            }
        }
        None
    }

    /// Run whole hooks in turn until one ends the packet.
    fn hooks(&mut self, hooks: &[Hook], choices: &mut Choices) -> Option<&'static str> {
        hooks.iter().find_map(|h| self.hook(*h, |_| true, choices))
    }

    fn finish(self, verdict: &'static str, path: &'static str, choices: &Choices) -> RuleOutcome {
        let accepted = verdict == "ACCEPT";
        let destination = accepted.then(|| match &self.ip.payload {
            L4::Tcp(t) => format!("{}:{}", self.ip.dst, t.dport),
            L4::Udp(u) => format!("{}:{}", self.ip.dst, u.dport),
            L4::Icmp(_) => self.ip.dst.to_string(),
        });
        RuleOutcome {
            verdict,
            destination,
            masquerade: accepted && self.masquerade,
            probability: choices.probability(),
            path,
            hits: self.hits,
            ipvs: self.ipvs,
            notes: self.notes,
        }
    }
}

/// What `ip_vs_in_hook` did with the packet.
enum IpvsTook {
    /// Not IPVS's: no virtual service (or no table), or not a packet it schedules.
    No,
    /// Sent on to a real server elsewhere: LOCAL_OUT again, then POSTROUTING.
    Forwarded,
    /// The real server is the node itself: the walk goes on where it was.
    Local,
    /// No real server (`ip_vs_leave`), or the transmit refused it: the packet ends here.
    Ended(&'static str),
}

fn dport(ip: &Ipv4) -> u16 {
    match &ip.payload {
        L4::Tcp(t) => t.dport,
        L4::Udp(u) => u.dport,
        L4::Icmp(_) => 0,
    }
}

fn sport(ip: &Ipv4) -> u16 {
    match &ip.payload {
        L4::Tcp(t) => t.sport,
        L4::Udp(u) => u.sport,
        L4::Icmp(_) => 0,
    }
}

/// `ip_vs_schedule` for a new connection: the real server's index in the kernel's list.
/// rr and wrr depend on the scheduler's position, which no dump holds, so every available
/// server is an outcome (rr: each alike, since it only skips weight 0; wrr: by weight);
/// the others decide from the packet and the table (`sh` the source address, `lc` the
/// connection counts - none in a dump, so the first server in list order).
fn schedule(w: &mut Walk, vs: &VirtualService, choices: &mut Choices) -> Option<usize> {
    let (src, sp) = (w.ip.src, sport(&w.ip));
    let avail: Vec<usize> = (0..vs.dests.len())
        .filter(|&i| vs.dests[i].weight > 0)
        .collect();
    let name = vs.scheduler.name();
    match &vs.scheduler {
        Scheduler::Rr { .. } | Scheduler::Wrr(_) => {
            if avail.len() > 1 {
                let weights: Vec<f64> = avail
                    .iter()
                    .map(|&i| match vs.scheduler {
                        Scheduler::Wrr(_) => f64::from(vs.dests[i].weight),
                        _ => 1.0,
                    })
                    .collect();
                let total: f64 = weights.iter().sum();
                // The scheduler's position is state no dump holds: every available
                // server is an outcome, weighed by its long-run share.
                let k = choices.pick(
                    weights.iter().map(|x| x / total).collect(),
                    avail
                        .iter()
                        .map(|&i| format!("{}:{}", vs.dests[i].addr, vs.dests[i].port))
                        .collect(),
                    0,
                    format!("IPVS {name} {}:{}", vs.addr, vs.port),
                );
                w.notes.push(format!(
                    "{name}: the scheduler's position is not in the dump, so each of the {} available real servers is an outcome, weighed by its long-run share{}",
                    avail.len(),
                    if name == "rr" { " (rr gives every weight above 0 the same share)" } else { " (its weight over the sum of weights)" }
                ));
                avail.get(k).copied()
            } else {
                avail.first().copied()
            }
        }
        _ => {
            let pick = vs.clone().schedule(src, sp);
            w.notes.push(match name {
                "sh" => format!("sh: the source address {src} always hashes to this real server"),
                "lc" => "lc: an ipvsadm-save dump holds no connection counts, so every server has none and the first available in the kernel's list wins".to_string(),
                "mh" => format!("mh: the source address {src} and (mh-port) source port {sp} hash to this real server; another source port may hash to another"),
                _ => format!("{name}: the scheduler's pick for this packet"),
            });
            pick
        }
    }
}

/// A virtual-service address by the node's ipsets when no IPVS table was given:
/// Some(true) in KUBE-IPVS-IPS or a Service set, Some(false) in none, None without the sets.
fn ipvs_candidate(q: &RulesQuery, ip: &Ipv4) -> Option<bool> {
    let (tcp, udp) = (
        ip.protocol() == IpProtocol::Tcp,
        ip.protocol() == IpProtocol::Udp,
    );
    let checks: [(&str, &[bool], bool); 9] = [
        ("KUBE-IPVS-IPS", &[false], true),
        ("KUBE-CLUSTER-IP", &[false, false], true),
        ("KUBE-EXTERNAL-IP", &[false, false], true),
        ("KUBE-EXTERNAL-IP-LOCAL", &[false, false], true),
        ("KUBE-LOAD-BALANCER", &[false, false], true),
        ("KUBE-NODE-PORT-TCP", &[false], tcp),
        ("KUBE-NODE-PORT-LOCAL-TCP", &[false], tcp),
        ("KUBE-NODE-PORT-UDP", &[false], udp),
        ("KUBE-NODE-PORT-LOCAL-UDP", &[false], udp),
    ];
    let mut known = false;
    for (name, dirs, applies) in checks {
        if let Some(set) = q.sets.iter().find(|s| s.name == name) {
            known = true;
            if applies && set.test(ip, dirs) {
                return Some(true);
            }
        }
    }
    known.then_some(false)
}

/// `ip_vs_in_hook` at `hook` (priority `prio`): look the packet's virtual service up and,
/// when there is one, schedule and transmit (`ip_vs_nat_xmit` for Masq).
fn ipvs_in(
    w: &mut Walk,
    hook: &'static str,
    prio: i32,
    ipvs_mode: bool,
    choices: &mut Choices,
) -> IpvsTook {
    let proto = w.ip.protocol();
    // No IPVS protocol for ICMP echo (ip_vs_in_icmp only handles errors of known
    // connections), and a TCP packet schedules only as a SYN (tcp_conn_schedule): rules-only
    // packets are a connection's first.
    let pname = match proto {
        IpProtocol::Tcp => "tcp",
        IpProtocol::Udp => "udp",
        _ => return IpvsTook::No,
    };
    let (dst, port) = (w.ip.dst, dport(&w.ip));
    let mut step = IpvsStep {
        hook,
        priority: prio,
        protocol: pname,
        service: format!("{dst}:{port}"),
        scheduler: None,
        real_server: None,
        forward: None,
        result: "unknown",
        functions: vec!["ip_vs_in_hook"],
        after_hits: w.hits.len(),
    };
    let q = w.q;
    let Some(ipvs) = &q.ipvs else {
        if ipvs_mode {
            match ipvs_candidate(q, &w.ip) {
                Some(false) => {}
                known => {
                    w.notes.push(format!(
                        "the answer stops at IPVS: ip_vs_in_hook ({hook}, priority {prio}) looks up a virtual service for {pname} {dst}:{port}{}, but no `ipvsadm-save -n` was given (--ipvsadm-save FILE)",
                        if known.is_some() { ", a Service address in the node's ipsets" } else { ", which may be one (no ipsets given to tell)" }
                    ));
                    w.ipvs = Some(step);
                    return IpvsTook::Ended("ACCEPT");
                }
            }
        }
        return IpvsTook::No;
    };
    let Some(vs) = ipvs
        .find(proto, dst, port)
        .and_then(|i| ipvs.services.get(i))
    else {
        return IpvsTook::No;
    };
    step.scheduler = Some(vs.scheduler.name());
    step.functions.push("ip_vs_schedule");
    if let Some(t) = vs.persistent {
        w.notes.push(format!(
            "persistent {t}s (ip_vs_sched_persist): a client with no template yet is scheduled like this; its later connections within {t}s go to the same real server"
        ));
    }
    let Some(rs) = schedule(w, vs, choices).and_then(|i| vs.dests.get(i)) else {
        // No destination available: ip_vs_leave answers ICMP port unreachable for TCP and
        // UDP alike (no RST) and drops the packet.
        step.result = "rejected";
        step.functions.push("ip_vs_leave");
        w.notes.push(format!(
            "ip_vs_leave: {pname} {dst}:{port} has no available real server, so IPVS answers ICMP port unreachable and drops the packet"
        ));
        w.ipvs = Some(step);
        return IpvsTook::Ended("REJECT");
    };
    step.real_server = Some(format!("{}:{}", rs.addr, rs.port));
    step.forward = Some(rs.forward.name());
    let rs_local = w.is_local(rs.addr);
    let from_outside = hook == "LOCAL_IN";
    step.functions.push(match rs.forward {
        Forward::Masq | Forward::Local => "ip_vs_nat_xmit",
        Forward::Route => "ip_vs_dr_xmit",
        Forward::Tunnel => "ip_vs_tunnel_xmit",
    });
    // ip_vs_nat_xmit refuses a loopback real server for a packet from outside, and a
    // 127.0.0.0/8 source may not leave the node (crosses_local_route_boundary).
    let refused = if rs_local && rs.addr.is_loopback() && from_outside {
        Some(
            "stopping DNAT to loopback: a packet from outside may not go to a 127.0.0.0/8 real server",
        )
    } else if !rs_local && w.ip.src.is_loopback() {
        Some("a 127.0.0.0/8 source may not leave the node (crosses_local_route_boundary)")
    } else {
        None
    };
    if let Some(why) = refused {
        step.result = "dropped";
        w.notes.push(format!(
            "{}: {why}",
            step.functions.last().copied().unwrap_or("")
        ));
        w.ipvs = Some(step);
        return IpvsTook::Ended("DROP");
    }
    if matches!(rs.forward, Forward::Masq | Forward::Local) {
        w.ip.dst = rs.addr;
        set_dport(&mut w.ip, rs.port);
    } else {
        w.notes.push(format!(
            "{}: kpath walks the rest of the way with the packet unchanged (kube-proxy programs Masq only)",
            rs.forward.name()
        ));
    }
    // The connection's NAT is settled: nat OUTPUT does not walk again. IPVS alters only
    // conntrack's reply tuple, so `--ctstate DNAT` stays unset.
    w.dnat.decided = true;
    step.result = if rs_local { "local" } else { "forwarded" };
    w.ipvs = Some(step);
    if rs_local {
        IpvsTook::Local
    } else {
        IpvsTook::Forwarded
    }
}

/// One run of the hooks with some choices forced.
fn run_once(
    nf: &Netfilter,
    q: &RulesQuery,
    local: &[Ipv4Addr],
    ipvs_mode: bool,
    choices: &mut Choices,
) -> RuleOutcome {
    let mut w = Walk {
        nf,
        q,
        local,
        rng: ChaCha8Rng::seed_from_u64(0),
        ip: packet(q),
        mark: 0,
        hits: Vec::new(),
        masquerade: false,
        dnat: DstNat::default(),
        ipvs: None,
        notes: Vec::new(),
    };
    let local_src = w.is_local(q.src);
    // The first hook up to IPVS: the node's own packet meets it at LOCAL_OUT after nat
    // OUTPUT, a packet from outside at LOCAL_IN after filter INPUT (if it is for the node).
    let (hook, at, prio) = if local_src {
        (Hook::Output, "LOCAL_OUT", IPVS_LOCAL_OUT)
    } else {
        if let Some(v) = w.hook(Hook::Prerouting, |_| true, choices) {
            return w.finish(v, "dropped", choices);
        }
        if !w.is_local(w.ip.dst) {
            return match w.hooks(&[Hook::Forward, Hook::Postrouting], choices) {
                Some(v) => w.finish(v, "dropped", choices),
                None => w.finish("ACCEPT", "forward", choices),
            };
        }
        (Hook::Input, "LOCAL_IN", IPVS_LOCAL_IN)
    };
    if let Some(v) = w.hook(hook, |p| p < prio, choices) {
        return w.finish(v, "dropped", choices);
    }
    let took = ipvs_in(&mut w, at, prio, ipvs_mode, choices);
    let path = if w.ipvs.is_some() { "ipvs" } else { "local" };
    match took {
        IpvsTook::Ended(v) => return w.finish(v, "ipvs", choices),
        // ip_vs_nat_send_or_cont: NF_HOOK(LOCAL_OUT) from its start with the new
        // destination (NF_STOLEN for the hook it came from), then POSTROUTING.
        IpvsTook::Forwarded => {
            return match w.hooks(&[Hook::Output, Hook::Postrouting], choices) {
                Some(v) => w.finish(v, "dropped", choices),
                None => w.finish("ACCEPT", "ipvs", choices),
            };
        }
        // NF_ACCEPT ("skb to local stack"): the rest of the hook, then on as before.
        IpvsTook::No | IpvsTook::Local => {}
    }
    if let Some(v) = w.hook(hook, |p| p > prio, choices) {
        return w.finish(v, "dropped", choices);
    }
    if local_src {
        // A local packet to a local address loops back through lo: POSTROUTING, then
        // PREROUTING (its nat already decided) and INPUT.
        let rest: &[Hook] = if w.is_local(w.ip.dst) {
            &[Hook::Postrouting, Hook::Prerouting, Hook::Input]
        } else {
            &[Hook::Postrouting]
        };
        if let Some(v) = w.hooks(rest, choices) {
            return w.finish(v, "dropped", choices);
        }
        let path = match path {
            "ipvs" => "ipvs",
            _ if w.is_local(w.ip.dst) => "local",
            _ => "forward",
        };
        return w.finish("ACCEPT", path, choices);
    }
    w.finish("ACCEPT", path, choices)
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
        .flat_map(|s| s.entries.iter())
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
    nf.tables.iter().flat_map(|t| t.chains.iter()).any(|c| {
        c.name == "KUBE-IPVS-FILTER"
            || c.rules.iter().any(|r| {
                r.matches.iter().any(|m| {
                    matches!(m, crate::netfilter::Match::Set { name, .. }
                        if name == "KUBE-IPVS-IPS" || name == "KUBE-CLUSTER-IP")
                })
            })
    })
}

/// Whether an outcome stopped at IPVS for want of the node's `ipvsadm-save -n`.
pub fn missing_ipvs(outcomes: &[RuleOutcome]) -> bool {
    outcomes
        .iter()
        .any(|o| o.ipvs.as_ref().is_some_and(|s| s.result == "unknown"))
}

/// Every possible outcome, most probable first (ties in the order found).
pub fn trace_rules(nf: &Netfilter, q: &RulesQuery) -> Vec<RuleOutcome> {
    let mut local = q.local_ips.clone();
    local.extend(ipvs_addresses(q));
    let ipvs_mode = ipvs_mode(nf);
    let mut out = Vec::new();
    let mut todo: Vec<Vec<usize>> = vec![Vec::new()];
    while let Some(forced) = todo.pop() {
        let mut choices = Choices {
            forced,
            log: Vec::new(),
            enumerate: true,
        };
        let o = run_once(nf, q, &local, ipvs_mode, &mut choices);
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
    let proto = q.proto;
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
    let implied = ipvs_addresses(q);
    if !implied.is_empty() {
        let shown: Vec<String> = implied.iter().take(6).map(|i| i.to_string()).collect();
        let more = if implied.len() > 6 {
            format!(", ... ({} in all)", implied.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  and, on this IPVS node, kube-ipvs0's and the virtual services' addresses: {}{more}",
            shown.join(", ")
        );
    }
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
        for (i, h) in o.hits.iter().enumerate() {
            if let Some(step) = o.ipvs.as_ref().filter(|s| s.after_hits == i) {
                out.push_str(&ipvs_text(step));
            }
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
        if let Some(step) = o.ipvs.as_ref().filter(|s| s.after_hits >= o.hits.len()) {
            out.push_str(&ipvs_text(step));
        }
        for n in &o.notes {
            let _ = writeln!(out, "    note: {n}");
        }
    }
    out
}

/// IPVS's step among the rules: `IPVS: 10.96.0.10:53 -> 10.244.1.3:53 (rr)`, then the
/// hook and the kernel functions.
fn ipvs_text(s: &IpvsStep) -> String {
    let to = match (s.result, &s.real_server) {
        (_, Some(rs)) => rs.clone(),
        ("rejected", None) => "no real server".to_string(),
        _ => "? (no ipvsadm-save)".to_string(),
    };
    let sched = s.scheduler.map(|n| format!(" ({n})")).unwrap_or_default();
    let then = match s.result {
        "forwarded" => ", then LOCAL_OUT again and POSTROUTING",
        "local" => ": the real server is the node, the walk goes on",
        "rejected" => ": ICMP port unreachable",
        _ => "",
    };
    format!(
        "    IPVS: {} -> {to}{sched}\n      {} at {} (priority {}){}{then}\n",
        s.service,
        s.functions.first().copied().unwrap_or("ip_vs_in_hook"),
        s.hook,
        s.priority,
        s.functions
            .iter()
            .skip(1)
            .map(|f| format!(" -> {f}"))
            .collect::<String>(),
    )
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
