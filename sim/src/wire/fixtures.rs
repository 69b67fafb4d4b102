//! Test fixtures shared by the wire tests: frames as structs and the bytes they must emit.
//! The bytes were built independently of this crate (a short Python script with its own
//! RFC 1071 checksum), in the manner of smoltcp's `test_parse`/`test_emit` fixtures.

use super::*;

pub const POD_A: Mac = Mac([0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x02]);
pub const GW: Mac = Mac([0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x01]);
pub const NODE1: Mac = Mac([0x02, 0x00, 0xac, 0x1f, 0x00, 0x0b]);
pub const NODE2: Mac = Mac([0x02, 0x00, 0xac, 0x1f, 0x00, 0x0c]);
pub const VXLAN_PORTS: &[u16] = &[8472];

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Whitespace-separated hex bytes.
pub fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// The IPv4 layer of a fixture frame.
pub fn ipv4_of(f: &mut Frame) -> &mut Ipv4 {
    match &mut f.payload {
        L3::Ipv4(ip) => ip,
        L3::Arp(_) => panic!("not IPv4"),
    }
}

pub fn tcp_of(f: &mut Frame) -> &mut Tcp {
    match &mut ipv4_of(f).payload {
        L4::Tcp(t) => t,
        _ => panic!("not TCP"),
    }
}

pub fn udp_of(f: &mut Frame) -> &mut Udp {
    match &mut ipv4_of(f).payload {
        L4::Udp(u) => u,
        _ => panic!("not UDP"),
    }
}

fn pod_ipv4(ident: u16, dst: &str, payload: L4) -> Frame {
    Frame {
        dst: GW,
        src: POD_A,
        payload: L3::Ipv4(Ipv4 {
            tos: 0,
            ident,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            ttl: 64,
            src: ip("10.244.1.2"),
            dst: ip(dst),
            payload,
        }),
    }
}

/// 10.244.1.2 > 10.244.2.2 echo request id 1 seq 1 with `data`.
pub fn ping(data: Vec<u8>) -> Frame {
    let msg = IcmpMessage::EchoRequest { ident: 1, seq: 1 };
    pod_ipv4(0x1234, "10.244.2.2", L4::Icmp(Icmp { msg, data }))
}

pub fn icmp_frame() -> Frame {
    ping((0..8).collect())
}
pub const ICMP_BYTES: &str = "
    0a 58 0a f4 01 01 0a 58 0a f4 01 02 08 00 45 00
    00 24 12 34 40 00 40 01 0f ba 0a f4 01 02 0a f4
    02 02 08 00 eb ed 00 01 00 01 00 01 02 03 04 05
    06 07";

/// SYN with MSS 1460, SACK-permitted, timestamps 1000/0, NOP, window scale 7.
pub fn syn_frame() -> Frame {
    let tcp = Tcp {
        sport: 40000,
        dport: 80,
        seq: 1,
        ack: 0,
        flags: TcpFlags(TcpFlags::SYN),
        window: 64240,
        options: hex("02 04 05 b4 04 02 08 0a 00 00 03 e8 00 00 00 00 01 03 03 07"),
        payload: vec![],
    };
    pod_ipv4(0x1235, "10.244.2.2", L4::Tcp(tcp))
}
pub const SYN_BYTES: &str = "
    0a 58 0a f4 01 01 0a 58 0a f4 01 02 08 00 45 00
    00 3c 12 35 40 00 40 06 0f 9c 0a f4 01 02 0a f4
    02 02 9c 40 00 50 00 00 00 01 00 00 00 00 a0 02
    fa f0 93 aa 00 00 02 04 05 b4 04 02 08 0a 00 00
    03 e8 00 00 00 00 01 03 03 07";

/// DNS-ish datagram with an odd-length payload (exercises the checksum's last byte).
pub fn udp_frame() -> Frame {
    let udp = Udp {
        sport: 40000,
        dport: 53,
        payload: UdpPayload::Data(b"hello".to_vec()),
    };
    pod_ipv4(0x1236, "10.96.0.10", L4::Udp(udp))
}
pub const UDP_BYTES: &str = "
    0a 58 0a f4 01 01 0a 58 0a f4 01 02 08 00 45 00
    00 21 12 36 40 00 40 11 12 37 0a f4 01 02 0a 60
    00 0a 9c 40 00 35 00 0d 09 2d 68 65 6c 6c 6f";

pub fn arp_frame() -> Frame {
    Frame {
        dst: Mac::BROADCAST,
        src: POD_A,
        payload: L3::Arp(Arp {
            op: ArpOp::Request,
            sender_mac: POD_A,
            sender_ip: ip("10.244.1.2"),
            target_mac: Mac::ZERO,
            target_ip: ip("10.244.1.1"),
        }),
    }
}
pub const ARP_BYTES: &str = "
    ff ff ff ff ff ff 0a 58 0a f4 01 02 08 06 00 01
    08 00 06 04 00 01 0a 58 0a f4 01 02 0a f4 01 02
    00 00 00 00 00 00 0a f4 01 01";

/// `inner` carried node1 > node2 over flannel's VXLAN port 8472 with VNI 1.
pub fn vxlan(inner: Frame) -> Frame {
    let udp = Udp {
        sport: 51234,
        dport: 8472,
        payload: UdpPayload::Vxlan(Vxlan {
            vni: 1,
            inner: Box::new(inner),
        }),
    };
    Frame {
        dst: NODE2,
        src: NODE1,
        payload: L3::Ipv4(Ipv4 {
            tos: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            ttl: 64,
            src: ip("172.31.0.11"),
            dst: ip("172.31.0.12"),
            payload: L4::Udp(udp),
        }),
    }
}

pub fn vxlan_frame() -> Frame {
    vxlan(icmp_frame())
}
pub const VXLAN_BYTES: &str = "
    02 00 ac 1f 00 0c 02 00 ac 1f 00 0b 08 00 45 00
    00 56 00 00 00 00 40 11 22 42 ac 1f 00 0b ac 1f
    00 0c c8 22 21 18 00 42 80 3e 08 00 00 00 00 00
    01 00 0a 58 0a f4 01 01 0a 58 0a f4 01 02 08 00
    45 00 00 24 12 34 40 00 40 01 0f ba 0a f4 01 02
    0a f4 02 02 08 00 eb ed 00 01 00 01 00 01 02 03
    04 05 06 07";

/// Every fixture with its expected bytes.
pub fn all() -> Vec<(&'static str, Frame, Vec<u8>)> {
    vec![
        ("icmp", icmp_frame(), hex(ICMP_BYTES)),
        ("tcp syn", syn_frame(), hex(SYN_BYTES)),
        ("udp", udp_frame(), hex(UDP_BYTES)),
        ("arp", arp_frame(), hex(ARP_BYTES)),
        ("vxlan", vxlan_frame(), hex(VXLAN_BYTES)),
    ]
}
