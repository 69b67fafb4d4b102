//! kube-proxy's nftables mode as users meet it: the one walk evaluates the `ip kube-proxy`
//! table beside flannel's iptables rules, `kpath compare` shows it next to the other modes
//! (one verdict-map lookup however many Services), and rules-only mode answers for a pasted
//! `nft list ruleset`. The lessons' agreement with the kernel is tests/lab_verify.rs's.

mod common;

use common::{kpath, scenario_path};
use kpath_sim::compare::compare;
use kpath_sim::scale::{Size, scenario_yaml};
use kpath_sim::scenario::{ProxyMode, load_scenario};
use kpath_sim::trace::Trace;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kpath-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn nf_steps(t: &Trace) -> Vec<&kpath_sim::trace::NfStep> {
    t.steps.iter().filter_map(|s| s.nf.as_ref()).collect()
}

#[test]
fn a_clusterip_packet_meets_kube_proxys_chains_beside_flannels_iptables_rules() {
    let s = load_scenario(&scenario_path("nftables-clusterip")).unwrap();
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    let t = kpath_sim::run_packet(&s, &w, "unallocated").unwrap();
    let nf = nf_steps(&t);
    let engines: Vec<&str> = nf.iter().map(|n| n.rule.table.engine()).collect();
    assert!(engines.contains(&"nft") && engines.contains(&"iptables"));
    // The step at the map lookup names the table kube-proxy and walks nft_do_chain.
    let s = t
        .steps
        .iter()
        .find(|s| {
            s.nf.as_ref()
                .is_some_and(|n| n.rule.chain == "cluster-ips-check")
        })
        .unwrap();
    assert_eq!(s.func, "nft_do_chain");
    let n = s.nf.as_ref().unwrap();
    assert_eq!(
        (n.rule.table.name(), n.rule.position, n.rule.text.as_str()),
        (
            "kube-proxy",
            2,
            "ip daddr 10.96.0.0/12 drop comment \"Drop traffic to unallocated ClusterIPs\""
        )
    );
}

#[test]
fn the_map_lookup_step_names_the_element_it_found() {
    let s = load_scenario(&scenario_path("nftables-clusterip")).unwrap();
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    let t = kpath_sim::run_packet(&s, &w, "unallocated").unwrap();
    // 10.96.200.200 is in no map: no element is named anywhere.
    assert!(nf_steps(&t).iter().all(|n| n.element.is_none()));
    let flows = kpath_sim::run::run_flow(&s, &w, "connect").unwrap();
    let syn = &flows.packets[0].trace;
    let at_services = nf_steps(syn)
        .into_iter()
        .find(|n| n.rule.chain == "services")
        .unwrap();
    let e = at_services.element.as_deref().unwrap();
    assert!(
        e.starts_with("10.96.100.10 . tcp . 80 : goto service-"),
        "{e}"
    );
    assert!(
        at_services
            .action
            .describe()
            .ends_with(e.rsplit(": ").next().unwrap()),
        "the element's verdict is the step's: {e}"
    );
}

/// The rules the walks of one packet looked at, over every table and node.
fn looked_at(t: &Trace) -> usize {
    nf_steps(t).iter().map(|n| n.evaluated).sum()
}

#[test]
fn the_last_service_costs_what_the_first_does_in_nftables_mode_but_not_in_iptables_mode() {
    let size = |mode| Size {
        nodes: 2,
        services: 400,
        endpoints: 2,
        groups: 4,
        proxy_mode: mode,
    };
    let run = |mode| {
        let y = scenario_yaml(&size(mode)).unwrap();
        let s = kpath_sim::load_scenario_str("scale.yaml", &y).unwrap();
        let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
        let first = kpath_sim::run_packet(&s, &w, "to-first").unwrap();
        let last = kpath_sim::run_packet(&s, &w, "to-last").unwrap();
        (looked_at(&first), looked_at(&last))
    };
    let (first, last) = run(ProxyMode::Nftables);
    assert_eq!(first, last, "one verdict-map lookup finds either Service");
    let (ipt_first, ipt_last) = run(ProxyMode::Iptables);
    assert!(
        ipt_last > ipt_first + 390,
        "KUBE-SERVICES is read rule by rule: {ipt_first} then {ipt_last}"
    );
}

#[test]
fn compare_shows_three_modes_reaching_the_same_endpoints() {
    let s = load_scenario(&scenario_path("pod-to-clusterip-cross-node")).unwrap();
    let modes = [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables];
    let cs = compare(&s, &modes, 0, &["syn".to_string()], &[]).unwrap();
    let nft = &cs[0].runs[2];
    assert_eq!(nft.mode, "nftables");
    assert_eq!(
        nft.dnat_at.as_deref(),
        Some("node-1 PREROUTING nf_nat_packet")
    );
    assert!(cs[0].same_endpoints());
    assert_eq!(nft.endpoints.len(), 3);
    // The command shows all three by default.
    let out = kpath()
        .args(["compare"])
        .arg(scenario_path("pod-to-clusterip-cross-node"))
        .args(["-p", "syn"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let header = text.lines().nth(1).unwrap();
    for m in ["iptables", "ipvs", "nftables"] {
        assert!(header.contains(m), "{header}");
    }
}

/// `kpath show --nft` of a node, saved as a user would paste `nft list ruleset`.
fn pasted_ruleset(dir: &std::path::Path) -> std::path::PathBuf {
    let out = kpath()
        .args(["show"])
        .arg(scenario_path("nftables-clusterip"))
        .args(["--node", "node-1", "--nft"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let f = dir.join("node-1.nft");
    std::fs::write(&f, &out.stdout).unwrap();
    f
}

#[test]
fn rules_only_mode_answers_for_a_pasted_nft_ruleset_with_every_outcome() {
    let dir = temp_dir("nft-rules-only");
    let f = pasted_ruleset(&dir);
    let run = |dst: &str| {
        let out = kpath()
            .args(["trace", "--nft-ruleset"])
            .arg(&f)
            .args(["--src", "10.244.1.2", "--dst", dst, "--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["verdict"].as_str().unwrap().to_string(),
                    o["destination"].as_str().map(String::from),
                    o["probability"].as_f64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let web = run("10.96.100.10:80");
    let dests: Vec<(Option<&str>, f64)> = web.iter().map(|o| (o.1.as_deref(), o.2)).collect();
    assert_eq!(
        dests,
        [
            (Some("10.244.1.4:8080"), 0.5),
            (Some("10.244.2.4:8080"), 0.5)
        ]
    );
    assert_eq!(run("10.96.100.10:443")[0].0, "REJECT");
    assert_eq!(run("10.96.200.200:80")[0].0, "DROP");
    assert_eq!(run("10.96.7.7:80")[0].0, "REJECT");
}

#[test]
fn a_bad_nft_ruleset_is_refused_with_its_place() {
    let dir = temp_dir("nft-rules-bad");
    let f = dir.join("bad.nft");
    std::fs::write(
        &f,
        "table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0;\n\t\tip daddr 1.2.3.4 frobnicate\n\t}\n}\n",
    )
    .unwrap();
    let out = kpath()
        .args(["trace", "--nft-ruleset"])
        .arg(&f)
        .args(["--src", "10.0.0.1", "--dst", "1.2.3.4:80"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.nft:4:"), "{err}");
    assert!(err.contains("frobnicate"), "{err}");
}

/// A node with only `ruleset` (no iptables rules), its address 192.168.0.2: every outcome of
/// a TCP SYN from 10.0.0.9 to `dst`.
fn rules_only(ruleset: &str, dst: &str) -> Vec<kpath_sim::rules_only::RuleOutcome> {
    let nf = kpath_sim::netfilter::Netfilter {
        nft: std::sync::Arc::new(
            kpath_sim::netfilter::nftables::parse("ruleset.nft", ruleset)
                .unwrap_or_else(|e| panic!("{e}")),
        ),
        ..Default::default()
    };
    let (ip, port) = dst.split_once(':').unwrap();
    let q = kpath_sim::rules_only::RulesQuery {
        src: "10.0.0.9".parse().unwrap(),
        dst: ip.parse().unwrap(),
        dport: port.parse().unwrap(),
        proto: kpath_sim::wire::IpProtocol::Tcp,
        local_ips: vec!["192.168.0.2".parse().unwrap()],
        iif: None,
        oif: None,
        sets: Vec::new(),
        ipvs: None,
    };
    kpath_sim::rules_only::trace_rules(&nf, &q)
}

#[test]
fn notrack_before_conntrack_leaves_the_packet_untracked_and_ct_state_says_so() {
    // A raw-priority chain (-300) runs before conntrack (-200): what it exempts is never
    // tracked, so `ct state untracked` holds at INPUT and no NAT touches it.
    let rs = "table ip t {
	chain raw {
		type filter hook prerouting priority raw; policy accept;
		tcp dport 80 notrack
	}
	chain nat {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 80 dnat to 192.168.0.2:8080
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state untracked accept
	}
}
";
    let o = rules_only(rs, "192.168.0.2:80");
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].verdict.name(), "ACCEPT", "{:?}", o[0]);
    assert_eq!(
        o[0].destination.as_deref(),
        Some("192.168.0.2:80"),
        "not NATed"
    );
    // Without the notrack rule the same packet is NEW: the DNAT applies and the input
    // policy drops it.
    let o = rules_only(
        &rs.replace("tcp dport 80 notrack", "tcp dport 81 notrack"),
        "192.168.0.2:80",
    );
    assert_eq!(o[0].verdict.name(), "DROP", "{:?}", o[0]);
}

#[test]
fn the_connection_mark_is_set_and_read_back_in_one_walk() {
    // `ct mark set` writes the connection's mark; `meta mark set ct mark` copies it to the
    // packet, and a later chain matches on it.
    let rs = "table ip t {
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		ct mark set 0x00000007
		meta mark set ct mark
	}
	chain input {
		type filter hook input priority filter; policy drop;
		meta mark 0x00000007 ct mark 0x00000007 accept
	}
}
";
    let o = rules_only(rs, "192.168.0.2:22");
    assert_eq!(o[0].verdict.name(), "ACCEPT", "{:?}", o[0]);
    let o = rules_only(
        &rs.replace("ct mark set 0x00000007", "ct mark set 0x00000008"),
        "192.168.0.2:22",
    );
    assert_eq!(o[0].verdict.name(), "DROP", "{:?}", o[0]);
}
