//! `kpath verify`: comparing the real kernel with kpath.
//!
//! The first tests replay evidence recorded from a real kernel (Linux 6.18, `kpath verify
//! tests/fixtures/lab-cluster.yaml --packet syn-cross-node --keep`) through the comparison,
//! so they run anywhere. The last one builds each scenario's lab and asks the kernel again.

use kpath_sim::k8s::build_world;
use kpath_sim::lab::verify::{self, Evidence, Row};
use kpath_sim::lab::{nft_trace, probe, read_pcap};
use kpath_sim::net::World;
use kpath_sim::scenario::{Scenario, load_scenario};
use kpath_sim::trace::Trace;
use std::path::PathBuf;

/// The live tests build labs in this machine's namespaces, some of the same scenario (the
/// same names): one at a time.
static LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_lab_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    LAB.lock().unwrap_or_else(|e| e.into_inner())
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn lab_cluster() -> (Scenario, World) {
    let s = load_scenario(&fixture("lab-cluster.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let w = build_world(s.model(), s.seed).unwrap_or_else(|e| panic!("{e}"));
    (s, w)
}

fn outcomes(s: &Scenario, w: &World, packet: &str) -> Vec<Trace> {
    let items = probe::items(s, w, Some(packet)).unwrap_or_else(|e| panic!("{e}"));
    items.into_iter().next().expect("the packet").outcomes
}

/// Evidence recorded by `kpath verify --keep` in `tests/fixtures/lab-evidence/DIR`, with
/// the kernel's trace text passed through `edit` first. File names are the ones verify
/// writes: NODE.trace, arrival-NS-DEV.pcap (`/` written as `.`), underlay.pcap.
fn recorded_in(dir: &str, edit: impl Fn(String) -> String) -> Evidence {
    let dir = fixture(&format!("lab-evidence/{dir}"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixture")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let read = |f: &str| std::fs::read(dir.join(f)).expect("fixture");
    let mut ev = Evidence {
        sender_ok: true,
        sender_said: "Connection succeeded!".into(),
        underlay: read_pcap(&read("underlay.pcap"), &[8472]),
        ..Evidence::default()
    };
    for n in &names {
        if let Some(ns) = n.strip_suffix(".trace") {
            let text = String::from_utf8_lossy(&read(n)).into_owned();
            ev.nft.push((ns.to_string(), nft_trace::parse(&edit(text))));
        } else if let Some(place) = n
            .strip_prefix("arrival-")
            .and_then(|p| p.strip_suffix(".pcap"))
        {
            let (ns, dev) = place.rsplit_once('-').expect("arrival-NS-DEV.pcap");
            let ns = ns.replacen('.', "/", 1);
            ev.arrivals
                .push(((ns, dev.to_string()), read_pcap(&read(n), &[8472])));
        }
    }
    ev
}

fn recorded(edit: impl Fn(String) -> String) -> Evidence {
    recorded_in("syn-cross-node", edit)
}

fn differences(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{}: kernel {} / kpath {}", r.what, r.kernel, r.kpath))
        .collect()
}

#[test]
fn the_recorded_kernel_run_agrees_with_kpath_rule_by_rule() {
    let (s, w) = lab_cluster();
    let out = outcomes(&s, &w, "syn-cross-node");
    let c = verify::compare_paths(
        &w,
        &out,
        s.packet("syn-cross-node").unwrap().protocol,
        &recorded(|t| t),
    );
    let (rows, chosen) = (c.rows, c.chosen);
    assert!(differences(&rows).is_empty(), "{:#?}", differences(&rows));
    // Both nodes' netfilter paths (the SYN's and the VXLAN packet's that carried it), the
    // fate, the arrival and the VXLAN header were compared.
    for what in [
        "node-1 tcp S 60 #",
        "node-1 vxlan 110 out #",
        "node-2 vxlan 110 #",
        "node-2 tcp S 60 #",
    ] {
        assert!(
            rows.iter().any(|r| r.what.starts_with(what)),
            "{what}: {rows:#?}"
        );
    }
    assert_eq!(c.packets, 4);
    assert!(rows.iter().any(|r| r.what == "VXLAN outer"));
    assert!(rows.iter().any(|r| r.what == "arrival at default/pod22"));
    assert_eq!(out[chosen].disposition.netns, "default/pod22");
}

/// kube-proxy's random endpoint pick: the kernel drew one of three; kpath compares the
/// outcome the kernel drew, and the draw must be one kpath lists.
#[test]
fn the_kernel_s_random_pick_selects_the_outcome_compared() {
    let s = load_scenario(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/pod-to-clusterip-cross-node.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let w = build_world(s.model(), s.seed).unwrap_or_else(|e| panic!("{e}"));
    let out = outcomes(&s, &w, "syn");
    let proto = s.packet("syn").unwrap().protocol;
    let c = verify::compare_paths(&w, &out, proto, &recorded_in("clusterip-syn", |t| t));
    let (rows, chosen) = (c.rows, c.chosen);
    assert!(differences(&rows).is_empty(), "{:#?}", differences(&rows));
    // The recorded kernel picked 10.244.2.5:3000 (downloader-c) - not kpath's first outcome.
    assert_eq!(out[chosen].disposition.netns, "default/downloader-c");
    let choice = rows
        .iter()
        .find(|r| r.what == "endpoint choice")
        .expect("a random pick");
    assert_eq!(choice.kernel, "dnat to 10.244.2.5:3000");
    // A pick outside kpath's set is a difference.
    let ev = recorded_in("clusterip-syn", |t| {
        t.replace("dnat to 10.244.2.5:3000", "dnat to 10.244.9.9:3000")
    });
    let rows = verify::compare_paths(&w, &out, proto, &ev).rows;
    assert!(
        rows.iter().any(|r| r.what == "endpoint choice" && !r.ok),
        "{:#?}",
        differences(&rows)
    );
}

#[test]
fn a_rule_the_kernel_did_not_walk_shows_as_a_difference() {
    let (s, w) = lab_cluster();
    let out = outcomes(&s, &w, "syn-cross-node");
    // As if node-2's kernel had not jumped from FORWARD to KUBE-FORWARD.
    let ev = recorded(|t| {
        t.lines()
            .filter(|l| !(l.contains("filter FORWARD rule") && l.contains("jump KUBE-FORWARD")))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let rows =
        verify::compare_paths(&w, &out, s.packet("syn-cross-node").unwrap().protocol, &ev).rows;
    let diff = differences(&rows);
    assert!(
        diff.iter()
            .any(|d| d.starts_with("node-2 tcp S 60") && d.contains("KUBE-FORWARD")),
        "{diff:#?}"
    );
}

#[test]
fn a_different_fate_or_header_shows_as_a_difference() {
    let (s, w) = lab_cluster();
    let out = outcomes(&s, &w, "syn-cross-node");
    let proto = s.packet("syn-cross-node").unwrap().protocol;
    // The connection refused instead.
    let mut ev = recorded(|t| t);
    ev.sender_ok = false;
    ev.sender_said = "nc: connect to 10.96.0.22 port 80 (tcp) failed: Connection refused".into();
    let rows = verify::compare_paths(&w, &out, proto, &ev).rows;
    assert!(
        rows.iter()
            .any(|r| r.what == "fate" && !r.ok && r.kernel == "refused")
    );
    // Nothing crossed the underlay.
    let mut ev = recorded(|t| t);
    ev.underlay.clear();
    let rows = verify::compare_paths(&w, &out, proto, &ev).rows;
    assert!(
        rows.iter()
            .any(|r| r.what == "VXLAN outer" && !r.ok && r.kernel == "none")
    );
}

/// Every shipped scenario, through the real kernel. Needs root and the lab's tools; skips,
/// saying why, where the machine has neither.
#[test]
fn every_scenario_agrees_with_the_live_kernel() {
    let _lab = one_lab_at_a_time();
    if let Some(why) = kpath::cmd::lab::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files.push(fixture("lab-cluster.yaml"));
    let mut failures = Vec::new();
    for f in &files {
        let s = load_scenario(f).unwrap_or_else(|e| panic!("{e}"));
        if kpath::cmd::lab::ipvs_refusal(&s).is_some() {
            continue; // no IPVS in the lab's kernel: refused_ipvs_scenarios covers these
        }
        let (report, ok) = kpath::cmd::lab::verify(&s, None, None, false)
            .unwrap_or_else(|e| panic!("{}: {}", f.display(), e.message));
        if !ok {
            failures.push(report);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// IPVS-mode scenarios cannot be verified on a kernel without IPVS: verify says so, with
/// where kpath's model comes from, before it needs root or builds anything.
#[test]
fn ipvs_scenarios_are_refused_by_the_lab_with_the_reason() {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/ipvs-clusterip.yaml");
    let s = load_scenario(&f).unwrap_or_else(|e| panic!("{e}"));
    let e = kpath::cmd::lab::verify(&s, None, None, false).expect_err("IPVS is not verifiable");
    assert_eq!(e.status, 2);
    assert!(e.message.contains("IPVS mode"), "{}", e.message);
    assert!(e.message.contains("docs/design/ipvs.md"), "{}", e.message);
    let e = kpath::cmd::lab::lab_up(&s, None).expect_err("nor buildable");
    assert!(e.message.contains("IPVS mode"), "{}", e.message);
}

/// `kpath lab up` starts a listener on every declared container port and lists a command
/// per packet: each TCP connect gets from the real kernel what kpath says (a connection
/// for "delivered", "refused" for "no listener").
#[test]
fn the_lab_listens_where_pods_declare_ports_and_its_commands_get_kpaths_answer() {
    let _lab = one_lab_at_a_time();
    if let Some(why) = kpath::cmd::lab::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/pod-to-pod-same-node.yaml");
    let s = load_scenario(&f).unwrap();
    let up = kpath::cmd::lab::lab_up(&s, None).unwrap_or_else(|e| panic!("{}", e.message));
    let lines: Vec<&str> = up.lines().map(str::trim).collect();
    let mut checked = 0;
    for pair in lines.windows(2) {
        let (Some(cmd), Some(says)) = (
            pair[0].strip_prefix("ip netns exec "),
            pair[1].strip_prefix("# kpath: "),
        ) else {
            continue;
        };
        if !cmd.contains("nc -zv") {
            continue;
        }
        let argv: Vec<&str> = cmd.split_whitespace().collect();
        let out = std::process::Command::new("ip")
            .args(["netns", "exec"])
            .args(&argv)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        if says.contains("delivered") {
            assert!(out.status.success(), "{cmd}: {said} (kpath: {says})");
        } else if says.contains("no listener") {
            assert!(
                !out.status.success() && said.contains("refused"),
                "{cmd}: {said}"
            );
        }
        checked += 1;
    }
    kpath::cmd::lab::lab_down(&s).unwrap();
    assert!(checked >= 2, "only {checked} commands tried:\n{up}");
}

/// The lab runs cluster DNS: each pod's resolver asks the kube-dns ClusterIP, the real
/// kube-proxy rules DNAT the query to the CoreDNS pod, and kpath's responder there answers;
/// the kernel's resolver then gets the address kpath's walk of the lookup got, and the
/// lab's command that connects by name succeeds as kpath says.
#[test]
fn the_lab_resolves_names_through_kube_dns_as_kpath_walks_them() {
    let _lab = one_lab_at_a_time();
    if let Some(why) = kpath::cmd::lab::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/externalname.yaml");
    let s = load_scenario(&f).unwrap();
    let w = kpath_sim::k8s::build_world(s.model(), s.seed).unwrap();
    let kpath_says = kpath_sim::run::run_flow(&s, &w, "connect-db").unwrap();
    let syn = &kpath_says.packets[0].trace;
    let answer = syn
        .steps
        .iter()
        .rfind(|st| st.func == "getaddrinfo")
        .unwrap()
        .note
        .clone();
    let up = kpath::cmd::lab::lab_up(&s, None).unwrap_or_else(|e| panic!("{}", e.message));
    let prefix = kpath_sim::lab::prefix(s.title());
    let client = kpath_sim::lab::netns_name(&prefix, "shop/api");
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &client, "getent", "ahostsv4", "db"])
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout).into_owned();
    let connect = up
        .lines()
        .map(str::trim)
        .find(|l| l.contains("nc -zv") && l.contains(" db 5432"))
        .map(str::to_string);
    let connected = connect.as_ref().map(|c| {
        let argv: Vec<&str> = c.split_whitespace().collect();
        std::process::Command::new(argv[0])
            .args(&argv[1..])
            .output()
            .unwrap()
    });
    kpath::cmd::lab::lab_down(&s).unwrap();
    let addr = got.split_whitespace().next().unwrap_or("");
    assert_eq!(addr, "203.0.113.20", "the lab's resolver: {got}");
    assert!(
        answer.contains("getaddrinfo returns 203.0.113.20"),
        "{answer}"
    );
    assert!(
        got.contains("db.example.com"),
        "the CNAME is the canonical name: {got}"
    );
    let connected = connected.unwrap_or_else(|| panic!("no command connects to db by name:\n{up}"));
    assert!(
        connected.status.success(),
        "{}",
        String::from_utf8_lossy(&connected.stderr)
    );
}

/// The bridge-nf-call-iptables-off lesson's flow as the kernel ran it (`kpath verify
/// scenarios/bridge-nf-call-iptables-off.yaml --keep`): the client's SYN, tried three
/// times, each answered by node-1 with an ICMP redirect, and the SYN-ACK that the client
/// refuses.
fn bridged_off_flow(w: &World) -> (Vec<kpath_sim::trace::FlowTrace>, Evidence) {
    let s = load_scenario(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/bridge-nf-call-iptables-off.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let items = probe::items(&s, w, Some("curl")).unwrap_or_else(|e| panic!("{e}"));
    let flows = items.into_iter().next().expect("the flow").flows;
    let mut ev = recorded_in("curl-bridge-nf-off", |t| t);
    (ev.sender_ok, ev.sender_said) = (false, "no answer".into());
    (flows, ev)
}

fn bridged_off_world() -> World {
    let s = load_scenario(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/bridge-nf-call-iptables-off.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    build_world(s.model(), s.seed).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_pass_of_a_recorded_flow_is_compared_and_what_the_kernel_adds_on_its_own_is_shown() {
    let w = bridged_off_world();
    let (flows, ev) = bridged_off_flow(&w);
    let c = verify::compare_flow(&w, &flows, kpath_sim::wire::IpProtocol::Tcp, &ev);
    assert!(
        differences(&c.rows).is_empty(),
        "{:#?}",
        differences(&c.rows)
    );
    let said = |needle: &str| c.rows.iter().filter(|r| r.kpath.contains(needle)).count();
    // The SYN's two retries walk FORWARD again: shown, not counted.
    assert!(said("sent again") >= 2, "{:#?}", c.rows);
    // node-1's ICMP redirects (the first and the retries') pass mangle OUTPUT; kpath records
    // the redirect as a response and does not walk it.
    assert!(said("kpath records this ICMP error") >= 1, "{:#?}", c.rows);
    assert!(c.rows.iter().any(|r| r.what.contains("icmp redirect")));
}

#[test]
fn a_kernel_pass_kpath_did_not_make_is_a_difference() {
    // Without send_redirects, kpath sends no redirect: the kernel's redirect passes are
    // then passes kpath cannot account for, and each shows as a difference.
    let mut w = bridged_off_world();
    let node = w.ns_by_name("node-1").unwrap().id;
    let sys = &mut w.ns_mut(node).sysctl;
    for key in [
        "net.ipv4.conf.all.send_redirects",
        "net.ipv4.conf.cni0.send_redirects",
    ] {
        let key = kpath_sim::net::sysctl::Key::parse(key).unwrap();
        sys.set(&key, "0").unwrap();
    }
    let (flows, ev) = bridged_off_flow(&w);
    let c = verify::compare_flow(&w, &flows, kpath_sim::wire::IpProtocol::Tcp, &ev);
    let d = differences(&c.rows);
    assert!(
        !d.is_empty() && d.iter().all(|r| r.contains("icmp redirect")),
        "{d:#?}"
    );
}
