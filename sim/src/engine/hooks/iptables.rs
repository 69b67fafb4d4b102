//! The iptables tables as hook functions (`iptable_raw`, `iptable_mangle`,
//! `iptable_filter`): each table registers at the hooks where it has a built-in chain, at
//! its priority (raw -300, mangle -150, filter 0), and walks that chain for every packet
//! (`ipt_do_table`). The nat table is walked by NAT instead (`nat.rs`), only for a
//! connection's first packet.

use super::super::choices::Choices;
use super::super::nf_hook::{NfHookFn, NfHookOps, NfHookState, NfVerdict, Registrant};
use super::super::{Skb, Walk};
use crate::net::{IfIndex, Netns, route};
use crate::netfilter::conntrack::Dir;
use crate::netfilter::eval::{CtView, Final, PacketMeta, RuleEnv, TableWalk, walk_table};
use crate::netfilter::rule::{AddrType, CtState, Recent, RecentCmd};
use crate::netfilter::{Family, Hook, TableKind, XtState};
use crate::trace::{Disposition, DispositionKind, NfStep};
use crate::wire::Ipv4Addr;
use rand_chacha::ChaCha8Rng;

pub(super) struct Iptables;

/// `ipt_do_table` for the table whose index in the namespace is the registration's
/// `private`.
struct IptDoTable;

impl Registrant for Iptables {
    fn register(&self, ns: &Netns, ops: &mut Vec<NfHookOps>) {
        for (i, t) in ns.netfilter.tables.iter().enumerate() {
            if t.kind == TableKind::Nat {
                continue;
            }
            for hooknum in [
                Hook::Prerouting,
                Hook::Input,
                Hook::Forward,
                Hook::Output,
                Hook::Postrouting,
            ] {
                if let Some(priority) = t.kind.priority(hooknum) {
                    ops.push(NfHookOps {
                        pf: Family::Ipv4,
                        hooknum,
                        priority,
                        name: "ipt_do_table",
                        hook: &IptDoTable,
                        private: i,
                    });
                }
            }
        }
    }
}

impl NfHookFn for IptDoTable {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        let Some(kind) = walk
            .world
            .ns(skb.ns)
            .netfilter
            .tables
            .get(state.private)
            .map(|t| t.kind)
        else {
            return NfVerdict::Accept;
        };
        let (iif, oif) = (state.indev, state.outdev);
        let Some(w) = walk.ipt_walk(skb, state.hook, kind, iif, oif) else {
            return NfVerdict::Accept;
        };
        walk.record_walk(skb, &w, state.priority, iif, oif);
        skb.mark = w.mark;
        // xt_TCPMSS: the SYN leaves with its MSS option lowered; clamping takes the smaller
        // of the two devices' MTUs (the route out, and the way back to the sender).
        for h in &w.hits {
            if let crate::netfilter::eval::HitAction::Tcpmss(set) = h.action {
                let ns = walk.world.ns(skb.ns);
                let mtu = |d: Option<IfIndex>| d.and_then(|d| ns.link(d)).map(|l| l.mtu);
                let newmss = match set {
                    Some(m) => Some(m),
                    None => [mtu(oif), mtu(iif)]
                        .into_iter()
                        .flatten()
                        .min()
                        .map(|m| m.saturating_sub(40).min(u32::from(u16::MAX)) as u16),
                };
                if let (Some(m), Some(ip)) = (newmss, skb.ipv4_mut()) {
                    crate::netfilter::tcpmss::mangle(ip, m);
                }
            }
        }
        // xt_CONNMARK: the connection keeps the mark the walk left on it.
        if let (Some(m), Some(r)) = (w.ct_mark, skb.ct)
            && let Some(c) =
                (walk.world.ns_mut(skb.ns).conntrack.as_mut()).and_then(|t| t.get_mut(r.id))
        {
            c.mark = m;
        }
        // xt_CT's notrack: the untracked template, before conntrack (-200) sees the packet.
        if skb.ct.is_none()
            && w.hits
                .iter()
                .any(|h| h.action == crate::netfilter::eval::HitAction::Notrack)
        {
            skb.ct = Some(crate::netfilter::conntrack::CtRef {
                id: u32::MAX,
                dir: crate::netfilter::conntrack::Dir::Original,
                state: CtState::Untracked,
            });
        }
        match &w.verdict {
            Final::Accept => NfVerdict::Accept,
            Final::Drop => {
                NfVerdict::Drop(walk.rule_fate(skb, &w, oif.or(iif), DispositionKind::Dropped))
            }
            Final::Reject { with } => {
                walk.reject(skb, with);
                NfVerdict::Drop(walk.rule_fate(skb, &w, oif.or(iif), DispositionKind::Rejected))
            }
        }
    }
}

/// What rules see of the namespace around them.
struct NsEnv<'a> {
    routes: &'a crate::net::Entries<crate::net::Route>,
    ipsets: &'a [crate::netfilter::ipset::IpSet],
    xt: &'a mut XtState,
    rng: &'a mut ChaCha8Rng,
    choices: &'a mut Choices,
    now: u64,
    /// The nth counters' state is unknown (a node rebuilt from its dumps).
    nth_unknown: bool,
    /// Where in the ruleset the walk is (namespace, table, hook), to name random choices.
    place: (&'a str, TableKind, Hook),
    why_not: bool,
    redirect_to: Option<Ipv4Addr>,
    local_socket: bool,
    /// The input device for `-m rpfilter`, and whether it is a loopback device.
    rpf_iif: Option<(IfIndex, bool)>,
    /// The routes are the node's own (not made up around a ruleset alone).
    routes_known: bool,
}

impl RuleEnv for NsEnv<'_> {
    fn why_not(&self) -> bool {
        self.why_not
    }

    fn redirect_addr(&self) -> Option<Ipv4Addr> {
        self.redirect_to
    }

    fn local_socket(&self) -> bool {
        self.local_socket
    }

    /// `rpfilter_mt` and `rpfilter_lookup_reverse` (net/ipv4/netfilter/ipt_rpfilter.c): a
    /// packet from lo passes; otherwise the route to its source must be unicast (or local,
    /// with --accept-local) and leave by the device it came in on (any, with --loose).
    /// kpath has no fwmark rules, so --validmark changes no lookup.
    fn rpfilter(
        &self,
        ip: &crate::wire::Ipv4,
        _mark: u32,
        r: &crate::netfilter::rule::Rpfilter,
    ) -> Option<bool> {
        if !self.routes_known {
            return None;
        }
        let Some((iif, loopback)) = self.rpf_iif else {
            return Some(true);
        };
        let local_multicast = (u32::from(ip.dst) & 0xffff_ff00) == 0xe000_0000;
        if loopback || (ip.src.is_unspecified() && (ip.dst.is_broadcast() || local_multicast)) {
            return Some(true);
        }
        let Some(rt) = route::lookup(self.routes, ip.src) else {
            return Some(false);
        };
        let kind_ok = match rt.rtype {
            crate::net::RouteType::Unicast => true,
            crate::net::RouteType::Local => r.accept_local,
            crate::net::RouteType::Broadcast => false,
        };
        Some(kind_ok && (rt.dev == iif || r.loose))
    }

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
        let (ns, table, hook) = self.place;
        let what = format!(
            "{ns} {} {}: statistic probability {:.11}",
            table.name(),
            hook.chain(),
            f64::from(stored) / 2147483648.0
        );
        self.choices.statistic(self.rng, stored, what)
    }

    fn nth(&mut self, key: &str, every: u32, packet: u32) -> bool {
        if self.nth_unknown {
            // One packet in `every` matches, and which one this is nobody knows: both
            // answers are outcomes, the match with probability 1/every.
            let stored = (2_147_483_648.0 / f64::from(every.max(1))) as u32;
            let what =
                format!("statistic nth: every {every}, packet {packet} (counter state unknown)");
            return self.choices.statistic(self.rng, stored, what);
        }
        let c = self
            .xt
            .nth
            .entry(key.to_string())
            .or_insert_with(|| crate::netfilter::eval::nth_start(every, packet));
        crate::netfilter::eval::nth_step(c, every, packet)
    }
}

impl Walk<'_> {
    /// Walk one table at a hook for the packet.
    pub(super) fn ipt_walk(
        &mut self,
        skb: &Skb,
        hook: Hook,
        kind: TableKind,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) -> Option<TableWalk> {
        let ip = skb.ipv4()?;
        let names = |d: Option<IfIndex>| d.and_then(|d| self.iptables_name(skb.ns, d));
        let (iif_n, oif_n, pin, pout) = (
            names(iif),
            names(oif),
            names(skb.physin),
            names(skb.physout),
        );
        let ct = self.ct_view(skb);
        let ipvs_vs = self.ipvs_request_of(skb);
        // REDIRECT's address: loopback for the node's own packets, else the incoming
        // device's first address.
        let local_socket = hook == Hook::Output || (hook == Hook::Postrouting && skb.iif.is_none());
        let redirect_to = if hook == Hook::Output {
            Some(Ipv4Addr::LOCALHOST)
        } else {
            iif.and_then(|d| self.world.ns(skb.ns).primary_addr(d))
        };
        let rpf_iif = iif.map(|d| {
            let lo = self
                .world
                .ns(skb.ns)
                .link(d)
                .is_some_and(|l| matches!(l.kind, crate::net::LinkKind::Loopback));
            (d, lo)
        });
        let meta = PacketMeta {
            ip,
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
        let crate::net::World {
            netns,
            rng,
            why_not,
            ..
        } = &mut **world;
        let Netns {
            name,
            netfilter,
            xt,
            routes,
            ipsets,
            unknowns,
            ..
        } = std::sync::Arc::make_mut(&mut netns[skb.ns.0]);
        let table = netfilter.table(kind)?;
        let mut env = NsEnv {
            routes: &*routes,
            ipsets,
            xt,
            rng,
            choices,
            now,
            nth_unknown: unknowns.nth_counters,
            place: (name, kind, hook),
            why_not: *why_not,
            redirect_to,
            local_socket,
            rpf_iif,
            routes_known: !unknowns.routes,
        };
        Some(walk_table(table, hook, &meta, &mut env))
    }

    /// The interface name `-i`/`-o` compare: none for an uplink the question did not name.
    fn iptables_name(&self, ns: crate::net::NsId, dev: IfIndex) -> Option<String> {
        let link = self.world.ns(ns).link(dev);
        match link.map(|l| &l.kind) {
            Some(crate::net::LinkKind::Uplink { name_known: false }) => None,
            _ => Some(self.dev_name(ns, dev)),
        }
    }

    /// Conntrack's view of the packet for `-m conntrack`.
    fn ct_view(&self, skb: &Skb) -> Option<CtView> {
        let r = skb.ct?;
        if matches!(r.state, CtState::Invalid | CtState::Untracked) {
            return Some(CtView {
                state: r.state,
                orig_dst: Ipv4Addr::UNSPECIFIED,
                orig_dport: 0,
                dnat: false,
                snat: false,
                reply: false,
                mark: 0,
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
            mark: c.mark,
        })
    }

    /// One step per rule that matched, and one for the policy when it decided.
    pub(super) fn record_walk(
        &mut self,
        skb: &Skb,
        w: &TableWalk,
        prio: i32,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) {
        let (iif_n, oif_n) = (
            iif.and_then(|d| self.iptables_name(skb.ns, d)),
            oif.and_then(|d| self.iptables_name(skb.ns, d)),
        );
        let last = w.hits.len().saturating_sub(1);
        for (i, h) in w.hits.iter().enumerate() {
            let verdict = (i == last).then_some(match w.verdict {
                Final::Accept => crate::netfilter::Verdict::Accept,
                _ => crate::netfilter::Verdict::Drop,
            });
            let what = super::rule_note(
                w.table.name(),
                &h.chain,
                h.position,
                prio,
                h.comment.as_deref(),
                &h.action,
            );
            let nf = NfStep {
                hook: w.hook,
                rule: h.rule_ref(),
                action: h.action.clone(),
                verdict,
                iif: iif_n.clone(),
                oif: oif_n.clone(),
                mark: h.mark,
                // The walk starts with the skb's mark (set from the walk after recording).
                mark_before: if i == 0 { skb.mark } else { w.hits[i - 1].mark },
                evaluated: if i == last { w.evaluated } else { 0 },
                reasons: h.reasons.clone(),
                element: None,
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
    pub(super) fn reject(&mut self, skb: &Skb, with: &str) {
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
}
