//! A scenario's namespaces (with labels) and NetworkPolicies, written as the API's objects
//! are (networking.k8s.io/v1 NetworkPolicy's spec fields beside its name and namespace),
//! each value kept with its place in the file for errors; and their conversion to the
//! cluster model, with the API server's defaults.

use super::Scenario;
use crate::cluster::{
    LabelSelector, NetworkPolicy, Peer, PolicyPort, PolicyRule, PolicyType, PortRef, Requirement,
    SelectorOp,
};
use crate::wire::{IpProtocol, Ipv4Net};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// `namespaces: [{name: x, labels: {team: a}}]`: a namespace's labels. Namespaces that pods
/// or Services name exist without being listed; every namespace also carries
/// `kubernetes.io/metadata.name`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSpec {
    pub name: Spanned<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    pub name: Spanned<String>,
    #[serde(default = "default_namespace")]
    pub namespace: Spanned<String>,
    /// Required by the API; `{}` selects every pod of the namespace.
    pub pod_selector: Spanned<SelectorSpec>,
    /// Left out: Ingress, plus Egress when there are egress rules.
    #[serde(default)]
    pub policy_types: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub ingress: Vec<Spanned<IngressSpec>>,
    #[serde(default)]
    pub egress: Vec<Spanned<EgressSpec>>,
}

fn default_namespace() -> Spanned<String> {
    Spanned {
        value: "default".to_string(),
        referenced: serde_saphyr::Location::UNKNOWN,
        defined: serde_saphyr::Location::UNKNOWN,
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SelectorSpec {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<Spanned<ExpressionSpec>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpressionSpec {
    pub key: String,
    pub operator: Spanned<String>,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressSpec {
    #[serde(default)]
    pub from: Vec<Spanned<PeerSpec>>,
    #[serde(default)]
    pub ports: Vec<Spanned<PortSpec>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressSpec {
    #[serde(default)]
    pub to: Vec<Spanned<PeerSpec>>,
    #[serde(default)]
    pub ports: Vec<Spanned<PortSpec>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PeerSpec {
    #[serde(default)]
    pub pod_selector: Option<SelectorSpec>,
    #[serde(default)]
    pub namespace_selector: Option<SelectorSpec>,
    #[serde(default)]
    pub ip_block: Option<IpBlockSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpBlockSpec {
    pub cidr: Spanned<String>,
    #[serde(default)]
    pub except: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortSpec {
    #[serde(default)]
    pub protocol: Option<Spanned<String>>,
    #[serde(default)]
    pub port: Option<Spanned<PortValue>>,
    #[serde(default)]
    pub end_port: Option<Spanned<i64>>,
}

/// An IntOrString port: a number or a container port's name.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortValue {
    Number(i64),
    Name(String),
}

/// The protocols a NetworkPolicy port may name.
pub(super) fn protocol(word: &str) -> Option<IpProtocol> {
    match word {
        "TCP" => Some(IpProtocol::Tcp),
        "UDP" => Some(IpProtocol::Udp),
        "SCTP" => Some(IpProtocol::Sctp),
        _ => None,
    }
}

/// A CIDR as the API server reads it (validated before conversion).
pub(super) fn cidr(s: &str) -> Option<Ipv4Net> {
    s.parse().ok()
}

fn selector(s: &SelectorSpec) -> LabelSelector {
    LabelSelector {
        match_labels: s.match_labels.clone(),
        match_expressions: s
            .match_expressions
            .iter()
            .filter_map(|e| {
                Some(Requirement {
                    key: e.value.key.clone(),
                    operator: SelectorOp::parse(&e.value.operator.value)?,
                    values: e.value.values.clone(),
                })
            })
            .collect(),
    }
}

fn peer(p: &PeerSpec) -> Option<Peer> {
    match &p.ip_block {
        Some(b) => Some(Peer::IpBlock {
            cidr: cidr(&b.cidr.value)?,
            except: b.except.iter().filter_map(|e| cidr(&e.value)).collect(),
        }),
        None => Some(Peer::Pods {
            namespace_selector: p.namespace_selector.as_ref().map(selector),
            pod_selector: p.pod_selector.as_ref().map(selector),
        }),
    }
}

fn port(p: &PortSpec) -> PolicyPort {
    PolicyPort {
        protocol: p
            .protocol
            .as_ref()
            .and_then(|w| protocol(&w.value))
            .unwrap_or(IpProtocol::Tcp),
        port: p.port.as_ref().map(|v| match &v.value {
            PortValue::Number(n) => PortRef::Number(*n as u16),
            PortValue::Name(s) => PortRef::Name(s.clone()),
        }),
        end_port: p.end_port.as_ref().map(|e| e.value as u16),
    }
}

fn rule(peers: &[Spanned<PeerSpec>], ports: &[Spanned<PortSpec>]) -> PolicyRule {
    PolicyRule {
        peers: peers.iter().filter_map(|p| peer(&p.value)).collect(),
        ports: ports.iter().map(|p| port(&p.value)).collect(),
    }
}

/// The policy as the API server stores it: `policyTypes` defaulted (Ingress, plus Egress
/// when egress rules are given), TCP for a port without a protocol.
pub(super) fn network_policy(p: &NetworkPolicySpec) -> NetworkPolicy {
    let policy_types = match &p.policy_types {
        Some(ts) => ts
            .iter()
            .filter_map(|t| match t.value.as_str() {
                "Ingress" => Some(PolicyType::Ingress),
                "Egress" => Some(PolicyType::Egress),
                _ => None,
            })
            .collect(),
        None if p.egress.is_empty() => vec![PolicyType::Ingress],
        None => vec![PolicyType::Ingress, PolicyType::Egress],
    };
    NetworkPolicy {
        namespace: p.namespace.value.clone(),
        name: p.name.value.clone(),
        pod_selector: selector(&p.pod_selector.value),
        policy_types,
        ingress: p
            .ingress
            .iter()
            .map(|r| rule(&r.value.from, &r.value.ports))
            .collect(),
        egress: p
            .egress
            .iter()
            .map(|r| rule(&r.value.to, &r.value.ports))
            .collect(),
    }
}

/// The scenario's policies, in the order written.
pub(super) fn network_policies(s: &Scenario) -> Vec<NetworkPolicy> {
    s.network_policies.iter().map(network_policy).collect()
}
