//! How the cluster's network is built: the pod and service ranges, the CNI plugin with its
//! backend (flannel's `net-conf.json`), and the underlay the nodes sit on.

use crate::wire::Ipv4Net;
use serde::Deserialize;

#[derive(Clone, Debug)]
pub struct Network {
    /// The cluster-wide pod network (flannel's `Network`), e.g. 10.244.0.0/16.
    pub pod_cidr: Ipv4Net,
    /// kube-apiserver's `--service-cluster-ip-range`, e.g. 10.96.0.0/12.
    pub service_cidr: Ipv4Net,
    pub cni: Cni,
    pub underlay: Underlay,
}

#[derive(Clone, Debug)]
pub struct Cni {
    pub plugin: CniPlugin,
    pub backend: FlannelBackend,
    /// The pod interface MTU when set by hand; else what flannel computes.
    pub mtu: Option<u32>,
    /// `net.bridge.bridge-nf-call-iptables` on every node (kube-proxy wants 1).
    pub bridge_nf_call_iptables: bool,
    /// The bridge plugin's `hairpinMode` (flannel's CNI config sets it).
    pub hairpin_mode: bool,
    /// The vxlan backend's settings (net-conf.json's `Backend`).
    pub vxlan: VxlanBackend,
    /// What enforces NetworkPolicy beside flannel (flannel itself does not).
    pub policy: Option<PolicyEnforcer>,
}

/// A NetworkPolicy controller running beside the CNI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyEnforcer {
    /// kube-router's network policy controller (`--run-firewall`, v2.11.1).
    KubeRouter,
}

/// flannel's vxlan backend configuration (`pkg/backend/vxlan`, flannel v0.26).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanBackend {
    /// `VNI`: the VXLAN network identifier, and the device's name, `flannel.<VNI>`.
    pub vni: u32,
    /// `Port`: the UDP destination port (0 in the config means the kernel's 8472).
    pub port: u16,
    /// `DirectRouting`: nodes whose address is on a directly connected subnet
    /// (`ip.DirectRouting`: the route to it has no gateway) get a host-gw route instead of
    /// the VXLAN neighbour, FDB entry and route.
    pub direct_routing: bool,
}

impl Default for VxlanBackend {
    /// flannel's defaults: VNI 1, and port 0, which leaves the kernel's default port: 8472
    /// (Linux's pre-IANA choice; IANA's is 4789).
    fn default() -> Self {
        VxlanBackend {
            vni: 1,
            port: 8472,
            direct_routing: false,
        }
    }
}

impl VxlanBackend {
    /// The device flanneld creates: `flannel.<VNI>`.
    pub fn device(&self) -> String {
        format!("flannel.{}", self.vni)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CniPlugin {
    Flannel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlannelBackend {
    Vxlan,
    HostGw,
}

/// The L2 segment all nodes' eth0 sit on.
#[derive(Clone, Debug)]
pub struct Underlay {
    pub cidr: Ipv4Net,
    pub mtu: u32,
}

impl Network {
    /// A node's NIC MTU: its own, or the underlay's.
    pub fn node_mtu(&self, node: &super::Node) -> u32 {
        node.mtu.unwrap_or(self.underlay.mtu)
    }

    /// The pod MTU flannel's CNI config hands the bridge plugin on `node`: flannel computes
    /// it on each node from that node's external interface (`extIface.MTU - 50`).
    pub fn pod_mtu(&self, node: &super::Node) -> u32 {
        self.cni
            .mtu
            .unwrap_or(self.node_mtu(node) - self.overlay_overhead())
    }

    /// Bytes the backend's encapsulation adds: VXLAN = outer IPv4 20 + UDP 8 + VXLAN 8 +
    /// inner Ethernet 14 (flannel: `MTU = extIface.MTU - 50`).
    pub fn overlay_overhead(&self) -> u32 {
        match self.cni.backend {
            FlannelBackend::Vxlan => 50,
            FlannelBackend::HostGw => 0,
        }
    }
}
