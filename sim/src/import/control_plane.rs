//! What the control plane does to manifests before anything runs, done deterministically:
//! the workload controllers make pods from templates (Deployment through its ReplicaSet,
//! StatefulSet's ordinals, DaemonSet's one per node), the scheduler places each pod, the
//! node's IPAM (the bridge plugin's host-local) gives it the next address of the node's
//! podCIDR, and the API server's allocators give a Service its ClusterIP and nodePorts.
//! The real allocators pick at random from the upper part of their ranges (the lower part
//! is kept for addresses people choose, KEP-3070 and KEP-3668); kpath takes the lowest free
//! one there instead, and says so.

use super::Notes;
use super::convert::Src;
use super::objects::{Condition, Object};
use crate::diag::InputError;
use crate::scenario::Scenario;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

/// The alphabet of Kubernetes' generated names (`utilrand.String`, `SafeEncodeString`):
/// no vowels, no look-alikes.
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` characters of the alphabet from a hash of `seed` (FNV-1a): the same manifests give
/// the same names.
fn suffix(seed: &str, n: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..n)
        .map(|i| {
            let x = h.rotate_left((i * 11) as u32) ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// The pods the workloads make, named as their controllers name them: a Deployment's
/// `NAME-<template hash>-<5>`, a ReplicaSet's `NAME-<5>`, a StatefulSet's `NAME-0..`, a
/// DaemonSet's `NAME-<5>` on every node its pods fit (taints, nodeSelector).
pub fn workload_pods(
    src: &Src,
    workloads: &[Object],
    nodes: &[crate::scenario::Node],
    notes: &mut Notes,
) -> Result<Vec<Object>, InputError> {
    let mut pods = Vec::new();
    for w in workloads {
        let name = src.name(w)?;
        let Some(template) = &w.spec.template else {
            return Err(src
                .err(name, format!("{} `{}` has no spec.template", w.kind(), name.value))
                .with_hint("a workload's pods come from `spec.template: {metadata: {labels}, spec: {containers}}`"));
        };
        let replicas = match &w.spec.replicas {
            Some(r) if !(0..=1000).contains(&r.value) => {
                return Err(src
                    .err(r, format!("{} replicas", r.value))
                    .with_hint("kpath makes up to 1000 pods per workload"));
            }
            Some(r) => r.value as usize,
            None => 1,
        };
        let base = &name.value;
        let names: Vec<(String, Option<String>)> = match w.kind() {
            "Deployment" => {
                let hash = suffix(&format!("{}/{base}", w.namespace()), 10);
                (0..replicas)
                    .map(|i| {
                        (
                            format!("{base}-{hash}-{}", suffix(&format!("{base}-{hash}/{i}"), 5)),
                            None,
                        )
                    })
                    .collect()
            }
            "StatefulSet" => (0..replicas)
                .map(|i| (format!("{base}-{i}"), None))
                .collect(),
            "DaemonSet" => nodes
                .iter()
                .filter(|n| {
                    let why = super::scheduling::unfit(n, &template.spec, true);
                    if let Some(why) = &why {
                        notes.assumed(format!(
                            "DaemonSet {}: no pod on node {}: {why}",
                            w.key(),
                            n.name.value
                        ));
                    }
                    why.is_none()
                })
                .map(|n| {
                    let n = &n.name.value;
                    (
                        format!("{base}-{}", suffix(&format!("{base}/{n}"), 5)),
                        Some(n.clone()),
                    )
                })
                .collect(),
            _ => (0..replicas)
                .map(|i| {
                    (
                        format!("{base}-{}", suffix(&format!("{base}/{i}"), 5)),
                        None,
                    )
                })
                .collect(),
        };
        for (pod_name, node) in names {
            let mut p = Object {
                kind: Some(super::like("Pod".to_string(), name)),
                metadata: template.metadata.clone(),
                spec: template.spec.clone(),
                ..Object::default()
            };
            p.metadata.name = Some(super::like(pod_name, name));
            p.metadata.namespace = w.metadata.namespace.clone();
            if let Some(n) = node {
                p.spec.node_name = Some(super::like(n, name));
            }
            pods.push(p);
        }
        notes.assumed(format!(
            "{} {} made {} pod{}, each running and ready",
            w.kind(),
            w.key(),
            pods_of(&pods, w),
            if pods_of(&pods, w) == 1 { "" } else { "s" }
        ));
    }
    Ok(pods)
}

/// The API server's names for objects that ask for one (`metadata.generateName`, as
/// `kubectl create -f` of a Job's or a debug pod's manifest): the prefix and five
/// characters, here from a hash of the namespace, the prefix and how many came before.
pub fn generate_names(objects: &mut [Object]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for o in objects.iter_mut() {
        if o.metadata.name.is_some() {
            continue;
        }
        let Some(prefix) = o.metadata.generate_name.clone() else {
            continue;
        };
        let key = format!("{}/{prefix}", o.namespace());
        let n = seen.entry(key.clone()).or_default();
        let name = format!("{prefix}{}", suffix(&format!("{key}/{n}"), 5));
        *n += 1;
        o.metadata.name = Some(match &o.kind {
            Some(k) => super::like(name, k),
            None => super::plain(name),
        });
    }
}

fn pods_of(pods: &[Object], w: &Object) -> usize {
    let prefix = format!("{}-", w.name());
    pods.iter()
        .filter(|p| p.namespace() == w.namespace() && p.name().starts_with(&prefix))
        .count()
}

/// Place every pod without a node on the node with the fewest pods (in the nodes' order)
/// among those it fits (nodeSelector, taints, cordoned; `nodeName` is kept), give it the lowest
/// free address of its node's podCIDR from .2 (.1 is cni0), and mark it running and
/// ready. Pods that have a node and an address are left as they are.
pub fn schedule(pods: &mut [Object], s: &Scenario, notes: &mut Notes) {
    let mut load: BTreeMap<&str, usize> = s
        .cluster
        .nodes
        .iter()
        .map(|n| (n.name.value.as_str(), 0))
        .collect();
    let mut used: HashSet<Ipv4Addr> = HashSet::new();
    for p in &s.pods {
        if let Some(ip) = &p.ip {
            used.insert(ip.value);
        }
        if let Some(l) = load.get_mut(p.node.value.as_str()) {
            *l += 1;
        }
    }
    for p in pods.iter() {
        if let Some(ip) = p.status.pod_ip.as_ref().and_then(|i| i.value.parse().ok()) {
            used.insert(ip);
        }
    }
    for p in pods.iter_mut() {
        let at = p
            .metadata
            .name
            .clone()
            .unwrap_or_else(|| super::plain(String::new()));
        if p.spec.node_name.is_none() {
            // kube-scheduler's filters, then the fewest pods (in the nodes' order on a tie).
            let mut unfit = Vec::new();
            let node = s
                .cluster
                .nodes
                .iter()
                .filter(|n| match super::scheduling::unfit(n, &p.spec, false) {
                    Some(why) => {
                        unfit.push(format!("{}: {why}", n.name.value));
                        false
                    }
                    None => true,
                })
                .enumerate()
                .min_by_key(|(i, n)| (load.get(n.name.value.as_str()).copied(), *i))
                .map(|(_, n)| n.name.value.clone());
            match node {
                Some(n) => p.spec.node_name = Some(super::like(n, &at)),
                None => {
                    notes.left_out(format!(
                        "pod {}: no node fits it (it stays Pending): {}",
                        p.key(),
                        unfit.join("; ")
                    ));
                    continue;
                }
            }
        }
        let node = p
            .spec
            .node_name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default();
        if let Some(l) = load.get_mut(node.as_str()) {
            *l += 1;
        }
        if !p.spec.host_network
            && p.status.pod_ip.is_none()
            && let Some(n) = s.node(&node)
        {
            let cidr = n.pod_cidr.value;
            let free = (2..cidr.size().saturating_sub(1))
                .map(|i| cidr.nth(i))
                .find(|ip| !used.contains(ip));
            if let Some(ip) = free {
                used.insert(ip);
                p.status.pod_ip = Some(super::like(ip.to_string(), &at));
            }
        }
        if p.status.conditions.is_empty() {
            p.status.conditions.push(Condition {
                kind: "Ready".into(),
                status: "True".into(),
            });
        }
    }
}

/// Give each Service without one a ClusterIP (the lowest free address above the range's
/// static band) and each NodePort or LoadBalancer port without one a nodePort (likewise in
/// 30000-32767), as the API server's allocators would, less their randomness.
pub fn allocate(services: &mut [Object], s: &Scenario, notes: &mut Notes) {
    let cidr = s.cluster.service_cidr.value;
    let mut ips: HashSet<Ipv4Addr> = s.services.iter().filter_map(|x| x.cluster_ip()).collect();
    let mut ports: HashSet<u16> = s
        .services
        .iter()
        .flat_map(|x| {
            x.ports
                .iter()
                .filter_map(|p| p.node_port.as_ref().map(|n| n.value))
        })
        .collect();
    for o in services.iter() {
        ips.extend(
            o.spec
                .cluster_ip
                .as_ref()
                .and_then(|c| c.value.parse::<Ipv4Addr>().ok()),
        );
        ports.extend(
            o.spec
                .ports
                .iter()
                .filter_map(|p| p.node_port.as_ref().map(|n| n.value)),
        );
    }
    // KEP-3070: the static band is min(max(16, size/16), 256) addresses; KEP-3668: for
    // nodePorts min(max(16, size/32), 128).
    let size = cidr.size();
    let band = (size / 16).clamp(16, 256);
    let port_band = (2768u32 / 32).clamp(16, 128) as u16;
    for o in services.iter_mut() {
        let key = o.key();
        let at = o
            .metadata
            .name
            .clone()
            .unwrap_or_else(|| super::plain(String::new()));
        let kind = o
            .spec
            .kind
            .as_ref()
            .map_or("ClusterIP", |k| k.value.as_str())
            .to_string();
        if kind != "ExternalName" && o.spec.cluster_ip.is_none() {
            let free = (band.min(size.saturating_sub(2))..size.saturating_sub(1))
                .map(|i| cidr.nth(i))
                .find(|ip| !ips.contains(ip));
            if let Some(ip) = free {
                ips.insert(ip);
                notes.assumed(format!(
                    "Service {key} got ClusterIP {ip} (the API server picks one at random)"
                ));
                o.spec.cluster_ip = Some(super::like(ip.to_string(), &at));
            }
        }
        if kind == "NodePort" || kind == "LoadBalancer" {
            for p in o.spec.ports.iter_mut().filter(|p| p.node_port.is_none()) {
                if let Some(n) = (30000 + port_band..=32767).find(|n| !ports.contains(n)) {
                    ports.insert(n);
                    notes.assumed(format!("Service {key} port {} got nodePort {n} (the API server picks one at random)", p.port.value));
                    p.node_port = Some(Spanned::new(n, p.port.referenced, p.port.defined));
                }
            }
        }
    }
}
