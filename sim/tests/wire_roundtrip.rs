//! Every frame the engine can build emits to bytes that parse back to the same frame, with
//! valid checksums (Frame::parse verifies them), whether bare or inside VXLAN.

use kpath_sim::wire::*;
use proptest::prelude::*;

fn mac() -> impl Strategy<Value = Mac> {
    any::<[u8; 6]>().prop_map(Mac)
}

fn ip() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn l4() -> impl Strategy<Value = L4> {
    prop_oneof![
        (
            any::<u16>(),
            any::<u16>(),
            prop::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(ident, seq, data)| {
                L4::Icmp(Icmp {
                    msg: IcmpMessage::EchoRequest { ident, seq },
                    data,
                })
            }),
        (
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            0u8..0x40,
            any::<u16>(),
            prop::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(
                |(sport, dport, seq, ack, flags, window, payload)| L4::Tcp(Tcp {
                    sport,
                    dport,
                    seq,
                    ack,
                    flags: TcpFlags(flags),
                    window,
                    options: vec![2, 4, 5, 0xb4],
                    payload,
                })
            ),
        (
            any::<u16>().prop_filter("not DNS", |p| *p != 53),
            any::<u16>().prop_filter("not VXLAN or DNS", |p| *p != 8472 && *p != 53),
            prop::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(sport, dport, d)| L4::Udp(Udp {
                sport,
                dport,
                payload: UdpPayload::Data(d)
            })),
        (any::<u16>(), any::<bool>(), dns_message()).prop_map(|(port, query, m)| {
            let (sport, dport) = if query { (port, 53) } else { (53, port) };
            L4::Udp(Udp {
                sport,
                dport,
                payload: UdpPayload::Dns(Box::new(m)),
            })
        }),
    ]
}

/// A DNS name of 1 to 5 labels.
fn dns_name() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9][a-z0-9-]{0,20}", 1..5).prop_map(|l| l.join("."))
}

fn record() -> impl Strategy<Value = dns::Record> {
    let data = prop_oneof![
        ip().prop_map(dns::RData::A),
        dns_name().prop_map(dns::RData::Cname),
        (dns_name(), dns_name(), any::<[u32; 5]>()).prop_map(|(m, r, v)| {
            dns::RData::Soa(dns::Soa {
                mname: m,
                rname: r,
                serial: v[0],
                refresh: v[1],
                retry: v[2],
                expire: v[3],
                minimum: v[4],
            })
        }),
    ];
    (dns_name(), any::<u32>(), data).prop_map(|(name, ttl, data)| dns::Record {
        name,
        class: dns::CLASS_IN,
        ttl,
        data,
    })
}

/// A query or an answer, as the resolver and CoreDNS write them.
fn dns_message() -> impl Strategy<Value = dns::Dns> {
    (
        any::<u16>(),
        any::<u16>(),
        dns_name(),
        prop::collection::vec(record(), 0..4),
        prop::collection::vec(record(), 0..2),
    )
        .prop_map(|(id, flags, q, answers, authority)| {
            let mut m = dns::Dns::query(id, &q, dns::TYPE_A);
            m.flags = flags;
            m.answers = answers;
            m.authority = authority;
            m
        })
}

fn ipv4_frame() -> impl Strategy<Value = Frame> {
    (
        mac(),
        mac(),
        ip(),
        ip(),
        1u8..,
        any::<u16>(),
        any::<bool>(),
        any::<u8>(),
        l4(),
    )
        .prop_map(|(dst, src, s, d, ttl, ident, df, tos, payload)| Frame {
            dst,
            src,
            payload: L3::Ipv4(Ipv4 {
                tos,
                ident,
                dont_frag: df,
                more_frags: false,
                frag_offset: 0,
                ttl,
                src: s,
                dst: d,
                payload,
            }),
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        ipv4_frame(),
        (mac(), mac(), ip(), ip()).prop_map(|(a, b, x, y)| Frame {
            dst: Mac::BROADCAST,
            src: a,
            payload: L3::Arp(Arp {
                op: ArpOp::Request,
                sender_mac: a,
                sender_ip: x,
                target_mac: b,
                target_ip: y
            }),
        }),
        (
            ipv4_frame(),
            mac(),
            mac(),
            ip(),
            ip(),
            any::<u16>(),
            0u32..(1 << 24)
        )
            .prop_map(|(inner, d, s, a, b, sport, vni)| Frame {
                dst: d,
                src: s,
                payload: L3::Ipv4(Ipv4 {
                    tos: 0,
                    ident: 7,
                    dont_frag: false,
                    more_frags: false,
                    frag_offset: 0,
                    ttl: 64,
                    src: a,
                    dst: b,
                    payload: L4::Udp(Udp {
                        sport,
                        dport: 8472,
                        payload: UdpPayload::Vxlan(Vxlan {
                            vni,
                            inner: Box::new(inner)
                        })
                    }),
                }),
            }),
    ]
}

proptest! {
    #[test]
    fn emit_then_parse_gives_the_frame_back(f in frame()) {
        let bytes = f.emit();
        prop_assert_eq!(bytes.len(), f.len());
        let back = Frame::parse(&bytes, &[8472]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, f);
    }

    #[test]
    fn parse_never_panics_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Frame::parse(&bytes, &[8472]);
    }
}
