//! Per-node MTU: flannel derives each node's tunnel and pod MTU from that node's NIC, and TCP
//! between pods of different MTUs sends by the smaller MSS.

mod common;

use common::*;
use kpath_sim::k8s::build_world;
use kpath_sim::run::run_flow;
use kpath_sim::scenario::load_scenario_str;

#[test]
fn a_jumbo_node_gives_its_pods_a_jumbo_mtu_and_tcp_meets_at_the_smaller_mss() {
    let text = std::fs::read_to_string(scenario_path("tcp-mss"))
        .unwrap()
        .replace(
            "    - {name: node-2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24}",
            "    - {name: node-2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24, mtu: 9000}",
        );
    let s = load_scenario_str("tcp-mss.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let w = build_world(s.model(), s.seed).unwrap();
    let mtu = |ns: &str, dev: &str| w.ns_by_name(ns).unwrap().link_by_name(dev).unwrap().mtu;
    assert_eq!(mtu("node-2", "eth0"), 9000);
    assert_eq!(mtu("node-2", "flannel.1"), 8950);
    assert_eq!(mtu("default/files", "eth0"), 8950);
    assert_eq!(
        mtu("node-1", "flannel.1"),
        1450,
        "node-1 keeps the underlay's"
    );
    let f = run_flow(&s, &w, "download").unwrap();
    assert!(f.completed, "{}", f.summary);
    let synack = f.packets.iter().find(|p| p.label == "SYN-ACK").unwrap();
    let sent = synack
        .trace
        .steps
        .iter()
        .find(|s| s.func == "tcp_v4_send_synack")
        .unwrap();
    assert!(
        sent.note
            .contains("announcing MSS 8910 (eth0's MTU 8950 - 40)"),
        "{}",
        sent.note
    );
    // The server may send 8910-byte segments to nobody: the client announced 1410.
    let sizes: Vec<usize> = f
        .packets
        .iter()
        .filter(|p| p.label.starts_with("response"))
        .map(|p| ipv4(&p.trace.sent.clone().unwrap()).unwrap().total_len())
        .collect();
    assert_eq!(sizes, [1450, 1450, 1450, 858]);
}

/// pod-to-pod-cross-node with node-1's flannel.1 set to 1400 by hand (`linkMTU:`) and a
/// ping that fits the pods' 1450 but not that.
fn hand_set(link_mtu: &str) -> Result<kpath_sim::Scenario, kpath_sim::diag::InputError> {
    let text = std::fs::read_to_string(scenario_path("pod-to-pod-cross-node")).unwrap();
    let text = text.replacen(
        "      podCIDR: 10.244.1.0/24\n",
        &format!("      podCIDR: 10.244.1.0/24\n      linkMTU: {link_mtu}\n"),
        1,
    );
    load_scenario_str(
        "s.yaml",
        &format!(
            "{text}  - {{name: ping-1428, from: pod/default/client, to: pod/default/server, protocol: icmp, size: 1400, df: true}}\n"
        ),
    )
}

#[test]
fn a_hand_set_link_mtu_is_that_devices_alone_and_the_packet_meets_it() {
    let s = hand_set("{flannel.1: 1400}").unwrap_or_else(|e| panic!("{e}"));
    let w = build_world(s.model(), s.seed).unwrap();
    let mtu = |ns: &str, dev: &str| w.ns_by_name(ns).unwrap().link_by_name(dev).unwrap().mtu;
    assert_eq!(mtu("node-1", "flannel.1"), 1400);
    // Nothing derives from it: the pods keep flannel's 1450, node-2 its own tunnel's.
    assert_eq!(mtu("default/client", "eth0"), 1450);
    assert_eq!(mtu("node-2", "flannel.1"), 1450);
    let t = kpath_sim::run_packet(&s, &w, "ping-1428").unwrap();
    assert_eq!(
        t.disposition.kind,
        kpath_sim::trace::DispositionKind::FragmentationNeeded,
        "{}",
        t.disposition.reason
    );
    assert_eq!(t.disposition.netns, "node-1");
    assert!(
        t.disposition.reason.contains("MTU 1400"),
        "{}",
        t.disposition.reason
    );
}

#[test]
fn a_link_mtu_for_a_device_the_node_lacks_or_out_of_range_is_refused_where_it_is() {
    let e = hand_set("{flannel.2: 1400}").unwrap_err();
    assert!(
        e.message.contains("no device `flannel.2`") && e.line > 0,
        "{e}"
    );
    assert!(e.hint.as_deref().unwrap_or("").contains("flannel.1"), "{e}");
    let e = hand_set("{cni0: 40}").unwrap_err();
    assert!(e.message.contains("MTU 40 for cni0 is out of range"), "{e}");
}
