//! Every way a walk can end, each reached from a small change to a shipped scenario, and
//! each naming what decided it.

mod common;

use kpath_sim::trace::{DispositionKind, Trace};
use kpath_sim::{net::Route, wire::Ipv4Net};

/// The cross-node scenario with extra packets appended.
fn with_packets(extra: &str) -> kpath_sim::Scenario {
    let src = std::fs::read_to_string(common::scenario_path("pod-to-pod-cross-node")).unwrap();
    kpath_sim::load_scenario_str("t.yaml", &format!("{src}{extra}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &kpath_sim::Scenario, world: &kpath_sim::net::World, name: &str) -> Trace {
    kpath_sim::run_packet(s, world, name).unwrap()
}

#[test]
fn ttl_1_dies_at_the_first_router_with_time_exceeded() {
    let s = with_packets(
        "  - {name: ttl1, from: pod/default/client, to: pod/default/server, protocol: icmp, ttl: 1}\n",
    );
    let t = run(
        &s,
        &kpath_sim::k8s::build_world(s.model(), 0).unwrap(),
        "ttl1",
    );
    assert_eq!(t.disposition.kind, DispositionKind::TtlExceeded);
    assert_eq!(t.disposition.netns, "node-1");
    assert!(
        t.steps
            .iter()
            .any(|s| s.func == "icmp_send" && s.note.contains("time exceeded"))
    );
}

#[test]
fn an_address_nobody_has_ends_in_neighbour_unreachable_on_the_last_hop() {
    let s = with_packets(
        "  - {name: ghost, from: pod/default/client, to: 10.244.2.99, protocol: icmp}\n",
    );
    let t = run(
        &s,
        &kpath_sim::k8s::build_world(s.model(), 0).unwrap(),
        "ghost",
    );
    assert_eq!(t.disposition.kind, DispositionKind::NeighbourUnreachable);
    assert_eq!(
        (
            t.disposition.netns.as_str(),
            t.disposition.device.as_deref()
        ),
        ("node-2", Some("cni0"))
    );
    assert!(t.disposition.reason.contains("10.244.2.99"));
}

#[test]
fn a_destination_outside_every_route_ends_in_no_route_at_the_node() {
    // The nodes have no default route in this scenario: the internet is unreachable.
    let s = with_packets(
        "  - {name: internet, from: pod/default/client, to: 8.8.8.8, protocol: icmp}\n",
    );
    let t = run(
        &s,
        &kpath_sim::k8s::build_world(s.model(), 0).unwrap(),
        "internet",
    );
    assert_eq!(t.disposition.kind, DispositionKind::NoRoute);
    assert_eq!(t.disposition.netns, "node-1");
    assert!(t.disposition.reason.contains("8.8.8.8"));
}

#[test]
fn udp_to_a_closed_port_across_nodes_is_answered_with_port_unreachable() {
    let s = with_packets(
        "  - {name: dns, from: pod/default/client, to: 'pod/default/server:53', protocol: udp, size: 30}\n",
    );
    let t = run(
        &s,
        &kpath_sim::k8s::build_world(s.model(), 0).unwrap(),
        "dns",
    );
    assert_eq!(t.disposition.kind, DispositionKind::NoListener);
    assert_eq!(t.disposition.netns, "default/server");
}

#[test]
fn a_routing_loop_between_two_nodes_ends_in_ttl_exceeded() {
    // Misprogram both nodes to send 10.244.9.0/24 to each other over the tunnel.
    let s = with_packets(
        "  - {name: loop, from: pod/default/client, to: 10.244.9.9, protocol: icmp}\n",
    );
    let mut w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    let net: Ipv4Net = "10.244.9.0/24".parse().unwrap();
    for (node, vtep) in [("node-1", "10.244.2.0"), ("node-2", "10.244.1.0")] {
        let id = w.ns_by_name(node).unwrap().id;
        let f1 = w.ns(id).link_by_name("flannel.1").unwrap().ifindex;
        w.ns_mut(id)
            .routes
            .push(Route::via(net, Some(vtep.parse().unwrap()), f1, true));
    }
    let t = run(&s, &w, "loop");
    assert_eq!(
        t.disposition.kind,
        DispositionKind::TtlExceeded,
        "{}",
        t.disposition.reason
    );
    assert!(t.steps.len() > 100 && t.steps.len() < kpath_sim::engine::STEP_CAP);
    let encaps = t
        .steps
        .iter()
        .filter(|s| s.func == "vxlan_xmit_one")
        .count();
    assert!(encaps > 50, "the packet bounced {encaps} times");
}

#[test]
fn a_missing_vxlan_fdb_entry_drops_the_frame_at_vxlan_xmit() {
    // What an expired or never-programmed FDB entry does to the overlay.
    let s = with_packets("");
    let mut w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    let id = w.ns_by_name("node-1").unwrap().id;
    let f1 = w.ns(id).link_by_name("flannel.1").unwrap().ifindex;
    if let Some(kpath_sim::net::LinkKind::Vxlan(v)) = w.ns_mut(id).link_mut(f1).map(|l| &mut l.kind)
    {
        v.fdb.make_mut().clear();
    }
    let t = run(&s, &w, "ping");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped);
    assert_eq!(t.steps.last().unwrap().func, "vxlan_xmit");
    assert!(
        t.disposition.reason.contains("no FDB entry"),
        "{}",
        t.disposition.reason
    );
}
