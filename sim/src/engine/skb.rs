//! The packet in flight: its bytes (as a `Frame`) plus what the kernel keeps beside them in
//! `struct sk_buff`.

use crate::net::{IfIndex, NsId};
use crate::netfilter::conntrack::CtRef;
use crate::trace::Role;
use crate::wire::{Frame, Ipv4, L3};

#[derive(Clone, Debug)]
pub struct Skb {
    pub frame: Frame,
    /// The namespace the packet is in.
    pub ns: NsId,
    /// The device it arrived on (receive path) or leaves by (transmit path).
    pub dev: IfIndex,
    /// The input device of a forwarded packet (iptables `-i`), kept across routing.
    pub iif: Option<IfIndex>,
    /// `skb->mark`.
    pub mark: u32,
    /// br_netfilter already ran the IPv4 PREROUTING hook for this bridged frame, so
    /// `ip_sabotage_in` stops a second run when the bridge passes it up to the IP stack.
    pub br_nf_prerouted: bool,
    /// Bridge ports the frame came in and goes out by (`-m physdev`), while bridged.
    pub physin: Option<IfIndex>,
    pub physout: Option<IfIndex>,
    /// `skb->ipvs_property`: IPVS already handled this packet, so its hooks let it pass.
    pub ipvs_property: bool,
    /// `skb->_nfct`: the connection and direction conntrack assigned.
    pub ct: Option<CtRef>,
    /// `IPCB(skb)->frag_max_size`: a reassembled datagram's largest fragment, so a router
    /// that forwards it cuts it no larger than it arrived (`ip_do_fragment`).
    pub frag_max_size: u16,
    /// `skb->ignore_df`: may be fragmented locally even with DF set (a UDP socket in
    /// IP_PMTUDISC_WANT; a datagram conntrack reassembled).
    pub ignore_df: bool,
    pub role: Role,
}

impl Skb {
    pub fn ipv4(&self) -> Option<&Ipv4> {
        match &self.frame.payload {
            L3::Ipv4(ip) => Some(ip),
            L3::Arp(_) => None,
        }
    }

    pub fn ipv4_mut(&mut self) -> Option<&mut Ipv4> {
        match &mut self.frame.payload {
            L3::Ipv4(ip) => Some(ip),
            L3::Arp(_) => None,
        }
    }

    /// An empty skb in `ns`, for steps that happen before a packet exists (the resolver).
    pub fn probe(ns: NsId) -> Skb {
        Skb {
            frame: Frame {
                dst: crate::wire::Mac::ZERO,
                src: crate::wire::Mac::ZERO,
                payload: crate::wire::L3::Ipv4(Ipv4 {
                    tos: 0,
                    ident: 0,
                    dont_frag: false,
                    more_frags: false,
                    frag_offset: 0,
                    ttl: 0,
                    src: crate::wire::Ipv4Addr::UNSPECIFIED,
                    dst: crate::wire::Ipv4Addr::UNSPECIFIED,
                    payload: crate::wire::L4::Udp(crate::wire::Udp {
                        sport: 0,
                        dport: 0,
                        payload: crate::wire::UdpPayload::Data(Vec::new()),
                    }),
                }),
            },
            ns,
            dev: 0,
            iif: None,
            mark: 0,
            br_nf_prerouted: false,
            ipvs_property: false,
            physin: None,
            physout: None,
            ct: None,
            frag_max_size: 0,
            ignore_df: false,
            role: Role::Packet,
        }
    }

    /// `skb_scrub_packet`: what a packet forgets when it enters another namespace (veth) or
    /// a tunnel wraps or unwraps it: conntrack, bridge state; the mark only across
    /// namespaces (`xnet`).
    pub fn scrub(&mut self, xnet: bool) {
        if xnet {
            self.mark = 0;
        }
        self.iif = None;
        self.br_nf_prerouted = false;
        self.ipvs_property = false;
        self.physin = None;
        self.physout = None;
        self.ct = None;
        self.ignore_df = false;
        // Not skb_scrub_packet's, but every place that scrubs also clears the IP control
        // block: ip_rcv_core after a veth, iptunnel_xmit before an encapsulation.
        self.frag_max_size = 0;
    }
}
