//! `kpath policy`: the reachability matrix between pods as the e2e netpol suite prints it,
//! what a policy tried with `--with` changes, and located errors for bad input.

mod common;

use common::kpath;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netpol-xyz.yaml")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = kpath()
        .arg("policy")
        .arg(fixture())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str, text: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kpath-policy-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join(name);
    std::fs::write(&f, text).unwrap();
    f
}

#[test]
fn the_matrix_is_the_e2e_suites_truth_table() {
    let (code, out, err) = run(&["--port", "80/tcp"]);
    assert_eq!(code, 0, "{err}");
    // x takes ingress only from y (and each pod from itself).
    let rows: Vec<&str> = out.lines().skip(1).take(10).collect();
    assert_eq!(rows[0], "-\tx/a\tx/b\tx/c\ty/a\ty/b\ty/c\tz/a\tz/b\tz/c");
    assert_eq!(rows[1], "x/a\t.\tX\tX\t.\t.\t.\t.\t.\t.");
    assert_eq!(rows[4], "y/a\t.\t.\t.\t.\t.\t.\t.\t.\t.");
    assert_eq!(rows[9], "z/c\tX\tX\tX\t.\t.\t.\t.\t.\t.");
    assert!(out.contains("flannel alone does not enforce them"), "{out}");
}

#[test]
fn without_ports_every_declared_port_gets_a_matrix() {
    let (code, out, _) = run(&[]);
    assert_eq!(code, 0);
    for p in ["80/TCP", "81/TCP", "80/UDP"] {
        assert!(
            out.contains(&format!("reachability on {p} ")),
            "{p}:\n{out}"
        );
    }
}

#[test]
fn a_policy_tried_with_with_shows_every_connection_it_changes_and_why() {
    let f = temp(
        "allow-81.yaml",
        "networkPolicies:\n  - name: allow-from-y\n    namespace: x\n    podSelector: {}\n    ingress:\n      - ports: [{port: 81}]\n",
    );
    // Replacing x's policy: x now takes 81 from anyone, and 80 from no one.
    let (code, out, err) = run(&[
        "--port",
        "80",
        "--port",
        "81",
        "--with",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("connections on 80/TCP change:"), "{out}");
    assert!(
        out.contains(
            "  y/a -> x/a: allowed -> blocked (ingress isolated by x/allow-from-y; allowed by none)"
        ),
        "{out}"
    );
    assert!(
        out.contains("  z/a -> x/b: blocked -> allowed (ingress isolated by x/allow-from-y; allowed by x/allow-from-y)"),
        "{out}"
    );
    let (_, json, _) = run(&[
        "--port",
        "81",
        "--with",
        f.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["matrices"][0]["port"], 81);
    // 81 opens to all: x to the other x pods (6 pairs) and z to x (9).
    assert_eq!(v["changes"].as_array().unwrap().len(), 15);
}

#[test]
fn bad_input_is_refused_with_its_place() {
    let (code, _, err) = run(&["--port", "80/icmp"]);
    assert_eq!(code, 2);
    assert!(err.contains("`icmp` is not a protocol"), "{err}");
    let f = temp(
        "bad.yaml",
        "networkPolicies:\n  - name: p\n    podSelector: {}\n    egress:\n      - to: [{ipBlock: {cidr: 10.0.0.0/33}}]\n",
    );
    let (code, _, err) = run(&["--with", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:5:"), "{err}");
    assert!(err.contains("`10.0.0.0/33` is not an IPv4 CIDR"), "{err}");
}
