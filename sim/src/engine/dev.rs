//! Devices: transmit (`dev_queue_xmit` and each driver's xmit) and receive
//! (`__netif_receive_skb`, which hands bridge ports to the bridge's rx_handler).

use super::{Next, Skb, Walk};
use crate::net::{LinkKind, LinkRef};
use crate::trace::{DispositionKind, StepKind};
use crate::wire::L3;

impl Walk<'_> {
    pub(super) fn dev_queue_xmit(&mut self, skb: Skb) -> Next {
        let Some(link) = self.world.ns(skb.ns).link(skb.dev).cloned() else {
            return self.drop_here(
                &skb,
                None,
                "dev_queue_xmit",
                DispositionKind::Dropped,
                "the output device does not exist".into(),
            );
        };
        if !link.up {
            return self.drop_here(
                &skb,
                Some(skb.dev),
                "dev_queue_xmit",
                DispositionKind::Dropped,
                format!("{} is down: the frame is dropped", link.name),
            );
        }
        match link.kind {
            LinkKind::Loopback => {
                let wire = self.wire_label(
                    LinkRef {
                        ns: skb.ns,
                        ifindex: skb.dev,
                    },
                    None,
                );
                self.record(
                    &skb,
                    Some(skb.dev),
                    "loopback_xmit",
                    StepKind::Link,
                    "lo hands the packet straight back to this namespace's receive path",
                )
                .wire = Some(wire);
                Next::Rx(skb)
            }
            LinkKind::Veth { peer } => self.cross(skb, peer, "veth_xmit", "veth"),
            LinkKind::Ethernet { peer } => self.cross(skb, peer, "dev_hard_start_xmit", "cable"),
            LinkKind::Bridge(_) => self.br_dev_xmit(skb),
            LinkKind::Vxlan(_) => self.vxlan_xmit(skb),
            LinkKind::Uplink { .. } => {
                let name = link.name.clone();
                let why = format!(
                    "{name} transmits the packet; what lies beyond it is not modelled, so the walk ends here"
                );
                self.record(
                    &skb,
                    Some(skb.dev),
                    "dev_hard_start_xmit",
                    StepKind::Link,
                    why.clone(),
                );
                Next::End(super::End::Fate(self.fate(
                    &skb,
                    Some(skb.dev),
                    DispositionKind::Transmitted,
                    why,
                )))
            }
            LinkKind::Dummy => {
                let name = link.name.clone();
                self.drop_here(
                    &skb,
                    Some(skb.dev),
                    "dummy_xmit",
                    DispositionKind::Dropped,
                    format!("{name} is a dummy device: it frees every frame sent to it"),
                )
            }
        }
    }

    /// The frame leaves by a point-to-point link and arrives on its peer, in the peer's
    /// namespace (`veth_xmit` -> `__dev_forward_skb`, which scrubs the skb).
    fn cross(&mut self, mut skb: Skb, peer: LinkRef, func: &'static str, what: &str) -> Next {
        let here = LinkRef {
            ns: skb.ns,
            ifindex: skb.dev,
        };
        // __dev_forward_skb: the receiving end takes no frame larger than its own MTU
        // (a NIC's receive buffers are sized to it just the same).
        if let Some(d) = self.not_forwardable(&skb, peer, func) {
            return d;
        }
        let wire = self.wire_label(here, Some(peer));
        let (pns, pdev) = (self.ns_name(peer.ns), self.dev_name(peer.ns, peer.ifindex));
        let me = self.dev_name(skb.ns, skb.dev);
        self.record(
            &skb,
            Some(skb.dev),
            func,
            StepKind::Link,
            format!("{me} transmits; the {what} delivers the frame to {pdev} in {pns}"),
        )
        .wire = Some(wire);
        skb.ns = peer.ns;
        skb.dev = peer.ifindex;
        skb.scrub(true);
        Next::Rx(skb)
    }

    /// `is_skb_forwardable`: a frame fits device `to` when its length, Ethernet header
    /// included, is at most the device's MTU + header + 4 (VLAN_HLEN) - when its IP packet
    /// is at most MTU + 4 bytes. kpath has no GSO packets, which would pass. None: it fits.
    pub(super) fn not_forwardable(
        &mut self,
        skb: &Skb,
        to: LinkRef,
        func: &'static str,
    ) -> Option<Next> {
        let len = skb.ipv4()?.total_len();
        let mtu = self.world.ns(to.ns).link(to.ifindex)?.mtu as usize;
        if len <= mtu + 4 {
            return None;
        }
        let dev = self.dev_name(to.ns, to.ifindex);
        Some(self.drop_here(
            skb,
            Some(skb.dev),
            func,
            DispositionKind::Dropped,
            format!("the {len}-byte packet is larger than {dev}'s MTU {mtu}: is_skb_forwardable refuses the frame and it is dropped without an ICMP error (a black hole: only {dev}'s drop counter sees it)"),
        ))
    }

    /// The pcap interface for a link: one per veth pair or cable (named by both ends, the
    /// lower-numbered namespace first), one per loopback or VXLAN device.
    pub(super) fn wire_label(&self, a: LinkRef, b: Option<LinkRef>) -> String {
        let name =
            |r: LinkRef| format!("{}:{}", self.ns_name(r.ns), self.dev_name(r.ns, r.ifindex));
        match b {
            None => name(a),
            Some(b) => {
                let (x, y) = if (a.ns, a.ifindex) <= (b.ns, b.ifindex) {
                    (a, b)
                } else {
                    (b, a)
                };
                format!("{} <-> {}", name(x), name(y))
            }
        }
    }

    pub(super) fn netif_receive_skb(&mut self, skb: Skb) -> Next {
        let Some(link) = self.world.ns(skb.ns).link(skb.dev).cloned() else {
            return self.drop_here(
                &skb,
                None,
                "__netif_receive_skb",
                DispositionKind::Dropped,
                "the input device does not exist".into(),
            );
        };
        // A bridge port's rx_handler is br_handle_frame: the frame belongs to the bridge.
        if let Some(br) = link.master {
            return self.br_handle_frame(skb, br);
        }
        let is_lo = matches!(link.kind, LinkKind::Loopback);
        let for_us = is_lo || skb.frame.dst == link.mac || skb.frame.dst.is_multicast();
        match skb.frame.payload {
            L3::Arp(_) => {
                if !for_us {
                    return self.drop_here(
                        &skb,
                        Some(skb.dev),
                        "__netif_receive_skb",
                        DispositionKind::Dropped,
                        format!(
                            "the frame is for {}, not {} ({}): PACKET_OTHERHOST, ignored",
                            skb.frame.dst, link.name, link.mac
                        ),
                    );
                }
                self.arp_rcv(skb)
            }
            L3::Ipv4(_) => {
                if !for_us {
                    return self.drop_here(
                        &skb,
                        Some(skb.dev),
                        "ip_rcv",
                        DispositionKind::Dropped,
                        format!(
                            "the frame is for {}, not {} ({}): PACKET_OTHERHOST, ip_rcv drops it",
                            skb.frame.dst, link.name, link.mac
                        ),
                    );
                }
                Next::IpRcv(skb)
            }
        }
    }
}
