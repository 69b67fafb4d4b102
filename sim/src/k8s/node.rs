//! Nodes and the underlay: each node's host namespace with lo and eth0, and the switch that
//! joins every eth0 on one L2 segment.

use super::link::link;
use super::mac;
use crate::cluster::{Cluster, Node};
use crate::net::{Bridge, FdbEntry, LinkKind, Netns, NsId, NsKind, World};
use crate::wire::Ipv4Net;
use crate::wire::{Ipv4Addr, Mac};

/// The underlay segment: a learning switch (a bridge `br0` in a namespace of its own, like
/// the lab's `klwan`). It has no addresses and no netfilter.
pub(super) fn underlay_switch(w: &mut World, cluster: &Cluster) -> NsId {
    let id = w.add_netns(|id| Netns::new(id, "underlay", NsKind::Switch));
    let br = link(
        "br0",
        LinkKind::Bridge(Bridge::default()),
        mac::from_name("underlay/br0"),
        cluster.network.underlay.mtu,
    );
    w.ns_mut(id).add_link(br);
    id
}

/// A node's host namespace, by the node's name.
pub(super) fn host_ns_mut<'w>(w: &'w mut World, node: &str) -> Option<&'w mut Netns> {
    // Named after the node (node::node); the kind says it is the host's, not a pod's.
    let id = w
        .ns_by_name(node)
        .filter(|ns| matches!(&ns.kind, NsKind::Node { node: n } if n == node))?
        .id;
    Some(w.ns_mut(id))
}

/// A node's host namespace with lo and eth0 cabled to the underlay switch. Its netfilter
/// rules come later, with kube-proxy's (build_world).
pub(super) fn node(w: &mut World, cluster: &Cluster, n: &Node, switch: NsId) {
    let ip: Ipv4Addr = n.ip;
    let mtu = cluster.network.node_mtu(n);
    let id = w.add_netns(|id| {
        let mut ns = Netns::new(
            id,
            n.name.clone(),
            NsKind::Node {
                node: n.name.clone(),
            },
        );
        // The CNI bridge plugin (isGateway, as flannel's CNI config sets it) turns on
        // ip_forward; kubeadm's preflight demands it and bridge-nf-call-iptables.
        ns.sysctl.ip_forward = true;
        ns.sysctl.bridge_nf_call_iptables = cluster.network.cni.bridge_nf_call_iptables;
        // kube-proxy's rules need conntrack (NAT, --ctstate), so it is loaded on every node.
        ns.conntrack = Some(Default::default());
        ns
    });
    let lo = w
        .ns_mut(id)
        .add_link(link("lo", LinkKind::Loopback, Mac::ZERO, 65536));
    w.ns_mut(id)
        .add_addr(lo, Ipv4Net::new(Ipv4Addr::LOCALHOST, 8));

    // The NIC, cabled to a port of the underlay switch.
    let port_name = format!("{}-eth0", n.name);
    let (eth0, port) = w.connect(
        (
            id,
            link("eth0", LinkKind::Loopback, mac::node_nic_mac(ip), mtu),
        ),
        (
            switch,
            link(
                &port_name,
                LinkKind::Loopback,
                mac::switch_port_mac(ip),
                mtu,
            ),
        ),
        |peer| LinkKind::Ethernet { peer },
    );
    w.ns_mut(id)
        .add_addr(eth0, Ipv4Net::new(ip, cluster.network.underlay.cidr.prefix));
    let sw = w.ns_mut(switch);
    let br0 = sw.link_by_name("br0").map(|l| l.ifindex).unwrap_or(1);
    if let Some(p) = sw.link_mut(port) {
        p.master = Some(br0);
    }
    let port_mac = mac::switch_port_mac(ip);
    if let Some(LinkKind::Bridge(b)) = sw.link_mut(br0).map(|l| &mut l.kind) {
        b.fdb.push(FdbEntry {
            mac: port_mac,
            port,
            local: true,
        });
    }
}

/// The sysctls a node ends up with: what kube-proxy sets when it starts, then the
/// scenario's own (an operator's sysctl.d, applied last); its pods' namespaces, created after,
/// inherit `all` and `default` from it (`devinet_init_net` copies them from the host).
/// `ip link set DEV mtu N` for each of the node's hand-set MTUs, after the CNI plugin and
/// flanneld built the devices (so nothing derives from them).
pub(super) fn link_mtus(w: &mut World, n: &Node) {
    let Some(ns) = host_ns_mut(w, &n.name) else {
        return;
    };
    for (dev, mtu) in &n.link_mtu {
        if let Some(i) = ns.link_by_name(dev).map(|l| l.ifindex)
            && let Some(l) = ns.link_mut(i)
        {
            l.mtu = *mtu;
        }
    }
}

pub(super) fn sysctls(w: &mut World, cluster: &Cluster, n: &Node) {
    let Some(ns) = host_ns_mut(w, &n.name) else {
        return;
    };
    for (key, value) in super::kube_proxy::sysctls(&cluster.kube_proxy)
        .into_iter()
        .chain(n.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())))
    {
        // Validation checked every scenario value; a bad one here is a bug, not input.
        let set = ns.sysctl.set(&key, &value);
        debug_assert!(set.is_ok(), "{key:?}={value}: {set:?}");
    }
    let inherited = ns.sysctl.inherited();
    let pods: Vec<String> = cluster
        .pods
        .iter()
        .filter(|p| p.node == n.name)
        .map(|p| p.key())
        .collect();
    for key in pods {
        if let Some(id) = w.ns_by_name(&key).map(|p| p.id) {
            let pod = w.ns_mut(id);
            pod.sysctl = crate::net::Sysctls {
                default_ttl: pod.sysctl.default_ttl,
                local_port_range: pod.sysctl.local_port_range,
                ..inherited.clone()
            };
        }
    }
}
