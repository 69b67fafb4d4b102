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

/// `expect:` at the top of a scenario.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterExpect {
    #[serde(default)]
    pub reachability: Vec<Spanned<ReachabilitySpec>>,
}

/// `{port: 80/TCP, matrix: "..."}`: the truth table `kpath policy` prints (a header of
/// destinations after `-`, a row per source, `.` allowed and `X` blocked, separated by
/// spaces or tabs), for the pods it names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachabilitySpec {
    pub port: Spanned<String>,
    pub matrix: Spanned<String>,
}

/// `80`, `80/TCP`, `53/udp`.
pub fn port_spec(text: &str) -> Option<(u16, IpProtocol)> {
    let (n, p) = text.split_once('/').unwrap_or((text, "TCP"));
    let proto = protocol(&p.to_ascii_uppercase())?;
    let port = n.parse::<u16>().ok().filter(|p| *p != 0)?;
    Some((port, proto))
}

/// A truth table: its destination columns and its rows (source, one cell per column).
pub type Table = (Vec<String>, Vec<(String, Vec<bool>)>);

/// Read a truth table; Err names the line (0-based) and what is wrong.
pub fn table(text: &str) -> Result<Table, (usize, String)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((hl, header)) = lines.next() else {
        return Err((0, "the matrix is empty".into()));
    };
    let mut words = header.split_whitespace();
    if words.next() != Some("-") {
        return Err((
            hl,
            "the header starts with `-`, then the destination pods".into(),
        ));
    }
    let cols: Vec<String> = words.map(str::to_string).collect();
    let mut rows = Vec::new();
    for (i, l) in lines {
        let mut w = l.split_whitespace();
        let from = w.next().unwrap_or_default().to_string();
        let mut cells = Vec::new();
        for c in w {
            cells.push(match c {
                "." => true,
                "X" => false,
                other => {
                    return Err((
                        i,
                        format!("`{other}` is not a cell: `.` allowed, `X` blocked"),
                    ));
                }
            });
        }
        if cells.len() != cols.len() {
            return Err((
                i,
                format!(
                    "row `{from}` has {} cells for {} columns",
                    cells.len(),
                    cols.len()
                ),
            ));
        }
        rows.push((from, cells));
    }
    Ok((cols, rows))
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
