//! One API object made the scenario's entry for it: a Pod, a Service, a hand-written
//! EndpointSlice, a NetworkPolicy, a Namespace. What kpath cannot model (IPv6 addresses,
//! SCTP ports, a pod with no address yet) is left out with a note saying so; what the API
//! server would have refused is a located error.

use super::objects::{self, Object};
use super::{Notes, like, plain};
use crate::cluster::{SessionAffinity, TrafficPolicy};
use crate::diag::InputError;
use crate::scenario::{self, IpProtocol, ServiceType, endpoint_slice as es, network_policy as np};
use crate::wire::Ipv4Net;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Errors point into this text.
pub struct Src<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Src<'_> {
    pub fn err<T>(&self, at: &Spanned<T>, msg: impl Into<String>) -> InputError {
        let l = at.referenced;
        if l == serde_saphyr::Location::UNKNOWN {
            InputError::whole_file(self.file, msg)
        } else {
            InputError::at(
                self.file,
                self.text,
                l.line() as usize,
                l.column() as usize,
                msg,
            )
        }
    }

    /// The object's name, which every object must have.
    pub fn name<'o>(&self, o: &'o Object) -> Result<&'o Spanned<String>, InputError> {
        match (&o.metadata.name, &o.kind) {
            (Some(n), _) => Ok(n),
            (None, Some(k)) => Err(self
                .err(k, format!("this {} has no metadata.name", k.value))
                .with_hint("every object needs `metadata: {name: ...}`")),
            (None, None) => Err(InputError::whole_file(
                self.file,
                "an object has no kind and no name",
            )),
        }
    }
}

/// The first IPv4 address of a list that may hold IPv6 ones (dual-stack `podIPs`,
/// `clusterIPs`).
fn first_v4<'a>(ips: impl IntoIterator<Item = &'a str>) -> Option<Ipv4Addr> {
    ips.into_iter().find_map(|i| i.parse().ok())
}

fn protocol(src: &Src, p: &Option<Spanned<String>>) -> Result<Option<IpProtocol>, InputError> {
    match p.as_ref().map(|p| (p, p.value.as_str())) {
        None | Some((_, "TCP")) => Ok(Some(IpProtocol::Tcp)),
        Some((_, "UDP")) => Ok(Some(IpProtocol::Udp)),
        Some((_, "SCTP")) => Ok(None),
        Some((p, other)) => Err(src
            .err(p, format!("`{other}` is not a protocol of the API"))
            .with_hint("the API takes TCP, UDP or SCTP")),
    }
}

/// A Pod that has a node, or None with a note: pending, finished, or IPv6-only.
pub fn pod(src: &Src, o: &Object, notes: &mut Notes) -> Result<Option<scenario::Pod>, InputError> {
    let name = src.name(o)?;
    let key = o.key();
    let spec = &o.spec;
    if matches!(o.status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        notes.left_out(format!(
            "pod {key} has finished ({}): it holds no address",
            o.status.phase.as_deref().unwrap_or("")
        ));
        return Ok(None);
    }
    let Some(node) = &spec.node_name else {
        notes.left_out(format!("pod {key} is not scheduled (no spec.nodeName)"));
        return Ok(None);
    };
    if let Some(at) = &o.status.pod_ip
        && at.value.parse::<Ipv4Addr>().is_err()
        && !at.value.contains(':')
    {
        return Err(src
            .err(at, format!("`{}` is not an IP address", at.value))
            .with_hint("status.podIP is the pod's address, e.g. 10.244.1.5"));
    }
    let ip = if spec.host_network {
        None
    } else {
        let listed = o.status.pod_ips.iter().map(|p| p.ip.as_str());
        let v4 = first_v4(listed.chain(o.status.pod_ip.as_ref().map(|p| p.value.as_str())));
        match (v4, &o.status.pod_ip) {
            (Some(ip), Some(at)) => Some(like(ip, at)),
            (Some(ip), None) => Some(plain(ip)),
            (None, Some(at)) => {
                notes.not_modelled(format!(
                    "pod {key} has only an IPv6 address ({}); kpath models IPv4",
                    at.value
                ));
                return Ok(None);
            }
            (None, None) => {
                notes.left_out(format!("pod {key} has no address yet (status.podIP)"));
                return Ok(None);
            }
        }
    };
    let ready = o
        .status
        .conditions
        .iter()
        .any(|c| c.kind == "Ready" && c.status == "True");
    Ok(Some(scenario::Pod {
        namespace: o.namespace().to_string(),
        name: name.clone(),
        node: node.clone(),
        ip,
        host_network: spec.host_network,
        labels: o.metadata.labels.clone(),
        ready,
        terminating: o.metadata.deletion_timestamp.is_some(),
        containers: containers(src, &spec.containers, &key, notes)?,
    }))
}

pub fn containers(
    src: &Src,
    cs: &[objects::Container],
    key: &str,
    notes: &mut Notes,
) -> Result<Vec<scenario::Container>, InputError> {
    let mut out = Vec::new();
    for c in cs {
        let mut ports = Vec::new();
        for p in &c.ports {
            let Some(protocol) = protocol(src, &p.protocol)? else {
                notes.not_modelled(format!(
                    "pod {key}: SCTP port {} (kpath walks TCP, UDP and ICMP)",
                    p.container_port.value
                ));
                continue;
            };
            ports.push(scenario::ContainerPort {
                container_port: p.container_port.clone(),
                protocol,
                name: p.name.clone(),
            });
        }
        out.push(scenario::Container {
            name: c.name.clone(),
            image: c.image.clone(),
            ports,
        });
    }
    Ok(out)
}

/// A Service selector's `{key: value}`.
pub fn string_map(v: &Option<serde_json::Value>) -> BTreeMap<String, String> {
    let Some(serde_json::Value::Object(m)) = v else {
        return BTreeMap::new();
    };
    m.iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

fn enum_value<T>(
    src: &Src,
    v: &Option<Spanned<String>>,
    values: &[(&str, T)],
    field: &str,
) -> Result<Option<T>, InputError>
where
    T: Copy,
{
    let Some(v) = v else { return Ok(None) };
    match values.iter().find(|(n, _)| *n == v.value) {
        Some((_, t)) => Ok(Some(*t)),
        None => {
            let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
            Err(src
                .err(v, format!("`{}` is not a value of {field}", v.value))
                .with_hint(format!("the API takes {}", names.join(", "))))
        }
    }
}

/// A Service with every field kube-proxy reads, or None with a note (IPv6 only).
pub fn service(
    src: &Src,
    o: &Object,
    notes: &mut Notes,
) -> Result<Option<scenario::Service>, InputError> {
    let name = src.name(o)?;
    let key = o.key();
    let spec = &o.spec;
    let mut kind = enum_value(
        src,
        &spec.kind,
        &[
            ("ClusterIP", ServiceType::ClusterIP),
            ("NodePort", ServiceType::NodePort),
            ("LoadBalancer", ServiceType::LoadBalancer),
            ("ExternalName", ServiceType::ExternalName),
        ],
        "spec.type",
    )?
    .unwrap_or_default();
    let cluster_ip = match &spec.cluster_ip {
        Some(c) if c.value == "None" || c.value.is_empty() => Some(c.clone()),
        Some(c) => {
            let all = spec.cluster_ips.iter().map(String::as_str);
            match first_v4(std::iter::once(c.value.as_str()).chain(all)) {
                Some(ip) => Some(like(ip.to_string(), c)),
                None if c.value.contains(':') => {
                    notes.not_modelled(format!(
                        "Service {key} is IPv6 only ({}); kpath models IPv4",
                        c.value
                    ));
                    return Ok(None);
                }
                None => {
                    return Err(src
                        .err(c, format!("`{}` is not an IP address", c.value))
                        .with_hint("spec.clusterIP is an address of the service CIDR, or None for a headless Service"));
                }
            }
        }
        None => None,
    };
    if spec.cluster_ips.len() > 1 || spec.ip_families.len() > 1 {
        notes.not_modelled(format!(
            "Service {key} is dual-stack: its IPv4 half is kept"
        ));
    }
    let mut ports = Vec::new();
    for p in &spec.ports {
        let Some(protocol) = protocol(src, &p.protocol)? else {
            notes.not_modelled(format!(
                "Service {key}: SCTP port {} (kpath walks TCP, UDP and ICMP)",
                p.port.value
            ));
            continue;
        };
        ports.push(scenario::ServicePort {
            name: p.name.clone(),
            port: p.port.clone(),
            target_port: p.target_port.clone(),
            protocol,
            node_port: p.node_port.clone().filter(|n| n.value != 0),
        });
    }
    let v4 = |what: &str, s: &Spanned<String>| -> Result<Option<Spanned<Ipv4Addr>>, InputError> {
        match s.value.parse::<Ipv4Addr>() {
            Ok(ip) => Ok(Some(like(ip, s))),
            Err(_) if s.value.contains(':') => Ok(None),
            Err(_) => Err(src.err(s, format!("`{}` is not an IP address ({what})", s.value))),
        }
    };
    let mut external_ips = Vec::new();
    for e in &spec.external_ips {
        external_ips.extend(v4("spec.externalIPs", e)?);
    }
    let mut load_balancer_ip = None;
    if kind == ServiceType::LoadBalancer {
        let ingress = o.status.load_balancer.iter().flat_map(|l| &l.ingress);
        load_balancer_ip = first_v4(ingress.filter_map(|i| i.ip.as_deref())).map(plain);
        if load_balancer_ip.is_none()
            && let Some(l) = &spec.load_balancer_ip
        {
            load_balancer_ip = v4("spec.loadBalancerIP", l)?;
        }
        if load_balancer_ip.is_none() {
            notes.assumed(format!("LoadBalancer Service {key} has no ingress address yet (pending): written as a NodePort Service, which is what kube-proxy serves for it"));
            kind = ServiceType::NodePort;
        }
    }
    let mut ranges = Vec::new();
    for r in &spec.load_balancer_source_ranges {
        match r.value.trim().parse::<Ipv4Net>() {
            Ok(n) => ranges.push(like(n, r)),
            Err(_) if r.value.contains(':') => {}
            Err(_) => {
                return Err(src
                    .err(r, format!("`{}` is not a CIDR", r.value))
                    .with_hint("loadBalancerSourceRanges are CIDRs, e.g. 203.0.113.0/24"));
            }
        }
    }
    let policy = [
        ("Cluster", TrafficPolicy::Cluster),
        ("Local", TrafficPolicy::Local),
    ];
    let timeout = spec
        .session_affinity_config
        .as_ref()
        .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
        .and_then(serde_json::Value::as_u64)
        .map_or(10800, |t| t.min(86400) as u32);
    Ok(Some(scenario::Service {
        namespace: o.namespace().to_string(),
        name: name.clone(),
        kind,
        cluster_ip: cluster_ip.filter(|c| !c.value.is_empty()),
        selector: string_map(&spec.selector),
        ports,
        external_ips,
        load_balancer_ip,
        load_balancer_source_ranges: ranges,
        external_traffic_policy: enum_value(
            src,
            &spec.external_traffic_policy,
            &policy,
            "spec.externalTrafficPolicy",
        )?
        .unwrap_or_default(),
        internal_traffic_policy: enum_value(
            src,
            &spec.internal_traffic_policy,
            &policy,
            "spec.internalTrafficPolicy",
        )?
        .unwrap_or_default(),
        session_affinity: enum_value(
            src,
            &spec.session_affinity,
            &[
                ("None", SessionAffinity::None),
                ("ClientIP", SessionAffinity::ClientIP),
            ],
            "spec.sessionAffinity",
        )?
        .unwrap_or_default(),
        session_affinity_timeout: timeout,
        external_name: spec.external_name.clone(),
        health_check_node_port: spec.health_check_node_port,
    }))
}

/// The label the EndpointSlice controller puts on the slices it writes; kpath derives
/// those from selectors and pods.
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";

/// A slice as the scenario writes one by hand, or None with a note (not IPv4, or for no
/// Service).
pub fn endpoint_slice(
    src: &Src,
    o: &Object,
    notes: &mut Notes,
) -> Result<Option<es::EndpointSliceSpec>, InputError> {
    let name = src.name(o)?;
    let key = o.key();
    match o.address_type.as_deref() {
        Some("IPv4") | None => {}
        Some(other) => {
            notes.not_modelled(format!(
                "EndpointSlice {key} holds {other} addresses; kpath models IPv4"
            ));
            return Ok(None);
        }
    }
    let Some(service) = o.metadata.labels.get(SERVICE_NAME) else {
        notes.left_out(format!(
            "EndpointSlice {key} has no {SERVICE_NAME} label: kube-proxy reads it for no Service"
        ));
        return Ok(None);
    };
    let mut ports = Vec::new();
    for p in &o.ports {
        let proto = p.protocol.as_ref().map(|p| plain(p.clone()));
        let Some(protocol) = protocol(src, &proto)? else {
            continue;
        };
        let Some(port) = p.port else { continue };
        ports.push(es::SlicePortSpec {
            name: p.name.clone(),
            port: plain(port),
            protocol,
        });
    }
    let mut endpoints = Vec::new();
    for e in &o.endpoints {
        let mut addresses = Vec::new();
        for a in &e.addresses {
            match a.value.parse::<Ipv4Addr>() {
                Ok(ip) => addresses.push(like(ip, a)),
                Err(_) => {
                    return Err(src
                        .err(a, format!("`{}` is not an IPv4 address", a.value))
                        .with_hint("an IPv4 slice's endpoints have IPv4 addresses"));
                }
            }
        }
        endpoints.push(es::SliceEndpointSpec {
            addresses,
            ready: e.conditions.ready,
            serving: e.conditions.serving,
            terminating: e.conditions.terminating.unwrap_or(false),
            node_name: e.node_name.clone().map(plain),
        });
    }
    Ok(Some(es::EndpointSliceSpec {
        name: name.clone(),
        namespace: o.namespace().to_string(),
        service: like(service.clone(), name),
        ports,
        endpoints,
    }))
}

pub fn network_policy(src: &Src, o: &Object) -> Result<np::NetworkPolicySpec, InputError> {
    let name = src.name(o)?;
    let spec = &o.spec;
    Ok(np::NetworkPolicySpec {
        name: name.clone(),
        namespace: like(o.namespace().to_string(), name),
        pod_selector: spec
            .pod_selector
            .clone()
            .unwrap_or_else(|| like(np::SelectorSpec::default(), name)),
        policy_types: spec.policy_types.clone(),
        ingress: spec.ingress.clone().unwrap_or_default(),
        egress: spec.egress.clone().unwrap_or_default(),
    })
}

pub fn namespace(src: &Src, o: &Object) -> Result<np::NamespaceSpec, InputError> {
    let name = src.name(o)?;
    let mut labels = o.metadata.labels.clone();
    labels.remove(crate::cluster::METADATA_NAME_LABEL);
    Ok(np::NamespaceSpec {
        name: name.clone(),
        labels,
    })
}
