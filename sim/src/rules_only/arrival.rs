//! Where a packet from another host enters a node rebuilt from its whole dump: the node's
//! own tables say. The route back to the source names the device (the path rp_filter
//! checks too); on a bridge, the neighbour table gives the source's MAC and the bridge's
//! FDB the port it sits behind; through a VXLAN device, the neighbour entry of the route's
//! gateway gives the remote VTEP's MAC and the device's FDB the remote node's address, so
//! the packet arrives encapsulated on the underlay device, as it does on the wire.

use crate::engine::{Origin, VxlanOuter, encapsulate, flow_hash, udp_flow_src_port};
use crate::net::{LinkKind, Netns, NsId, neigh, route};
use crate::wire::{Frame, Ipv4, Ipv4Addr, L3, Mac};

/// The packet as it arrives, where, and the reasoning in words.
pub struct Arrival {
    pub origin: Origin,
    pub packet: Ipv4,
    pub words: String,
}

/// The arrival of `ip` (from a source that is not the node) on the node `ns`, or on
/// `iif` when the question names the device.
pub fn arrival(ns: &Netns, id: NsId, ip: Ipv4, iif: Option<&str>) -> Arrival {
    if let Some(l) = iif.and_then(|n| ns.link_by_name(n)) {
        return on(
            id,
            l.ifindex,
            Mac::ZERO,
            l.mac,
            ip,
            format!("arrives on {} (--in-iface)", l.name),
        );
    }
    let Some(rt) = route::lookup(&ns.routes, ip.src).cloned() else {
        let first = ns
            .links
            .iter()
            .find(|l| matches!(l.kind, LinkKind::Uplink { .. }))
            .or(ns.links.first());
        let (dev, mac, name) = first.map_or((0, Mac::ZERO, "?".to_string()), |l| {
            (l.ifindex, l.mac, l.name.clone())
        });
        let words = format!(
            "the node has no route back to {}: assumed to arrive on {name} (give --in-iface)",
            ip.src
        );
        return on(id, dev, Mac::ZERO, mac, ip, words);
    };
    let Some(dev) = ns.link(rt.dev) else {
        return on(id, rt.dev, Mac::ZERO, Mac::ZERO, ip, String::new());
    };
    let hop = rt.via.unwrap_or(ip.src);
    let hop_mac = neigh::lookup(&ns.neigh, dev.ifindex, hop).and_then(|n| n.lladdr);
    let by_route = format!("the route back to {} is by {}", ip.src, dev.name);
    match &dev.kind {
        LinkKind::Bridge(br) => {
            let port = hop_mac
                .and_then(|m| br.lookup(m))
                .filter(|e| !e.local)
                .and_then(|e| ns.link(e.port));
            match (hop_mac, port) {
                (Some(m), Some(p)) => on(
                    id,
                    p.ifindex,
                    m,
                    dev.mac,
                    ip,
                    format!(
                        "arrives on {} (a port of {}): {by_route}, the neighbour table has {hop} as {m}, and {}'s FDB has {m} on {}",
                        p.name, dev.name, dev.name, p.name
                    ),
                ),
                _ => {
                    let first = ns
                        .links
                        .iter()
                        .find(|l| l.master == Some(dev.ifindex) && l.up);
                    let why = if hop_mac.is_none() {
                        format!("{hop} is not in the neighbour table")
                    } else {
                        format!("{}'s FDB does not hold its MAC", dev.name)
                    };
                    match first {
                        Some(p) => on(
                            id,
                            p.ifindex,
                            hop_mac.unwrap_or(Mac::ZERO),
                            dev.mac,
                            ip,
                            format!(
                                "assumed to arrive on {} (a port of {}): {by_route}, but {why} to tell the port (give --in-iface)",
                                p.name, dev.name
                            ),
                        ),
                        None => on(
                            id,
                            dev.ifindex,
                            Mac::ZERO,
                            dev.mac,
                            ip,
                            format!(
                                "arrives on {}: {by_route} ({why}, and it has no port up)",
                                dev.name
                            ),
                        ),
                    }
                }
            }
        }
        LinkKind::Vxlan(vx) => {
            let remote = hop_mac
                .and_then(|m| vx.fdb.iter().find(|e| e.mac == m))
                .map(|e| e.dst);
            let under = ns.link(vx.dev);
            match (hop_mac, remote, under) {
                (Some(m), Some(r), Some(u)) => {
                    let local = if vx.local.is_unspecified() {
                        ns.primary_addr(u.ifindex).unwrap_or(Ipv4Addr::UNSPECIFIED)
                    } else {
                        vx.local
                    };
                    let (lo, hi) = ns.sysctl.local_port_range;
                    // The sender's hash secret is its own: any port of the range may come.
                    let sport = udp_flow_src_port(flow_hash(0, &ip), lo, hi);
                    let from = neigh::lookup(&ns.neigh, u.ifindex, r)
                        .and_then(|n| n.lladdr)
                        .unwrap_or(Mac::ZERO);
                    let words = format!(
                        "arrives on {} inside VXLAN (VNI {}, UDP {sport} -> {}) from {r}: {by_route} via {hop}, the neighbour table has {hop} as {m}, and {}'s FDB sends {m} to {r}",
                        u.name, vx.vni, vx.dstport, dev.name
                    );
                    let inner = Frame {
                        dst: dev.mac,
                        src: m,
                        payload: L3::Ipv4(ip),
                    };
                    let outer = VxlanOuter {
                        src: r,
                        dst: local,
                        sport,
                        dport: vx.dstport,
                        vni: vx.vni,
                        ttl: 64,
                        ident: 1,
                    };
                    let outer = encapsulate(&outer, inner);
                    on(id, u.ifindex, from, u.mac, outer, words)
                }
                _ => on(
                    id,
                    dev.ifindex,
                    hop_mac.unwrap_or(Mac::ZERO),
                    dev.mac,
                    ip,
                    format!(
                        "assumed to arrive on {} already decapsulated: {by_route}, but the neighbour table and its FDB do not tell the remote VTEP",
                        dev.name
                    ),
                ),
            }
        }
        _ => on(
            id,
            dev.ifindex,
            hop_mac.unwrap_or(Mac::ZERO),
            dev.mac,
            ip,
            format!("arrives on {}: {by_route}", dev.name),
        ),
    }
}

fn on(id: NsId, dev: u32, src: Mac, dst: Mac, packet: Ipv4, words: String) -> Arrival {
    Arrival {
        origin: Origin::ArrivesFrame {
            ns: id,
            dev,
            src,
            dst,
        },
        packet,
        words,
    }
}
