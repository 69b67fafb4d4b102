//! `kpath verify`: comparing the real kernel with kpath.
//!
//! The first tests replay evidence recorded from a real kernel (Linux 6.18, `kpath verify
//! tests/fixtures/lab-cluster.yaml --packet syn-cross-node --keep`) through the comparison,
//! so they run anywhere. The last one builds the lab and asks the kernel again; it needs
//! root and the lab's tools, and says why it skipped when the machine has neither.

use kpath_sim::k8s::build_world;
use kpath_sim::lab::compare::{self, Evidence, Row};
use kpath_sim::lab::{nft_trace, probe, read_pcap};
use kpath_sim::net::World;
use kpath_sim::scenario::{Scenario, load_scenario};
use kpath_sim::trace::Trace;
use std::path::PathBuf;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn lab_cluster() -> (Scenario, World) {
    let s = load_scenario(&fixture("lab-cluster.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let w = build_world(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    (s, w)
}

fn outcomes(s: &Scenario, w: &World, packet: &str) -> Vec<Trace> {
    let items = probe::items(s, w, Some(packet)).unwrap_or_else(|e| panic!("{e}"));
    items.into_iter().next().expect("the packet").outcomes
}

/// The recorded evidence, with the kernel's trace text passed through `edit` first.
fn recorded(edit: impl Fn(String) -> String) -> Evidence {
    let dir = fixture("lab-evidence/syn-cross-node");
    let read = |f: &str| std::fs::read(dir.join(f)).expect("fixture");
    let nft = ["node-1", "node-2"]
        .iter()
        .map(|ns| {
            let text = String::from_utf8_lossy(&read(&format!("{ns}.trace"))).into_owned();
            (ns.to_string(), nft_trace::parse(&edit(text)))
        })
        .collect();
    Evidence {
        nft,
        sender_ok: true,
        sender_said: "Connection to 10.96.0.22 80 port [tcp/*] succeeded!".into(),
        arrivals: vec![(
            ("default/pod22".into(), "eth0".into()),
            read_pcap(&read("arrival-default.pod22-eth0.pcap"), &[8472]),
        )],
        underlay: read_pcap(&read("underlay.pcap"), &[8472]),
    }
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
    let (rows, chosen) = compare::compare(
        &w,
        &out,
        s.packet("syn-cross-node").unwrap().protocol,
        &recorded(|t| t),
    );
    assert!(differences(&rows).is_empty(), "{:#?}", differences(&rows));
    // Both nodes' netfilter paths, the fate, the arrival and the VXLAN header were compared.
    assert!(rows.iter().any(|r| r.what.starts_with("node-1 netfilter")));
    assert!(rows.iter().any(|r| r.what.starts_with("node-2 netfilter")));
    assert!(rows.iter().any(|r| r.what == "VXLAN outer"));
    assert!(rows.iter().any(|r| r.what == "arrival at default/pod22"));
    // The kernel's random pick was 10.244.2.2:80, and that is the outcome compared.
    assert_eq!(out[chosen].disposition.netns, "default/pod22");
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
    let (rows, _) = compare::compare(&w, &out, s.packet("syn-cross-node").unwrap().protocol, &ev);
    let diff = differences(&rows);
    assert!(
        diff.iter()
            .any(|d| d.contains("netfilter") && d.contains("KUBE-FORWARD")),
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
    let (rows, _) = compare::compare(&w, &out, proto, &ev);
    assert!(
        rows.iter()
            .any(|r| r.what == "fate" && !r.ok && r.kernel == "refused")
    );
    // Nothing crossed the underlay.
    let mut ev = recorded(|t| t);
    ev.underlay.clear();
    let (rows, _) = compare::compare(&w, &out, proto, &ev);
    assert!(
        rows.iter()
            .any(|r| r.what == "VXLAN outer" && !r.ok && r.kernel == "none")
    );
}

#[test]
fn verify_against_the_live_kernel() {
    if let Some(why) = kpath::lab_cmd::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let s = load_scenario(&fixture("lab-cluster.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let (report, ok) =
        kpath::lab_cmd::verify(&s, None, None, false).unwrap_or_else(|f| panic!("{}", f.message));
    assert!(ok, "{report}");
    assert!(
        report.contains("packet `syn-cross-node`: AGREES"),
        "{report}"
    );
}
