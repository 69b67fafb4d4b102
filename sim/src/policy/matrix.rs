//! The reachability matrix between a cluster's pods for one port and protocol, as
//! Kubernetes' e2e netpol suite prints its truth tables: a row per source pod, a column
//! per destination, `.` where the connection may open and `X` where a policy blocks it.
//!
//! It answers what [`super::reference::decide`] answers for every pair, with the work
//! done once per pod and per rule instead of once per pair (which pods each rule's peers
//! hold, which policies isolate each pod), so that 1,000 pods and 200 policies take well
//! under a second; `tests` checks it against `decide` pair by pair.

use super::reference::{Party, Probe, decide};
use crate::cluster::{Cluster, NetworkPolicy, Pod, PolicyPort, PolicyRule, PolicyType};
use crate::wire::IpProtocol;

/// Pods grouped by namespace, then by name: the matrix's rows and columns.
pub fn pods(cluster: &Cluster) -> Vec<&Pod> {
    let mut pods: Vec<&Pod> = cluster.pods.iter().filter(|p| !p.host_network).collect();
    pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    pods
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix {
    /// `namespace/name` of each row and column.
    pub pods: Vec<String>,
    pub port: u16,
    pub protocol: IpProtocol,
    /// `allowed[from][to]`.
    pub allowed: Vec<Vec<bool>>,
}

/// One direction's rule, with the pods its peers hold (by index into the matrix's pods).
struct Rule<'a> {
    every_peer: bool,
    peers: Vec<bool>,
    ports: &'a [PolicyPort],
}

/// The matrix for `port`/`protocol`.
pub fn matrix<'a>(cluster: &'a Cluster, port: u16, protocol: IpProtocol) -> Matrix {
    let pods = pods(cluster);
    let n = pods.len();
    // Per policy and direction: its rules, with the pods their peers hold.
    let compile = |policy: &NetworkPolicy, rules: &'a [PolicyRule]| -> Vec<Rule<'a>> {
        rules
            .iter()
            .map(|r| Rule {
                every_peer: r.peers.is_empty(),
                peers: pods
                    .iter()
                    .map(|p| {
                        r.peers.iter().any(|x| {
                            super::reference::peer_matches(cluster, policy, x, &Party::Pod(p))
                        })
                    })
                    .collect(),
                ports: &r.ports,
            })
            .collect()
    };
    let policies = &cluster.network_policies;
    let ingress: Vec<Vec<Rule>> = policies.iter().map(|p| compile(p, &p.ingress)).collect();
    let egress: Vec<Vec<Rule>> = policies.iter().map(|p| compile(p, &p.egress)).collect();
    // Per pod: the policies that isolate it, each way.
    let isolating = |t: PolicyType| -> Vec<Vec<usize>> {
        pods.iter()
            .map(|pod| {
                policies
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| {
                        p.namespace == pod.namespace
                            && p.applies(t)
                            && p.pod_selector.matches(&pod.labels)
                    })
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect()
    };
    let (iso_in, iso_out) = (
        isolating(PolicyType::Ingress),
        isolating(PolicyType::Egress),
    );
    let port_ok = |ports: &[PolicyPort], to: &Pod| {
        ports.is_empty()
            || ports
                .iter()
                .any(|x| super::reference::port_matches(x, port, protocol, &Party::Pod(to)))
    };
    let mut allowed = vec![vec![false; n]; n];
    for (i, row) in allowed.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            let to = pods[j];
            let out_ok = iso_out[i].is_empty()
                || iso_out[i].iter().any(|&p| {
                    egress[p]
                        .iter()
                        .any(|r| (r.every_peer || r.peers[j]) && port_ok(r.ports, to))
                });
            let in_ok = iso_in[j].is_empty()
                || iso_in[j].iter().any(|&p| {
                    ingress[p]
                        .iter()
                        .any(|r| (r.every_peer || r.peers[i]) && port_ok(r.ports, to))
                });
            *cell = i == j || (out_ok && in_ok);
        }
    }
    Matrix {
        pods: pods.iter().map(|p| p.key()).collect(),
        port,
        protocol,
        allowed,
    }
}

/// The same matrix, pair by pair, from the reference's own answer (for tests).
pub fn matrix_by_reference(cluster: &Cluster, port: u16, protocol: IpProtocol) -> Matrix {
    let pods = pods(cluster);
    let allowed = pods
        .iter()
        .map(|from| {
            pods.iter()
                .map(|to| {
                    decide(
                        cluster,
                        &Probe {
                            from: Party::Pod(from),
                            to: Party::Pod(to),
                            port,
                            protocol,
                        },
                    )
                    .allowed()
                })
                .collect()
        })
        .collect();
    Matrix {
        pods: pods.iter().map(|p| p.key()).collect(),
        port,
        protocol,
        allowed,
    }
}

/// The truth table as the e2e suite prints it: a header of destinations, then a row per
/// source, `.` allowed and `X` blocked, tab-separated.
pub fn print(m: &Matrix) -> String {
    let mut out = String::from("-");
    for p in &m.pods {
        out.push('\t');
        out.push_str(p);
    }
    out.push('\n');
    for (from, row) in m.pods.iter().zip(&m.allowed) {
        out.push_str(from);
        for a in row {
            out.push('\t');
            out.push(if *a { '.' } else { 'X' });
        }
        out.push('\n');
    }
    out
}
