//! kube-proxy in iptables mode (`pkg/proxy/iptables/proxier.go`, v1.30-era): the rules of
//! one node, written the way `syncProxyRules` writes them (its iptables-restore input), so
//! that loading them through kpath's iptables-restore reader gives exactly what
//! `iptables-save` shows on a real node. Services are taken in name order (kube-proxy's
//! own order is Go map order, i.e. random; its tests sort the same way). [`Proxier`] is the
//! mode's controller; [`rules`] writes the payload, one function per step of the
//! per-service loop.

use super::{KubeProxyRules, LOCALNET_FIREWALL, Provider};
use crate::cluster::{Cluster, Node, ProxyMode, Service, SessionAffinity, TrafficPolicy};
use crate::k8s::services::{Endpoint, ServicePortInfo, service_ports};
use crate::net::Netns;
use base32_std as b32;
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// kube-proxy's iptables mode: everything it programs on a node is iptables rules.
pub struct Proxier;

impl Provider for Proxier {
    fn mode(&self) -> ProxyMode {
        ProxyMode::Iptables
    }

    fn name(&self) -> &'static str {
        "iptables"
    }

    fn program(&self, ns: &mut Netns, cluster: &Cluster, node: &Node) -> KubeProxyRules {
        rules(cluster, &node.name, &nodeport_ips(ns, cluster, node))
    }

    fn node_view(&self, cluster: &Cluster, node: &Node) -> Option<String> {
        Some(node_view(cluster, node))
    }

    fn ipvs_view_note(&self) -> &'static str {
        "what kube-proxy would program in IPVS mode. This scenario runs iptables mode:\n# add `kubeProxy: {mode: ipvs}` to walk packets through IPVS, or see both with `kpath compare`"
    }

    /// The lab builds iptables mode: its rules are what `iptables-restore` loads there.
    fn lab_refusal(&self, _kernel_has_ipvs: bool) -> Option<String> {
        None
    }
}

/// The node's addresses NodePorts answer on (`GetNodeIPs` over its interfaces, in their
/// order), for nodePortAddresses.
pub fn nodeport_ips(ns: &Netns, cluster: &Cluster, node: &Node) -> Vec<Ipv4Addr> {
    let addrs: Vec<Ipv4Addr> = ns
        .links
        .iter()
        .flat_map(|l| &l.addrs)
        .map(|a| a.addr)
        .collect();
    cluster
        .kube_proxy
        .node_port_addresses
        .node_ips(&addrs, node.ip)
}

/// `portProtoHash`: the first 16 characters of base32(sha256(servicePortName + protocol)).
pub fn port_proto_hash(svc_port_name: &str, protocol: &str) -> String {
    b32::encode(&Sha256::digest(
        format!("{svc_port_name}{protocol}").as_bytes(),
    ))[..16]
        .to_string()
}

/// `servicePortEndpointChainName`: KUBE-SEP- + base32(sha256(name + protocol + "ip:port")).
pub fn sep_chain(svc_port_name: &str, protocol: &str, endpoint: &str) -> String {
    let h = b32::encode(&Sha256::digest(
        format!("{svc_port_name}{protocol}{endpoint}").as_bytes(),
    ));
    format!("KUBE-SEP-{}", &h[..16])
}

/// `%0.10f` of 1/n, as kube-proxy's computeProbability writes it.
fn probability(n: usize) -> String {
    format!("{:.10}", 1.0 / n as f64)
}

/// Quote a comment as kube-proxy does: with double quotes when it has spaces.
fn comment(c: &str) -> String {
    if c.contains(' ') {
        format!("\"{c}\"")
    } else {
        c.to_string()
    }
}

/// One table of the restore payload: chain declarations and rules, kept apart (kube-proxy
/// writes them into separate buffers and concatenates them).
#[derive(Default)]
struct Buf {
    /// Chains in the order they were first declared (the order `:CHAIN` lines print in).
    chains: Vec<String>,
    /// The same names, to declare each once without scanning the list (kube-proxy's
    /// `natChains` buffer is written once per chain the same way).
    declared: rustc_hash::FxHashSet<String>,
    /// The `-A` lines, each ending in a newline.
    rules: String,
}

impl Buf {
    fn chain(&mut self, name: &str) {
        if !self.declared.contains(name) {
            self.declared.insert(name.to_string());
            self.chains.push(name.to_string());
        }
    }
    fn rule(&mut self, r: String) {
        self.rules.push_str(&r);
        self.rules.push('\n');
    }
    fn text(&self) -> String {
        // Sized once: a node's nat table is tens of megabytes at 10,000 Services.
        let len = self.chains.iter().map(|c| c.len() + 10).sum::<usize>() + self.rules.len();
        let mut s = String::with_capacity(len);
        for c in &self.chains {
            let _ = writeln!(s, ":{c} - [0:0]");
        }
        s.push_str(&self.rules);
        s
    }
}

/// The built-in chain jumps (`iptablesJumpChains`), in the order they end up after
/// kube-proxy prepends each one (the reverse of its list), plus kubelet's KUBE-FIREWALL.
fn jumps() -> (Vec<String>, Vec<String>) {
    let ct_new = "-m conntrack --ctstate NEW ";
    let filter = vec![
        format!(
            "-A INPUT {ct_new}-m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
        ),
        "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS"
            .to_string(),
        format!(
            "-A INPUT {ct_new}-m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"
        ),
        "-A INPUT -j KUBE-FIREWALL".to_string(),
        format!(
            "-A FORWARD {ct_new}-m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
        ),
        "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"
            .to_string(),
        format!(
            "-A FORWARD {ct_new}-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
        ),
        format!(
            "-A FORWARD {ct_new}-m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"
        ),
        format!(
            "-A OUTPUT {ct_new}-m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
        ),
        format!(
            "-A OUTPUT {ct_new}-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
        ),
        "-A OUTPUT -j KUBE-FIREWALL".to_string(),
    ];
    let nat = vec![
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
            .to_string(),
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
            .to_string(),
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
            .to_string(),
    ];
    (filter, nat)
}

/// What `rules` reads of `node`: for each Service port that uses node-local endpoints (a
/// Local traffic policy), which of its ready endpoints are on the node; and the node's IP
/// when some Service has loadBalancerSourceRanges (its firewall chain lets the node's own
/// requests through when a range holds it). Nothing else in the rules depends on the node.
pub fn node_view(cluster: &Cluster, node: &Node) -> String {
    let ports = service_ports(cluster);
    let mut view = String::new();
    // nodePortAddresses given: the NodePort rules name the node's own addresses.
    if !cluster.kube_proxy.node_port_addresses.match_all() {
        let _ = write!(view, "nodeports {} {};", node.ip, node.pod_cidr);
    }
    if ports
        .iter()
        .any(|sp| !sp.svc.load_balancer_source_ranges.is_empty())
    {
        let _ = write!(view, "ip {};", node.ip);
    }
    for (i, sp) in ports.iter().enumerate() {
        let (itp_local, etp_local) = local_policies(sp);
        if itp_local || etp_local {
            let _ = write!(view, "{i}:");
            for (j, e) in sp.endpoints.iter().enumerate() {
                if e.node == node.name {
                    let _ = write!(view, "{j},");
                }
            }
            view.push(';');
        }
    }
    view
}

/// Whether a Service is reachable from outside the cluster: a NodePort, external IPs or a
/// load balancer IP (`ExternallyAccessible`).
pub(super) fn externally_accessible(sp: &ServicePortInfo) -> bool {
    let svc = sp.svc;
    sp.node_port().is_some() || !svc.external_ips.is_empty() || svc.load_balancer_ip.is_some()
}

/// `CategorizeEndpoints`' two questions: does the Service port use the node's own endpoints
/// for traffic from inside the cluster (internalTrafficPolicy Local), and for traffic from
/// outside (externalTrafficPolicy Local, for a Service reachable from outside)?
pub(super) fn local_policies(sp: &ServicePortInfo) -> (bool, bool) {
    let svc = sp.svc;
    (
        svc.internal_traffic_policy == TrafficPolicy::Local,
        externally_accessible(sp) && svc.external_traffic_policy == TrafficPolicy::Local,
    )
}

/// `syncProxyRules` for one node; `nodeports` are its addresses NodePorts answer on (read
/// only when nodePortAddresses is given).
pub fn rules(cluster: &Cluster, node: &str, nodeports: &[Ipv4Addr]) -> KubeProxyRules {
    let kp = &cluster.kube_proxy;
    let cluster_cidr = cluster.cluster_cidr().network();
    let mut filter = Buf::default();
    let mut nat = Buf::default();
    for c in [
        "KUBE-SERVICES",
        "KUBE-EXTERNAL-SERVICES",
        "KUBE-FORWARD",
        "KUBE-NODEPORTS",
        "KUBE-PROXY-FIREWALL",
    ] {
        filter.chain(c);
    }
    for c in [
        "KUBE-SERVICES",
        "KUBE-NODEPORTS",
        "KUBE-POSTROUTING",
        "KUBE-MARK-MASQ",
    ] {
        nat.chain(c);
    }
    for r in super::masquerade_rules(kp.random_fully) {
        nat.rule(r);
    }
    // localhostNodePorts (default true, IPv4): block martian localnet traffic.
    filter.chain("KUBE-FIREWALL");
    filter.rule(LOCALNET_FIREWALL.into());

    let node_ip = cluster.nodes.iter().find(|n| n.name == node).map(|n| n.ip);
    for sp in service_ports(cluster) {
        service_port_rules(
            &sp,
            (node, node_ip),
            &cluster_cidr.to_string(),
            kp,
            &mut filter,
            &mut nat,
        );
    }

    // The tail call to KUBE-NODEPORTS: every LOCAL address, or each NodePort address.
    // Localhost NodePorts need route_localnet: without localhostNodePorts they are left
    // out (`! -d 127.0.0.0/8`, or the loopback address skipped).
    let tail = "-m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
    let npa = &kp.node_port_addresses;
    if npa.match_all() {
        let not_lo = if kp.localhost_node_ports {
            ""
        } else {
            "! -d 127.0.0.0/8 "
        };
        nat.rule(format!(
            "-A KUBE-SERVICES {not_lo}{tail} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
        ));
    } else {
        for ip in nodeports {
            if ip.is_loopback() && !kp.localhost_node_ports {
                continue;
            }
            nat.rule(format!(
                "-A KUBE-SERVICES -d {ip}/32 {tail} -j KUBE-NODEPORTS"
            ));
        }
    }
    let nfacct = if kp.nfacct {
        "-m nfacct --nfacct-name ct_state_invalid_dropped_pkts "
    } else {
        ""
    };
    filter.rule(format!(
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID {nfacct}-j DROP"
    ));
    for r in super::forward_accept_rules() {
        filter.rule(r);
    }
    let (filter_jumps, nat_jumps) = jumps();
    KubeProxyRules {
        filter: filter.text(),
        nat: nat.text(),
        filter_jumps,
        nat_jumps,
        nft: None,
    }
}

/// An endpoint with the names kube-proxy gives it (`endpointInfo`'s cached chain name).
struct Ep<'a> {
    ep: &'a Endpoint,
    /// `ip:port`.
    addr: String,
    /// Its KUBE-SEP- chain.
    sep: String,
}

/// One Service port as the per-service loop of `syncProxyRules` sees it before it writes
/// anything: its chains, its addresses, and what `CategorizeEndpoints` made of its
/// endpoints on this node.
struct SvcPort<'a> {
    svc: &'a Service,
    name: &'a str,
    port: u16,
    /// `-m tcp -p tcp`.
    m: String,
    cluster_ip: Ipv4Addr,
    node_port: Option<u16>,
    external_ips: Vec<String>,
    lb_ips: Vec<String>,
    source_ranges: Vec<String>,
    svc_chain: String,
    svl_chain: String,
    ext_chain: String,
    fw_chain: String,
    etp_local: bool,
    /// Where ClusterIP traffic and external traffic go: KUBE-SVL- under a Local policy.
    internal_chain: String,
    external_chain: String,
    has_endpoints: bool,
    /// Whether ClusterIP traffic, and external traffic, have an endpoint to go to.
    has_internal: bool,
    has_external: bool,
    uses_ext_chain: bool,
    uses_fw_chain: bool,
    /// The filter target and comment for traffic with nowhere to go: REJECT without
    /// endpoints, DROP without local ones.
    no_endpoint: (&'static str, String),
    /// The ready endpoints with their names, and which of them each policy chain uses
    /// (positions in `eps`).
    eps: Vec<Ep<'a>>,
    cluster_eps: Vec<usize>,
    local_eps: Vec<usize>,
    /// ClientIP session affinity's timeout.
    affinity: Option<u32>,
}

impl<'a> SvcPort<'a> {
    /// None for a Service without a ClusterIP (headless): kube-proxy writes nothing for it.
    fn new(sp: &'a ServicePortInfo<'a>, node: &str) -> Option<SvcPort<'a>> {
        let svc = sp.svc;
        let name = sp.name.as_str();
        let proto = sp.protocol();
        let hash = port_proto_hash(name, proto);
        let svc_chain = format!("KUBE-SVC-{hash}");
        let svl_chain = format!("KUBE-SVL-{hash}");
        let cluster_ip = svc.cluster_ip()?;
        let node_port = sp.node_port();
        let external_ips: Vec<String> = svc.external_ips.iter().map(|i| i.to_string()).collect();
        let lb_ips: Vec<String> = svc.load_balancer_ip.iter().map(|i| i.to_string()).collect();
        let source_ranges: Vec<String> = svc
            .load_balancer_source_ranges
            .iter()
            .map(|r| r.network().to_string())
            .collect();
        let externally_accessible = externally_accessible(sp);

        // CategorizeEndpoints.
        let (itp_local, etp_local) = local_policies(sp);
        let ready = &sp.endpoints;
        // UsesClusterEndpoints: even with eTP Local an externally reachable Service needs
        // its cluster endpoints, for the short circuit of traffic from inside the cluster.
        let uses_cluster = !itp_local || externally_accessible;
        let uses_local = itp_local || etp_local;
        let (all_cluster, all_local) = crate::k8s::services::categorize(ready, node);
        let cluster_eps: Vec<usize> = if uses_cluster {
            all_cluster
        } else {
            Vec::new()
        };
        let local_eps: Vec<usize> = if uses_local { all_local } else { Vec::new() };
        let eps = ready
            .iter()
            .map(|ep| {
                let addr = ep.addr();
                Ep {
                    sep: sep_chain(name, proto, &addr),
                    addr,
                    ep,
                }
            })
            .collect();
        let has_endpoints = !ready.is_empty();
        let internal_chain = if itp_local { &svl_chain } else { &svc_chain };
        let external_chain = if etp_local { &svl_chain } else { &svc_chain };
        let no_endpoint = if !has_endpoints {
            ("REJECT", format!("{name} has no endpoints"))
        } else {
            ("DROP", format!("{name} has no local endpoints"))
        };
        Some(SvcPort {
            svc,
            name,
            port: sp.port.port,
            m: format!("-m {proto} -p {proto}"),
            cluster_ip,
            node_port,
            ext_chain: format!("KUBE-EXT-{hash}"),
            fw_chain: format!("KUBE-FW-{hash}"),
            internal_chain: internal_chain.clone(),
            external_chain: external_chain.clone(),
            has_internal: has_endpoints && (!itp_local || !local_eps.is_empty()),
            has_external: has_endpoints && (!etp_local || !local_eps.is_empty()),
            uses_ext_chain: has_endpoints && externally_accessible,
            uses_fw_chain: has_endpoints && !lb_ips.is_empty() && !source_ranges.is_empty(),
            svc_chain,
            svl_chain,
            etp_local,
            has_endpoints,
            no_endpoint,
            external_ips,
            lb_ips,
            source_ranges,
            eps,
            cluster_eps,
            local_eps,
            affinity: (svc.session_affinity == SessionAffinity::ClientIP)
                .then_some(svc.session_affinity_timeout),
        })
    }
}

/// The rules of one Service port (proxier.go, the body of the per-service loop), written in
/// its order; the numbers are the steps of that loop.
fn service_port_rules(
    sp: &ServicePortInfo,
    (node, node_ip): (&str, Option<Ipv4Addr>),
    cluster_cidr: &str,
    kp: &crate::cluster::KubeProxyConfig,
    filter: &mut Buf,
    nat: &mut Buf,
) {
    let Some(p) = SvcPort::new(sp, node) else {
        return;
    };
    cluster_ip_rules(&p, filter, nat);
    external_ip_rules(&p, filter, nat);
    load_balancer_rules(&p, filter, nat);
    node_port_rules(&p, kp.nfacct, filter, nat);
    health_check_rule(&p, filter);
    cluster_ip_masquerade(&p, cluster_cidr, kp.masquerade_all, nat);
    external_chain(&p, cluster_cidr, nat);
    firewall_chain(&p, node_ip, nat);
    policy_chains(&p, nat);
    endpoint_chains(&p, nat);
}

/// (1) ClusterIP: to the internal policy chain, or rejected (dropped) in filter when there is
/// no endpoint (no local one under internalTrafficPolicy Local).
fn cluster_ip_rules(p: &SvcPort, filter: &mut Buf, nat: &mut Buf) {
    let SvcPort {
        name,
        m,
        cluster_ip,
        port,
        ..
    } = p;
    if p.has_internal {
        nat.rule(format!(
            "-A KUBE-SERVICES -m comment --comment {} {m} -d {cluster_ip} --dport {port} -j {}",
            comment(&format!("{name} cluster IP")),
            p.internal_chain
        ));
    } else {
        let (target, why) = &p.no_endpoint;
        filter.rule(format!(
            "-A KUBE-SERVICES -m comment --comment {} {m} -d {cluster_ip} --dport {port} -j {target}",
            comment(why)
        ));
    }
}

/// (2) External IPs: to the external entry chain; rejected in filter without endpoints.
fn external_ip_rules(p: &SvcPort, filter: &mut Buf, nat: &mut Buf) {
    let SvcPort { name, m, port, .. } = p;
    let (target, why) = &p.no_endpoint;
    for ip in &p.external_ips {
        if p.has_endpoints {
            nat.rule(format!(
                "-A KUBE-SERVICES -m comment --comment {} {m} -d {ip} --dport {port} -j {}",
                comment(&format!("{name} external IP")),
                p.ext_chain
            ));
        }
        if !p.has_external {
            filter.rule(format!(
                "-A KUBE-EXTERNAL-SERVICES -m comment --comment {} {m} -d {ip} --dport {port} -j {target}",
                comment(why)
            ));
        }
    }
}

/// (3) Load balancer IPs: to the source-range firewall chain when there are ranges, else the
/// external entry chain; KUBE-PROXY-FIREWALL drops what the firewall chain did not
/// accept; rejected in filter without endpoints.
fn load_balancer_rules(p: &SvcPort, filter: &mut Buf, nat: &mut Buf) {
    let SvcPort {
        name,
        m,
        port,
        fw_chain,
        ..
    } = p;
    for ip in &p.lb_ips {
        if p.has_endpoints {
            let to = if p.uses_fw_chain {
                fw_chain
            } else {
                &p.ext_chain
            };
            nat.rule(format!(
                "-A KUBE-SERVICES -m comment --comment {} {m} -d {ip} --dport {port} -j {to}",
                comment(&format!("{name} loadbalancer IP"))
            ));
        }
        if p.uses_fw_chain {
            filter.rule(format!(
                "-A KUBE-PROXY-FIREWALL -m comment --comment {} {m} -d {ip} --dport {port} -j DROP",
                comment(&format!("{name} traffic not accepted by {fw_chain}"))
            ));
        }
    }
    if !p.has_external {
        let (target, why) = &p.no_endpoint;
        for ip in &p.lb_ips {
            filter.rule(format!(
                "-A KUBE-EXTERNAL-SERVICES -m comment --comment {} {m} -d {ip} --dport {port} -j {target}",
                comment(why)
            ));
        }
    }
}

/// (4) NodePort: KUBE-NODEPORTS to the external entry chain; rejected in filter (for local
/// destinations) without endpoints.
fn node_port_rules(p: &SvcPort, nfacct: bool, filter: &mut Buf, nat: &mut Buf) {
    let Some(np) = p.node_port else {
        return;
    };
    let SvcPort {
        name, m, ext_chain, ..
    } = p;
    if p.has_endpoints {
        // localhostNodePorts: with the nfacct counter, 127.0.0.0/8 NodePort traffic is
        // counted by a rule of its own first.
        if nfacct {
            nat.rule(format!("-A KUBE-NODEPORTS -m comment --comment {} {m} -d 127.0.0.0/8 --dport {np} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j {ext_chain}", comment(name)));
        }
        nat.rule(format!(
            "-A KUBE-NODEPORTS -m comment --comment {} {m} --dport {np} -j {ext_chain}",
            comment(name)
        ));
    }
    if !p.has_external {
        let (target, why) = &p.no_endpoint;
        filter.rule(format!("-A KUBE-EXTERNAL-SERVICES -m comment --comment {} -m addrtype --dst-type LOCAL {m} --dport {np} -j {target}", comment(why)));
    }
}

/// (5) The health check node port of an eTP Local Service, accepted in filter.
fn health_check_rule(p: &SvcPort, filter: &mut Buf) {
    if let Some(hc) = p.svc.health_check_node_port.filter(|_| p.etp_local) {
        filter.rule(format!(
            "-A KUBE-NODEPORTS -m comment --comment {} -m tcp -p tcp --dport {hc} -j ACCEPT",
            comment(&format!("{} health check node port", p.name))
        ));
    }
}

/// (7) Masquerade off-cluster traffic to the ClusterIP (all of it with `--masquerade-all`),
/// first in the internal policy chain.
fn cluster_ip_masquerade(p: &SvcPort, cluster_cidr: &str, masquerade_all: bool, nat: &mut Buf) {
    if !p.has_internal {
        return;
    }
    let SvcPort {
        name,
        m,
        cluster_ip,
        port,
        internal_chain,
        ..
    } = p;
    let args = format!(
        "-m comment --comment {} {m} -d {cluster_ip} --dport {port}",
        comment(&format!("{name} cluster IP"))
    );
    if masquerade_all {
        nat.rule(format!("-A {internal_chain} {args} -j KUBE-MARK-MASQ"));
    } else {
        nat.rule(format!(
            "-A {internal_chain} {args} ! -s {cluster_cidr} -j KUBE-MARK-MASQ"
        ));
    }
}

/// (8) The external entry chain KUBE-EXT-: masquerade, then the external policy chain; under
/// eTP Local, pod and node traffic short-circuit to the cluster chain instead.
fn external_chain(p: &SvcPort, cluster_cidr: &str, nat: &mut Buf) {
    if !p.uses_ext_chain {
        return;
    }
    let SvcPort {
        name,
        ext_chain,
        svc_chain,
        ..
    } = p;
    nat.chain(ext_chain);
    if !p.etp_local {
        nat.rule(format!(
            "-A {ext_chain} -m comment --comment {} -j KUBE-MARK-MASQ",
            comment(&format!(
                "masquerade traffic for {name} external destinations"
            ))
        ));
    } else {
        nat.rule(format!(
            "-A {ext_chain} -m comment --comment {} -s {cluster_cidr} -j {svc_chain}",
            comment(&format!("pod traffic for {name} external destinations"))
        ));
        nat.rule(format!(
            "-A {ext_chain} -m comment --comment {} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
            comment(&format!(
                "masquerade LOCAL traffic for {name} external destinations"
            ))
        ));
        nat.rule(format!(
            "-A {ext_chain} -m comment --comment {} -m addrtype --src-type LOCAL -j {svc_chain}",
            comment(&format!(
                "route LOCAL traffic for {name} external destinations"
            ))
        ));
    }
    if p.has_external {
        nat.rule(format!("-A {ext_chain} -j {}", p.external_chain));
    }
}

/// (9) The load balancer source-range firewall KUBE-FW-: sources in range go on to the
/// external entry chain; the rest fall through to KUBE-PROXY-FIREWALL's drop.
fn firewall_chain(p: &SvcPort, node_ip: Option<Ipv4Addr>, nat: &mut Buf) {
    if !p.uses_fw_chain {
        return;
    }
    let SvcPort {
        name,
        fw_chain,
        ext_chain,
        ..
    } = p;
    nat.chain(fw_chain);
    let lb_comment = comment(&format!("{name} loadbalancer IP"));
    for r in &p.source_ranges {
        nat.rule(format!(
            "-A {fw_chain} -m comment --comment {lb_comment} -s {r} -j {ext_chain}"
        ));
    }
    // A VIP-like LB's address is often local to the node, so the node's own request loops
    // back with the VIP as source: allowed when a range contains the node IP.
    let allow_from_node = p
        .svc
        .load_balancer_source_ranges
        .iter()
        .any(|r| node_ip.is_some_and(|ip| r.contains(ip)));
    if allow_from_node {
        for lb in &p.lb_ips {
            nat.rule(format!(
                "-A {fw_chain} -m comment --comment {lb_comment} -s {lb}/32 -j {ext_chain}"
            ));
        }
    }
    nat.rule(format!(
        "-A {fw_chain} -m comment --comment {}",
        comment(&format!(
            "other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL"
        ))
    ));
}

/// (10, 11) The policy chains: KUBE-SVC- over the cluster endpoints, KUBE-SVL- over the
/// local ones.
fn policy_chains(p: &SvcPort, nat: &mut Buf) {
    for (chain, eps) in [(&p.svc_chain, &p.cluster_eps), (&p.svl_chain, &p.local_eps)] {
        if !eps.is_empty() {
            nat.chain(chain);
            let eps: Vec<&Ep> = eps.iter().map(|&i| &p.eps[i]).collect();
            endpoint_jumps(chain, p.name, &eps, p.affinity, nat);
        }
    }
}

/// (12) One KUBE-SEP- chain per endpoint (cluster and local, once each, by address): mark
/// hairpin traffic for masquerade, remember the client for affinity, DNAT.
fn endpoint_chains(p: &SvcPort, nat: &mut Buf) {
    let SvcPort { name, m, .. } = p;
    let mut all: Vec<&Ep> = p
        .cluster_eps
        .iter()
        .chain(p.local_eps.iter())
        .map(|&i| &p.eps[i])
        .collect();
    all.sort_by(|a, b| a.addr.cmp(&b.addr));
    all.dedup_by(|a, b| a.addr == b.addr);
    for Ep { ep, addr, sep } in all {
        nat.chain(sep);
        nat.rule(format!(
            "-A {sep} -m comment --comment {} -s {} -j KUBE-MARK-MASQ",
            comment(name),
            ep.ip
        ));
        let recent = if p.affinity.is_some() {
            format!(" -m recent --name {sep} --set")
        } else {
            String::new()
        };
        nat.rule(format!(
            "-A {sep} -m comment --comment {}{recent} {m} -j DNAT --to-destination {addr}",
            comment(name),
        ));
    }
}

/// `writeServiceToEndpointRules`: affinity checks first, then one jump per endpoint with
/// probability 1/(n-i), the last unconditional.
fn endpoint_jumps(chain: &str, name: &str, eps: &[&Ep], affinity: Option<u32>, nat: &mut Buf) {
    if let Some(timeout) = affinity {
        for Ep { addr, sep, .. } in eps {
            nat.rule(format!("-A {chain} -m comment --comment {} -m recent --name {sep} --rcheck --seconds {timeout} --reap -j {sep}", comment(&format!("{name} -> {addr}"))));
        }
    }
    let n = eps.len();
    for (i, Ep { addr, sep, .. }) in eps.iter().enumerate() {
        let c = comment(&format!("{name} -> {addr}"));
        if i < n - 1 {
            nat.rule(format!("-A {chain} -m comment --comment {c} -m statistic --mode random --probability {} -j {sep}", probability(n - i)));
        } else {
            nat.rule(format!("-A {chain} -m comment --comment {c} -j {sep}"));
        }
    }
}

/// Base32 (RFC 4648 alphabet, with padding), as Go's base32.StdEncoding.
pub(crate) mod base32_std {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    pub fn encode(data: &[u8]) -> String {
        let mut out = String::new();
        for chunk in data.chunks(5) {
            let mut buf = [0u8; 5];
            buf[..chunk.len()].copy_from_slice(chunk);
            let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            let chars = (chunk.len() * 8).div_ceil(5);
            for i in 0..8 {
                if i < chars {
                    out.push(ALPHABET[((bits >> (35 - i * 5)) & 31) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_match_kube_proxy() {
        // Worked examples from kube-proxy's tests and real clusters.
        assert_eq!(port_proto_hash("ns1/svc1:p80", "tcp"), "XPGD46QRK7WJZT7O");
        assert_eq!(
            port_proto_hash("default/kubernetes:https", "tcp"),
            "NPX46M4PTMTKRN6Y"
        );
        assert_eq!(
            port_proto_hash("kube-system/kube-dns:dns", "udp"),
            "TCOU7JCQXEZGVUNU"
        );
        assert_eq!(port_proto_hash("default/nginx", "tcp"), "2CMXP7HKUVJN7L6M");
        assert_eq!(
            sep_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80"),
            "KUBE-SEP-SXIVWICOYRO3J4NJ"
        );
        assert_eq!(
            sep_chain("ns4/svc4:p80", "tcp", "10.180.0.5:80"),
            "KUBE-SEP-C6EBXVWJJZMIWKLZ"
        );
    }

    /// kube-proxy's TestOverallIPTablesRules: the same Services and endpoints must give the
    /// same rules, chain by chain, as its expected output (testdata, copied verbatim).
    #[test]
    fn reproduces_kube_proxys_overall_rules_test() {
        let yaml = include_str!("../testdata/kube_proxy_overall.yaml");
        // Deserialized without validation: the test's endpoints sit outside any node CIDR.
        let s: crate::scenario::Scenario = serde_saphyr::from_str(yaml).unwrap();
        let kp = rules(s.model(), "test-node", &[]);
        let expected = include_str!("../testdata/kube_proxy_overall.rules");
        let per_chain = |text: &str| {
            let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for l in text.lines().filter(|l| l.starts_with("-A ")) {
                let chain = l.split_whitespace().nth(1).unwrap().to_string();
                m.entry(chain).or_default().push(l.to_string());
            }
            m
        };
        let i = expected.find("*nat").unwrap();
        let (ef, en) = (&expected[..i], &expected[i..]);
        assert_eq!(per_chain(&kp.filter), per_chain(ef), "filter rules");
        assert_eq!(per_chain(&kp.nat), per_chain(en), "nat rules");
        let chains = |t: &str| -> std::collections::BTreeSet<String> {
            t.lines()
                .filter(|l| l.starts_with(':'))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(chains(&kp.nat), chains(en), "nat chains");
        assert_eq!(chains(&kp.filter), chains(ef), "filter chains");
    }

    #[test]
    fn probabilities_as_kube_proxy_writes_them() {
        assert_eq!(probability(2), "0.5000000000");
        assert_eq!(probability(3), "0.3333333333");
        assert_eq!(probability(100001), "0.0000099999");
    }
}
