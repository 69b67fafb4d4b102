//! IPVS connections (`struct ip_vs_conn`, `ip_vs_conn.c`) and persistence templates.
//! IPVS keeps its own connection table beside conntrack: a request finds its connection by
//! the client and virtual ends (`ip_vs_conn_in_get`), a reply by the real-server and client
//! ends (`ip_vs_conn_out_get`).

use super::Forward;
use crate::wire::IpProtocol;
use std::net::Ipv4Addr;

/// One connection through a virtual service.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IpvsConn {
    /// TCP or UDP (serialized as its number).
    pub proto: IpProtocol,
    pub caddr: Ipv4Addr,
    pub cport: u16,
    pub vaddr: Ipv4Addr,
    pub vport: u16,
    /// The real server (`cp->daddr`, `cp->dport`).
    pub daddr: Ipv4Addr,
    pub dport: u16,
    /// How the real server is reached (`IP_VS_CONN_F_FWD_MASK` of `cp->flags`); kube-proxy
    /// programs Masq only, so traces name it only when it is another.
    #[serde(skip_serializing_if = "Forward::is_masq")]
    pub forward: Forward,
}

impl IpvsConn {
    /// The line `ipvsadm -Lnc` prints (without the expiry column).
    pub fn text(&self) -> String {
        let proto = if self.proto == IpProtocol::Udp {
            "UDP"
        } else {
            "TCP"
        };
        format!(
            "{proto} {}:{} -> {}:{} -> {}:{}",
            self.caddr, self.cport, self.vaddr, self.vport, self.daddr, self.dport
        )
    }
}

/// A persistence template (`IP_VS_CONN_F_TEMPLATE`, made by `ip_vs_sched_persist`): the
/// client address stays with one real server of the virtual service (ClientIP affinity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub proto: IpProtocol,
    pub caddr: Ipv4Addr,
    pub vaddr: Ipv4Addr,
    pub vport: u16,
    pub daddr: Ipv4Addr,
    pub dport: u16,
}

/// The connection table of a namespace's IPVS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conns {
    pub conns: Vec<IpvsConn>,
    pub templates: Vec<Template>,
}

impl Conns {
    /// `ip_vs_conn_in_get`: a request of a known connection (client -> virtual address).
    pub fn in_get(
        &self,
        proto: IpProtocol,
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
    ) -> Option<&IpvsConn> {
        self.conns
            .iter()
            .find(|c| c.proto == proto && (c.caddr, c.cport) == src && (c.vaddr, c.vport) == dst)
    }

    /// `ip_vs_conn_out_get`: a reply of a known connection (real server -> client).
    pub fn out_get(
        &self,
        proto: IpProtocol,
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
    ) -> Option<&IpvsConn> {
        self.conns
            .iter()
            .find(|c| c.proto == proto && (c.daddr, c.dport) == src && (c.caddr, c.cport) == dst)
    }

    /// The client's template for a persistent virtual service, if one was made.
    pub fn template(
        &self,
        proto: IpProtocol,
        caddr: Ipv4Addr,
        vaddr: Ipv4Addr,
        vport: u16,
    ) -> Option<&Template> {
        self.templates
            .iter()
            .find(|t| t.proto == proto && t.caddr == caddr && t.vaddr == vaddr && t.vport == vport)
    }
}
