//! Rules-only mode on a kube-proxy IPVS-mode node: the node's `iptables-save`, `ipset save`
//! and `ipvsadm-save -n`, made by kpath's own IPVS-mode controller for shipped scenarios and
//! read back through the three text readers, answer with every real server the packet can
//! reach (docs/design/ipvs.md 2.1-2.6).

mod common;

use kpath_sim::ipvs::parse::parse_ipvsadm_save;
use kpath_sim::ipvs::{Scheduler, print};
use kpath_sim::k8s::kube_proxy::ipvs::{ipvs_node, node_ips};
use kpath_sim::netfilter::ipset::parse_ipset_save;
use kpath_sim::netfilter::parse_iptables_save;
use kpath_sim::netfilter::{Netfilter, TableKind};
use kpath_sim::rules_only::RulePath::Ipvs;
use kpath_sim::rules_only::RuleVerdict::{Accept, Reject};
use kpath_sim::rules_only::{IpvsResult, RuleOutcome, RulesQuery, missing_ipvs, trace_rules};
use kpath_sim::wire::IpProtocol;
use std::net::Ipv4Addr;

/// A node's three dumps, as the tools print them, and its addresses.
struct Dumps {
    iptables: String,
    ipsets: String,
    ipvsadm: String,
    local: Vec<Ipv4Addr>,
}

fn dumps(scenario: &str, node: &str) -> Dumps {
    let (s, w) = common::load(scenario);
    let ns = w.ns_by_name(node).expect(node);
    let local = node_ips(ns);
    let n = ipvs_node(s.model(), node, &local, &Scheduler::by_name("rr").unwrap());
    // kube-proxy loads its payload with iptables-restore --noflush; iptables-save then
    // prints it with the built-in chains declared.
    let iptables = parse_iptables_save("payload", &n.iptables)
        .unwrap_or_else(|e| panic!("{e}"))
        .save();
    Dumps {
        iptables,
        ipsets: n.ipsets.iter().map(|x| x.save()).collect(),
        ipvsadm: print::save(&n.ipvs),
        local,
    }
}

/// The rules and a query for `proto` `src` -> `dst`:`dport`, read from the dumps (without
/// the IPVS table when `with_ipvs` is false).
fn ask(
    d: &Dumps,
    proto: IpProtocol,
    src: &str,
    dst: &str,
    dport: u16,
    with_ipvs: bool,
) -> (Netfilter, RulesQuery) {
    let nf = parse_iptables_save("node.rules", &d.iptables).unwrap_or_else(|e| panic!("{e}"));
    let q = RulesQuery {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        dport,
        proto,
        local_ips: d.local.clone(),
        iif: None,
        oif: None,
        sets: parse_ipset_save("node.sets", &d.ipsets).unwrap_or_else(|e| panic!("{e}")),
        ipvs: with_ipvs
            .then(|| parse_ipvsadm_save("node.ipvs", &d.ipvsadm).unwrap_or_else(|e| panic!("{e}"))),
    };
    (nf, q)
}

fn outcomes(d: &Dumps, src: &str, dst: &str, dport: u16) -> Vec<RuleOutcome> {
    let (nf, q) = ask(d, IpProtocol::Tcp, src, dst, dport, true);
    let o = trace_rules(&nf, &q);
    let total: f64 = o.iter().map(|o| o.probability).sum();
    assert!(
        (total - 1.0).abs() < 1e-9,
        "probabilities add up to {total}"
    );
    o
}

/// The position of the first hit in `chain` whose action reads `action`.
fn hit(o: &RuleOutcome, table: TableKind, chain: &str, action: &str) -> Option<usize> {
    o.hits.iter().position(|h| {
        h.table == kpath_sim::netfilter::RuleTable::Iptables(table)
            && h.chain == chain
            && h.action.describe().contains(action)
    })
}

#[test]
fn a_pod_to_a_cluster_ip_reaches_each_endpoint_with_probability_one_in_n() {
    let d = dumps("pod-to-clusterip-cross-node", "node-1");
    let o = outcomes(&d, "10.244.0.2", "10.96.100.1", 80);
    let mut dests: Vec<&str> = o.iter().filter_map(|o| o.destination.as_deref()).collect();
    dests.sort();
    assert_eq!(
        dests,
        ["10.244.1.4:3000", "10.244.2.4:3000", "10.244.2.5:3000"]
    );
    for x in &o {
        assert!((x.probability - 1.0 / 3.0).abs() < 1e-12, "{x:?}");
        assert_eq!((x.verdict, x.path, x.masquerade), (Accept, Ipvs, false));
        let step = x.ipvs.as_ref().expect("IPVS took it");
        assert_eq!(
            (step.hook, step.priority, step.scheduler, step.result),
            ("LOCAL_IN", 99, Some("rr"), IpvsResult::Forwarded)
        );
        assert_eq!(
            step.functions,
            ["ip_vs_in_hook", "ip_vs_schedule", "ip_vs_nat_xmit"]
        );
        // After filter INPUT let it through (KUBE-IPVS-FILTER: a Service ip:port), before
        // the second LOCAL_OUT walk and POSTROUTING.
        let filter = hit(x, TableKind::Filter, "KUBE-IPVS-FILTER", "return").unwrap();
        let post = hit(x, TableKind::Nat, "POSTROUTING", "jump KUBE-POSTROUTING").unwrap();
        assert!(filter < step.after_hits && step.after_hits <= post, "{x:?}");
        assert!(hit(x, TableKind::Filter, "OUTPUT", "").is_some_and(|i| i >= step.after_hits));
    }
    let (_, q) = ask(&d, IpProtocol::Tcp, "10.244.0.2", "10.96.100.1", 80, true);
    let text = kpath_sim::render::rules::text("node.rules", &q, &o, None, &[], &[]);
    assert!(
        text.contains("    IPVS: 10.96.100.1:80 -> 10.244.1.4:3000 (rr)\n      ip_vs_in_hook at LOCAL_IN (priority 99) -> ip_vs_schedule -> ip_vs_nat_xmit"),
        "{text}"
    );
    // The ClusterIP is on kube-ipvs0, so it is the node's without --local-ip.
    assert!(
        text.contains("virtual services' addresses: 10.96.0.10, 10.96.100.1"),
        "{text}"
    );
}

#[test]
fn hairpin_node_originated_and_local_real_servers() {
    let d = dumps("pod-to-clusterip-cross-node", "node-1");
    // coredns reaching itself through its Service: KUBE-LOOP-BACK masquerades.
    let (nf, q) = ask(&d, IpProtocol::Udp, "10.244.0.5", "10.96.0.10", 53, true);
    let o = trace_rules(&nf, &q);
    assert_eq!(
        (o[0].destination.as_deref(), o[0].masquerade),
        (Some("10.244.0.5:53"), true)
    );
    let masq = hit(&o[0], TableKind::Nat, "KUBE-POSTROUTING", "masquerade").unwrap();
    assert!(o[0].hits[masq].rule.contains("KUBE-LOOP-BACK dst,dst,src"));
    // The node's own packet: IPVS takes it at LOCAL_OUT after nat OUTPUT marked it (the
    // source is outside the cluster CIDR), filter OUTPUT sees it once, with the new
    // destination, and POSTROUTING masquerades it.
    let (nf, q) = ask(&d, IpProtocol::Udp, "172.31.0.11", "10.96.0.10", 53, true);
    let o = trace_rules(&nf, &q);
    let step = o[0].ipvs.as_ref().unwrap();
    assert_eq!((step.hook, step.priority), ("LOCAL_OUT", -98));
    assert!(
        hit(
            &o[0],
            TableKind::Nat,
            "KUBE-SERVICES",
            "jump KUBE-MARK-MASQ"
        )
        .unwrap()
            < step.after_hits
    );
    let outputs = o[0]
        .hits
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            h.table == kpath_sim::netfilter::RuleTable::Iptables(TableKind::Filter)
                && h.chain == "OUTPUT"
        })
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    assert!(
        !outputs.is_empty() && outputs.iter().all(|i| *i >= step.after_hits),
        "{:?}",
        o[0]
    );
    assert_eq!(
        (o[0].destination.as_deref(), o[0].masquerade),
        (Some("10.244.0.5:53"), true)
    );
    // A real server that is the node itself (an apiserver on a control-plane node):
    // ip_vs_nat_xmit hands it back to the local stack and the walk goes on.
    let mut d = d;
    d.ipvsadm
        .push_str("-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.1:443 -r 172.31.0.11:6443 -m -w 1\n");
    let o = outcomes(&d, "10.244.0.2", "10.96.0.1", 443);
    let step = o[0].ipvs.as_ref().unwrap();
    assert_eq!(
        (step.result, o[0].destination.as_deref(), o[0].path),
        (IpvsResult::Local, Some("172.31.0.11:6443"), Ipvs)
    );
}

#[test]
fn wrr_weighs_by_weight_and_sh_lc_decide_from_the_packet() {
    let mut d = dumps("pod-to-clusterip-cross-node", "node-1");
    d.ipvsadm.push_str(
        "-A -t 10.96.0.50:80 -s wrr
-a -t 10.96.0.50:80 -r 10.244.1.4:80 -m -w 3
-a -t 10.96.0.50:80 -r 10.244.2.4:80 -m -w 0
-a -t 10.96.0.50:80 -r 10.244.2.5:80 -m -w 1
-A -t 10.96.0.51:80 -s sh
-a -t 10.96.0.51:80 -r 10.244.1.4:80 -m -w 1
-a -t 10.96.0.51:80 -r 10.244.2.4:80 -m -w 1
-A -t 10.96.0.52:80 -s lc
-a -t 10.96.0.52:80 -r 10.244.1.4:80 -m -w 1
-a -t 10.96.0.52:80 -r 10.244.2.4:80 -m -w 1
",
    );
    let o = outcomes(&d, "10.244.0.2", "10.96.0.50", 80);
    let got: Vec<(Option<&str>, String)> = o
        .iter()
        .map(|o| (o.destination.as_deref(), format!("{:.4}", o.probability)))
        .collect();
    assert_eq!(
        got,
        [
            (Some("10.244.1.4:80"), "0.7500".to_string()),
            (Some("10.244.2.5:80"), "0.2500".to_string())
        ],
        "weight 0 takes nothing"
    );
    // sh: one answer per source address (ip_vs_sh_hashkey), the same every time.
    let o = outcomes(&d, "10.244.0.2", "10.96.0.51", 80);
    assert_eq!(o.len(), 1);
    assert!(
        o[0].notes
            .iter()
            .any(|n| n.starts_with("sh: the source address 10.244.0.2"))
    );
    // lc: no connection counts in a dump, so the kernel list's head - the last -a line.
    let o = outcomes(&d, "10.244.0.2", "10.96.0.52", 80);
    assert_eq!(o[0].destination.as_deref(), Some("10.244.2.4:80"));
}

#[test]
fn a_node_port_from_outside_is_marked_then_masqueraded() {
    let d = dumps("nodeport-external", "node-1");
    let o = outcomes(&d, "203.0.113.10", "172.31.0.11", 31771);
    assert_eq!(o.len(), 1);
    let x = &o[0];
    assert_eq!(
        (x.verdict, x.destination.as_deref(), x.path, x.masquerade),
        (Accept, Some("10.244.2.5:80"), Ipvs, true)
    );
    let step = x.ipvs.as_ref().unwrap();
    let mark = hit(x, TableKind::Nat, "KUBE-NODE-PORT", "jump KUBE-MARK-MASQ").unwrap();
    let masq = hit(x, TableKind::Nat, "KUBE-POSTROUTING", "masquerade").unwrap();
    assert!(mark < step.after_hits && step.after_hits <= masq, "{x:?}");
    assert_eq!(
        x.hits[masq].comment.as_deref(),
        Some("kubernetes service traffic requiring SNAT")
    );
    // externalTrafficPolicy Local, and node-1 has no endpoint: kube-proxy falls back to
    // every endpoint but does not mark, so the client's address is kept (and the reply,
    // from the pod's node, is lost).
    let o = outcomes(&d, "203.0.113.10", "172.31.0.11", 31772);
    assert_eq!(
        (o[0].destination.as_deref(), o[0].masquerade),
        (Some("10.244.2.5:80"), false)
    );
    assert!(hit(&o[0], TableKind::Nat, "KUBE-NODE-PORT", "return").is_some());
}

#[test]
fn a_port_that_is_no_service_is_rejected_by_kube_ipvs_filter_before_ipvs() {
    let d = dumps("pod-to-clusterip-cross-node", "node-1");
    let o = outcomes(&d, "10.244.0.2", "10.96.100.1", 22);
    assert_eq!(o.len(), 1);
    let x = &o[0];
    assert_eq!((x.verdict, x.destination.as_deref()), (Reject, None));
    assert!(x.ipvs.is_none(), "IPVS never saw it: {x:?}");
    let last = x.hits.last().unwrap();
    assert_eq!(
        (last.table.iptables(), last.chain.as_str()),
        (Some(TableKind::Filter), "KUBE-IPVS-FILTER")
    );
    assert!(
        last.rule.contains("--match-set KUBE-IPVS-IPS dst"),
        "{last:?}"
    );
}

#[test]
fn a_service_without_endpoints_gets_ip_vs_leave() {
    let d = dumps("no-endpoints-reject", "node-1");
    let o = outcomes(&d, "10.244.1.2", "10.96.7.7", 80);
    assert_eq!(o.len(), 1);
    let x = &o[0];
    assert_eq!(
        (x.verdict, x.destination.as_deref(), x.path),
        (Reject, None, Ipvs)
    );
    let step = x.ipvs.as_ref().unwrap();
    assert_eq!(
        (step.result, step.real_server.as_deref()),
        (IpvsResult::Rejected, None)
    );
    assert_eq!(step.functions.last(), Some(&"ip_vs_leave"));
    assert!(
        x.notes.iter().any(|n| n.contains("ICMP port unreachable")),
        "{x:?}"
    );
}

#[test]
fn without_the_ipvs_table_the_answer_stops_at_ipvs_and_says_so() {
    let d = dumps("pod-to-clusterip-cross-node", "node-1");
    let (nf, q) = ask(&d, IpProtocol::Udp, "10.244.0.2", "10.96.0.10", 53, false);
    let o = trace_rules(&nf, &q);
    assert_eq!(o.len(), 1);
    assert_eq!(
        o[0].ipvs.as_ref().map(|s| s.result),
        Some(IpvsResult::Unknown)
    );
    assert!(missing_ipvs(&o));
    let text = kpath_sim::render::rules::text("node.rules", &q, &o, None, &[], &[]);
    assert!(
        text.contains("no `ipvsadm-save -n` was given (--ipvsadm-save FILE)"),
        "{text}"
    );
    // A packet that is no Service's is answered as before.
    let (nf, q) = ask(&d, IpProtocol::Tcp, "10.244.0.2", "10.244.1.4", 3000, false);
    assert!(!missing_ipvs(&trace_rules(&nf, &q)));
}

#[test]
fn the_cli_reads_the_three_dumps() {
    let d = dumps("pod-to-clusterip-cross-node", "node-1");
    let dir = std::env::temp_dir().join(format!("kpath-rules-ipvs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let (rules, sets, ipvs) = (
        file("node.rules", &d.iptables),
        file("node.sets", &d.ipsets),
        file("node.ipvs", &d.ipvsadm),
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "trace",
            "--iptables-save",
            &rules,
            "--ipset-save",
            &sets,
            "--src",
            "10.244.0.2",
            "--dst",
            "10.96.100.1:80",
        ];
        args.extend_from_slice(extra);
        common::kpath().args(&args).output().expect("run kpath")
    };
    let out = run(&["--ipvsadm-save", &ipvs]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("3 possible outcomes:"), "{text}");
    assert_eq!(text.matches(" 33.33%  ACCEPT -> ").count(), 3, "{text}");
    assert!(
        text.contains("IPVS: 10.96.100.1:80 -> 10.244.2.5:3000 (rr)"),
        "{text}"
    );
    let out = run(&["--ipvsadm-save", &ipvs, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut real: Vec<&str> = v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["ipvs"]["real_server"].as_str().unwrap())
        .collect();
    real.sort();
    assert_eq!(
        real,
        ["10.244.1.4:3000", "10.244.2.4:3000", "10.244.2.5:3000"]
    );
    // Without the table the answer names what it lacks.
    let text = String::from_utf8_lossy(&run(&[]).stdout).into_owned();
    assert!(
        text.contains("give the node's `ipvsadm-save -n` with --ipvsadm-save FILE"),
        "{text}"
    );
    // A bad line is reported with its place, exit status 2.
    let bad = file(
        "bad.ipvs",
        "-A -t 10.96.100.1:80 -s rr\n-a -t 10.96.100.1:80 -r 10.244.1.4:3000 -m -w one\n",
    );
    let out = run(&["--ipvsadm-save", &bad]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.ipvs:2:47") && err.contains("`one` is not a valid weight"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
