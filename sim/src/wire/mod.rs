//! Packet bytes. Plain `Repr`-style structs (in the manner of smoltcp's `wire`) that the
//! engine reads and rewrites, emitted to and parsed from real bytes with `pnet_packet`.
//!
//! The engine never edits bytes in place: it changes a header field in the struct and the
//! bytes (with fresh checksums) are emitted when a renderer or the pcap writer asks for them.
//! `Frame::parse(&frame.emit())` gives the frame back, which the tests hold to.

pub mod dns;
mod emit;
pub mod fields;
#[cfg(test)]
mod fixtures;
mod fmt;
mod fragment;
mod ipv4_net;
mod parse;
pub mod pcapng;
mod protocol;

pub use fmt::ParseMacError;
pub use fragment::{Reassembly, reassemble};
pub use ipv4_net::Ipv4Net;
pub use protocol::IpProtocol;

use serde::Serialize;
pub use std::net::Ipv4Addr;

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    pub const ZERO: Mac = Mac([0; 6]);
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }
    /// Group bit (I/G) set: broadcast or multicast.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERNET_HEADER_LEN: usize = 14;
/// ARP body for IPv4 over Ethernet (RFC 826): 8 fixed bytes + 2 * (6 + 4) addresses.
pub const ARP_LEN: usize = 28;
pub const IPV4_HEADER_LEN: usize = 20;
pub const UDP_HEADER_LEN: usize = 8;
pub const VXLAN_HEADER_LEN: usize = 8;
pub const ICMP_HEADER_LEN: usize = 8;
pub const TCP_HEADER_LEN: usize = 20;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

/// An Ethernet II frame (no 802.1Q tag, no FCS: what pcap and the kernel's skb hold).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Frame {
    pub dst: Mac,
    pub src: Mac,
    pub payload: L3,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum L3 {
    Ipv4(Ipv4),
    Arp(Arp),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArpOp {
    Request,
    Reply,
}

/// ARP for IPv4 over Ethernet (htype 1, ptype 0x0800, hlen 6, plen 4).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Arp {
    pub op: ArpOp,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

/// An IPv4 datagram with a 20-byte header (no options). Version, IHL, total length, protocol
/// and header checksum are derived when emitting.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ipv4 {
    /// DSCP and ECN byte.
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    pub ttl: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub payload: L4,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum L4 {
    Icmp(Icmp),
    Tcp(Tcp),
    Udp(Udp),
    /// One piece of a fragmented datagram (the header's MF bit or offset is set).
    Fragment(Fragment),
}

/// The payload of one IPv4 fragment (RFC 791): the transport message's bytes from
/// `frag_offset * 8` on, unparsed. Only the first fragment holds the transport header, and
/// the kernel reads it only after reassembly (`ip_defrag`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Fragment {
    /// The datagram's protocol, which every fragment's header repeats.
    pub protocol: IpProtocol,
    pub data: Vec<u8>,
}

/// ICMP message. For errors, `data` holds the offending datagram's IP header and first
/// 8 payload bytes (RFC 792), as `icmp_send` copies them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Icmp {
    pub msg: IcmpMessage,
    pub data: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IcmpMessage {
    EchoRequest {
        ident: u16,
        seq: u16,
    },
    EchoReply {
        ident: u16,
        seq: u16,
    },
    /// Type 3. Code 3 = port unreachable, 4 = fragmentation needed (with `next_hop_mtu`).
    DestUnreachable {
        code: u8,
        next_hop_mtu: u16,
    },
    /// Type 11, code 0 = TTL exceeded in transit.
    TimeExceeded {
        code: u8,
    },
    /// Type 5. Code 1 = redirect for the host (the only kind Linux sends); bytes 4..8 hold
    /// the better first hop (RFC 792).
    Redirect {
        code: u8,
        gateway: Ipv4Addr,
    },
}

/// TCP flag bits as they sit in byte 13 of the header.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub fn has(&self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Tcp {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Raw option bytes; length is a multiple of 4 (the emitter pads with NOP otherwise).
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Udp {
    pub sport: u16,
    pub dport: u16,
    pub payload: UdpPayload,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum UdpPayload {
    Data(Vec<u8>),
    Vxlan(Vxlan),
    /// A DNS query or answer (to or from port 53); boxed, as every step keeps a frame and
    /// few frames are DNS.
    Dns(Box<dns::Dns>),
}

/// RFC 7348 header: flags `08` (I bit), 24 reserved bits, 24-bit VNI, 8 reserved bits.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Vxlan {
    pub vni: u32,
    pub inner: Box<Frame>,
}

/// Why bytes did not parse back into a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("{layer}: truncated ({have} bytes, need {need})")]
    Truncated {
        layer: &'static str,
        have: usize,
        need: usize,
    },
    #[error("{layer}: bad checksum (stored {stored:#06x}, computed {computed:#06x})")]
    BadChecksum {
        layer: &'static str,
        stored: u16,
        computed: u16,
    },
    #[error("{layer}: unsupported {what} {value}")]
    Unsupported {
        layer: &'static str,
        what: &'static str,
        value: u32,
    },
}
