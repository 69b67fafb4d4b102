//! NetworkPolicy (networking.k8s.io/v1) and the label selectors it is made of
//! (meta/v1 LabelSelector), as the API server holds them once defaulted: `policyTypes`
//! filled in, a port's protocol TCP when not given.

use crate::wire::{IpProtocol, Ipv4Net};
use std::collections::BTreeMap;

/// `metav1.LabelSelector`: every `matchLabels` pair and every expression must hold. The
/// empty selector selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: SelectorOp,
    pub values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl SelectorOp {
    pub const NAMES: [&'static str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];

    pub fn parse(s: &str) -> Option<SelectorOp> {
        Some(match s {
            "In" => SelectorOp::In,
            "NotIn" => SelectorOp::NotIn,
            "Exists" => SelectorOp::Exists,
            "DoesNotExist" => SelectorOp::DoesNotExist,
            _ => return None,
        })
    }
}

impl LabelSelector {
    /// `labels.Selector.Matches`: NotIn and DoesNotExist hold for a label that is absent.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let got = labels.get(&r.key);
                match r.operator {
                    SelectorOp::In => got.is_some_and(|v| r.values.contains(v)),
                    SelectorOp::NotIn => got.is_none_or(|v| !r.values.contains(v)),
                    SelectorOp::Exists => got.is_some(),
                    SelectorOp::DoesNotExist => got.is_none(),
                }
            })
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyType {
    Ingress,
    Egress,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub namespace: String,
    pub name: String,
    /// The pods of its namespace the policy applies to.
    pub pod_selector: LabelSelector,
    /// As defaulted by the API server: Ingress always, Egress when egress rules exist,
    /// unless given.
    pub policy_types: Vec<PolicyType>,
    pub ingress: Vec<PolicyRule>,
    pub egress: Vec<PolicyRule>,
}

impl NetworkPolicy {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn applies(&self, t: PolicyType) -> bool {
        self.policy_types.contains(&t)
    }

    pub fn rules(&self, t: PolicyType) -> &[PolicyRule] {
        match t {
            PolicyType::Ingress => &self.ingress,
            PolicyType::Egress => &self.egress,
        }
    }
}

/// An ingress rule (`from`) or an egress rule (`to`): traffic with any of the peers on any
/// of the ports. No peers: every peer; no ports: every port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub peers: Vec<Peer>,
    pub ports: Vec<PolicyPort>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Pods: by `podSelector` in the policy's namespace, by `namespaceSelector` (every pod
    /// of the namespaces it selects), or both (those pods of those namespaces).
    Pods {
        namespace_selector: Option<LabelSelector>,
        pod_selector: Option<LabelSelector>,
    },
    /// `ipBlock`: addresses in `cidr` but in no `except`.
    IpBlock { cidr: Ipv4Net, except: Vec<Ipv4Net> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyPort {
    /// TCP when not given.
    pub protocol: IpProtocol,
    /// None: every port of the protocol.
    pub port: Option<PortRef>,
    /// `endPort`: the range port..=endPort (a numeric `port` only).
    pub end_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortRef {
    Number(u16),
    /// A container port's name, looked up on the destination pod.
    Name(String),
}
