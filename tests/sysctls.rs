//! Sysctls are state the walk reads where the kernel reads them: route_localnet (kube-proxy
//! sets it for localhost NodePorts) at input routing and when a 127.0.0.1-sourced packet is
//! routed off lo; rp_filter (the larger of `all` and the device's) in fib_validate_source.

mod common;

use common::*;
use kpath_sim::engine::choices::Choices;
use kpath_sim::engine::{Injection, Origin, injected_once};
use kpath_sim::k8s::build_world;
use kpath_sim::net::World;
use kpath_sim::scenario::load_scenario_str;
use kpath_sim::trace::{DispositionKind, Trace};
use kpath_sim::wire::{Ipv4, L4, Tcp, TcpFlags};

/// The nodeport-localhost lesson's world, its text changed by `edit`.
fn world(edit: impl Fn(String) -> String) -> World {
    let text = edit(std::fs::read_to_string(scenario_path("nodeport-localhost")).unwrap());
    let s = load_scenario_str("nodeport-localhost.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    build_world(s.model(), s.seed).unwrap()
}

/// A SYN to port 22 arriving from the wire on `dev` of namespace `ns`.
fn arrive(w: &World, ns: &str, dev: &str, src: &str, dst: &str) -> Trace {
    let n = w.ns_by_name(ns).unwrap();
    let inj = Injection {
        name: format!("{src} -> {dst} on {ns} {dev}"),
        origin: Origin::Arrives {
            ns: n.id,
            dev: n.link_by_name(dev).unwrap().ifindex,
        },
        packet: Ipv4 {
            tos: 0,
            ident: 1,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            ttl: 63,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            payload: L4::Tcp(Tcp {
                sport: 40000,
                dport: 22,
                seq: 1,
                ack: 0,
                flags: TcpFlags(TcpFlags::SYN),
                window: 64240,
                options: Vec::new(),
                payload: Vec::new(),
            }),
        },
    };
    injected_once(w, &inj, Choices::default()).0
}

fn sysctl<'a>(shown: &'a str, key: &str) -> &'a str {
    shown
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{shown}"))
}

#[test]
fn kube_proxy_sets_route_localnet_and_pods_inherit_the_node_s_values() {
    let w = world(|t| t);
    let show = |ns: &str| kpath_sim::net::iproute2::sysctls(w.ns_by_name(ns).unwrap());
    assert_eq!(
        sysctl(&show("node-1"), "net.ipv4.conf.all.route_localnet"),
        "1"
    );
    // node-2's own sysctls say 0, and win over what kube-proxy set.
    assert_eq!(
        sysctl(&show("node-2"), "net.ipv4.conf.all.route_localnet"),
        "0"
    );
    // A device's name is written with `/` for its dots, as sysctl writes it.
    assert_eq!(
        sysctl(&show("node-1"), "net.ipv4.conf.flannel/1.rp_filter"),
        "0"
    );
    // The pod's namespace copied its node's `all` (devinet_init_net), ip_forward included.
    let pod = show("default/nginx");
    assert_eq!(sysctl(&pod, "net.ipv4.conf.all.route_localnet"), "1");
    assert_eq!(sysctl(&pod, "net.ipv4.ip_forward"), "1");
    let off = world(|t| {
        t.replace(
            "services:",
            "kubeProxy: {localhostNodePorts: false}\nservices:",
        )
    });
    let node = kpath_sim::net::iproute2::sysctls(off.ns_by_name("node-1").unwrap());
    assert_eq!(sysctl(&node, "net.ipv4.conf.all.route_localnet"), "0");
}

#[test]
fn a_127_destination_from_the_wire_is_martian_unless_route_localnet() {
    // (A NodePort on 127.0.0.1 is DNATed in PREROUTING, before routing looks at the
    // destination: that one is no martian. A service bound to localhost, port 22, is.)
    let w = world(|t| t);
    // node-2 runs with route_localnet=0: dropped while routing, before any rule.
    let t = arrive(&w, "node-2", "eth0", "172.31.0.11", "127.0.0.1");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped);
    assert!(
        t.disposition
            .reason
            .contains("martian destination 127.0.0.1"),
        "{}",
        t.disposition.reason
    );
    assert_eq!(t.steps.last().unwrap().func, "ip_route_input_slow");
    // node-1 has it on (kube-proxy): routing lets it in, and kubelet's KUBE-FIREWALL rule
    // is what drops it.
    let t = arrive(&w, "node-1", "eth0", "172.31.0.12", "127.0.0.1");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped);
    assert!(
        t.disposition
            .reason
            .contains("block incoming localnet connections"),
        "{}",
        t.disposition.reason
    );
}

#[test]
fn rp_filter_strict_wants_the_way_back_through_the_same_device_loose_any_way_back() {
    // 10.244.2.5 lives behind node-2: node-1's route back to it is via flannel.1, so a
    // packet claiming that source on eth0 fails strict reverse-path filtering.
    let with = |v: &str| {
        world(|t| {
            t.replace(
                "  nodes:\n",
                &format!("  sysctls: {{net.ipv4.conf.all.rp_filter: {v}}}\n  nodes:\n"),
            )
        })
    };
    let strict = arrive(&with("1"), "node-1", "eth0", "10.244.2.5", "172.31.0.11");
    assert_eq!(strict.disposition.kind, DispositionKind::Dropped);
    assert_eq!(strict.steps.last().unwrap().func, "fib_validate_source");
    assert!(
        strict
            .disposition
            .reason
            .contains("leaves through flannel.1, not eth0"),
        "{}",
        strict.disposition.reason
    );
    for v in ["0", "2"] {
        let t = arrive(&with(v), "node-1", "eth0", "10.244.2.5", "172.31.0.11");
        assert!(
            !t.steps.iter().any(|s| s.func == "fib_validate_source"),
            "rp_filter={v} lets it in: {}",
            t.disposition.reason
        );
    }
    // The device's own value counts too: the larger of all and eth0.
    let dev = world(|t| {
        t.replace(
        "    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}",
        "    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24, sysctls: {net.ipv4.conf.eth0.rp_filter: 1}}",
    )
    });
    let t = arrive(&dev, "node-1", "eth0", "10.244.2.5", "172.31.0.11");
    assert_eq!(t.steps.last().unwrap().func, "fib_validate_source");
}

#[test]
fn a_packet_from_the_wire_with_the_node_s_own_source_is_martian() {
    let w = world(|t| t);
    let t = arrive(&w, "node-1", "eth0", "172.31.0.11", "172.31.0.11");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped);
    assert!(
        t.disposition.reason.contains("martian source 172.31.0.11"),
        "{}",
        t.disposition.reason
    );
}

/// The node's nat rules, as `kpath show --iptables` prints them.
fn nat_rules(w: &World, node: &str) -> String {
    w.ns_by_name(node).unwrap().netfilter.save()
}

#[test]
fn node_port_addresses_narrow_the_nodeports_and_drop_localhost() {
    let kp =
        |conf: &str| world(|t| t.replace("services:", &format!("kubeProxy: {conf}\nservices:")));
    // Unset: every LOCAL address, 127.0.0.1 included (route_localnet=1).
    let all = nat_rules(&world(|t| t), "node-1");
    assert!(all.contains("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"), "{all}");
    // Only the underlay: one rule for the node's own address, and no route_localnet.
    let w = kp("{nodePortAddresses: [172.31.0.0/24]}");
    let rules = nat_rules(&w, "node-1");
    assert!(rules.contains("-A KUBE-SERVICES -d 172.31.0.11/32 -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -j KUBE-NODEPORTS"), "{rules}");
    assert!(!rules.contains("--dst-type LOCAL -j KUBE-NODEPORTS"));
    let show = kpath_sim::net::iproute2::sysctls(w.ns_by_name("node-1").unwrap());
    assert_eq!(sysctl(&show, "net.ipv4.conf.all.route_localnet"), "0");
    // `primary` is the InternalIP alone.
    let rules = nat_rules(&kp("{nodePortAddresses: [primary]}"), "node-3");
    assert!(
        rules.contains("-A KUBE-SERVICES -d 172.31.0.13/32 "),
        "{rules}"
    );
    // localhostNodePorts off: every LOCAL address but 127.0.0.0/8.
    let rules = nat_rules(&kp("{localhostNodePorts: false}"), "node-1");
    assert!(
        rules.contains("-A KUBE-SERVICES ! -d 127.0.0.0/8 -m comment"),
        "{rules}"
    );
}
