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
fn a_payload_that_cannot_be_encapsulated_is_refused() {
    // 65535 - 50 (VXLAN) - 20 (IPv4) - 8 (ICMP/UDP) = 65457; TCP leaves room for 40 bytes
    // of header (a SYN's options): 65425.
    check(
        "",
        "  - {name: x, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp, flags: [ACK], size: 65455, df: false}\n",
        "65455",
        "payload size 65455",
        "50 bytes",
    );
    check(
        "",
        "  - {name: x, from: pod/default/client, to: pod/default/server, protocol: icmp, size: 65458}\n",
        "65458",
        "payload size 65458",
        "at most 65457",
    );
    accepted(
        "  - {name: x, from: pod/default/client, to: pod/default/server, protocol: icmp, size: 65457, df: false}\n",
    );
    accepted(
        "  - {name: x, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp, size: 65425, df: false}\n",
    );
}

#[test]
fn an_oversized_packet_cannot_make_an_oversized_outer_datagram() {
    // The largest accepted UDP datagram, DF clear, across the overlay: every step's bytes
    // stay within IPv4's 65535 and parse back.
    let src = format!(
        "{}  - {{name: x, from: pod/default/client, to: 'pod/default/server:53', protocol: udp, size: 65457, df: false}}\n",
        base()
    );
    let s = load_scenario_str("ok.yaml", &src).unwrap();
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    let t = kpath_sim::run_packet(&s, &w, "x").unwrap();
    assert!(t.steps.iter().any(|s| s.func == "vxlan_xmit_one"));
    for step in &t.steps {
        let bytes = step.packet.emit();
        assert!(bytes.len() <= 14 + 65535, "step {}", step.index);
        assert_eq!(
            kpath_sim::wire::Frame::parse(&bytes, &[8472]).unwrap(),
            step.packet
        );
    }
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
