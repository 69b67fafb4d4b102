//! `kpath trace --node-dump DIR`: a real node's whole dump through the one engine. The
//! fixture is what `kpath collect`'s script wrote in node-1 of the cross-node ClusterIP
//! lesson's lab (Linux 6.18, iptables-nft, so its nft-ruleset lists iptables' own tables
//! too); the last test gathers it again from a live lab and asks the same questions.

use kpath_sim::k8s::build_world;
use kpath_sim::scenario::load_scenario;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    root().join("tests/fixtures/node-dump/flannel-node-1")
}

fn kpath(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kpath"))
        .args(args)
        .output()
        .expect("kpath runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kpath trace --node-dump DIR ARGS...`.
fn node_trace(dir: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> (bool, String, String) {
    let dir = dir.as_ref().to_string_lossy().into_owned();
    let mut all = vec!["trace", "--node-dump", dir.as_str()];
    all.extend_from_slice(args);
    kpath(&all)
}

/// The outcomes of `trace --node-dump DIR ARGS -o json`.
fn outcomes(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let (ok, out, err) = node_trace(dir, &all);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    v["outcomes"].as_array().expect("outcomes").clone()
}

/// A copy of the fixture to change.
fn copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kpath-node-dump-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(fixture()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    dir
}

/// The Service's endpoints and the node address of each, from the lesson's scenario.
fn endpoints_and_nodes() -> Vec<(String, String)> {
    let s = load_scenario(&root().join("scenarios/pod-to-clusterip-cross-node.yaml")).unwrap();
    let m = s.model();
    let mut v: Vec<(String, String)> = m
        .pods
        .iter()
        .filter(|p| p.labels.get("app").map(String::as_str) == Some("service1"))
        .map(|p| {
            let node = m.nodes.iter().find(|n| n.name == p.node).unwrap();
            (format!("{}:3000", p.ip), node.ip.to_string())
        })
        .collect();
    v.sort();
    v
}

/// The destination and VXLAN outer destination of each outcome, sorted.
fn through_tunnel(outs: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = outs
        .iter()
        .map(|o| {
            assert_eq!(o["verdict"], "ACCEPT", "{o:#}");
            assert_eq!(o["egress"]["device"], "eth0", "{o:#}");
            assert_eq!(o["egress"]["vxlan"]["device"], "flannel.1");
            assert_eq!(o["egress"]["vxlan"]["dport"], 8472);
            (
                o["destination"].as_str().unwrap().to_string(),
                o["egress"]["vxlan"]["outer_dst"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_pods_packet_for_a_clusterip_leaves_through_flannel_1_to_the_endpoints_node() {
    let outs = outcomes(
        &fixture(),
        &["--src", "10.244.0.2", "--dst", "10.96.100.1:80"],
    );
    assert_eq!(through_tunnel(&outs), endpoints_and_nodes());
    // The node's routes, neighbours and FDB placed it: on the client's veth, as a bridged
    // frame for cni0.
    let (_, text, _) = node_trace(
        fixture().to_str().unwrap(),
        &["--src", "10.244.0.2", "--dst", "10.96.100.1:80"],
    );
    assert!(
        text.contains("in: arrives on veth497fda94 (a port of cni0)"),
        "{text}"
    );
    assert!(text.contains("node addresses: 172.31.0.11, 10.244.0.1, 10.244.0.0"));
    // iptables-nft's tables, in both dumps, are read once.
    assert!(
        text.contains("tables ip mangle, ip filter, ip nat are iptables-nft's"),
        "{text}"
    );
    let dnat = text.matches("dnat to 10.244.").count();
    assert_eq!(dnat, 3, "{text}");
}

#[test]
fn a_remote_pods_packet_arrives_inside_vxlan_and_leaves_by_the_local_pods_veth() {
    let outs = outcomes(
        &fixture(),
        &["--src", "10.244.1.4", "--dst", "10.244.0.2:8080"],
    );
    assert_eq!(outs.len(), 1);
    let o = &outs[0];
    assert_eq!(o["verdict"], "ACCEPT");
    assert_eq!(o["destination"], "10.244.0.2:8080");
    assert_eq!(o["egress"]["device"], "veth497fda94");
    assert_eq!(o["egress"]["bridge"], "cni0");
    assert_eq!(o["egress"]["mac"], "0a:58:0a:f4:00:02");
    // The outer packet (UDP to 8472) met INPUT before flannel.1 unwrapped it.
    let chains: Vec<&str> = o["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["chain"].as_str().unwrap())
        .collect();
    let input = chains.iter().position(|c| *c == "INPUT").expect("INPUT");
    let forward = chains
        .iter()
        .position(|c| *c == "FORWARD")
        .expect("FORWARD");
    assert!(input < forward, "{chains:?}");
}

#[test]
fn a_neighbour_missing_from_the_dump_is_an_assumption_said() {
    let (ok, text, err) = node_trace(
        fixture().to_str().unwrap(),
        &[
            "--src",
            "10.244.1.4",
            "--dst",
            "10.244.0.5:53",
            "--proto",
            "udp",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        text.contains("no neighbour entry for 10.244.0.5 on cni0 in the dump"),
        "{text}"
    );
    assert!(
        text.contains("cni0 floods the frame to veth497fda94, vethc294ab37"),
        "{text}"
    );
}

/// A raw-table rule as Calico writes it (`cali-PREROUTING`), without the mark.
fn with_rpfilter(name: &str, opts: &str) -> PathBuf {
    let dir = copy(name);
    let path = dir.join("iptables-save");
    let mut rules = std::fs::read_to_string(&path).unwrap();
    rules.push_str(&format!(
        "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -m rpfilter {opts} -j DROP\nCOMMIT\n"
    ));
    std::fs::write(&path, rules).unwrap();
    dir
}

#[test]
fn rpfilter_drops_a_source_the_node_routes_back_by_another_device() {
    let dir = with_rpfilter("rpf", "--validmark --invert");
    let verdict = |args: &[&str]| {
        let outs = outcomes(&dir, args);
        outs[0]["verdict"].as_str().unwrap().to_string()
    };
    // 10.244.0.2 is routed back by cni0, where it came in: it passes.
    assert_eq!(
        verdict(&[
            "--src",
            "10.244.0.2",
            "--dst",
            "10.244.0.5:53",
            "--proto",
            "udp"
        ]),
        "ACCEPT"
    );
    // The same source arriving on eth0 is spoofed: the route back is by cni0.
    assert_eq!(
        verdict(&[
            "--src",
            "10.244.0.2",
            "--dst",
            "10.244.0.5:53",
            "--proto",
            "udp",
            "--in-iface",
            "eth0"
        ]),
        "DROP"
    );
    // An internet source on eth0 goes back by the default route... which this node lacks:
    // no route back fails too (rpfilter_lookup_reverse: fib_lookup fails).
    assert_eq!(
        verdict(&[
            "--src",
            "8.8.8.8",
            "--dst",
            "10.244.0.5:53",
            "--proto",
            "udp",
            "--in-iface",
            "eth0"
        ]),
        "DROP"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // --loose: any route back will do.
    let dir = with_rpfilter("rpf-loose", "--loose --invert");
    let outs = outcomes(
        &dir,
        &[
            "--src",
            "10.244.0.2",
            "--dst",
            "10.244.0.5:53",
            "--proto",
            "udp",
            "--in-iface",
            "eth0",
        ],
    );
    assert_eq!(outs[0]["verdict"], "ACCEPT");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rpfilter_without_the_nodes_routes_is_assumed_to_pass_and_said() {
    let dir = with_rpfilter("rpf-alone", "--invert");
    let rules = dir.join("iptables-save");
    let (ok, text, err) = kpath(&[
        "trace",
        "--iptables-save",
        rules.to_str().unwrap(),
        "--src",
        "10.244.0.2",
        "--dst",
        "10.244.0.5:53",
        "--proto",
        "udp",
        "--in-iface",
        "eth0",
    ]);
    assert!(ok, "{err}");
    assert!(text.contains("ACCEPT"), "{text}");
    assert!(
        text.contains("-m rpfilter (1 rule): without the node's routes"),
        "{text}"
    );
    // It is modelled, not an unknown.
    assert!(!text.contains("does not model"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_node_dumps_are_placed_with_a_hint() {
    let dir = copy("bad-route");
    let route = dir.join("ip-route.json");
    let text = std::fs::read_to_string(&route).unwrap();
    std::fs::write(
        &route,
        text.replacen("\"dev\":\"cni0\"", "\"dev\":\"cni9\"", 1),
    )
    .unwrap();
    let (ok, _, err) = node_trace(
        dir.to_str().unwrap(),
        &["--src", "10.244.0.2", "--dst", "10.96.100.1:80"],
    );
    assert!(!ok);
    assert!(err.contains("ip-route.json:1:"), "{err}");
    assert!(err.contains("no device `cni9`"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    // Broken JSON: serde_json's place.
    std::fs::write(&route, "[{\"dst\": \"default\",\n  \"dev\": }]").unwrap();
    let (ok, _, err) = node_trace(
        dir.to_str().unwrap(),
        &["--src", "10.244.0.2", "--dst", "10.96.100.1:80"],
    );
    assert!(!ok);
    assert!(err.contains("ip-route.json:2:"), "{err}");
    assert!(err.contains("ip -j route show table all"), "{err}");
    // A device the dump does not have.
    let (ok, _, err) = node_trace(
        fixture().to_str().unwrap(),
        &[
            "--src",
            "10.244.0.2",
            "--dst",
            "10.96.100.1:80",
            "--in-iface",
            "cni1",
        ],
    );
    assert!(!ok);
    assert!(err.contains("did you mean `cni0`?"), "{err}");
    // No dump there at all.
    let empty = std::env::temp_dir().join(format!("kpath-node-dump-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, _, err) = node_trace(
        empty.to_str().unwrap(),
        &["--src", "10.244.0.2", "--dst", "10.96.100.1:80"],
    );
    assert!(!ok);
    assert!(err.contains("holds none of the files kpath reads"), "{err}");
    assert!(err.contains("kpath collect"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn node_dump_refuses_the_flags_its_directory_answers() {
    let (ok, _, err) = node_trace(
        fixture().to_str().unwrap(),
        &[
            "--iptables-save",
            "x",
            "--src",
            "10.244.0.2",
            "--dst",
            "10.96.100.1:80",
        ],
    );
    assert!(!ok);
    assert!(err.contains("cannot be used with"), "{err}");
    let (ok, _, err) = node_trace(
        fixture().to_str().unwrap(),
        &[
            "--out-iface",
            "eth0",
            "--src",
            "10.244.0.2",
            "--dst",
            "10.96.100.1:80",
        ],
    );
    assert!(!ok);
    assert!(err.contains("cannot be used with"), "{err}");
}

/// `kpath collect`'s script, run in node-1 of the lesson's live lab, gathers a dump that
/// answers as the fixture does. Needs root and the lab's tools; skips, saying why.
#[test]
fn collect_gathers_a_live_nodes_dump_that_answers_the_same() {
    if let Some(why) = kpath::cmd::lab::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let (ok, script, err) = kpath(&["collect"]);
    assert!(ok, "{err}");
    let s = load_scenario(&root().join("scenarios/pod-to-clusterip-cross-node.yaml")).unwrap();
    let w = build_world(s.model(), s.seed).unwrap();
    let prefix = format!("kpnd{}-", std::process::id() % 10000);
    let stop = std::sync::atomic::AtomicBool::new(false);
    kpath::cmd::lab::up(&s, &w, &prefix, &stop).unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("kpath-collect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sh = std::env::temp_dir().join(format!("kpath-collect-{}.sh", std::process::id()));
    std::fs::write(&sh, script).unwrap();
    // The client talks to its gateway once, so node-1 holds its neighbour and FDB entries.
    let _ = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{prefix}default.client"),
            "ping",
            "-c1",
            "-W1",
            "10.244.0.1",
        ])
        .output();
    let out = Command::new("ip")
        .args(["netns", "exec", &format!("{prefix}node-1"), "sh"])
        .arg(&sh)
        .arg(&dir)
        .output()
        .expect("sh");
    kpath::cmd::lab::down(&prefix);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "iptables-save",
        "ip-addr.json",
        "ip-route.json",
        "bridge-fdb.json",
        "sysctl.txt",
    ] {
        assert!(dir.join(f).exists(), "{f} was not gathered");
    }
    let outs = outcomes(&dir, &["--src", "10.244.0.2", "--dst", "10.96.100.1:80"]);
    assert_eq!(through_tunnel(&outs), endpoints_and_nodes());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&sh);
}

/// A dump of rules alone (no devices) answers as `--iptables-save` does: around a made-up
/// node, whose devices the answer does not name.
#[test]
fn a_dump_without_devices_is_rules_only_mode() {
    let dir = std::env::temp_dir().join(format!("kpath-node-dump-rules-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture().join("iptables-save"), dir.join("iptables-save")).unwrap();
    let outs = outcomes(&dir, &["--src", "10.244.0.2", "--dst", "10.96.100.1:80"]);
    assert_eq!(outs.len(), 3);
    assert!(outs.iter().all(|o| o["egress"].is_null()), "{outs:#?}");
    let mut dests: Vec<String> = outs
        .iter()
        .map(|o| o["destination"].as_str().unwrap().to_string())
        .collect();
    dests.sort();
    let expected: Vec<String> = endpoints_and_nodes().into_iter().map(|(d, _)| d).collect();
    assert_eq!(dests, expected);
    let _ = std::fs::remove_dir_all(&dir);
}
