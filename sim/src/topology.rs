//! The topology of a world, as a picture of it shows it: the nodes as boxes holding their pods
//! and devices (bridges, VXLAN devices, NICs, kube-ipvs0), the underlay segment, the gateway
//! and the internet hosts below them, the VXLAN tunnels between nodes, and the links joining
//! all of these (veth pairs, cables, a VXLAN device over its NIC). And, for a trace, where the
//! packet stands at a step, where it has been, and whether it is inside a tunnel then.
//!
//! Everything is read from the [`World`] (its namespaces, their kinds, devices, addresses and
//! peers), not from the scenario, so a node rebuilt from its dumps has a topology too. This is
//! the model the TUI's topology pane lays out, and what diagrams (SVG) will draw: they decide
//! only where and how to draw it.

use crate::net::{self, NsKind, World};
use crate::trace::{Step, Trace};
use crate::wire::{Ipv4Addr, Ipv4Net, L3, L4, UdpPayload};
use serde::Serialize;

/// A place a packet can stand: a namespace, and the device in it when a step names one.
/// A place without a device stands for the whole namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Place {
    pub netns: String,
    pub device: Option<String>,
}

impl Place {
    /// The whole namespace.
    pub fn ns(netns: &str) -> Place {
        Place {
            netns: netns.to_string(),
            device: None,
        }
    }

    /// One device of a namespace.
    pub fn dev(netns: &str, device: &str) -> Place {
        Place {
            netns: netns.to_string(),
            device: Some(device.to_string()),
        }
    }

    /// Is a packet standing at `at` inside what this place names? The same device, or
    /// anywhere in the namespace when this place names no device.
    pub fn covers(&self, at: &Place) -> bool {
        self.netns == at.netns && (self.device.is_none() || self.device == at.device)
    }
}

/// What a row of a node box is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A pod's namespace, on the node its veth pair leads to.
    Pod,
    /// A Linux bridge (cni0).
    Bridge,
    /// A VXLAN device (flannel.1).
    Vxlan,
    /// A NIC cabled to the underlay (eth0).
    Nic,
    /// A NIC whose far side is not modelled (a node rebuilt from its dumps).
    Uplink,
    /// A dummy device: kube-ipvs0, holding every Service address in IPVS mode.
    Dummy,
}

/// A pod or a device inside a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub kind: ItemKind,
    /// The pod's or the device's name.
    pub name: String,
    /// The words a picture prints for it: `pod client 10.244.1.2`, `cni0`,
    /// `kube-ipvs0 (2 VIPs)`.
    pub label: String,
    /// Where it is: a pod is its whole namespace, a device is itself.
    pub place: Place,
    /// Its addresses (a pod's outside loopback; a dummy's are the virtual services').
    pub addrs: Vec<Ipv4Net>,
}

/// A node: its host namespace with the devices a picture shows, and its pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeBox {
    pub name: String,
    pub netns: String,
    /// The node's address: its NIC's first.
    pub ip: Option<Ipv4Addr>,
    /// Pods first, in the world's order, then the devices in the order they were made.
    pub items: Vec<Item>,
}

impl NodeBox {
    /// Is a packet standing at `at` in this node: in its host namespace or in one of its
    /// pods?
    pub fn holds(&self, at: &Place) -> bool {
        at.netns == self.netns || self.items.iter().any(|i| i.place.netns == at.netns)
    }
}

/// The L2 segment joining the nodes' NICs (a switch in a namespace of its own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Underlay {
    pub netns: String,
    /// The segment's prefix, from the addresses of the NICs cabled to it.
    pub cidr: Option<Ipv4Net>,
    /// `underlay 172.31.0.0/24`.
    pub label: String,
}

/// A namespace outside the cluster: the gateway router, or a host on the internet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Host {
    pub name: String,
    pub netns: String,
    pub ip: Option<Ipv4Addr>,
    /// `gateway`, `internet: example`.
    pub label: String,
}

/// A VXLAN tunnel from one node to another: a node's VXLAN device sends frames for the
/// other node's VTEP to its address (a `bridge fdb ... dst` entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    pub from_node: String,
    pub to_node: String,
    /// The sending VXLAN device (flannel.1).
    pub device: String,
    pub vni: u32,
    pub dstport: u16,
    /// The outer source address (the sending node's) and destination (the other node's).
    pub local: Ipv4Addr,
    pub remote: Ipv4Addr,
}

/// How two places are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    /// A veth pair (a pod's eth0 and its end on the node's bridge; the gateway's link to an
    /// internet host).
    Veth,
    /// A cable: a NIC and its switch port on the underlay.
    Cable,
    /// A VXLAN device sending over its underlay device (`dev eth0`).
    Over,
}

/// A link between two places. An end that is a bridge port is drawn as its bridge, and
/// `via` names the port devices a packet crosses on the way (the host end of a pod's veth,
/// a NIC's switch port), so a step standing there can be shown on the link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    pub a: Place,
    pub b: Place,
    pub kind: LinkType,
    pub via: Vec<Place>,
}

impl Link {
    /// Is a packet standing at `at` on this link's ports (not at its ends)?
    pub fn carries(&self, at: &Place) -> bool {
        self.via.iter().any(|v| v.covers(at))
    }
}

/// Everything a picture of the world shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// The nodes, in the world's order.
    pub nodes: Vec<NodeBox>,
    pub underlay: Option<Underlay>,
    pub gateway: Option<Host>,
    pub internet: Vec<Host>,
    pub tunnels: Vec<Tunnel>,
    pub links: Vec<Link>,
}

/// A step's packet inside a VXLAN tunnel: the VXLAN header and the outer addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Encap {
    pub vni: u32,
    pub dstport: u16,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

/// How a place is to be shown at a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// The packet is here now.
    Here,
    /// The packet has been here (up to and including now).
    Been,
    /// Not yet, or never.
    Not,
}

/// Where the packet is at one step of a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Where it stands now (None past the end of the trace).
    pub here: Option<Place>,
    /// Where it has been, up to and including now ([`path`]).
    pub path: Vec<Place>,
    /// The tunnel it is inside now, if it is encapsulated.
    pub encap: Option<Encap>,
    /// That tunnel's ends, when they are nodes of the topology.
    pub tunnel: Option<Tunnel>,
}

impl Position {
    /// Is the packet now inside what `p` names?
    pub fn is_here(&self, p: &Place) -> bool {
        self.here.as_ref().is_some_and(|h| p.covers(h))
    }

    /// Has the packet been inside what `p` names, now or before?
    pub fn has_been(&self, p: &Place) -> bool {
        self.path.iter().any(|at| p.covers(at))
    }

    pub fn mark(&self, p: &Place) -> Mark {
        if self.is_here(p) {
            Mark::Here
        } else if self.has_been(p) {
            Mark::Been
        } else {
            Mark::Not
        }
    }

    /// Is the packet now in this node (its host namespace or one of its pods)?
    pub fn in_node(&self, n: &NodeBox) -> bool {
        self.here.as_ref().is_some_and(|h| n.holds(h))
    }
}

/// Where a step stands.
pub fn where_is(step: &Step) -> Place {
    Place {
        netns: step.netns.clone(),
        device: step.device.clone(),
    }
}

/// Where the packet stood in the first `upto` steps, in order, a place repeated by
/// consecutive steps given once.
pub fn path(trace: &Trace, upto: usize) -> Vec<Place> {
    let mut out: Vec<Place> = Vec::new();
    for s in trace.steps.iter().take(upto) {
        if out
            .last()
            .is_none_or(|p| p.netns != s.netns || p.device != s.device)
        {
            out.push(where_is(s));
        }
    }
    out
}

/// The tunnel a step's packet is inside: a UDP datagram carrying VXLAN.
pub fn encapsulation(step: &Step) -> Option<Encap> {
    let L3::Ipv4(ip) = &step.packet.payload else {
        return None;
    };
    let L4::Udp(u) = &ip.payload else {
        return None;
    };
    let UdpPayload::Vxlan(v) = &u.payload else {
        return None;
    };
    Some(Encap {
        vni: v.vni,
        dstport: u.dport,
        src: ip.src,
        dst: ip.dst,
    })
}

/// The first address of a namespace outside loopback.
fn first_addr(ns: &net::Netns) -> Option<Ipv4Addr> {
    addrs(ns).first().map(|a| a.addr)
}

fn addrs(ns: &net::Netns) -> Vec<Ipv4Net> {
    ns.links
        .iter()
        .filter(|l| !matches!(l.kind, net::LinkKind::Loopback))
        .flat_map(|l| l.addrs.iter().copied())
        .collect()
}

impl Topology {
    /// The topology of a world.
    pub fn of(world: &World) -> Topology {
        let mut t = Topology {
            nodes: world
                .netns
                .iter()
                .filter_map(|ns| match &ns.kind {
                    NsKind::Node { node } => Some(node_box(ns, node)),
                    _ => None,
                })
                .collect(),
            ..Topology::default()
        };
        // Pods go to the node their veth pair leads to.
        for ns in &world.netns {
            let NsKind::Pod { name, .. } = &ns.kind else {
                continue;
            };
            let node = ns.links.iter().filter_map(|l| l.kind.peer()).find_map(|p| {
                match &world.ns(p.ns).kind {
                    NsKind::Node { .. } => Some(world.ns(p.ns).name.clone()),
                    _ => None,
                }
            });
            let Some(nb) = node.and_then(|n| t.nodes.iter_mut().find(|b| b.netns == n)) else {
                continue;
            };
            let label = match first_addr(ns) {
                Some(ip) => format!("pod {name} {ip}"),
                None => format!("pod {name}"),
            };
            let pods = nb.items.iter().filter(|i| i.kind == ItemKind::Pod).count();
            nb.items.insert(
                pods,
                Item {
                    kind: ItemKind::Pod,
                    name: name.clone(),
                    label,
                    place: Place::ns(&ns.name),
                    addrs: addrs(ns),
                },
            );
        }
        for ns in &world.netns {
            match &ns.kind {
                NsKind::Switch if t.underlay.is_none() => t.underlay = Some(underlay(world, ns)),
                NsKind::Router if t.gateway.is_none() => {
                    t.gateway = Some(Host {
                        name: ns.name.clone(),
                        netns: ns.name.clone(),
                        ip: first_addr(ns),
                        label: "gateway".to_string(),
                    })
                }
                NsKind::Host { host } => t.internet.push(Host {
                    name: host.clone(),
                    netns: ns.name.clone(),
                    ip: first_addr(ns),
                    label: format!("internet: {host}"),
                }),
                _ => {}
            }
        }
        t.tunnels = tunnels(world, &t.nodes);
        t.links = links(world);
        t
    }

    /// The tunnel an encapsulated packet is inside, when both its ends are nodes.
    pub fn tunnel_of(&self, e: &Encap) -> Option<&Tunnel> {
        self.tunnels
            .iter()
            .find(|t| t.vni == e.vni && t.local == e.src && t.remote == e.dst)
    }

    /// Where the packet is at step `step` (0-based) of `trace`: the step's place, the path
    /// up to and including it, and the tunnel it is inside then.
    pub fn position(&self, trace: &Trace, step: usize) -> Position {
        let now = trace.steps.get(step);
        let encap = now.and_then(encapsulation);
        Position {
            here: now.map(where_is),
            path: path(trace, step.saturating_add(1)),
            tunnel: encap.and_then(|e| self.tunnel_of(&e)).cloned(),
            encap,
        }
    }

    /// The most rows any node box holds.
    pub fn most_items(&self) -> usize {
        self.nodes.iter().map(|n| n.items.len()).max().unwrap_or(0)
    }
}

/// A node's box with its devices (its pods are added by [`Topology::of`]).
fn node_box(ns: &net::Netns, node: &str) -> NodeBox {
    use net::LinkKind as K;
    let items = ns
        .links
        .iter()
        .filter_map(|l| {
            let kind = match l.kind {
                K::Bridge(_) => ItemKind::Bridge,
                K::Vxlan(_) => ItemKind::Vxlan,
                K::Ethernet { .. } => ItemKind::Nic,
                K::Uplink { .. } => ItemKind::Uplink,
                K::Dummy => ItemKind::Dummy,
                K::Loopback | K::Veth { .. } => return None,
            };
            let label = match kind {
                ItemKind::Dummy => format!("{} ({} VIPs)", l.name, l.addrs.len()),
                _ => l.name.clone(),
            };
            Some(Item {
                kind,
                name: l.name.clone(),
                label,
                place: Place::dev(&ns.name, &l.name),
                addrs: l.addrs.clone(),
            })
        })
        .collect();
    let ip = ns
        .links
        .iter()
        .filter(|l| matches!(l.kind, K::Ethernet { .. } | K::Uplink { .. }))
        .find_map(|l| l.addrs.first())
        .map(|a| a.addr);
    NodeBox {
        name: node.to_string(),
        netns: ns.name.clone(),
        ip,
        items,
    }
}

/// The switch namespace and the prefix of the NICs cabled to it.
fn underlay(world: &World, sw: &net::Netns) -> Underlay {
    let cidr = sw
        .links
        .iter()
        .filter_map(|l| l.kind.peer())
        .find_map(|p| world.link(p).and_then(|l| l.addrs.first()))
        .map(|a| a.network());
    let label = match cidr {
        Some(c) => format!("underlay {c}"),
        None => "underlay".to_string(),
    };
    Underlay {
        netns: sw.name.clone(),
        cidr,
        label,
    }
}

/// Every VXLAN device's remote VTEPs that are nodes, once per (from, to, device).
fn tunnels(world: &World, nodes: &[NodeBox]) -> Vec<Tunnel> {
    let mut out: Vec<Tunnel> = Vec::new();
    for n in nodes {
        let Some(ns) = world.ns_by_name(&n.netns) else {
            continue;
        };
        for l in &ns.links {
            let net::LinkKind::Vxlan(v) = &l.kind else {
                continue;
            };
            for f in &v.fdb {
                let Some(to) = nodes.iter().find(|m| m.ip == Some(f.dst)) else {
                    continue;
                };
                let t = Tunnel {
                    from_node: n.name.clone(),
                    to_node: to.name.clone(),
                    device: l.name.clone(),
                    vni: v.vni,
                    dstport: v.dstport,
                    local: v.local,
                    remote: f.dst,
                };
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// Veth pairs and cables (each once, a bridge port drawn as its bridge), and VXLAN devices
/// over their NICs.
fn links(world: &World) -> Vec<Link> {
    let mut out = Vec::new();
    // An end of a pair: the device, or its bridge when it is a port of one (then the port
    // is crossed on the way).
    let end = |ns: &net::Netns, l: &net::Link| -> (Place, Option<Place>) {
        match l.master.and_then(|m| ns.link(m)) {
            Some(br) => (
                Place::dev(&ns.name, &br.name),
                Some(Place::dev(&ns.name, &l.name)),
            ),
            None => (Place::dev(&ns.name, &l.name), None),
        }
    };
    for ns in &world.netns {
        for l in &ns.links {
            let kind = match l.kind {
                net::LinkKind::Veth { .. } => LinkType::Veth,
                net::LinkKind::Ethernet { .. } => LinkType::Cable,
                net::LinkKind::Vxlan(ref v) => {
                    out.push(Link {
                        a: Place::dev(&ns.name, &l.name),
                        b: Place::dev(&ns.name, &ns.dev_name(v.dev)),
                        kind: LinkType::Over,
                        via: Vec::new(),
                    });
                    continue;
                }
                _ => continue,
            };
            let Some(p) = l.kind.peer() else { continue };
            let Some(far) = world.link(p) else { continue };
            if (p.ns, p.ifindex) < (ns.id, l.ifindex) {
                continue; // seen from the other end
            }
            let (mut a, mut a_via) = end(ns, l);
            let (mut b, mut b_via) = end(world.ns(p.ns), far);
            // The bridged end (a switch, a node's bridge) is drawn as `b`.
            if a_via.is_some() && b_via.is_none() {
                std::mem::swap(&mut a, &mut b);
                std::mem::swap(&mut a_via, &mut b_via);
            }
            out.push(Link {
                a,
                b,
                kind,
                via: a_via.into_iter().chain(b_via).collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Role, StepKind};

    fn world(name: &str) -> (crate::Scenario, World) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../scenarios/{name}.yaml"));
        let s = crate::scenario::load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
        let w = crate::k8s::build_world(&s, 0).unwrap_or_else(|e| panic!("{e}"));
        (s, w)
    }

    fn labels(n: &NodeBox) -> Vec<&str> {
        n.items.iter().map(|i| i.label.as_str()).collect()
    }

    #[test]
    fn cross_node_has_two_nodes_with_their_pods_devices_and_tunnels() {
        let (_, w) = world("pod-to-pod-cross-node");
        let t = Topology::of(&w);
        let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node-1", "node-2"]);
        assert_eq!(t.nodes[0].ip, Some(Ipv4Addr::new(172, 31, 0, 11)));
        assert_eq!(t.nodes[1].ip, Some(Ipv4Addr::new(172, 31, 0, 12)));
        assert_eq!(
            labels(&t.nodes[0]),
            ["pod client 10.244.1.2", "eth0", "flannel.1", "cni0"]
        );
        assert_eq!(
            labels(&t.nodes[1]),
            ["pod server 10.244.2.2", "eth0", "flannel.1", "cni0"]
        );
        let kinds: Vec<ItemKind> = t.nodes[0].items.iter().map(|i| i.kind).collect();
        use ItemKind::*;
        assert_eq!(kinds, [Pod, Nic, Vxlan, Bridge]);
        assert_eq!(t.nodes[0].items[0].place, Place::ns("default/client"));
        assert_eq!(
            t.underlay.as_ref().map(|u| u.label.as_str()),
            Some("underlay 172.31.0.0/24")
        );
        assert!(t.gateway.is_none() && t.internet.is_empty());
        let ends: Vec<(&str, &str, u32, u16)> = t
            .tunnels
            .iter()
            .map(|t| (t.from_node.as_str(), t.to_node.as_str(), t.vni, t.dstport))
            .collect();
        assert_eq!(
            ends,
            [("node-1", "node-2", 1, 8472), ("node-2", "node-1", 1, 8472)]
        );
        assert_eq!(t.most_items(), 4);
    }

    #[test]
    fn links_join_pods_to_bridges_nics_to_the_underlay_and_vxlan_to_its_nic() {
        let (_, w) = world("pod-to-pod-cross-node");
        let t = Topology::of(&w);
        let has = |a: Place, b: Place, kind| {
            t.links
                .iter()
                .any(|l| l.a == a && l.b == b && l.kind == kind)
        };
        let pod = t
            .links
            .iter()
            .find(|l| l.a == Place::dev("default/client", "eth0"))
            .expect("the client's veth");
        assert_eq!(pod.b, Place::dev("node-1", "cni0"));
        assert_eq!(pod.kind, LinkType::Veth);
        let port = pod.via[0].clone();
        assert_eq!(port.netns, "node-1");
        assert!(pod.carries(&port) && !pod.carries(&pod.b));
        for n in ["node-1", "node-2"] {
            assert!(
                has(
                    Place::dev(n, "eth0"),
                    Place::dev("underlay", "br0"),
                    LinkType::Cable
                ),
                "{n}"
            );
            assert!(
                has(
                    Place::dev(n, "flannel.1"),
                    Place::dev(n, "eth0"),
                    LinkType::Over
                ),
                "{n}"
            );
        }
        assert!(has(
            Place::dev("default/server", "eth0"),
            Place::dev("node-2", "cni0"),
            LinkType::Veth
        ));
        assert_eq!(t.links.len(), 6);
    }

    #[test]
    fn the_ping_is_inside_the_tunnel_from_node_1_to_node_2_only_while_encapsulated() {
        let (s, w) = world("pod-to-pod-cross-node");
        let t = Topology::of(&w);
        let tr = crate::run_packet(&s, &w, "ping").unwrap();
        let encap = tr
            .steps
            .iter()
            .position(|s| s.kind == StepKind::Encap)
            .unwrap();
        let decap = tr
            .steps
            .iter()
            .position(|s| s.kind == StepKind::Decap)
            .unwrap();
        assert!(encap < decap);
        let first = t.position(&tr, 0);
        assert_eq!(first.here, Some(Place::ns("default/client")));
        assert!(first.encap.is_none() && first.tunnel.is_none());
        assert_eq!(first.mark(&t.nodes[0].items[0].place), Mark::Here);
        assert!(first.in_node(&t.nodes[0]) && !first.in_node(&t.nodes[1]));
        // The traced packet's steps between encapsulation and decapsulation (not the ARP
        // exchange for the next hop on the underlay).
        for i in (encap + 1..decap).filter(|&i| tr.steps[i].role == Role::Packet) {
            let p = t.position(&tr, i);
            let Some(tun) = &p.tunnel else {
                panic!("step {} {} not in the tunnel", i + 1, tr.steps[i].func)
            };
            assert_eq!(
                (tun.from_node.as_str(), tun.to_node.as_str()),
                ("node-1", "node-2")
            );
            let e = p.encap.unwrap();
            assert_eq!(
                (e.vni, e.dstport, e.src, e.dst),
                (
                    1,
                    8472,
                    Ipv4Addr::new(172, 31, 0, 11),
                    Ipv4Addr::new(172, 31, 0, 12)
                )
            );
        }
        let inner = t.position(&tr, decap + 1);
        assert!(inner.encap.is_none());
        // At the end the packet is in the server, and has been through both nodes' bridges.
        let last = t.position(&tr, tr.steps.len() - 1);
        assert!(last.in_node(&t.nodes[1]));
        for n in &t.nodes {
            let cni0 = n.items.iter().find(|i| i.name == "cni0").unwrap();
            assert_eq!(last.mark(&cni0.place), Mark::Been, "{}", n.name);
        }
        assert!(last.has_been(&Place::ns("underlay")));
        assert_eq!(last.path.first(), Some(&Place::ns("default/client")));
        // The path gives each run of steps at one place once.
        assert!(last.path.windows(2).all(|w| w[0] != w[1]));
        assert!(last.path.len() < tr.steps.len());
        // Past the end the packet is nowhere, but has been everywhere it went.
        let past = t.position(&tr, tr.steps.len());
        assert!(past.here.is_none() && past.path == last.path);
    }

    #[test]
    fn an_ipvs_node_lists_kube_ipvs0_with_its_vips_and_the_gateway() {
        let (_, w) = world("ipvs-clusterip");
        let t = Topology::of(&w);
        for n in &t.nodes {
            let d = n.items.last().unwrap();
            assert_eq!(d.kind, ItemKind::Dummy, "{}", n.name);
            assert_eq!(d.label, "kube-ipvs0 (2 VIPs)");
            assert_eq!(d.addrs.len(), 2);
        }
        assert_eq!(
            labels(&t.nodes[1]),
            [
                "pod web-b 10.244.2.4",
                "pod api-0 10.244.2.9",
                "eth0",
                "flannel.1",
                "cni0",
                "kube-ipvs0 (2 VIPs)"
            ]
        );
        assert_eq!(
            t.gateway.as_ref().map(|g| g.label.as_str()),
            Some("gateway")
        );
        assert_eq!(t.most_items(), 6);
    }

    #[test]
    fn internet_hosts_hang_off_the_gateway() {
        let (s, w) = world("pod-to-internet");
        let t = Topology::of(&w);
        let net = s.internet.as_ref().unwrap();
        let hosts: Vec<(&str, Option<Ipv4Addr>)> =
            t.internet.iter().map(|h| (h.name.as_str(), h.ip)).collect();
        let want: Vec<(&str, Option<Ipv4Addr>)> = net
            .hosts
            .iter()
            .map(|h| (h.name.value.as_str(), Some(h.ip.value)))
            .collect();
        assert_eq!(hosts, want);
        let g = t.gateway.as_ref().unwrap();
        assert_eq!(g.ip, Some(net.gateway.ip.value));
        for h in &t.internet {
            assert_eq!(h.label, format!("internet: {}", h.name));
            assert!(
                t.links
                    .iter()
                    .any(|l| l.a.netns == g.netns && l.b == Place::dev(&h.netns, "eth0"))
            );
        }
        assert!(
            t.links.iter().any(
                |l| l.a == Place::dev(&g.netns, "eth0") && l.b == Place::dev("underlay", "br0")
            )
        );
    }

    #[test]
    fn a_node_rebuilt_from_its_dumps_is_one_box_with_its_uplink() {
        let q = crate::rules_only::RulesQuery {
            src: Ipv4Addr::new(10, 0, 0, 9),
            dst: Ipv4Addr::new(10, 0, 0, 5),
            dport: 80,
            proto: crate::wire::IpProtocol::Tcp,
            local_ips: vec![Ipv4Addr::new(10, 0, 0, 5)],
            iif: Some("eth0".into()),
            oif: Some("eth0".into()),
            sets: Vec::new(),
            ipvs: None,
        };
        let d = crate::rules_only::build(Default::default(), &q, false);
        let t = Topology::of(&d.world);
        assert_eq!(t.nodes.len(), 1);
        assert_eq!(t.nodes[0].ip, Some(Ipv4Addr::new(10, 0, 0, 5)));
        assert_eq!(labels(&t.nodes[0]), ["eth0"]);
        assert_eq!(t.nodes[0].items[0].kind, ItemKind::Uplink);
        assert!(t.underlay.is_none() && t.tunnels.is_empty() && t.links.is_empty());
    }
}
