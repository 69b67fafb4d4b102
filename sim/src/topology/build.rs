//! Reading a [`Topology`] out of a [`World`]: its namespaces' kinds, devices, addresses,
//! peers and VXLAN forwarding entries.

use super::{Host, Item, ItemKind, Link, LinkType, NodeBox, Place, Topology, Tunnel, Underlay};
use crate::net::{self, NsKind, World};
use crate::wire::{Ipv4Addr, Ipv4Net};

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
