//! Cluster DNS as CoreDNS's kubernetes plugin answers it, seen through a pod's resolver
//! (`/etc/resolv.conf`: the kube-dns ClusterIP as nameserver, `search <ns>.svc.cluster.local
//! svc.cluster.local cluster.local`, `options ndots:5`).
//!
//! - `<svc>.<ns>.svc.cluster.local` A: the ClusterIP.
//! - headless Service: one A record per ready endpoint pod.
//! - ExternalName Service: a CNAME to its external name.

use crate::cluster::{Cluster, ServiceType};
use std::net::Ipv4Addr;

pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// What the resolver got for one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    A(Vec<Ipv4Addr>),
    Cname(String),
    NxDomain,
}

/// The whole lookup: every query the resolver sent, in order, and what came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub queries: Vec<(String, Answer)>,
    /// The addresses finally obtained (empty: the name did not resolve).
    pub addrs: Vec<Ipv4Addr>,
}

/// Answer one fully qualified name from the cluster's Services.
pub fn answer(cluster: &Cluster, fqdn: &str) -> Answer {
    let name = fqdn.trim_end_matches('.');
    let suffix = format!(".svc.{CLUSTER_DOMAIN}");
    let Some(rest) = name.strip_suffix(&suffix) else {
        // Outside the cluster domain CoreDNS forwards upstream: public DNS knows the
        // scenario's internet hosts by their dnsName.
        let host = cluster
            .internet
            .iter()
            .flat_map(|i| &i.hosts)
            .find(|h| h.dns_name.as_deref().map(|d| d.trim_end_matches('.')) == Some(name));
        return match host {
            Some(h) => Answer::A(vec![h.ip]),
            None => Answer::NxDomain,
        };
    };
    let Some((svc_name, ns)) = rest.split_once('.') else {
        return Answer::NxDomain;
    };
    let Some(svc) = cluster.service(&format!("{ns}/{svc_name}")) else {
        return Answer::NxDomain;
    };
    if svc.kind == ServiceType::ExternalName {
        return match &svc.external_name {
            Some(n) => Answer::Cname(n.clone()),
            None => Answer::NxDomain,
        };
    }
    if svc.is_headless() {
        // CoreDNS answers with the ready addresses of the Service's EndpointSlices.
        let mut ips: Vec<Ipv4Addr> = cluster
            .slices_of(svc)
            .flat_map(|s| &s.endpoints)
            .filter(|e| e.conditions.ready)
            .map(|e| e.address)
            .collect();
        ips.sort();
        ips.dedup();
        return if ips.is_empty() {
            Answer::NxDomain
        } else {
            Answer::A(ips)
        };
    }
    match svc.cluster_ip() {
        Some(ip) => Answer::A(vec![ip]),
        None => Answer::NxDomain,
    }
}

/// Resolve `name` as a pod in namespace `pod_ns` would: with fewer than 5 dots (ndots:5),
/// the search domains are tried first, then the name as given. A CNAME is followed once
/// (to a name outside the cluster, which kpath's resolver cannot answer).
pub fn resolve(cluster: &Cluster, name: &str, pod_ns: &str) -> Lookup {
    let absolute = name.ends_with('.');
    let dots = name.trim_end_matches('.').matches('.').count();
    let mut candidates: Vec<String> = Vec::new();
    if !absolute && dots < 5 {
        for d in [
            format!("{pod_ns}.svc.{CLUSTER_DOMAIN}"),
            format!("svc.{CLUSTER_DOMAIN}"),
            CLUSTER_DOMAIN.to_string(),
        ] {
            candidates.push(format!("{name}.{d}"));
        }
    }
    candidates.push(name.trim_end_matches('.').to_string());
    let mut queries = Vec::new();
    for c in candidates {
        let a = answer(cluster, &c);
        let done = a != Answer::NxDomain;
        queries.push((c, a.clone()));
        if done {
            let addrs = match a {
                Answer::A(ips) => ips,
                Answer::Cname(target) => {
                    let t = answer(cluster, &target);
                    queries.push((target, t.clone()));
                    match t {
                        Answer::A(ips) => ips,
                        _ => Vec::new(),
                    }
                }
                Answer::NxDomain => Vec::new(),
            };
            return Lookup { queries, addrs };
        }
    }
    Lookup {
        queries,
        addrs: Vec::new(),
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::A(ips) => {
                let v: Vec<String> = ips.iter().map(|i| i.to_string()).collect();
                write!(f, "A {}", v.join(", "))
            }
            Answer::Cname(n) => write!(f, "CNAME {n}"),
            Answer::NxDomain => write!(f, "NXDOMAIN"),
        }
    }
}
