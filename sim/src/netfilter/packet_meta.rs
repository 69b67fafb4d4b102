//! What a rule can see: the packet's fields and marks as netfilter passes them to a
//! table (`PacketMeta`), conntrack's view of it (`CtView`), and what the rules ask of the
//! namespace around them (`RuleEnv`). Read by the walk (`eval`) and by the words that say
//! why a rule matched or not (`why`).

use super::rule::{AddrType, CtState, Recent};
use crate::wire::{IpProtocol, Ipv4};
use std::net::Ipv4Addr;

/// Conntrack's view of the packet, for `-m conntrack` and `-m state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtView {
    pub state: CtState,
    /// The original direction's destination (`--ctorigdst`, `--ctorigdstport`).
    pub orig_dst: Ipv4Addr,
    pub orig_dport: u16,
    pub dnat: bool,
    pub snat: bool,
    /// The packet travels in the reply direction.
    pub reply: bool,
    /// The connection's mark (`ct->mark`: `-m connmark`, `-j CONNMARK`).
    pub mark: u32,
}

/// What the rules can see of a packet.
#[derive(Clone, Debug)]
pub struct PacketMeta<'a> {
    pub ip: &'a Ipv4,
    pub iif: Option<&'a str>,
    pub oif: Option<&'a str>,
    /// Bridge ports, for `-m physdev` (br_netfilter sets them for bridged frames).
    pub physin: Option<&'a str>,
    pub physout: Option<&'a str>,
    pub mark: u32,
    /// None: no conntrack entry (`--ctstate INVALID` matches it).
    pub ct: Option<CtView>,
    /// `skb->ipvs_property`: IPVS handled the packet.
    pub ipvs_property: bool,
    /// The virtual service (protocol, address, port) of the IPVS connection whose request
    /// this packet is, after IPVS sent it to the real server (what xt_ipvs finds with
    /// `conn_out_get` on the inverted packet).
    pub ipvs_vs: Option<(IpProtocol, Ipv4Addr, u16)>,
}

/// What the rules ask of the world around them.
pub trait RuleEnv {
    /// Should the walk say why each rule it met did not match ([`super::why::Reasons::passed`])?
    fn why_not(&self) -> bool {
        false
    }
    /// `inet_addr_type` in the namespace: LOCAL for its own addresses, BROADCAST, ...
    fn addr_type(&self, ip: Ipv4Addr) -> AddrType;
    /// Is the packet's (ip, port, ip...) in ipset `name`? None when there is no such set.
    fn in_set(&self, name: &str, dirs: &[bool], meta: &PacketMeta) -> Option<bool>;
    /// `-m recent`: run the command against the named list; true when it matches.
    fn recent(&mut self, r: &Recent, addr: Ipv4Addr) -> bool;
    /// `-m statistic --mode random`: true with probability `stored / 2^31` (the kernel's
    /// `(get_random_u32() & 0x7FFFFFFF) < probability`).
    fn random(&mut self, stored: u32) -> bool;
    /// `-m statistic --mode nth`: this rule's packet counter (keyed by table/chain/position).
    fn nth(&mut self, key: &str, every: u32, packet: u32) -> bool;
    /// Where REDIRECT sends the packet (nf_nat_redirect_ipv4): 127.0.0.1 for the node's own
    /// packets, else the incoming device's first address; None when it has none (dropped).
    fn redirect_addr(&self) -> Option<Ipv4Addr> {
        None
    }
    /// Does the packet have a local socket (`skb_to_full_sk`): the node's own packet at
    /// LOCAL_OUT or POSTROUTING. Its owner is taken as uid 0, gid 0: kpath models no users.
    fn local_socket(&self) -> bool {
        false
    }
    /// `-m rpfilter` before its `--invert` (rpfilter_mt): None when the namespace's routes
    /// are not known (a ruleset without its node), and the answer assumes it passes.
    fn rpfilter(&self, _ip: &Ipv4, _mark: u32, _r: &super::rule::Rpfilter) -> Option<bool> {
        None
    }
}
