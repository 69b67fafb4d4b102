//! kube-proxy, one file per mode: iptables.rs (`pkg/proxy/iptables`) and ipvs.rs
//! (`pkg/proxy/ipvs`).

pub mod iptables;
pub mod ipvs;
