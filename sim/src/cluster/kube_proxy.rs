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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    #[default]
    Iptables,
    /// kube-ipvs0, ipsets and IPVS virtual services (`pkg/proxy/ipvs`).
    Ipvs,
}
