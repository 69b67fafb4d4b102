//! The CNI bridge plugin as flannel's CNI config invokes it (`isGateway`, `hairpinMode`):
//! cni0 holding the node's gateway address, and per pod a namespace, a veth pair with one end
//! on cni0, the pod's address, its default route and the route to the cluster's pod network.

use super::link::link;
use super::mac;
use crate::cluster::{Cluster, Node, Pod};
use crate::net::{Bridge, FdbEntry, LinkKind, Netns, NsKind, Route, Socket, SocketOwner, World};
use crate::wire::IpProtocol;
use crate::wire::Ipv4Net;
use crate::wire::{Ipv4Addr, Mac};

pub(super) fn program(w: &mut World, cluster: &Cluster, n: &Node, pods: &[&Pod]) {
    let Some(node) = w.ns_by_name(&n.name).map(|x| x.id) else {
        return;
    };
    let cidr = n.pod_cidr.network();
    let gw = cidr.nth(1);
    let pod_mtu = cluster.network.pod_mtu(n);
    let cni0_mac = mac::cni_mac(gw);
    let cni0 = w.ns_mut(node).add_link(link(
        "cni0",
        LinkKind::Bridge(Bridge::default()),
        cni0_mac,
        pod_mtu,
    ));
    w.ns_mut(node).add_addr(cni0, Ipv4Net::new(gw, cidr.prefix));
    let mut fdb = vec![FdbEntry {
        mac: cni0_mac,
        port: cni0,
        local: true,
    }];

    for p in pods.iter().filter(|p| p.host_network) {
        // hostNetwork: no namespace, no veth; the containers listen in the node's namespace.
        let sockets = container_sockets(p, Some(p.key()));
        w.ns_mut(node).sockets.extend(sockets);
    }
    for p in pods.iter().filter(|p| !p.host_network) {
        let key = p.key();
        let pod_ip: Ipv4Addr = p.ip;
        let pod = w.add_netns(|id| {
            Netns::new(
                id,
                key.clone(),
                NsKind::Pod {
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                },
            )
        });
        let lo = w
            .ns_mut(pod)
            .add_link(link("lo", LinkKind::Loopback, Mac::ZERO, 65536));
        w.ns_mut(pod)
            .add_addr(lo, Ipv4Net::new(Ipv4Addr::LOCALHOST, 8));
        // ip.RandomVethName gives `veth` + 8 random hex digits; ours come from the pod's name.
        let host_name = format!("veth{:08x}", super::fnv1a(&key) as u32);
        let host_mac = mac::from_name(&format!("{}/{host_name}", n.name));
        let (eth0, port) = w.connect(
            (
                pod,
                link("eth0", LinkKind::Loopback, mac::cni_mac(pod_ip), pod_mtu),
            ),
            (
                node,
                link(&host_name, LinkKind::Loopback, host_mac, pod_mtu),
            ),
            |peer| LinkKind::Veth { peer },
        );
        let pns = w.ns_mut(pod);
        pns.add_addr(eth0, Ipv4Net::new(pod_ip, cidr.prefix));
        // flannel's CNI plugin hands the bridge plugin `isDefaultGateway` and a route for
        // the whole flannel network, so a pod has both `default via GW` and
        // `POD_CIDR via GW` (besides the kernel's route for its own subnet).
        pns.routes
            .push(Route::via(Ipv4Net::DEFAULT, Some(gw), eth0, false));
        pns.routes.push(Route::via(
            cluster.network.pod_cidr.network(),
            Some(gw),
            eth0,
            false,
        ));
        pns.sockets.extend(container_sockets(p, None));
        if let Some(l) = w.ns_mut(node).link_mut(port) {
            l.master = Some(cni0);
            l.hairpin = cluster.network.cni.hairpin_mode;
        }
        fdb.push(FdbEntry {
            mac: host_mac,
            port,
            local: true,
        });
    }
    if let Some(LinkKind::Bridge(b)) = w.ns_mut(node).link_mut(cni0).map(|l| &mut l.kind) {
        b.fdb = fdb;
    }
}

/// A listening socket on every address for each port the pod's containers declare; `host`
/// names the pod when it runs in its node's namespace (hostNetwork).
fn container_sockets(p: &Pod, host: Option<String>) -> Vec<Socket> {
    let mut out = Vec::new();
    for c in &p.containers {
        for port in &c.ports {
            let proto = match port.protocol {
                IpProtocol::Udp => IpProtocol::Udp,
                _ => IpProtocol::Tcp,
            };
            out.push(Socket {
                proto,
                peer: None,
                addr: Ipv4Addr::UNSPECIFIED,
                port: port.container_port,
                owner: SocketOwner::Container {
                    container: c.name.clone(),
                    host_pod: host.clone(),
                },
            });
        }
    }
    out
}
