//! A Service's ports as a proxy sees them: each port of each Service that has a ClusterIP,
//! with its ready endpoints read from the Service's EndpointSlices, the way kube-proxy's
//! EndpointSliceCache matches a slice's ports to a Service port by name and protocol.

use crate::cluster::{Cluster, EndpointSlice, Service, ServicePort, ServiceType};
use crate::wire::IpProtocol;
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
            ServiceType::NodePort | ServiceType::LoadBalancer => self.port.node_port,
            _ => None,
        }
    }
}

/// Every Service port that a proxy programs (not ExternalName, not headless), sorted by
/// port name. kube-proxy walks a Go map (random order); kpath sorts, as kube-proxy's own
/// tests do, so that output is stable.
pub fn service_ports(cluster: &Cluster) -> Vec<ServicePortInfo<'_>> {
    let mut out: Vec<ServicePortInfo> = Vec::new();
    // One pass over the slices, not one per Service: kube-proxy's EndpointSliceCache keys
    // slices by Service the same way.
    let slices = cluster.slices_by_service();
    for svc in &cluster.services {
        let own = slices
            .get(&(svc.namespace.as_str(), svc.name.as_str()))
            .map_or(&[][..], Vec::as_slice);
        if svc.kind == ServiceType::ExternalName || svc.cluster_ip().is_none() {
            continue;
        }
        for port in &svc.ports {
            let name = match port.name() {
                "" => svc.key(),
                n => format!("{}:{n}", svc.key()),
            };
            out.push(ServicePortInfo {
                svc,
                port,
                name,
                endpoints: endpoints(own, port),
            });
        }
    }
    out.sort_by(|a, b| (a.name.as_str(), a.protocol()).cmp(&(b.name.as_str(), b.protocol())));
    out
}

/// The ready endpoints of one Service port, from the Service's EndpointSlices, each once.
fn endpoints(slices: &[&EndpointSlice], port: &ServicePort) -> Vec<Endpoint> {
    let mut eps: Vec<Endpoint> = Vec::new();
    for slice in slices {
        let Some(p) = slice
            .ports
            .iter()
            .find(|p| p.name == port.name() && p.protocol == port.protocol)
        else {
            continue;
        };
        eps.extend(
            slice
                .endpoints
                .iter()
                .filter(|e| e.conditions.ready)
                .map(|e| Endpoint {
                    ip: e.address,
                    port: p.port,
                    pod: e.pod.clone(),
                    node: e.node_name.clone(),
                }),
        );
    }
    eps.sort_by_cached_key(|e| e.addr());
    eps.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
    eps
}

/// ICMP never reaches a Service port; protocol names for rules.
pub fn proto_ok(p: IpProtocol) -> bool {
    p != IpProtocol::Icmp
}
