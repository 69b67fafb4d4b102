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
        if ns.netfilter.table(TableKind::Nat).is_none() {
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
        walk.nf_nat_inet_fn(skb, state.hook, state.priority, state.indev, state.outdev);
        // nf_nat_ipv4_local_fn: a locally sent packet whose destination NAT changed is
        // routed again at once (ip_route_me_harder), before the hooks after nat OUTPUT.
        if state.hook == Hook::Output && skb.ipv4().map(|i| i.dst) != before {
            return walk.ip_route_me_harder(skb);
        }
        NfVerdict::Accept
    }
}

impl Walk<'_> {
    /// The nat table at a hook: destination NAT at PREROUTING/OUTPUT, source NAT at
    /// POSTROUTING/INPUT. Walked only for a NEW connection whose binding for this manip
    /// type is not decided; every packet then gets the binding applied.
    fn nf_nat_inet_fn(
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
            && let Some(w) = self.ipt_walk(skb, hook, TableKind::Nat, iif, oif)
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
