//! VXLAN (`drivers/net/vxlan/vxlan_core.c`): `vxlan_xmit` wraps the inner frame in
//! UDP/IPv4 towards the VTEP the FDB names; `vxlan_rcv` unwraps it on the far node.

use super::{Next, Skb, Walk};
use crate::net::{LinkKind, route};
use crate::trace::{DispositionKind, StepKind};
use crate::wire::{Frame, Ipv4, Ipv4Addr, L3, L4, Mac, Udp, UdpPayload, Vxlan};

/// A symmetric hash of the inner flow, standing in for `skb_get_hash` (flow dissector +
/// `__flow_hash_consistentify`, which orders addresses and ports so both directions hash
/// alike) with the per-boot secret. Ports count only for TCP and UDP, so every ICMP packet
/// between two hosts gets the same hash, as the lab showed.
pub fn flow_hash(secret: u32, ip: &Ipv4) -> u32 {
    let (a, b) = (u32::from(ip.src), u32::from(ip.dst));
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let ports = match &ip.payload {
        L4::Tcp(t) => (t.sport, t.dport),
        L4::Udp(u) => (u.sport, u.dport),
        // The flow dissector reads no ports from a fragment, not even the first
        // (FLOW_DISSECTOR_F_PARSE_1ST_FRAG is not asked for): all pieces hash alike.
        L4::Icmp(_) | L4::Fragment(_) => (0, 0),
    };
    let (p1, p2) = if (a, ports.0) <= (b, ports.1) {
        ports
    } else {
        (ports.1, ports.0)
    };
    let ports = (u32::from(p1) << 16) | u32::from(p2);
    jhash_3words(lo, hi, ports ^ u32::from(ip.protocol().number()), secret)
}

/// `udp_flow_src_port`: fold the low half of the hash into the high half (`hash ^= hash <<
/// 16`, so the port leaks less of the hash and only the upper 16 bits matter), then scale it
/// into ip_local_port_range (`(((u64) hash * (max - min)) >> 32) + min`).
pub fn udp_flow_src_port(hash: u32, min: u16, max: u16) -> u16 {
    let hash = hash ^ (hash << 16);
    let span = u64::from(max.saturating_sub(min));
    ((u64::from(hash) * span) >> 32) as u16 + min
}

/// The outer header of a VXLAN packet: addresses, UDP ports, VNI, TTL and IP id.
pub struct VxlanOuter {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub vni: u32,
    pub ttl: u8,
    pub ident: u16,
}

/// `inner` wrapped as vxlan_xmit_one wraps it: outer IPv4 with TOS 0 and DF clear (`df
/// unset`), UDP (checksum on, `udpcsum`), the VXLAN header with the VNI.
pub fn encapsulate(o: &VxlanOuter, inner: Frame) -> Ipv4 {
    Ipv4 {
        tos: 0,
        ident: o.ident,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
        ttl: o.ttl,
        src: o.src,
        dst: o.dst,
        payload: L4::Udp(Udp {
            sport: o.sport,
            dport: o.dport,
            payload: UdpPayload::Vxlan(Vxlan {
                vni: o.vni,
                inner: Box::new(inner),
            }),
        }),
    }
}

/// What VXLAN puts around the inner Ethernet frame: outer IPv4 (20), UDP (8), VXLAN (8).
const VXLAN_OUTER_LEN: usize = 20 + 8 + 8;

/// `jhash_3words` from include/linux/jhash.h (Bob Jenkins' lookup3 final mix).
fn jhash_3words(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    let iv = initval.wrapping_add(0xdeadbeef).wrapping_add(3 << 2);
    let (mut a, mut b, mut c) = (a.wrapping_add(iv), b.wrapping_add(iv), c.wrapping_add(iv));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

impl Walk<'_> {
    /// `vxlan_xmit` -> `vxlan_xmit_one` -> `udp_tunnel_xmit_skb` -> `iptunnel_xmit`, which
    /// sends the outer packet through `ip_local_out` like any local packet.
    pub(super) fn vxlan_xmit(&mut self, mut skb: Skb) -> Next {
        let dev = skb.dev;
        let Some(LinkKind::Vxlan(vx)) = self.world.ns(skb.ns).link(dev).map(|l| l.kind.clone())
        else {
            return self.drop_here(
                &skb,
                Some(dev),
                "vxlan_xmit",
                DispositionKind::Dropped,
                "not a VXLAN device".into(),
            );
        };
        let devn = self.dev_name(skb.ns, dev);
        let wire = self.wire_label(
            crate::net::LinkRef {
                ns: skb.ns,
                ifindex: dev,
            },
            None,
        );
        let inner_dst = skb.frame.dst;
        let Some(remote) = vx.fdb.iter().find(|e| e.mac == inner_dst).map(|e| e.dst) else {
            return self.drop_here(&skb, Some(dev), "vxlan_xmit", DispositionKind::Dropped,
                format!("no FDB entry for {inner_dst} on {devn} (nolearning): vxlan_xmit drops the frame (tx_dropped)"));
        };
        self.record(
            &skb,
            Some(dev),
            "vxlan_xmit",
            StepKind::Link,
            format!("{devn} transmits; FDB: {inner_dst} is the VTEP at {remote}"),
        )
        .wire = Some(wire);

        let Some(rt) = route::lookup(&self.world.ns(skb.ns).routes, remote).cloned() else {
            return self.drop_here(
                &skb,
                Some(dev),
                "vxlan_xmit_one",
                DispositionKind::NoRoute,
                format!("no route to the remote VTEP {remote}"),
            );
        };
        let inner_ip = match &skb.frame.payload {
            L3::Ipv4(ip) => ip.clone(),
            L3::Arp(_) => {
                return self.drop_here(
                    &skb,
                    Some(dev),
                    "vxlan_xmit",
                    DispositionKind::Dropped,
                    format!(
                        "ARP on {} never leaves: flannel programs permanent neighbours",
                        self.dev_name(skb.ns, dev)
                    ),
                );
            }
        };
        // The outer packet is one IPv4 datagram: the inner frame plus 36 bytes must fit its
        // 16-bit total length. (A sender's stack would have fragmented the inner packet to
        // its MTU long before; kpath follows oversized datagrams whole, so it stops here.)
        let outer_len = skb.frame.len() + VXLAN_OUTER_LEN;
        if outer_len > usize::from(u16::MAX) {
            return self.drop_here(&skb, Some(dev), "vxlan_xmit_one", DispositionKind::Dropped,
                format!("the {}-byte inner frame plus {VXLAN_OUTER_LEN} bytes of outer IPv4, UDP and VXLAN headers makes a {outer_len}-byte datagram, more than IPv4's 65535: the kernel would have fragmented the inner packet before it got here (kpath follows it whole), so it cannot be encapsulated",
                    skb.frame.len()));
        }
        let (lo, hi) = self.world.ns(skb.ns).sysctl.local_port_range;
        let sport = udp_flow_src_port(flow_hash(self.world.flow_hash_secret, &inner_ip), lo, hi);
        let ttl = self.world.ns(skb.ns).sysctl.default_ttl;
        let ident = self.world.next_u32() as u16;
        let inner = skb.frame.clone();
        // `ttl auto` (ip4_dst_hoplimit = 64); the source port from the flow hash.
        let outer = VxlanOuter {
            src: vx.local,
            dst: remote,
            sport,
            dport: vx.dstport,
            vni: vx.vni,
            ttl,
            ident,
        };
        skb.frame = Frame {
            dst: Mac::ZERO,
            src: Mac::ZERO,
            payload: L3::Ipv4(encapsulate(&outer, inner)),
        };
        skb.scrub(false);
        // ip_output takes `indev = skb->dev`, still the VXLAN device: POSTROUTING sees
        // `iif flannel.1` for the outer packet (OUTPUT sees no input device).
        skb.iif = Some(dev);
        skb.dev = rt.dev;
        self.record(&skb, Some(dev), "vxlan_xmit_one", StepKind::Encap,
            format!("encapsulate: VNI {}, outer {}:{sport} -> {remote}:{} (UDP source port from the inner flow's hash); the outer packet is sent like a local one (iptunnel_xmit -> ip_local_out)",
                vx.vni, vx.local, vx.dstport));
        Next::LocalOut(skb, rt)
    }

    /// `vxlan_rcv`: the UDP socket of a VXLAN device got a datagram. Check the VNI, strip the
    /// outer headers and receive the inner frame on the device (`gro_cells_receive`).
    pub(super) fn vxlan_rcv(&mut self, mut skb: Skb, dev: u32) -> Next {
        let devn = self.dev_name(skb.ns, dev);
        let Some(LinkKind::Vxlan(vx)) = self.world.ns(skb.ns).link(dev).map(|l| l.kind.clone())
        else {
            return self.drop_here(
                &skb,
                None,
                "vxlan_rcv",
                DispositionKind::Dropped,
                "the VXLAN socket has no device".into(),
            );
        };
        let inner = match &skb.frame.payload {
            L3::Ipv4(Ipv4 {
                payload:
                    L4::Udp(Udp {
                        payload: UdpPayload::Vxlan(v),
                        ..
                    }),
                ..
            }) => v.clone(),
            _ => {
                return self.drop_here(
                    &skb,
                    Some(dev),
                    "vxlan_rcv",
                    DispositionKind::Dropped,
                    "the datagram has no valid VXLAN header".into(),
                );
            }
        };
        if inner.vni != vx.vni {
            return self.drop_here(
                &skb,
                Some(dev),
                "vxlan_rcv",
                DispositionKind::Dropped,
                format!("VNI {} does not match {devn}'s VNI {}", inner.vni, vx.vni),
            );
        }
        skb.frame = *inner.inner;
        skb.dev = dev;
        skb.scrub(false);
        let wire = self.wire_label(
            crate::net::LinkRef {
                ns: skb.ns,
                ifindex: dev,
            },
            None,
        );
        self.record(
            &skb,
            Some(dev),
            "vxlan_rcv",
            StepKind::Decap,
            format!(
                "decapsulate: VNI {} matches {devn}; the inner frame is received on {devn}",
                vx.vni
            ),
        )
        .wire = Some(wire);
        Next::Rx(skb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_port_stays_in_the_local_port_range() {
        for h in [0u32, 1, 0x8000_0000, u32::MAX] {
            let p = udp_flow_src_port(h, 32768, 60999);
            assert!((32768..60999).contains(&p), "{p}");
        }
        assert_eq!(udp_flow_src_port(0, 32768, 60999), 32768);
    }

    #[test]
    fn source_port_folds_the_low_half_of_the_hash_in_like_the_kernel() {
        // hash ^= hash << 16: a hash with only low bits set still spreads over the range.
        // 0x0000_8000 -> 0x8000_8000; (0x8000_8000 * 28231) >> 32 = 14115.
        assert_eq!(udp_flow_src_port(0x0000_8000, 32768, 60999), 32768 + 14115);
        // 0xffff_ffff -> 0x0000_ffff, scaled to the very bottom of the range.
        assert_eq!(udp_flow_src_port(u32::MAX, 32768, 60999), 32768);
        // Only the upper 16 bits of the folded hash decide the port.
        assert_eq!(
            udp_flow_src_port(0x1234_0000, 32768, 60999),
            32768 + ((0x1234_0000u64 * 28231) >> 32) as u16
        );
    }
}
