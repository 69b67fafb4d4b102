//! A node rebuilt from its dumps: one network namespace holding the dumped iptables tables,
//! ipsets and IPVS table, the addresses given (and, on an IPVS node, kube-ipvs0's), lo, and
//! the uplinks packets arrive on and leave by. What the dumps do not hold (sockets, nth
//! counters, an IPVS table not given) is marked unknown, so the engine assumes it openly.

use super::RulesQuery;
use crate::engine::{Injection, Origin};
use crate::net::{
    IfIndex, IpvsUnknown, Link, LinkKind, Netns, NsId, NsKind, Route, Unknowns, World,
};
use crate::netfilter::Netfilter;
use crate::netfilter::conntrack::Conntrack;
use crate::node_dump::NodeState;
use crate::wire::{
    Icmp, IcmpMessage, IpProtocol, Ipv4, Ipv4Addr, Ipv4Net, L4, Mac, Tcp, TcpFlags, Udp, UdpPayload,
};
use std::sync::Arc;

/// The node and the question's packet, ready to walk.
pub struct DumpedNode {
    pub world: World,
    pub ns: NsId,
    pub packet: Injection,
    /// Where the packet entered a node rebuilt from its whole dump, and why, in words.
    pub arrival: Option<String>,
}

fn link(name: &str, kind: LinkKind, n: u8, mtu: u32) -> Link {
    Link {
        ifindex: 0,
        name: name.to_string(),
        kind,
        mac: Mac([0x02, 0, 0, 0, 0, n]),
        mtu,
        addrs: Vec::new(),
        master: None,
        hairpin: false,
        up: true,
    }
}

/// An uplink named as the question names it, or unnamed (iptables then sees no name).
fn uplink(ns: &mut Netns, given: Option<&str>, unnamed: &str, n: u8) -> IfIndex {
    let kind = LinkKind::Uplink {
        name_known: given.is_some(),
    };
    ns.add_link(link(given.unwrap_or(unnamed), kind, n, 1500))
}

/// The sets kube-proxy's IPVS mode lists virtual-service addresses in, with the directions
/// its rules match them by and the protocol each is for: without the IPVS table, a packet
/// in one of them may be for a virtual service.
pub(super) fn kube_proxy_vip_sets() -> Vec<(String, Vec<bool>, Option<IpProtocol>)> {
    let set = |name: &str, dirs: &[bool], proto| (name.to_string(), dirs.to_vec(), proto);
    let tcp = Some(IpProtocol::Tcp);
    let udp = Some(IpProtocol::Udp);
    vec![
        set("KUBE-IPVS-IPS", &[false], None),
        set("KUBE-CLUSTER-IP", &[false, false], None),
        set("KUBE-EXTERNAL-IP", &[false, false], None),
        set("KUBE-EXTERNAL-IP-LOCAL", &[false, false], None),
        set("KUBE-LOAD-BALANCER", &[false, false], None),
        set("KUBE-NODE-PORT-TCP", &[false], tcp),
        set("KUBE-NODE-PORT-LOCAL-TCP", &[false], tcp),
        set("KUBE-NODE-PORT-UDP", &[false], udp),
        set("KUBE-NODE-PORT-LOCAL-UDP", &[false], udp),
    ]
}

/// The namespace `node` with the dumps' state, and where the question's packet starts: sent
/// by the node when its source is one of the node's addresses, else arriving on the uplink.
pub fn build(
    nf: Arc<Netfilter>,
    q: &RulesQuery,
    ipvs_mode: bool,
    state: Option<&NodeState>,
) -> DumpedNode {
    if let Some(state) = state {
        return from_state(nf, q, ipvs_mode, state);
    }
    let mut world = World::new(0);
    let id = world.add_netns(|id| {
        Netns::new(
            id,
            "node",
            NsKind::Node {
                node: "node".into(),
            },
        )
    });
    let ns = world.ns_mut(id);
    let lo = ns.add_link(link("lo", LinkKind::Loopback, 1, 65536));
    ns.add_addr(lo, Ipv4Net::new(Ipv4Addr::LOCALHOST, 8));
    // Packets arrive on one uplink and leave by another when the question names them apart.
    let inside = uplink(ns, q.iif.as_deref(), "uplink", 2);
    let outside = if q.oif == q.iif {
        inside
    } else {
        let unnamed = if q.iif.as_deref() == Some("uplink") {
            "uplink-out"
        } else {
            "uplink"
        };
        uplink(ns, q.oif.as_deref(), unnamed, 3)
    };
    for ip in q.local_ips.iter().filter(|i| !i.is_loopback()) {
        ns.add_addr(inside, Ipv4Net::new(*ip, 32));
    }
    let bound = super::ipvs_addresses(q);
    if !bound.is_empty() {
        // kube-proxy's dummy device, kept down, holding every virtual-service address.
        let mut dev = link("kube-ipvs0", LinkKind::Dummy, 4, 1500);
        dev.up = false;
        let dev = ns.add_link(dev);
        for ip in bound {
            ns.add_addr(dev, Ipv4Net::new(ip, 32));
        }
    }
    ns.routes.push(Route::via(
        Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0),
        None,
        outside,
        false,
    ));
    ns.sysctl.ip_forward = true;
    load(ns, nf, q, ipvs_mode);
    let origin = if q.is_local(q.src) {
        Origin::Sent { ns: id }
    } else {
        Origin::Arrives {
            ns: id,
            dev: inside,
        }
    };
    DumpedNode {
        world,
        ns: id,
        packet: Injection {
            name: "query".into(),
            origin,
            packet: packet(q),
        },
        arrival: None,
    }
}

/// The dumps' state every node holds: the tables, conntrack, the ipsets, IPVS, and what
/// a dump cannot hold (sockets, counters, an IPVS table not given).
fn load(ns: &mut Netns, nf: Arc<Netfilter>, q: &RulesQuery, ipvs_mode: bool) {
    ns.netfilter = nf;
    ns.conntrack = Some(Conntrack::default());
    ns.ipsets = q.sets.clone().into();
    ns.ipvs = q.ipvs.clone();
    ns.unknowns = Unknowns {
        sockets: true,
        nth_counters: true,
        ipvs_table: (ipvs_mode && q.ipvs.is_none()).then(|| IpvsUnknown {
            candidate_sets: kube_proxy_vip_sets(),
        }),
        neighbours: false,
        routes: true,
    };
}

/// The node as its whole dump shows it: its own devices, addresses, routes, neighbours,
/// FDBs and sysctls decide where the packet enters and leaves.
fn from_state(
    nf: Arc<Netfilter>,
    q: &RulesQuery,
    ipvs_mode: bool,
    state: &NodeState,
) -> DumpedNode {
    let mut world = World::new(0);
    let id = world.add_netns(|id| {
        let mut ns = state.ns.clone();
        ns.id = id;
        ns
    });
    let ns = world.ns_mut(id);
    load(ns, nf, q, ipvs_mode);
    ns.unknowns.neighbours = true;
    ns.unknowns.routes = false;
    let ns = world.ns(id);
    let sent = ns.is_local(q.src) || q.local_ips.contains(&q.src) || q.src.is_loopback();
    let (origin, packet, arrival) = if sent {
        let words = format!("sent by the node: {} is one of its addresses", q.src);
        (Origin::Sent { ns: id }, packet(q), words)
    } else {
        let a = super::arrival::arrival(ns, id, packet(q), q.iif.as_deref());
        (a.origin, a.packet, a.words)
    };
    DumpedNode {
        world,
        ns: id,
        packet: Injection {
            name: "query".into(),
            origin,
            packet,
        },
        arrival: Some(arrival),
    }
}

/// The first packet of a new connection: a SYN, a UDP datagram or an echo request.
fn packet(q: &RulesQuery) -> Ipv4 {
    let payload = match q.proto {
        IpProtocol::Tcp => L4::Tcp(Tcp {
            sport: 40000,
            dport: q.dport,
            seq: 1,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            // A Linux SYN's MSS for the 1500-byte devices of this node (TCPMSS reads it).
            options: vec![2, 4, 0x05, 0xb4],
            payload: Vec::new(),
        }),
        IpProtocol::Udp => L4::Udp(Udp {
            sport: 40000,
            dport: q.dport,
            payload: UdpPayload::Data(Vec::new()),
        }),
        _ => L4::Icmp(Icmp {
            msg: IcmpMessage::EchoRequest { ident: 1, seq: 1 },
            data: Vec::new(),
        }),
    };
    Ipv4 {
        tos: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        ttl: 64,
        src: q.src,
        dst: q.dst,
        payload,
    }
}
