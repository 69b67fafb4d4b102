//! NetworkPolicy's meaning as the API documents it (networking.k8s.io/v1), in plain code
//! with no iptables: the oracle the enforcing CNI's rules are checked against.
//!
//! A pod is isolated for a direction only when some policy of its namespace selects it and
//! names that direction in `policyTypes`; then only what those policies' rules allow (their
//! union) passes. A connection needs both ends: egress from the source pod and ingress to
//! the destination pod. Traffic a pod sends itself is always allowed (loopback). Replies of
//! an allowed connection pass (the enforcing rules accept ESTABLISHED), so a probe is about a
//! connection's first packet.

use crate::cluster::{Cluster, NetworkPolicy, Peer, Pod, PolicyPort, PolicyType, PortRef};
use crate::wire::IpProtocol;
use std::net::Ipv4Addr;

/// One end of a probe: a pod, or an address that is no pod (a node, a host outside).
#[derive(Clone, Copy, Debug)]
pub enum Party<'a> {
    Pod(&'a Pod),
    Addr(Ipv4Addr),
}

impl Party<'_> {
    pub fn ip(&self) -> Ipv4Addr {
        match self {
            Party::Pod(p) => p.ip,
            Party::Addr(a) => *a,
        }
    }

    /// The pod policies can select: not a hostNetwork pod (it has its node's address and
    /// no namespace of its own; the API leaves it to the implementation, and CNIs treat it
    /// as the node).
    fn selectable(&self) -> Option<&Pod> {
        match self {
            Party::Pod(p) if !p.host_network => Some(p),
            _ => None,
        }
    }
}

/// A connection's first packet: who, to whom, which port and protocol.
#[derive(Clone, Copy, Debug)]
pub struct Probe<'a> {
    pub from: Party<'a>,
    pub to: Party<'a>,
    pub port: u16,
    pub protocol: IpProtocol,
}

/// What the policies of one end say about a probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Side {
    /// The policies that isolate this end for this direction (`namespace/name`); empty:
    /// not isolated, everything passes.
    pub isolated_by: Vec<String>,
    /// Those of them with a rule that allows the probe.
    pub allowed_by: Vec<String>,
}

impl Side {
    pub fn allows(&self) -> bool {
        self.isolated_by.is_empty() || !self.allowed_by.is_empty()
    }
}

/// The answer for a probe: both directions, and whether the connection may open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub egress: Side,
    pub ingress: Side,
    /// A pod talking to itself (always allowed), or its own node talking to it where the
    /// controller allows that (kube-router does).
    pub loopback: bool,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.loopback || (self.egress.allows() && self.ingress.allows())
    }
}

/// Is `addr` one of the node's own addresses: its InternalIP, or the flannel.1 (.0) and
/// cni0 (.1) addresses of its pod CIDR?
fn node_address(cluster: &Cluster, node: &str, addr: Ipv4Addr) -> bool {
    cluster.node(node).is_some_and(|n| {
        let base = u32::from(n.pod_cidr.addr);
        addr == n.ip || addr == Ipv4Addr::from(base) || addr == Ipv4Addr::from(base + 1)
    })
}

/// Decide a probe by the API's semantics. Traffic from a pod's own node to it is what the
/// enforcing controller makes of it (the API leaves it open): kube-router accepts it
/// ("from local node": a source address that is local to the node).
pub fn decide(cluster: &Cluster, probe: &Probe) -> Decision {
    let same_pod = match (probe.from.selectable(), probe.to.selectable()) {
        (Some(a), Some(b)) => a.key() == b.key(),
        _ => false,
    };
    let own_node = matches!(
        (probe.from, probe.to.selectable()),
        (Party::Addr(a), Some(pod)) if cluster.network.cni.policy
            == Some(crate::cluster::PolicyEnforcer::KubeRouter)
            && node_address(cluster, &pod.node, a)
    );
    let egress = probe
        .from
        .selectable()
        .map(|pod| side(cluster, pod, PolicyType::Egress, probe))
        .unwrap_or_default();
    let ingress = probe
        .to
        .selectable()
        .map(|pod| side(cluster, pod, PolicyType::Ingress, probe))
        .unwrap_or_default();
    Decision {
        egress,
        ingress,
        loopback: same_pod || own_node,
    }
}

/// The policies that isolate `pod` for direction `t`, and which of them allow the probe.
fn side(cluster: &Cluster, pod: &Pod, t: PolicyType, probe: &Probe) -> Side {
    let mut out = Side::default();
    for p in cluster.network_policies.iter().filter(|p| {
        p.namespace == pod.namespace && p.applies(t) && p.pod_selector.matches(&pod.labels)
    }) {
        out.isolated_by.push(p.key());
        if allows(cluster, p, t, probe) {
            out.allowed_by.push(p.key());
        }
    }
    out
}

/// Does one of the policy's rules for direction `t` allow the probe?
fn allows(cluster: &Cluster, p: &NetworkPolicy, t: PolicyType, probe: &Probe) -> bool {
    // Ingress rules name the source; egress rules the destination. Ports are always the
    // destination's, and a named port is the destination pod's.
    let peer = match t {
        PolicyType::Ingress => probe.from,
        PolicyType::Egress => probe.to,
    };
    p.rules(t).iter().any(|r| {
        (r.peers.is_empty() || r.peers.iter().any(|x| peer_matches(cluster, p, x, &peer)))
            && (r.ports.is_empty()
                || r.ports
                    .iter()
                    .any(|x| port_matches(x, probe.port, probe.protocol, &probe.to)))
    })
}

/// Is `party` one of the peers `peer` names, for a rule of policy `p`?
pub fn peer_matches(cluster: &Cluster, p: &NetworkPolicy, peer: &Peer, party: &Party) -> bool {
    match peer {
        Peer::IpBlock { cidr, except } => {
            let ip = party.ip();
            cidr.contains(ip) && !except.iter().any(|e| e.contains(ip))
        }
        Peer::Pods {
            namespace_selector,
            pod_selector,
        } => {
            let Some(pod) = party.selectable() else {
                return false;
            };
            let ns_ok = match namespace_selector {
                // No namespaceSelector: the policy's own namespace.
                None => pod.namespace == p.namespace,
                Some(sel) => cluster
                    .namespaces
                    .iter()
                    .find(|n| n.name == pod.namespace)
                    .is_some_and(|n| sel.matches(&n.labels)),
            };
            ns_ok && pod_selector.as_ref().is_none_or(|s| s.matches(&pod.labels))
        }
    }
}

/// Does a rule's port hold a connection to `port`/`protocol` on `to`?
pub(super) fn port_matches(x: &PolicyPort, port: u16, protocol: IpProtocol, to: &Party) -> bool {
    if x.protocol != protocol {
        return false;
    }
    match &x.port {
        None => true,
        Some(PortRef::Number(n)) => match x.end_port {
            Some(end) => (*n..=end).contains(&port),
            None => *n == port,
        },
        // A named port: the destination pod's container port of that name and protocol.
        Some(PortRef::Name(name)) => to.selectable().is_some_and(|pod| {
            pod.ports().any(|c| {
                c.name.as_deref() == Some(name.as_str())
                    && c.protocol == x.protocol
                    && c.container_port == port
            })
        }),
    }
}
