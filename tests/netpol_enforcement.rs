//! NetworkPolicy as kube-router enforces it, against the API's meaning: for every pair of
//! pods and every port, the one walk through kube-router's rules (tests/fixtures/
//! netpol-xyz.yaml with `policy: kube-router`) lets the connection's first packet through
//! exactly when the reference evaluator (sim/src/policy/reference.rs) allows it.

use kpath_sim::policy::{Party, Probe, decide};
use kpath_sim::scenario::adhoc::{Adhoc, add};
use kpath_sim::trace::DispositionKind;
use kpath_sim::wire::IpProtocol;

fn fixture(policies: &str) -> kpath_sim::scenario::Scenario {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netpol-xyz.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace(
        "cni: {plugin: flannel, backend: vxlan}",
        "cni: {plugin: flannel, backend: vxlan, policy: kube-router}",
    );
    // The fixture's own policy, or the ones given instead.
    let text = match text.find("networkPolicies:") {
        Some(i) if !policies.is_empty() => format!("{}{policies}", &text[..i]),
        _ => text,
    };
    kpath_sim::load_scenario_str("netpol.yaml", &text).unwrap_or_else(|e| panic!("{e}"))
}

/// Walk every pair and port through the engine and compare with the reference.
fn agree(s: &kpath_sim::scenario::Scenario) -> usize {
    let c = s.model().clone();
    let pods = kpath_sim::policy::matrix::pods(&c);
    let w = kpath_sim::k8s::build_world(&c, 0).unwrap();
    let mut s = s.clone();
    let mut differences = Vec::new();
    let mut probes = 0;
    for (port, proto) in [
        (80, IpProtocol::Tcp),
        (81, IpProtocol::Tcp),
        (80, IpProtocol::Udp),
    ] {
        for from in &pods {
            for to in &pods {
                let ask = Adhoc {
                    from: &format!("pod/{}", from.key()),
                    to: &format!("pod/{}:{port}", to.key()),
                    protocol: proto.name(),
                    flow: false,
                };
                let name = add(&mut s, &ask).unwrap_or_else(|e| panic!("{e}"));
                let t = kpath_sim::run_packet(&s, &w, &name).unwrap();
                let walked = !matches!(
                    t.disposition.kind,
                    DispositionKind::Rejected | DispositionKind::Dropped
                );
                let api = decide(
                    &c,
                    &Probe {
                        from: Party::Pod(from),
                        to: Party::Pod(to),
                        port,
                        protocol: proto,
                    },
                )
                .allowed();
                probes += 1;
                if walked != api {
                    differences.push(format!(
                        "{} -> {} {port}/{}: kube-router {}, the API {} ({})",
                        from.key(),
                        to.key(),
                        proto.name(),
                        if walked { "allows" } else { "blocks" },
                        if api { "allows" } else { "blocks" },
                        t.disposition.reason
                    ));
                }
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    probes
}

#[test]
fn namespace_selector_ingress() {
    assert_eq!(agree(&fixture("")), 243);
}

#[test]
fn default_deny_egress_and_ingress_with_exceptions() {
    let s = fixture(
        "networkPolicies:
  - name: deny-all
    namespace: y
    podSelector: {}
    policyTypes: [Ingress, Egress]
  - name: allow-b-to-80
    namespace: y
    podSelector: {matchLabels: {pod: a}}
    ingress:
      - from: [{podSelector: {matchLabels: {pod: b}}}]
        ports: [{port: serve-80-tcp}]
  - name: z-out-to-x-81-range
    namespace: z
    podSelector: {}
    policyTypes: [Egress]
    egress:
      - to: [{namespaceSelector: {matchLabels: {ns: x}}}]
        ports: [{port: 80, endPort: 81}]
  - name: x-from-block
    namespace: x
    podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [c]}]}
    ingress:
      - from: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.2.0/24]}}]
        ports: [{protocol: UDP}]
",
    );
    agree(&s);
}

#[test]
fn a_denial_names_the_isolating_policies_and_why_none_allowed() {
    let mut s = fixture(
        "networkPolicies:
  - {name: deny-in, namespace: x, podSelector: {}}
  - name: allow-y
    namespace: x
    podSelector: {}
    ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]
",
    );
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    let ask = Adhoc {
        from: "pod/z/a",
        to: "pod/x/b:80",
        protocol: "tcp",
        flow: false,
    };
    let name = add(&mut s, &ask).unwrap();
    let t = kpath_sim::run_packet(&s, &w, &name).unwrap();
    assert_eq!(t.disposition.kind, DispositionKind::Rejected);
    assert!(
        t.disposition.reason.contains("KUBE-POD-FW-"),
        "{}",
        t.disposition.reason
    );
    assert_eq!(
        t.disposition.policy.as_deref().map(String::as_str),
        Some(
            "denied by NetworkPolicy: x/deny-in, x/allow-y isolate ingress of pod x/b; neither x/deny-in nor x/allow-y allows 10.244.1.30 to 10.244.2.10:80/TCP"
        )
    );
    // An allowed one carries no denial.
    let ask = Adhoc {
        from: "pod/y/a",
        to: "pod/x/b:80",
        protocol: "tcp",
        flow: false,
    };
    let name = add(&mut s, &ask).unwrap();
    let t = kpath_sim::run_packet(&s, &w, &name).unwrap();
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    assert!(t.disposition.policy.is_none());
}

#[test]
fn a_pods_own_node_reaches_it_and_another_node_meets_the_policy() {
    // kube-router's "from local node" rule accepts what a node sends its own pods; the
    // reference follows the controller there (the API leaves it open).
    let mut s = fixture("");
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    for (node, want) in [
        ("node-1", DispositionKind::Delivered),
        ("node-2", DispositionKind::Rejected),
    ] {
        let ask = Adhoc {
            from: &format!("node/{node}"),
            to: "pod/x/a:80",
            protocol: "tcp",
            flow: false,
        };
        let name = add(&mut s, &ask).unwrap();
        let t = kpath_sim::run_packet(&s, &w, &name).unwrap();
        assert_eq!(t.disposition.kind, want, "{node}: {}", t.disposition.reason);
        let src = t.steps.iter().find_map(|st| match &st.packet.payload {
            kpath_sim::wire::L3::Ipv4(ip) => Some(ip.src),
            _ => None,
        });
        let c = s.model();
        let api = decide(
            c,
            &Probe {
                from: Party::Addr(src.unwrap()),
                to: Party::Pod(c.pod("x/a").unwrap()),
                port: 80,
                protocol: IpProtocol::Tcp,
            },
        );
        assert_eq!(
            api.allowed(),
            want == DispositionKind::Delivered,
            "{node}: {api:?}"
        );
    }
}

/// A policy from a few choices, within what kube-router enforces as the API says: one
/// direction per policy (a "both" policy has no direction check in kube-router's pod chain,
/// docs/design/kube-router-netpol.md 6.8), no egress named port without `to` (kube-router
/// allows its number to any destination, 3.6) or to an ipBlock (it writes no rule, 3.5),
/// one ipBlock per rule (its peers share one set, 4.3).
fn generated_policy(i: usize, c: &[u8]) -> String {
    let pick = |k: usize, of: &[&'static str]| of[c[k] as usize % of.len()];
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
        "[{ipBlock: {cidr: 10.244.1.0/24, except: [10.244.1.16/28]}}]",
        "[{podSelector: {matchLabels: {pod: c}}}, {namespaceSelector: {matchLabels: {ns: z}}}]",
    ];
    let ports = [
        "[]",
        "[{port: 80}]",
        "[{port: serve-81-tcp}]",
        "[{port: 79, endPort: 81}]",
        "[{protocol: UDP}]",
    ];
    let ingress = c[2].is_multiple_of(2);
    let rule_peers = pick(3, &peers);
    let mut rule_ports = pick(4, &ports);
    // Egress named ports kube-router resolves on peer pods only: with no `to` it allows the
    // number anywhere, and to an ipBlock it writes no rule (3.5-3.6).
    if !ingress
        && (rule_peers == "[]" || rule_peers.contains("ipBlock"))
        && rule_ports.contains("serve-")
    {
        rule_ports = "[{port: 81}]";
    }
    let (kind, rules) = if ingress {
        (
            "Ingress",
            format!("    ingress: [{{from: {rule_peers}, ports: {rule_ports}}}]\n"),
        )
    } else {
        (
            "Egress",
            format!("    egress: [{{to: {rule_peers}, ports: {rule_ports}}}]\n"),
        )
    };
    format!(
        "  - name: p{i}\n    namespace: {}\n    podSelector: {}\n    policyTypes: [{kind}]\n{rules}",
        pick(0, &["x", "y", "z"]),
        pick(1, &selector),
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// On generated policies, the walk through kube-router's rules and the reference agree
    /// on every pair of pods and every port.
    #[test]
    fn kube_router_and_the_reference_agree_on_generated_policies(
        choices in proptest::collection::vec(proptest::collection::vec(0u8..=255, 5), 1..4)
    ) {
        let mut y = String::from("networkPolicies:\n");
        for (i, c) in choices.iter().enumerate() {
            y.push_str(&generated_policy(i, c));
        }
        agree(&fixture(&y));
    }
}
