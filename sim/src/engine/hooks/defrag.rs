//! nf_defrag_ipv4 (`net/ipv4/netfilter/nf_defrag_ipv4.c`): `ipv4_conntrack_defrag` at
//! PREROUTING and OUTPUT, priority -400, puts fragments back together before raw, conntrack
//! and NAT look at ports. It is enabled with conntrack (`nf_ct_netns_get` ->
//! `nf_defrag_ipv4_enable`), so it is registered wherever conntrack is.

use super::super::nf_hook::{NfHookFn, NfHookOps, NfHookState, NfVerdict, Registrant};
use super::super::{Skb, Walk};
use crate::net::Netns;
use crate::net::ipfrag::DefragUser;
use crate::netfilter::{Family, Hook, priority};

pub(super) struct NfDefragIpv4;

struct ConntrackDefrag;

impl Registrant for NfDefragIpv4 {
    fn register(&self, ns: &Netns, ops: &mut Vec<NfHookOps>) {
        if ns.conntrack.is_none() {
            return;
        }
        for hooknum in [Hook::Prerouting, Hook::Output] {
            ops.push(NfHookOps {
                pf: Family::Ipv4,
                hooknum,
                priority: priority::CONNTRACK_DEFRAG,
                name: "ipv4_conntrack_defrag",
                hook: &ConntrackDefrag,
                private: 0,
            });
        }
    }
}

impl NfHookFn for ConntrackDefrag {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        // `nf_ct_defrag_user`: the hook decides whose queue it is.
        let user = match state.hook {
            Hook::Output => DefragUser::ConntrackOut,
            _ => DefragUser::ConntrackIn,
        };
        let dev = state.indev.or(state.outdev);
        match walk.ip_defrag(skb, user, dev) {
            Ok(()) => NfVerdict::Accept,
            Err(next) => NfVerdict::Stolen(*next),
        }
    }
}
