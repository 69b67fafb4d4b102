//! Walks step over the rules that require another destination (netfilter/dst_index.rs).
//! That must change nothing: on a node with hundreds of Services, every packet's trace -
//! each rule hit, each verdict, and the count of rules looked at - is the same with the
//! index as with every rule read in order, as the kernel reads them.

use kpath_sim::k8s::build_world;
use kpath_sim::render::json;
use kpath_sim::scale::{Size, scenario_yaml};
use kpath_sim::scenario::ProxyMode;
use std::sync::Arc;

#[test]
fn traces_are_the_same_with_and_without_the_destination_index() {
    let size = Size {
        nodes: 2,
        services: 300,
        endpoints: 3,
        groups: 7,
        proxy_mode: ProxyMode::Iptables,
    };
    let mut yaml = scenario_yaml(&size).unwrap();
    // More packets: a Service in the middle, an unallocated ClusterIP, an address outside
    // every Service, and the first and last Services on another port.
    yaml.push_str(&format!(
        "  - {{name: middle, from: pod/default/client, to: '{}:80', protocol: tcp}}\n  - {{name: unallocated, from: pod/default/client, to: '10.96.200.1:80', protocol: tcp}}\n  - {{name: outside, from: pod/default/client, to: '198.51.100.7:80', protocol: tcp}}\n  - {{name: other-port, from: pod/default/client, to: '{}:81', protocol: tcp}}\n  - {{name: udp, from: pod/default/client, to: '{}:80', protocol: udp}}\n",
        Size::cluster_ip(150),
        Size::cluster_ip(299),
        Size::cluster_ip(0),
    ));
    let s = kpath_sim::load_scenario_str("index.yaml", &yaml).unwrap();
    let indexed = build_world(s.model(), 3).unwrap();
    let mut linear = indexed.clone();
    for ns in &mut linear.netns {
        let ns = Arc::make_mut(ns);
        ns.netfilter = Arc::new(ns.netfilter.without_rule_index());
    }
    let mut looked_at = 0;
    for p in &s.packets {
        let name = &p.name.value;
        let a = json::trace(&kpath_sim::run_packet(&s, &indexed, name).unwrap());
        let b = json::trace(&kpath_sim::run_packet(&s, &linear, name).unwrap());
        assert_eq!(a, b, "packet `{name}`");
        looked_at += a.matches("\"evaluated\"").count();
    }
    assert!(looked_at > 0, "the traces count the rules looked at");
}
