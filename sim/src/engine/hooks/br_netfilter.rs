//! br_netfilter (`net/bridge/br_netfilter_hooks.c`): bridged IPv4 frames run the IPv4
//! hooks, so iptables (and conntrack, NAT, IPVS) see traffic between two pods on one
//! bridge. It registers at the bridge family's hooks (`br_nf_ops`): PRE_ROUTING runs IPv4
//! PREROUTING (`br_nf_pre_routing`), FORWARD runs IPv4 FORWARD (`br_nf_forward_ip`),
//! POST_ROUTING runs IPv4 POSTROUTING (`br_nf_post_routing`) - the last two only for frames
//! whose PREROUTING it ran. At IPv4 PREROUTING, first of all, `ip_sabotage_in` stops a
//! second run when the bridge passes such a frame up to the IP stack. The functions act
//! only while `net.bridge.bridge-nf-call-iptables` is 1.

use super::super::nf_hook::{NfHookFn, NfHookOps, NfHookState, NfVerdict, Registrant};
use super::super::{Skb, Walk};
use crate::net::{IfIndex, LinkKind, Netns};
use crate::netfilter::{Family, Hook, priority};
use crate::trace::{Disposition, DispositionKind, StepKind};

pub(super) struct BrNetfilter;

struct PreRouting;
struct ForwardIp;
struct PostRouting;
struct IpSabotageIn;

/// Registered where there is a bridge to see frames on.
impl Registrant for BrNetfilter {
    fn register(&self, ns: &Netns, ops: &mut Vec<NfHookOps>) {
        if !ns
            .links
            .iter()
            .any(|l| matches!(l.kind, LinkKind::Bridge(_)))
        {
            return;
        }
        let op = |pf, hooknum, priority, name, hook: &'static dyn NfHookFn| NfHookOps {
            pf,
            hooknum,
            priority,
            name,
            hook,
            private: 0,
        };
        let br = Family::Bridge;
        ops.extend([
            op(
                br,
                Hook::Prerouting,
                priority::BR_BRNF,
                "br_nf_pre_routing",
                &PreRouting,
            ),
            op(
                br,
                Hook::Forward,
                priority::BR_BRNF - 1,
                "br_nf_forward_ip",
                &ForwardIp,
            ),
            op(
                br,
                Hook::Postrouting,
                priority::LAST,
                "br_nf_post_routing",
                &PostRouting,
            ),
            op(
                Family::Ipv4,
                Hook::Prerouting,
                priority::FIRST,
                "ip_sabotage_in",
                &IpSabotageIn,
            ),
        ]);
    }
}

/// The bridge a port belongs to (br_netfilter's "logical device").
fn bridge_of(walk: &Walk, skb: &Skb, port: Option<IfIndex>) -> Option<IfIndex> {
    walk.world.ns(skb.ns).link(port?)?.master
}

fn enabled(walk: &Walk, skb: &Skb) -> bool {
    skb.ipv4().is_some() && walk.world.ns(skb.ns).sysctl.bridge_nf_call_iptables
}

/// `br_nf_pre_routing`: the bridged IPv4 frame runs IPv4 PREROUTING with the bridge as
/// input device, then `br_nf_pre_routing_finish`.
impl NfHookFn for PreRouting {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        let Some(br) = bridge_of(walk, skb, state.indev) else {
            return NfVerdict::Accept;
        };
        if !enabled(walk, skb) {
            return NfVerdict::Accept;
        }
        let brn = walk.dev_name(skb.ns, br);
        walk.record(skb, Some(br), "br_nf_pre_routing", StepKind::Netfilter,
            format!("br_netfilter (bridge-nf-call-iptables=1): the bridged IPv4 frame runs the IPv4 PREROUTING hook, with {brn} as the input device")).hook = Some(Hook::Prerouting);
        skb.physin = state.indev;
        let dst_before = skb.ipv4().map(|i| i.dst);
        if let Err(next) = walk.nf_hook(Family::Ipv4, Hook::Prerouting, skb, Some(br), None) {
            return NfVerdict::Stolen(*next);
        }
        skb.br_nf_prerouted = true;
        match walk.br_nf_pre_routing_finish(skb, br, dst_before) {
            Ok(()) => NfVerdict::Accept,
            Err(d) => NfVerdict::Drop(d),
        }
    }
}

/// `br_nf_forward_ip`: IPv4 FORWARD, with the bridge as both input and output device.
impl NfHookFn for ForwardIp {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        if !skb.br_nf_prerouted || skb.ipv4().is_none() {
            return NfVerdict::Accept;
        }
        let Some(br) = bridge_of(walk, skb, state.outdev) else {
            return NfVerdict::Accept;
        };
        skb.physout = state.outdev;
        walk.br_nf_run(skb, "br_nf_forward_ip", Hook::Forward, Some(br), br)
    }
}

/// `br_nf_post_routing`: IPv4 POSTROUTING, with the bridge as output device and no input
/// device (nft trace shows `oif "cni0"` alone there).
impl NfHookFn for PostRouting {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        if !skb.br_nf_prerouted || skb.ipv4().is_none() {
            return NfVerdict::Accept;
        }
        let Some(br) = bridge_of(walk, skb, state.outdev) else {
            return NfVerdict::Accept;
        };
        walk.br_nf_run(skb, "br_nf_post_routing", Hook::Postrouting, None, br)
    }
}

/// `ip_sabotage_in`: br_netfilter already ran PREROUTING for this frame; the IP stack does
/// not run it again. (`ip_rcv`'s step says so.)
impl NfHookFn for IpSabotageIn {
    fn hook(&self, _: &mut Walk, skb: &mut Skb, _: &NfHookState) -> NfVerdict {
        if skb.br_nf_prerouted {
            NfVerdict::Stop
        } else {
            NfVerdict::Accept
        }
    }
}

impl Walk<'_> {
    /// Record br_netfilter's step and run IPv4 `hook` for the bridged frame.
    fn br_nf_run(
        &mut self,
        skb: &mut Skb,
        func: &'static str,
        hook: Hook,
        iif: Option<IfIndex>,
        br: IfIndex,
    ) -> NfVerdict {
        let brn = self.dev_name(skb.ns, br);
        let devs = if iif.is_some() {
            "as input and output device"
        } else {
            "as output device"
        };
        self.record(
            skb,
            Some(br),
            func,
            StepKind::Netfilter,
            format!(
                "br_netfilter: the bridged IPv4 frame runs the IPv4 {} hook, with {brn} {devs}",
                hook.chain()
            ),
        )
        .hook = Some(hook);
        match self.nf_hook(Family::Ipv4, hook, skb, iif, Some(br)) {
            Ok(()) => NfVerdict::Accept,
            Err(next) => NfVerdict::Stolen(*next),
        }
    }

    /// `br_nf_pre_routing_finish`: when DNAT changed the destination, route the new one from
    /// the bridge. Still behind this bridge: the frame stays bridged ("bridged DNAT") with
    /// the new address' MAC as destination. Elsewhere: the destination MAC becomes the
    /// bridge's own, so the frame goes up to be routed.
    fn br_nf_pre_routing_finish(
        &mut self,
        skb: &mut Skb,
        br: IfIndex,
        dst_before: Option<crate::wire::Ipv4Addr>,
    ) -> Result<(), Disposition> {
        let Some(now) = skb.ipv4().map(|i| i.dst) else {
            return Ok(());
        };
        if dst_before == Some(now) {
            return Ok(());
        }
        let brn = self.dev_name(skb.ns, br);
        let rt = crate::net::route::lookup(&self.world.ns(skb.ns).routes, now).cloned();
        match rt {
            Some(r) if r.rtype == crate::net::RouteType::Unicast && r.dev == br => {
                self.record(skb, Some(br), "br_nf_pre_routing_finish", StepKind::Bridge, format!(
                    "DNAT moved the destination to {now}, which is behind {brn} itself: the frame stays bridged (bridged DNAT) and takes {now}'s MAC"));
                let src = skb.frame.src;
                let res = self.neigh_output(skb, br, now);
                skb.frame.src = src;
                res
            }
            Some(_) => {
                let mac = self
                    .world
                    .ns(skb.ns)
                    .link(br)
                    .map(|l| l.mac)
                    .unwrap_or(skb.frame.dst);
                self.record(skb, Some(br), "br_nf_pre_routing_finish", StepKind::Bridge, format!(
                    "DNAT moved the destination to {now}, which is not behind {brn}: the frame is handed to the IP stack to be routed (destination MAC := {brn}'s {mac})"));
                skb.frame.dst = mac;
                Ok(())
            }
            None => {
                let reason =
                    format!("DNAT moved the destination to {now}, and there is no route to it");
                self.record(
                    skb,
                    Some(br),
                    "br_nf_pre_routing_finish",
                    StepKind::Drop,
                    reason.clone(),
                );
                Err(self.fate(skb, Some(br), DispositionKind::NoRoute, reason))
            }
        }
    }
}
