//! `kpath compare`: the same packets in iptables and IPVS mode, side by side - the library's
//! measurements (sim::compare) and the command as a user runs it.

mod common;

use common::{kpath, scenario_path};
use kpath_sim::compare::compare;
use kpath_sim::scenario::{ProxyMode, load_scenario};

const BOTH: [ProxyMode; 2] = [ProxyMode::Iptables, ProxyMode::Ipvs];

#[test]
fn a_clusterip_is_translated_by_nat_prerouting_in_one_mode_and_by_ipvs_at_local_in_in_the_other() {
    let s = load_scenario(&scenario_path("pod-to-clusterip-cross-node")).unwrap();
    let cs = compare(&s, &BOTH, 0, &["syn".to_string()], &[]).unwrap();
    let [ipt, ipvs] = &cs[0].runs[..] else {
        panic!("two runs")
    };
    assert_eq!(ipt.mode, "iptables");
    assert_eq!(
        ipt.dnat_at.as_deref(),
        Some("node-1 PREROUTING nf_nat_packet")
    );
    assert_eq!(ipvs.dnat_at.as_deref(), Some("node-1 INPUT ip_vs_nat_xmit"));
    // Both deliver to the same three downloaders, a third each.
    assert!(cs[0].same_endpoints());
    assert_eq!(ipvs.endpoints.len(), 3);
    for (_, p) in &ipvs.endpoints {
        assert!((p - 1.0 / 3.0).abs() < 1e-9, "{:?}", ipvs.endpoints);
    }
    // The walks looked at rules in both modes, and matched some.
    assert!(ipt.rules_evaluated >= ipt.rules_matched && ipt.rules_matched > 0);
    assert!(ipvs.rules_evaluated >= ipvs.rules_matched && ipvs.rules_matched > 0);
}

#[test]
fn a_same_node_endpoint_is_bridged_in_iptables_mode_but_routed_by_ipvs() {
    // iptables mode DNATs in br_netfilter's PREROUTING and the frame stays on cni0 (TTL
    // untouched); IPVS takes the packet up to the node and routes it back out (TTL - 1).
    let s = load_scenario(&scenario_path("pod-to-clusterip-same-node")).unwrap();
    let cs = compare(&s, &BOTH, 0, &["syn".to_string()], &[]).unwrap();
    let ttls: Vec<_> = cs[0].runs.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [Some(64), Some(63)]);
}

#[test]
fn the_command_exits_1_when_the_modes_reach_different_endpoints() {
    // externalTrafficPolicy Local with no local endpoint: iptables mode drops, IPVS mode
    // falls back to every endpoint (kube-proxy's syncEndpoint).
    let f = scenario_path("nodeport-external");
    let out = kpath()
        .args(["compare"])
        .arg(&f)
        .args(["--flow", "local-no-endpoint"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("same endpoints in every mode: NO"), "{text}");
    assert!(text.contains("dropped at node/node-1"), "{text}");
    let out = kpath()
        .args(["compare"])
        .arg(&f)
        .args(["--flow", "nodeport", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "kpath.compare/1");
    assert_eq!(v["comparisons"][0]["sameEndpoints"], true);
    assert_eq!(v["comparisons"][0]["runs"][1]["mode"], "ipvs");
}

#[test]
fn bad_mode_lists_are_refused_with_a_hint() {
    let f = scenario_path("hairpin");
    for (modes, says) in [
        ("iptables,nft", "unknown kube-proxy mode `nft`"),
        ("ipvs,ipvs", "given twice"),
        ("ipvs", "needs two modes"),
    ] {
        let out = kpath()
            .args(["compare"])
            .arg(&f)
            .args(["--proxy-modes", modes])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(err.contains("hint"), "{err}");
    }
}
