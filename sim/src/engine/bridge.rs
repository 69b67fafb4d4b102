//! The Linux bridge (`net/bridge/`): cni0 on every node and the underlay switch.
//! `br_handle_frame` learns the source MAC and looks the destination up in the FDB. The
//! bridge's own netfilter hooks (NF_BR_PRE_ROUTING, FORWARD, POST_ROUTING) are where
//! br_netfilter (`hooks/br_netfilter.rs`) runs the IPv4 hooks for bridged frames.

use super::{Next, Skb, Walk};
use crate::net::{IfIndex, LinkKind};
use crate::netfilter::{Family, Hook};
use crate::trace::{DispositionKind, StepKind};
use crate::wire::{L3, Mac};

/// Where a bridge sends a frame.
enum BrDest {
    /// Up to the bridge device itself (`br_pass_frame_up`).
    Local,
    Port(IfIndex),
}

impl Walk<'_> {
    fn bridge_fdb_lookup(&self, skb: &Skb, br: IfIndex, mac: Mac) -> Option<(IfIndex, bool)> {
        match self.world.ns(skb.ns).link(br).map(|l| &l.kind) {
            Some(LinkKind::Bridge(b)) => b.lookup(mac).map(|e| (e.port, e.local)),
            _ => None,
        }
    }

    fn ports_of(&self, skb: &Skb, br: IfIndex) -> Vec<IfIndex> {
        self.world
            .ns(skb.ns)
            .links
            .iter()
            .filter(|l| l.master == Some(br))
            .map(|l| l.ifindex)
            .collect()
    }

    /// `br_handle_frame` -> NF_BR_PRE_ROUTING -> `br_handle_frame_finish`.
    pub(super) fn br_handle_frame(&mut self, mut skb: Skb, br: IfIndex) -> Next {
        let port = skb.dev;
        let (brn, portn) = (self.dev_name(skb.ns, br), self.dev_name(skb.ns, port));
        self.record(
            &skb,
            Some(br),
            "br_handle_frame",
            StepKind::Bridge,
            format!("the frame enters bridge {brn} through port {portn}"),
        );

        // NF_BR_PRE_ROUTING (br_netfilter runs the IPv4 PREROUTING hook there).
        if let Err(d) = self.nf_hook(Family::Bridge, Hook::Prerouting, &mut skb, Some(port), None) {
            return *d;
        }

        // br_fdb_update: learn where the source lives.
        let learned = match self.world.ns_mut(skb.ns).link_mut(br).map(|l| &mut l.kind) {
            Some(LinkKind::Bridge(b)) => b.learn(skb.frame.src, port),
            _ => false,
        };
        let learn_note = if learned {
            format!("learns {} on {portn}; ", skb.frame.src)
        } else {
            String::new()
        };

        let dst = skb.frame.dst;
        let dest = if dst.is_multicast() {
            None
        } else {
            self.bridge_fdb_lookup(&skb, br, dst)
        };
        match dest {
            Some((_, true)) => {
                self.record(
                    &skb,
                    Some(br),
                    "br_handle_frame_finish",
                    StepKind::Bridge,
                    format!(
                        "{learn_note}{dst} is the bridge's own address: pass the frame up to {brn}"
                    ),
                );
                self.br_pass_frame_up(skb, br)
            }
            Some((p, false)) => {
                let pn = self.dev_name(skb.ns, p);
                self.record(
                    &skb,
                    Some(br),
                    "br_handle_frame_finish",
                    StepKind::Bridge,
                    format!("{learn_note}FDB: {dst} is behind port {pn}"),
                );
                self.br_forward(skb, br, p, port)
            }
            None => {
                let why = if dst.is_multicast() {
                    "broadcast"
                } else {
                    "unknown unicast (not in the FDB)"
                };
                self.br_flood(skb, br, Some(port), &format!("{learn_note}{dst} is {why}"))
            }
        }
    }

    /// `br_pass_frame_up`: NF_BR_LOCAL_IN, then the frame is received again by the bridge
    /// device itself, as a host frame.
    fn br_pass_frame_up(&mut self, mut skb: Skb, br: IfIndex) -> Next {
        skb.dev = br;
        let brn = self.dev_name(skb.ns, br);
        self.record(
            &skb,
            Some(br),
            "br_pass_frame_up",
            StepKind::Bridge,
            format!("the frame goes up the stack as received on {brn}"),
        );
        Next::Rx(skb)
    }

    /// `br_forward` -> NF_BR_FORWARD (br_nf_forward_ip: IPv4 FORWARD) -> `br_forward_finish`
    /// -> NF_BR_POST_ROUTING (br_nf_post_routing: IPv4 POSTROUTING) -> the port transmits.
    fn br_forward(&mut self, skb: Skb, br: IfIndex, to: IfIndex, from: IfIndex) -> Next {
        let hairpin = self
            .world
            .ns(skb.ns)
            .link(to)
            .map(|l| l.hairpin)
            .unwrap_or(false);
        let pn = self.dev_name(skb.ns, to);
        if to == from && !hairpin {
            // should_deliver(): a frame never leaves by the port it came in on, unless hairpin.
            return self.drop_here(&skb, Some(br), "br_forward", DispositionKind::Dropped,
                format!("the destination is behind the port the frame came in on ({pn}) and hairpin mode is off: should_deliver() refuses it"));
        }
        let note = if to == from {
            format!("forward back out {pn} (hairpin mode is on)")
        } else {
            format!("forward to port {pn}")
        };
        self.record(&skb, Some(br), "br_forward", StepKind::Bridge, note);
        self.br_forward_finish(skb, to)
    }

    /// NF_BR_FORWARD, then NF_BR_POST_ROUTING, for a frame leaving by port `to`
    /// (`__br_forward` -> `br_forward_finish` -> `br_dev_queue_push_xmit`); br_netfilter
    /// runs the IPv4 FORWARD and POSTROUTING hooks there for frames whose PREROUTING it ran.
    fn br_forward_finish(&mut self, mut skb: Skb, to: IfIndex) -> Next {
        let indev = skb.dev;
        for (hook, indev) in [(Hook::Forward, Some(indev)), (Hook::Postrouting, None)] {
            if let Err(d) = self.nf_hook(Family::Bridge, hook, &mut skb, indev, Some(to)) {
                return *d;
            }
        }
        skb.dev = to;
        self.br_nf_dev_queue_xmit(skb)
    }

    /// `br_nf_dev_queue_xmit`: an IPv4 frame that went through br_netfilter's PREROUTING
    /// and does not fit the port leaves it cut, no larger than the port's MTU or, for a
    /// datagram conntrack's defrag reassembled, its largest fragment
    /// (`nf_bridge->frag_max_size`) (`br_nf_ip_fragment`; with DF, dropped).
    fn br_nf_dev_queue_xmit(&mut self, skb: Skb) -> Next {
        let fms = usize::from(skb.frag_max_size);
        let Some(ip) = skb.ipv4().filter(|_| skb.br_nf_prerouted) else {
            return self.br_dev_queue_push_xmit(skb);
        };
        let port = self.dev_name(skb.ns, skb.dev);
        let mtu = self
            .world
            .ns(skb.ns)
            .link(skb.dev)
            .map_or(65536, |l| l.mtu as usize);
        let (len, df) = (ip.total_len(), ip.dont_frag);
        let cut = if fms != 0 { mtu.min(fms) } else { mtu };
        if len <= cut {
            return self.br_dev_queue_push_xmit(skb);
        }
        let what = if fms != 0 { "reassembled " } else { "" };
        if (df && !skb.ignore_df) || fms > mtu {
            return self.drop_here(&skb, Some(skb.dev), "br_nf_ip_fragment", DispositionKind::Dropped,
                format!("the {what}{len}-byte datagram must be cut for {port} (MTU {mtu}), and DF forbids it: br_nf_ip_fragment drops it (-EMSGSIZE), with no ICMP error"));
        }
        let why = if fms != 0 {
            format!(
                "br_netfilter reassembled this {len}-byte datagram for conntrack; it leaves {port} cut again no larger than its largest fragment ({fms} bytes)"
            )
        } else {
            format!(
                "the {len}-byte datagram does not fit {port} (MTU {mtu}): br_netfilter cuts it into fragments (a bridge without br_netfilter would drop it)"
            )
        };
        self.send_fragments(skb, cut, "br_nf_dev_queue_xmit", why, |w, s| {
            w.br_dev_queue_push_xmit(s)
        })
    }

    /// `br_dev_queue_push_xmit`: the port transmits the frame if it fits the port's MTU
    /// (`is_skb_forwardable`); a bridge never fragments or answers with ICMP.
    fn br_dev_queue_push_xmit(&mut self, skb: Skb) -> Next {
        let port = crate::net::LinkRef {
            ns: skb.ns,
            ifindex: skb.dev,
        };
        match self.not_forwardable(&skb, port, "br_dev_queue_push_xmit") {
            Some(dropped) => dropped,
            None => Next::Xmit(skb),
        }
    }

    /// `br_flood`: copies to every port (not back out the ingress port unless hairpin) and,
    /// for frames from a port, up to the bridge itself. kpath follows the copy that reaches
    /// the frame's owner; the others are discarded by receivers the frame is not for.
    fn br_flood(&mut self, skb: Skb, br: IfIndex, from: Option<IfIndex>, why: &str) -> Next {
        let ports: Vec<IfIndex> = self
            .ports_of(&skb, br)
            .into_iter()
            .filter(|p| {
                Some(*p) != from
                    || self
                        .world
                        .ns(skb.ns)
                        .link(*p)
                        .map(|l| l.hairpin)
                        .unwrap_or(false)
            })
            .collect();
        let names: Vec<String> = ports.iter().map(|p| self.dev_name(skb.ns, *p)).collect();
        let brn = self.dev_name(skb.ns, br);
        let target = self.flood_target(&skb, &ports, from.is_some());
        let follow = match target {
            Some(BrDest::Local) => format!("; {brn} itself is the one it is for"),
            Some(BrDest::Port(p)) => {
                format!("; following the copy to {}", self.dev_name(skb.ns, p))
            }
            None => String::new(),
        };
        let up = if from.is_some() {
            format!(" and up to {brn}")
        } else {
            String::new()
        };
        let ports_text = if names.is_empty() {
            "no ports".to_string()
        } else {
            names.join(", ")
        };
        self.record(
            &skb,
            Some(br),
            "br_flood",
            StepKind::Bridge,
            format!("{why}: flood to {ports_text}{up}{follow}"),
        );
        match target {
            Some(BrDest::Local) => self.br_pass_frame_up(skb, br),
            Some(BrDest::Port(p)) => self.br_forward_finish(skb, p),
            // A node rebuilt from its dump: its ports lead beyond the model, so each copy
            // leaves the node, and which one reaches the owner cannot be told.
            None if self.world.ns(skb.ns).unknowns.neighbours && !ports.is_empty() => {
                let why = format!(
                    "{brn} floods the frame to {ports_text}: its owner is behind one of them, which the dump cannot tell"
                );
                Next::End(super::End::Fate(self.fate(
                    &skb,
                    Some(br),
                    DispositionKind::Transmitted,
                    why,
                )))
            }
            None => self.drop_here(
                &skb,
                Some(br),
                "br_flood",
                DispositionKind::Dropped,
                format!(
                    "nobody behind {brn} answers to {}: every copy is discarded",
                    skb.frame.dst
                ),
            ),
        }
    }

    /// Which flooded copy reaches the frame's owner: for an ARP request the holder of the
    /// target address (arp_ignore=0 answers for any local address), for unknown unicast the
    /// device with the destination MAC.
    fn flood_target(&self, skb: &Skb, ports: &[IfIndex], can_go_up: bool) -> Option<BrDest> {
        let ns = self.world.ns(skb.ns);
        let peer_of = |p: IfIndex| ns.link(p).and_then(|l| l.kind.peer());
        match &skb.frame.payload {
            L3::Arp(a) => {
                if can_go_up && ns.is_local(a.target_ip) {
                    return Some(BrDest::Local);
                }
                ports
                    .iter()
                    .copied()
                    .find(|p| {
                        peer_of(*p).is_some_and(|r| self.world.ns(r.ns).is_local(a.target_ip))
                    })
                    .map(BrDest::Port)
            }
            L3::Ipv4(_) => ports
                .iter()
                .copied()
                .find(|p| {
                    peer_of(*p)
                        .and_then(|r| self.world.link(r))
                        .is_some_and(|l| l.mac == skb.frame.dst)
                })
                .map(BrDest::Port),
        }
    }

    /// `br_dev_xmit`: the host sends through the bridge device. The FDB picks the port;
    /// `br_forward` delivers via NF_BR_LOCAL_OUT, which runs no IPv4 hook (the packet already
    /// passed the host's OUTPUT/POSTROUTING).
    pub(super) fn br_dev_xmit(&mut self, mut skb: Skb) -> Next {
        let br = skb.dev;
        let brn = self.dev_name(skb.ns, br);
        let dst = skb.frame.dst;
        let hit = if dst.is_multicast() {
            None
        } else {
            self.bridge_fdb_lookup(&skb, br, dst)
        };
        match hit {
            // The bridge's own address: its FDB entry has no port (`dst->dst` is NULL), and
            // br_forward(NULL, ...) frees the frame.
            Some((p, true)) if p == br => self.drop_here(
                &skb,
                Some(br),
                "br_dev_xmit",
                DispositionKind::Dropped,
                format!(
                    "the host sends through {brn} to {dst}, {brn}'s own address: the FDB entry names no port, so br_forward drops the frame"
                ),
            ),
            Some((p, local)) => {
                let pn = self.dev_name(skb.ns, p);
                let whose = if local {
                    format!("{pn}'s own address (local)")
                } else {
                    format!("behind port {pn}")
                };
                self.record(
                    &skb,
                    Some(br),
                    "br_dev_xmit",
                    StepKind::Bridge,
                    format!("the host sends through {brn}; FDB: {dst} is {whose}"),
                );
                skb.dev = p;
                Next::Xmit(skb)
            }
            None => {
                let why = format!(
                    "the host sends through {brn}; {dst} is {}",
                    if dst.is_multicast() {
                        "broadcast"
                    } else {
                        "not in the FDB"
                    }
                );
                self.br_flood(skb, br, None, &why)
            }
        }
    }
}
