//! flannel's vxlan backend options (net-conf.json `Backend`): the VNI names the device and
//! goes on the wire, the port is the outer UDP port everywhere it matters (the device, the
//! kernel's socket, captures), and DirectRouting routes same-subnet nodes like host-gw.

mod common;

use kpath_sim::net::{LinkKind, World};
use kpath_sim::trace::Trace;

/// pod-to-pod-cross-node with its `cni:` block's backend line replaced by `backend`.
fn cross_node(backend: &str) -> (kpath_sim::Scenario, World) {
    let src = std::fs::read_to_string(common::scenario_path("pod-to-pod-cross-node")).unwrap();
    let src = src.replace(
        "    backend: vxlan                # flannel.1, VNI 1, UDP 8472\n",
        backend,
    );
    let s = kpath_sim::load_scenario_str("t.yaml", &src).unwrap_or_else(|e| panic!("{e}"));
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap_or_else(|e| panic!("{e}"));
    (s, w)
}

fn ping(s: &kpath_sim::Scenario, w: &World) -> Trace {
    kpath_sim::run_packet(s, w, "ping").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_vni_names_the_device_and_goes_on_the_wire_with_the_port() {
    let (s, w) = cross_node("    backend: vxlan\n    vni: 4096\n    port: 4789\n");
    let node = w.ns_by_name("node-1").unwrap();
    let dev = node.link_by_name("flannel.4096").expect("flannel.<VNI>");
    assert!(node.link_by_name("flannel.1").is_none());
    let LinkKind::Vxlan(v) = &dev.kind else {
        panic!("{:?}", dev.kind)
    };
    assert_eq!((v.vni, v.dstport), (4096, 4789));
    assert_eq!(w.vxlan_ports(), vec![4789]);
    let t = ping(&s, &w);
    let outer: Vec<_> = t
        .steps
        .iter()
        .filter_map(|s| common::vxlan(&s.packet))
        .collect();
    assert!(!outer.is_empty(), "the packet crosses in VXLAN");
    for (ip, vx) in &outer {
        assert_eq!(vx.vni, 4096);
        let kpath_sim::wire::L4::Udp(u) = &ip.payload else {
            unreachable!()
        };
        assert_eq!(u.dport, 4789);
    }
    assert_eq!(
        t.disposition.kind,
        kpath_sim::trace::DispositionKind::Delivered
    );
}

#[test]
fn port_zero_is_the_kernels_default_and_show_prints_the_device_as_ip_does() {
    let (_, w) = cross_node("    backend: vxlan\n    port: 0\n");
    assert_eq!(w.vxlan_ports(), vec![8472]);
    let dir = std::env::temp_dir().join(format!("kpath-flannel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::fs::read_to_string(common::scenario_path("pod-to-pod-cross-node")).unwrap();
    let f = dir.join("s.yaml");
    std::fs::write(
        &f,
        src.replace(
            "    backend: vxlan                # flannel.1, VNI 1, UDP 8472\n",
            "    backend: vxlan\n    vni: 7\n    port: 4789\n",
        ),
    )
    .unwrap();
    let out = common::kpath()
        .args(["show"])
        .arg(&f)
        .args(["--node", "node-1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("flannel.7:")
            && text.contains("vxlan id 7 ")
            && text.contains("dstport 4789"),
        "{text}"
    );
    // A capture names the port tshark must decode as VXLAN.
    let cap = dir.join("c.pcapng");
    let out = common::kpath()
        .arg("pcap")
        .arg(&f)
        .args(["--packet", "ping", "-o"])
        .arg(&cap)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("-d udp.port==4789,vxlan") && !said.contains("8472"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn direct_routing_routes_same_subnet_nodes_over_eth0_and_keeps_the_vxlan_mtu() {
    let (s, w) = cross_node("    backend: vxlan\n    directRouting: true\n");
    let node = w.ns_by_name("node-1").unwrap();
    let eth0 = node.link_by_name("eth0").unwrap().ifindex;
    let r = kpath_sim::net::route::lookup(&node.routes, "10.244.2.2".parse().unwrap()).unwrap();
    assert_eq!((r.via, r.dev), (Some("172.31.0.12".parse().unwrap()), eth0));
    let f1 = node.link_by_name("flannel.1").expect("the device stays");
    let LinkKind::Vxlan(v) = &f1.kind else {
        panic!()
    };
    assert!(
        v.fdb.iter().next().is_none(),
        "no FDB entries for direct nodes"
    );
    let pod = w.ns_by_name("default/client").unwrap();
    assert_eq!(pod.link_by_name("eth0").unwrap().mtu, 1450);
    let t = ping(&s, &w);
    assert!(
        t.steps.iter().all(|s| common::vxlan(&s.packet).is_none()),
        "no encapsulation"
    );
    assert_eq!(
        t.disposition.kind,
        kpath_sim::trace::DispositionKind::Delivered
    );
}
