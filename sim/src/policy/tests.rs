//! The API's semantics on small clusters, and the matrix agreeing with the reference.

use super::*;
use crate::wire::IpProtocol;

/// Namespaces x and y (labelled ns: x / ns: y), pods a and b in each (labels pod: a / b),
/// each declaring port 80 named `serve-80` and port 81; `policies` appended as YAML.
fn cluster(policies: &str) -> crate::scenario::Scenario {
    let mut y = String::from(
        "cluster:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
  cni: {plugin: flannel, backend: vxlan}
  underlay: {cidr: 172.31.0.0/24, mtu: 1500}
  nodes:
    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}
namespaces:
  - {name: x, labels: {ns: x}}
  - {name: y, labels: {ns: y}}
pods:
",
    );
    for (i, (ns, pod)) in [("x", "a"), ("x", "b"), ("y", "a"), ("y", "b")]
        .iter()
        .enumerate()
    {
        y.push_str(&format!(
            "  - {{name: {pod}, namespace: {ns}, node: node-1, ip: 10.244.1.{}, labels: {{pod: {pod}}}, containers: [{{name: c, ports: [{{containerPort: 80, name: serve-80}}, {{containerPort: 81}}]}}]}}\n",
            i + 10
        ));
    }
    y.push_str(policies);
    crate::load_scenario_str("policy.yaml", &y).unwrap_or_else(|e| panic!("{e}"))
}

fn table(s: &crate::scenario::Scenario, port: u16) -> String {
    let m = matrix(s.model(), port, IpProtocol::Tcp);
    assert_eq!(
        m,
        matrix::matrix_by_reference(s.model(), port, IpProtocol::Tcp),
        "the matrix is the reference's, pair by pair"
    );
    matrix::print(&m)
}

#[test]
fn without_policies_everything_is_allowed() {
    let s = cluster("");
    assert_eq!(
        table(&s, 80),
        "-\tx/a\tx/b\ty/a\ty/b\nx/a\t.\t.\t.\t.\nx/b\t.\t.\t.\t.\ny/a\t.\t.\t.\t.\ny/b\t.\t.\t.\t.\n"
    );
}

#[test]
fn default_deny_ingress_isolates_only_its_namespace_and_loopback_stays() {
    let s = cluster("networkPolicies:\n  - {name: deny, namespace: x, podSelector: {}}\n");
    assert_eq!(
        table(&s, 80),
        "-\tx/a\tx/b\ty/a\ty/b\nx/a\t.\tX\t.\t.\nx/b\tX\t.\t.\t.\ny/a\tX\tX\t.\t.\ny/b\tX\tX\t.\t.\n"
    );
    // The policy isolates ingress only: x's pods still reach out.
    let m = s.model();
    let (xa, ya) = (m.pod("x/a").unwrap(), m.pod("y/a").unwrap());
    let d = decide(
        m,
        &Probe {
            from: Party::Pod(ya),
            to: Party::Pod(xa),
            port: 80,
            protocol: IpProtocol::Tcp,
        },
    );
    assert_eq!(d.ingress.isolated_by, ["x/deny"]);
    assert!(d.ingress.allowed_by.is_empty() && !d.allowed());
}

#[test]
fn namespace_and_pod_selectors_together_name_those_pods_of_those_namespaces() {
    let s = cluster(
        "networkPolicies:
  - name: from-y-a
    namespace: x
    podSelector: {matchLabels: {pod: a}}
    ingress:
      - from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]
",
    );
    let t = table(&s, 80);
    let col = |row: &str| {
        t.lines()
            .find(|l| l.starts_with(row))
            .unwrap()
            .split('\t')
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(col("y/a"), ".");
    assert_eq!(col("y/b"), "X");
    assert_eq!(col("x/b"), "X", "the policy's own namespace is not implied");
}

#[test]
fn ports_named_ranged_and_other_protocols() {
    let s = cluster(
        "networkPolicies:
  - name: named
    namespace: x
    podSelector: {}
    ingress: [{ports: [{port: serve-80}]}]
  - name: range
    namespace: y
    podSelector: {}
    ingress: [{ports: [{port: 81, endPort: 90, protocol: TCP}]}]
",
    );
    let allowed = |from: &str, to: &str, port: u16, proto| {
        let m = s.model();
        decide(
            m,
            &Probe {
                from: Party::Pod(m.pod(from).unwrap()),
                to: Party::Pod(m.pod(to).unwrap()),
                port,
                protocol: proto,
            },
        )
        .allowed()
    };
    assert!(allowed("y/a", "x/a", 80, IpProtocol::Tcp));
    assert!(!allowed("y/a", "x/a", 81, IpProtocol::Tcp));
    assert!(
        !allowed("y/a", "x/a", 80, IpProtocol::Udp),
        "serve-80 is a TCP port"
    );
    assert!(allowed("x/a", "y/a", 81, IpProtocol::Tcp));
    assert!(allowed("x/a", "y/a", 90, IpProtocol::Tcp));
    assert!(!allowed("x/a", "y/a", 80, IpProtocol::Tcp));
}

#[test]
fn egress_and_ip_blocks_with_except() {
    let s = cluster(
        "networkPolicies:
  - name: out
    namespace: x
    podSelector: {matchLabels: {pod: a}}
    policyTypes: [Egress]
    egress:
      - to: [{ipBlock: {cidr: 10.244.1.0/24, except: [10.244.1.12/32]}}]
",
    );
    // x/a reaches pods by address inside the block, not the excepted one (y/a, .12).
    let t = table(&s, 80);
    assert!(t.contains("x/a\t.\t.\tX\t.\n"), "{t}");
    let m = s.model();
    let outside = decide(
        m,
        &Probe {
            from: Party::Pod(m.pod("x/a").unwrap()),
            to: Party::Addr("8.8.8.8".parse().unwrap()),
            port: 53,
            protocol: IpProtocol::Udp,
        },
    );
    assert!(!outside.allowed());
    assert_eq!(outside.egress.isolated_by, ["x/out"]);
}

/// A policy's YAML from a few choices: which pods it selects, which directions, and one
/// rule each way made of a peer and a port picked from a small menu.
fn policy_yaml(i: usize, choice: &[u8]) -> String {
    let pick = |k: usize, of: &[&'static str]| of[choice[k] as usize % of.len()];
    let selector = [
        "{}",
        "{matchLabels: {pod: a}}",
        "{matchExpressions: [{key: pod, operator: NotIn, values: [a]}]}",
    ];
    let peers = [
        "[]",
        "[{podSelector: {matchLabels: {pod: b}}}]",
        "[{namespaceSelector: {matchLabels: {ns: y}}}]",
        "[{namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}]",
        "[{ipBlock: {cidr: 10.244.1.0/28, except: [10.244.1.12/30]}}]",
        "[{podSelector: {matchExpressions: [{key: pod, operator: Exists}]}}]",
    ];
    let ports = [
        "[]",
        "[{port: 80}]",
        "[{port: serve-80}]",
        "[{port: 79, endPort: 81}]",
        "[{protocol: UDP}]",
    ];
    let types = [
        "",
        "    policyTypes: [Ingress]\n",
        "    policyTypes: [Egress]\n",
        "    policyTypes: [Ingress, Egress]\n",
    ];
    format!(
        "  - name: p{i}\n    namespace: {}\n    podSelector: {}\n{}    ingress: [{{from: {}, ports: {}}}]\n    egress: [{{to: {}, ports: {}}}]\n",
        pick(0, &["x", "y"]),
        pick(1, &selector),
        pick(2, &types),
        pick(3, &peers),
        pick(4, &ports),
        pick(5, &peers),
        pick(6, &ports),
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The matrix, built from each rule's compiled peer sets, answers as the reference
    /// does pair by pair, for generated policies.
    #[test]
    fn the_matrix_agrees_with_the_reference_on_generated_policies(
        choices in proptest::collection::vec(proptest::collection::vec(0u8..=255, 7), 0..5)
    ) {
        let mut y = String::from("networkPolicies:\n");
        for (i, c) in choices.iter().enumerate() {
            y.push_str(&policy_yaml(i, c));
        }
        let s = cluster(if choices.is_empty() { "" } else { &y });
        for (port, proto) in [(80, IpProtocol::Tcp), (81, IpProtocol::Tcp), (80, IpProtocol::Udp)] {
            proptest::prop_assert_eq!(
                matrix(s.model(), port, proto),
                matrix::matrix_by_reference(s.model(), port, proto)
            );
        }
    }
}
