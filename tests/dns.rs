//! Name resolution as packets: the resolver's UDP queries to the kube-dns ClusterIP, DNATed
//! to CoreDNS, and the answers back through the reverse NAT, before the packet is sent; the
//! short form when asked for or when the scenario has no cluster DNS; the failures a real
//! resolver meets.

mod common;

use common::*;
use kpath_sim::k8s::build_world;
use kpath_sim::run::{flow_outcomes, run_flow};
use kpath_sim::scenario::load_scenario_str;
use kpath_sim::trace::{DispositionKind, FlowTrace, Role, Step, Trace};
use kpath_sim::wire::dns::Dns;
use kpath_sim::wire::{L4, UdpPayload};

/// A shipped scenario with its text changed by `edit`, walked flow `flow` (DNS packets on
/// unless `short`).
fn edited_flow(name: &str, flow: &str, short: bool, edit: impl Fn(String) -> String) -> FlowTrace {
    let text = edit(std::fs::read_to_string(scenario_path(name)).unwrap());
    let s = load_scenario_str(&format!("{name}.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let mut w = build_world(s.model(), s.seed).unwrap_or_else(|e| panic!("{e}"));
    w.dns_packets = !short;
    run_flow(&s, &w, flow).unwrap_or_else(|e| panic!("{e}"))
}

fn dns_of(s: &Step) -> Option<&Dns> {
    match &ipv4(&s.packet)?.payload {
        L4::Udp(u) => match &u.payload {
            UdpPayload::Dns(d) => Some(d),
            _ => None,
        },
        _ => None,
    }
}

fn dns_steps(t: &Trace) -> Vec<&Step> {
    t.steps.iter().filter(|s| s.role == Role::Dns).collect()
}

#[test]
fn the_lookup_is_a_udp_exchange_with_coredns_through_the_service() {
    let (s, w) = load("pod-to-clusterip-same-node");
    let f = run_flow(&s, &w, "curl").unwrap();
    assert!(f.completed, "{}", f.summary);
    let syn = &f.packets[0].trace;
    let steps = dns_steps(syn);
    // The query leaves the client for the kube-dns ClusterIP ...
    let sent = steps.iter().find(|s| s.func == "udp_sendmsg").unwrap();
    let ip = ipv4(&sent.packet).unwrap();
    assert_eq!(sent.netns, "default/client");
    assert_eq!(
        (ip.src.to_string(), ip.dst.to_string()),
        ("10.244.1.2".into(), "10.96.0.10".into())
    );
    assert!(ip.dont_frag, "IP_PMTUDISC_WANT sets DF on what fits");
    let q = dns_of(sent).unwrap();
    assert_eq!(q.questions[0].name, "web.default.svc.cluster.local");
    assert!(!q.is_response());
    // ... kube-proxy DNATs it to the CoreDNS pod, whose socket takes it ...
    assert!(steps.iter().any(|s| {
        s.nf.as_ref()
            .and_then(|n| n.action.dnat_to())
            .is_some_and(|to| to == "10.244.1.10:53")
    }));
    let got = steps
        .iter()
        .find(|s| s.func == "udp_rcv" && s.netns == "kube-system/coredns")
        .unwrap();
    assert!(got.note.contains("container coredns"), "{}", got.note);
    // ... and the answer comes back from the ClusterIP, as the resolver's socket demands.
    let back = steps
        .iter()
        .rfind(|s| s.func == "udp_rcv" && s.netns == "default/client")
        .unwrap();
    let ip = ipv4(&back.packet).unwrap();
    assert_eq!(
        ip.src.to_string(),
        "10.96.0.10",
        "reverse DNAT restored the source"
    );
    let a = dns_of(back).unwrap();
    assert_eq!(a.id, q.id);
    assert_eq!(
        a.addresses(),
        ["10.96.0.20".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    // Only then is the SYN sent, to the address the answer gave.
    let first_packet_step = syn
        .steps
        .iter()
        .position(|s| s.func == "tcp_v4_connect")
        .unwrap();
    assert!(
        syn.steps[..first_packet_step]
            .iter()
            .any(|s| s.role == Role::Dns)
    );
    assert!(
        !syn.steps[first_packet_step..]
            .iter()
            .any(|s| s.role == Role::Dns)
    );
    assert_eq!(
        ipv4(&syn.sent.clone().unwrap()).unwrap().dst.to_string(),
        "10.96.0.20"
    );
    // The lookup's own connection stays in node-1's conntrack, as a real one would.
    assert!(steps.iter().any(|s| s.func == "__nf_conntrack_confirm"));
}

#[test]
fn every_search_domain_is_a_query_of_its_own_from_a_new_port() {
    let (s, w) = load("pod-to-internet");
    let f = run_flow(&s, &w, "https").unwrap();
    let syn = &f.packets[0].trace;
    let queries: Vec<(u16, String)> = dns_steps(syn)
        .into_iter()
        .filter(|s| s.func == "udp_sendmsg" && s.netns == "default/app")
        .map(|s| {
            let L4::Udp(u) = &ipv4(&s.packet).unwrap().payload else {
                panic!()
            };
            (u.sport, dns_of(s).unwrap().questions[0].name.clone())
        })
        .collect();
    let names: Vec<&str> = queries.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "example.com.default.svc.cluster.local",
            "example.com.svc.cluster.local",
            "example.com.cluster.local",
            "example.com"
        ]
    );
    let mut ports: Vec<u16> = queries.iter().map(|(p, _)| *p).collect();
    ports.dedup();
    assert_eq!(
        ports.len(),
        4,
        "glibc closes its socket after each query: {ports:?}"
    );
}

#[test]
fn without_a_kube_dns_service_the_lookup_is_one_stated_step() {
    let f = edited_flow("externalname", "connect-db", false, |t| {
        t.replace("  - name: kube-dns\n", "  - name: not-dns\n")
    });
    assert!(f.completed, "{}", f.summary);
    let syn = &f.packets[0].trace;
    assert!(dns_steps(syn).is_empty());
    let step = syn.steps.iter().find(|s| s.func == "getaddrinfo").unwrap();
    assert!(
        step.note.contains(
            "Not walked as DNS packets: the scenario has no kube-system/kube-dns Service"
        ) && step.note.contains("CNAME db.example.com"),
        "{}",
        step.note
    );
}

#[test]
fn the_short_form_folds_the_lookup_and_keeps_the_same_connection() {
    let short = edited_flow("externalname", "connect-db", true, |t| t);
    let long = edited_flow("externalname", "connect-db", false, |t| t);
    assert!(dns_steps(&short.packets[0].trace).is_empty());
    assert!(!dns_steps(&long.packets[0].trace).is_empty());
    let dst = |f: &FlowTrace| ipv4(&f.packets[0].trace.sent.clone().unwrap()).unwrap().dst;
    assert_eq!(dst(&short), dst(&long));
    assert_eq!(short.completed, long.completed);
    let out = kpath()
        .args([
            "trace",
            scenario_path("externalname").to_str().unwrap(),
            "--dns",
            "short",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = v["packets"][0]["trace"]["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["role"] != "dns"));
    let note = steps[0]["note"].as_str().unwrap();
    assert!(
        note.contains("the short form was asked for (--dns short)"),
        "{note}"
    );
}

#[test]
fn a_dns_service_without_endpoints_fails_the_lookup_and_the_error_comes_back() {
    // No pod carries kube-dns's label: kube-proxy REJECTs the query.
    let f = edited_flow("externalname", "connect-db", false, |t| {
        t.replacen("    labels: {k8s-app: kube-dns}\n", "", 1)
    });
    assert!(!f.completed);
    let t = &f.packets[0].trace;
    assert_eq!(t.disposition.kind, DispositionKind::DnsFailed);
    assert!(
        t.disposition.reason.contains("has no endpoints"),
        "{}",
        t.disposition.reason
    );
    assert!(t.disposition.reason.contains("EAI_AGAIN"));
    // The ICMP port unreachable is walked back to the resolver's socket.
    assert!(
        t.steps
            .iter()
            .any(|s| s.role == Role::Dns && s.func == "__udp4_lib_err" && s.netns == "shop/api"),
        "the ICMP error reaches the resolver"
    );
    assert!(t.sent.is_none(), "nothing is sent after a failed lookup");
}

#[test]
fn a_name_nobody_knows_is_nxdomain_after_every_search_domain() {
    let out = kpath()
        .args([
            "trace",
            scenario_path("externalname").to_str().unwrap(),
            "--from",
            "pod/shop/api",
            "--to",
            "nosuch:80",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let t = &v;
    assert_eq!(t["disposition"]["kind"], "no_such_name", "{text}");
    let answers = t["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["role"] == "dns" && s["netns"] == "kube-system/coredns" && s["func"] == "udp_sendmsg"
        })
        .count();
    assert_eq!(answers, 4, "three search domains and the name itself");
}

#[test]
fn coredns_loadbalance_makes_each_ready_endpoint_a_first_answer() {
    // Both cassandra pods ready: CoreDNS's loadbalance plugin shuffles the two A records,
    // so the client connects to either, half the time each.
    let text = std::fs::read_to_string(scenario_path("headless"))
        .unwrap()
        .replace("    ready: false\n", "");
    let s = load_scenario_str("headless.yaml", &text).unwrap();
    let w = build_world(s.model(), s.seed).unwrap();
    let outcomes = flow_outcomes(&s, &w, "cql").unwrap();
    let mut served: Vec<(String, f64)> = outcomes
        .iter()
        .map(|o| {
            let syn = &o.result.packets[0].trace;
            (syn.disposition.netns.clone(), o.probability)
        })
        .collect();
    served.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        served,
        [
            ("default/cassandra-0".to_string(), 0.5),
            ("default/cassandra-1".to_string(), 0.5)
        ]
    );
}

#[test]
fn tshark_reads_the_lookup_as_dns() {
    if !tshark_installed() {
        return;
    }
    let p = std::env::temp_dir().join(format!("kpath-dns-{}.pcapng", std::process::id()));
    let out = kpath()
        .args([
            "pcap",
            scenario_path("externalname").to_str().unwrap(),
            "--flow",
            "connect-db",
            "-o",
            p.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            p.to_str().unwrap(),
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            "dns && !_ws.expert.severity >= warning",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "dns.flags.response",
            "-e",
            "dns.qry.name",
            "-e",
            "dns.cname",
            "-e",
            "dns.a",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&p);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&"0|db.shop.svc.cluster.local||"),
        "the query: {text}"
    );
    assert!(
        lines.contains(&"1|db.shop.svc.cluster.local|db.example.com|203.0.113.20"),
        "the answer: {text}"
    );
}
