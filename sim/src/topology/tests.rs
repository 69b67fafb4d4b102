//! The topology model's tests, on shipped scenarios and a node rebuilt from dumps.

use super::*;
use crate::net::World;
use crate::trace::{Role, StepKind};

fn world(name: &str) -> (crate::Scenario, World) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.yaml"));
    let s = crate::scenario::load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
    let w = crate::k8s::build_world(s.model(), 0).unwrap_or_else(|e| panic!("{e}"));
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
        t.links
            .iter()
            .any(|l| l.a == Place::dev(&g.netns, "eth0") && l.b == Place::dev("underlay", "br0"))
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
    let d = crate::rules_only::build(Default::default(), &q, false, None);
    let t = Topology::of(&d.world);
    assert_eq!(t.nodes.len(), 1);
    assert_eq!(t.nodes[0].ip, Some(Ipv4Addr::new(10, 0, 0, 5)));
    assert_eq!(labels(&t.nodes[0]), ["eth0"]);
    assert_eq!(t.nodes[0].items[0].kind, ItemKind::Uplink);
    assert!(t.underlay.is_none() && t.tunnels.is_empty() && t.links.is_empty());
}
