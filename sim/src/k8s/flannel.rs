//! flanneld (`pkg/backend/vxlan`, `pkg/backend/hostgw`): the overlay device and, per remote
//! node, the routes, neighbours and FDB entries it programs.

use super::link::link;
use super::mac::flannel_vtep_mac;
use crate::cluster::{Cluster, FlannelBackend};
use crate::net::{
    IfIndex, LinkKind, Neigh, NudState, Route, Socket, SocketOwner, Vxlan, VxlanFdb, World,
};
use crate::wire::IpProtocol;
use crate::wire::Ipv4Addr;
use crate::wire::Ipv4Net;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn program(w: &mut World, cluster: &Cluster) {
    match cluster.network.cni.backend {
        FlannelBackend::Vxlan => vxlan(w, cluster),
        FlannelBackend::HostGw => host_gw(w, cluster),
    }
}

fn node_ns(w: &World, name: &str) -> Option<crate::net::NsId> {
    w.ns_by_name(name).map(|n| n.id)
}

fn dev(w: &World, ns: crate::net::NsId, name: &str) -> IfIndex {
    w.ns(ns).link_by_name(name).map(|l| l.ifindex).unwrap_or(0)
}

/// `ip link add flannel.1 type vxlan id 1 local <nodeIP> dev eth0 dstport 8472 nolearning`
/// (flannel.<VNI>, with the configured VNI and port), MTU = eth0 MTU - 50, address
/// `10.244.N.0/32`; then for every other node M:
/// `ip neigh add 10.244.M.0 lladdr <VtepMAC-M> dev flannel.1 nud permanent`,
/// `bridge fdb append <VtepMAC-M> dev flannel.1 dst <nodeIP-M>`,
/// `ip route add 10.244.M.0/24 via 10.244.M.0 dev flannel.1 onlink`.
/// With DirectRouting, a node on the same subnet (every node here: they share the
/// underlay) gets host-gw's route instead (vxlan_network.go handleSubnetEvents:
/// `directRoutingOK`), and the device stays for the rest.
/// flannel.1's MAC on node `n`: the VtepMAC the cluster records (flannel's backend-data
/// annotation), or one derived from the node's address.
fn vtep_mac(n: &crate::cluster::Node) -> crate::wire::Mac {
    n.vtep_mac.unwrap_or_else(|| flannel_vtep_mac(n.ip))
}

fn vxlan(w: &mut World, cluster: &Cluster) {
    let conf = &cluster.network.cni.vxlan;
    let name = conf.device();
    for n in &cluster.nodes {
        let mtu = cluster.network.node_mtu(n) - cluster.network.overlay_overhead();
        let Some(id) = node_ns(w, &n.name) else {
            continue;
        };
        let eth0 = dev(w, id, "eth0");
        let kind = LinkKind::Vxlan(Vxlan {
            vni: conf.vni,
            dstport: conf.port,
            local: n.ip,
            dev: eth0,
            learning: false,
            fdb: Default::default(),
        });
        let ns = w.ns_mut(id);
        let f1 = ns.add_link(link(&name, kind, vtep_mac(n), mtu));
        ns.add_addr(f1, Ipv4Net::new(n.pod_cidr.network().addr, 32));
        // The kernel's UDP socket for the device: vxlan_sock_add binds 0.0.0.0:<port>.
        ns.sockets.push(Socket {
            proto: IpProtocol::Udp,
            peer: None,
            addr: Ipv4Addr::UNSPECIFIED,
            port: conf.port,
            owner: SocketOwner::Vxlan { device: f1 },
        });
    }
    if conf.direct_routing {
        return host_gw(w, cluster);
    }
    // Every node holds one entry per other node, alike in all nodes: each holds the list of
    // every node's entry, shared, less its own (net::Entries).
    let fdb: Arc<[VxlanFdb]> = cluster
        .nodes
        .iter()
        .map(|m| VxlanFdb {
            mac: vtep_mac(m),
            dst: m.ip,
        })
        .collect();
    let mut by_dev: BTreeMap<IfIndex, PeerEntries> = BTreeMap::new();
    for (i, n) in cluster.nodes.iter().enumerate() {
        let Some(id) = node_ns(w, &n.name) else {
            continue;
        };
        let f1 = dev(w, id, &name);
        let (neigh, routes) = by_dev
            .entry(f1)
            .or_insert_with(|| {
                let neigh = cluster.nodes.iter().map(|m| Neigh {
                    ip: m.pod_cidr.network().addr,
                    dev: f1,
                    lladdr: Some(vtep_mac(m)),
                    state: NudState::Permanent,
                });
                let routes = cluster
                    .nodes
                    .iter()
                    .map(|m| Route::via(m.pod_cidr, Some(m.pod_cidr.network().addr), f1, true));
                (neigh.collect(), routes.collect())
            })
            .clone();
        let ns = w.ns_mut(id);
        ns.neigh.push_shared(neigh, Some(i));
        if let Some(LinkKind::Vxlan(v)) = ns.link_mut(f1).map(|l| &mut l.kind) {
            v.fdb.push_shared(fdb.clone(), Some(i));
        }
        ns.routes.push_shared(routes, Some(i));
    }
}

/// One overlay device's neighbour and route for every node, shared by the nodes whose
/// flannel.1 has that device number.
type PeerEntries = (Arc<[Neigh]>, Arc<[Route]>);

/// host-gw: `ip route add 10.244.M.0/24 via <nodeIP-M> dev eth0` for every other node; the
/// nodes must share an L2 segment, which the underlay is.
fn host_gw(w: &mut World, cluster: &Cluster) {
    let mut by_dev: BTreeMap<IfIndex, Arc<[Route]>> = BTreeMap::new();
    for (i, n) in cluster.nodes.iter().enumerate() {
        let Some(id) = node_ns(w, &n.name) else {
            continue;
        };
        let eth0 = dev(w, id, "eth0");
        let routes = by_dev.entry(eth0).or_insert_with(|| {
            (cluster.nodes.iter())
                .map(|m| Route::via(m.pod_cidr, Some(m.ip), eth0, false))
                .collect()
        });
        let routes = routes.clone();
        w.ns_mut(id).routes.push_shared(routes, Some(i));
    }
}

/// flanneld's iptables rules for a node (`pkg/trafficmngr/iptables`): masquerade for pod
/// traffic leaving the cluster network (FLANNEL-POSTRTG, after kube-proxy's
/// KUBE-POSTROUTING) and forwarding for the pod network (FLANNEL-FWD). flanneld appends
/// them, so their jumps come after kube-proxy's. Returns (nat chains+rules, filter ...).
pub(super) fn iptables(
    cluster: &Cluster,
    node_cidr: crate::wire::Ipv4Net,
) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let net = cluster.network.pod_cidr.network();
    let sub = node_cidr.network();
    let rf = if cluster.kube_proxy.random_fully {
        " --random-fully"
    } else {
        ""
    };
    let c = "-m comment --comment \"flanneld masq\"";
    let nat_jumps = vec![format!("-A POSTROUTING {c} -j FLANNEL-POSTRTG")];
    let nat = vec![
        format!("-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 {c} -j RETURN"),
        format!("-A FLANNEL-POSTRTG -s {sub} -d {net} {c} -j RETURN"),
        format!("-A FLANNEL-POSTRTG -s {net} -d {sub} {c} -j RETURN"),
        format!("-A FLANNEL-POSTRTG ! -s {net} -d {sub} {c} -j RETURN"),
        format!("-A FLANNEL-POSTRTG -s {net} ! -d 224.0.0.0/4 {c} -j MASQUERADE{rf}"),
        format!("-A FLANNEL-POSTRTG ! -s {net} -d {net} {c} -j MASQUERADE{rf}"),
    ];
    let f = "-m comment --comment \"flanneld forward\"";
    let filter_jumps = vec![format!("-A FORWARD {f} -j FLANNEL-FWD")];
    let filter = vec![
        format!("-A FLANNEL-FWD -s {net} {f} -j ACCEPT"),
        format!("-A FLANNEL-FWD -d {net} {f} -j ACCEPT"),
    ];
    (nat_jumps, nat, filter_jumps, filter)
}
