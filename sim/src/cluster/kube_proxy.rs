//! kube-proxy's configuration (KubeProxyConfiguration), as far as kpath models it.

use crate::wire::Ipv4Net;
use serde::Deserialize;

#[derive(Clone, Debug)]
pub struct KubeProxyConfig {
    pub mode: ProxyMode,
    /// `--ipvs-scheduler` (rr by default); read in IPVS mode.
    pub ipvs_scheduler: String,
    /// `--cluster-cidr`; the pod network when not given (`Cluster::cluster_cidr`).
    pub cluster_cidr: Option<Ipv4Net>,
    /// `--masquerade-all`.
    pub masquerade_all: bool,
    /// iptables >= 1.6.2 supports `MASQUERADE --random-fully`, and kube-proxy then uses it.
    pub random_fully: bool,
    /// nfnetlink_acct is available, so kube-proxy adds its nfacct counters.
    pub nfacct: bool,
    /// `localhostNodePorts` (iptables mode, default true): NodePorts on 127.0.0.1, for
    /// which kube-proxy sets net.ipv4.conf.all.route_localnet=1.
    pub localhost_node_ports: bool,
    /// `nodePortAddresses`.
    pub node_port_addresses: NodePortAddresses,
}

/// `nodePortAddresses` (`pkg/proxy/util/nodeport_addresses.go`): which node addresses
/// NodePorts answer on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodePortAddresses {
    pub cidrs: Vec<crate::wire::Ipv4Net>,
    /// `primary`: the node's primary address (its InternalIP).
    pub primary: bool,
}

impl NodePortAddresses {
    /// Nothing given: every local address (`MatchAll`).
    pub fn match_all(&self) -> bool {
        self.cidrs.is_empty() && !self.primary
    }

    /// `ContainsIPv4Loopback`: whether 127.0.0.1 can be a NodePort address.
    pub fn contains_loopback(&self) -> bool {
        self.match_all()
            || self
                .cidrs
                .iter()
                .any(|c| c.contains(std::net::Ipv4Addr::LOCALHOST))
    }

    /// `GetNodeIPs`: of a node's addresses (`all`, in interface order), those NodePorts
    /// answer on; `primary` is the node's InternalIP.
    pub fn node_ips(
        &self,
        all: &[std::net::Ipv4Addr],
        primary: std::net::Ipv4Addr,
    ) -> Vec<std::net::Ipv4Addr> {
        let mut out: Vec<std::net::Ipv4Addr> = all
            .iter()
            .copied()
            .filter(|ip| {
                self.match_all()
                    || self.cidrs.iter().any(|c| c.contains(*ip))
                    || (self.primary && *ip == primary)
            })
            .collect();
        out.dedup();
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    #[default]
    Iptables,
    /// kube-ipvs0, ipsets and IPVS virtual services (`pkg/proxy/ipvs`).
    Ipvs,
    /// The `ip kube-proxy` nf_tables table (`pkg/proxy/nftables`, v1.33).
    Nftables,
}
