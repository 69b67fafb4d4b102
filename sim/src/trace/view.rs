//! A packet's headers flattened for machines and for comparisons: the JSON trace prints it,
//! scenario expectations and `kpath verify` compare it. The VXLAN outer headers sit under
//! `outer`, the inner packet's at the top.

use crate::wire::{Frame, Ipv4, L3, L4, UdpPayload};
use serde::Serialize;

/// The headers of a packet, flattened for machines.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct PacketView {
    pub eth_src: String,
    pub eth_dst: String,
    /// `icmp`, `tcp`, `udp` or `arp` (of the inner packet when encapsulated).
    pub proto: &'static str,
    pub src: String,
    pub dst: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// IP total length (ARP: 28).
    pub len: usize,
    /// Bytes of the whole frame on the wire (without FCS).
    pub frame_len: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp: Option<String>,
    /// A DNS message, as tcpdump prints it (`4660+ A? web.default.svc.cluster.local. (47)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<String>,
    /// A fragment's place, as tcpdump -v prints it: `ident:offset`, `+` while more follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fragment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outer: Option<OuterView>,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct OuterView {
    pub eth_src: String,
    pub eth_dst: String,
    pub src: String,
    pub dst: String,
    pub udp_sport: u16,
    pub udp_dport: u16,
    pub vni: u32,
    pub ttl: u8,
    pub len: usize,
}

impl PacketView {
    pub fn of(f: &Frame) -> PacketView {
        let frame_len = f.len();
        match &f.payload {
            L3::Ipv4(ip) => {
                if let L4::Udp(u) = &ip.payload
                    && let UdpPayload::Vxlan(v) = &u.payload
                {
                    let mut inner = PacketView::of(&v.inner);
                    inner.frame_len = frame_len;
                    inner.outer = Some(OuterView {
                        eth_src: f.src.to_string(),
                        eth_dst: f.dst.to_string(),
                        src: ip.src.to_string(),
                        dst: ip.dst.to_string(),
                        udp_sport: u.sport,
                        udp_dport: u.dport,
                        vni: v.vni,
                        ttl: ip.ttl,
                        len: ip.total_len(),
                    });
                    return inner;
                }
                ipv4_view(f, ip, frame_len)
            }
            L3::Arp(a) => PacketView {
                eth_src: f.src.to_string(),
                eth_dst: f.dst.to_string(),
                proto: "arp",
                src: a.sender_ip.to_string(),
                dst: a.target_ip.to_string(),
                sport: None,
                dport: None,
                ttl: None,
                len: crate::wire::ARP_LEN,
                frame_len,
                tcp_flags: None,
                icmp: None,
                dns: None,
                fragment: None,
                outer: None,
            },
        }
    }
}

fn ipv4_view(f: &Frame, ip: &Ipv4, frame_len: usize) -> PacketView {
    let (proto, sport, dport, flags, icmp) = match &ip.payload {
        L4::Icmp(i) => ("icmp", None, None, None, Some(i.msg.to_string())),
        L4::Tcp(t) => (
            "tcp",
            Some(t.sport),
            Some(t.dport),
            Some(t.flags.to_string()),
            None,
        ),
        L4::Udp(u) => ("udp", Some(u.sport), Some(u.dport), None, None),
        L4::Fragment(fr) => {
            let ports = ip.l4_ports();
            (
                fr.protocol.name(),
                ports.map(|p| p.0),
                ports.map(|p| p.1),
                None,
                None,
            )
        }
    };
    PacketView {
        eth_src: f.src.to_string(),
        eth_dst: f.dst.to_string(),
        proto,
        src: ip.src.to_string(),
        dst: ip.dst.to_string(),
        sport,
        dport,
        ttl: Some(ip.ttl),
        len: ip.total_len(),
        frame_len,
        tcp_flags: flags,
        icmp,
        dns: match &ip.payload {
            L4::Udp(u) => match &u.payload {
                UdpPayload::Dns(d) => Some(d.to_string()),
                _ => None,
            },
            _ => None,
        },
        fragment: ip.is_fragment().then(|| {
            format!(
                "{}:{}{}",
                ip.ident,
                ip.frag_offset_bytes(),
                if ip.more_frags { "+" } else { "" }
            )
        }),
        outer: None,
    }
}
