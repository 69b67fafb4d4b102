//! Connection tracking's hook functions (`nf_conntrack_proto.c`, `ipv4_conntrack_ops`):
//! `nf_conntrack_in` looks the packet up (or starts a connection) at PREROUTING and
//! OUTPUT, priority -200; `nf_confirm` puts a new connection in the table at INPUT and
//! POSTROUTING, last of all. Registered where conntrack is loaded (nodes: kube-proxy
//! needs it).

use super::super::nf_hook::{NfHookFn, NfHookOps, NfHookState, NfVerdict, Registrant};
use super::super::{Skb, Walk};
use crate::net::Netns;
use crate::netfilter::conntrack::{Conn, Dir};
use crate::netfilter::rule::CtState;
use crate::netfilter::{Family, Hook, priority};
use crate::trace::StepKind;

pub(super) struct NfConntrack;

struct ConntrackIn;
struct Confirm;

impl Registrant for NfConntrack {
    fn register(&self, ns: &Netns, ops: &mut Vec<NfHookOps>) {
        if ns.conntrack.is_none() {
            return;
        }
        let op = |hooknum, priority, name, hook: &'static dyn NfHookFn| NfHookOps {
            pf: Family::Ipv4,
            hooknum,
            priority,
            name,
            hook,
            private: 0,
        };
        ops.extend([
            op(
                Hook::Prerouting,
                priority::CONNTRACK,
                "ipv4_conntrack_in",
                &ConntrackIn,
            ),
            op(
                Hook::Output,
                priority::CONNTRACK,
                "ipv4_conntrack_local",
                &ConntrackIn,
            ),
            op(
                Hook::Postrouting,
                priority::CONNTRACK_CONFIRM,
                "ipv4_confirm",
                &Confirm,
            ),
            op(
                Hook::Input,
                priority::CONNTRACK_CONFIRM,
                "ipv4_confirm",
                &Confirm,
            ),
        ]);
    }
}

impl NfHookFn for ConntrackIn {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        walk.nf_conntrack_in(skb, state.hook);
        NfVerdict::Accept
    }
}

impl NfHookFn for Confirm {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        walk.nf_confirm(skb, state.hook);
        NfVerdict::Accept
    }
}

impl Walk<'_> {
    /// `nf_conntrack_in`: find the packet's connection or start one.
    fn nf_conntrack_in(&mut self, skb: &mut Skb, hook: Hook) {
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
    fn nf_confirm(&mut self, skb: &Skb, hook: Hook) {
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
}
