//! Running a netfilter hook (`nf_hook_slow`): every function registered at the hook, in
//! priority order. Tables walk their chain (`ipt_do_table`); conntrack looks the packet up
//! at -200 (`nf_conntrack_in`) and confirms it last (`nf_confirm`); the nat table is walked
//! only for a connection's first packet, and its decision is applied to every later packet
//! from the conntrack entry (`nf_nat_inet_fn` -> `nf_nat_packet`).

use super::{End, Next, Skb, Walk};
use crate::net::{IfIndex, Netns, route};
use crate::netfilter::conntrack::{Conn, Dir, manip, manip_quoted};
use crate::netfilter::eval::{
    CtView, Final, NatAction, PacketMeta, RuleEnv, TableWalk, walk_table,
};
use crate::netfilter::rule::{AddrType, CtState, Recent, RecentCmd};
use crate::netfilter::{Hook, TableKind, XtState};
use crate::trace::{Disposition, DispositionKind, NfStep, StepKind};
use crate::wire::{Ipv4, Ipv4Addr};
use rand_chacha::ChaCha8Rng;

use super::choices::Choices;

/// What rules see of the namespace around them.
struct NsEnv<'a> {
    routes: &'a [crate::net::Route],
    ipsets: &'a [crate::netfilter::ipset::IpSet],
    xt: &'a mut XtState,
    rng: &'a mut ChaCha8Rng,
    choices: &'a mut Choices,
    now: u64,
    /// Where in the ruleset the walk is, to name random choices.
    place: String,
}

impl RuleEnv for NsEnv<'_> {
    /// `inet_addr_type`: zeronet/limited broadcast, multicast, then the local table.
    fn addr_type(&self, ip: Ipv4Addr) -> AddrType {
        if ip.is_unspecified() || ip.is_broadcast() {
            return AddrType::Broadcast;
        }
        if ip.is_multicast() {
            return AddrType::Multicast;
        }
        match route::lookup(self.routes, ip) {
            Some(r) if r.table == crate::net::RouteTable::Local => match r.rtype {
                crate::net::RouteType::Local => AddrType::Local,
                crate::net::RouteType::Broadcast => AddrType::Broadcast,
                crate::net::RouteType::Unicast => AddrType::Unicast,
            },
            _ => AddrType::Unicast,
        }
    }

    /// xt_set: the namespace's set by name (ipsets are per network namespace).
    fn in_set(&self, name: &str, dirs: &[bool], meta: &PacketMeta) -> Option<bool> {
        let set = self.ipsets.iter().find(|s| s.name == name)?;
        Some(set.test(meta.ip, dirs))
    }

    /// xt_recent: `--set` adds or refreshes; `--rcheck` asks whether seen within `--seconds`;
    /// `--update` is rcheck plus a refresh; `--remove` deletes. `--reap` drops stale entries.
    fn recent(&mut self, r: &Recent, addr: Ipv4Addr) -> bool {
        let list = self.xt.recent.entry(r.name.clone()).or_default();
        let fresh = |seen: u64| {
            r.seconds
                .is_none_or(|s| self.now.saturating_sub(seen) <= u64::from(s))
        };
        match r.cmd {
            RecentCmd::Set => {
                list.insert(addr, self.now);
                true
            }
            RecentCmd::Rcheck | RecentCmd::Update => {
                if r.reap {
                    list.retain(|_, seen| fresh(*seen));
                }
                let hit = list.get(&addr).is_some_and(|seen| fresh(*seen));
                if hit && r.cmd == RecentCmd::Update {
                    list.insert(addr, self.now);
                }
                hit
            }
            RecentCmd::Remove => list.remove(&addr).is_some(),
        }
    }

    fn random(&mut self, stored: u32) -> bool {
        let what = format!(
            "{}: statistic probability {:.11}",
            self.place,
            f64::from(stored) / 2147483648.0
        );
        self.choices.statistic(self.rng, stored, what)
    }

    fn nth(&mut self, key: &str, every: u32, packet: u32) -> bool {
        let c = self
            .xt
            .nth
            .entry(key.to_string())
            .or_insert_with(|| crate::netfilter::eval::nth_start(every, packet));
        crate::netfilter::eval::nth_step(c, every, packet)
    }
}

/// A function registered at a hook, in the order the kernel calls them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Table(TableKind),
    ConntrackIn,
    Confirm,
    /// `ip_vs_in_hook`: IPVS schedules requests to a virtual service.
    IpvsIn,
    /// `ip_vs_out_hook`: IPVS gives replies of real servers their virtual source back.
    IpvsOut,
}

impl Walk<'_> {
    /// Run `hook` for the packet. Err: a function took the packet (NF_DROP or NF_STOLEN),
    /// and this is what happens to it instead - the end of the walk (a DROP or REJECT named
    /// by its rule), or where IPVS sent it on.
    pub(super) fn nf_hook(
        &mut self,
        skb: &mut Skb,
        hook: Hook,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) -> Result<(), Box<Next>> {
        let ns = self.world.ns(skb.ns);
        let mut entries: Vec<(i32, Entry)> = ns
            .netfilter
            .at(hook)
            .into_iter()
            .map(|(p, t)| (p, Entry::Table(t.kind)))
            .collect();
        if ns.conntrack.is_some() {
            match hook {
                Hook::Prerouting | Hook::Output => entries.push((-200, Entry::ConntrackIn)),
                Hook::Postrouting | Hook::Input => entries.push((i32::MAX, Entry::Confirm)),
                Hook::Forward => {}
            }
        }
        // ip_vs_ops4: registered with the namespace's first virtual service.
        if ns.ipvs.is_some() {
            match hook {
                Hook::Input => entries.extend([(98, Entry::IpvsOut), (99, Entry::IpvsIn)]),
                Hook::Output => entries.extend([(-99, Entry::IpvsOut), (-98, Entry::IpvsIn)]),
                Hook::Forward => entries.push((100, Entry::IpvsOut)),
                Hook::Prerouting | Hook::Postrouting => {}
            }
        }
        entries.sort_by_key(|(p, _)| *p);
        for (prio, e) in entries {
            match e {
                Entry::ConntrackIn => self.conntrack_in(skb, hook),
                Entry::Confirm => self.confirm(skb, hook),
                Entry::IpvsIn => self.ip_vs_in_hook(skb, hook)?,
                Entry::IpvsOut => self.ip_vs_out_hook(skb, hook),
                Entry::Table(TableKind::Nat) => self.nat_hook(skb, hook, prio, iif, oif),
                Entry::Table(kind) => {
                    let Some(w) = self.walk(skb, hook, kind, iif, oif) else {
                        continue;
                    };
                    self.record_walk(skb, &w, prio, iif, oif);
                    skb.mark = w.mark;
                    match &w.verdict {
                        Final::Accept => {}
                        Final::Drop => {
                            let d = self.rule_fate(skb, &w, oif.or(iif), DispositionKind::Dropped);
                            return Err(Box::new(Next::End(End::Fate(d))));
                        }
                        Final::Reject { with } => {
                            self.reject(skb, with);
                            let d = self.rule_fate(skb, &w, oif.or(iif), DispositionKind::Rejected);
                            return Err(Box::new(Next::End(End::Fate(d))));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Walk one table at a hook for the packet.
    fn walk(
        &mut self,
        skb: &Skb,
        hook: Hook,
        kind: TableKind,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) -> Option<TableWalk> {
        let ip = skb.ipv4()?.clone();
        let names = |d: Option<IfIndex>| d.map(|d| self.dev_name(skb.ns, d));
        let (iif_n, oif_n, pin, pout) = (
            names(iif),
            names(oif),
            names(skb.physin),
            names(skb.physout),
        );
        let ct = self.ct_view(skb);
        let place = format!("{} {} {}", self.ns_name(skb.ns), kind.name(), hook.chain());
        let ipvs_vs = self.ipvs_request_of(skb);
        let meta = PacketMeta {
            ip: &ip,
            iif: iif_n.as_deref(),
            oif: oif_n.as_deref(),
            physin: pin.as_deref(),
            physout: pout.as_deref(),
            mark: skb.mark,
            ct,
            ipvs_property: skb.ipvs_property,
            ipvs_vs,
        };
        // Disjoint borrows: the table and routes are read, the xt state, RNG and choices written.
        let Walk { world, choices, .. } = self;
        let now = world.now;
        let crate::net::World { netns, rng, .. } = &mut **world;
        let Netns {
            netfilter,
            xt,
            routes,
            ipsets,
            ..
        } = &mut netns[skb.ns.0];
        let table = netfilter.table(kind)?;
        let mut env = NsEnv {
            routes,
            ipsets,
            xt,
            rng,
            choices,
            now,
            place,
        };
        Some(walk_table(table, hook, &meta, &mut env))
    }

    /// Conntrack's view of the packet for `-m conntrack`.
    fn ct_view(&self, skb: &Skb) -> Option<CtView> {
        let r = skb.ct?;
        if r.state == CtState::Invalid {
            return Some(CtView {
                state: CtState::Invalid,
                orig_dst: Ipv4Addr::UNSPECIFIED,
                orig_dport: 0,
                dnat: false,
                snat: false,
                reply: false,
            });
        }
        let c = self.world.ns(skb.ns).conntrack.as_ref()?.get(r.id)?;
        Some(CtView {
            state: r.state,
            orig_dst: c.orig.dst,
            orig_dport: c.orig.dport,
            dnat: c.dnat(),
            snat: c.snat(),
            reply: r.dir == Dir::Reply,
        })
    }

    /// One step per rule that matched, and one for the policy when it decided.
    fn record_walk(
        &mut self,
        skb: &Skb,
        w: &TableWalk,
        prio: i32,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) {
        let (iif_n, oif_n) = (
            iif.map(|d| self.dev_name(skb.ns, d)),
            oif.map(|d| self.dev_name(skb.ns, d)),
        );
        let last = w.hits.len().saturating_sub(1);
        for (i, h) in w.hits.iter().enumerate() {
            let verdict = (i == last).then_some(match w.verdict {
                Final::Accept => crate::netfilter::Verdict::Accept,
                _ => crate::netfilter::Verdict::Drop,
            });
            let what = if h.position == 0 {
                format!(
                    "{} {} (priority {prio}): no rule decided; {}",
                    w.table.name(),
                    h.chain,
                    h.action.describe()
                )
            } else {
                let comment = h
                    .comment
                    .as_ref()
                    .map(|c| format!(" \"{c}\""))
                    .unwrap_or_default();
                format!(
                    "{} {} rule {}{comment}: {}",
                    w.table.name(),
                    h.chain,
                    h.position,
                    h.action.describe()
                )
            };
            let nf = NfStep {
                hook: w.hook,
                table: w.table,
                chain: h.chain.clone(),
                position: h.position,
                rule: h.rule.clone(),
                comment: h.comment.clone(),
                action: h.action.describe(),
                verdict,
                iif: iif_n.clone(),
                oif: oif_n.clone(),
                mark: h.mark,
                evaluated: if i == last { w.evaluated } else { 0 },
            };
            self.nf_step(skb, oif.or(iif), nf, what);
        }
    }

    /// The end of the walk when a rule dropped or rejected the packet: name the rule.
    fn rule_fate(
        &self,
        skb: &Skb,
        w: &TableWalk,
        dev: Option<IfIndex>,
        kind: DispositionKind,
    ) -> Disposition {
        let by = match w.hits.last() {
            Some(h) if h.position == 0 => format!("the policy of {} {}", w.table.name(), h.chain),
            Some(h) => format!(
                "{} {} rule {}: {}",
                w.table.name(),
                h.chain,
                h.position,
                h.rule
            ),
            None => format!("the {} table", w.table.name()),
        };
        let what = if kind == DispositionKind::Rejected {
            "rejected"
        } else {
            "dropped"
        };
        self.fate(skb, dev, kind, format!("{what} by {by}"))
    }

    /// REJECT: `--reject-with tcp-reset` answers with a RST, anything else with an ICMP error.
    fn reject(&mut self, skb: &Skb, with: &str) {
        use crate::wire::IcmpMessage;
        let code = match with {
            "tcp-reset" => return self.tcp_reset(skb),
            "icmp-net-unreachable" => 0,
            "icmp-host-unreachable" => 1,
            "icmp-proto-unreachable" => 2,
            "icmp-net-prohibited" => 9,
            "icmp-host-prohibited" => 10,
            "icmp-admin-prohibited" => 13,
            _ => 3,
        };
        self.icmp_error(
            skb,
            IcmpMessage::DestUnreachable {
                code,
                next_hop_mtu: 0,
            },
        );
    }

    /// `nf_conntrack_in`: find the packet's connection or start one.
    fn conntrack_in(&mut self, skb: &mut Skb, hook: Hook) {
        let Some(ip) = skb.ipv4().cloned() else {
            return;
        };
        if skb.ct.is_some() {
            return;
        }
        let ns = skb.ns;
        let Some(ct) = self.world.ns_mut(ns).conntrack.as_mut() else {
            return;
        };
        let (r, created) = ct.track(&ip);
        skb.ct = Some(r);
        let line = self
            .world
            .ns(ns)
            .conntrack
            .as_ref()
            .and_then(|c| c.get(r.id))
            .map(Conn::text);
        let note = match (r.state, r.dir, created) {
            (CtState::Related, _, _) => {
                "RELATED: an ICMP error about a packet of a known connection".to_string()
            }
            (CtState::Invalid, _, _) => {
                "INVALID: this packet cannot start a connection and belongs to none".to_string()
            }
            (_, _, true) => {
                "NEW: no entry matches, so a new (unconfirmed) connection starts".to_string()
            }
            (CtState::New, _, false) => "NEW: the connection has seen no reply yet".to_string(),
            (_, Dir::Reply, _) => {
                "ESTABLISHED: a reply of a known connection (reply direction)".to_string()
            }
            (_, Dir::Original, _) => {
                "ESTABLISHED: a known connection (original direction)".to_string()
            }
        };
        let step = self.record(skb, None, "nf_conntrack_in", StepKind::Conntrack, note);
        step.hook = Some(hook);
        step.conntrack = line;
        step.ct_state = Some(r.state);
    }

    /// `nf_confirm` (`__nf_conntrack_confirm`): the new connection enters the table.
    fn confirm(&mut self, skb: &Skb, hook: Hook) {
        let Some(r) = skb.ct else { return };
        let Some(c) = self
            .world
            .ns_mut(skb.ns)
            .conntrack
            .as_mut()
            .and_then(|t| t.get_mut(r.id))
        else {
            return;
        };
        if c.confirmed {
            return;
        }
        c.confirmed = true;
        let line = c.text();
        let step = self.record(
            skb,
            None,
            "__nf_conntrack_confirm",
            StepKind::Conntrack,
            "the connection is confirmed: it is in the conntrack table now",
        );
        step.hook = Some(hook);
        step.conntrack = Some(line);
    }

    /// The nat table at a hook: destination NAT at PREROUTING/OUTPUT, source NAT at
    /// POSTROUTING/INPUT. Walked only for a NEW connection whose binding for this manip
    /// type is not decided; every packet then gets the binding applied.
    fn nat_hook(
        &mut self,
        skb: &mut Skb,
        hook: Hook,
        prio: i32,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) {
        let dst = matches!(hook, Hook::Prerouting | Hook::Output);
        let Some(r) = skb.ct.filter(|r| r.state != CtState::Invalid) else {
            return;
        };
        let Some(conn) = self.conn(skb) else { return };
        let done = if dst { conn.dnat_done } else { conn.snat_done };
        if r.dir == Dir::Original
            && r.state == CtState::New
            && !done
            && let Some(w) = self.walk(skb, hook, TableKind::Nat, iif, oif)
        {
            self.record_walk(skb, &w, prio, iif, oif);
            skb.mark = w.mark;
            self.bind(skb, dst, w.nat.as_ref(), oif);
        }
        let Some(conn) = self.conn(skb).cloned() else {
            return;
        };
        let before = skb.ipv4().cloned();
        let related = r.state == CtState::Related;
        let changed = skb.ipv4_mut().is_some_and(|ip| {
            // An ICMP error (RELATED) gets the connection's translation, and the packet it
            // quotes gets the matching one (nf_nat_icmp_reply_translation).
            let outer = manip(ip, &conn, r.dir, dst);
            let inner = related && outer && manip_quoted(ip, &conn, r.dir, dst);
            outer || inner
        });
        if changed && let (Some(b), Some(a)) = (before, skb.ipv4()) {
            let what = if dst { "destination" } else { "source" };
            let (from, to) = if dst {
                (endpoint(&b, true), endpoint(a, true))
            } else {
                (endpoint(&b, false), endpoint(a, false))
            };
            let why = match (r.dir, dst) {
                _ if related => {
                    "translation of an ICMP error (RELATED), and of the packet it quotes"
                }
                (Dir::Original, true) => "DNAT",
                (Dir::Original, false) => "SNAT",
                (Dir::Reply, true) => "reverse SNAT (a reply of a source-NATed connection)",
                (Dir::Reply, false) => "reverse DNAT (a reply of a destination-NATed connection)",
            };
            let note =
                format!("nf_nat_packet: {why}: {what} {from} -> {to}, from the conntrack entry");
            let step = self.record(skb, oif.or(iif), "nf_nat_packet", StepKind::Nat, note);
            step.hook = Some(hook);
            step.conntrack = Some(conn.text());
        }
    }

    fn conn(&self, skb: &Skb) -> Option<&Conn> {
        self.world.ns(skb.ns).conntrack.as_ref()?.get(skb.ct?.id)
    }

    /// Decide the connection's binding for one manip type from what the nat table reached
    /// (`nf_nat_setup_info`; a null binding when nothing matched).
    fn bind(&mut self, skb: &Skb, dst: bool, nat: Option<&NatAction>, oif: Option<IfIndex>) {
        let Some(r) = skb.ct else { return };
        // MASQUERADE takes the output device's address (nf_nat_masquerade_ipv4 ->
        // inet_select_addr); ports keep their value unless taken, or are random with
        // --random-fully (NF_NAT_RANGE_PROTO_RANDOM_FULLY).
        let masq_src = oif.and_then(|o| self.world.ns(skb.ns).primary_addr(o));
        let random_port = 1024 + (self.world.next_u32() % (65536 - 1024)) as u16;
        let Some(table) = self.world.ns_mut(skb.ns).conntrack.as_mut() else {
            return;
        };
        let Some(mut c) = table.get(r.id).cloned() else {
            return;
        };
        match (dst, nat) {
            (true, Some(NatAction::Dnat { addr, port, .. })) => {
                c.reply.src = *addr;
                if let Some(p) = port {
                    c.reply.sport = *p;
                }
            }
            (
                false,
                Some(NatAction::Snat {
                    addr,
                    port,
                    random_fully,
                    ..
                }),
            ) => {
                c.reply.dst = *addr;
                if let Some(p) = port {
                    c.reply.dport = *p;
                } else if *random_fully && c.orig.proto != crate::wire::IpProtocol::Icmp {
                    c.reply.dport = random_port;
                }
            }
            (
                false,
                Some(NatAction::Masquerade {
                    random_fully,
                    to_ports,
                }),
            ) => {
                if let Some(a) = masq_src {
                    c.reply.dst = a;
                }
                if let Some((lo, _)) = to_ports {
                    c.reply.dport = *lo;
                } else if *random_fully && c.orig.proto != crate::wire::IpProtocol::Icmp {
                    c.reply.dport = random_port;
                }
            }
            _ => {}
        }
        // nf_nat_used_tuple: keep the port if the reply tuple is free, else move it.
        if !dst
            && table.reply_in_use(c.id, &c.reply)
            && c.orig.proto != crate::wire::IpProtocol::Icmp
        {
            c.reply.dport = random_port;
        }
        if dst {
            c.dnat_done = true;
        } else {
            c.snat_done = true;
        }
        if let Some(slot) = table.get_mut(r.id) {
            *slot = c;
        }
    }
}

/// `ip:port` (or just the address for ICMP) of a packet's destination or source.
fn endpoint(ip: &Ipv4, dst: bool) -> String {
    use crate::wire::L4;
    let (a, p) = match (&ip.payload, dst) {
        (L4::Tcp(t), true) => (ip.dst, Some(t.dport)),
        (L4::Tcp(t), false) => (ip.src, Some(t.sport)),
        (L4::Udp(u), true) => (ip.dst, Some(u.dport)),
        (L4::Udp(u), false) => (ip.src, Some(u.sport)),
        (L4::Icmp(_), true) => (ip.dst, None),
        (L4::Icmp(_), false) => (ip.src, None),
    };
    match p {
        Some(p) => format!("{a}:{p}"),
        None => a.to_string(),
    }
}
