//! A Service (core/v1): its addresses, ports and policies.

use crate::wire::{IpProtocol, Ipv4Net};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Clone, Debug)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub kind: ServiceType,
    pub cluster_ip: ClusterIp,
    pub selector: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
    pub external_ips: Vec<Ipv4Addr>,
    /// The load balancer's address (`status.loadBalancer.ingress[0].ip`).
    pub load_balancer_ip: Option<Ipv4Addr>,
    pub load_balancer_source_ranges: Vec<Ipv4Net>,
    pub external_traffic_policy: TrafficPolicy,
    pub internal_traffic_policy: TrafficPolicy,
    pub session_affinity: SessionAffinity,
    /// `sessionAffinityConfig.clientIP.timeoutSeconds`.
    pub session_affinity_timeout: u32,
    /// For ExternalName Services: the DNS name the Service is a CNAME for.
    pub external_name: Option<String>,
    /// For a LoadBalancer with externalTrafficPolicy Local: the health check node port.
    pub health_check_node_port: Option<u16>,
}

/// `spec.clusterIP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterIp {
    Address(Ipv4Addr),
    /// `None`: a headless Service.
    Headless,
    /// Not set (ExternalName Services have none).
    Unset,
}

impl Service {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The ClusterIP, or None for headless and ExternalName Services.
    pub fn cluster_ip(&self) -> Option<Ipv4Addr> {
        match self.cluster_ip {
            ClusterIp::Address(ip) => Some(ip),
            ClusterIp::Headless | ClusterIp::Unset => None,
        }
    }

    pub fn is_headless(&self) -> bool {
        self.cluster_ip == ClusterIp::Headless
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
    ExternalName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TrafficPolicy {
    #[default]
    Cluster,
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum SessionAffinity {
    #[default]
    None,
    ClientIP,
}

#[derive(Clone, Debug)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    /// A number, or the name of a container port.
    pub target_port: TargetPort,
    pub protocol: IpProtocol,
    /// NodePort and LoadBalancer Services: the port on every node.
    pub node_port: Option<u16>,
}

impl ServicePort {
    /// The port's name as EndpointSlices and kube-proxy match it ("" when unnamed).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}
