//! A Node (core/v1), as far as the datapath cares.

use crate::wire::Ipv4Net;
use std::net::Ipv4Addr;

#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    /// The node's address on the underlay (`status.addresses` InternalIP; eth0).
    pub ip: Ipv4Addr,
    /// The node's slice of the pod network (`spec.podCIDR`).
    pub pod_cidr: Ipv4Net,
    /// Sysctls the node runs with beyond what kube-proxy and the CNI plugin set, in the
    /// order to apply them (validated names and values).
    pub sysctls: Vec<(crate::net::sysctl::Key, String)>,
    /// eth0's MTU, when not the underlay's.
    pub mtu: Option<u32>,
    /// MTUs set by hand on the node's devices after the CNI built them (device, MTU).
    pub link_mtu: Vec<(String, u32)>,
    /// flannel.1's MAC when the cluster says it (flannel's VtepMAC); else derived.
    pub vtep_mac: Option<crate::wire::Mac>,
}
