//! Every shipped scenario is a regression test: `kpath test scenarios/` must pass, and the
//! runner must report failures the way people (and CI systems) need them.

mod common;

use common::kpath;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kpath-suite-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str], dir: &Path) -> (i32, String) {
    let out = kpath().args(args).current_dir(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn every_shipped_scenario_passes_its_expectations_and_golden_traces() {
    let (code, out) = run(&["test", "scenarios"], &root());
    print!("{out}");
    assert_eq!(code, 0, "kpath test scenarios/ failed:\n{out}");
    let last = out.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "closing line: {last}");
    assert!(
        !out.contains("SKIP"),
        "every shipped packet and flow has an expect block:\n{out}"
    );
    // Each shipped scenario proves something and has a golden trace.
    for e in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) == Some("yaml") {
            assert!(
                p.with_extension("golden").exists(),
                "{} has no golden trace",
                p.display()
            );
            let name = format!("scenarios/{}", p.file_name().unwrap().to_string_lossy());
            assert!(
                out.lines().any(|l| l.starts_with("PASS ")
                    && l.contains(&name)
                    && (l.contains(" packet ") || l.contains(" flow "))),
                "{name} has no passing expectation"
            );
        }
    }
}

#[test]
fn a_broken_expectation_fails_with_its_place_and_the_path_context() {
    let dir = temp_dir("broken");
    let src = std::fs::read_to_string(root().join("scenarios/pod-to-pod-cross-node.yaml")).unwrap();
    let bad = src
        .replacen("      ttl: 62\n", "      ttl: 61\n", 1)
        .replacen(
            "{netns: node-2, func: vxlan_rcv}\n",
            "{netns: node-2, func: vxlan_rcv}\n        - {netns: node-1, func: neigh_output}\n",
            1,
        );
    assert_ne!(bad, src);
    std::fs::write(dir.join("x.yaml"), &bad).unwrap();
    let (code, out) = run(&["test", "."], &dir);
    assert_eq!(code, 1, "{out}");
    let ttl_line = bad.lines().position(|l| l == "      ttl: 61").unwrap() + 1;
    assert!(
        out.contains(&format!("x.yaml:{ttl_line}:"))
            && out.contains("expected TTL 61 on arrival")
            && out.contains("got: TTL 62"),
        "{out}"
    );
    assert!(
        out.contains("expected a step like {netns: node-1, func: neigh_output} after step"),
        "{out}"
    );
    assert!(
        out.contains("where the trace leaves the expected path:"),
        "{out}"
    );
    assert!(
        out.lines().last().unwrap().ends_with("1 failed, 0 skipped")
            || out.lines().last().unwrap().contains("failed"),
        "{out}"
    );
    // Machines: JSON and JUnit XML carry the same verdicts.
    let (_, json) = run(&["test", ".", "--format", "json"], &dir);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["failed"], 1);
    assert_eq!(v["passed"], 1);
    let (_, xml) = run(&["test", ".", "--format", "junit"], &dir);
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("failures=\"1\"")
            && xml.contains("<failure message=\"")
            && xml.contains("name=\"packet ping\""),
        "{xml}"
    );
}

#[test]
fn golden_traces_are_blessed_and_a_change_shows_a_step_diff() {
    let dir = temp_dir("golden");
    std::fs::copy(
        root().join("scenarios/pod-to-pod-same-node.yaml"),
        dir.join("s.yaml"),
    )
    .unwrap();
    let (code, out) = run(&["test", ".", "--bless"], &dir);
    assert_eq!(code, 0, "{out}");
    let golden = dir.join("s.golden");
    let text = std::fs::read_to_string(&golden).unwrap();
    assert!(text.contains("### packet ping\n") && text.contains("br_nf_pre_routing"));
    // Blessing again gives the same bytes: snapshots are deterministic.
    run(&["test", ".", "--bless"], &dir);
    assert_eq!(std::fs::read_to_string(&golden).unwrap(), text);
    let (code, out) = run(&["test", "."], &dir);
    assert_eq!(code, 0, "{out}");
    // Pretend the trace used to take a different step.
    std::fs::write(&golden, text.replacen("br_forward\n", "br_flood\n", 1)).unwrap();
    let (code, out) = run(&["test", "."], &dir);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL ./s.yaml golden packet ping") || out.contains("golden packet ping"),
        "{out}"
    );
    assert!(
        out.contains("- ")
            && out.contains("br_flood")
            && out.contains("+ ")
            && out.contains("br_forward"),
        "{out}"
    );
    assert!(out.contains("kpath test --bless"), "{out}");
}

#[test]
fn packets_without_expectations_are_counted_as_skipped() {
    let dir = temp_dir("skip");
    let src = std::fs::read_to_string(root().join("scenarios/node-to-pod.yaml")).unwrap();
    let stripped: String = {
        let mut out = Vec::new();
        let mut skipping = false;
        for l in src.lines() {
            if l == "    expect:" {
                skipping = true;
                continue;
            }
            if skipping && l.starts_with("      ") {
                continue;
            }
            skipping = false;
            out.push(l);
        }
        out.join("\n") + "\n"
    };
    std::fs::write(dir.join("n.yaml"), stripped).unwrap();
    let (code, out) = run(&["test", "n.yaml"], &dir);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().last().unwrap(), "0 passed, 0 failed, 3 skipped");
}
