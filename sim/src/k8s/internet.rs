//! The world outside the cluster: a gateway router on the underlay (every node's default
//! route), which masquerades the private underlay to its public address like a cloud NAT
//! gateway, and internet hosts behind it, each on a point-to-point link. A LoadBalancer
//! Service's address is routed by the gateway to one node, as a passthrough load balancer
//! (MetalLB L2, or a cloud LB that keeps the destination) delivers it.

use super::link::link;
use super::mac;
use crate::cluster::Cluster;
use crate::diag::InputError;
use crate::net::{
    Bridge, FdbEntry, LinkKind, Netns, NsId, NsKind, Route, Socket, SocketOwner, World,
};
use crate::netfilter::parse_iptables_save;
use crate::wire::IpProtocol;
use crate::wire::Ipv4Net;
use crate::wire::{Ipv4Addr, Mac};

/// The gateway's namespace name.
pub const GATEWAY: &str = "gateway";

pub(super) fn program(w: &mut World, cluster: &Cluster, switch: NsId) -> Result<(), InputError> {
    let Some(net) = &cluster.internet else {
        return Ok(());
    };
    let gw_ip = net.gateway.ip;
    let public = net.gateway.public_ip;
    let underlay = cluster.network.underlay.cidr;
    let mtu = cluster.network.underlay.mtu;
    let gw = w.add_netns(|id| {
        let mut ns = Netns::new(id, GATEWAY, NsKind::Router);
        ns.sysctl.ip_forward = true;
        ns.conntrack = Some(Default::default());
        ns
    });
    let lo = w
        .ns_mut(gw)
        .add_link(link("lo", LinkKind::Loopback, Mac::ZERO, 65536));
    w.ns_mut(gw)
        .add_addr(lo, Ipv4Net::new(Ipv4Addr::LOCALHOST, 8));
    // On the underlay, cabled to the switch like a node.
    let (eth0, port) = w.connect(
        (
            gw,
            link("eth0", LinkKind::Loopback, mac::node_nic_mac(gw_ip), mtu),
        ),
        (
            switch,
            link(
                "gateway-eth0",
                LinkKind::Loopback,
                mac::switch_port_mac(gw_ip),
                mtu,
            ),
        ),
        |peer| LinkKind::Ethernet { peer },
    );
    w.ns_mut(gw)
        .add_addr(eth0, Ipv4Net::new(gw_ip, underlay.prefix));
    let sw = w.ns_mut(switch);
    let br0 = sw.link_by_name("br0").map(|l| l.ifindex).unwrap_or(1);
    if let Some(p) = sw.link_mut(port) {
        p.master = Some(br0);
    }
    if let Some(LinkKind::Bridge(Bridge { fdb })) = sw.link_mut(br0).map(|l| &mut l.kind) {
        fdb.push(FdbEntry {
            mac: mac::switch_port_mac(gw_ip),
            port,
            local: true,
        });
    }

    // Internet hosts, one point-to-point link each: `ext-NAME` on the gateway (holding the
    // public address), `eth0` on the host with `default via <public> dev eth0 onlink`.
    for h in &net.hosts {
        let name = &h.name;
        let ip = h.ip;
        let host =
            w.add_netns(|id| Netns::new(id, name.clone(), NsKind::Host { host: name.clone() }));
        let hlo = w
            .ns_mut(host)
            .add_link(link("lo", LinkKind::Loopback, Mac::ZERO, 65536));
        w.ns_mut(host)
            .add_addr(hlo, Ipv4Net::new(Ipv4Addr::LOCALHOST, 8));
        let (g_if, h_if) = w.connect(
            (
                gw,
                link(
                    &format!("ext-{name}"),
                    LinkKind::Loopback,
                    mac::from_name(&format!("gateway/ext-{name}")),
                    1500,
                ),
            ),
            (
                host,
                link(
                    "eth0",
                    LinkKind::Loopback,
                    mac::from_name(&format!("{name}/eth0")),
                    1500,
                ),
            ),
            |peer| LinkKind::Veth { peer },
        );
        let g = w.ns_mut(gw);
        g.add_addr(g_if, Ipv4Net::new(public, 32));
        g.routes
            .push(Route::via(Ipv4Net::new(ip, 32), None, g_if, false));
        let hn = w.ns_mut(host);
        hn.add_addr(h_if, Ipv4Net::new(ip, 32));
        hn.routes
            .push(Route::via(Ipv4Net::DEFAULT, Some(public), h_if, true));
        for p in &h.ports {
            let proto = if p.protocol == IpProtocol::Udp {
                IpProtocol::Udp
            } else {
                IpProtocol::Tcp
            };
            hn.sockets.push(Socket {
                proto,
                peer: None,
                addr: Ipv4Addr::UNSPECIFIED,
                port: p.container_port,
                owner: SocketOwner::Host { host: name.clone() },
            });
        }
    }

    // Load balancer addresses go to one node.
    let lb_node = net
        .load_balancer_node
        .clone()
        .or_else(|| cluster.nodes.first().map(|n| n.name.clone()));
    if let Some(node_ip) = lb_node.and_then(|n| cluster.node(&n)).map(|n| n.ip) {
        for svc in &cluster.services {
            if let Some(lb) = svc.load_balancer_ip {
                w.ns_mut(gw).routes.push(Route::via(
                    Ipv4Net::new(lb, 32),
                    Some(node_ip),
                    eth0,
                    false,
                ));
            }
        }
    }

    // The gateway's own rules: masquerade what leaves the private underlay.
    let mut rules = String::from(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
    );
    if net.gateway.masquerade {
        rules.push_str(&format!(
            "-A POSTROUTING -s {} -o ext-+ -m comment --comment \"cloud NAT: the underlay leaves as {public}\" -j MASQUERADE\n",
            underlay.network()
        ));
    }
    rules.push_str("COMMIT\n");
    w.ns_mut(gw).netfilter =
        parse_iptables_save("<rules kpath generated for the gateway>", &rules)?.into();

    // Every node routes the rest of the world to the gateway.
    for n in &cluster.nodes {
        if let Some(id) = w.ns_by_name(&n.name).map(|x| x.id) {
            let dev = w
                .ns(id)
                .link_by_name("eth0")
                .map(|l| l.ifindex)
                .unwrap_or(0);
            w.ns_mut(id)
                .routes
                .push(Route::via(Ipv4Net::DEFAULT, Some(gw_ip), dev, false));
        }
    }
    Ok(())
}
