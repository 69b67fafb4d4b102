//! NAT's hook functions (`nf_nat_proto.c`, `nf_nat_ipv4_ops`), registered with the nat
//! table: destination NAT at PREROUTING and OUTPUT (-100), source NAT at INPUT and
//! POSTROUTING (100). For a connection's first packet `nf_nat_inet_fn` asks the nat table
//! (`ipt_do_table` on it) for a binding and stores it in the conntrack entry
//! (`nf_nat_setup_info`; a null binding when nothing matched); every packet of the
//! connection, both ways, is then rewritten from the entry (`nf_nat_packet`).

use super::super::nf_hook::{NfHookFn, NfHookOps, NfHookState, NfVerdict, Registrant};
use super::super::{Skb, Walk};
use crate::net::{IfIndex, Netns};
use crate::netfilter::conntrack::{Conn, Dir, manip, manip_quoted};
use crate::netfilter::eval::NatAction;
use crate::netfilter::rule::CtState;
use crate::netfilter::{Family, Hook, TableKind, priority};
use crate::trace::StepKind;
use crate::wire::Ipv4;

pub(super) struct NfNat;

/// `nf_nat_ipv4_in` / `_out` / `_local_fn` / `_local_in`: all `nf_nat_inet_fn`.
struct NfNatInetFn;

impl Registrant for NfNat {
    fn register(&self, ns: &Netns, ops: &mut Vec<NfHookOps>) {
        // The first nat table or nat chain registers all four (`nf_nat_register_fn`).
        if ns.netfilter.table(TableKind::Nat).is_none() && !super::nftables::has_nat_chains(ns) {
            return;
        }
        let op = |hooknum, priority, name| NfHookOps {
            pf: Family::Ipv4,
            hooknum,
            priority,
            name,
            hook: &NfNatInetFn,
            private: 0,
        };
        ops.extend([
            op(
                Hook::Prerouting,
                priority::NAT_DST,
                "nf_nat_ipv4_pre_routing",
            ),
            op(Hook::Postrouting, priority::NAT_SRC, "nf_nat_ipv4_out"),
            op(Hook::Output, priority::NAT_DST, "nf_nat_ipv4_local_fn"),
            op(Hook::Input, priority::NAT_SRC, "nf_nat_ipv4_local_in"),
        ]);
    }
}

impl NfHookFn for NfNatInetFn {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        let before = skb.ipv4().map(|i| i.dst);
        if let Some(d) =
            walk.nf_nat_inet_fn(skb, state.hook, state.priority, state.indev, state.outdev)
        {
            return NfVerdict::Drop(d);
        }
        // nf_nat_ipv4_local_fn: a locally sent packet whose destination NAT changed is
        // routed again at once (ip_route_me_harder), before the hooks after nat OUTPUT.
        if state.hook == Hook::Output && skb.ipv4().map(|i| i.dst) != before {
            return walk.ip_route_me_harder(skb);
        }
        NfVerdict::Accept
    }
}

impl Walk<'_> {
    /// NAT at a hook: destination NAT at PREROUTING/OUTPUT, source NAT at
    /// POSTROUTING/INPUT. The lookups are walked only for a NEW connection whose binding
    /// for this manip type is not decided; every packet then gets the binding applied.
    /// Some(why) when a nat chain dropped the packet.
    fn nf_nat_inet_fn(
        &mut self,
        skb: &mut Skb,
        hook: Hook,
        prio: i32,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) -> Option<crate::trace::Disposition> {
        let dst = matches!(hook, Hook::Prerouting | Hook::Output);
        let r = skb.ct.filter(|r| r.state != CtState::Invalid)?;
        let conn = self.conn(skb)?;
        let done = if dst { conn.dnat_done } else { conn.snat_done };
        if r.dir == Dir::Original
            && r.state == CtState::New
            && !done
            && let Some(d) = self.nat_lookups(skb, hook, prio, dst, iif, oif)
        {
            return Some(d);
        }
        let conn = self.conn(skb).cloned()?;
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
        None
    }

    /// `nf_nat_inet_fn`'s lookups for a connection's first packet: the iptables nat table
    /// and each nf_tables nat chain by priority, until one binds; a null binding when none
    /// does. Of equal priorities the one registered last is asked first: kpath takes
    /// nf_tables' tables as loaded after iptables' (kubelet writes its nat canary before
    /// kube-proxy starts; the lab loads them in that order too), so kube-proxy's
    /// nat-prerouting (dstnat, -100) runs before iptables' nat PREROUTING, as the kernel
    /// shows. A drop by a nat chain ends the packet (Some(why)).
    fn nat_lookups(
        &mut self,
        skb: &mut Skb,
        hook: Hook,
        prio: i32,
        dst: bool,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) -> Option<crate::trace::Disposition> {
        let nft = super::nftables::nat_chains(self.world.ns(skb.ns), hook);
        let ipt_at = nft.iter().take_while(|(p, _)| *p <= prio).count();
        let mut order: Vec<Option<usize>> = nft.iter().map(|(_, c)| Some(*c)).collect();
        if self
            .world
            .ns(skb.ns)
            .netfilter
            .table(TableKind::Nat)
            .is_some()
        {
            order.insert(ipt_at, None);
        }
        for entry in order {
            match entry {
                None => {
                    let Some(w) = self.ipt_walk(skb, hook, TableKind::Nat, iif, oif) else {
                        continue;
                    };
                    self.record_walk(skb, &w, prio, iif, oif);
                    skb.mark = w.mark;
                    if w.nat.is_some() {
                        self.bind(skb, dst, w.nat.as_ref(), oif);
                        return None;
                    }
                }
                Some(chain) => {
                    let Some(w) = self.nft_walk(skb, hook, chain, iif, oif) else {
                        continue;
                    };
                    let chain_prio = nft.iter().find(|c| c.1 == chain).map_or(prio, |c| c.0);
                    self.record_nft(skb, &w, chain_prio, iif, oif);
                    self.nft_apply(skb, &w);
                    let dev = oif.or(iif);
                    match w.outcome.verdict {
                        crate::netfilter::nftables::eval::Final::Accept => {}
                        crate::netfilter::nftables::eval::Final::Drop => {
                            return Some(self.nft_fate(skb, &w, dev, false));
                        }
                        crate::netfilter::nftables::eval::Final::Reject(_) => {
                            return Some(self.nft_fate(skb, &w, dev, true));
                        }
                    }
                    if w.outcome.nat.is_some() {
                        self.bind(skb, dst, w.outcome.nat.as_ref(), oif);
                        return None;
                    }
                }
            }
        }
        self.bind(skb, dst, None, oif);
        None
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
    let ports = ip.l4_ports();
    let (a, p) = if dst {
        (ip.dst, ports.map(|p| p.1))
    } else {
        (ip.src, ports.map(|p| p.0))
    };
    match p {
        Some(p) => format!("{a}:{p}"),
        None => a.to_string(),
    }
}
