//! Bytes -> Repr, the inverse of `emit`. Strict where emit is exact (checksums, lengths,
//! versions) so a bug in the engine's bytes shows up as a `WireError`, and lenient only
//! where real stacks are: trailing bytes after a datagram (Ethernet padding) are ignored,
//! a UDP checksum of 0 means "none" (RFC 768), unused ICMP bytes are ignored (RFC 792).
//!
//! Lengths are checked before any `pnet_packet` view is built or sliced, and only its
//! fixed-offset getters are used, so no input can panic.

use super::emit::VXLAN_FLAGS_I;
use super::*;
use pnet_packet::arp::ArpPacket;
use pnet_packet::ethernet::EthernetPacket;
use pnet_packet::icmp::{self, IcmpPacket};
use pnet_packet::ipv4::{self, Ipv4Flags, Ipv4Packet};
use pnet_packet::tcp::{self, TcpPacket};
use pnet_packet::udp::{self, UdpPacket};
use pnet_packet::vxlan::VxlanPacket;

/// VXLAN-in-VXLAN levels accepted; bounds the recursion on hostile input.
const MAX_VXLAN_DEPTH: usize = 4;

impl Frame {
    /// Parses an Ethernet frame. UDP datagrams to a port in `vxlan_ports` are VXLAN.
    /// Every checksum must be valid.
    pub fn parse(bytes: &[u8], vxlan_ports: &[u16]) -> Result<Frame, WireError> {
        parse_frame(
            bytes,
            Opts {
                ports: vxlan_ports,
                verify: true,
            },
            0,
        )
    }

    /// Parses a frame captured on a host, where checksum offload leaves transmitted
    /// packets with partial checksums (tcpdump sees them before the NIC, or a veth,
    /// would fill them in): checksums are not verified.
    pub fn parse_captured(bytes: &[u8], vxlan_ports: &[u16]) -> Result<Frame, WireError> {
        parse_frame(
            bytes,
            Opts {
                ports: vxlan_ports,
                verify: false,
            },
            0,
        )
    }
}

/// How to parse: which UDP ports carry VXLAN, and whether checksums must be valid.
#[derive(Clone, Copy)]
struct Opts<'a> {
    ports: &'a [u16],
    verify: bool,
}

fn truncated(layer: &'static str, have: usize, need: usize) -> WireError {
    WireError::Truncated { layer, have, need }
}

fn unsupported(layer: &'static str, what: &'static str, value: impl Into<u32>) -> WireError {
    WireError::Unsupported {
        layer,
        what,
        value: value.into(),
    }
}

/// A pnet view over `bytes` once they hold at least `need` bytes.
fn view<'a, P>(
    layer: &'static str,
    bytes: &'a [u8],
    need: usize,
    new: fn(&'a [u8]) -> Option<P>,
) -> Result<P, WireError> {
    if bytes.len() < need {
        return Err(truncated(layer, bytes.len(), need));
    }
    new(bytes).ok_or(truncated(layer, bytes.len(), need))
}

fn check(o: Opts, layer: &'static str, stored: u16, computed: u16) -> Result<(), WireError> {
    if stored == computed || !o.verify {
        Ok(())
    } else {
        Err(WireError::BadChecksum {
            layer,
            stored,
            computed,
        })
    }
}

fn parse_frame(bytes: &[u8], o: Opts, depth: usize) -> Result<Frame, WireError> {
    let eth = view("ethernet", bytes, ETHERNET_HEADER_LEN, EthernetPacket::new)?;
    let rest = &bytes[ETHERNET_HEADER_LEN..];
    let payload = match eth.get_ethertype().0 {
        ETHERTYPE_IPV4 => L3::Ipv4(parse_ipv4(rest, o, depth)?),
        ETHERTYPE_ARP => L3::Arp(parse_arp(rest)?),
        other => return Err(unsupported("ethernet", "ethertype", other)),
    };
    Ok(Frame {
        dst: Mac(eth.get_destination().into()),
        src: Mac(eth.get_source().into()),
        payload,
    })
}

fn parse_arp(bytes: &[u8]) -> Result<Arp, WireError> {
    let p = view("arp", bytes, ARP_LEN, ArpPacket::new)?;
    if p.get_hardware_type().0 != 1 {
        return Err(unsupported("arp", "hardware type", p.get_hardware_type().0));
    }
    if p.get_protocol_type().0 != ETHERTYPE_IPV4 {
        return Err(unsupported("arp", "protocol type", p.get_protocol_type().0));
    }
    if (p.get_hw_addr_len(), p.get_proto_addr_len()) != (6, 4) {
        return Err(unsupported(
            "arp",
            "address lengths",
            u16::from_be_bytes([bytes[4], bytes[5]]),
        ));
    }
    let op = match p.get_operation().0 {
        1 => ArpOp::Request,
        2 => ArpOp::Reply,
        other => return Err(unsupported("arp", "opcode", other)),
    };
    Ok(Arp {
        op,
        sender_mac: Mac(p.get_sender_hw_addr().into()),
        sender_ip: p.get_sender_proto_addr(),
        target_mac: Mac(p.get_target_hw_addr().into()),
        target_ip: p.get_target_proto_addr(),
    })
}

fn parse_ipv4(bytes: &[u8], o: Opts, depth: usize) -> Result<Ipv4, WireError> {
    let p = view("ipv4", bytes, IPV4_HEADER_LEN, Ipv4Packet::new)?;
    if p.get_version() != 4 {
        return Err(unsupported("ipv4", "version", p.get_version()));
    }
    if p.get_header_length() != 5 {
        return Err(unsupported(
            "ipv4",
            "header length (options) in words",
            p.get_header_length(),
        ));
    }
    check(o, "ipv4", p.get_checksum(), ipv4::checksum(&p))?;
    let total = usize::from(p.get_total_length());
    if total < IPV4_HEADER_LEN {
        return Err(truncated("ipv4", total, IPV4_HEADER_LEN));
    }
    if bytes.len() < total {
        return Err(truncated("ipv4", bytes.len(), total));
    }
    // Bytes past `total` are link-layer padding, not part of the datagram.
    let body = &bytes[IPV4_HEADER_LEN..total];
    let (src, dst) = (p.get_source(), p.get_destination());
    let proto = p.get_next_level_protocol().0;
    let more_frags = p.get_flags() & Ipv4Flags::MoreFragments != 0;
    let payload = if more_frags || p.get_fragment_offset() != 0 {
        // ip_is_fragment: the bytes are a piece of a transport message, read only once
        // the pieces are put back together.
        if !matches!(proto, IPPROTO_ICMP | IPPROTO_TCP | IPPROTO_UDP) {
            return Err(unsupported("ipv4", "protocol", proto));
        }
        L4::Fragment(Fragment {
            protocol: IpProtocol::from_number(proto),
            data: body.to_vec(),
        })
    } else {
        parse_l4(proto, body, src, dst, o, depth)?
    };
    Ok(Ipv4 {
        tos: (p.get_dscp() << 2) | p.get_ecn(),
        ident: p.get_identification(),
        dont_frag: p.get_flags() & Ipv4Flags::DontFragment != 0,
        more_frags,
        frag_offset: p.get_fragment_offset(),
        ttl: p.get_ttl(),
        src,
        dst,
        payload,
    })
}

fn parse_l4(
    proto: u8,
    body: &[u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    o: Opts,
    depth: usize,
) -> Result<L4, WireError> {
    Ok(match proto {
        IPPROTO_ICMP => L4::Icmp(parse_icmp(body, o)?),
        IPPROTO_TCP => L4::Tcp(parse_tcp(body, src, dst, o)?),
        IPPROTO_UDP => L4::Udp(parse_udp(body, src, dst, o, depth)?),
        other => return Err(unsupported("ipv4", "protocol", other)),
    })
}

impl L4 {
    /// Parses a whole transport message of `protocol` (a reassembled datagram's payload),
    /// checksums verified against the pseudo-header of `src` and `dst`.
    pub fn parse(
        protocol: IpProtocol,
        bytes: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        vxlan_ports: &[u16],
    ) -> Result<L4, WireError> {
        let o = Opts {
            ports: vxlan_ports,
            verify: true,
        };
        parse_l4(protocol.number(), bytes, src, dst, o, 0)
    }
}

fn parse_icmp(bytes: &[u8], o: Opts) -> Result<Icmp, WireError> {
    let p = view("icmp", bytes, ICMP_HEADER_LEN, IcmpPacket::new)?;
    check(o, "icmp", p.get_checksum(), icmp::checksum(&p))?;
    let word = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    let (ty, code) = (p.get_icmp_type().0, p.get_icmp_code().0);
    let msg = match ty {
        // Echo has no codes but 0; anything else would not survive a round trip.
        0 | 8 if code != 0 => return Err(unsupported("icmp", "echo code", code)),
        0 => IcmpMessage::EchoReply {
            ident: word(4),
            seq: word(6),
        },
        8 => IcmpMessage::EchoRequest {
            ident: word(4),
            seq: word(6),
        },
        3 => IcmpMessage::DestUnreachable {
            code,
            next_hop_mtu: word(6),
        },
        11 => IcmpMessage::TimeExceeded { code },
        5 => IcmpMessage::Redirect {
            code,
            gateway: Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]),
        },
        other => return Err(unsupported("icmp", "type", other)),
    };
    Ok(Icmp {
        msg,
        data: bytes[ICMP_HEADER_LEN..].to_vec(),
    })
}

fn parse_tcp(bytes: &[u8], src: Ipv4Addr, dst: Ipv4Addr, o: Opts) -> Result<Tcp, WireError> {
    let p = view("tcp", bytes, TCP_HEADER_LEN, TcpPacket::new)?;
    let hlen = usize::from(p.get_data_offset()) * 4;
    if hlen < TCP_HEADER_LEN {
        return Err(unsupported("tcp", "data offset", p.get_data_offset()));
    }
    if bytes.len() < hlen {
        return Err(truncated("tcp", bytes.len(), hlen));
    }
    // RFC 9293 3.1: over the pseudo-header and the whole segment.
    check(
        o,
        "tcp",
        p.get_checksum(),
        tcp::ipv4_checksum(&p, &src, &dst),
    )?;
    Ok(Tcp {
        sport: p.get_source(),
        dport: p.get_destination(),
        seq: p.get_sequence(),
        ack: p.get_acknowledgement(),
        flags: TcpFlags(p.get_flags()),
        window: p.get_window(),
        options: bytes[TCP_HEADER_LEN..hlen].to_vec(),
        payload: bytes[hlen..].to_vec(),
    })
}

fn parse_udp(
    bytes: &[u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    o: Opts,
    depth: usize,
) -> Result<Udp, WireError> {
    let p = view("udp", bytes, UDP_HEADER_LEN, UdpPacket::new)?;
    let len = usize::from(p.get_length());
    if len < UDP_HEADER_LEN {
        return Err(truncated("udp", len, UDP_HEADER_LEN));
    }
    if bytes.len() < len {
        return Err(truncated("udp", bytes.len(), len));
    }
    let bytes = &bytes[..len];
    let stored = p.get_checksum();
    // RFC 768: 0 means the sender computed none; a computed 0 is carried as 0xffff.
    if stored != 0 {
        let view = UdpPacket::new(bytes).ok_or(truncated("udp", len, UDP_HEADER_LEN))?;
        let computed = match udp::ipv4_checksum(&view, &src, &dst) {
            0 => 0xffff,
            c => c,
        };
        check(o, "udp", stored, computed)?;
    }
    let (sport, dport) = (p.get_source(), p.get_destination());
    let body = &bytes[UDP_HEADER_LEN..];
    let payload = if o.ports.contains(&dport) {
        UdpPayload::Vxlan(parse_vxlan(body, o, depth)?)
    } else if dns::DNS_PORT == dport || dns::DNS_PORT == sport {
        // Port 53 is read as DNS, as tcpdump reads it; what is not a DNS message stays data.
        dns::Dns::parse(body).map_or_else(
            |_| UdpPayload::Data(body.to_vec()),
            |d| UdpPayload::Dns(Box::new(d)),
        )
    } else {
        UdpPayload::Data(body.to_vec())
    };
    Ok(Udp {
        sport,
        dport,
        payload,
    })
}

fn parse_vxlan(bytes: &[u8], o: Opts, depth: usize) -> Result<Vxlan, WireError> {
    let p = view("vxlan", bytes, VXLAN_HEADER_LEN, VxlanPacket::new)?;
    // RFC 7348 5: the I flag must be set for the VNI to be valid.
    if p.get_flags() & VXLAN_FLAGS_I == 0 {
        return Err(unsupported("vxlan", "flags", p.get_flags()));
    }
    if depth >= MAX_VXLAN_DEPTH {
        return Err(unsupported("vxlan", "nesting depth", depth as u32));
    }
    let inner = parse_frame(&bytes[VXLAN_HEADER_LEN..], o, depth + 1)?;
    Ok(Vxlan {
        vni: p.get_vni(),
        inner: Box::new(inner),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, *};
    use super::*;

    fn parse(b: &[u8]) -> Result<Frame, WireError> {
        Frame::parse(b, VXLAN_PORTS)
    }

    #[test]
    fn test_parse_fixtures_and_round_trip() {
        for (name, frame, bytes) in fixtures::all() {
            assert_eq!(parse(&bytes).as_ref(), Ok(&frame), "{name}");
            assert_eq!(parse(&frame.emit()), Ok(frame), "{name}");
        }
        for f in [
            ping(vec![7; 56]),
            vxlan(ping(vec![7; 56])),
            vxlan(vxlan(udp_frame())),
        ] {
            assert_eq!(parse(&f.emit()), Ok(f));
        }
    }

    #[test]
    fn round_trip_icmp_errors_and_flags() {
        let mut ip = ipv4_of(&mut udp_frame()).clone();
        let quote = ip.emit()[..28].to_vec();
        // (A set MF or offset makes the bytes a fragment: `fragment.rs` round-trips those.)
        (ip.dont_frag, ip.more_frags, ip.frag_offset, ip.tos, ip.ttl) = (true, false, 0, 0xff, 1);
        for msg in [
            IcmpMessage::DestUnreachable {
                code: 4,
                next_hop_mtu: 1450,
            },
            IcmpMessage::DestUnreachable {
                code: 3,
                next_hop_mtu: 0,
            },
            IcmpMessage::TimeExceeded { code: 0 },
            IcmpMessage::Redirect {
                code: 1,
                gateway: Ipv4Addr::new(10, 244, 1, 3),
            },
            IcmpMessage::EchoReply {
                ident: 0xbeef,
                seq: 0xffff,
            },
        ] {
            ip.payload = L4::Icmp(Icmp {
                msg,
                data: quote.clone(),
            });
            let f = Frame {
                dst: GW,
                src: POD_A,
                payload: L3::Ipv4(ip.clone()),
            };
            assert_eq!(parse(&f.emit()), Ok(f));
        }
    }

    #[test]
    fn without_vxlan_ports_the_datagram_stays_data() {
        let b = hex(VXLAN_BYTES);
        let mut f = Frame::parse(&b, &[]).unwrap();
        assert_eq!(udp_of(&mut f).payload, UdpPayload::Data(b[42..].to_vec()));
        assert_eq!(f.emit(), b);
    }

    #[test]
    fn bad_checksums_name_the_layer() {
        // (byte to corrupt, layer): IP header, ICMP data, TCP option, UDP data,
        // and inside VXLAN the inner ICMP (outer UDP is fixed up so only the inner fails).
        let cases = [
            (ICMP_BYTES, 20, "ipv4"),
            (ICMP_BYTES, 49, "icmp"),
            (SYN_BYTES, 60, "tcp"),
            (UDP_BYTES, 46, "udp"),
        ];
        for (bytes, at, layer) in cases {
            let mut b = hex(bytes);
            b[at] ^= 0x40;
            match parse(&b) {
                Err(WireError::BadChecksum { layer: l, .. }) => assert_eq!(l, layer),
                other => panic!("{layer}: {other:?}"),
            }
        }
        let mut b = hex(VXLAN_BYTES);
        b[99] ^= 0x40;
        assert!(matches!(
            parse(&b),
            Err(WireError::BadChecksum { layer: "udp", .. })
        ));
        b[40..42].copy_from_slice(&[0, 0]); // outer UDP checksum "none" (RFC 768)
        assert!(matches!(
            parse(&b),
            Err(WireError::BadChecksum { layer: "icmp", .. })
        ));
    }

    #[test]
    fn lenient_where_stacks_are() {
        // Ethernet padding to 60 bytes after ARP and after an IP datagram.
        for (f, bytes) in [(arp_frame(), ARP_BYTES), (udp_frame(), UDP_BYTES)] {
            let mut b = hex(bytes);
            b.resize(60, 0);
            assert_eq!(parse(&b), Ok(f));
        }
        let mut b = hex(UDP_BYTES);
        b[40..42].copy_from_slice(&[0, 0]);
        assert_eq!(parse(&b), Ok(udp_frame()), "UDP checksum 0 = none");
    }

    #[test]
    fn rejects_what_it_cannot_represent() {
        let unsupported = |b: &[u8]| match parse(b) {
            Err(WireError::Unsupported { layer, what, value }) => (layer, what, value),
            other => panic!("{other:?}"),
        };
        let mut b = hex(ICMP_BYTES);
        b[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(unsupported(&b), ("ethernet", "ethertype", 0x86dd));
        let mut b = hex(ICMP_BYTES);
        b[14] = 0x46; // IHL 6: one word of options
        assert_eq!(unsupported(&b).1, "header length (options) in words");
        let mut b = hex(ICMP_BYTES);
        b[23] = 47; // GRE; the header checksum is checked first, so fix it up
        b[24..26].copy_from_slice(&[0x0f, 0x8c]);
        assert_eq!(unsupported(&b), ("ipv4", "protocol", 47));
        let mut b = hex(VXLAN_BYTES);
        b[42] = 0; // VXLAN flags without I; outer checksum off
        b[40..42].copy_from_slice(&[0, 0]);
        assert_eq!(unsupported(&b), ("vxlan", "flags", 0));
    }

    #[test]
    fn truncation_is_reported() {
        let b = hex(SYN_BYTES);
        assert_eq!(
            parse(&b[..60]),
            Err(WireError::Truncated {
                layer: "ipv4",
                have: 46,
                need: 60
            })
        );
        assert_eq!(
            parse(&b[..10]),
            Err(WireError::Truncated {
                layer: "ethernet",
                have: 10,
                need: 14
            })
        );
    }

    /// xorshift64: deterministic pseudo-random bytes without a dependency.
    fn rng(mut s: u64) -> impl FnMut() -> u64 {
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    #[test]
    fn never_panics() {
        let mut next = rng(0x9e37_79b9_7f4a_7c15);
        let mut inputs: Vec<Vec<u8>> = vec![];
        for (_, _, bytes) in fixtures::all() {
            // Every prefix, and single-byte corruptions of the whole frame.
            inputs.extend((0..bytes.len()).map(|n| bytes[..n].to_vec()));
            for _ in 0..500 {
                let mut b = bytes.clone();
                let at = next() as usize % b.len();
                b[at] = next() as u8;
                inputs.push(b);
            }
        }
        for _ in 0..2000 {
            let n = next() as usize % 200;
            let mut b: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            if b.len() > 24 && next() & 1 == 0 {
                b[12..14].copy_from_slice(&[0x08, 0x00]); // reach the IPv4 code
                b[14] = 0x45;
            }
            inputs.push(b);
        }
        for b in &inputs {
            let _ = Frame::parse(b, &[8472, 4789, 53]);
        }
    }
}
