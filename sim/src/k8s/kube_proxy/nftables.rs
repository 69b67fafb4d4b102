//! kube-proxy's nftables mode (`pkg/proxy/nftables`, Kubernetes v1.33; KEP-3866): the
//! `ip kube-proxy` table `syncProxyRules` writes, as the knftables transaction it sends to
//! `nft -f` (docs/design/nftables-kube-proxy.md has the sources). Its own test's expected
//! output (TestOverallNFTablesRules) is the oracle.
//!
//! The mode's [`Proxier`] loads that table into the node's nf_tables ruleset, where the
//! one walk evaluates it (engine/hooks/nftables.rs); the node keeps kubelet's and
//! flannel's iptables rules beside it, as real nodes do.

use super::iptables::{base32_std as b32, externally_accessible, local_policies};
use super::{KubeProxyRules, Provider};
use crate::cluster::{Cluster, Node, ProxyMode, SessionAffinity};
use crate::k8s::services::{ServicePortInfo, service_ports};
use crate::net::Netns;
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// kube-proxy's nftables mode: everything it programs is the `ip kube-proxy` table.
pub struct Proxier;

impl Provider for Proxier {
    fn mode(&self) -> ProxyMode {
        ProxyMode::Nftables
    }

    fn name(&self) -> &'static str {
        "nftables"
    }

    /// `nft -f` of the transaction, read by kpath's nft reader: what the node lists is
    /// what that reader makes of kube-proxy's own text. No iptables rules of its own: the
    /// iptables part is kubelet's KUBE-FIREWALL, which kubelet writes in every mode.
    fn program(&self, ns: &mut Netns, cluster: &Cluster, node: &Node) -> KubeProxyRules {
        let ips = super::iptables::nodeport_ips(ns, cluster, node);
        let text = transaction(cluster, &node.name, &ips);
        let origin = format!("<kube-proxy's nftables transaction for {}>", node.name);
        // A reader error here is a bug in the writer: kube-proxy's own test pins the text
        // and the kernel loads it (tests below); an empty ruleset would hide it, so say it.
        let ruleset = crate::netfilter::nftables::parse(&origin, &text).unwrap_or_else(|e| {
            panic!("kpath bug: kube-proxy's nftables transaction does not read back: {e}")
        });
        KubeProxyRules {
            filter: format!(":KUBE-FIREWALL - [0:0]\n{}\n", super::LOCALNET_FIREWALL),
            nat: String::new(),
            filter_jumps: vec![
                "-A INPUT -j KUBE-FIREWALL".into(),
                "-A OUTPUT -j KUBE-FIREWALL".into(),
            ],
            nat_jumps: Vec::new(),
            nft: Some(std::sync::Arc::new(ruleset)),
        }
    }

    fn node_view(&self, cluster: &Cluster, node: &Node) -> Option<String> {
        Some(super::iptables::node_view(cluster, node))
    }

    fn ipvs_view_note(&self) -> &'static str {
        "what kube-proxy would program in IPVS mode. This scenario runs nftables mode:\n# `kpath show --nft` shows its table, `kpath compare` both modes"
    }

    /// The lab loads the table with `nft -f`, as kube-proxy does.
    fn lab_refusal(&self, _kernel_has_ipvs: bool) -> Option<String> {
        None
    }
}

/// `knftables.NameLengthMax - chainNamePrefixLengthMax`.
const CHAIN_NAME_BASE_MAX: usize = 256 - 16;

/// `hashAndTruncate`: base32(sha256(name))[:8] + "-" + name, cut to 240 bytes.
pub fn hash_and_truncate(name: &str) -> String {
    let h = b32::encode(&Sha256::digest(name.as_bytes()));
    let mut out = format!("{}-{name}", &h[..8]);
    if out.len() > CHAIN_NAME_BASE_MAX {
        let mut cut = CHAIN_NAME_BASE_MAX - 3;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

/// `servicePortChainNameBase`: `ns/name/proto/portname`, hashed.
fn service_base(sp: &ServicePortInfo) -> String {
    let port = sp.port.name.as_deref().unwrap_or("");
    hash_and_truncate(&format!(
        "{}/{}/{}/{port}",
        sp.svc.namespace,
        sp.svc.name,
        sp.protocol()
    ))
}

/// `servicePortEndpointChainNameBase`: `ns/name/proto/portname__ip/port`, hashed.
fn endpoint_base(sp: &ServicePortInfo, ip: Ipv4Addr, port: u16) -> String {
    let name = sp.port.name.as_deref().unwrap_or("");
    hash_and_truncate(&format!(
        "{}/{}/{}/{name}__{ip}/{port}",
        sp.svc.namespace,
        sp.svc.name,
        sp.protocol()
    ))
}

/// The transaction text, line by line.
#[derive(Default)]
struct Tx(String);

impl Tx {
    fn line(&mut self, l: impl AsRef<str>) {
        self.0.push_str(l.as_ref());
        self.0.push('\n');
    }
    fn chain(&mut self, name: &str) {
        self.line(format!("add chain ip kube-proxy {name}"));
    }
    fn rule(&mut self, chain: &str, rule: impl AsRef<str>) {
        self.line(format!("add rule ip kube-proxy {chain} {}", rule.as_ref()));
    }
    fn element(&mut self, set: &str, el: impl AsRef<str>) {
        self.line(format!(
            "add element ip kube-proxy {set} {{ {} }}",
            el.as_ref()
        ));
    }

    /// The transaction in an order `nft -f` accepts: nft resolves a jump, a goto or an
    /// element's chain when it reads it, so the table, then every chain, set and map, are
    /// declared before any rule or element (the order of the rest, and so of each chain's
    /// rules, is kept).
    fn text(self) -> String {
        let rank = |l: &&str| {
            if l.starts_with("add table ") {
                0
            } else if l.starts_with("add chain ")
                || l.starts_with("add set ")
                || l.starts_with("add map ")
            {
                1
            } else {
                2
            }
        };
        let mut lines: Vec<&str> = self.0.lines().collect();
        lines.sort_by_key(rank);
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }
}

/// `nftablesBaseChains` (v1.33): name, type, hook, priority as knftables emits it.
const BASE_CHAINS: [(&str, &str, &str, i32); 8] = [
    ("filter-prerouting", "filter", "prerouting", -110),
    ("filter-input", "filter", "input", -110),
    ("filter-forward", "filter", "forward", -110),
    ("filter-output", "filter", "output", -110),
    ("filter-output-post-dnat", "filter", "output", -90),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
];

/// `nftablesJumpChains`: (destination, from, condition), in order.
const JUMPS: [(&str, &str, &str); 11] = [
    ("nodeport-endpoints-check", "filter-input", "ct state new "),
    ("service-endpoints-check", "filter-input", "ct state new "),
    ("service-endpoints-check", "filter-forward", "ct state new "),
    ("service-endpoints-check", "filter-output", "ct state new "),
    ("firewall-check", "filter-prerouting", "ct state new "),
    ("firewall-check", "filter-output", "ct state new "),
    ("services", "nat-output", ""),
    ("services", "nat-prerouting", ""),
    ("masquerading", "nat-postrouting", ""),
    ("cluster-ips-check", "filter-forward", "ct state new "),
    (
        "cluster-ips-check",
        "filter-output-post-dnat",
        "ct state new ",
    ),
];

/// `setupNFTables` and `syncProxyRules` for node `node`, whose NodePort addresses are
/// `nodeports` (read when nodePortAddresses is given): the whole `ip kube-proxy` table.
pub fn transaction(cluster: &Cluster, node: &str, nodeports: &[Ipv4Addr]) -> String {
    let kp = &cluster.kube_proxy;
    let match_all = kp.node_port_addresses.match_all();
    let pods = cluster.cluster_cidr().network();
    let mut tx = Tx::default();
    tx.line("add table ip kube-proxy { comment \"rules for kube-proxy\" ; }");
    for (name, kind, hook, prio) in BASE_CHAINS {
        tx.line(format!(
            "add chain ip kube-proxy {name} {{ type {kind} hook {hook} priority {prio} ; }}"
        ));
    }
    for (dst, from, cond) in JUMPS {
        tx.rule(from, format!("{cond}jump {dst}"));
    }
    // The masquerade mark, bit 14 (`fmt.Sprintf("%#08x", 1<<14)`).
    let mark = "0x004000";
    tx.chain("mark-for-masquerade");
    tx.rule("mark-for-masquerade", format!("mark set mark or {mark}"));
    tx.chain("masquerading");
    tx.rule("masquerading", format!("mark and {mark} == 0 return"));
    tx.rule("masquerading", format!("mark set mark xor {mark}"));
    // Always fully-random in this mode (nftables has it everywhere; the iptables mode asks
    // whether iptables does).
    tx.rule("masquerading", "masquerade fully-random");

    tx.line(
        "add set ip kube-proxy cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" ; }",
    );
    tx.chain("cluster-ips-check");
    tx.rule(
        "cluster-ips-check",
        "ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"",
    );
    tx.rule(
        "cluster-ips-check",
        format!(
            "ip daddr {{ {} }} drop comment \"Drop traffic to unallocated ClusterIPs\"",
            cluster.network.service_cidr.network()
        ),
    );
    for (name, ty, comment) in [
        (
            "no-endpoint-services",
            "ipv4_addr . inet_proto . inet_service",
            "vmap to drop or reject packets to services with no endpoints",
        ),
        (
            "no-endpoint-nodeports",
            "inet_proto . inet_service",
            "vmap to drop or reject packets to service nodeports with no endpoints",
        ),
        (
            "firewall-ips",
            "ipv4_addr . inet_proto . inet_service",
            "destinations that are subject to LoadBalancerSourceRanges",
        ),
        (
            "service-ips",
            "ipv4_addr . inet_proto . inet_service",
            "ClusterIP, ExternalIP and LoadBalancer IP traffic",
        ),
        (
            "service-nodeports",
            "inet_proto . inet_service",
            "NodePort traffic",
        ),
    ] {
        tx.line(format!(
            "add map ip kube-proxy {name} {{ type {ty} : verdict ; comment \"{comment}\" ; }}"
        ));
    }
    tx.line("add chain ip kube-proxy reject-chain { comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }");
    tx.rule("reject-chain", "reject");
    tx.chain("firewall-check");
    tx.rule(
        "firewall-check",
        "ip daddr . meta l4proto . th dport vmap @firewall-ips",
    );
    tx.chain("services");
    tx.rule(
        "services",
        "ip daddr . meta l4proto . th dport vmap @service-ips",
    );
    tx.chain("service-endpoints-check");
    tx.rule(
        "service-endpoints-check",
        "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
    );
    tx.chain("nodeport-endpoints-check");
    if match_all {
        // Localhost NodePorts are not supported in nftables mode.
        tx.rule("services", "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports");
        tx.rule(
            "nodeport-endpoints-check",
            "ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports",
        );
    } else {
        tx.line("add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ; }");
        tx.rule(
            "services",
            "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
        );
        tx.rule(
            "nodeport-endpoints-check",
            "ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
        );
        for ip in nodeports.iter().filter(|ip| !ip.is_loopback()) {
            tx.element("nodeport-ips", ip.to_string());
        }
    }

    let node_ip = cluster.nodes.iter().find(|n| n.name == node).map(|n| n.ip);
    for sp in service_ports(cluster) {
        service_port(
            &mut tx,
            &sp,
            node,
            node_ip,
            &pods.to_string(),
            kp.masquerade_all,
        );
    }
    tx.text()
}

/// The per-service-port part of `syncProxyRules`.
fn service_port(
    tx: &mut Tx,
    sp: &ServicePortInfo,
    node: &str,
    node_ip: Option<Ipv4Addr>,
    pods: &str,
    masquerade_all: bool,
) {
    let svc = sp.svc;
    let Some(cluster_ip) = svc.cluster_ip() else {
        return;
    };
    let proto = sp.protocol();
    let port = sp.port.port;
    let name = &sp.name;
    let base = service_base(sp);
    let (cluster_chain, local_chain) = (format!("service-{base}"), format!("local-{base}"));
    let (external_chain, fw_chain) = (format!("external-{base}"), format!("firewall-{base}"));

    // CategorizeEndpoints.
    let (itp_local, etp_local) = local_policies(sp);
    let accessible = externally_accessible(sp);
    let ready = &sp.endpoints;
    let (all_cluster, all_local) = crate::k8s::services::categorize(ready, node);
    let uses_cluster = !itp_local || accessible;
    let uses_local = itp_local || etp_local;
    let cluster_eps: Vec<usize> = if uses_cluster {
        all_cluster
    } else {
        Vec::new()
    };
    let local_eps: Vec<usize> = if uses_local { all_local } else { Vec::new() };
    let has_endpoints = !ready.is_empty();
    let has_internal = has_endpoints && (!itp_local || !local_eps.is_empty());
    let has_external = has_endpoints && (!etp_local || !local_eps.is_empty());
    let internal_chain = if itp_local {
        &local_chain
    } else {
        &cluster_chain
    };
    let external_policy = if etp_local {
        &local_chain
    } else {
        &cluster_chain
    };
    let uses_external_chain = has_endpoints && accessible;
    let reject = "goto reject-chain".to_string();
    let internal_verdict = if !has_endpoints {
        Some(reject.clone())
    } else if !has_internal {
        Some("drop".into())
    } else {
        None
    };
    let external_verdict = if !has_endpoints {
        Some(reject)
    } else if !has_external {
        Some("drop".into())
    } else {
        None
    };

    let key = |ip: &dyn std::fmt::Display, port: u16| format!("{ip} . {proto} . {port}");
    tx.element("cluster-ips", cluster_ip.to_string());
    match &internal_verdict {
        None => tx.element(
            "service-ips",
            format!("{} : goto {internal_chain}", key(&cluster_ip, port)),
        ),
        Some(v) => tx.element(
            "no-endpoint-services",
            format!("{} comment \"{name}\" : {v}", key(&cluster_ip, port)),
        ),
    }
    for ip in &svc.external_ips {
        if uses_external_chain {
            tx.element(
                "service-ips",
                format!("{} : goto {external_chain}", key(ip, port)),
            );
        }
        if let Some(v) = &external_verdict {
            tx.element(
                "no-endpoint-services",
                format!("{} comment \"{name}\" : {v}", key(ip, port)),
            );
        }
    }
    let uses_fw = svc.load_balancer_ip.is_some() && !svc.load_balancer_source_ranges.is_empty();
    if let Some(ip) = &svc.load_balancer_ip {
        if uses_external_chain {
            tx.element(
                "service-ips",
                format!("{} : goto {external_chain}", key(ip, port)),
            );
        }
        if uses_fw {
            tx.element(
                "firewall-ips",
                format!("{} : goto {fw_chain}", key(ip, port)),
            );
        }
        if let Some(v) = &external_verdict {
            tx.element(
                "no-endpoint-services",
                format!("{} comment \"{name}\" : {v}", key(ip, port)),
            );
        }
    }
    if let Some(np) = sp.node_port() {
        if uses_external_chain {
            tx.element(
                "service-nodeports",
                format!("{proto} . {np} : goto {external_chain}"),
            );
        }
        if let Some(v) = &external_verdict {
            tx.element(
                "no-endpoint-nodeports",
                format!("{proto} . {np} comment \"{name}\" : {v}"),
            );
        }
    }

    // Endpoint chains exist for every locally reachable endpoint.
    let mut reachable: Vec<usize> = cluster_eps.iter().chain(&local_eps).copied().collect();
    reachable.sort_by_key(|&i| ready[i].addr());
    reachable.dedup_by_key(|i| ready[*i].addr());
    let ep_base = |i: usize| endpoint_base(sp, ready[i].ip, ready[i].port);
    let affinity =
        (svc.session_affinity == SessionAffinity::ClientIP).then_some(svc.session_affinity_timeout);
    if let Some(t) = affinity {
        for &i in &reachable {
            tx.line(format!("add set ip kube-proxy affinity-{} {{ type ipv4_addr ; flags dynamic,timeout ; timeout {t}s ; }}", ep_base(i)));
        }
    }
    // The policy chains, with the ClusterIP masquerade rule first in the internal one.
    for (chain, eps) in [(&cluster_chain, &cluster_eps), (&local_chain, &local_eps)] {
        if eps.is_empty() {
            continue;
        }
        tx.chain(chain);
        if chain == internal_chain && has_internal {
            let from = if masquerade_all {
                String::new()
            } else {
                format!(" ip saddr != {pods}")
            };
            tx.rule(
                chain,
                format!(
                    "ip daddr {cluster_ip} {proto} dport {port}{from} jump mark-for-masquerade"
                ),
            );
        }
        if affinity.is_some() {
            for &i in eps {
                let b = ep_base(i);
                tx.rule(chain, format!("ip saddr @affinity-{b} goto endpoint-{b}"));
            }
        }
        let mut arms = String::new();
        for (k, &i) in eps.iter().enumerate() {
            if k > 0 {
                arms.push_str(" , ");
            }
            let _ = write!(arms, "{k} : goto endpoint-{}", ep_base(i));
        }
        tx.rule(
            chain,
            format!("numgen random mod {} vmap {{ {arms} }}", eps.len()),
        );
    }
    if uses_external_chain {
        tx.chain(&external_chain);
        if !etp_local {
            tx.rule(&external_chain, "jump mark-for-masquerade");
        } else {
            tx.rule(
                &external_chain,
                format!(
                    "ip saddr {pods} goto {cluster_chain} comment \"short-circuit pod traffic\""
                ),
            );
            tx.rule(&external_chain, "fib saddr type local jump mark-for-masquerade comment \"masquerade local traffic\"");
            tx.rule(&external_chain, format!("fib saddr type local goto {cluster_chain} comment \"short-circuit local traffic\""));
        }
        if has_external {
            tx.rule(&external_chain, format!("goto {external_policy}"));
        }
    }
    if uses_fw {
        // A node inside a source range may reach the LB IP from itself: allow those too.
        let mut sources: Vec<String> = svc
            .load_balancer_source_ranges
            .iter()
            .map(|r| r.network().to_string())
            .collect();
        if svc
            .load_balancer_source_ranges
            .iter()
            .any(|r| node_ip.is_some_and(|ip| r.contains(ip)))
        {
            sources.extend(svc.load_balancer_ip.iter().map(|i| i.to_string()));
        }
        tx.chain(&fw_chain);
        tx.rule(
            &fw_chain,
            format!("ip saddr != {{ {} }} drop", sources.join(" , ")),
        );
    }
    for &i in &reachable {
        let b = ep_base(i);
        let ep = &ready[i];
        let chain = format!("endpoint-{b}");
        tx.chain(&chain);
        tx.rule(
            &chain,
            format!("ip saddr {} jump mark-for-masquerade", ep.ip),
        );
        if affinity.is_some() {
            tx.rule(&chain, format!("update @affinity-{b} {{ ip saddr }}"));
        }
        tx.rule(
            &chain,
            format!("meta l4proto {proto} dnat to {}", ep.addr()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netfilter::nftables::{self, Ruleset};

    #[test]
    fn chain_names_hash_as_kube_proxy_does() {
        assert_eq!(
            hash_and_truncate("ns1/svc1/tcp/p80"),
            "ULMVA6XW-ns1/svc1/tcp/p80"
        );
        assert_eq!(
            hash_and_truncate("ns1/svc1/tcp/p80__10.180.0.1/80"),
            "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
        );
        assert_eq!(
            hash_and_truncate("ns5/svc5/tcp/p80__10.180.0.3/80"),
            "GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"
        );
        let long = "x".repeat(300);
        let h = hash_and_truncate(&long);
        assert_eq!(h.len(), 240);
        assert!(h.ends_with("..."));
    }

    fn overall() -> String {
        overall_with("nodePortAddresses: [192.168.0.2/32]")
    }

    /// The test's cluster with `kube_proxy` settings added.
    fn overall_with(kube_proxy: &str) -> String {
        let yaml = include_str!("../testdata/kube_proxy_overall.yaml")
            .replace("nfacct: true}", &format!("nfacct: true, {kube_proxy}}}"));
        // Deserialized without validation: the test's endpoints sit outside any node CIDR.
        let s: crate::scenario::Scenario = serde_saphyr::from_str(&yaml).unwrap();
        transaction(s.model(), "test-node", &["192.168.0.2".parse().unwrap()])
    }

    /// The kernel takes the transaction as written (`nft -f` resolves every chain it meets)
    /// and lists the very ruleset it listed for kube-proxy's own expected transaction.
    /// Needs root and nft; says SKIPPED otherwise.
    #[test]
    fn the_kernel_loads_it_and_lists_kube_proxys_ruleset() {
        use std::process::Command;
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        });
        if !root || Command::new("nft").arg("--version").output().is_err() {
            eprintln!("SKIPPED: needs root and nft");
            return;
        }
        let ns = format!("kpath-nft-{}", std::process::id());
        let run = |args: &[&str], stdin: Option<&str>| {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns]).args(args);
            c.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = c.spawn().unwrap();
            if let Some(text) = stdin {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
            }
            child.wait_with_output().unwrap()
        };
        assert!(
            Command::new("ip")
                .args(["netns", "add", &ns])
                .status()
                .unwrap()
                .success()
        );
        // Every node address takes NodePorts (the default): `fib daddr type local`.
        let all = run(
            &["nft", "-f", "-"],
            Some(&overall_with("masqueradeAll: true")),
        );
        let _ = run(&["nft", "flush", "ruleset"], None);
        let loaded = run(&["nft", "-f", "-"], Some(&overall()));
        let listed = run(&["nft", "list", "ruleset"], None);
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        assert!(
            all.status.success(),
            "{}",
            String::from_utf8_lossy(&all.stderr)
        );
        assert!(
            loaded.status.success(),
            "{}",
            String::from_utf8_lossy(&loaded.stderr)
        );
        let sorted = |t: &str| {
            let mut l: Vec<String> = t.lines().map(str::to_string).collect();
            l.sort();
            l
        };
        let expected = include_str!("../../../../tests/fixtures/nft/kube-proxy-v1.33-overall.list");
        assert_eq!(
            sorted(&String::from_utf8_lossy(&listed.stdout)),
            sorted(expected)
        );
    }

    /// kube-proxy's packet-flow tests, the way its test tracer follows a packet from
    /// outside or from a pod (helpers_test.go `tracePacket`): filter-prerouting, then
    /// nat-prerouting (DNAT), then filter-input or filter-forward with the DNATed
    /// destination; masquerade
    /// when the 0x4000 mark is set. Each outcome: `ip:port` (with ` masq`), `REJECT` or
    /// `DROP`, and its probability.
    fn flow(
        rs: &Ruleset,
        src: &str,
        dst: &str,
        dport: u16,
        sets: &nftables::eval::DynamicSets,
    ) -> Vec<(String, f64)> {
        use nftables::eval::{Final, Packet, walk_chain};
        let t = &rs.tables[0];
        let pkt = Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto: crate::wire::IpProtocol::Tcp,
            sport: Some(40000),
            dport: Some(dport),
            mark: 0,
            iifname: Some("eth0".into()),
            oifname: None,
            ct_state: "new",
            ct_status: Vec::new(),
            ct_mark: 0,
            ct_reply: false,
            local: vec!["192.168.0.2".parse().unwrap()],
            redirect_addr: None,
        };
        let word = |f: &Final| match f {
            Final::Drop => Some("DROP".to_string()),
            Final::Reject(_) => Some("REJECT".to_string()),
            Final::Accept => None,
        };
        let mut out = Vec::new();
        for pre in walk_chain(t, "filter-prerouting", &pkt, sets) {
            if let Some(w) = word(&pre.verdict) {
                out.push((w, pre.probability));
                continue;
            }
            for nat in walk_chain(
                t,
                "nat-prerouting",
                &Packet {
                    mark: pre.mark,
                    ..pkt.clone()
                },
                sets,
            ) {
                let mut fwd = Packet {
                    mark: nat.mark,
                    ..pkt.clone()
                };
                if let Some(crate::netfilter::eval::NatAction::Dnat { addr, port, .. }) = nat.nat {
                    fwd.dst = addr;
                    fwd.dport = port.or(fwd.dport);
                }
                // Input routing: to the node itself (filter-input) or on (filter-forward).
                let next = if fwd.local.contains(&fwd.dst) {
                    "filter-input"
                } else {
                    "filter-forward"
                };
                for f in walk_chain(t, next, &fwd, sets) {
                    let p = pre.probability * nat.probability * f.probability;
                    match word(&f.verdict) {
                        Some(w) => out.push((w, p)),
                        None if nat.nat.is_some() => {
                            let masq = if f.mark & 0x4000 != 0 { " masq" } else { "" };
                            out.push((format!("{}:{}{masq}", fwd.dst, fwd.dport.unwrap_or(0)), p));
                        }
                        None => out.push((String::new(), p)),
                    }
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn packets_take_the_paths_kube_proxys_own_flow_tests_expect() {
        let rs = nftables::parse("overall", &overall()).unwrap();
        let none = Default::default();
        let go = |src: &str, dst: &str, port: u16| flow(&rs, src, dst, port, &none);
        let one = |s: &str| vec![(s.to_string(), 1.0)];
        // ClusterIP from a pod, and hairpin from the endpoint itself (masqueraded).
        assert_eq!(go("10.0.0.2", "172.30.0.41", 80), one("10.180.0.1:80"));
        assert_eq!(
            go("10.180.0.1", "172.30.0.41", 80),
            one("10.180.0.1:80 masq")
        );
        // Two endpoints: numgen random mod 2, one half each.
        assert_eq!(
            go("10.0.0.2", "172.30.0.44", 80),
            vec![("10.180.0.4:80".into(), 0.5), ("10.180.0.5:80".into(), 0.5)]
        );
        // No endpoints: REJECT; a ClusterIP's other port: REJECT; an unallocated one: DROP.
        assert_eq!(go("10.0.0.2", "172.30.0.46", 80), one("REJECT"));
        assert_eq!(go("10.0.0.2", "172.30.0.41", 443), one("REJECT"));
        assert_eq!(go("10.0.0.2", "172.30.0.50", 80), one("DROP"));
        // LoadBalancerSourceRanges 203.0.113.0/25 on svc5's 5.6.7.8: inside passes (and is
        // masqueraded: eTP Cluster), outside is dropped before DNAT; the NodePort is open.
        assert_eq!(go("203.0.113.2", "5.6.7.8", 80), one("10.180.0.3:80 masq"));
        assert_eq!(go("203.0.113.130", "5.6.7.8", 80), one("DROP"));
        assert_eq!(
            go("203.0.113.130", "192.168.0.2", 3002),
            one("10.180.0.3:80 masq")
        );
        // eTP Local without a local endpoint: outside traffic is dropped, a pod's
        // short-circuits to the cluster-wide endpoints.
        assert_eq!(go("203.0.113.2", "1.2.3.4", 80), one("DROP"));
        assert_eq!(go("203.0.113.2", "192.168.0.2", 3001), one("DROP"));
        assert_eq!(go("10.0.0.2", "1.2.3.4", 80), one("10.180.0.2:80"));
        // Not a Service address at all: untouched.
        assert_eq!(go("10.0.0.2", "8.8.8.8", 53), one(""));
    }

    #[test]
    fn client_ip_affinity_follows_the_dynamic_set() {
        let rs = nftables::parse("overall", &overall()).unwrap();
        let t = &rs.tables[0];
        let set = "affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80";
        let pkt = nftables::eval::Packet {
            src: "10.0.0.9".parse().unwrap(),
            dst: "172.30.0.45".parse().unwrap(),
            proto: crate::wire::IpProtocol::Tcp,
            sport: Some(40000),
            dport: Some(80),
            mark: 0,
            iifname: None,
            oifname: None,
            ct_state: "new",
            ct_status: Vec::new(),
            ct_mark: 0,
            ct_reply: false,
            local: Vec::new(),
            redirect_addr: None,
        };
        // First packet: the numgen pick, and the endpoint chain records the client.
        let first = nftables::eval::walk_chain(t, "nat-prerouting", &pkt, &Default::default());
        assert_eq!(first.len(), 1);
        assert_eq!(
            first[0].updates,
            vec![(
                set.to_string(),
                vec![crate::netfilter::nftables::expr::Value::Addr(pkt.src)]
            )]
        );
        assert!(first[0].hits.iter().any(|h| {
            h.action.describe().starts_with("verdict goto endpoint-")
                && h.chain.starts_with("service-")
        }));
        // Once the client is in the set, the affinity rule sends it straight to its endpoint.
        let mut sets = nftables::eval::DynamicSets::default();
        sets.insert(
            set.to_string(),
            first[0].updates.iter().map(|(_, k)| k.clone()).collect(),
        );
        let again = nftables::eval::walk_chain(t, "nat-prerouting", &pkt, &sets);
        let via = again[0]
            .hits
            .iter()
            .find(|h| h.chain.starts_with("service-"))
            .unwrap();
        assert_eq!(
            (via.position, via.action.describe().as_str()),
            (
                2,
                "verdict goto endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"
            )
        );
        assert_eq!(
            again[0].hits.iter().find_map(|h| h.action.dnat_to()),
            Some("10.180.0.3:80")
        );
    }

    /// kube-proxy v1.33's TestOverallNFTablesRules: the same Services and endpoints give
    /// the same table, chain by chain and element by element.
    #[test]
    fn reproduces_kube_proxys_overall_nftables_rules_test() {
        let ours = overall();
        let expected = include_str!("../../../../tests/fixtures/nft/kube-proxy-v1.33-overall.nft");
        let ours_rs = nftables::parse("ours", &ours).unwrap_or_else(|e| panic!("{e}\n{ours}"));
        let want = nftables::parse("expected", expected).unwrap();
        let (a, b) = (ours_rs.unordered(), want.unordered());
        for (ca, cb) in a.tables[0].chains.iter().zip(&b.tables[0].chains) {
            assert_eq!(
                nftables::print::rule_lines(ca),
                nftables::print::rule_lines(cb),
                "chain {}",
                cb.name
            );
        }
        let names = |r: &Ruleset| -> Vec<String> {
            r.tables[0].chains.iter().map(|c| c.name.clone()).collect()
        };
        assert_eq!(names(&a), names(&b));
        for (sa, sb) in a.tables[0].sets.iter().zip(&b.tables[0].sets) {
            assert_eq!(sa, sb, "set {}", sb.name);
        }
        assert_eq!(a, b);
    }
}
