//! README's lesson table: every claim of a row is shown by that row's own commands. The
//! test runs each command the row gives (as a learner would copy it) and looks in the
//! output for the evidence of each claim; `!` marks what must not be there.

mod common;

use common::{kpath, scenario_path};

/// The evidence of each row's claims, by scenario.
const CLAIMS: &[(&str, &[&str])] = &[
    (
        "container-to-container",
        &[
            "loopback_xmit",
            "default/web lo",
            "=> DELIVERED at default/web",
            "!veth_xmit",
        ],
    ),
    (
        "pod-to-pod-same-node",
        &[
            "node-1 cni0            br_forward",
            "br_nf_pre_routing PREROUTING",
            "ipt_do_table filter FORWARD",
            "ICMP echo request id 43035 seq 1, ttl 64",
            "tcp_v4_send_reset",
            "=> NO LISTENER",
        ],
    ),
    (
        "pod-to-pod-cross-node",
        &[
            "flannel.1",
            "VXLAN vni 1",
            "> 8472",
            "ttl 63",
            "ttl 62",
            "vxlan_rcv",
            "len 84",
        ],
    ),
    (
        "pod-to-pod-host-gw",
        &["ip_forward", "ttl 63", "!VXLAN", "!flannel.1"],
    ),
    (
        "flannel-vxlan-options",
        &[
            "flannel.4096: ",
            "vxlan id 4096 ",
            "dstport 4789",
            "10.244.2.0/24 via 172.31.0.12 dev eth0",
            "ttl 62, len 84",
            "!vxlan_xmit",
            "4: cni0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450",
        ],
    ),
    (
        "host-network",
        &[
            "DNAT: destination 10.96.0.30:80 -> 172.31.0.11:80",
            "node-2 eth0            dev_hard_start_xmit",
            "-> masquerade",
            "172.31.0.12.",
            "ip_local_deliver",
            "=> DELIVERED at node-1 cni0",
            "sends 10.244.1.0",
            "container controller of hostNetwork pod",
        ],
    ),
    (
        "node-to-pod",
        &[
            "sends 10.244.1.0",
            "flannel.1",
            "=> DELIVERED at default/web-remote",
            "sends 10.244.1.1",
            "=> DELIVERED at default/web-local",
        ],
    ),
    (
        "tcp-mss",
        &[
            "announcing MSS 1410 (eth0's MTU 1450 - 40)",
            "response 4/4",
            "ttl 64, len 1450",
            "inner 10.244.2.7.80 > 10.244.1.2.",
            "=> FLOW COMPLETED",
            "!fragmentation needed",
        ],
    ),
    (
        "fragments",
        &[
            "default/client eth0    ip_fragment",
            "len 1444, frag",
            "len 180, frag",
            "node-1 cni0            ip_defrag",
            "node-2 cni0            ip_fragment",
            "default/server eth0    ip_defrag",
            "=> DELIVERED at default/server",
        ],
    ),
    (
        "mtu-mismatch",
        &[
            "len 4078",
            "underlay node-2-eth0   br_dev_queue_push_xmit",
            "=> DROPPED at underlay node-2-eth0",
            "!ip_fragment",
            "!icmp_send",
            "announcing MSS 8910",
            "announcing MSS 1410",
            "request 4/4",
            "=> FLOW COMPLETED",
        ],
    ),
    (
        "mtu-too-big",
        &[
            "ip_forward",
            "ICMP frag needed, mtu 1450",
            "=> FRAGMENTATION NEEDED",
        ],
    ),
    (
        "pod-to-clusterip-same-node",
        &[
            "KUBE-SERVICES",
            "KUBE-SVC-",
            "KUBE-SEP-",
            "dnat to",
            "br_forward",
            "reverse DNAT",
            "=> FLOW COMPLETED",
            "10.96.0.10.53: DNS",
            "web.default.svc.cluster.local. (47)",
            "dnat to 10.244.1.10:53",
            "10.96.0.10.53 > 10.244.1.2.",
        ],
    ),
    (
        "pod-to-clusterip-cross-node",
        &[
            "has 3 possible outcomes",
            "statistic probability 0.33333333349",
            "statistic probability 0.50000000000",
            "RELATED: an ICMP error about a packet of a known connection",
            "translation of an ICMP error",
        ],
    ),
    (
        "hairpin",
        &[
            "KUBE-MARK-MASQ",
            "mark 0x0 -> 0x4000",
            "hairpin mode is on",
            "-> masquerade",
            "10.244.1.1",
        ],
    ),
    (
        "bridge-nf-call-iptables-off",
        &["!br_nf_pre_routing", "tcp_v4_send_reset", "=> FLOW FAILED"],
    ),
    (
        "nodeport-localhost",
        &[
            "net.ipv4.conf.all.route_localnet = 1",
            "ip_route_me_harder",
            "-> masquerade",
            "=> DELIVERED at default/nginx",
            "route_localnet=0",
            "=> DROPPED at node-2",
        ],
    ),
    (
        "nginx-manifests",
        &[
            "Deployment default/nginx made 1 pod",
            "got ClusterIP 10.96.1.0",
            "got nodePort 30086",
            "listens on 80/tcp",
            "dnat to 10.244.2.2:80",
            "=> DELIVERED at default/nginx-x4ssqpvzpx-zgwkc",
            "flow `internet-to-nodeport`",
            "> 172.31.0.11.30086",
            "-> DNAT: destination 172.31.0.11:30086 -> 10.244.2.2:80",
            "-> masquerade",
        ],
    ),
    (
        "nodeport-external",
        &[
            "flow `nodeport`",
            "-> masquerade",
            "flow `local-no-endpoint`",
            "=> DROPPED",
            "flow `local-keeps-client-ip`",
            "203.0.113.10",
        ],
    ),
    (
        "loadbalancer",
        &[
            "KUBE-FW-",
            "#1 -s 203.0.113.0/25: source 203.0.113.200 is outside",
            "filter KUBE-PROXY-FIREWALL",
            "=> DROPPED",
        ],
    ),
    (
        "externalname",
        &[
            "db.example.com., A 203.0.113.20",
            "dnat to 10.244.1.10:53",
            "203.0.113.20.5432",
            "!\"shop/db",
        ],
    ),
    (
        "headless",
        &[
            "getaddrinfo",
            "NXDomain",
            "A 10.244.2.10",
            "!dnat to 10.244.2",
            "=> DELIVERED at default/cassandra-",
        ],
    ),
    ("no-endpoints-reject", &["reject", "ECONNREFUSED"]),
    (
        "terminating-endpoints",
        &[
            "`to-web` has 1 possible outcome",
            "DELIVERED at default/web-new",
            "!DELIVERED at default/web-old",
            "DELIVERED at default/legacy-0",
            "default/gone has no endpoints",
            "REJECTED",
        ],
    ),
    (
        "session-affinity",
        &[
            "has 2 possible outcomes",
            "served by default/cart-a",
            "served by default/cart-b",
            "connection 2: SYN",
            "-m recent --rcheck",
            "-m recent --set",
        ],
    ),
    (
        "pod-to-internet",
        &[
            "-> masquerade",
            "reverse SNAT",
            "=> FLOW COMPLETED",
            "example.com.default.svc.cluster.local. (55)",
            "NXDomain",
            "A 93.184.216.34",
        ],
    ),
    (
        "nftables-clusterip",
        &[
            "ip daddr . meta l4proto . th dport vmap @service-ips",
            "numgen random mod 2 vmap",
            "has 2 possible outcomes",
            "served by default/web-a",
            "served by default/web-b",
            "rejected by kube-proxy cluster-ips-check rule 1: ip daddr @cluster-ips reject",
            "dropped by kube-proxy cluster-ips-check rule 2: ip daddr 10.96.0.0/12 drop",
            "10.96.7.7 . tcp . 80 comment \"default/api\" : goto reject-chain",
            "rejected by kube-proxy reject-chain rule 1: reject",
            "ECONNREFUSED",
            "ipt_do_table filter FLANNEL-FWD",
        ],
    ),
    (
        "nftables-nodeport-local",
        &[
            "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
            "203.0.113.10.",
            "> 10.244.2.5.80",
            "nft_do_chain kube-proxy nodeport-endpoints-check #1",
            "-> drop (element tcp . 31772 comment \"default/nginx-local\")",
            "dropped by kube-proxy nodeport-endpoints-check rule 1",
            "-> continue, mark 0x0 -> 0x4000",
            "masquerading #3",
            "-> masquerade",
        ],
    ),
    (
        "nftables-session-affinity",
        &[
            "has 2 possible outcomes",
            "served by default/cart-a",
            "served by default/cart-b",
            "numgen random -> dnat to",
            "connection 2: SYN",
            "update @affinity-",
        ],
    ),
    (
        "nftables-loadbalancer",
        &[
            "nft_do_chain kube-proxy firewall-check #1",
            "-> goto firewall-E2IH552V-default/shop/tcp/http (element 203.0.113.50 .",
            "dropped by kube-proxy firewall-E2IH552V-default/shop/tcp/http rule 1",
            "=> DROPPED at node-1 eth0",
        ],
    ),
    (
        "netpol-default-deny",
        &[
            "reachability on 8080/TCP",
            "default/frontend\t.\tX\t.",
            "default/batch\tX\t.\tX",
            "ipt_do_table filter KUBE-POD-FW-",
            "=> REJECTED at node-2 cni0",
            "\"default/api reject\"",
            "denied by NetworkPolicy: default/deny-all-ingress,",
            "filter KUBE-NWPLCY-COMMON #3",
            "=> DELIVERED at default/api",
        ],
    ),
    (
        "netpol-ipblock-egress",
        &[
            "# add KUBE-SRC-FNPAYN4OWLAUJF62 10.244.1.0/24\n",
            "# add KUBE-SRC-FNPAYN4OWLAUJF62 10.244.1.8/29 nomatch",
            "\"default/db-from-block ingress cidr\"",
            "denied by NetworkPolicy: default/db-from-block isolates ingress of pod",
            "denied by NetworkPolicy: default/db-no-egress isolates egress of pod",
            "filter KUBE-NWPLCY-COMMON #2",
            "=> DELIVERED at default/db",
        ],
    ),
    (
        "netpol-allow-namespace",
        &[
            "\"prod/api-from-frontend ingress pods\" -m set --match-set KUBE-SRC-LDRRTFPQAEPDAZ7J src",
            "# add KUBE-SRC-LDRRTFPQAEPDAZ7J 10.244.1.5\n",
            "=> REJECTED at node-2 cni0",
            "denied by NetworkPolicy: prod/api-from-frontend isolates ingress of pod",
            "=> DELIVERED at prod/api",
        ],
    ),
    (
        "netpol-egress-dns",
        &[
            "-> dnat to 10.244.2.10:53 \"kube-system/kube-dns:dns\"",
            "kube-system/coredns eth0 udp_rcv",
            "=> REJECTED at node-1",
            "denied by NetworkPolicy: default/client-dns-only isolates egress of pod",
            "reachability on 53/UDP",
            "default/client\t.\tX\t.",
        ],
    ),
    (
        "ipvs-clusterip",
        &[
            "inet 10.96.100.10/32 scope global kube-ipvs0",
            "TCP  10.96.100.10:80 rr",
            "ip_local_deliver",
            "ip_vs_in_hook INPUT",
            "ip_vs_nat_xmit",
            "ttl 63",
            "ip_vs_out_hook FORWARD",
            "filter KUBE-IPVS-FILTER",
            "-> reject",
            "ip_vs_leave",
        ],
    ),
    (
        "ipvs-nodeport",
        &[
            "TCP  172.31.0.11:31771 rr",
            "TCP  10.244.1.0:31771 rr",
            "add KUBE-NODE-PORT-TCP 31771",
            "flow `local-no-endpoint` in each kube-proxy mode",
            "failed: dropped at node-1   completed",
            "-> 10.244.1.0:",
        ],
    ),
    (
        "ipvs-hairpin",
        &["-> masquerade (10.244.1.3,tcp:80,10.244.1.3 is in KUBE-LOOP-BACK)"],
    ),
    ("ingress", &["ingress", "=> DELIVERED"]),
];

#[test]
fn every_lesson_row_s_commands_show_each_of_its_claims() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let rows: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| scenario | what it teaches | watch it |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(
        rows.len() >= 20,
        "README's lesson table has {} rows",
        rows.len()
    );
    for row in rows {
        let cells: Vec<&str> = row.split(" | ").collect();
        let name = cells[0].trim_start_matches("| ").trim();
        let claims = CLAIMS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no claims listed here for README's lesson {name}"))
            .1;
        // Every `kpath ...` of the row's last cell, run as written.
        let mut out = String::new();
        let commands: Vec<&str> = cells
            .last()
            .unwrap()
            .split('`')
            .filter(|c| c.starts_with("kpath "))
            .collect();
        assert!(!commands.is_empty(), "{name}: no command");
        for c in commands {
            let args: Vec<String> = c
                .split_whitespace()
                .skip(1)
                .map(|a| {
                    match a
                        .strip_prefix("scenarios/")
                        .and_then(|f| f.strip_suffix(".yaml"))
                    {
                        Some(n) => scenario_path(n).to_string_lossy().into_owned(),
                        None => a.to_string(),
                    }
                })
                .collect();
            let o = kpath().args(&args).output().unwrap();
            // `kpath compare` exits 1 when the modes differ, which is what its lessons show.
            let differ = args[0] == "compare" && o.status.code() == Some(1);
            assert!(
                o.status.success() || differ,
                "{c}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            out.push_str(&String::from_utf8_lossy(&o.stdout));
            // What an import assumed (a manifest's allocated ClusterIP) is said on stderr.
            out.push_str(&String::from_utf8_lossy(&o.stderr));
        }
        for claim in claims {
            match claim.strip_prefix('!') {
                Some(not) => assert!(!out.contains(not), "{name}: `{not}` in its output:\n{out}"),
                None => assert!(out.contains(claim), "{name}: no `{claim}` in its output"),
            }
        }
    }
}
