//! kube-proxy in IPVS mode (`pkg/proxy/ipvs/proxier.go`, `syncProxyRules`): for one node,
//! the addresses bound on the kube-ipvs0 dummy device, the ipsets, the IPVS virtual
//! services with their real servers, and the iptables rules IPVS mode still writes.
//! docs/design/ipvs.md sections 1.2-1.6 hold the facts, with their sources. [`Proxier`] is
//! the mode's controller; [`ipvs_node`] computes the state alone, for `kpath show --ipvs`
//! in any mode.

use super::{KubeProxyRules, LOCALNET_FIREWALL, Provider};
use crate::cluster::{Cluster, Node, ProxyMode, SessionAffinity, TrafficPolicy};
use crate::ipvs::{Ipvs, RealServer, Scheduler, VirtualService};
use crate::k8s::services::{ServicePortInfo, service_ports};
use crate::net::{LinkKind, Netns};
use crate::netfilter::ipset::{Elem, IpSet, SetType};
use crate::wire::Ipv4Net;
use std::net::Ipv4Addr;

/// The scheduler IPVS virtual services get (`--ipvs-scheduler`, rr by default).
pub fn scheduler(cluster: &Cluster) -> Scheduler {
    Scheduler::by_name(&cluster.kube_proxy.ipvs_scheduler).unwrap_or(Scheduler::Rr { last: None })
}

/// kube-proxy's IPVS mode.
pub struct Proxier;

impl Provider for Proxier {
    fn mode(&self) -> ProxyMode {
        ProxyMode::Ipvs
    }

    fn name(&self) -> &'static str {
        "ipvs"
    }

    /// The kube-ipvs0 dummy device (down, each Service address a /32 on it, so a `local`
    /// route in table local: `fib_add_ifaddr` adds that route even for a device that is
    /// down), the ipsets, the IPVS table, and kube-proxy's IPVS-mode rules. NodePort virtual
    /// services listen on every node address, so this runs after the CNI made its devices.
    fn program(&self, ns: &mut Netns, cluster: &Cluster, node: &Node) -> KubeProxyRules {
        let name = &node.name;
        // nodePortAddresses narrows the addresses NodePort virtual services listen on.
        let ips = cluster
            .kube_proxy
            .node_port_addresses
            .node_ips(&node_ips(ns), node.ip);
        let n = ipvs_node(cluster, name, &ips, &scheduler(cluster));
        let rules = kube_proxy_rules(&n);
        let mut dev = crate::k8s::link::link(
            "kube-ipvs0",
            LinkKind::Dummy,
            crate::k8s::mac::from_name(&format!("{name}/kube-ipvs0")),
            1500,
        );
        dev.up = false;
        let dev = ns.add_link(dev);
        for ip in &n.bound {
            ns.add_addr(dev, Ipv4Net::new(*ip, 32));
        }
        ns.ipsets = n.ipsets.into();
        ns.ipvs = Some(n.ipvs);
        rules
    }

    fn ipvs_view_note(&self) -> &'static str {
        "what kube-proxy in IPVS mode programmed; `kpath trace` walks packets through it"
    }

    /// IPVS needs the kernel's IPVS (CONFIG_IP_VS), which the lab's kernel lacks, and
    /// ipvsadm; the lab programs neither.
    fn lab_refusal(&self, kernel_has_ipvs: bool) -> Option<String> {
        let kernel = if kernel_has_ipvs {
            "and kpath's lab does not program IPVS virtual services"
        } else {
            "and this kernel has no IPVS (/proc/net/ip_vs is missing: CONFIG_IP_VS is off)"
        };
        Some(format!(
            "kube-proxy runs in IPVS mode here, which the lab cannot build: {kernel}. kpath's IPVS datapath follows the kernel's code instead (docs/design/ipvs.md cites each function); the same Services in `mode: iptables` can be verified"
        ))
    }
}

/// What kube-proxy's IPVS mode programs on one node.
#[derive(Clone, Debug)]
pub struct IpvsNode {
    /// Addresses on kube-ipvs0 (each a /32, so a `local` route in table local).
    pub bound: Vec<Ipv4Addr>,
    pub ipsets: Vec<IpSet>,
    pub ipvs: Ipvs,
    /// The iptables-restore payload, `*nat` then `*filter`.
    pub iptables: String,
    /// LoadBalancer IP, protocol and port whose source ranges leave the node out.
    pub no_node_access: Vec<(Ipv4Addr, &'static str, u16)>,
}

/// The 16 IPv4 sets kube-proxy creates on every sync, empty or not (`ipsetInfo`), with the
/// comment its iptables rules carry.
const SETS: [(&str, SetType, &str); 16] = [
    (
        "KUBE-LOOP-BACK",
        SetType::HashIpPortIp,
        "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
    ),
    (
        "KUBE-CLUSTER-IP",
        SetType::HashIpPort,
        "Kubernetes service cluster ip + port for masquerade purpose",
    ),
    (
        "KUBE-EXTERNAL-IP",
        SetType::HashIpPort,
        "Kubernetes service external ip + port for masquerade and filter purpose",
    ),
    (
        "KUBE-EXTERNAL-IP-LOCAL",
        SetType::HashIpPort,
        "Kubernetes service external ip + port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-LOAD-BALANCER",
        SetType::HashIpPort,
        "Kubernetes service lb portal",
    ),
    (
        "KUBE-LOAD-BALANCER-FW",
        SetType::HashIpPort,
        "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    ),
    (
        "KUBE-LOAD-BALANCER-LOCAL",
        SetType::HashIpPort,
        "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-IP",
        SetType::HashIpPortIp,
        "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-CIDR",
        SetType::HashIpPortNet,
        "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    ),
    (
        "KUBE-NODE-PORT-TCP",
        SetType::BitmapPort,
        "Kubernetes nodeport TCP port for masquerade purpose",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-TCP",
        SetType::BitmapPort,
        "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-NODE-PORT-UDP",
        SetType::BitmapPort,
        "Kubernetes nodeport UDP port for masquerade purpose",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-UDP",
        SetType::BitmapPort,
        "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-NODE-PORT-SCTP-HASH",
        SetType::HashIpPort,
        "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    ),
    (
        "KUBE-HEALTH-CHECK-NODE-PORT",
        SetType::BitmapPort,
        "Kubernetes health check node port",
    ),
    (
        "KUBE-IPVS-IPS",
        SetType::HashIp,
        "Addresses on the ipvs interface",
    ),
];

struct Sets(Vec<IpSet>);

impl Sets {
    fn add(&mut self, name: &str, e: Vec<Elem>) {
        if let Some(s) = self.0.iter_mut().find(|s| s.name == name) {
            s.add(e);
        }
    }
    fn empty(&self, name: &str) -> bool {
        self.0
            .iter()
            .find(|s| s.name == name)
            .is_none_or(|s| s.entries().is_empty())
    }
    fn comment(name: &str) -> &'static str {
        SETS.iter()
            .find(|(n, ..)| *n == name)
            .map_or("", |(_, _, c)| c)
    }
}

/// kube-proxy's per-service-port sync (`syncService`, `syncEndpoint`).
fn service(
    sp: &ServicePortInfo,
    node: &str,
    node_ips: &[Ipv4Addr],
    scheduler: &Scheduler,
    out: &mut IpvsNode,
    sets: &mut Sets,
) {
    let Some(cip) = sp.svc.cluster_ip() else {
        return;
    };
    let proto = sp.protocol();
    let p = Some(sp.port.protocol);
    let port = sp.port.port;
    let pe = Elem::Port(p, port);
    // The ready endpoints, or those serving while terminating when none is ready.
    let (cluster_idx, local_idx) = crate::k8s::services::categorize(&sp.endpoints, node);
    let cluster: Vec<_> = cluster_idx.iter().map(|&i| &sp.endpoints[i]).collect();
    let local: Vec<_> = local_idx.iter().map(|&i| &sp.endpoints[i]).collect();
    // Hairpin: each local endpoint may reach itself through the VIP.
    for e in &local {
        sets.add(
            "KUBE-LOOP-BACK",
            vec![Elem::Ip(e.ip), Elem::Port(p, e.port), Elem::Ip(e.ip)],
        );
    }
    let new_vs = |addr: Ipv4Addr, port: u16, local_only: bool| {
        let mut vs = VirtualService::new(sp.port.protocol, addr, port, scheduler.clone());
        if sp.svc.session_affinity == SessionAffinity::ClientIP {
            vs.persistent = Some(sp.svc.session_affinity_timeout);
        }
        // syncEndpoint: Local policy with no local endpoint falls back to all of them
        // ("allow access from local pods even if no local endpoints exist").
        let eps: Vec<_> = if local_only && !local.is_empty() {
            local.clone()
        } else {
            cluster.clone()
        };
        for e in eps {
            vs.add_dest(RealServer::masq(e.ip, e.port));
        }
        vs
    };
    let itp_local = sp.svc.internal_traffic_policy == TrafficPolicy::Local;
    let etp_local = sp.svc.external_traffic_policy == TrafficPolicy::Local;
    sets.add("KUBE-CLUSTER-IP", vec![Elem::Ip(cip), pe]);
    out.ipvs.services.push(new_vs(cip, port, itp_local));
    if !out.bound.contains(&cip) {
        out.bound.push(cip);
    }
    for &ext in &sp.svc.external_ips {
        let set = if etp_local {
            "KUBE-EXTERNAL-IP-LOCAL"
        } else {
            "KUBE-EXTERNAL-IP"
        };
        sets.add(set, vec![Elem::Ip(ext), pe]);
        out.ipvs.services.push(new_vs(ext, port, etp_local));
        if !node_ips.contains(&ext) && !out.bound.contains(&ext) {
            out.bound.push(ext);
        }
    }
    if let Some(lb) = sp.svc.load_balancer_ip {
        sets.add("KUBE-LOAD-BALANCER", vec![Elem::Ip(lb), pe]);
        if etp_local {
            sets.add("KUBE-LOAD-BALANCER-LOCAL", vec![Elem::Ip(lb), pe]);
        }
        let ranges = &sp.svc.load_balancer_source_ranges;
        if !ranges.is_empty() {
            sets.add("KUBE-LOAD-BALANCER-FW", vec![Elem::Ip(lb), pe]);
            for &r in ranges {
                sets.add(
                    "KUBE-LOAD-BALANCER-SOURCE-CIDR",
                    vec![Elem::Ip(lb), pe, Elem::Net(r)],
                );
            }
            // The node's own requests to a local VIP loop back with the VIP as source: let
            // them through if a range holds the node IP, else KUBE-IPVS-OUT-FILTER drops them
            // (lbNoNodeAccessIPPortProtocolEntries).
            if ranges
                .iter()
                .any(|r| node_ips.first().is_some_and(|n| r.contains(*n)))
            {
                sets.add(
                    "KUBE-LOAD-BALANCER-SOURCE-IP",
                    vec![Elem::Ip(lb), pe, Elem::Ip(lb)],
                );
            } else {
                out.no_node_access.push((lb, proto, port));
            }
        }
        out.ipvs.services.push(new_vs(lb, port, etp_local));
        if !node_ips.contains(&lb) && !out.bound.contains(&lb) {
            out.bound.push(lb);
        }
    }
    if let Some(np) = sp.node_port() {
        let (set, local_set) = match proto {
            "udp" => ("KUBE-NODE-PORT-UDP", "KUBE-NODE-PORT-LOCAL-UDP"),
            _ => ("KUBE-NODE-PORT-TCP", "KUBE-NODE-PORT-LOCAL-TCP"),
        };
        sets.add(set, vec![Elem::Port(None, np)]);
        if etp_local {
            sets.add(local_set, vec![Elem::Port(None, np)]);
        }
        // A virtual service on every NodePort address (every node address by default).
        for ip in node_ips {
            out.ipvs.services.push(new_vs(*ip, np, etp_local));
        }
    }
}

/// The iptables payload (`writeIptablesRules`), rules written only when their set holds
/// entries, in kube-proxy's order.
fn iptables(
    sets: &Sets,
    no_node_access: &[(Ipv4Addr, &str, u16)],
    cluster_cidr: &str,
    masquerade_all: bool,
    random_fully: bool,
) -> String {
    let c = |name: &str| format!("-m comment --comment \"{}\"", Sets::comment(name));
    let has = |name: &str| !sets.empty(name);
    let mut nat = vec![
        "*nat".to_string(),
        ":KUBE-SERVICES - [0:0]".into(),
        ":KUBE-POSTROUTING - [0:0]".into(),
        ":KUBE-NODE-PORT - [0:0]".into(),
        ":KUBE-LOAD-BALANCER - [0:0]".into(),
        ":KUBE-MARK-MASQ - [0:0]".into(),
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES".into(),
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES".into(),
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
            .into(),
        "-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN".into(),
    ];
    if has("KUBE-LOOP-BACK") {
        nat.push(format!(
            "-A KUBE-POSTROUTING {} -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE",
            c("KUBE-LOOP-BACK")
        ));
    }
    if has("KUBE-LOAD-BALANCER") {
        nat.push(format!("-A KUBE-SERVICES {} -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER", c("KUBE-LOAD-BALANCER")));
    }
    if has("KUBE-LOAD-BALANCER-LOCAL") {
        nat.push(format!("-A KUBE-LOAD-BALANCER {} -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN", c("KUBE-LOAD-BALANCER-LOCAL")));
    }
    for (proto, set, local) in [
        ("tcp", "KUBE-NODE-PORT-TCP", "KUBE-NODE-PORT-LOCAL-TCP"),
        ("udp", "KUBE-NODE-PORT-UDP", "KUBE-NODE-PORT-LOCAL-UDP"),
    ] {
        if has(local) {
            nat.push(format!(
                "-A KUBE-NODE-PORT -p {proto} {} -m set --match-set {local} dst -j RETURN",
                c(local)
            ));
        }
        if has(set) {
            nat.push(format!(
                "-A KUBE-NODE-PORT -p {proto} {} -m set --match-set {set} dst -j KUBE-MARK-MASQ",
                c(set)
            ));
        }
    }
    if has("KUBE-CLUSTER-IP") {
        let cc = c("KUBE-CLUSTER-IP");
        nat.push(if masquerade_all {
            format!("-A KUBE-SERVICES {cc} -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ")
        } else {
            format!("-A KUBE-SERVICES {cc} -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s {cluster_cidr} -j KUBE-MARK-MASQ")
        });
    }
    for set in ["KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL"] {
        if has(set) {
            if set == "KUBE-EXTERNAL-IP" {
                nat.push(format!(
                    "-A KUBE-SERVICES {} -m set --match-set {set} dst,dst -j KUBE-MARK-MASQ",
                    c(set)
                ));
            }
            nat.push(format!("-A KUBE-SERVICES {} -m set --match-set {set} dst,dst -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT", c(set)));
            nat.push(format!("-A KUBE-SERVICES {} -m set --match-set {set} dst,dst -m addrtype --dst-type LOCAL -j ACCEPT", c(set)));
        }
    }
    nat.push("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT".into());
    nat.push("-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ".into());
    if has("KUBE-CLUSTER-IP") {
        nat.push("-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT".into());
    }
    if has("KUBE-LOAD-BALANCER") {
        nat.push("-A KUBE-SERVICES -m set --match-set KUBE-LOAD-BALANCER dst,dst -j ACCEPT".into());
    }
    nat.extend(super::masquerade_rules(random_fully));
    nat.push("COMMIT".into());
    let mut filter = vec![
        "*filter".to_string(),
        ":KUBE-FORWARD - [0:0]".into(),
        ":KUBE-NODE-PORT - [0:0]".into(),
        ":KUBE-PROXY-FIREWALL - [0:0]".into(),
        ":KUBE-SOURCE-RANGES-FIREWALL - [0:0]".into(),
        ":KUBE-IPVS-FILTER - [0:0]".into(),
        ":KUBE-IPVS-OUT-FILTER - [0:0]".into(),
        "-A INPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-FILTER"
            .into(),
        "-A INPUT -m comment --comment \"kube-proxy firewall rules\" -j KUBE-PROXY-FIREWALL".into(),
        "-A INPUT -m comment --comment \"kubernetes health check rules\" -j KUBE-NODE-PORT".into(),
        "-A FORWARD -m comment --comment \"kube-proxy firewall rules\" -j KUBE-PROXY-FIREWALL"
            .into(),
        "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD".into(),
        "-A OUTPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-OUT-FILTER"
            .into(),
    ];
    if has("KUBE-LOAD-BALANCER-FW") {
        filter.push(format!("-A KUBE-PROXY-FIREWALL {} -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL", c("KUBE-LOAD-BALANCER-FW")));
    }
    if has("KUBE-LOAD-BALANCER-SOURCE-CIDR") {
        filter.push(format!("-A KUBE-SOURCE-RANGES-FIREWALL {} -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN", c("KUBE-LOAD-BALANCER-SOURCE-CIDR")));
    }
    if has("KUBE-LOAD-BALANCER-SOURCE-IP") {
        filter.push(format!("-A KUBE-SOURCE-RANGES-FIREWALL {} -m set --match-set KUBE-LOAD-BALANCER-SOURCE-IP dst,dst,src -j RETURN", c("KUBE-LOAD-BALANCER-SOURCE-IP")));
    }
    filter.push("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP".to_string());
    for (ip, proto, port) in no_node_access {
        filter.push(format!(
            "-A KUBE-IPVS-OUT-FILTER -s {ip} -m ipvs --vaddr {ip} --vproto {proto} --vport {port} -j DROP"
        ));
    }
    filter.extend(super::forward_accept_rules());
    filter.extend([
        format!("-A KUBE-NODE-PORT {} -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT", c("KUBE-HEALTH-CHECK-NODE-PORT")),
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j RETURN".into(),
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN".into(),
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP dst,dst -j RETURN".into(),
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN".into(),
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN".into(),
        "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable".into(),
        "COMMIT".into(),
    ]);
    let mut out = nat.join("\n");
    out.push('\n');
    out.push_str(&filter.join("\n"));
    out.push('\n');
    out
}

/// The addresses NodePort virtual services listen on with `nodePortAddresses` unset: every
/// local address but loopback and kube-ipvs0's (`GetAllLocalAddressesExcept("kube-ipvs0")`),
/// eth0's first.
pub fn node_ips(ns: &crate::net::Netns) -> Vec<Ipv4Addr> {
    let mut ips: Vec<Ipv4Addr> = Vec::new();
    let eth0 = ns.links.iter().filter(|l| l.name == "eth0");
    let others = ns
        .links
        .iter()
        .filter(|l| l.name != "eth0" && l.name != "kube-ipvs0");
    for l in eth0.chain(others) {
        for a in &l.addrs {
            if !a.addr.is_loopback() && !ips.contains(&a.addr) {
                ips.push(a.addr);
            }
        }
    }
    ips
}

/// `syncProxyRules` in IPVS mode for one node. `node_ips` are the node's own addresses,
/// its primary (eth0) first: NodePort virtual services listen on every one of them.
pub fn ipvs_node(
    cluster: &Cluster,
    node: &str,
    node_ips: &[Ipv4Addr],
    scheduler: &Scheduler,
) -> IpvsNode {
    let mut out = IpvsNode {
        bound: Vec::new(),
        ipsets: Vec::new(),
        ipvs: Ipvs::default(),
        iptables: String::new(),
        no_node_access: Vec::new(),
    };
    let mut sets = Sets(
        SETS.iter()
            .map(|(n, t, c)| IpSet::new(n, *t, Some(c)))
            .collect(),
    );
    for sp in service_ports(cluster) {
        if sp.svc.is_headless() {
            continue;
        }
        service(&sp, node, node_ips, scheduler, &mut out, &mut sets);
    }
    for ip in out.bound.clone() {
        sets.add("KUBE-IPVS-IPS", vec![Elem::Ip(ip)]);
    }
    let kp = &cluster.kube_proxy;
    out.iptables = iptables(
        &sets,
        &out.no_node_access,
        &cluster.cluster_cidr().network().to_string(),
        kp.masquerade_all,
        kp.random_fully,
    );
    out.ipsets = sets.0;
    out
}

/// kube-proxy's payload split the way a node's ruleset is put together: the jumps from
/// built-in chains apart from its own chains and rules, plus kubelet's KUBE-FIREWALL
/// (kubelet writes it in every proxy mode).
pub fn kube_proxy_rules(n: &IpvsNode) -> KubeProxyRules {
    const BUILTIN: [&str; 5] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];
    let mut out = KubeProxyRules {
        filter: String::new(),
        nat: String::new(),
        filter_jumps: Vec::new(),
        nat_jumps: Vec::new(),
        nft: None,
    };
    let mut nat = true;
    for line in n.iptables.lines() {
        match line {
            "*nat" => nat = true,
            "*filter" => nat = false,
            "COMMIT" => {}
            _ => {
                let chain = line.strip_prefix("-A ").and_then(|r| r.split(' ').next());
                let (body, jumps) = if nat {
                    (&mut out.nat, &mut out.nat_jumps)
                } else {
                    (&mut out.filter, &mut out.filter_jumps)
                };
                if chain.is_some_and(|c| BUILTIN.contains(&c)) {
                    jumps.push(line.to_string());
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    out.filter_jumps.push("-A INPUT -j KUBE-FIREWALL".into());
    out.filter_jumps.push("-A OUTPUT -j KUBE-FIREWALL".into());
    out.filter = format!(
        ":KUBE-FIREWALL - [0:0]\n{}{LOCALNET_FIREWALL}\n",
        out.filter
    );
    out
}
