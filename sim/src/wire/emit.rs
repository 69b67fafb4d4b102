//! Repr -> bytes. Every length is computed arithmetically first (`len`), one buffer of that
//! size is allocated and each layer fills its slice with `pnet_packet`'s setters; checksums
//! are computed last, innermost layer first, so each one covers final bytes.
//!
//! No padding to Ethernet's 60-byte minimum: the kernel's skb and a pcap capture on a veth
//! hold the unpadded frame (padding is added by a real NIC on the wire), so a 42-byte ARP
//! stays 42 bytes here.

// pnet's mutable packet constructors return None only for a buffer shorter than the
// header; every buffer here is cut to the packet's own `len()`, so no input reaches them.
#![allow(clippy::expect_used)]

use super::*;
use pnet_packet::Packet;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherType, EtherTypes, MutableEthernetPacket};
use pnet_packet::icmp::{self, IcmpCode, IcmpPacket, IcmpType, MutableIcmpPacket};
use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::{self, Ipv4Flags, Ipv4Packet, MutableIpv4Packet};
use pnet_packet::tcp::{self, MutableTcpPacket, TcpPacket};
use pnet_packet::udp::{self, MutableUdpPacket, UdpPacket};
use pnet_packet::vxlan::MutableVxlanPacket;

/// The buffers handed to the `Mutable*Packet` constructors are sized by `len()` above, so a
/// `None` here is a bug in this file, never a property of input.
const SIZED: &str = "buffer sized by len()";

/// TCP header options: at most 40 bytes (data offset is 4 bits of 32-bit words, RFC 9293).
const TCP_MAX_OPTIONS: usize = 40;
/// TCP option kind 1, No-Operation: pads the option list to a 32-bit boundary (RFC 9293).
const TCP_OPT_NOP: u8 = 1;
/// VXLAN flags byte with only the I bit (valid VNI) set (RFC 7348 section 5).
pub(crate) const VXLAN_FLAGS_I: u8 = 0x08;

#[allow(clippy::len_without_is_empty)] // a frame always has at least its Ethernet header
impl Frame {
    /// Bytes on the wire (without FCS or padding), computed without emitting.
    pub fn len(&self) -> usize {
        ETHERNET_HEADER_LEN
            + match &self.payload {
                L3::Ipv4(ip) => ip.total_len(),
                L3::Arp(_) => ARP_LEN,
            }
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut buf = vec![0; self.len()];
        self.emit_into(&mut buf);
        buf
    }

    /// Writes into a buffer of exactly `self.len()` bytes.
    fn emit_into(&self, buf: &mut [u8]) {
        let (head, rest) = buf.split_at_mut(ETHERNET_HEADER_LEN);
        let mut eth = MutableEthernetPacket::new(head).expect(SIZED);
        eth.set_destination(self.dst.0.into());
        eth.set_source(self.src.0.into());
        match &self.payload {
            L3::Ipv4(ip) => {
                eth.set_ethertype(EtherTypes::Ipv4);
                ip.emit_into(rest);
            }
            L3::Arp(arp) => {
                eth.set_ethertype(EtherType(ETHERTYPE_ARP));
                arp.emit_into(rest);
            }
        }
    }
}

impl Arp {
    /// RFC 826 for IPv4 over Ethernet: htype 1, ptype 0x0800, hlen 6, plen 4.
    fn emit_into(&self, buf: &mut [u8]) {
        let mut p = MutableArpPacket::new(buf).expect(SIZED);
        p.set_hardware_type(ArpHardwareTypes::Ethernet);
        p.set_protocol_type(EtherTypes::Ipv4);
        p.set_hw_addr_len(6);
        p.set_proto_addr_len(4);
        p.set_operation(match self.op {
            ArpOp::Request => ArpOperations::Request,
            ArpOp::Reply => ArpOperations::Reply,
        });
        p.set_sender_hw_addr(self.sender_mac.0.into());
        p.set_sender_proto_addr(self.sender_ip);
        p.set_target_hw_addr(self.target_mac.0.into());
        p.set_target_proto_addr(self.target_ip);
    }
}

impl Ipv4 {
    /// IPv4 total length field: 20-byte header (no options) + transport message.
    pub fn total_len(&self) -> usize {
        IPV4_HEADER_LEN + self.payload.len()
    }

    /// The protocol of the payload (the header's protocol field).
    pub fn protocol(&self) -> IpProtocol {
        match &self.payload {
            L4::Icmp(_) => IpProtocol::Icmp,
            L4::Tcp(_) => IpProtocol::Tcp,
            L4::Udp(_) => IpProtocol::Udp,
            L4::Fragment(f) => f.protocol,
        }
    }

    /// The datagram from the IP header on (what a tunnel or an ICMP error quotes).
    pub fn emit(&self) -> Vec<u8> {
        let mut buf = vec![0; self.total_len()];
        self.emit_into(&mut buf);
        buf
    }

    fn emit_into(&self, buf: &mut [u8]) {
        let total = self.total_len();
        debug_assert!(
            total <= usize::from(u16::MAX),
            "IPv4 datagram of {total} bytes"
        );
        let (head, rest) = buf.split_at_mut(IPV4_HEADER_LEN);
        self.payload.emit_into(rest, self.src, self.dst);
        let mut p = MutableIpv4Packet::new(head).expect(SIZED);
        p.set_version(4);
        p.set_header_length(5);
        p.set_dscp(self.tos >> 2);
        p.set_ecn(self.tos & 0b11);
        p.set_total_length(total as u16);
        p.set_identification(self.ident);
        let mut flags = 0;
        if self.dont_frag {
            flags |= Ipv4Flags::DontFragment;
        }
        if self.more_frags {
            flags |= Ipv4Flags::MoreFragments;
        }
        p.set_flags(flags);
        p.set_fragment_offset(self.frag_offset & 0x1fff);
        p.set_ttl(self.ttl);
        p.set_next_level_protocol(IpNextHeaderProtocol(self.protocol().number()));
        p.set_source(self.src);
        p.set_destination(self.dst);
        // RFC 791: one's-complement sum over the header only.
        let sum = ipv4::checksum(&Ipv4Packet::new(p.packet()).expect(SIZED));
        p.set_checksum(sum);
    }
}

impl Tcp {
    /// Option bytes as emitted: capped at 40, NOP-padded to a multiple of 4.
    fn options_len(&self) -> usize {
        self.options.len().min(TCP_MAX_OPTIONS).next_multiple_of(4)
    }
}

impl UdpPayload {
    fn len(&self) -> usize {
        match self {
            UdpPayload::Data(d) => d.len(),
            UdpPayload::Vxlan(v) => VXLAN_HEADER_LEN + v.inner.len(),
            UdpPayload::Dns(d) => d.len(),
        }
    }
}

#[allow(clippy::len_without_is_empty)] // every transport message has a header
impl L4 {
    /// Length of the transport message (header + data), i.e. the IPv4 payload length.
    pub fn len(&self) -> usize {
        match self {
            L4::Icmp(i) => ICMP_HEADER_LEN + i.data.len(),
            L4::Tcp(t) => TCP_HEADER_LEN + t.options_len() + t.payload.len(),
            L4::Udp(u) => UDP_HEADER_LEN + u.payload.len(),
            L4::Fragment(f) => f.data.len(),
        }
    }

    /// `src`/`dst` feed the TCP and UDP pseudo-header (RFC 9293 3.1, RFC 768).
    fn emit_into(&self, buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
        match self {
            L4::Icmp(i) => i.emit_into(buf),
            L4::Tcp(t) => t.emit_into(buf, src, dst),
            L4::Udp(u) => u.emit_into(buf, src, dst),
            L4::Fragment(f) => buf.copy_from_slice(&f.data),
        }
    }
}

impl Icmp {
    /// RFC 792; the checksum covers the whole ICMP message, header and data.
    fn emit_into(&self, buf: &mut [u8]) {
        // Bytes 4..8, the "rest of header", depend on the type.
        let (ty, code, rest): (u8, u8, [u8; 4]) = match self.msg {
            IcmpMessage::EchoRequest { ident, seq } => (8, 0, be_pair(ident, seq)),
            IcmpMessage::EchoReply { ident, seq } => (0, 0, be_pair(ident, seq)),
            // RFC 1191: bytes 4-5 unused, 6-7 next-hop MTU (0 for codes other than 4).
            IcmpMessage::DestUnreachable { code, next_hop_mtu } => {
                (3, code, be_pair(0, next_hop_mtu))
            }
            IcmpMessage::TimeExceeded { code } => (11, code, [0; 4]),
            IcmpMessage::Redirect { code, gateway } => (5, code, gateway.octets()),
        };
        buf[4..ICMP_HEADER_LEN].copy_from_slice(&rest);
        buf[ICMP_HEADER_LEN..].copy_from_slice(&self.data);
        let mut p = MutableIcmpPacket::new(buf).expect(SIZED);
        p.set_icmp_type(IcmpType(ty));
        p.set_icmp_code(IcmpCode(code));
        let sum = icmp::checksum(&IcmpPacket::new(p.packet()).expect(SIZED));
        p.set_checksum(sum);
    }
}

fn be_pair(a: u16, b: u16) -> [u8; 4] {
    let (a, b) = (a.to_be_bytes(), b.to_be_bytes());
    [a[0], a[1], b[0], b[1]]
}

impl Tcp {
    fn emit_into(&self, buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
        let opts = self.options_len();
        debug_assert!(
            self.options.len() <= TCP_MAX_OPTIONS,
            "TCP options over 40 bytes"
        );
        let kept = self.options.len().min(TCP_MAX_OPTIONS);
        let opt_area = &mut buf[TCP_HEADER_LEN..TCP_HEADER_LEN + opts];
        opt_area[..kept].copy_from_slice(&self.options[..kept]);
        opt_area[kept..].fill(TCP_OPT_NOP);
        buf[TCP_HEADER_LEN + opts..].copy_from_slice(&self.payload);
        let mut p = MutableTcpPacket::new(buf).expect(SIZED);
        p.set_source(self.sport);
        p.set_destination(self.dport);
        p.set_sequence(self.seq);
        p.set_acknowledgement(self.ack);
        p.set_data_offset(((TCP_HEADER_LEN + opts) / 4) as u8);
        p.set_reserved(0);
        p.set_flags(self.flags.0);
        p.set_window(self.window);
        p.set_urgent_ptr(0);
        let sum = tcp::ipv4_checksum(&TcpPacket::new(p.packet()).expect(SIZED), &src, &dst);
        p.set_checksum(sum);
    }
}

impl Udp {
    fn emit_into(&self, buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
        let body = &mut buf[UDP_HEADER_LEN..];
        match &self.payload {
            UdpPayload::Data(d) => body.copy_from_slice(d),
            UdpPayload::Vxlan(v) => {
                let (head, inner) = body.split_at_mut(VXLAN_HEADER_LEN);
                // RFC 7348 5: flags 0x08, 24 reserved bits, VNI, 8 reserved bits.
                let mut x = MutableVxlanPacket::new(head).expect(SIZED);
                x.set_flags(VXLAN_FLAGS_I);
                x.set_vni(v.vni & 0x00ff_ffff);
                v.inner.emit_into(inner);
            }
            UdpPayload::Dns(d) => d.emit_into(body),
        }
        let len = buf.len();
        let mut p = MutableUdpPacket::new(buf).expect(SIZED);
        p.set_source(self.sport);
        p.set_destination(self.dport);
        p.set_length(len as u16);
        let sum = udp::ipv4_checksum(&UdpPacket::new(p.packet()).expect(SIZED), &src, &dst);
        // RFC 768: a computed 0 is sent as all ones; 0 on the wire means "no checksum".
        p.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, *};
    use super::*;

    #[test]
    fn test_emit_fixtures() {
        for (name, frame, bytes) in fixtures::all() {
            assert_eq!(frame.emit(), bytes, "{name}");
            assert_eq!(frame.len(), bytes.len(), "{name}");
        }
    }

    #[test]
    fn ping_56_is_98_bytes_and_148_in_vxlan() {
        let mut f = ping(vec![0xa5; 56]);
        assert_eq!((f.len(), f.emit().len()), (98, 98));
        let v = vxlan(f.clone());
        let ip = ipv4_of(&mut f);
        assert_eq!(
            (ip.total_len(), ip.emit().len(), ip.payload.len()),
            (84, 84, 64)
        );
        assert_eq!((v.len(), v.emit().len()), (148, 148));
    }

    #[test]
    fn tcp_options_are_nop_padded() {
        let mut f = syn_frame();
        tcp_of(&mut f).options = hex("02 04 05 b4 03 03 07"); // MSS + wscale: 7 bytes
        let b = f.emit();
        let tcp = &b[ETHERNET_HEADER_LEN + IPV4_HEADER_LEN..];
        assert_eq!(tcp[12] >> 4, 7, "data offset (20 + 8) / 4");
        assert_eq!(&tcp[20..28], &hex("02 04 05 b4 03 03 07 01")[..]);
        assert_eq!(b.len(), f.len());
    }

    #[test]
    fn icmp_errors_layout() {
        let data: Vec<u8> = (0..28).collect();
        let mut f = ping(vec![]);
        let ip = ipv4_of(&mut f);
        let emit_as = |ip: &mut Ipv4, msg| {
            ip.payload = L4::Icmp(Icmp {
                msg,
                data: data.clone(),
            });
            ip.emit()
        };
        let b = emit_as(
            ip,
            IcmpMessage::DestUnreachable {
                code: 4,
                next_hop_mtu: 1450,
            },
        );
        assert_eq!(&b[20..22], &[3, 4]);
        assert_eq!(
            &b[24..28],
            &[0, 0, 0x05, 0xaa],
            "unused, then MTU (RFC 1191)"
        );
        assert_eq!(&b[28..], &data[..]);
        let b = emit_as(ip, IcmpMessage::TimeExceeded { code: 0 });
        assert_eq!(&b[20..22], &[11, 0]);
        assert_eq!(&b[24..28], &[0; 4]);
    }

    #[test]
    fn ip_flags_and_fragment_offset() {
        let mut f = udp_frame();
        let ip = ipv4_of(&mut f);
        (ip.dont_frag, ip.more_frags, ip.frag_offset, ip.tos) = (false, true, 185, 0xb8);
        let b = ip.emit();
        assert_eq!(b[1], 0xb8);
        assert_eq!(&b[6..8], &[0x20, 185], "MF, offset 185 (1480 bytes)");
    }

    #[test]
    fn udp_checksum_zero_is_sent_as_ffff() {
        // Vary the payload until the computed checksum is 0 (RFC 768: send 0xffff).
        for n in 0..=u16::MAX {
            let mut f = udp_frame();
            udp_of(&mut f).payload = UdpPayload::Data(n.to_be_bytes().to_vec());
            let b = ipv4_of(&mut f).emit();
            let udp = UdpPacket::new(&b[20..]).unwrap();
            assert_ne!(udp.get_checksum(), 0);
            if udp.get_checksum() == 0xffff {
                return;
            }
        }
        panic!("no payload gave a zero checksum");
    }
}
