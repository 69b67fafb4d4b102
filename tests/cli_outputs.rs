//! The four commands of the README, run as a user would: text, JSON, pcapng (read back
//! with tshark when it is installed) and `show`; byte-identical output for a seed; and the
//! sample output README shows, line for line.

mod common;

use common::{kpath, scenario_path, tshark_installed};
use std::process::Output;

fn run(args: &[&str]) -> Output {
    let out = kpath().args(args).output().expect("run kpath");
    assert!(
        out.status.success(),
        "kpath {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn cross_node() -> String {
    scenario_path("pod-to-pod-cross-node")
        .to_string_lossy()
        .into_owned()
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kpath-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn text_trace_fits_80_columns_and_names_kernel_functions() {
    let out = String::from_utf8(run(&["trace", &cross_node(), "--packet", "ping"]).stdout).unwrap();
    for f in [
        "veth_xmit",
        "br_handle_frame",
        "br_nf_pre_routing",
        "ip_rcv",
        "ip_forward",
        "neigh_output",
        "vxlan_xmit",
        "udp_rcv",
        "vxlan_rcv",
        "ip_local_deliver",
        "icmp_echo",
    ] {
        assert!(out.contains(f), "no {f} step in:\n{out}");
    }
    assert!(
        out.contains("outer 172.31.0.11 > 172.31.0.12: UDP")
            && out.contains("inner 10.244.1.2 > 10.244.2.2"),
        "{out}"
    );
    for line in out.lines() {
        assert!(
            line.chars().count() <= 80,
            "line wider than 80 columns: {line}"
        );
    }
    assert!(out.contains("=> DELIVERED at default/server eth0"), "{out}");
}

#[test]
fn json_trace_follows_the_documented_schema() {
    let out = run(&[
        "trace",
        &cross_node(),
        "--packet",
        "ping",
        "--format",
        "json",
    ])
    .stdout;
    let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    let steps = v["steps"].as_array().expect("steps[]");
    assert!(steps.len() > 20);
    for s in steps {
        for key in ["netns", "func", "hook", "device", "packet"] {
            assert!(s.get(key).is_some(), "step lacks {key}: {s}");
        }
        for key in ["src", "dst", "proto", "ttl", "len"] {
            assert!(
                s["packet"].get(key).is_some() || s["packet"]["proto"] == "arp",
                "packet lacks {key}: {s}"
            );
        }
    }
    let encap = steps
        .iter()
        .find(|s| s["packet"]["outer"].is_object())
        .expect("a step with outer headers");
    let o = &encap["packet"]["outer"];
    assert_eq!(
        (
            o["src"].as_str(),
            o["dst"].as_str(),
            o["udp_dport"].as_u64(),
            o["vni"].as_u64()
        ),
        (
            Some("172.31.0.11"),
            Some("172.31.0.12"),
            Some(8472),
            Some(1)
        )
    );
    assert!(o["udp_sport"].as_u64().is_some());
    assert_eq!(
        encap["packet"]["src"], "10.244.1.2",
        "top-level fields describe the inner packet"
    );
    assert_eq!(v["disposition"]["kind"], "delivered");
    assert_eq!(v["disposition"]["netns"], "default/server");
    assert!(
        v["disposition"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(steps.iter().any(|s| {
        s["hook"] == "PREROUTING"
            && s["nf"]["table"] == "nat"
            && s["nf"]["rule"]
                .as_str()
                .is_some_and(|r| r.contains("KUBE-SERVICES"))
    }));
}

#[test]
fn same_seed_gives_identical_text_json_and_pcap_and_another_seed_does_not() {
    let f = cross_node();
    for fmt in ["text", "json"] {
        let a = run(&["trace", &f, "--format", fmt, "--seed", "7"]).stdout;
        let b = run(&["trace", &f, "--format", fmt, "--seed", "7"]).stdout;
        assert_eq!(a, b, "{fmt} differs between two runs");
        let c = run(&["trace", &f, "--format", fmt, "--seed", "8"]).stdout;
        assert_ne!(a, c, "the seed changes ports and IDs in {fmt}");
    }
    let (p1, p2) = (temp("a.pcapng"), temp("b.pcapng"));
    run(&[
        "pcap",
        &f,
        "--packet",
        "syn",
        "-o",
        p1.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    run(&[
        "pcap",
        &f,
        "--packet",
        "syn",
        "-o",
        p2.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
}

#[test]
fn show_prints_the_node_as_ip_and_bridge_print_it() {
    let out = String::from_utf8(run(&["show", &cross_node(), "--node", "node-1"]).stdout).unwrap();
    for line in [
        "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink ",
        "10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1 ",
        "10.244.2.0 dev flannel.1 lladdr 0e:00:ac:1f:00:0c PERMANENT ",
        "0e:00:ac:1f:00:0c dev flannel.1 dst 172.31.0.12 self permanent",
        "    vxlan id 1 local 172.31.0.11 dev eth0 srcport 0 0 dstport 8472 nolearning ttl auto ageing 300 udpcsum ",
        "    inet 10.244.1.0/32 scope global flannel.1",
        "net.bridge.bridge-nf-call-iptables = 1",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing line `{line}` in:\n{out}"
        );
    }
    assert!(
        out.contains("3: flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450"),
        "{out}"
    );
    let pod =
        String::from_utf8(run(&["show", &cross_node(), "--pod", "default/client"]).stdout).unwrap();
    for line in [
        "default via 10.244.1.1 dev eth0 ",
        // flannel's CNI plugin routes the whole flannel network via the gateway too.
        "10.244.0.0/16 via 10.244.1.1 dev eth0 ",
        "10.244.1.0/24 dev eth0 proto kernel scope link src 10.244.1.2 ",
        // A CNI veth has tx_queue_len 0: iproute2 prints no `qlen` and the line ends after
        // `group default `; lo keeps 1000.
        "2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default ",
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000",
    ] {
        assert!(
            pod.lines().any(|l| l == line),
            "missing line `{line}` in:\n{pod}"
        );
    }
    let node_links: Vec<&str> = out.lines().filter(|l| l.contains(" mtu ")).collect();
    for l in &node_links {
        let veth = l
            .split(':')
            .nth(1)
            .is_some_and(|n| n.trim().starts_with("veth"));
        assert_eq!(
            l.ends_with("group default "),
            veth,
            "qlen printed only for non-veth devices: `{l}`"
        );
        assert!(veth || l.ends_with("group default qlen 1000"), "`{l}`");
    }
    assert!(node_links.iter().any(|l| l.contains(" cni0: ")));
    let bad = kpath()
        .args(["show", &cross_node(), "--node", "node-9"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nodes: node-1, node-2"));
}

#[test]
fn tshark_decodes_the_capture_with_valid_checksums() {
    if !tshark_installed() {
        return;
    }
    let p = temp("ping.pcapng");
    run(&[
        "pcap",
        &cross_node(),
        "--packet",
        "ping",
        "-o",
        p.to_str().unwrap(),
    ]);
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            p.to_str().unwrap(),
            "-d",
            "udp.port==8472,vxlan",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            "vxlan",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.len",
            "-e",
            "vxlan.vni",
            "-e",
            "udp.dstport",
            "-e",
            "ip.ttl",
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "icmp.checksum.status",
            "-e",
            "frame.comment",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = text.lines().collect();
    assert!(!rows.is_empty(), "tshark found no VXLAN frame");
    for row in rows {
        let f: Vec<&str> = row.split('|').collect();
        assert_eq!(f[0], "148", "{row}");
        assert_eq!(f[1], "1", "{row}");
        assert_eq!(f[2], "8472", "{row}");
        assert_eq!(f[3], "64,63", "outer and inner TTL: {row}");
        assert_eq!(f[4], "1,1", "outer and inner IP checksums good (1): {row}");
        assert_eq!(f[5], "1", "outer UDP checksum good: {row}");
        assert_eq!(f[6], "1", "inner ICMP checksum good: {row}");
        assert!(
            f[7].contains("step "),
            "the packet comment names the step: {row}"
        );
    }
}

/// `kpath show --ipvs`: the node as kube-proxy's IPVS mode programs it, in ipvsadm's and
/// ipset's own formats.
#[test]
fn show_ipvs_prints_ipvsadm_ipset_and_the_dummy_device() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/nodeport-external.yaml"
    );
    let out = run(&["show", path, "--node", "node-2", "--ipvs"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("inet 10.110.224.214/32 scope global kube-ipvs0"),
        "{text}"
    );
    assert!(text.contains("IP Virtual Server version 1.2.1 (size=4096)"));
    assert!(
        text.contains("TCP  172.31.0.12:31771 rr\n  -> 10.244.2.5:80"),
        "{text}"
    );
    assert!(text.contains(
        "-A -t 10.110.224.214:80 -s rr\n-a -t 10.110.224.214:80 -r 10.244.2.5:80 -m -w 1"
    ));
    assert!(text.contains("add KUBE-NODE-PORT-TCP 31771"));
    assert!(text.contains("-m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT"));
}

#[test]
fn readme_sample_output_is_what_kpath_prints() {
    // README's "What you see" shows `kpath trace ... --packet ping` with some stretches cut
    // (` ...`): every other line must be the command's output, in the same order.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let block = readme
        .split("## What you see\n\n```\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("README has a sample under \"What you see\"");
    let mut lines = block.lines();
    let command = lines.next().expect("the sample starts with its command");
    let args: Vec<&str> = command
        .strip_prefix("$ kpath ")
        .expect("the sample's first line is `$ kpath ...`")
        .split_whitespace()
        .collect();
    assert_eq!(args[1], "scenarios/pod-to-pod-cross-node.yaml");
    let mut args = args;
    let path = cross_node();
    args[1] = &path;
    let out = String::from_utf8(run(&args).stdout).unwrap();
    let mut printed = out.lines();
    for want in lines.filter(|l| l.trim() != "...") {
        assert!(
            printed.any(|got| got == want),
            "README's sample line {want:?} is not in `kpath {}`'s output (in order):\n{out}",
            args.join(" ")
        );
    }
}

#[test]
fn readme_excerpts_are_what_kpath_prints() {
    // Every `$ kpath trace ...` in README's code blocks, its sample lines after it (up to
    // the next command or the block's end) in the command's output, in the same order.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    // The code blocks' lines, block by block.
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut inside = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            inside = !inside;
            if inside {
                blocks.push(Vec::new());
            }
        } else if inside && let Some(b) = blocks.last_mut() {
            b.push(line);
        }
    }
    let mut checked = 0;
    for block in &blocks {
        let mut lines = block.iter().copied().peekable();
        while let Some(line) = lines.next() {
            let Some(command) = line.strip_prefix("$ kpath trace ") else {
                continue;
            };
            let command = command.trim_end().trim_end_matches("(excerpt)");
            let mut args: Vec<String> = vec!["trace".into()];
            for a in command.split_whitespace() {
                match a
                    .strip_prefix("scenarios/")
                    .and_then(|f| f.strip_suffix(".yaml"))
                {
                    Some(name) => args.push(scenario_path(name).to_string_lossy().into_owned()),
                    None => args.push(a.into()),
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = String::from_utf8(run(&args).stdout).unwrap();
            let mut printed = out.lines();
            while let Some(want) = lines.next_if(|l| !l.starts_with("$ ")) {
                if want.trim().is_empty() || want.trim() == "..." {
                    continue;
                }
                assert!(
                    printed.any(|got| got == want),
                    "README's line {want:?} is not in `kpath {}`'s output (in order):\n{out}",
                    args.join(" ")
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} README samples checked");
}

#[test]
fn brief_keeps_the_hops_and_decisions_and_all_outcomes_is_brief_by_default() {
    let path = scenario_path("pod-to-clusterip-cross-node");
    let path = path.to_string_lossy();
    let text = |args: &[&str]| String::from_utf8(run(args).stdout).unwrap();
    let full = text(&["trace", &path, "-p", "syn"]);
    let brief = text(&["trace", &path, "-p", "syn", "--brief"]);
    assert!(brief.lines().count() <= 60, "{brief}");
    assert!(brief.lines().count() * 2 < full.lines().count());
    // The decisions: the endpoint's DNAT rule and its translation, the tunnel, the
    // forwarding verdicts, conntrack's state, the socket; in the full trace's order.
    let mut at = 0;
    for want in [
        "tcp_v4_connect",
        "nf_conntrack_in PREROUTING",
        "-> dnat to 10.244.2.5:3000",
        "-> DNAT: destination 10.96.100.1:80 -> 10.244.2.5:3000",
        "ip_forward",
        "-> accept \"flanneld forward\"",
        "vxlan_xmit_one",
        "vxlan_rcv",
        "tcp_v4_rcv",
        "=> DELIVERED at default/downloader-c eth0",
    ] {
        let found = brief[at..]
            .find(want)
            .unwrap_or_else(|| panic!("no {want} after {at}:\n{brief}"));
        at += found + want.len();
    }
    // Not hops or decisions: ARP, bridge internals, jumps, returns, policies that accept.
    for not in [
        "arp_solicit",
        "br_flood",
        "-> jump",
        "-> return",
        "-> policy accept",
    ] {
        assert!(!brief.contains(not), "{not} in:\n{brief}");
        assert!(full.contains(not), "{not} not in the full trace");
    }
    // --all-outcomes: the summary and each outcome's brief trace; --full for every step.
    let all = text(&["trace", &path, "-p", "syn", "--all-outcomes"]);
    let all_full = text(&["trace", &path, "-p", "syn", "--all-outcomes", "--full"]);
    assert!(all.contains("has 3 possible outcomes"));
    assert!(all.contains("(brief: one line per hop or decision"));
    assert!(!all.contains("arp_solicit") && all_full.contains("arp_solicit"));
    assert!(all.lines().count() * 3 < all_full.lines().count());
}

#[test]
fn an_adhoc_packet_or_connection_is_traced_without_editing_the_scenario() {
    let path = scenario_path("pod-to-clusterip-cross-node");
    let path = path.to_string_lossy();
    let out = |args: &[&str]| String::from_utf8(run(args).stdout).unwrap();
    let base = ["trace", &path, "--from", "pod/default/client"];
    // A SYN to the Service by name reaches one of its endpoints, through its DNAT.
    let syn = out(&[&base[..], &["--to", "service/default/service1:80"]].concat());
    assert!(syn.contains("packet `pod/default/client ->"), "{syn}");
    assert!(
        syn.contains("-> DNAT: destination 10.96.100.1:80 -> 10.244."),
        "{syn}"
    );
    assert!(syn.contains("=> DELIVERED at default/downloader-"), "{syn}");
    // The whole connection with --flow, and UDP with --proto.
    let flow = out(&[
        &base[..],
        &["--to", "service/default/service1:80", "--flow"],
    ]
    .concat());
    assert!(flow.contains("=> FLOW COMPLETED"), "{flow}");
    assert!(flow.contains("SYN-ACK"), "{flow}");
    let dns = out(&[&base[..], &["--to", "10.96.0.10:53", "--proto", "udp"]].concat());
    assert!(dns.contains("UDP"), "{dns}");
    // A wrong endpoint is named by its option, with the scenario's own hint.
    let bad = kpath()
        .args([&base[..], &["--to", "service/default/servic1:80"]].concat())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--to service/default/servic1:80: unknown Service `default/servic1`"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `service/default/service1`?"),
        "{err}"
    );
    // The same run gives the same bytes (the ad-hoc packet takes the seed like any other).
    assert_eq!(
        syn,
        out(&[&base[..], &["--to", "service/default/service1:80"]].concat())
    );
}
