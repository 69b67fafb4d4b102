//! Controllers: turn a scenario into the Linux state a real cluster would have, programmed
//! the way the real agents program it. Each controller is a function over the world, but
//! kube-proxy's: one per mode behind kube_proxy::Provider, which programs one node's
//! namespace and hands back its iptables rules for node_rules to load.

mod cni_bridge;
pub mod dns;
mod flannel;
pub mod internet;
pub mod kube_proxy;
pub mod kube_router;
mod link;
mod mac;
mod node;
pub mod node_rules;
pub mod services;

pub use mac::{flannel_vtep_mac, fnv1a};

use crate::cluster::Cluster;
use crate::net::World;

/// Build the world for a scenario. The same scenario and seed always give the same world.
/// Fails only if a controller wrote rules kpath's own iptables reader refuses (a bug).
pub fn build_world(cluster: &Cluster, seed: u64) -> Result<World, crate::diag::InputError> {
    let mut w = World::new(seed);
    let switch = node::underlay_switch(&mut w, cluster);
    for n in &cluster.nodes {
        node::node(&mut w, cluster, n, switch);
    }
    flannel::program(&mut w, cluster);
    // Each node's pods, in the scenario's order.
    let mut pods: std::collections::HashMap<&str, Vec<&crate::cluster::Pod>> = Default::default();
    for p in &cluster.pods {
        pods.entry(p.node.as_str()).or_default().push(p);
    }
    for n in &cluster.nodes {
        let on_node = pods.get(n.name.as_str()).map_or(&[][..], Vec::as_slice);
        cni_bridge::program(&mut w, cluster, n, on_node);
    }
    kube_proxy_on_nodes(&mut w, cluster)?;
    for n in &cluster.nodes {
        node::sysctls(&mut w, cluster, n);
        node::link_mtus(&mut w, n);
    }
    internet::program(&mut w, cluster, switch)?;
    Ok(w)
}

/// kube-proxy on every node, in the scenario's mode, once the CNI has made its devices (in
/// IPVS mode NodePort virtual services listen on every node address); its rules are loaded
/// with kubelet's and flannel's as the node's ruleset.
fn kube_proxy_on_nodes(w: &mut World, cluster: &Cluster) -> Result<(), crate::diag::InputError> {
    let proxier = kube_proxy::for_cluster(cluster);
    // Every node gets kube-proxy's rules for every Service: read each distinct line once.
    let mut cache = crate::netfilter::RuleCache::default();
    // The rules last written, with the node view they were written for: the next node with
    // that view gets them as they are.
    let mut written: Option<(String, kube_proxy::KubeProxyRules)> = None;
    for n in &cluster.nodes {
        let Some(ns) = node::host_ns_mut(w, &n.name) else {
            continue;
        };
        let own;
        let rules = match proxier.node_view(cluster, n) {
            Some(view) => {
                if written.as_ref().is_none_or(|(w, _)| *w != view) {
                    drop(written.take()); // before the next rules are written: tens of MB
                    written = Some((view, proxier.program(ns, cluster, n)));
                }
                written.as_ref().map(|(_, r)| r)
            }
            None => {
                own = proxier.program(ns, cluster, n);
                Some(&own)
            }
        };
        let Some(rules) = rules else { continue };
        let kr = (cluster.network.cni.policy == Some(crate::cluster::PolicyEnforcer::KubeRouter))
            .then(|| kube_router::program(cluster, n));
        ns.netfilter =
            node_rules::node_netfilter(cluster, n, rules, kr.as_ref(), &mut cache)?.into();
        if let Some(kr) = kr {
            let mut sets = ns.ipsets.to_vec();
            sets.extend(kr.ipsets);
            ns.ipsets = sets.into();
        }
    }
    Ok(())
}
