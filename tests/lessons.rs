//! Every shipped scenario loads, every packet in it ends the way its lesson says.
//! (Scenario `expect:` blocks and `kpath test` come with the scenario-test issue; until then
//! the lessons' promises are pinned here.)

mod common;

use common::*;
use kpath_sim::trace::{DispositionKind, Role, StepKind};

#[test]
fn every_shipped_scenario_loads_and_every_packet_ends_in_one_disposition() {
    let mut n = 0;
    for entry in
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let s = kpath_sim::load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.description.is_some(),
            "{}: say what the lesson teaches",
            path.display()
        );
        let w = kpath_sim::k8s::build_world(s.model(), s.seed).unwrap();
        for p in &s.packets {
            let t = kpath_sim::run_packet(&s, &w, &p.name.value).unwrap();
            assert_ne!(
                t.disposition.kind,
                DispositionKind::Loop,
                "{} {}",
                path.display(),
                p.name.value
            );
            assert!(!t.disposition.reason.is_empty());
            n += 1;
        }
    }
    assert!(n >= 12, "only {n} packets in the shipped scenarios");
}

#[test]
fn containers_of_a_pod_talk_over_lo() {
    for packet in ["syn", "syn-pod-ip"] {
        let t = trace("container-to-container", packet);
        assert_eq!(t.disposition.kind, DispositionKind::Delivered);
        assert_eq!(
            t.disposition.socket.as_deref(),
            Some("tcp 0.0.0.0:6379 (container redis)")
        );
        assert!(
            t.steps.iter().all(|s| s.netns == "default/web"),
            "{packet} never leaves the pod"
        );
        assert!(t.steps.iter().any(|s| s.func == "loopback_xmit"));
        assert!(!t.steps.iter().any(|s| s.func == "veth_xmit"));
    }
    let t = trace("container-to-container", "udp-no-listener");
    assert_eq!(t.disposition.kind, DispositionKind::NoListener);
    assert!(
        t.steps
            .iter()
            .any(|s| s.role == Role::Response && s.func == "icmp_send")
    );
}

#[test]
fn closed_port_on_the_same_node_is_refused_with_rst() {
    let t = trace("pod-to-pod-same-node", "syn-closed-port");
    assert_eq!(t.disposition.kind, DispositionKind::NoListener);
    let rst = t
        .steps
        .iter()
        .find(|s| s.func == "tcp_v4_send_reset")
        .expect("a RST is sent");
    let ip = ipv4(&rst.packet).unwrap();
    assert_eq!(
        (ip.src.to_string(), ip.dst.to_string()),
        ("10.244.1.3".into(), "10.244.1.2".into())
    );
}

#[test]
fn host_gw_routes_via_the_node_ip_without_encapsulation() {
    let t = trace("pod-to-pod-host-gw", "ping");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    assert!(
        !t.steps.iter().any(|s| s.kind == StepKind::Encap),
        "no tunnel"
    );
    let underlay: Vec<_> = crossings(&t)
        .into_iter()
        .filter(|(w, _)| w.contains("underlay"))
        .collect();
    assert!(!underlay.is_empty());
    for (_, s) in underlay {
        let ip = ipv4(&s.packet).unwrap();
        assert_eq!(
            (ip.src.to_string(), ip.dst.to_string(), ip.ttl),
            ("10.244.1.2".into(), "10.244.2.2".into(), 63)
        );
        assert_eq!(s.packet.emit().len(), 98);
    }
    assert_eq!(
        ipv4(&t.packet_steps().last().unwrap().packet).unwrap().ttl,
        62
    );
}

#[test]
fn a_correct_pod_mtu_refuses_the_oversized_ping_locally() {
    // Same cluster as the mtu-too-big lesson but with flannel's own MTU (1450) in the pods.
    let src = std::fs::read_to_string(scenario_path("mtu-too-big")).unwrap();
    let fixed = src.replace(
        "    mtu: 1500            # misconfigured",
        "    # mtu left to flannel",
    );
    assert_ne!(src, fixed);
    let s = kpath_sim::load_scenario_str("fixed.yaml", &fixed).unwrap();
    assert_eq!(s.model().network.pod_mtu(&s.model().nodes[0]), 1450);
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    let t = kpath_sim::run_packet(&s, &w, "ping-1472").unwrap();
    assert_eq!(t.disposition.kind, DispositionKind::MessageTooLong);
    assert_eq!(t.disposition.netns, "default/client");
    assert!(
        t.disposition.reason.contains("mtu=1450"),
        "{}",
        t.disposition.reason
    );
    assert!(crossings(&t).is_empty(), "nothing leaves the pod");
}

#[test]
fn the_text_trace_shows_where_the_masquerade_mark_is_set_and_cleared() {
    // Hairpin: kube-proxy marks the packet (KUBE-MARK-MASQ) and KUBE-POSTROUTING clears the
    // mark before it masquerades; the lesson is in those two lines.
    let s = kpath_sim::load_scenario(&scenario_path("hairpin")).unwrap();
    let name = s.packets[0].name.value.clone();
    let (text, _) = text_after("hairpin", &name, false, "tcp_v4_connect");
    let lines: Vec<&str> = text.lines().collect();
    let after = |step: &str| {
        let i = lines
            .iter()
            .position(|l| l.contains(step))
            .unwrap_or_else(|| panic!("no `{step}` step:\n{text}"));
        lines[i + 1].trim()
    };
    assert_eq!(
        after("nat KUBE-MARK-MASQ #1"),
        "-> continue (MARK sets the mark and goes on), mark 0x0 -> 0x4000"
    );
    assert_eq!(
        after("nat KUBE-POSTROUTING #2"),
        "-> continue (MARK sets the mark and goes on), mark 0x4000 -> 0x0"
    );
    // A rule that leaves the mark alone says nothing of it.
    assert!(!after("nat POSTROUTING #1").contains("mark"));
}

/// The text lines of a lesson packet's trace, and the line after the first step line
/// containing `step`.
fn text_after(scenario: &str, packet: &str, explain: bool, step: &str) -> (String, String) {
    let opts = kpath_sim::render::text::TextOptions {
        explain,
        why: false,
        brief: false,
    };
    // As the command line walks it: saying why (World::why_not).
    let (s, mut w) = load(scenario);
    w.why_not = true;
    let t = kpath_sim::run_packet(&s, &w, packet).unwrap();
    let text = kpath_sim::render::text::trace(&t, &opts);
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains(step))
        .unwrap_or_else(|| panic!("no `{step}` step:\n{text}"));
    let next = lines[i + 1].trim().to_string();
    (text, next)
}

#[test]
fn the_text_trace_says_why_a_rule_returned_and_what_conntrack_and_nat_decided() {
    let at = |step| text_after("pod-to-clusterip-cross-node", "syn", false, step).1;
    // No masquerade mark, so KUBE-POSTROUTING sends the packet back: the lesson's point.
    assert_eq!(
        at("nat KUBE-POSTROUTING #1"),
        "-> return (mark 0x0 & 0x4000 is 0x0)"
    );
    // flannel does not masquerade pod-to-pod traffic, and says with which addresses.
    let (text, _) = text_after(
        "pod-to-clusterip-cross-node",
        "syn",
        false,
        "FLANNEL-POSTRTG #2",
    );
    assert!(
        text.contains("-> return (source 10.244.0.2 is in 10.244.0.0/24; destination"),
        "{text}"
    );
    assert_eq!(
        at("nf_conntrack_in PREROUTING"),
        "-> NEW: no entry matches, so a new (unconfirmed) connection starts"
    );
    assert!(
        at("nf_nat_packet PREROUTING")
            .starts_with("-> DNAT: destination 10.96.100.1:80 -> 10.244.2.5:3000"),
        "{}",
        at("nf_nat_packet PREROUTING")
    );
    // --explain adds what the lines do not say yet, and never repeats the `->` line.
    let (text, _) = text_after("pod-to-clusterip-cross-node", "syn", true, "ip_forward");
    assert!(!text.contains("nf_nat_packet: DNAT"), "{text}");
    assert!(!text.contains(": verdict jump"), "{text}");
}

#[test]
fn a_fate_is_decided_before_the_answer_it_sends() {
    // `ip_forward` finds the MTU too small and then calls icmp_send; `tcp_v4_rcv` finds no
    // socket and then tcp_v4_send_reset: in every shipped trace the deciding step comes
    // first, and no answer is followed by the drop that caused it.
    let mut answers = 0;
    for name in [
        "mtu-too-big",
        "pod-to-pod-same-node",
        "container-to-container",
    ] {
        let s = kpath_sim::load_scenario(&scenario_path(name)).unwrap();
        let w = kpath_sim::k8s::build_world(s.model(), s.seed).unwrap();
        for p in &s.packets {
            let t = kpath_sim::run_packet(&s, &w, &p.name.value).unwrap();
            for pair in t.steps.windows(2) {
                assert!(
                    !(pair[0].role == Role::Response && pair[1].kind == StepKind::Drop),
                    "{name} {}: {} {} comes before {} {}",
                    p.name.value,
                    pair[0].index,
                    pair[0].func,
                    pair[1].index,
                    pair[1].func
                );
                if pair[1].role == Role::Response && pair[0].kind == StepKind::Drop {
                    answers += 1;
                }
            }
            for (i, s) in t.steps.iter().enumerate() {
                assert_eq!(s.index, i + 1, "{name}: steps are numbered in order");
            }
        }
    }
    assert!(answers >= 3, "only {answers} answered drops seen");
}
