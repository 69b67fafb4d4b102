//! kube-router's network policy controller (`pkg/controllers/netpol`, v2.11.1), as it
//! programs a node's filter table and ipsets beside flannel
//! (docs/design/kube-router-netpol.md cites each rule): jumps at the head of INPUT, FORWARD
//! and OUTPUT into KUBE-ROUTER-*, a KUBE-POD-FW-* chain per pod of the node, a
//! KUBE-NWPLCY-* chain per NetworkPolicy whose rules set mark 0x10000 for what they allow,
//! KUBE-NWPLCY-COMMON (conntrack and ICMP), -DEFAULT and -TAIL, and hash:ip/hash:net sets.
//!
//! kube-router puts its sync's start time (Unix nanoseconds) into every pod and policy
//! chain name, so real names change on every sync; kpath's sync is version [`VERSION`].

use crate::cluster::{
    Cluster, NetworkPolicy, Node, Peer, Pod, PolicyPort, PolicyRule, PolicyType, PortRef,
};
use crate::k8s::kube_proxy::iptables::base32_std as b32;
use crate::netfilter::ipset::{Elem, IpSet, SetType};
use crate::wire::{IpProtocol, Ipv4Net};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The sync version kpath's names are made with (kube-router's is a timestamp).
pub const VERSION: &str = "1";

const FAMILY: &str = "IPv4";

/// `PREFIX + base32(sha256(input))[:16]`, kube-router's one name hash.
fn hashed(prefix: &str, input: &str) -> String {
    format!(
        "{prefix}{}",
        &b32::encode(&Sha256::digest(input.as_bytes()))[..16]
    )
}

/// A built-in chain's jump and KUBE-ROUTER-INPUT's whitelist carry a uuid in their
/// comment: the hash of the chain and the rule's arguments joined with nothing between.
fn uuid(chain: &str, spec: &[&str]) -> String {
    b32::encode(&Sha256::digest(
        format!("{chain}{}", spec.concat()).as_bytes(),
    ))[..16]
        .to_string()
}

pub fn pod_chain(pod: &Pod) -> String {
    hashed(
        "KUBE-POD-FW-",
        &format!("{}{}{VERSION}", pod.namespace, pod.name),
    )
}

pub fn policy_chain(p: &NetworkPolicy) -> String {
    hashed(
        "KUBE-NWPLCY-",
        &format!("{}{}{VERSION}{FAMILY}", p.namespace, p.name),
    )
}

/// What kube-router writes on one node: its part of the filter table (chain declarations
/// and `-A` lines in iptables-save form, the built-in chains' jumps apart, as they go
/// first) and its ipsets.
pub struct Programmed {
    pub jumps: Vec<String>,
    pub filter: String,
    pub ipsets: Vec<IpSet>,
}

/// Pods a policy can act on (`isNetPolActionable`): not hostNetwork, with an address.
fn actionable(c: &Cluster) -> impl Iterator<Item = &Pod> {
    c.pods.iter().filter(|p| !p.host_network)
}

#[derive(Default)]
struct Out {
    chains: Vec<String>,
    rules: String,
    sets: Vec<IpSet>,
}

impl Out {
    fn chain(&mut self, name: &str) {
        if !self.chains.iter().any(|c| c == name) {
            self.chains.push(name.to_string());
        }
    }

    fn rule(&mut self, chain: &str, spec: impl AsRef<str>) {
        let _ = writeln!(self.rules, "-A {chain} {}", spec.as_ref());
    }

    fn set(&mut self, name: String, kind: SetType, entries: Vec<(Elem, bool)>) -> String {
        let mut s = IpSet::new(&name, kind, None);
        for (e, nomatch) in entries {
            s.add_flagged(vec![e], nomatch);
        }
        self.sets.retain(|x| x.name != name);
        self.sets.push(s);
        name
    }
}

/// kube-router's rules and sets for `node`.
pub fn program(c: &Cluster, node: &Node) -> Programmed {
    let mut o = Out::default();
    let top = [
        ("INPUT", "KUBE-ROUTER-INPUT"),
        ("FORWARD", "KUBE-ROUTER-FORWARD"),
        ("OUTPUT", "KUBE-ROUTER-OUTPUT"),
    ];
    let jumps = top
        .iter()
        .map(|(builtin, chain)| {
            let id = uuid(
                builtin,
                &[
                    "-m",
                    "comment",
                    "--comment",
                    "kube-router netpol",
                    "-j",
                    chain,
                ],
            );
            format!("-A {builtin} -m comment --comment \"kube-router netpol - {id}\" -j {chain}")
        })
        .collect();
    for (_, chain) in top {
        o.chain(chain);
    }
    input_whitelist(&mut o, c);
    common_chains(&mut o);
    for p in &c.network_policies {
        policy_rules(&mut o, c, p);
    }
    let mut local: Vec<&Pod> = actionable(c).filter(|p| p.node == node.name).collect();
    local.sort_by_key(|p| p.key());
    for pod in local {
        pod_rules(&mut o, c, pod);
    }
    for (_, chain) in top {
        o.rule(chain, "-m comment --comment \"rule to explicitly handle traffic for network policies ACCEPT/REJECT decision\" -j KUBE-NWPLCY-TAIL");
        o.rule(chain, "-m comment --comment \"rule to explicitly ACCEPT traffic that comply to network policies\" -m mark --mark 0x20000/0x20000 -j ACCEPT");
    }
    let mut filter = String::new();
    for ch in &o.chains {
        let _ = writeln!(filter, ":{ch} - [0:0]");
    }
    filter.push_str(&o.rules);
    Programmed {
        jumps,
        filter,
        ipsets: o.sets,
    }
}

/// KUBE-ROUTER-INPUT's RETURNs for the service CIDR and the NodePort range.
fn input_whitelist(o: &mut Out, c: &Cluster) {
    let chain = "KUBE-ROUTER-INPUT";
    let cidr = c.network.service_cidr.to_string();
    let comment = "allow traffic to primary/secondary cluster IP range";
    let id = uuid(
        chain,
        &[
            "-m",
            "comment",
            "--comment",
            comment,
            "-d",
            &cidr,
            "-j",
            "RETURN",
        ],
    );
    o.rule(
        chain,
        format!("-d {cidr} -m comment --comment \"{comment} - {id}\" -j RETURN"),
    );
    for (p, word) in [("tcp", "TCP"), ("udp", "UDP"), ("sctp", "SCTP")] {
        let comment = format!("allow LOCAL {word} traffic to node ports");
        let id = uuid(
            chain,
            &[
                "-p",
                p,
                "-m",
                "comment",
                "--comment",
                &comment,
                "-m",
                "addrtype",
                "--dst-type",
                "LOCAL",
                "-m",
                "multiport",
                "--dports",
                "30000:32767",
                "-j",
                "RETURN",
            ],
        );
        o.rule(chain, format!("-p {p} -m comment --comment \"{comment} - {id}\" -m addrtype --dst-type LOCAL -m multiport --dports 30000:32767 -j RETURN"));
    }
}

/// KUBE-NWPLCY-COMMON, -DEFAULT and -TAIL (`--netpol-default-deny` off).
fn common_chains(o: &mut Out) {
    for ch in [
        "KUBE-NWPLCY-COMMON",
        "KUBE-NWPLCY-DEFAULT",
        "KUBE-NWPLCY-TAIL",
    ] {
        o.chain(ch);
    }
    let common = "KUBE-NWPLCY-COMMON";
    // These two comments reach the kernel with their quotes (go-iptables passes argv).
    o.rule(common, r#"-m comment --comment "\"rule to drop invalid state for pod\"" -m conntrack --ctstate INVALID -j DROP"#);
    o.rule(common, r#"-m comment --comment "\"rule for stateful firewall for pod\"" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"#);
    for (t, what) in [
        (8, "echo requests"),
        (3, "destination unreachable messages"),
        (11, "time exceeded messages"),
    ] {
        o.rule(
            common,
            format!("-p icmp -m comment --comment \"allow icmp {what}\" -m icmp --icmp-type {t} -j ACCEPT"),
        );
    }
    o.rule("KUBE-NWPLCY-DEFAULT", "-m comment --comment \"rule to mark traffic matching a network policy\" -j MARK --set-xmark 0x10000/0x10000");
    o.rule(
        "KUBE-NWPLCY-TAIL",
        "-m comment --comment \"accept netpol-ok\" -m mark --mark 0x20000/0x20000 -j ACCEPT",
    );
}

/// The pods of the policy's namespace it selects.
fn targets<'a>(c: &'a Cluster, p: &NetworkPolicy) -> Vec<&'a Pod> {
    actionable(c)
        .filter(|pod| pod.namespace == p.namespace && p.pod_selector.matches(&pod.labels))
        .collect()
}

fn ip_entries<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Vec<(Elem, bool)> {
    pods.into_iter().map(|p| (Elem::Ip(p.ip), false)).collect()
}

/// `evalPodPeer` over a rule's peers: the pods they name (in cluster order, once each).
fn peer_pods<'a>(c: &'a Cluster, p: &NetworkPolicy, r: &PolicyRule) -> Vec<&'a Pod> {
    actionable(c)
        .filter(|pod| {
            r.peers.iter().any(|x| {
                matches!(x, Peer::Pods { .. })
                    && crate::policy::reference::peer_matches(
                        c,
                        p,
                        x,
                        &crate::policy::Party::Pod(pod),
                    )
            })
        })
        .collect()
}

/// `evalIPBlockPeer`: every block and (nomatch) except of the rule, in one hash:net set;
/// a /0 split in halves, as hash:net holds no zero prefix.
fn block_entries(r: &PolicyRule) -> Vec<(Elem, bool)> {
    let split = |n: Ipv4Net, nomatch: bool| -> Vec<(Elem, bool)> {
        if n.prefix == 0 {
            vec![
                (
                    Elem::Net(Ipv4Net::new(std::net::Ipv4Addr::UNSPECIFIED, 1)),
                    nomatch,
                ),
                (
                    Elem::Net(Ipv4Net::new(std::net::Ipv4Addr::new(128, 0, 0, 0), 1)),
                    nomatch,
                ),
            ]
        } else {
            vec![(Elem::Net(n), nomatch)]
        }
    };
    let mut out = Vec::new();
    for x in &r.peers {
        if let Peer::IpBlock { cidr, except } = x {
            out.extend(split(*cidr, false));
            for e in except {
                out.extend(split(*e, true));
            }
        }
    }
    out
}

/// A rule's ports: numeric ones (protocol, `port[:end]` or none) and named ones resolved on
/// `pods` (protocol, number, the pods that expose it).
struct Ports<'a> {
    numeric: Vec<(IpProtocol, Option<String>)>,
    named: Vec<(IpProtocol, u16, Vec<&'a Pod>)>,
}

fn ports<'a>(list: &[PolicyPort], pods: &[&'a Pod]) -> Ports<'a> {
    let mut out = Ports {
        numeric: Vec::new(),
        named: Vec::new(),
    };
    for x in list {
        match &x.port {
            None => out.numeric.push((x.protocol, None)),
            Some(PortRef::Number(n)) => {
                let range = match x.end_port {
                    Some(e) if e >= *n => format!("{n}:{e}"),
                    _ => n.to_string(),
                };
                out.numeric.push((x.protocol, Some(range)));
            }
            Some(PortRef::Name(name)) => {
                // namedPort2eps[name][protocol]: each number the name stands for.
                let mut numbers: Vec<u16> = pods
                    .iter()
                    .flat_map(|p| p.ports())
                    .filter(|c| {
                        c.name.as_deref() == Some(name.as_str()) && c.protocol == x.protocol
                    })
                    .map(|c| c.container_port)
                    .collect();
                numbers.sort_unstable();
                numbers.dedup();
                for n in numbers {
                    let exposing: Vec<&Pod> = pods
                        .iter()
                        .copied()
                        .filter(|p| {
                            p.ports().any(|c| {
                                c.name.as_deref() == Some(name.as_str())
                                    && c.protocol == x.protocol
                                    && c.container_port == n
                            })
                        })
                        .collect();
                    out.named.push((x.protocol, n, exposing));
                }
            }
        }
    }
    out
}

/// One allow rule of a policy chain: the mark, then the RETURN (`appendRuleToPolicyChain`),
/// in iptables-save's order.
fn allow(
    o: &mut Out,
    chain: &str,
    comment: &str,
    src: Option<&str>,
    dst: Option<&str>,
    proto: Option<IpProtocol>,
    dport: Option<&str>,
) {
    let mut m = String::new();
    if let Some(p) = proto {
        let _ = write!(m, "-p {} ", p.name());
    }
    let _ = write!(m, "-m comment --comment \"{comment}\"");
    if let Some(s) = src {
        let _ = write!(m, " -m set --match-set {s} src");
    }
    if let Some(d) = dst {
        let _ = write!(m, " -m set --match-set {d} dst");
    }
    if let (Some(p), Some(d)) = (proto, dport) {
        let _ = write!(m, " -m {} --dport {d}", p.name());
    }
    o.rule(chain, format!("{m} -j MARK --set-xmark 0x10000/0x10000"));
    o.rule(
        chain,
        format!("{m} -m mark --mark 0x10000/0x10000 -j RETURN"),
    );
}

/// How a rule's named ports are written for one kind of peer.
enum Named<'a> {
    /// Each in a set of its own, of the pods exposing it (ingress; egress to pods).
    Sets(&'a [(IpProtocol, u16, String)]),
    /// As the bare number (egress with no `to`: any destination).
    Numbers,
    /// Not at all (egress to ipBlocks: kube-router writes no rule).
    Skip,
}

/// The allow rules of one peer of a policy rule: every port when the rule names none,
/// else one per numeric port, then the named ports as `named` says (comment `... np`).
fn allow_ports(
    o: &mut Out,
    chain: &str,
    what: &str,
    (src, dst): (Option<&str>, Option<&str>),
    ports: &Ports,
    all_ports: bool,
    named: Named,
) {
    if all_ports {
        allow(o, chain, what, src, dst, None, None);
        return;
    }
    for (proto, port) in &ports.numeric {
        allow(o, chain, what, src, dst, Some(*proto), port.as_deref());
    }
    let np = format!("{what} np");
    match named {
        Named::Sets(sets) => {
            for (proto, n, set) in sets {
                let n = n.to_string();
                allow(o, chain, &np, src, Some(set), Some(*proto), Some(&n));
            }
        }
        Named::Numbers => {
            for (proto, n, _) in &ports.named {
                let n = n.to_string();
                allow(o, chain, &np, src, dst, Some(*proto), Some(&n));
            }
        }
        Named::Skip => {}
    }
}

/// The sets of a rule's named ports, each of the pods exposing it
/// (`...{ingress|egress}rule{i}{j}{FAMILY}namedport`).
fn named_sets(o: &mut Out, ports: &Ports, prefix: &str) -> Vec<(IpProtocol, u16, String)> {
    ports
        .named
        .iter()
        .enumerate()
        .map(|(j, (proto, n, pods))| {
            let name = hashed("KUBE-DST-", &format!("{prefix}{j}{FAMILY}namedport"));
            let set = o.set(name, SetType::HashIp, ip_entries(pods.iter().copied()));
            (*proto, *n, set)
        })
        .collect()
}

/// A policy's chain: its ingress rules (`processIngressRules`), then its egress rules.
fn policy_rules(o: &mut Out, c: &Cluster, p: &NetworkPolicy) {
    let chain = policy_chain(p);
    o.chain(&chain);
    let key = format!("{}/{}", p.namespace, p.name);
    let base = format!("{}{}", p.namespace, p.name);
    let tgt = targets(c, p);
    if p.applies(PolicyType::Ingress) {
        let t = o.set(
            hashed("KUBE-DST-", &format!("{base}{FAMILY}")),
            SetType::HashIp,
            ip_entries(tgt.iter().copied()),
        );
        for (i, r) in p.ingress.iter().enumerate() {
            let ports = ports(&r.ports, &tgt);
            let all = r.ports.is_empty();
            let sets = named_sets(o, &ports, &format!("{base}ingressrule{i}"));
            let emit = |o: &mut Out, src: Option<&str>, what: &str| {
                let what = format!("{key} {what}");
                allow_ports(
                    o,
                    &chain,
                    &what,
                    (src, Some(&t)),
                    &ports,
                    all,
                    Named::Sets(&sets),
                );
            };
            let pods = peer_pods(c, p, r);
            if !pods.is_empty() {
                let s = o.set(
                    hashed("KUBE-SRC-", &format!("{base}ingressrule{i}{FAMILY}pod")),
                    SetType::HashIp,
                    ip_entries(pods),
                );
                emit(o, Some(&s), "ingress pods");
            }
            if r.peers.is_empty() {
                emit(o, None, "ingress any");
            }
            let blocks = block_entries(r);
            if !blocks.is_empty() {
                let b = o.set(
                    hashed("KUBE-SRC-", &format!("{base}ingressrule{i}{FAMILY}ipblock")),
                    SetType::HashNet,
                    blocks,
                );
                emit(o, Some(&b), "ingress cidr");
            }
        }
    }
    if p.applies(PolicyType::Egress) {
        let s = o.set(
            hashed("KUBE-SRC-", &format!("{base}{FAMILY}")),
            SetType::HashIp,
            ip_entries(tgt.iter().copied()),
        );
        for (i, r) in p.egress.iter().enumerate() {
            let pods = peer_pods(c, p, r);
            // Named ports resolve on the peer pods, or with no `to`, on every pod of the
            // policy's namespace (`:630-641`).
            let ns_pods: Vec<&Pod> = actionable(c)
                .filter(|x| x.namespace == p.namespace)
                .collect();
            let ports = ports(&r.ports, if r.peers.is_empty() { &ns_pods } else { &pods });
            let all = r.ports.is_empty();
            if !pods.is_empty() {
                let d = o.set(
                    hashed("KUBE-DST-", &format!("{base}egressrule{i}{FAMILY}pod")),
                    SetType::HashIp,
                    ip_entries(pods.iter().copied()),
                );
                let sets = named_sets(o, &ports, &format!("{base}egressrule{i}"));
                let what = format!("{key} egress pods");
                allow_ports(
                    o,
                    &chain,
                    &what,
                    (Some(&s), Some(&d)),
                    &ports,
                    all,
                    Named::Sets(&sets),
                );
            }
            if r.peers.is_empty() {
                let what = format!("{key} egress any");
                allow_ports(
                    o,
                    &chain,
                    &what,
                    (Some(&s), None),
                    &ports,
                    all,
                    Named::Numbers,
                );
            }
            let blocks = block_entries(r);
            if !blocks.is_empty() {
                let b = o.set(
                    hashed("KUBE-DST-", &format!("{base}egressrule{i}{FAMILY}ipblock")),
                    SetType::HashNet,
                    blocks,
                );
                let what = format!("{key} egress cidr");
                allow_ports(
                    o,
                    &chain,
                    &what,
                    (Some(&s), Some(&b)),
                    &ports,
                    all,
                    Named::Skip,
                );
            }
        }
    }
}

/// A pod's firewall chain and the jumps into it (`syncPodFirewallChains`), in the order
/// its `-I 1` inserts leave them.
fn pod_rules(o: &mut Out, c: &Cluster, pod: &Pod) {
    let fw = pod_chain(pod);
    o.chain(&fw);
    let ip = format!("{}/32", pod.ip);
    let key = pod.key();
    let selecting: Vec<&NetworkPolicy> = c
        .network_policies
        .iter()
        .filter(|p| p.namespace == pod.namespace && p.pod_selector.matches(&pod.labels))
        .collect();
    let has = |t| selecting.iter().any(|p| p.applies(t));
    o.rule(
        &fw,
        "-m comment --comment \"common netpol rules\" -j KUBE-NWPLCY-COMMON",
    );
    o.rule(&fw, format!("-d {ip} -m comment --comment \"from local node\" -m addrtype --src-type LOCAL -j ACCEPT"));
    if !has(PolicyType::Egress) {
        o.rule(
            &fw,
            format!("-s {ip} -m comment --comment \"default egress\" -j KUBE-NWPLCY-DEFAULT"),
        );
    }
    if !has(PolicyType::Ingress) {
        o.rule(
            &fw,
            format!("-d {ip} -m comment --comment \"default ingress\" -j KUBE-NWPLCY-DEFAULT"),
        );
    }
    // Written in policy order with `-I 1`: they end up in reverse.
    for p in selecting.iter().rev() {
        let addr = match (
            p.applies(PolicyType::Ingress),
            p.applies(PolicyType::Egress),
        ) {
            (true, true) => String::new(),
            (true, false) => format!("-d {ip} "),
            _ => format!("-s {ip} "),
        };
        o.rule(
            &fw,
            format!(
                "{addr}-m comment --comment \"{}/{} policy\" -j {}",
                p.namespace,
                p.name,
                policy_chain(p)
            ),
        );
    }
    o.rule(&fw, format!("-m comment --comment \"{key} log-drop\" -m mark ! --mark 0x10000/0x10000 -m limit --limit 10/min --limit-burst 10 -j NFLOG --nflog-group 100"));
    o.rule(&fw, format!("-m comment --comment \"{key} reject\" -m mark ! --mark 0x10000/0x10000 -j REJECT --reject-with icmp-port-unreachable"));
    o.rule(&fw, "-j MARK --set-xmark 0x0/0x10000");
    o.rule(
        &fw,
        "-m comment --comment \"set netpol-ok mark\" -j MARK --set-xmark 0x20000/0x20000",
    );
    let (cin, cout) = (format!("{key} in"), format!("{key} out"));
    o.rule(
        "KUBE-ROUTER-FORWARD",
        format!("-d {ip} -m comment --comment \"{cin}\" -j {fw}"),
    );
    o.rule(
        "KUBE-ROUTER-FORWARD",
        format!("-d {ip} -m physdev --physdev-is-bridged -m comment --comment \"{cin}\" -j {fw}"),
    );
    o.rule(
        "KUBE-ROUTER-FORWARD",
        format!("-s {ip} -m comment --comment \"{cout}\" -j {fw}"),
    );
    o.rule(
        "KUBE-ROUTER-FORWARD",
        format!("-s {ip} -m physdev --physdev-is-bridged -m comment --comment \"{cout}\" -j {fw}"),
    );
    o.rule(
        "KUBE-ROUTER-OUTPUT",
        format!("-d {ip} -m comment --comment \"{cin}\" -j {fw}"),
    );
    o.rule(
        "KUBE-ROUTER-OUTPUT",
        format!("-s {ip} -m comment --comment \"{cout}\" -j {fw}"),
    );
    o.rule(
        "KUBE-ROUTER-INPUT",
        format!("-s {ip} -m comment --comment \"{cout}\" -j {fw}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hash_as_kube_router_does() {
        // docs/design/kube-router-netpol.md 0.2, from kube-router's tests and fixtures.
        assert_eq!(
            hashed("KUBE-NWPLCY-", "nsAsimple-egress1IPv4"),
            "KUBE-NWPLCY-C23KD7UE4TAT3Y5M"
        );
        assert_eq!(
            hashed("KUBE-DST-", "defaultwhoamiIPv4"),
            "KUBE-DST-IZ5JGF4W6BKI7CEV"
        );
        assert_eq!(
            hashed("KUBE-SRC-", "defaultwhoamiingressrule0IPv4ipblock"),
            "KUBE-SRC-KLLOHJLFVAV654Z2"
        );
        let spec = |c| ["-m", "comment", "--comment", "kube-router netpol", "-j", c];
        assert_eq!(
            uuid("INPUT", &spec("KUBE-ROUTER-INPUT")),
            "4IA2OSFRMVNDXBVV"
        );
        assert_eq!(
            uuid("FORWARD", &spec("KUBE-ROUTER-FORWARD")),
            "TEMCG2JMHZYE7H7T"
        );
        assert_eq!(
            uuid("OUTPUT", &spec("KUBE-ROUTER-OUTPUT")),
            "VEAAIY32XVBHCSCY"
        );
        assert_eq!(
            uuid(
                "KUBE-ROUTER-INPUT",
                &[
                    "-m",
                    "comment",
                    "--comment",
                    "allow traffic to primary/secondary cluster IP range",
                    "-d",
                    "10.96.0.0/12",
                    "-j",
                    "RETURN"
                ]
            ),
            "BVHX2PIHDXXEO43X"
        );
    }
}
