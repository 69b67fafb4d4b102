//! A Pod (core/v1): where it runs, its address, labels, readiness and the ports its
//! containers listen on.

use crate::wire::IpProtocol;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Clone, Debug)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    /// `spec.nodeName`.
    pub node: String,
    /// `status.podIP` (a hostNetwork pod's is its node's IP).
    pub ip: Ipv4Addr,
    /// `spec.hostNetwork`: the pod shares its node's network namespace.
    pub host_network: bool,
    pub labels: BTreeMap<String, String>,
    /// The Ready condition: only ready pods are ready endpoints of a Service.
    pub ready: bool,
    /// Being deleted (`metadata.deletionTimestamp`), in its grace period.
    pub terminating: bool,
    pub containers: Vec<Container>,
}

impl Pod {
    /// `namespace/name`, the way kpath names a pod everywhere.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The network namespace the pod's processes run in: its own, or (hostNetwork) its
    /// node's.
    pub fn netns(&self) -> String {
        if self.host_network {
            self.node.clone()
        } else {
            self.key()
        }
    }

    /// Every port a container of the pod declares.
    pub fn ports(&self) -> impl Iterator<Item = &ContainerPort> {
        self.containers.iter().flat_map(|c| &c.ports)
    }
}

#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    pub image: Option<String>,
    /// The ports a process in this container listens on (on every pod address).
    pub ports: Vec<ContainerPort>,
}

#[derive(Clone, Debug)]
pub struct ContainerPort {
    pub container_port: u16,
    pub protocol: IpProtocol,
    pub name: Option<String>,
}
