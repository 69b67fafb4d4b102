//! A network namespace (`struct net`): its devices, addresses, routes, neighbours,
//! sysctls, listening sockets and netfilter tables.

use super::link::{IfIndex, Link, NsId};
use super::neigh::Neigh;
use super::route::{Route, RouteTable, RouteType};
use super::sysctl::Sysctls;
use crate::netfilter::conntrack::Conntrack;
use crate::netfilter::{Netfilter, XtState};
use crate::wire::Ipv4Net;
use crate::wire::{IpProtocol, Ipv4Addr};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NsKind {
    /// A node's host namespace.
    Node { node: String },
    /// A pod's namespace, shared by all its containers.
    Pod { namespace: String, name: String },
    /// The underlay switch joining the nodes' eth0.
    Switch,
    /// The gateway router between the underlay and the internet.
    Router,
    /// A host on the internet.
    Host { host: String },
}

/// Who owns a listening socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SocketOwner {
    /// A process in a container of the pod; `host_pod` names the pod when it is a
    /// hostNetwork pod, whose processes share their node's namespace.
    Container {
        container: String,
        host_pod: Option<String>,
    },
    /// The kernel's VXLAN socket of a device (`vxlan_sock`), handing datagrams to `vxlan_rcv`.
    Vxlan { device: IfIndex },
    /// A server process on an internet host.
    Host { host: String },
    /// A listener kpath assumes where the namespace's sockets are unknown (`Unknowns`).
    Assumed,
}

impl SocketOwner {
    /// A container's socket in words: `container nginx`, or `container c of hostNetwork
    /// pod ns/name`; None for other owners.
    pub fn container_words(&self) -> Option<String> {
        match self {
            SocketOwner::Container {
                container,
                host_pod: None,
            } => Some(format!("container {container}")),
            SocketOwner::Container {
                container,
                host_pod: Some(pod),
            } => Some(format!("container {container} of hostNetwork pod {pod}")),
            _ => None,
        }
    }
}

/// A socket: listening (`peer` None; `addr` 0.0.0.0 means any local address), or
/// connected to a peer (`ss -tn`). For ping sockets `port` is the echo id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub proto: IpProtocol,
    pub addr: Ipv4Addr,
    pub port: u16,
    pub peer: Option<(Ipv4Addr, u16)>,
    pub owner: SocketOwner,
}

/// What kpath does not know about a namespace and assumes instead. A scenario's worlds know
/// everything; a node rebuilt from its dumps (rules-only mode) does not hold its sockets,
/// its counters or, without `ipvsadm-save`, its IPVS table.
#[derive(Clone, Debug, Default)]
pub struct Unknowns {
    /// The listening sockets are unknown: a packet delivered locally is assumed to find a
    /// listener.
    pub sockets: bool,
    /// `-m statistic --mode nth` counters are unknown: both answers are outcomes, the match
    /// with probability 1/every.
    pub nth_counters: bool,
    /// The IPVS table is unknown on a node that runs IPVS: a packet that may be for a
    /// virtual service ends the walk undetermined where `ip_vs_in_hook` would look it up.
    pub ipvs_table: Option<IpvsUnknown>,
    /// The neighbour table holds only what the dump caught: a next hop missing from it is
    /// assumed to answer ARP (the node would ask and, for a live neighbour, get an answer),
    /// its MAC unknown.
    pub neighbours: bool,
    /// The routes are made up around a ruleset given alone: `-m rpfilter` cannot be
    /// evaluated and is assumed to pass.
    pub routes: bool,
}

/// How to tell a virtual-service address without the IPVS table: the sets that list them
/// (kube-proxy's KUBE-IPVS-IPS, KUBE-CLUSTER-IP, ...), each with the directions its
/// `--match-set` uses and the protocol it is for (None: any).
#[derive(Clone, Debug, Default)]
pub struct IpvsUnknown {
    pub candidate_sets: Vec<(String, Vec<bool>, Option<IpProtocol>)>,
}

/// A socket's path MTU discovery mode (`IP_MTU_DISCOVER`, `ip_dont_fragment`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pmtudisc {
    /// IP_PMTUDISC_DONT: DF never set; fragmented to fit.
    Dont,
    /// IP_PMTUDISC_WANT, every socket's default (net.ipv4.ip_no_pmtu_disc=0): DF on a
    /// datagram that fits the route's MTU; a larger one leaves without DF, in fragments.
    Want,
    /// IP_PMTUDISC_DO: DF always; a datagram over the route's MTU fails with EMSGSIZE.
    Do,
}

impl Pmtudisc {
    /// A scenario's `df:`: unset is the default mode, true `-M do`, false `-M dont`.
    pub fn from_df(df: Option<bool>) -> Pmtudisc {
        match df {
            None => Pmtudisc::Want,
            Some(true) => Pmtudisc::Do,
            Some(false) => Pmtudisc::Dont,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Netns {
    pub id: NsId,
    /// `node-1`, `default/web-0`, `underlay`.
    pub name: String,
    pub kind: NsKind,
    pub links: Vec<Link>,
    /// The highest device number handed out ([`Netns::add_link`]).
    last_ifindex: IfIndex,
    pub routes: super::Entries<Route>,
    pub neigh: super::Entries<Neigh>,
    pub sysctl: Sysctls,
    pub sockets: Vec<Socket>,
    /// The tables, shared between copies of the world: walks read them, never change them.
    pub netfilter: std::sync::Arc<Netfilter>,
    /// Connection tracking, where it is loaded (nodes: kube-proxy needs it).
    pub conntrack: Option<Conntrack>,
    /// State kept by stateful matches (`-m recent` lists, `-m statistic --mode nth`).
    pub xt: XtState,
    /// ipsets, for `-m set` (kube-proxy's IPVS mode).
    pub ipsets: std::sync::Arc<Vec<crate::netfilter::ipset::IpSet>>,
    /// IPVS, where virtual services exist (kube-proxy's IPVS mode); its hooks are
    /// registered only then (`ip_vs_register_hooks` on the first service).
    pub ipvs: Option<crate::ipvs::Ipvs>,
    /// What kpath assumes where it does not know.
    pub unknowns: Unknowns,
    /// Fragments waiting for the rest of their datagram.
    pub frags: super::ipfrag::FragQueues,
    /// The senders this namespace has sent an ICMP redirect (inet_peer's `n_redirects`).
    pub redirected: std::collections::BTreeSet<Ipv4Addr>,
}

impl Netns {
    pub fn new(id: NsId, name: impl Into<String>, kind: NsKind) -> Netns {
        Netns {
            id,
            name: name.into(),
            kind,
            links: Vec::new(),
            last_ifindex: 0,
            routes: Default::default(),
            neigh: Default::default(),
            sysctl: Sysctls::default(),
            sockets: Vec::new(),
            netfilter: Default::default(),
            conntrack: None,
            xt: XtState::default(),
            ipsets: Default::default(),
            ipvs: None,
            unknowns: Unknowns::default(),
            frags: Default::default(),
            redirected: Default::default(),
        }
    }

    pub fn link(&self, ifindex: IfIndex) -> Option<&Link> {
        self.link_position(ifindex).map(|i| &self.links[i])
    }

    pub fn link_mut(&mut self, ifindex: IfIndex) -> Option<&mut Link> {
        self.link_position(ifindex).map(|i| &mut self.links[i])
    }

    /// Where device `ifindex` is in `links`. `add_link` numbers devices in the order it adds
    /// them, so the list is sorted and a search finds it (the underlay switch of a
    /// cluster of thousands of nodes has a port per node); a list built otherwise is read
    /// through.
    fn link_position(&self, ifindex: IfIndex) -> Option<usize> {
        match self.links.binary_search_by_key(&ifindex, |l| l.ifindex) {
            Ok(i) => Some(i),
            Err(_) => self.links.iter().position(|l| l.ifindex == ifindex),
        }
    }

    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The device's name, or `if<N>` when it does not exist (never expected).
    pub fn dev_name(&self, ifindex: IfIndex) -> String {
        self.link(ifindex)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| format!("if{ifindex}"))
    }

    /// Add a device, giving it the next ifindex.
    pub fn add_link(&mut self, mut link: Link) -> IfIndex {
        // The next number after the highest in use (dev_new_index), kept rather than
        // searched for: the underlay switch of a large cluster has a port per node.
        self.last_ifindex = self
            .last_ifindex
            .max(self.links.last().map_or(0, |l| l.ifindex))
            + 1;
        link.ifindex = self.last_ifindex;
        let i = link.ifindex;
        self.links.push(link);
        i
    }

    /// `ip addr add`: assign the address and install its kernel routes.
    pub fn add_addr(&mut self, ifindex: IfIndex, addr: Ipv4Net) {
        if let Some(l) = self.link_mut(ifindex) {
            l.addrs.push(addr);
        }
        self.routes.extend(Route::for_address(addr, ifindex));
    }

    /// Is `ip` one of this namespace's own addresses (a `local` route)?
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        self.routes.iter().any(|r| {
            r.table == RouteTable::Local && r.rtype == RouteType::Local && r.dst.contains(ip)
        })
    }

    /// The first address of a device (`inet_select_addr` for a device with one address).
    pub fn primary_addr(&self, ifindex: IfIndex) -> Option<Ipv4Addr> {
        self.link(ifindex)
            .and_then(|l| l.addrs.first())
            .map(|a| a.addr)
    }
}
