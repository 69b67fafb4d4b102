//! Kubernetes API objects as `kubectl get -o yaml|json` prints them and as manifests are
//! written: only the fields kpath reads, every other field ignored. One struct holds what
//! any kind kpath reads may carry (Node, Namespace, Pod, Service, EndpointSlice,
//! NetworkPolicy, the workloads, ServiceCIDR and the agents' ConfigMaps), so a document is
//! read in one pass with its places kept; fields whose shape differs by kind
//! (`spec.selector`) are read untyped and interpreted by kind.

use crate::scenario::network_policy::{EgressSpec, IngressSpec, SelectorSpec};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Spec,
    #[serde(default)]
    pub status: Status,
    /// `kind: List` (what `kubectl get a,b,c -o yaml` prints).
    #[serde(default)]
    pub items: Vec<Object>,
    /// EndpointSlice.
    #[serde(default)]
    pub address_type: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<SliceEndpoint>,
    #[serde(default)]
    pub ports: Vec<SlicePort>,
    /// ConfigMap (kube-proxy's configuration, flannel's net-conf.json).
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

impl Object {
    pub fn kind(&self) -> &str {
        self.kind.as_ref().map_or("", |k| k.value.as_str())
    }

    pub fn name(&self) -> &str {
        self.metadata.name.as_ref().map_or("", |n| n.value.as_str())
    }

    /// The object's namespace, `default` when a manifest leaves it out.
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or("default")
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace(), self.name())
    }

    /// A ConfigMap's data entry.
    pub fn data(&self, key: &str) -> Option<&str> {
        self.data.as_ref()?.get(key)?.as_str()
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub generate_name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub deletion_timestamp: Option<serde_json::Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    // Node
    #[serde(default, rename = "podCIDR")]
    pub pod_cidr: Option<Spanned<String>>,
    #[serde(default, rename = "podCIDRs")]
    pub pod_cidrs: Vec<String>,
    #[serde(default)]
    pub unschedulable: bool,
    #[serde(default)]
    pub taints: Vec<Taint>,
    // Pod (and a workload's template)
    #[serde(default)]
    pub node_name: Option<Spanned<String>>,
    #[serde(default)]
    pub host_network: bool,
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    // Service
    #[serde(default, rename = "type")]
    pub kind: Option<Spanned<String>>,
    #[serde(default, rename = "clusterIP")]
    pub cluster_ip: Option<Spanned<String>>,
    #[serde(default, rename = "clusterIPs")]
    pub cluster_ips: Vec<String>,
    #[serde(default)]
    pub ip_families: Vec<String>,
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// A Service's `{key: value}`, or a workload's or PodDisruptionBudget's LabelSelector.
    #[serde(default)]
    pub selector: Option<serde_json::Value>,
    #[serde(default, rename = "externalIPs")]
    pub external_ips: Vec<Spanned<String>>,
    #[serde(default, rename = "loadBalancerIP")]
    pub load_balancer_ip: Option<Spanned<String>>,
    #[serde(default)]
    pub load_balancer_source_ranges: Vec<Spanned<String>>,
    #[serde(default)]
    pub external_traffic_policy: Option<Spanned<String>>,
    #[serde(default)]
    pub internal_traffic_policy: Option<Spanned<String>>,
    #[serde(default)]
    pub session_affinity: Option<Spanned<String>>,
    #[serde(default)]
    pub session_affinity_config: Option<serde_json::Value>,
    #[serde(default)]
    pub external_name: Option<String>,
    #[serde(default)]
    pub health_check_node_port: Option<u16>,
    // Deployment, ReplicaSet, StatefulSet, DaemonSet
    #[serde(default)]
    pub replicas: Option<Spanned<i64>>,
    #[serde(default)]
    pub template: Option<Box<Template>>,
    // NetworkPolicy
    #[serde(default)]
    pub pod_selector: Option<Spanned<SelectorSpec>>,
    #[serde(default)]
    pub policy_types: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub ingress: Option<Vec<Spanned<IngressSpec>>>,
    #[serde(default)]
    pub egress: Option<Vec<Spanned<EgressSpec>>>,
    // ServiceCIDR (networking.k8s.io/v1)
    #[serde(default)]
    pub cidrs: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Taint {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub effect: String,
}

/// A pod's `spec.tolerations[]`: operator `Equal` (the default) or `Exists`; an empty
/// key with Exists tolerates every taint, an empty effect every effect.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Toleration {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub effect: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Template {
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Spec,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Container {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub container_port: Spanned<u16>,
    #[serde(default)]
    pub protocol: Option<Spanned<String>>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub protocol: Option<Spanned<String>>,
    pub port: Spanned<u16>,
    #[serde(default)]
    pub target_port: Option<Spanned<crate::cluster::TargetPort>>,
    #[serde(default)]
    pub node_port: Option<Spanned<u16>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    // Node
    #[serde(default)]
    pub addresses: Vec<NodeAddress>,
    // Pod
    #[serde(default, rename = "podIP")]
    pub pod_ip: Option<Spanned<String>>,
    #[serde(default, rename = "podIPs")]
    pub pod_ips: Vec<PodIp>,
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    // Service
    #[serde(default)]
    pub load_balancer: Option<LoadBalancerStatus>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct NodeAddress {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct PodIp {
    #[serde(default)]
    pub ip: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Condition {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct LoadBalancerStatus {
    #[serde(default)]
    pub ingress: Vec<LoadBalancerIngress>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct LoadBalancerIngress {
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SliceEndpoint {
    #[serde(default)]
    pub addresses: Vec<Spanned<String>>,
    #[serde(default)]
    pub conditions: SliceConditions,
    #[serde(default)]
    pub node_name: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct SliceConditions {
    #[serde(default)]
    pub ready: Option<bool>,
    #[serde(default)]
    pub serving: Option<bool>,
    #[serde(default)]
    pub terminating: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct SlicePort {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub protocol: Option<String>,
}
