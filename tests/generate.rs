//! `kpath generate`: a cluster of a chosen size as a scenario, and one node's dumps of it,
//! read back by kpath's own readers as a user would.

mod common;

use common::kpath;
use std::path::PathBuf;

fn run(args: &[&str]) -> String {
    let out = kpath().args(args).output().expect("run kpath");
    assert!(
        out.status.success(),
        "kpath {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kpath-generate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_generated_scenario_traces_to_its_last_service() {
    let yaml = run(&[
        "generate",
        "--services",
        "60",
        "--endpoints",
        "3",
        "--nodes",
        "2",
    ]);
    let file = write("scale.yaml", &yaml);
    let out = run(&[
        "trace",
        file.to_str().unwrap(),
        "-p",
        "to-last",
        "--all-outcomes",
        "--full",
    ]);
    // Three endpoints, each a third, all delivered; the last Service's rule is #60 (a
    // jump, which the brief form leaves out).
    assert!(out.contains("has 3 possible outcomes"), "{out}");
    assert_eq!(out.matches("33.33%  delivered").count(), 3, "{out}");
    assert!(out.contains("nat KUBE-SERVICES #60"), "{out}");
}

#[test]
fn a_generated_nodes_dump_is_answered_in_rules_only_mode() {
    let dump = run(&[
        "generate",
        "--services",
        "40",
        "--endpoints",
        "4",
        "--dump",
        "iptables-save",
    ]);
    assert_eq!(
        dump.matches("-j KUBE-SVC-").count(),
        40,
        "one jump per Service"
    );
    let file = write("node.rules", &dump);
    // Service 39's ClusterIP: 10.96.0.16 + 39.
    let out = run(&[
        "trace",
        "--iptables-save",
        file.to_str().unwrap(),
        "--src",
        "10.128.0.2",
        "--dst",
        "10.96.0.55:80",
    ]);
    assert!(out.contains("4 possible outcomes"), "{out}");
    assert!(out.contains("nat KUBE-SERVICES #40"), "{out}");
}

#[test]
fn ipvs_dumps_read_back_together() {
    let args = |d: &str| {
        run(&[
            "generate",
            "--services",
            "20",
            "--endpoints",
            "2",
            "--proxy-mode",
            "ipvs",
            "--dump",
            d,
        ])
    };
    let rules = write("ipvs.rules", &args("iptables-save"));
    let sets = write("ipvs.sets", &args("ipset-save"));
    let ipvs = write("ipvs.ipvs", &args("ipvsadm-save"));
    let out = run(&[
        "trace",
        "--iptables-save",
        rules.to_str().unwrap(),
        "--ipset-save",
        sets.to_str().unwrap(),
        "--ipvsadm-save",
        ipvs.to_str().unwrap(),
        "--src",
        "10.128.0.2",
        "--dst",
        "10.96.0.35:80",
    ]);
    assert!(out.contains("IPVS: 10.96.0.35:80 -> "), "{out}");
    assert!(out.contains("2 possible outcomes"), "{out}");
}

#[test]
fn sizes_that_do_not_fit_are_refused_with_the_reason() {
    let out = kpath()
        .args([
            "generate",
            "--services",
            "10",
            "--endpoints",
            "300",
            "--nodes",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("more than 1 nodes hold"), "{err}");
}
