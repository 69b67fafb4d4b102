//! Rules-only mode answers what kube-proxy's own test tracer answers
//! (pkg/proxy/iptables/proxier_test.go, TestTracePacket) for the same ruleset: every
//! possible DNAT destination, whether it is masqueraded, and the verdict.

use kpath_sim::netfilter::parse_iptables_save;
use kpath_sim::rules_only::{RuleVerdict, RulesQuery, trace_rules};

const RULES: &str = include_str!("fixtures/kube-proxy-trace-packet.rules");
const NODE_IPS: [&str; 3] = ["192.168.0.2", "192.168.1.2", "192.168.99.11"];

/// (destinations joined like kube-proxy's tracer prints them, masqueraded?, verdicts)
fn ask(src: &str, dst: &str, port: u16) -> (String, bool, Vec<&'static str>) {
    let nf = parse_iptables_save("trace.rules", RULES).unwrap();
    let q = RulesQuery {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        dport: port,
        proto: kpath_sim::wire::IpProtocol::Tcp,
        local_ips: NODE_IPS.iter().map(|i| i.parse().unwrap()).collect(),
        iif: None,
        oif: None,
        sets: Vec::new(),
        ipvs: None,
    };
    let outcomes = trace_rules(&nf, &q);
    let total: f64 = outcomes.iter().map(|o| o.probability).sum();
    assert!(
        (total - 1.0).abs() < 1e-9,
        "probabilities add up to {total}"
    );
    let mut dests: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.destination.clone())
        .collect();
    dests.sort();
    let masq = outcomes.iter().any(|o| o.masquerade);
    (
        dests.join(", "),
        masq,
        outcomes.iter().map(|o| o.verdict.name()).collect(),
    )
}

#[test]
fn no_match_passes_untouched() {
    assert_eq!(
        ask("10.0.0.2", "10.0.0.3", 80),
        ("10.0.0.3:80".into(), false, vec!["ACCEPT"])
    );
}

#[test]
fn single_endpoint() {
    assert_eq!(ask("10.0.0.2", "172.30.0.41", 80).0, "10.180.0.1:80");
}

#[test]
fn multiple_endpoints_are_all_listed_with_their_probabilities() {
    let nf = parse_iptables_save("trace.rules", RULES).unwrap();
    let q = query("10.0.0.2", "172.30.0.44", 80, &[]);
    let o = trace_rules(&nf, &q);
    let got: Vec<(Option<String>, String)> = o
        .iter()
        .map(|o| (o.destination.clone(), format!("{:.4}", o.probability)))
        .collect();
    assert_eq!(
        got,
        [
            (Some("10.180.0.4:80".into()), "0.5000".into()),
            (Some("10.180.0.5:80".into()), "0.5000".into())
        ]
    );
}

#[test]
fn local_source_to_external_ip_is_masqueraded() {
    let (dest, masq, _) = ask("192.168.0.2", "192.168.99.22", 80);
    assert_eq!((dest.as_str(), masq), ("10.180.0.2:80", true));
}

#[test]
fn external_source_to_a_service_without_local_endpoints_is_dropped() {
    assert_eq!(
        ask("203.0.113.2", "192.168.99.22", 80),
        (String::new(), false, vec!["DROP"])
    );
}

#[test]
fn health_check_node_port_is_accepted() {
    let (dest, _, verdicts) = ask("192.168.0.2", "192.168.0.2", 30000);
    assert_eq!(
        (dest.as_str(), verdicts),
        ("192.168.0.2:30000", vec!["ACCEPT"])
    );
}

#[test]
fn service_without_endpoints_is_rejected() {
    assert_eq!(ask("10.0.0.2", "172.30.0.46", 80).2, vec!["REJECT"]);
}

#[test]
fn the_cli_prints_outcomes_as_text_and_json() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpath"))
        .args([
            "trace",
            "--iptables-save",
            "tests/fixtures/kube-proxy-trace-packet.rules",
            "--src",
            "10.0.0.2",
            "--dst",
            "172.30.0.44:80",
            "--format",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = v["outcomes"].as_array().unwrap();
    assert_eq!(o.len(), 2);
    for x in o {
        assert_eq!(x["verdict"], "ACCEPT");
        assert_eq!(x["masquerade"], false);
        assert!((x["probability"].as_f64().unwrap() - 0.5).abs() < 1e-9);
        assert!(x["destination"].as_str().unwrap().starts_with("10.180.0."));
    }
    // A bad dump line is reported with its place.
    let dir = std::env::temp_dir().join(format!("kpath-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.rules");
    std::fs::write(
        &bad,
        "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 80 --frob 1 -j ACCEPT\nCOMMIT\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpath"))
        .args([
            "trace",
            "--iptables-save",
            bad.to_str().unwrap(),
            "--src",
            "10.0.0.2",
            "--dst",
            "10.0.0.3:80",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.rules:3:") && err.contains("unknown option `--frob`"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A TCP packet from `src` to `dst:dport` at a node with addresses `local`, no ipsets.
fn query(src: &str, dst: &str, dport: u16, local: &[&str]) -> RulesQuery {
    RulesQuery {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        dport,
        proto: kpath_sim::wire::IpProtocol::Tcp,
        local_ips: local.iter().map(|l| l.parse().unwrap()).collect(),
        iif: None,
        oif: None,
        sets: Vec::new(),
        ipvs: None,
    }
}

/// The verdict for a packet to 10.0.0.3:80 from 10.0.0.2 (the node is 10.0.0.3).
fn verdicts_of(rules: &str) -> Vec<&'static str> {
    let nf = parse_iptables_save("goto.rules", rules).unwrap_or_else(|e| panic!("{e}"));
    let q = query("10.0.0.2", "10.0.0.3", 80, &["10.0.0.3"]);
    trace_rules(&nf, &q)
        .iter()
        .map(|o| o.verdict.name())
        .collect()
}

/// ipt_do_table: with nothing on the jump stack (a chain reached by -g from the base
/// chain), falling off the end or RETURN takes the base chain's underflow - its policy.
#[test]
fn a_goto_chain_that_ends_or_returns_falls_to_the_base_chain_policy() {
    let ends = "*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n-A INPUT -g X\nCOMMIT\n";
    let returns = "*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n-A INPUT -g X\n-A X -j RETURN\nCOMMIT\n";
    // With -j the caller's next rule runs instead: here an ACCEPT.
    let jumps = "*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n-A INPUT -j X\n-A INPUT -j ACCEPT\n-A X -j RETURN\nCOMMIT\n";
    assert_eq!(verdicts_of(ends), ["DROP"]);
    assert_eq!(verdicts_of(returns), ["DROP"]);
    assert_eq!(verdicts_of(jumps), ["ACCEPT"]);
}

/// `-m set` reads the node's ipsets (`--ipset-save`); without them a set reads as empty,
/// and the answer says which sets it lacked.
#[test]
fn ipset_matches_use_the_given_sets_and_missing_ones_are_named() {
    let rules = "*filter\n:INPUT DROP [0:0]\n-A INPUT -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\nCOMMIT\n";
    let nf = parse_iptables_save("rules", rules).unwrap();
    let sets = kpath_sim::netfilter::ipset::parse_ipset_save(
        "sets",
        "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\nadd KUBE-CLUSTER-IP 10.96.0.3,tcp:80\n",
    )
    .unwrap();
    let mut q = query("10.0.0.2", "10.96.0.3", 80, &["10.96.0.3"]);
    let verdicts = |q: &RulesQuery| -> Vec<&'static str> {
        trace_rules(&nf, q)
            .iter()
            .map(|o| o.verdict.name())
            .collect()
    };
    assert_eq!(verdicts(&q), ["DROP"]);
    assert_eq!(
        kpath_sim::rules_only::missing_sets(&nf, &q),
        ["KUBE-CLUSTER-IP"]
    );
    q.sets = sets;
    assert_eq!(verdicts(&q), ["ACCEPT"]);
    assert!(kpath_sim::rules_only::missing_sets(&nf, &q).is_empty());
    q.dport = 81;
    assert_eq!(verdicts(&q), ["DROP"], "the port is part of the entry");
}

/// Thirteen independent coin flips make 8192 outcomes: the enumeration stops at its cap
/// and says how much of the probability it covered instead of passing off a part as all.
#[test]
fn a_cut_short_enumeration_says_so() {
    let mut rules = String::from("*mangle\n:PREROUTING ACCEPT [0:0]\n");
    for i in 0..13 {
        rules.push_str(&format!(
            "-A PREROUTING -m statistic --mode random --probability 0.5 -j MARK --set-xmark 0x{:x}/0x{:x}\n",
            1 << i,
            1 << i
        ));
    }
    rules.push_str("COMMIT\n");
    let nf = parse_iptables_save("coins", &rules).unwrap();
    let q = query("10.0.0.2", "10.0.0.3", 80, &[]);
    let outcomes = trace_rules(&nf, &q);
    assert_eq!(outcomes.len(), kpath_sim::engine::MAX_OUTCOMES);
    let text = kpath_sim::render::rules::text("coins", &q, &outcomes, None, &[], &[]);
    assert!(
        text.contains("cut short at 4096 outcomes, covering 50.00%"),
        "{}",
        &text[..300]
    );
}

/// kubelet's KUBE-FIREWALL drops martian localnet packets unless conntrack says they were
/// DNATed. A nat walk that translated nothing must not read as DNAT (the review's case:
/// the answer flipped with an empty `*nat` table present).
#[test]
fn an_untranslated_connection_is_not_ctstate_dnat() {
    let firewall = "*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n-A INPUT -j KUBE-FIREWALL\n-A KUBE-FIREWALL -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\nCOMMIT\n";
    let with_nat =
        format!("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n{firewall}");
    let q = query("10.0.0.2", "127.0.0.1", 30000, &["10.0.0.1"]);
    for rules in [firewall.to_string(), with_nat] {
        let nf = parse_iptables_save("fw", &rules).unwrap();
        let v: Vec<&str> = trace_rules(&nf, &q)
            .iter()
            .map(|o| o.verdict.name())
            .collect();
        assert_eq!(v, ["DROP"], "{rules}");
    }
}

/// Jumps that multiply paths (each chain calls the next twice: 2^24 walks of the last)
/// end at kpath's rule cap, and the answer says so instead of blaming a rule.
#[test]
fn a_walk_cut_at_the_rule_cap_says_why() {
    let mut rules = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..25 {
        rules.push_str(&format!(":C{i} - [0:0]\n"));
    }
    rules.push_str("-A INPUT -j C0\n");
    for i in 0..24 {
        rules.push_str(&format!("-A C{i} -j C{}\n-A C{i} -j C{}\n", i + 1, i + 1));
    }
    rules.push_str("-A C24 -m comment --comment leaf\nCOMMIT\n");
    let nf = parse_iptables_save("dag", &rules).unwrap();
    let q = query("10.0.0.2", "10.0.0.3", 80, &["10.0.0.3"]);
    let o = trace_rules(&nf, &q);
    assert_eq!(o[0].verdict, RuleVerdict::Drop);
    let last = o[0].hits.last().unwrap();
    assert!(
        last.comment
            .as_deref()
            .is_some_and(|c| c.contains("stopped this walk")),
        "{last:?}"
    );
}

/// Rules that name interfaces: without --in-iface/--out-iface the answer says what it
/// assumed; with them, the rules match as on the node (a Docker host's published traffic).
#[test]
fn interfaces_are_given_or_the_assumption_is_said() {
    let dir = std::env::temp_dir().join(format!("kpath-iface-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("docker.rules");
    std::fs::write(
        &f,
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -i docker0 ! -o docker0 -j ACCEPT\nCOMMIT\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpath"))
            .args(["trace", "--iptables-save"])
            .arg(&f)
            .args([
                "--src",
                "172.17.0.2",
                "--dst",
                "8.8.8.8:53",
                "--proto",
                "udp",
            ])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let blind = run(&[]);
    assert!(blind.contains("DROP"), "{blind}");
    assert!(
        blind.contains("note: the rules match in-interfaces (docker0) and none was given"),
        "{blind}"
    );
    let told = run(&["--in-iface", "docker0", "--out-iface", "eth0"]);
    assert!(told.contains("ACCEPT -> 8.8.8.8:53"), "{told}");
    assert!(!told.contains("none was given"), "{told}");
}

/// A real node's ruleset is read as it is: what kpath does not model is read past and
/// listed all at once with its places, with which rules the packet met; `--strict` refuses
/// the dump instead, naming every place. `-j CT --notrack` is modelled.
#[test]
fn unmodelled_matches_and_targets_are_listed_at_once_and_notrack_is_modelled() {
    let dir = std::env::temp_dir().join(format!("kpath-unknowns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("node.rules");
    std::fs::write(
        &f,
        "*raw\n:PREROUTING ACCEPT [0:0]\n\
         -A PREROUTING -i cali+ -m socket --transparent -j DROP\n\
         -A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 -j CT --notrack\n\
         COMMIT\n\
         *nat\n:PREROUTING ACCEPT [0:0]\n\
         -A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.99:53\n\
         COMMIT\n\
         *filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n\
         -A INPUT -m pkttype --pkt-type broadcast -j DROP\n\
         -A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT\n\
         -A INPUT -j DROP\n\
         -A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j NFQUEUE --queue-num 1\n\
         -A FORWARD -m conntrak --ctstate ESTABLISHED -j ACCEPT\n\
         COMMIT\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["trace", "--iptables-save", f.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpath"))
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // DNS to NodeLocal DNSCache's address: untracked in raw, so nat's DNAT never runs and
    // filter accepts it as UNTRACKED.
    let (code, out, err) = run(&[
        "--src",
        "10.244.1.2",
        "--dst",
        "169.254.20.10:53",
        "--proto",
        "udp",
        "--local-ip",
        "169.254.20.10",
        "--in-iface",
        "cali0a1b2c3d4e5",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ACCEPT -> 169.254.20.10:53 (local)"), "{out}");
    assert!(!out.contains("dnat"), "{out}");
    assert!(out.contains("filter INPUT #2 -> accept"), "{out}");
    // Three unmodelled uses, each with its place; the packet met only the socket rule
    // (raw PREROUTING #1), the FORWARD ones are not on its path.
    assert!(
        out.contains("3 rules use what kpath does not model; the packet met 1 of them"),
        "{out}"
    );
    assert!(
        out.contains(
            "node.rules:3:27  raw PREROUTING #1: -m socket --transparent - met by outcome 1"
        ),
        "{out}"
    );
    assert!(
        out.contains("node.rules:16:53  filter FORWARD #1: -j NFQUEUE --queue-num 1 - not met"),
        "{out}"
    );
    assert!(
        out.contains("-m conntrak --ctstate ESTABLISHED (did you mean `conntrack`?) - not met"),
        "{out}"
    );
    // --strict: refused, every place named at once.
    let (code, out, err) = run(&[
        "--src",
        "10.244.1.2",
        "--dst",
        "169.254.20.10:53",
        "--proto",
        "udp",
        "--strict",
    ]);
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    for place in ["node.rules:3:27", "node.rules:16:53", "node.rules:17:15"] {
        assert!(err.contains(place), "{place}: {err}");
    }
    assert!(
        err.contains("3 rules use what kpath does not model (--strict)"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// An Istio sidecar's nat rules: REDIRECT sends inbound traffic to the incoming device's
/// address on 15006, and the node's own outbound connection (its owner taken as uid 0, not
/// Envoy's 1337) to 127.0.0.1:15001; the answer states the owner assumption.
#[test]
fn redirect_and_owner_as_an_istio_sidecar_writes_them() {
    let dir = std::env::temp_dir().join(format!("kpath-istio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("istio.rules");
    std::fs::write(
        &f,
        "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:ISTIO_INBOUND - [0:0]\n:ISTIO_OUTPUT - [0:0]\n\
         -A PREROUTING -p tcp -j ISTIO_INBOUND\n\
         -A OUTPUT -p tcp -j ISTIO_OUTPUT\n\
         -A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN\n\
         -A ISTIO_INBOUND -p tcp -j REDIRECT --to-ports 15006\n\
         -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n\
         -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n\
         -A ISTIO_OUTPUT -p tcp -j REDIRECT --to-ports 15001\n\
         COMMIT\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpath"))
            .args(["trace", "--iptables-save", f.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let inbound = run(&[
        "--src",
        "10.244.2.9",
        "--dst",
        "10.244.1.5:8080",
        "--local-ip",
        "10.244.1.5",
        "--in-iface",
        "eth0",
    ]);
    assert!(
        inbound.contains("ACCEPT -> 10.244.1.5:15006 (local)"),
        "{inbound}"
    );
    let outbound = run(&[
        "--src",
        "10.244.1.5",
        "--dst",
        "10.96.0.20:80",
        "--local-ip",
        "10.244.1.5",
        "--out-iface",
        "eth0",
    ]);
    assert!(
        outbound.contains("ACCEPT -> 127.0.0.1:15001 (local)"),
        "{outbound}"
    );
    assert!(
        outbound.contains("-m owner: the node's own packets are taken as sent by uid 0"),
        "{outbound}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// TCPMSS lowers the SYN's MSS option (the answer says from what to what); a clamp to the
/// path MTU on 1500-byte devices leaves a 1460 alone.
#[test]
fn tcpmss_lowers_the_syns_mss() {
    let dir = std::env::temp_dir().join(format!("kpath-mss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |target: &str| {
        let f = dir.join("mss.rules");
        std::fs::write(
            &f,
            format!("*mangle\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS {target}\nCOMMIT\n"),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpath"))
            .args([
                "trace",
                "--iptables-save",
                f.to_str().unwrap(),
                "--src",
                "10.0.0.2",
                "--dst",
                "10.1.0.3:443",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let set = run("--set-mss 1360");
    assert!(
        set.contains("TCPMSS: the SYN's MSS option 1460 -> 1360"),
        "{set}"
    );
    let clamp = run("--clamp-mss-to-pmtu");
    assert!(!clamp.contains("TCPMSS:"), "{clamp}");
    std::fs::remove_dir_all(&dir).ok();
}

/// CONNMARK and -m connmark: the mark a rule puts on the connection is seen by later
/// tables through conntrack, and --restore-mark copies it to the packet.
#[test]
fn connmark_carries_a_mark_on_the_connection_across_tables() {
    let dir = std::env::temp_dir().join(format!("kpath-connmark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("cm.rules");
    std::fs::write(
        &f,
        "*mangle\n:PREROUTING ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n\
         -A PREROUTING -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x100/0xffffffff\n\
         -A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff\n\
         -A FORWARD -m connmark --mark 0x100/0xff00 -j MARK --set-xmark 0x1/0x1\n\
         COMMIT\n*filter\n:FORWARD ACCEPT [0:0]\n\
         -A FORWARD -m mark --mark 0x101 -j DROP\n\
         COMMIT\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpath"))
        .args([
            "trace",
            "--iptables-save",
            f.to_str().unwrap(),
            "--src",
            "10.0.0.2",
            "--dst",
            "10.1.0.3:443",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // 0x100 from the connection, 0x1 added by the connmark rule: filter's 0x101 drops it.
    assert!(text.contains("DROP (dropped)"), "{text}");
    assert!(text.contains("filter FORWARD #1 -> drop"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
