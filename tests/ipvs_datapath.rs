//! kube-proxy's IPVS mode, datapath side: what the kernel's IPVS hooks do with packets
//! (net/netfilter/ipvs/ip_vs_core.c, ip_vs_xmit.c, ip_vs_nfct.c and the schedulers), each
//! test naming the function it pins. Facts and sources: docs/design/ipvs.md.

mod common;

use common::scenario_path;
use kpath_sim::compare::with_mode;
use kpath_sim::k8s::build_world;
use kpath_sim::run::{flow_outcomes, packet_outcomes, run_flow};
use kpath_sim::scenario::{ProxyMode, Scenario, load_scenario, load_scenario_str};
use kpath_sim::trace::{DispositionKind, Trace};

fn ipvs(name: &str) -> Scenario {
    with_mode(
        &load_scenario(&scenario_path(name)).unwrap(),
        ProxyMode::Ipvs,
    )
}

/// ipvs-clusterip with another scheduler.
fn clusterip_with(sched: &str) -> Scenario {
    let src = std::fs::read_to_string(scenario_path("ipvs-clusterip")).unwrap();
    let src = src.replacen(
        "kubeProxy: {mode: ipvs}",
        &format!("kubeProxy: {{mode: ipvs, ipvs: {{scheduler: {sched}}}}}"),
        1,
    );
    load_scenario_str("ipvs-clusterip.yaml", &src).unwrap_or_else(|e| panic!("{e}"))
}

fn packet(s: &Scenario, name: &str) -> Trace {
    let w = build_world(s.model(), s.seed).unwrap();
    kpath_sim::run_packet(s, &w, name).unwrap()
}

/// Where each connection's SYN of a flow ended, in order.
fn syn_ends(f: &kpath_sim::trace::FlowTrace) -> Vec<&str> {
    f.packets
        .iter()
        .filter(|p| p.label.ends_with(": SYN"))
        .map(|p| p.trace.disposition.netns.as_str())
        .collect()
}

fn step<'a>(t: &'a Trace, func: &str) -> &'a kpath_sim::trace::Step {
    t.steps
        .iter()
        .find(|s| s.func == func)
        .unwrap_or_else(|| panic!("no {func} step"))
}

#[test]
fn ip_vs_update_conntrack_points_the_reply_at_the_real_server_without_a_nat_bit() {
    let t = packet(&ipvs("ipvs-clusterip"), "syn");
    let x = step(&t, "ip_vs_nat_xmit");
    let ct = x.conntrack.as_deref().expect("the conntrack entry");
    // Original tuple to the VIP, reply from the pod: conntrack -L shows both.
    assert!(ct.contains("dst=10.96.100.10 sport="), "{ct}");
    assert!(
        ct.contains("src=10.244.2.4 dst=10.244.1.2 sport=8080"),
        "{ct}"
    );
    // No IPS_DST_NAT: netfilter NAT never rewrites this packet itself.
    assert!(t.steps.iter().all(|s| s.func != "nf_nat_packet"), "{ct}");
    let c = x.ipvs.as_ref().expect("the IPVS connection");
    assert_eq!((c.vport, c.dport), (80, 8080));
}

#[test]
fn ip_vs_nat_xmit_routes_the_packet_so_a_same_node_endpoint_sees_ttl_63() {
    // iptables mode bridges the DNATed frame (TTL 64); IPVS routes it (decrement_ttl).
    let t = packet(&ipvs("pod-to-clusterip-same-node"), "syn");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    let last = common::ipv4(&t.steps.last().unwrap().packet)
        .unwrap()
        .clone();
    assert_eq!(last.ttl, 63);
    assert!(step(&t, "ip_vs_nat_xmit").note.contains("TTL 64 -> 63"));
}

#[test]
fn a_bridged_reply_is_un_natted_by_ip_vs_out_hook_at_br_netfilters_forward() {
    // The pod answers the client on the same bridge: br_nf_forward_ip runs the IPv4
    // FORWARD hook, and IPVS's out hook (priority 100) restores the VIP as source.
    let s = ipvs("pod-to-clusterip-same-node");
    let w = build_world(s.model(), s.seed).unwrap();
    let f = run_flow(&s, &w, "curl").unwrap();
    assert!(f.completed, "{}", f.summary);
    let synack = f.packets.iter().find(|p| p.label == "SYN-ACK").unwrap();
    let out = step(&synack.trace, "ip_vs_out_hook");
    assert_eq!(out.hook, Some(kpath_sim::netfilter::Hook::Forward));
    let seen = common::ipv4(&synack.trace.steps.last().unwrap().packet)
        .unwrap()
        .clone();
    assert_eq!(seen.src.to_string(), "10.96.0.20");
}

#[test]
fn without_br_netfilter_the_bridged_reply_keeps_the_pod_address_and_is_refused() {
    let s = ipvs("bridge-nf-call-iptables-off");
    let w = build_world(s.model(), s.seed).unwrap();
    let Some(flow) = s.flows.first() else {
        panic!("the lesson has a flow")
    };
    let f = run_flow(&s, &w, &flow.name.value).unwrap();
    assert!(!f.completed, "{}", f.summary);
    assert!(
        f.packets
            .iter()
            .all(|p| p.trace.steps.iter().all(|s| s.func != "ip_vs_out_hook")),
        "no IPVS un-NAT on a bridge without br_netfilter"
    );
}

#[test]
fn ip_vs_sched_persist_keeps_a_client_on_one_server() {
    // sessionAffinity ClientIP: a persistent virtual service; the second connection finds
    // the template the first one made.
    let s = ipvs("session-affinity");
    let w = build_world(s.model(), s.seed).unwrap();
    let f = run_flow(&s, &w, "two-connections").unwrap();
    let syns: Vec<&Trace> = f
        .packets
        .iter()
        .filter(|p| p.label.ends_with(": SYN"))
        .map(|p| &p.trace)
        .collect();
    assert_eq!(syns.len(), 2);
    assert_eq!(syns[0].disposition.netns, syns[1].disposition.netns);
    assert!(
        step(syns[0], "ip_vs_in_hook")
            .note
            .contains("persistence template keeps client")
    );
    assert!(
        step(syns[1], "ip_vs_in_hook")
            .note
            .contains("the persistence template of client")
    );
    // Every outcome keeps both connections together.
    let outs = flow_outcomes(&s, &w, "two-connections").unwrap();
    assert_eq!(outs.len(), 2);
    for o in &outs {
        let ends: Vec<&str> = o
            .result
            .packets
            .iter()
            .filter(|p| p.label.ends_with(": SYN"))
            .map(|p| p.trace.disposition.netns.as_str())
            .collect();
        assert_eq!(ends[0], ends[1]);
    }
}

#[test]
fn round_robin_moves_on_per_connection_and_all_outcomes_list_every_server() {
    let s = ipvs("ipvs-clusterip");
    let w = build_world(s.model(), s.seed).unwrap();
    let f = run_flow(&s, &w, "curl").unwrap();
    let ends = syn_ends(&f);
    // ip_vs_rr_schedule from the list head: the newest real server first (ip_vs_add_dest
    // inserts at the head, kube-proxy adds them in order), then the next.
    assert_eq!(ends, ["default/web-b", "default/web-a"]);
    let outs = packet_outcomes(&s, &w, "syn").unwrap();
    let mut at: Vec<&str> = outs
        .iter()
        .map(|o| o.result.disposition.netns.as_str())
        .collect();
    at.sort();
    assert_eq!(at, ["default/web-a", "default/web-b"]);
}

#[test]
fn sh_lc_and_mh_decide_without_chance() {
    for sched in ["sh", "lc", "mh"] {
        let s = clusterip_with(sched);
        let w = build_world(s.model(), s.seed).unwrap();
        let outs = packet_outcomes(&s, &w, "syn").unwrap();
        assert_eq!(outs.len(), 1, "{sched}: one outcome");
        let t = &outs[0].result;
        assert!(
            step(t, "ip_vs_in_hook")
                .note
                .contains(&format!("{sched} (")),
            "{sched}"
        );
    }
    // sh: the source address's bucket (hash_32 of 10.244.1.2) picks the server; the same
    // client lands there on every connection.
    let s = clusterip_with("sh");
    let w = build_world(s.model(), s.seed).unwrap();
    let f = run_flow(&s, &w, "curl").unwrap();
    let ends = syn_ends(&f);
    assert_eq!(ends[0], ends[1]);
    let bucket = kpath_sim::ipvs::sched::sh_bucket("10.244.1.2".parse().unwrap());
    // Two weight-1 servers in list order [web-b, web-a]: bucket b -> list[b % 2].
    let want = ["default/web-b", "default/web-a"][bucket % 2];
    assert_eq!(ends[0], want);
    // lc: the first connection (still active) makes the other server the least loaded.
    let s = clusterip_with("lc");
    let w = build_world(s.model(), s.seed).unwrap();
    let f = run_flow(&s, &w, "curl").unwrap();
    let ends = syn_ends(&f);
    assert_ne!(ends[0], ends[1]);
}

#[test]
fn ip_vs_leave_answers_port_unreachable_from_the_vip_for_udp_too() {
    // The empty Service `api` gets a UDP port too, and a packet to it.
    let src = std::fs::read_to_string(scenario_path("ipvs-clusterip")).unwrap();
    let src = src
        .replacen(
            "    ports: [{port: 80, targetPort: 8080}]",
            "    ports: [{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP}]",
            1,
        )
        .replacen(
            "packets:\n",
            "packets:\n  - {name: dns, from: pod/default/client, to: 10.96.100.20:53, protocol: udp}\n",
            1,
        );
    let s = load_scenario_str("udp.yaml", &src).unwrap_or_else(|e| panic!("{e}"));
    let t = packet(&s, "dns");
    assert_eq!(t.disposition.kind, DispositionKind::Rejected);
    assert!(
        t.disposition.reason.contains("ip_vs_leave"),
        "{}",
        t.disposition.reason
    );
    let icmp = t
        .steps
        .iter()
        .find(|s| s.func == "icmp_send")
        .expect("an ICMP error");
    let ip = common::ipv4(&icmp.packet).unwrap();
    assert_eq!(ip.src.to_string(), "10.96.100.20");
}

#[test]
fn a_node_outside_the_source_ranges_cannot_reach_its_own_lb_ip() {
    // kube-proxy's KUBE-IPVS-OUT-FILTER rule for a LoadBalancer whose source ranges leave
    // the node out; xt_ipvs matches the packet only after IPVS sent it to the real server
    // (ipvs_property, and its connection's virtual address and port).
    let src = std::fs::read_to_string(scenario_path("loadbalancer")).unwrap();
    let src = src.replacen(
        "flows:\n",
        "packets:\n  - {name: from-node, from: node/node-1, to: '203.0.113.50:443', protocol: tcp}\nflows:\n",
        1,
    );
    let s = with_mode(
        &load_scenario_str("lb.yaml", &src).unwrap_or_else(|e| panic!("{e}")),
        ProxyMode::Ipvs,
    );
    let t = packet(&s, "from-node");
    assert_eq!(
        t.disposition.kind,
        DispositionKind::Dropped,
        "{}",
        t.disposition.reason
    );
    let nf = t
        .steps
        .iter()
        .rev()
        .find_map(|s| s.nf.as_ref())
        .map(|n| &n.rule)
        .expect("the dropping rule");
    assert_eq!(nf.chain, "KUBE-IPVS-OUT-FILTER");
    assert!(
        nf.text
            .contains("-m ipvs --vproto 6 --vaddr 203.0.113.50 --vport 443"),
        "{}",
        nf.text
    );
    // The walk got there through IPVS at LOCAL_OUT.
    assert_eq!(
        step(&t, "ip_vs_in_hook").hook,
        Some(kpath_sim::netfilter::Hook::Output)
    );
}
