//! Neighbour resolution and ARP (`net/core/neighbour.c`, `net/ipv4/arp.c`): fill in the
//! destination MAC, asking with an ARP request when the table has no entry.

use super::{ArpAsk, End, Next, Skb, Walk};
use crate::net::{IfIndex, Neigh, NudState, neigh};
use crate::trace::{Disposition, DispositionKind, Role, StepKind};
use crate::wire::{Arp, ArpOp, Frame, IcmpMessage, Ipv4Addr, L3, L4, Mac, Udp, UdpPayload};

impl Walk<'_> {
    /// `neigh_output` / `neigh_resolve_output`: set the frame's MACs for `nexthop` on `dev`.
    /// On a miss the packet waits while `arp_solicit` asks; the ARP exchange is walked as
    /// its own frames. Err is how the walk ends when nobody answers.
    pub(super) fn neigh_output(
        &mut self,
        skb: &mut Skb,
        dev: IfIndex,
        nexthop: Ipv4Addr,
    ) -> Result<(), Disposition> {
        let ns = skb.ns;
        let devn = self.dev_name(ns, dev);
        let my_mac = self
            .world
            .ns(ns)
            .link(dev)
            .map(|l| l.mac)
            .unwrap_or(Mac::ZERO);
        skb.frame.src = my_mac;
        if let Some(n) = neigh::lookup(&self.world.ns(ns).neigh, dev, nexthop).cloned() {
            skb.frame.dst = n.lladdr.unwrap_or(Mac::ZERO);
            self.record(
                skb,
                Some(dev),
                "neigh_output",
                StepKind::Neighbour,
                format!(
                    "next hop {nexthop} is {} on {devn} ({}): Ethernet header {my_mac} -> {}",
                    skb.frame.dst,
                    n.state.name(),
                    skb.frame.dst
                ),
            );
            return Ok(());
        }
        if self.world.ns(ns).unknowns.neighbours {
            // A dumped node: the table holds what it held at dump time, not who would answer.
            skb.frame.dst = Mac::ZERO;
            self.record(skb, Some(dev), "neigh_resolve_output", StepKind::Neighbour, format!(
                "no neighbour entry for {nexthop} on {devn} in the dump: assumed to answer arp_solicit (its MAC unknown, shown as {})", Mac::ZERO));
            return Ok(());
        }
        self.record(skb, Some(dev), "neigh_resolve_output", StepKind::Neighbour, format!(
            "no neighbour entry for {nexthop} on {devn}: the packet waits while arp_solicit asks who has it"));
        // arp_solicit: the sender address is the packet's source when it is ours, else the
        // device's address (inet_select_addr).
        let src_ip = skb
            .ipv4()
            .map(|i| i.src)
            .filter(|s| self.world.ns(ns).is_local(*s))
            .or_else(|| self.world.ns(ns).primary_addr(dev))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let req = Skb {
            frame: Frame {
                dst: Mac::BROADCAST,
                src: my_mac,
                payload: L3::Arp(Arp {
                    op: ArpOp::Request,
                    sender_mac: my_mac,
                    sender_ip: src_ip,
                    target_mac: Mac::ZERO,
                    target_ip: nexthop,
                }),
            },
            ns,
            dev,
            iif: None,
            mark: 0,
            br_nf_prerouted: false,
            ipvs_property: false,
            physin: None,
            physout: None,
            ct: None,
            frag_max_size: 0,
            ignore_df: false,
            role: Role::ArpRequest,
        };
        self.record(
            &req,
            Some(dev),
            "arp_solicit",
            StepKind::Neighbour,
            format!("ARP request: who has {nexthop}? tell {src_ip}"),
        );
        let ask = ArpAsk {
            ns,
            dev,
            target: nexthop,
        };
        self.arp_asks.push(ask);
        let end = self.run(Next::Xmit(req));
        self.arp_asks.pop();
        match end {
            End::ArpResolved(mac) => {
                skb.frame.dst = mac;
                self.record(skb, Some(dev), "neigh_update", StepKind::Neighbour, format!(
                    "{nexthop} is {mac} (REACHABLE): the waiting packet is sent, {my_mac} -> {mac}"));
                Ok(())
            }
            // The step cap ran out inside the ARP exchange: a loop, not a missing neighbour.
            End::Fate(why) if why.kind == DispositionKind::Loop => Err(why),
            End::Fate(why) => Err(self.neigh_invalidate(skb, dev, nexthop, &why.reason)),
            End::Queued(why) => Err(self.neigh_invalidate(skb, dev, nexthop, &why)),
        }
    }

    /// `neigh_invalidate`: the resolution failed, the entry becomes FAILED and every packet
    /// queued on it is reported by `arp_error_report` -> `ipv4_link_failure`, which sends
    /// ICMP host unreachable to the sender of a forwarded packet. A locally generated
    /// packet's sender learns it at its socket (EHOSTUNREACH).
    fn neigh_invalidate(
        &mut self,
        skb: &Skb,
        dev: IfIndex,
        nexthop: Ipv4Addr,
        why: &str,
    ) -> Disposition {
        let ns = skb.ns;
        let devn = self.dev_name(ns, dev);
        let table = &mut self.world.ns_mut(ns).neigh;
        if !table.iter().any(|n| n.dev == dev && n.ip == nexthop) {
            table.push(Neigh {
                ip: nexthop,
                dev,
                lladdr: None,
                state: NudState::Failed,
            });
        }
        let ip = skb.ipv4().cloned();
        let tunnelled = ip.as_ref().is_some_and(|i| {
            matches!(
                &i.payload,
                L4::Udp(Udp {
                    payload: UdpPayload::Vxlan(_),
                    ..
                })
            )
        });
        let outcome = match (&ip, skb.iif.is_some()) {
            (Some(ip), true) => {
                self.icmp_error(
                    skb,
                    IcmpMessage::DestUnreachable {
                        code: 1,
                        next_hop_mtu: 0,
                    },
                );
                format!(
                    "the packet is dropped and ICMP host unreachable goes back to {}",
                    ip.src
                )
            }
            (Some(_), false) if tunnelled => {
                "the outer packet is dropped; the tunnel tells the inner packet's sender nothing"
                    .to_string()
            }
            _ => "the packet is dropped and the sending socket gets EHOSTUNREACH (ping: Destination Host Unreachable)".to_string(),
        };
        let reason = format!(
            "ARP for {nexthop} on {devn} got no answer ({why}): the neighbour entry becomes FAILED; {outcome}"
        );
        self.record(
            skb,
            Some(dev),
            "neigh_invalidate",
            StepKind::Drop,
            reason.clone(),
        );
        self.fate(
            skb,
            Some(dev),
            DispositionKind::NeighbourUnreachable,
            reason,
        )
    }

    /// `arp_rcv` -> `arp_process`: answer requests for our addresses (arp_ignore=0: any
    /// local address, on any device), learn the asker; a reply completes a resolution.
    pub(super) fn arp_rcv(&mut self, skb: Skb) -> Next {
        let L3::Arp(a) = skb.frame.payload.clone() else {
            return Next::IpRcv(skb);
        };
        let dev = skb.dev;
        match a.op {
            ArpOp::Request => {
                if !self.world.ns(skb.ns).is_local(a.target_ip) {
                    return self.drop_here(
                        &skb,
                        Some(dev),
                        "arp_process",
                        DispositionKind::Dropped,
                        format!("{} is not ours: the request is ignored", a.target_ip),
                    );
                }
                // neigh_event_ns: the asker is learned as STALE.
                neigh::update(
                    &mut self.world.ns_mut(skb.ns).neigh,
                    dev,
                    a.sender_ip,
                    a.sender_mac,
                    NudState::Stale,
                );
                let my_mac = self
                    .world
                    .ns(skb.ns)
                    .link(dev)
                    .map(|l| l.mac)
                    .unwrap_or(Mac::ZERO);
                let reply = Skb {
                    frame: Frame {
                        dst: a.sender_mac,
                        src: my_mac,
                        payload: L3::Arp(Arp {
                            op: ArpOp::Reply,
                            sender_mac: my_mac,
                            sender_ip: a.target_ip,
                            target_mac: a.sender_mac,
                            target_ip: a.sender_ip,
                        }),
                    },
                    role: Role::ArpReply,
                    ..skb.clone()
                };
                self.record(
                    &skb,
                    Some(dev),
                    "arp_process",
                    StepKind::Neighbour,
                    format!(
                        "{} is ours: learn {} at {} (STALE) and reply",
                        a.target_ip, a.sender_ip, a.sender_mac
                    ),
                );
                self.record(
                    &reply,
                    Some(dev),
                    "arp_send",
                    StepKind::Neighbour,
                    format!("ARP reply: {} is at {my_mac}", a.target_ip),
                );
                Next::Xmit(reply)
            }
            ArpOp::Reply => {
                // Only the reply to the request being walked, arriving where it was asked,
                // completes it (arp_process updates the INCOMPLETE entry the asker made).
                let awaited = self.arp_asks.last().is_some_and(|ask| {
                    ask.ns == skb.ns && ask.dev == dev && ask.target == a.sender_ip
                });
                if !awaited {
                    let here = self.dev_name(skb.ns, dev);
                    return self.drop_here(
                        &skb,
                        Some(dev),
                        "arp_process",
                        DispositionKind::Dropped,
                        format!(
                            "ARP reply: {} is at {}, but nobody on {here} in {} asked (no INCOMPLETE entry): ignored",
                            a.sender_ip,
                            a.sender_mac,
                            self.ns_name(skb.ns)
                        ),
                    );
                }
                neigh::update(
                    &mut self.world.ns_mut(skb.ns).neigh,
                    dev,
                    a.sender_ip,
                    a.sender_mac,
                    NudState::Reachable,
                );
                self.record(
                    &skb,
                    Some(dev),
                    "arp_process",
                    StepKind::Neighbour,
                    format!(
                        "ARP reply: {} is at {}; the neighbour entry becomes REACHABLE",
                        a.sender_ip, a.sender_mac
                    ),
                );
                Next::End(End::ArpResolved(a.sender_mac))
            }
        }
    }
}
