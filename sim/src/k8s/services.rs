//! Services and their endpoints, as the EndpointSlice controller derives them: the ready
//! pods the selector matches, with the target port resolved (by number, or by the name of
//! a container port).

use crate::scenario::{IpProtocol, Pod, Scenario, Service, ServicePort, ServiceType, TargetPort};
use std::net::Ipv4Addr;

/// One endpoint of a Service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// `namespace/name` of the pod.
    pub pod: String,
    pub node: String,
}

impl Endpoint {
    /// `ip:port`, as kube-proxy prints and hashes it.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// A Service port with everything a proxy needs.
#[derive(Clone, Debug)]
pub struct ServicePortInfo<'a> {
    pub svc: &'a Service,
    pub port: &'a ServicePort,
    /// `ns/name:port` (`:port` only for named ports): kube-proxy's ServicePortName.
    pub name: String,
    /// Ready endpoints, sorted by `ip:port` as kube-proxy sorts them.
    pub endpoints: Vec<Endpoint>,
}

impl ServicePortInfo<'_> {
    pub fn protocol(&self) -> &'static str {
        self.port.protocol.name()
    }

    pub fn node_port(&self) -> Option<u16> {
        match self.svc.kind {
            ServiceType::NodePort | ServiceType::LoadBalancer => {
                self.port.node_port.as_ref().map(|n| n.value)
            }
            _ => None,
        }
    }
}

/// Does the pod carry every label of the selector? An empty selector selects nothing
/// (such Services get their endpoints by hand, which kpath does not model).
pub fn selects(svc: &Service, pod: &Pod) -> bool {
    pod.namespace == svc.namespace
        && !svc.selector.is_empty()
        && svc
            .selector
            .iter()
            .all(|(k, v)| pod.labels.get(k) == Some(v))
}

/// The port on the pod a Service port targets, or None when a named target port is not a
/// port of the pod (the pod is then not an endpoint of that port).
pub fn target_port(port: &ServicePort, pod: &Pod) -> Option<u16> {
    match port.target_port.as_ref().map(|t| &t.value) {
        None => Some(port.port.value),
        Some(TargetPort::Number(n)) => Some(*n),
        Some(TargetPort::Name(name)) => pod
            .containers
            .iter()
            .flat_map(|c| &c.ports)
            .find(|p| p.name.as_deref() == Some(name) && p.protocol == port.protocol)
            .map(|p| p.container_port.value),
    }
}

/// Every Service port that a proxy programs (not ExternalName, not headless), sorted by
/// port name. kube-proxy walks a Go map (random order); kpath sorts, as kube-proxy's own
/// tests do, so that output is stable.
pub fn service_ports(s: &Scenario) -> Vec<ServicePortInfo<'_>> {
    let mut out: Vec<ServicePortInfo> = Vec::new();
    for svc in &s.services {
        if svc.kind == ServiceType::ExternalName || svc.is_headless() || svc.cluster_ip().is_none()
        {
            continue;
        }
        for port in &svc.ports {
            let name = match &port.name {
                Some(n) if !n.is_empty() => format!("{}:{n}", svc.key()),
                _ => svc.key(),
            };
            out.push(ServicePortInfo {
                svc,
                port,
                name,
                endpoints: endpoints(s, svc, port),
            });
        }
    }
    out.sort_by(|a, b| (a.name.as_str(), a.protocol()).cmp(&(b.name.as_str(), b.protocol())));
    out
}

/// The ready endpoints of one Service port.
pub fn endpoints(s: &Scenario, svc: &Service, port: &ServicePort) -> Vec<Endpoint> {
    let mut eps: Vec<Endpoint> = s
        .pods
        .iter()
        .filter(|p| p.ready && selects(svc, p))
        .filter_map(|p| {
            Some(Endpoint {
                ip: p.ip.value,
                port: target_port(port, p)?,
                pod: p.key(),
                node: p.node.value.clone(),
            })
        })
        .collect();
    eps.sort_by_key(|e| e.addr());
    eps
}

/// ICMP never reaches a Service port; protocol names for rules.
pub fn proto_ok(p: IpProtocol) -> bool {
    p != IpProtocol::Icmp
}
