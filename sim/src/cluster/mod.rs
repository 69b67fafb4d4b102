//! The cluster as Kubernetes objects: what the API server holds, with no trace of where it
//! was written. A scenario file becomes one of these once it is validated (scenario/model.rs);
//! a kubectl dump or a generated cluster can become one the same way. The controllers
//! (`k8s`) and the packet resolver (`resolve`) read only this.
//!
//! The objects follow the API's shapes (core/v1 Node, Namespace, Pod, Service;
//! discovery.k8s.io/v1 EndpointSlice) as far as kpath models them, plus the settings a node
//! agent is started with (the CNI's network, kube-proxy's configuration) and the world
//! outside (a gateway and internet hosts), and NetworkPolicy (networking.k8s.io/v1).

mod endpoint_slice;
mod internet;
mod kube_proxy;
mod namespace;
mod network;
mod network_policy;
mod node;
mod pod;
mod service;

pub use endpoint_slice::{
    Endpoint, EndpointConditions, EndpointPort, EndpointSlice, endpoint_slices,
};
pub use internet::{Gateway, Host, Internet};
pub use kube_proxy::{KubeProxyConfig, NodePortAddresses, ProxyMode};
pub use namespace::{METADATA_NAME_LABEL, Namespace, namespaces};
pub use network::{
    Cni, CniPlugin, FlannelBackend, Network, PolicyEnforcer, Underlay, VxlanBackend,
};
pub use network_policy::{
    LabelSelector, NetworkPolicy, Peer, PolicyPort, PolicyRule, PolicyType, PortRef, Requirement,
    SelectorOp,
};
pub use node::Node;
pub use pod::{Container, ContainerPort, Pod};
pub use service::{
    ClusterIp, Service, ServicePort, ServiceType, SessionAffinity, TargetPort, TrafficPolicy,
};

use crate::wire::Ipv4Net;
use std::collections::HashMap;

/// A whole cluster: its objects, how its network is built, and what lies outside it.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub network: Network,
    pub nodes: Vec<Node>,
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    /// What the EndpointSlice controller derived from the Services and Pods (or what a
    /// dump holds).
    pub endpoint_slices: Vec<EndpointSlice>,
    pub kube_proxy: KubeProxyConfig,
    pub internet: Option<Internet>,
    /// NetworkPolicies, in the order given.
    pub network_policies: Vec<NetworkPolicy>,
}

impl Cluster {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// A pod by `namespace/name`.
    pub fn pod(&self, key: &str) -> Option<&Pod> {
        self.pods.iter().find(|p| p.key() == key)
    }

    /// A Service by `namespace/name`.
    pub fn service(&self, key: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.key() == key)
    }

    /// An internet host by name.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.internet
            .as_ref()?
            .hosts
            .iter()
            .find(|h| h.name == name)
    }

    /// The EndpointSlices of a Service (`kubernetes.io/service-name`).
    pub fn slices_of<'a>(&'a self, svc: &'a Service) -> impl Iterator<Item = &'a EndpointSlice> {
        self.endpoint_slices
            .iter()
            .filter(move |e| e.namespace == svc.namespace && e.service == svc.name)
    }

    /// Every Service's EndpointSlices, keyed by (namespace, Service name), in one pass. A
    /// lookup table only: nothing iterates it, so its order never reaches an output.
    pub fn slices_by_service(&self) -> HashMap<(&str, &str), Vec<&EndpointSlice>> {
        let mut by: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
        for e in &self.endpoint_slices {
            by.entry((e.namespace.as_str(), e.service.as_str()))
                .or_default()
                .push(e);
        }
        by
    }

    /// kube-proxy's cluster CIDR (for "masquerade traffic from outside the cluster"):
    /// `--cluster-cidr`, or the pod network when it is not given.
    pub fn cluster_cidr(&self) -> Ipv4Net {
        self.kube_proxy
            .cluster_cidr
            .unwrap_or(self.network.pod_cidr)
    }
}
