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
    /// Ready; else serving while terminating, which kube-proxy uses only when no ready
    /// endpoint is left (`CategorizeEndpoints`).
    pub ready: bool,
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

/// The endpoints of one Service port kube-proxy may use, from the Service's EndpointSlices,
/// each once: the ready ones, and those serving while terminating.
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
                .filter(|e| {
                    e.conditions.ready || (e.conditions.serving && e.conditions.terminating)
                })
                .map(|e| Endpoint {
                    ip: e.address,
                    port: p.port,
                    pod: e.pod.clone(),
                    node: e.node_name.clone(),
                    ready: e.conditions.ready,
                }),
        );
    }
    eps.sort_by_cached_key(|e| e.addr());
    eps.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
    eps
}

/// `CategorizeEndpoints` (`pkg/proxy/topology.go`): the endpoints kube-proxy sends to,
/// from `eps` and of those the ones on `node`: the ready ones, or when there is none, the
/// ones serving while terminating (`ProxyTerminatingEndpoints`, GA in 1.28). The local
/// set falls back on its own: a node whose local endpoints are all terminating uses them
/// while other nodes still have ready ones. Indices into `eps`.
pub fn categorize(eps: &[Endpoint], node: &str) -> (Vec<usize>, Vec<usize>) {
    let usable = |local: bool| -> Vec<usize> {
        let here = |e: &Endpoint| !local || e.node == node;
        let ready: Vec<usize> = (0..eps.len())
            .filter(|&i| here(&eps[i]) && eps[i].ready)
            .collect();
        if !ready.is_empty() {
            return ready;
        }
        (0..eps.len()).filter(|&i| here(&eps[i])).collect()
    };
    (usable(false), usable(true))
}

/// ICMP never reaches a Service port; protocol names for rules.
pub fn proto_ok(p: IpProtocol) -> bool {
    p != IpProtocol::Icmp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(last: u8, node: &str, ready: bool) -> Endpoint {
        Endpoint {
            ip: Ipv4Addr::new(10, 244, 0, last),
            port: 80,
            pod: format!("default/p{last}"),
            node: node.into(),
            ready,
        }
    }

    #[test]
    fn terminating_endpoints_serve_only_where_no_ready_one_is_left() {
        // Cluster-wide a ready endpoint exists: the terminating ones get nothing.
        let eps = [ep(1, "n1", false), ep(2, "n2", true), ep(3, "n2", false)];
        let (cluster, local_n1) = categorize(&eps, "n1");
        assert_eq!(cluster, [1]);
        // On n1 the only local endpoint terminates: Local policy falls back to it there.
        assert_eq!(local_n1, [0]);
        let (_, local_n2) = categorize(&eps, "n2");
        assert_eq!(local_n2, [1], "n2 has a ready local endpoint");
        // No ready endpoint anywhere: every serving-terminating one is used.
        let eps = [ep(1, "n1", false), ep(2, "n2", false)];
        assert_eq!(categorize(&eps, "n1").0, [0, 1]);
        assert!(categorize(&[], "n1").0.is_empty());
    }
}
