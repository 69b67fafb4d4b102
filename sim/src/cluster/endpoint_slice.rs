//! EndpointSlices (discovery.k8s.io/v1) and the controller that derives them from Services
//! and Pods, as kube-controller-manager's EndpointSlice controller does
//! (`pkg/controller/endpointslice`, its reconciler and `podutil.FindPort`): every pod the
//! selector matches is an endpoint, ready or not, with its conditions; its ports are the
//! Service's ports resolved on that pod, and pods whose ports resolve alike share a slice.

use super::{Pod, Service, ServicePort, ServiceType, TargetPort};
use crate::wire::IpProtocol;
use std::collections::HashMap;
use std::net::Ipv4Addr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointSlice {
    pub namespace: String,
    /// The slice's name. The controller's names end in a random suffix (generateName);
    /// kpath numbers a Service's slices instead, to stay deterministic.
    pub name: String,
    /// The `kubernetes.io/service-name` label: the Service it belongs to.
    pub service: String,
    pub ports: Vec<EndpointPort>,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointPort {
    /// The Service port's name ("" when unnamed).
    pub name: String,
    pub port: u16,
    pub protocol: IpProtocol,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub address: Ipv4Addr,
    pub conditions: EndpointConditions,
    pub node_name: String,
    /// `targetRef`: the pod, as `namespace/name`.
    pub pod: String,
}

/// `conditions`: ready (serving and not terminating), serving (passing readiness, maybe
/// while terminating), terminating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointConditions {
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
}

/// The slices of every Service with a selector (ExternalName Services get none), in the
/// Services' order.
pub fn endpoint_slices(services: &[Service], pods: &[Pod]) -> Vec<EndpointSlice> {
    // The pods carrying each (namespace, label, value), in the pods' order: a Service's
    // candidates are the pods with the rarest label of its selector, not every pod (a
    // cluster of 10,000 Services has tens of thousands of pods).
    let mut by_label: HashMap<(&str, &str, &str), Vec<usize>> = HashMap::new();
    for (i, p) in pods.iter().enumerate() {
        for (k, v) in &p.labels {
            by_label
                .entry((p.namespace.as_str(), k.as_str(), v.as_str()))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for svc in services {
        if svc.kind == ServiceType::ExternalName || svc.selector.is_empty() {
            continue;
        }
        let candidates = svc
            .selector
            .iter()
            .map(|(k, v)| {
                let key = (svc.namespace.as_str(), k.as_str(), v.as_str());
                by_label.get(&key).map_or(&[][..], Vec::as_slice)
            })
            .min_by_key(|c| c.len())
            .unwrap_or(&[]);
        let mut slices: Vec<EndpointSlice> = Vec::new();
        for pod in candidates
            .iter()
            .map(|&i| &pods[i])
            .filter(|p| selects(svc, p))
        {
            let ports: Vec<EndpointPort> = svc
                .ports
                .iter()
                .filter_map(|sp| {
                    Some(EndpointPort {
                        name: sp.name().to_string(),
                        port: find_port(sp, pod)?,
                        protocol: sp.protocol,
                    })
                })
                .collect();
            let endpoint = Endpoint {
                address: pod.ip,
                // The controller (`podToEndpoint`): serving is the pod's readiness,
                // terminating its deletionTimestamp, ready both serving and not terminating.
                conditions: EndpointConditions {
                    ready: pod.ready && !pod.terminating,
                    serving: pod.ready,
                    terminating: pod.terminating,
                },
                node_name: pod.node.clone(),
                pod: pod.key(),
            };
            match slices.iter_mut().find(|s| s.ports == ports) {
                Some(s) => s.endpoints.push(endpoint),
                None => slices.push(EndpointSlice {
                    namespace: svc.namespace.clone(),
                    name: format!("{}-{}", svc.name, slices.len() + 1),
                    service: svc.name.clone(),
                    ports,
                    endpoints: vec![endpoint],
                }),
            }
        }
        out.extend(slices);
    }
    out
}

/// Does the pod carry every label of the selector, in the Service's namespace?
fn selects(svc: &Service, pod: &Pod) -> bool {
    pod.namespace == svc.namespace
        && svc
            .selector
            .iter()
            .all(|(k, v)| pod.labels.get(k) == Some(v))
}

/// `podutil.FindPort`: the pod's port a Service port targets, by number or by the name of
/// a container port of the same protocol; None when the name is no port of the pod.
fn find_port(sp: &ServicePort, pod: &Pod) -> Option<u16> {
    match &sp.target_port {
        TargetPort::Number(n) => Some(*n),
        TargetPort::Name(name) => pod
            .ports()
            .find(|p| p.name.as_deref() == Some(name) && p.protocol == sp.protocol)
            .map(|p| p.container_port),
    }
}
