//! The world outside the cluster: a router on the underlay and hosts behind it.

use super::ContainerPort;
use std::net::Ipv4Addr;

#[derive(Clone, Debug)]
pub struct Internet {
    pub gateway: Gateway,
    pub hosts: Vec<Host>,
    /// The node a LoadBalancer's traffic is steered to; None: the first node.
    pub load_balancer_node: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Gateway {
    /// Its address on the underlay; every node's default route points at it.
    pub ip: Ipv4Addr,
    /// Its address towards the internet.
    pub public_ip: Ipv4Addr,
    /// Source-NAT the underlay's private addresses to `public_ip` on the way out.
    pub masquerade: bool,
}

/// A host on the internet, reached through the gateway.
#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    pub ip: Ipv4Addr,
    /// The host's name in public DNS (what an ExternalName Service points at).
    pub dns_name: Option<String>,
    /// Ports a server on the host listens on.
    pub ports: Vec<ContainerPort>,
}
