//! Scenario validation for what the engine does not model or the kernel and Kubernetes would
//! not accept: non-unicast addresses, packets too big for the overlay, and names.

mod common;

use kpath_sim::scenario::{ScenarioError, load_scenario_str};

fn base() -> String {
    std::fs::read_to_string(common::scenario_path("pod-to-pod-cross-node")).unwrap()
}

/// Load `base()` with `from` replaced by `to` (exactly once), or with `to` appended when
/// `from` is empty, and return the error.
fn error_after(from: &str, to: &str) -> (ScenarioError, String) {
    let src = base();
    let bad = if from.is_empty() {
        format!("{src}{to}")
    } else {
        assert_eq!(src.matches(from).count(), 1, "`{from}` must occur once");
        src.replacen(from, to, 1)
    };
    match load_scenario_str("bad.yaml", &bad) {
        Ok(_) => panic!("`{to}` was accepted"),
        Err(e) => (e, bad),
    }
}

/// The error's message and hint contain `message` and `hint`, and it points at the first
/// occurrence of `needle` at or after the edit.
fn check(from: &str, to: &str, needle: &str, message: &str, hint: &str) {
    let (e, bad) = error_after(from, to);
    assert!(
        e.message.contains(message),
        "message `{}` lacks `{message}`",
        e.message
    );
    let h = e.hint.clone().unwrap_or_default();
    assert!(h.contains(hint), "hint `{h}` lacks `{hint}`");
    let edit = if from.is_empty() {
        bad.len() - to.len()
    } else {
        bad.find(to).unwrap()
    };
    let at = edit + bad[edit..].find(needle).expect("needle after the edit");
    let line = bad[..at].matches('\n').count() + 1;
    let col = at - bad[..at].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    assert_eq!(
        (e.line, e.column),
        (line, col),
        "location of `{}`",
        e.message
    );
}

fn accepted(extra: &str) {
    let src = format!("{}{extra}", base());
    if let Err(e) = load_scenario_str("ok.yaml", &src) {
        panic!("`{extra}` was refused: {e}");
    }
}

const UNICAST: &str = "kpath models unicast; broadcast/multicast delivery is not modelled yet";

#[test]
fn broadcast_multicast_and_unspecified_destinations_are_refused() {
    for (to, what) in [
        ("255.255.255.255", "broadcast"),
        ("10.244.2.255", "broadcast"),
        ("172.31.0.255", "broadcast"),
        ("224.0.0.251", "multicast"),
        ("239.1.2.3", "multicast"),
        ("0.0.0.0", "0.0.0.0"),
    ] {
        check(
            "",
            &format!("  - {{name: x, from: pod/default/client, to: {to}, protocol: icmp}}\n"),
            to,
            what,
            UNICAST,
        );
    }
}

#[test]
fn broadcast_and_multicast_sources_are_refused() {
    for from in ["255.255.255.255", "224.0.0.1", "10.244.1.255"] {
        check(
            "",
            &format!("  - {{name: x, from: {from}, to: pod/default/server, protocol: icmp}}\n"),
            from,
            "cannot send",
            UNICAST,
        );
    }
}

#[test]
fn a_payload_that_cannot_be_one_datagram_is_refused() {
    // 65535 - 20 (IPv4) - 8 (ICMP/UDP) = 65507, ping -s's largest; TCP leaves room for 40
    // bytes of header (a SYN's options): 65475.
    check(
        "",
        "  - {name: x, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp, flags: [ACK], size: 65476, df: false}\n",
        "65476",
        "payload size 65476",
        "at most 65475",
    );
    check(
        "",
        "  - {name: x, from: pod/default/client, to: pod/default/server, protocol: icmp, size: 65508}\n",
        "65508",
        "payload size 65508",
        "at most 65507",
    );
    accepted(
        "  - {name: x, from: pod/default/client, to: pod/default/server, protocol: icmp, size: 65507}\n",
    );
    accepted(
        "  - {name: x, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp, size: 65475, df: false}\n",
    );
}

#[test]
fn the_largest_datagram_crosses_the_overlay_in_fragments_no_frame_over_its_mtu() {
    // The largest UDP datagram, with the socket's default path MTU discovery: the pod cuts
    // it to its MTU, every frame fits the device it crosses, and the server gets it whole.
    let src = format!(
        "{}  - {{name: x, from: pod/default/client, to: 'pod/default/server:53', protocol: udp, size: 65507}}\n",
        base()
    );
    let s = load_scenario_str("ok.yaml", &src).unwrap();
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    let t = kpath_sim::run_packet(&s, &w, "x").unwrap();
    assert_eq!(
        t.disposition.netns, "default/server",
        "{}",
        t.disposition.reason
    );
    let arrived = t.arrival().unwrap().packet.len();
    assert_eq!(arrived, 14 + 65535);
    let mut crossings = 0;
    for step in t.steps.iter().filter(|s| s.wire.is_some()) {
        let dev = step.device.as_deref().unwrap();
        let mtu = w
            .ns_by_name(&step.netns)
            .unwrap()
            .link_by_name(dev)
            .unwrap()
            .mtu as usize;
        assert!(
            step.packet.len() <= 14 + mtu,
            "step {} on {} {dev}: {} bytes",
            step.index,
            step.netns,
            step.packet.len()
        );
        assert_eq!(
            kpath_sim::wire::Frame::parse(&step.packet.emit(), &[8472]).unwrap(),
            step.packet
        );
        crossings += 1;
    }
    assert!(
        crossings > 46 * 4,
        "each of the 46 fragments crosses every link: {crossings}"
    );
}

#[test]
fn node_names_are_dns_labels() {
    check(
        "    - name: node-2\n",
        "    - name: Node_2\n",
        "Node_2",
        "node name `Node_2`",
        "DNS-1123 label",
    );
    check(
        "    - name: node-2\n",
        "    - name: node-2-\n",
        "node-2-",
        "node name `node-2-`",
        "DNS-1123 label",
    );
    let long = "n".repeat(64);
    check(
        "    - name: node-2\n",
        &format!("    - name: {long}\n"),
        &long,
        "longer than 63",
        "DNS-1123 label",
    );
}

#[test]
fn the_underlay_name_is_reserved() {
    check(
        "    - name: node-2\n",
        "    - name: underlay\n",
        "underlay",
        "`underlay` is reserved",
        "switch",
    );
}

#[test]
fn pod_names_are_dns_subdomains() {
    check(
        "  - name: server\n",
        "  - name: Server\n",
        "Server",
        "pod name `Server`",
        "DNS-1123",
    );
    check(
        "  - name: server\n",
        "  - name: web/1\n",
        "web/1",
        "pod name `web/1`",
        "DNS-1123",
    );
    accepted_pod_rename("web-1.v2");
}

fn accepted_pod_rename(name: &str) {
    let src = base()
        .replacen("  - name: server\n", &format!("  - name: {name}\n"), 1)
        .replace("pod/default/server", &format!("pod/default/{name}"));
    if let Err(e) = load_scenario_str("ok.yaml", &src) {
        panic!("`{name}` was refused: {e}");
    }
}

#[test]
fn pod_namespaces_are_dns_labels() {
    check(
        "  - name: server\n",
        "  - name: server\n    namespace: Prod\n",
        "Prod",
        "namespace `Prod`",
        "DNS-1123 label",
    );
}
