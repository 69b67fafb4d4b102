//! Cluster DNS as CoreDNS's kubernetes plugin answers it, seen through a pod's resolver
//! (kubelet writes `/etc/resolv.conf`: the kube-dns ClusterIP as nameserver, `search
//! <ns>.svc.cluster.local svc.cluster.local cluster.local`, `options ndots:5`).
//!
//! - `<svc>.<ns>.svc.cluster.local` A: the ClusterIP.
//! - headless Service: one A record per ready endpoint.
//! - ExternalName Service: a CNAME to its external name, and the target's A records, which
//!   CoreDNS looks up itself (`plugin/backend_lookup.go`, `A()`).
//! - Any other name in cluster.local: NXDOMAIN with the zone's SOA (`plugin.SOA`).
//! - Names outside the cluster domain go upstream (the `forward` plugin): public DNS knows
//!   the scenario's internet hosts by their `dnsName`.
//!
//! The replies are DNS messages ([`crate::wire::dns`]), built here and sent by the engine.

use crate::cluster::{Cluster, ServiceType};
use crate::wire::IpProtocol;
use crate::wire::dns::{self, Dns, RData, Record, Soa};
use std::net::Ipv4Addr;

pub const CLUSTER_DOMAIN: &str = "cluster.local";
/// kubeadm's Corefile: `kubernetes cluster.local in-addr.arpa ip6.arpa { ... ttl 30 }`.
pub const TTL: u32 = 30;
/// The Service kubelet's `clusterDNS` points at, as kubeadm and every distribution name it.
pub const KUBE_DNS: &str = "kube-system/kube-dns";
/// The zone's SOA serial is the time the zone last changed (`k.Serial`); kpath has no clock.
const SOA_SERIAL: u32 = 1;

/// CoreDNS's reply to one question: header flags (AA, RA, rcode), the answer and authority
/// sections, and how CoreDNS came by it, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub flags: u16,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub how: String,
}

impl Reply {
    pub fn is_nxdomain(&self) -> bool {
        self.flags & 0x000f == dns::RCODE_NXDOMAIN
    }

    /// The A records' addresses, in order.
    pub fn addrs(&self) -> Vec<Ipv4Addr> {
        dns::addresses(&self.answers)
    }

    /// The reply as a message answering query `q` (its id and question, RD copied).
    pub fn message(&self, q: &Dns) -> Dns {
        Dns {
            id: q.id,
            flags: dns::FLAG_QR | (q.flags & dns::FLAG_RD) | self.flags,
            questions: q.questions.clone(),
            answers: self.answers.clone(),
            authority: self.authority.clone(),
            additional: Vec::new(),
        }
    }
}

/// `A 10.96.0.20`, `CNAME db.example.com, A 203.0.113.20`, `NXDOMAIN`.
impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_nxdomain() {
            return f.write_str("NXDOMAIN");
        }
        let mut parts: Vec<String> = Vec::new();
        for r in &self.answers {
            match &r.data {
                RData::Cname(n) => parts.push(format!("CNAME {n}")),
                RData::A(ip) => match parts.last_mut() {
                    Some(last) if last.starts_with("A ") => *last += &format!(", {ip}"),
                    _ => parts.push(format!("A {ip}")),
                },
                other => parts.push(dns::type_name(other.rtype())),
            }
        }
        if parts.is_empty() {
            return f.write_str("no records");
        }
        f.write_str(&parts.join(", "))
    }
}

fn a(name: &str, ip: Ipv4Addr) -> Record {
    Record {
        name: name.to_string(),
        class: dns::CLASS_IN,
        ttl: TTL,
        data: RData::A(ip),
    }
}

/// The kubernetes plugin's NXDOMAIN: authoritative, with the zone's SOA.
fn nxdomain(how: String) -> Reply {
    Reply {
        flags: dns::FLAG_AA | dns::RCODE_NXDOMAIN,
        answers: Vec::new(),
        authority: vec![Record {
            name: CLUSTER_DOMAIN.into(),
            class: dns::CLASS_IN,
            ttl: TTL,
            data: RData::Soa(Soa {
                mname: format!("ns.dns.{CLUSTER_DOMAIN}"),
                rname: format!("hostmaster.{CLUSTER_DOMAIN}"),
                serial: SOA_SERIAL,
                refresh: 7200,
                retry: 1800,
                expire: 86400,
                minimum: TTL,
            }),
        }],
        how,
    }
}

/// Answer one fully qualified name of type A.
pub fn answer(cluster: &Cluster, fqdn: &str) -> Reply {
    let name = fqdn.trim_end_matches('.');
    let in_zone = name == CLUSTER_DOMAIN || name.ends_with(&format!(".{CLUSTER_DOMAIN}"));
    if !in_zone {
        return upstream(cluster, name);
    }
    let suffix = format!(".svc.{CLUSTER_DOMAIN}");
    let not_found = |what: String| nxdomain(format!("the kubernetes plugin finds {what}"));
    let Some((svc_name, ns)) = name.strip_suffix(&suffix).and_then(|r| r.split_once('.')) else {
        return not_found(format!("no Service named {name}"));
    };
    let Some(svc) = cluster.service(&format!("{ns}/{svc_name}")) else {
        return not_found(format!("no Service {ns}/{svc_name}"));
    };
    let authoritative = |answers: Vec<Record>, how: String| Reply {
        flags: dns::FLAG_AA,
        answers,
        authority: Vec::new(),
        how,
    };
    if svc.kind == ServiceType::ExternalName {
        let Some(target) = &svc.external_name else {
            return not_found(format!(
                "ExternalName Service {ns}/{svc_name} without a name"
            ));
        };
        let then = answer(cluster, target);
        let mut answers = vec![Record {
            name: name.to_string(),
            class: dns::CLASS_IN,
            ttl: TTL,
            data: RData::Cname(target.trim_end_matches('.').to_string()),
        }];
        answers.extend(then.answers.iter().cloned());
        return authoritative(
            answers,
            format!(
                "the kubernetes plugin's CNAME for ExternalName Service {ns}/{svc_name}; CoreDNS resolves {target} itself: {}",
                then.how
            ),
        );
    }
    if svc.is_headless() {
        let mut ips: Vec<Ipv4Addr> = cluster
            .slices_of(svc)
            .flat_map(|s| &s.endpoints)
            .filter(|e| e.conditions.ready)
            .map(|e| e.address)
            .collect();
        ips.sort();
        ips.dedup();
        if ips.is_empty() {
            return not_found(format!(
                "no ready endpoint of headless Service {ns}/{svc_name}"
            ));
        }
        return authoritative(
            ips.iter().map(|ip| a(name, *ip)).collect(),
            format!(
                "the kubernetes plugin's records for the ready endpoints of headless Service {ns}/{svc_name}"
            ),
        );
    }
    match svc.cluster_ip() {
        Some(ip) => authoritative(
            vec![a(name, ip)],
            format!("the kubernetes plugin's record for the ClusterIP of {ns}/{svc_name}"),
        ),
        None => not_found(format!("no ClusterIP for {ns}/{svc_name}")),
    }
}

/// A name outside the cluster domain: the `forward` plugin asks the upstream servers, which
/// answer recursively (RA set, not authoritative).
fn upstream(cluster: &Cluster, name: &str) -> Reply {
    let host = cluster
        .internet
        .iter()
        .flat_map(|i| &i.hosts)
        .find(|h| h.dns_name.as_deref().map(|d| d.trim_end_matches('.')) == Some(name));
    let how = "forwarded upstream (the forward plugin; kpath does not walk the upstream query)";
    match host {
        Some(h) => Reply {
            flags: dns::FLAG_RA,
            answers: vec![a(name, h.ip)],
            authority: Vec::new(),
            how: format!(
                "{how}, where public DNS knows {name} as internet host {}",
                h.name
            ),
        },
        None => Reply {
            flags: dns::FLAG_RA | dns::RCODE_NXDOMAIN,
            answers: Vec::new(),
            authority: Vec::new(),
            how: format!("{how}, where no internet host of the scenario has dnsName {name}"),
        },
    }
}

/// One question the resolver sends, and CoreDNS's reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub name: String,
    pub reply: Reply,
}

impl Query {
    /// The question as the resolver writes it (`res_nmkquery`), with id `id`.
    pub fn message(&self, id: u16) -> Dns {
        Dns::query(id, &self.name, dns::TYPE_A)
    }
}

/// The whole lookup: every question the resolver sent, in order, and what came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The search domains tried (the pod's resolv.conf).
    pub search: Vec<String>,
    pub queries: Vec<Query>,
    /// The addresses finally obtained (empty: the name did not resolve).
    pub addrs: Vec<Ipv4Addr>,
}

/// Resolve `name` as a pod in namespace `pod_ns` would (glibc's `res_nsearch`): with fewer
/// than 5 dots (ndots:5), the search domains are tried first, then the name as given; the
/// first reply that is not NXDOMAIN ends the search.
pub fn resolve(cluster: &Cluster, name: &str, pod_ns: &str) -> Lookup {
    let search = vec![
        format!("{pod_ns}.svc.{CLUSTER_DOMAIN}"),
        format!("svc.{CLUSTER_DOMAIN}"),
        CLUSTER_DOMAIN.to_string(),
    ];
    let absolute = name.ends_with('.');
    let bare = name.trim_end_matches('.');
    let dots = bare.matches('.').count();
    let mut candidates: Vec<String> = Vec::new();
    if !absolute && dots < 5 {
        candidates.extend(search.iter().map(|d| format!("{bare}.{d}")));
    }
    candidates.push(bare.to_string());
    let mut queries = Vec::new();
    for c in candidates {
        let reply = answer(cluster, &c);
        let done = !reply.is_nxdomain();
        queries.push(Query { name: c, reply });
        if done {
            break;
        }
    }
    let addrs = queries.last().map(|q| q.reply.addrs()).unwrap_or_default();
    Lookup {
        search,
        queries,
        addrs,
    }
}

/// Where pods send their queries: the kube-dns Service's ClusterIP and its UDP port 53, or
/// why the scenario has none.
pub fn server(cluster: &Cluster) -> Result<(Ipv4Addr, u16), String> {
    let Some(svc) = cluster.service(KUBE_DNS) else {
        return Err(format!("the scenario has no {KUBE_DNS} Service"));
    };
    let Some(ip) = svc.cluster_ip() else {
        return Err(format!("{KUBE_DNS} has no ClusterIP"));
    };
    if !svc
        .ports
        .iter()
        .any(|p| p.protocol == IpProtocol::Udp && p.port == dns::DNS_PORT)
    {
        return Err(format!("{KUBE_DNS} has no port 53/UDP"));
    }
    Ok((ip, dns::DNS_PORT))
}
