//! Bad scenarios get a clear error at the right file:line:column, with a hint, and the
//! program exits with status 2 instead of panicking.

mod common;

use kpath_sim::scenario::{ScenarioError, load_scenario_str};

fn base() -> String {
    std::fs::read_to_string(common::scenario_path("pod-to-pod-cross-node")).unwrap()
}

/// Load `base()` with `from` replaced by `to` (exactly once) and return the error.
fn error_after(from: &str, to: &str) -> ScenarioError {
    let src = base();
    assert_eq!(
        src.matches(from).count(),
        1,
        "fixture text `{from}` must occur once"
    );
    let bad = src.replacen(from, to, 1);
    match load_scenario_str("bad.yaml", &bad) {
        Ok(_) => panic!("`{to}` was accepted"),
        Err(e) => e,
    }
}

/// The 1-based line and column where `needle` first occurs in the edited text.
fn place(from: &str, to: &str, needle: &str) -> (usize, usize) {
    let bad = base().replacen(from, to, 1);
    let at = bad.find(needle).unwrap();
    let line = bad[..at].matches('\n').count() + 1;
    let col = at - bad[..at].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

fn check(from: &str, to: &str, needle: &str, message: &str, hint: &str) {
    let e = error_after(from, to);
    assert!(
        e.message.contains(message),
        "message `{}` lacks `{message}`",
        e.message
    );
    assert_eq!(
        (e.line, e.column),
        place(from, to, needle),
        "location of `{}`",
        e.message
    );
    let h = e.hint.clone().unwrap_or_default();
    assert!(h.contains(hint), "hint `{h}` lacks `{hint}`");
    let shown = e.to_string();
    assert!(
        shown.contains(&format!("--> bad.yaml:{}:{}", e.line, e.column)),
        "{shown}"
    );
    let first = needle.lines().next().unwrap_or(needle);
    assert!(
        shown.contains(first),
        "the snippet shows the offending text: {shown}"
    );
}

#[test]
fn unknown_pod_names_the_known_ones() {
    check(
        "to: pod/default/server\n",
        "to: pod/default/sever\n",
        "pod/default/sever",
        "unknown pod `default/sever`",
        "did you mean `pod/default/server`?",
    );
}

#[test]
fn duplicate_pod_names() {
    check(
        "  - name: server\n",
        "  - name: client\n",
        "client\n    node: node-2",
        "pod `default/client` is defined twice",
        "",
    );
}

#[test]
fn duplicate_node_names() {
    check(
        "    - name: node-2\n",
        "    - name: node-1\n",
        "node-1\n      ip: 172.31.0.12",
        "node `node-1` is defined twice",
        "",
    );
}

#[test]
fn pod_ip_outside_its_nodes_cidr() {
    check(
        "    ip: 10.244.2.2\n",
        "    ip: 10.244.1.9\n",
        "10.244.1.9",
        "outside node `node-2`'s pod CIDR 10.244.2.0/24",
        "10.244.2.0/24",
    );
}

#[test]
fn overlapping_node_cidrs() {
    check(
        "podCIDR: 10.244.2.0/24",
        "podCIDR: 10.244.1.128/25",
        "10.244.1.128/25",
        "overlaps node `node-1`'s 10.244.1.0/24",
        "own slice",
    );
}

#[test]
fn unknown_key() {
    check(
        "    mtu: 1500\n",
        "    mtu: 1500\n    colour: blue\n",
        "colour",
        "unknown key `colour`",
        "camelCase",
    );
}

#[test]
fn wrong_type() {
    check(
        "    mtu: 1500\n",
        "    mtu: big\n",
        "big",
        "`big` is not a whole number from 0 to 4294967295",
        "unsigned number",
    );
}

#[test]
fn unknown_node_of_a_pod() {
    check(
        "    node: node-2\n",
        "    node: node-3\n",
        "node-3",
        "unknown node `node-3`",
        "nodes: node-1, node-2",
    );
}

#[test]
fn bad_endpoint_syntax() {
    check(
        "to: pod/default/server\n",
        "to: pods/server\n",
        "pods/server",
        "is not an endpoint",
        "pod/NAMESPACE/NAME",
    );
}

#[test]
fn tcp_without_a_port() {
    check(
        "to: pod/default/server:80\n",
        "to: pod/default/server\n",
        "pod/default/server\n    protocol: tcp",
        "needs a destination port",
        ":PORT",
    );
}

#[test]
fn yaml_syntax_error_is_located() {
    let e = error_after("  - name: ping\n", "  - name: [ping\n");
    assert!(e.line > 0 && e.column > 0, "{e}");
}

#[test]
fn the_binary_reports_and_exits_2_without_panicking() {
    let dir = std::env::temp_dir().join(format!("kpath-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        base().replacen("to: pod/default/server\n", "to: pod/default/nobody\n", 1),
    )
    .unwrap();
    let out = common::kpath()
        .args(["trace", file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown pod `default/nobody`") && err.contains("bad.yaml:"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let out = common::kpath()
        .args(["trace", "/nonexistent/x.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the scenario"));
    let out = common::kpath()
        .args([
            "trace",
            common::scenario_path("pod-to-pod-cross-node")
                .to_str()
                .unwrap(),
            "--packet",
            "pign",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `ping`?"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn flow_connections_are_bounded() {
    let src = std::fs::read_to_string(common::scenario_path("session-affinity")).unwrap();
    assert_eq!(src.matches("connections: 2").count(), 1);
    for n in ["0", "5000"] {
        let bad = src.replacen("connections: 2", &format!("connections: {n}"), 1);
        let e = load_scenario_str("bad.yaml", &bad).expect_err(n);
        assert!(e.message.contains(&format!("{n} connections")), "{e}");
        assert!(
            e.hint.clone().unwrap_or_default().contains("1 to 16"),
            "{e}"
        );
        let line = bad[..bad.find(&format!("connections: {n}")).unwrap()]
            .matches('\n')
            .count()
            + 1;
        assert_eq!(e.line, line, "{e}");
    }
}

#[test]
fn ipvs_settings_need_ipvs_mode_and_a_scheduler_kpath_models() {
    let src = base();
    let line_of =
        |text: &str, needle: &str| text[..text.find(needle).unwrap()].matches('\n').count() + 1;
    // `mode: ipvs` alone loads.
    let ok = src.replacen("cluster:", "kubeProxy: {mode: ipvs}\ncluster:", 1);
    load_scenario_str("ok.yaml", &ok).unwrap_or_else(|e| panic!("{e}"));
    // An unknown scheduler is named, with the ones kpath models.
    let bad = src.replacen(
        "cluster:",
        "kubeProxy:\n  mode: ipvs\n  ipvs: {scheduler: fo}\ncluster:",
        1,
    );
    let e = load_scenario_str("bad.yaml", &bad).expect_err("unknown scheduler");
    assert!(e.message.contains("scheduler `fo`"), "{e}");
    assert!(
        e.hint.clone().unwrap_or_default().contains("rr, wrr"),
        "{e}"
    );
    assert_eq!(e.line, line_of(&bad, "scheduler: fo"), "{e}");
    // IPVS settings without IPVS mode would be silently ignored: refused instead.
    let bad = src.replacen(
        "cluster:",
        "kubeProxy:\n  ipvs: {scheduler: sh}\ncluster:",
        1,
    );
    let e = load_scenario_str("bad.yaml", &bad).expect_err("ipvs without mode");
    assert!(
        e.message.contains("only when kube-proxy runs in IPVS mode"),
        "{e}"
    );
    assert!(
        e.hint.clone().unwrap_or_default().contains("mode: ipvs"),
        "{e}"
    );
    assert_eq!(e.line, line_of(&bad, "ipvs: {"), "{e}");
}
