//! The Service lessons (kube-proxy iptables mode, flannel, the internet): what each one
//! promises a learner, checked on the structured traces.

mod common;

use common::*;
use kpath_sim::netfilter::eval::HitAction;
use kpath_sim::run::{flow_outcomes, packet_outcomes, run_flow};
use kpath_sim::trace::{DispositionKind, FlowTrace, Role, Trace};
use kpath_sim::wire::{L4, UdpPayload};

fn flow(name: &str, f: &str) -> FlowTrace {
    let (s, w) = load(name);
    run_flow(&s, &w, f).unwrap_or_else(|e| panic!("{e}"))
}

/// The packet as its socket got it: (src, sport, dst, dport).
fn arrived(t: &Trace) -> (String, u16, String, u16) {
    let ip = ipv4(&t.arrival().unwrap().packet).unwrap().clone();
    let (sp, dp) = ip.l4_ports().unwrap_or_default();
    (ip.src.to_string(), sp, ip.dst.to_string(), dp)
}

fn packet<'a>(f: &'a FlowTrace, label: &str) -> &'a Trace {
    &f.packets
        .iter()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no packet {label}"))
        .trace
}

#[test]
fn same_node_clusterip_is_bridged_dnat_and_arrives_with_ttl_64() {
    let t = trace("pod-to-clusterip-same-node", "syn");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    assert_eq!(arrived(&t).2, "10.244.1.3");
    assert!(
        t.packet_steps()
            .any(|s| s.func == "br_nf_pre_routing_finish" && s.note.contains("bridged DNAT"))
    );
    assert!(
        !t.packet_steps()
            .any(|s| s.netns == "node-1" && s.func == "ip_forward"),
        "never routed"
    );
    assert_eq!(ipv4(&t.steps.last().unwrap().packet).unwrap().ttl, 64);
}

#[test]
fn the_client_gets_the_clusterip_back_in_the_reply() {
    let f = flow("pod-to-clusterip-same-node", "curl");
    assert!(f.completed, "{}", f.summary);
    assert_eq!(f.packets.len(), 8);
    let (src, sport, _, _) = arrived(packet(&f, "SYN-ACK"));
    assert_eq!(
        (src.as_str(), sport),
        ("10.96.0.20", 80),
        "reverse DNAT restored the ClusterIP"
    );
    // The reply is never walked through the nat table: conntrack applies the binding.
    let synack = packet(&f, "SYN-ACK");
    assert!(!synack.steps.iter().any(|s| {
        s.nf.as_ref()
            .is_some_and(|n| n.rule.table.name() == "nat" && !n.rule.is_policy())
    }));
    assert!(
        synack
            .steps
            .iter()
            .any(|s| s.func == "nf_nat_packet" && s.note.contains("reverse DNAT"))
    );
}

#[test]
fn cross_node_clusterip_lists_every_endpoint_with_its_probability() {
    let (s, w) = load("pod-to-clusterip-cross-node");
    let o = packet_outcomes(&s, &w, "syn").unwrap();
    let mut got: Vec<(String, String)> = o
        .iter()
        .map(|o| (arrived(&o.result).2, format!("{:.4}", o.probability)))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("10.244.1.4".into(), "0.3333".into()),
            ("10.244.2.4".into(), "0.3333".into()),
            ("10.244.2.5".into(), "0.3333".into())
        ]
    );
}

#[test]
fn hairpin_traffic_is_masqueraded_to_the_bridge_address() {
    let t = trace("hairpin", "syn");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    let (src, _, dst, dport) = arrived(&t);
    assert_eq!(
        (src.as_str(), dst.as_str(), dport),
        ("10.244.1.1", "10.244.1.3", 80)
    );
    assert!(
        t.steps
            .iter()
            .any(|s| s.func == "br_forward" && s.note.contains("hairpin mode is on"))
    );
    assert!(t.steps.iter().any(|s| {
        s.nf.as_ref().is_some_and(|n| {
            n.rule.chain.starts_with("KUBE-SEP-")
                && n.action == HitAction::Jump("KUBE-MARK-MASQ".into())
        })
    }));
}

#[test]
fn without_br_netfilter_the_reply_skips_reverse_nat_and_the_client_resets() {
    let f = flow("bridge-nf-call-iptables-off", "curl");
    assert!(!f.completed);
    let labels: Vec<&str> = f.packets.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["SYN", "SYN-ACK", "RST"]);
    let synack = packet(&f, "SYN-ACK");
    assert_eq!(synack.disposition.kind, DispositionKind::NoListener);
    assert_eq!(
        arrived(synack).0,
        "10.244.1.3",
        "the pod's own address, not the ClusterIP"
    );
    assert!(
        !synack.steps.iter().any(|s| s.func == "br_nf_pre_routing"),
        "bridged without br_netfilter"
    );
    let syn = packet(&f, "SYN");
    assert_eq!(
        ipv4(&syn.steps.last().unwrap().packet).unwrap().ttl,
        63,
        "the request was routed, not bridged"
    );
}

#[test]
fn nodeport_with_external_traffic_policy_cluster_and_local() {
    let f = flow("nodeport-external", "nodeport");
    assert!(f.completed, "{}", f.summary);
    assert_eq!(
        arrived(packet(&f, "SYN")).0,
        "10.244.1.0",
        "masqueraded to node-1's flannel.1 address"
    );
    assert_eq!(
        arrived(packet(&f, "SYN-ACK")).0,
        "172.31.0.11",
        "the laptop hears back from the node it called"
    );
    let f = flow("nodeport-external", "local-no-endpoint");
    let syn = packet(&f, "SYN");
    assert_eq!(syn.disposition.kind, DispositionKind::Dropped);
    assert!(
        syn.disposition.reason.contains("KUBE-EXTERNAL-SERVICES")
            && syn.disposition.reason.contains("has no local endpoints")
    );
    let f = flow("nodeport-external", "local-keeps-client-ip");
    assert!(f.completed);
    assert_eq!(
        arrived(packet(&f, "SYN")).0,
        "203.0.113.10",
        "eTP Local keeps the client's address"
    );
}

#[test]
fn load_balancer_source_ranges() {
    assert!(flow("loadbalancer", "allowed").completed);
    let f = flow("loadbalancer", "blocked");
    let syn = packet(&f, "SYN");
    assert_eq!(syn.disposition.kind, DispositionKind::Dropped);
    assert!(
        syn.disposition.reason.contains("KUBE-PROXY-FIREWALL"),
        "{}",
        syn.disposition.reason
    );
}

/// The DNS messages of a trace's lookup, in the order they were sent: each query as the
/// resolver sent it, each answer as CoreDNS sent it.
fn dns_messages(t: &Trace) -> Vec<(String, kpath_sim::wire::dns::Dns)> {
    t.steps
        .iter()
        .filter(|s| s.role == Role::Dns && s.func == "udp_sendmsg")
        .filter_map(|s| match &ipv4(&s.packet)?.payload {
            L4::Udp(u) => match &u.payload {
                UdpPayload::Dns(d) => Some((s.netns.clone(), (**d).clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn externalname_is_a_cname_and_no_rule() {
    let f = flow("externalname", "connect-db");
    assert!(f.completed, "{}", f.summary);
    let syn = packet(&f, "SYN");
    // The lookup is walked: the query to the kube-dns ClusterIP, DNATed to CoreDNS, whose
    // answer carries the CNAME and the address CoreDNS resolved for it.
    let msgs = dns_messages(syn);
    assert_eq!(msgs.len(), 2, "one query, one answer");
    let (asker, query) = &msgs[0];
    assert_eq!(asker, "shop/api");
    assert_eq!(query.questions[0].name, "db.shop.svc.cluster.local");
    let (server, answer) = &msgs[1];
    assert_eq!(server, "kube-system/coredns");
    assert_eq!(answer.id, query.id, "the answer matches the query's id");
    assert!(answer.is_response());
    assert_eq!(
        answer.addresses(),
        ["203.0.113.20".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    assert!(
        matches!(&answer.answers[0].data, kpath_sim::wire::dns::RData::Cname(n) if n == "db.example.com")
    );
    let lookup = syn.steps.iter().rfind(|s| s.func == "getaddrinfo").unwrap();
    assert!(
        lookup
            .note
            .contains("db.shop.svc.cluster.local? CNAME db.example.com")
            && lookup.note.contains("A 203.0.113.20"),
        "{}",
        lookup.note
    );
    // The connection itself meets no Service rule: ExternalName is only DNS.
    assert!(!syn.packet_steps().any(|s| {
        s.nf.as_ref()
            .is_some_and(|n| n.rule.chain.starts_with("KUBE-SVC"))
    }));
    assert_eq!(
        arrived(syn).0,
        "198.51.100.1",
        "leaves through both masquerades"
    );
}

#[test]
fn headless_resolves_to_ready_pods_only_and_skips_dnat() {
    let f = flow("headless", "cql");
    assert!(f.completed);
    let syn = packet(&f, "SYN");
    assert_eq!(arrived(syn).2, "10.244.2.10");
    // Four dots are fewer than ndots:5: the three search domains are asked first.
    let asked: Vec<String> = dns_messages(syn)
        .iter()
        .filter(|(_, d)| !d.is_response())
        .map(|(_, d)| d.questions[0].name.clone())
        .collect();
    assert_eq!(
        asked,
        [
            "cassandra.default.svc.cluster.local.default.svc.cluster.local",
            "cassandra.default.svc.cluster.local.svc.cluster.local",
            "cassandra.default.svc.cluster.local.cluster.local",
            "cassandra.default.svc.cluster.local",
        ]
    );
    assert!(syn.steps.iter().any(|s| s.func == "getaddrinfo"
        && s.note.contains("A 10.244.2.10")
        && !s.note.contains("10.244.2.11")));
    assert!(!syn.packet_steps().any(|s| s.func == "nf_nat_packet"));
}

#[test]
fn a_service_without_endpoints_is_rejected_and_the_client_hears_it() {
    let f = flow("no-endpoints-reject", "connect");
    let labels: Vec<&str> = f.packets.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["SYN", "ICMP error"]);
    assert_eq!(
        packet(&f, "SYN").disposition.kind,
        DispositionKind::Rejected
    );
    assert_eq!(packet(&f, "ICMP error").disposition.netns, "default/client");
}

#[test]
fn client_ip_affinity_keeps_every_connection_on_one_endpoint() {
    let (s, w) = load("session-affinity");
    let o = flow_outcomes(&s, &w, "two-connections").unwrap();
    assert_eq!(o.len(), 2, "only the first connection draws");
    for out in &o {
        assert!((out.probability - 0.5).abs() < 1e-9);
        let servers: Vec<String> = out
            .result
            .packets
            .iter()
            .filter(|p| p.side == "client")
            .map(|p| p.trace.disposition.netns.clone())
            .collect();
        assert!(servers.windows(2).all(|w| w[0] == w[1]), "{servers:?}");
    }
    let second = o[0]
        .result
        .packets
        .iter()
        .find(|p| p.label == "connection 2: SYN")
        .unwrap();
    assert!(second.trace.steps.iter().any(|s| {
        s.nf.as_ref()
            .is_some_and(|n| n.rule.text.contains("--rcheck"))
    }));
}

#[test]
fn egress_is_masqueraded_twice_and_the_reply_undone_twice() {
    let f = flow("pod-to-internet", "https");
    assert!(f.completed);
    let syn = packet(&f, "SYN");
    assert_eq!(arrived(syn).0, "198.51.100.1");
    let on_underlay: Vec<String> = syn
        .packet_steps()
        .filter(|s| s.wire.as_deref().is_some_and(|w| w.contains("underlay")))
        .map(|s| ipv4(&s.packet).unwrap().src.to_string())
        .collect();
    assert!(
        on_underlay.iter().all(|s| s == "172.31.0.11"),
        "{on_underlay:?}"
    );
    assert_eq!(arrived(packet(&f, "SYN-ACK")).2, "10.244.1.5");
    assert!(flow("pod-to-internet", "ping-out").completed);
}

#[test]
fn ingress_is_two_connections() {
    let a = flow("ingress", "client-to-ingress");
    assert!(a.completed);
    assert_eq!(
        arrived(packet(&a, "SYN")).0,
        "10.244.2.0",
        "the controller sees the node, not the browser"
    );
    let b = flow("ingress", "ingress-to-backend");
    assert!(b.completed);
    assert_eq!(arrived(packet(&b, "SYN")).0, "10.244.1.20");
    assert!(
        !packet(&b, "SYN")
            .steps
            .iter()
            .any(|s| s.func == "nf_nat_packet"),
        "straight to the pod"
    );
}

#[test]
fn an_icmp_error_is_related_and_translated_with_the_packet_it_quotes() {
    let f = flow("pod-to-clusterip-cross-node", "statsd");
    let labels: Vec<&str> = f.packets.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["request", "ICMP error"]);
    let err = packet(&f, "ICMP error");
    assert_eq!(err.disposition.kind, DispositionKind::Delivered);
    assert!(
        err.disposition.reason.contains("ECONNREFUSED"),
        "{}",
        err.disposition.reason
    );
    assert!(
        err.steps
            .iter()
            .any(|s| s.func == "nf_conntrack_in" && s.note.starts_with("RELATED"))
    );
    let last = ipv4(&err.steps.last().unwrap().packet).unwrap().clone();
    assert_eq!(
        last.src.to_string(),
        "10.96.100.2",
        "the error comes from the ClusterIP"
    );
    let q = kpath_sim::netfilter::conntrack::quoted_tuple(&last).unwrap();
    assert_eq!(
        (q.dst.to_string(), q.dport),
        ("10.96.100.2".into(), 8125),
        "the quoted packet is what the client sent"
    );
    // The whole packet, quoted header included, still parses with valid checksums.
    kpath_sim::wire::Frame::parse(&err.steps.last().unwrap().packet.emit(), &[8472]).unwrap();
}

/// A scenario built in the test: one pod per node, one Service with the given extra keys.
fn with_service(extra: &str, packets: &str) -> (kpath_sim::Scenario, kpath_sim::net::World) {
    with_service_ports("[{port: 80}]", extra, packets)
}

fn with_service_ports(
    ports: &str,
    extra: &str,
    packets: &str,
) -> (kpath_sim::Scenario, kpath_sim::net::World) {
    let yaml = format!(
        "cluster:\n  podCIDR: 10.244.0.0/16\n  serviceCIDR: 10.96.0.0/12\n  cni: {{plugin: flannel, backend: vxlan}}\n  underlay: {{cidr: 172.31.0.0/24}}\n  nodes:\n    - {{name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}}\n    - {{name: node-2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24}}\n\
internet:\n  gateway: {{ip: 172.31.0.1, publicIP: 198.51.100.1}}\n  hosts: [{{name: laptop, ip: 203.0.113.10}}]\n\
pods:\n  - {{name: client, node: node-1, ip: 10.244.1.2, containers: [{{name: shell}}]}}\n  - {{name: web, node: node-2, ip: 10.244.2.2, labels: {{app: web}}, containers: [{{name: web, ports: [{{containerPort: 80}}]}}]}}\n\
services:\n  - {{name: web, clusterIP: 10.96.0.50, selector: {{app: web}}, ports: {ports}{extra}}}\n\
packets:\n{packets}"
    );
    let s = kpath_sim::load_scenario_str("inline.yaml", &yaml)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    (s, w)
}

#[test]
fn internal_traffic_policy_local_drops_without_a_local_endpoint() {
    let (s, w) = with_service(
        ", internalTrafficPolicy: Local",
        "  - {name: syn, from: pod/default/client, to: '10.96.0.50:80', protocol: tcp}\n",
    );
    let t = kpath_sim::run_packet(&s, &w, "syn").unwrap();
    assert_eq!(
        t.disposition.kind,
        DispositionKind::Dropped,
        "{}",
        t.disposition.reason
    );
    assert!(
        t.disposition.reason.contains("has no local endpoints"),
        "{}",
        t.disposition.reason
    );
}

#[test]
fn external_ips_are_dnated_and_masqueraded() {
    let (s, w) = with_service(
        ", externalIPs: [192.0.2.10]",
        "  - {name: syn, from: host/laptop, to: '192.0.2.10:80', protocol: tcp}\n",
    );
    // The gateway has no route to 192.0.2.10 (nobody announces it), so send it to node-1
    // the way an external router would.
    let mut w = w;
    let gw = w.ns_by_name("gateway").unwrap().id;
    let eth0 = w.ns(gw).link_by_name("eth0").unwrap().ifindex;
    w.ns_mut(gw).routes.push(kpath_sim::net::Route::via(
        "192.0.2.10/32".parse().unwrap(),
        Some("172.31.0.11".parse().unwrap()),
        eth0,
        false,
    ));
    let t = kpath_sim::run_packet(&s, &w, "syn").unwrap();
    assert_eq!(
        t.disposition.kind,
        DispositionKind::Delivered,
        "{}",
        t.disposition.reason
    );
    assert!(t.steps.iter().any(|s| {
        s.nf.as_ref()
            .is_some_and(|n| n.rule.comment.as_deref() == Some("default/web external IP"))
    }));
    assert_eq!(
        arrived(&t).0,
        "10.244.1.0",
        "masqueraded (external traffic, policy Cluster)"
    );
}

/// kube-proxy's UsesClusterEndpoints: a Service with both policies Local still needs its
/// cluster endpoints (the KUBE-SVC chain exists) for the short circuit of traffic from
/// pods, while ClusterIP traffic stays node-local.
#[test]
fn both_traffic_policies_local_still_load_and_keep_the_client_address() {
    let (s, w) = with_service_ports(
        "[{port: 80, nodePort: 30080}]",
        ", type: NodePort, internalTrafficPolicy: Local, externalTrafficPolicy: Local",
        "  - {name: syn, from: pod/default/client, to: '10.96.0.50:80', protocol: tcp}\n",
    );
    let node1 = w.ns_by_name("node-1").unwrap().netfilter.save();
    assert!(node1.contains(":KUBE-SVC-"), "{node1}");
    let t = kpath_sim::run_packet(&s, &w, "syn").unwrap();
    assert_eq!(
        t.disposition.kind,
        DispositionKind::Dropped,
        "{}",
        t.disposition.reason
    );
    assert!(t.disposition.reason.contains("has no local endpoints"));
}

/// A SYN-ACK nobody asked for cannot start a connection (tcp_conntracks: sNO -> sIV): it
/// is INVALID, so the nat table never sees it and KUBE-FORWARD drops it.
#[test]
fn a_lone_syn_ack_is_invalid_and_dropped_by_kube_forward() {
    let (s, w) = with_service(
        "",
        "  - {name: synack, from: pod/default/client, to: '10.96.0.50:80', protocol: tcp, flags: [SYN, ACK]}\n",
    );
    let t = kpath_sim::run_packet(&s, &w, "synack").unwrap();
    let ct = t
        .steps
        .iter()
        .find(|s| s.func == "nf_conntrack_in")
        .expect("conntrack saw it");
    assert_eq!(
        ct.ct_state,
        Some(kpath_sim::netfilter::rule::CtState::Invalid)
    );
    assert!(!t.steps.iter().any(|s| s.func == "nf_nat_packet"));
    assert_eq!(
        t.disposition.kind,
        DispositionKind::Dropped,
        "{}",
        t.disposition.reason
    );
    assert!(
        t.steps.iter().any(|s| s
            .nf
            .as_ref()
            .is_some_and(|n| n.rule.chain == "KUBE-FORWARD" && n.action == HitAction::Drop)),
        "{}",
        t.disposition.reason
    );
}

/// proxier.go allowFromNode: when a loadBalancerSourceRanges entry holds the node's IP,
/// KUBE-FW also lets in packets from the LB IP itself (a node's own request to a local VIP
/// loops back with the VIP as source).
#[test]
fn a_source_range_holding_the_node_ip_allows_the_lb_ip_itself() {
    let fw_rules = |range: &str| {
        let (_, w) = with_service_ports(
            "[{port: 80, nodePort: 30080}]",
            &format!(
                ", type: LoadBalancer, loadBalancerIP: 203.0.113.50, loadBalancerSourceRanges: [{range}]"
            ),
            "  []\n",
        );
        let save = w.ns_by_name("node-1").unwrap().netfilter.save();
        save.lines()
            .filter(|l| l.starts_with("-A KUBE-FW-"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let with_node = fw_rules("172.31.0.0/24");
    assert!(
        with_node
            .iter()
            .any(|l| l.contains("-s 203.0.113.50/32") && l.contains("-j KUBE-EXT-")),
        "{with_node:#?}"
    );
    let without = fw_rules("198.51.100.0/24");
    assert!(
        !without.iter().any(|l| l.contains("-s 203.0.113.50/32")),
        "{without:#?}"
    );
}

/// A Service may use one nodePort for its TCP and its UDP port (a DNS NodePort), as the
/// API server's allocator allows; another Service may not take the number.
#[test]
fn one_service_may_use_a_node_port_for_tcp_and_udp() {
    let base = "cluster:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
  cni: {plugin: flannel, backend: vxlan}
  underlay: {cidr: 172.31.0.0/24, mtu: 1500}
  nodes:
    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}
pods:
  - {name: dns-0, node: node-1, ip: 10.244.1.5, labels: {app: dns}, containers: [{name: c, ports: [{containerPort: 53}, {containerPort: 53, protocol: UDP}]}]}
services:
  - name: dns
    type: NodePort
    clusterIP: 10.96.0.53
    selector: {app: dns}
    ports:
      - {name: tcp, port: 53, protocol: TCP, nodePort: 30053}
      - {name: udp, port: 53, protocol: UDP, nodePort: 30053}
";
    let s = kpath_sim::load_scenario_str("dns.yaml", base).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.model().services[0].ports.len(), 2);
    let other = format!(
        "{base}  - name: other\n    type: NodePort\n    clusterIP: 10.96.0.54\n    selector: {{app: dns}}\n    ports: [{{port: 53, protocol: UDP, nodePort: 30053}}]\n"
    );
    let e = kpath_sim::load_scenario_str("dns.yaml", &other).unwrap_err();
    assert!(
        e.to_string()
            .contains("nodePort 30053 is already used by Service `default/dns`"),
        "{e}"
    );
}
