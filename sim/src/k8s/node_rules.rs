//! A node's whole iptables ruleset, put together the way the agents leave it: kubelet's
//! canary chains, kube-proxy's jumps (prepended) and restore payload, flannel's rules
//! (appended). The text is loaded through kpath's iptables-restore reader, so what
//! `kpath show --iptables` prints is exactly what that reader makes of the agents' rules.

use super::flannel;
use super::kube_proxy::KubeProxyRules;
use crate::cluster::{Cluster, Node};
use crate::diag::InputError;
use crate::netfilter::{Netfilter, RuleCache, parse_iptables_save_cached};
use std::fmt::Write;

/// The ruleset text for `node`, in iptables-restore format, with kube-proxy's part `kp`
/// (from its iptables or its IPVS mode).
pub fn node_ruleset_text(
    cluster: &Cluster,
    node: &Node,
    kp: &KubeProxyRules,
    kr: Option<&super::kube_router::Programmed>,
) -> String {
    let (fl_nat_jumps, fl_nat, fl_filter_jumps, fl_filter) =
        flannel::iptables(cluster, node.pod_cidr);
    // Sized once: kube-proxy's part is tens of megabytes at 10,000 Services.
    let mut t = String::with_capacity(kp.filter.len() + kp.nat.len() + 4096);
    t.push_str("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
    // kubelet and kube-proxy create these empty chains to notice a flushed table.
    // kube-proxy's nftables mode leaves iptables alone: no canary of its own there.
    let kp_canary = if kp.nft.is_some() {
        ""
    } else {
        ":KUBE-PROXY-CANARY - [0:0]\n"
    };
    t.push_str(":KUBE-IPTABLES-HINT - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\n");
    t.push_str(kp_canary);
    t.push_str("COMMIT\n");
    t.push_str("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    t.push_str(":FLANNEL-FWD - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\n");
    t.push_str(kp_canary);
    // kube-router keeps its jumps at position 1 of INPUT, FORWARD and OUTPUT, ahead of
    // kube-proxy's (it moves them back there on every sync).
    let (kr_jumps, kr_filter) = kr.map_or((&[][..], ""), |k| (&k.jumps[..], k.filter.as_str()));
    lines_starting(&mut t, kr_filter, ":");
    lines_starting(&mut t, &kp.filter, ":");
    for j in kr_jumps
        .iter()
        .chain(&kp.filter_jumps)
        .chain(&fl_filter_jumps)
    {
        let _ = writeln!(t, "{j}");
    }
    lines_starting(&mut t, kr_filter, "-A");
    lines_starting(&mut t, &kp.filter, "-A");
    for r in &fl_filter {
        let _ = writeln!(t, "{r}");
    }
    t.push_str("COMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n");
    t.push_str(":FLANNEL-POSTRTG - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\n");
    t.push_str(kp_canary);
    lines_starting(&mut t, &kp.nat, ":");
    for j in kp.nat_jumps.iter().chain(&fl_nat_jumps) {
        let _ = writeln!(t, "{j}");
    }
    lines_starting(&mut t, &kp.nat, "-A");
    for r in &fl_nat {
        let _ = writeln!(t, "{r}");
    }
    t.push_str("COMMIT\n");
    t
}

/// Append the lines of `text` that start with `prefix` (declarations or rules).
fn lines_starting(t: &mut String, text: &str, prefix: &str) {
    for l in text.lines().filter(|l| l.starts_with(prefix)) {
        t.push_str(l);
        t.push('\n');
    }
}

/// Load the node's ruleset with kube-proxy's part `kp`. Lines read for earlier nodes come
/// from `cache`. An error here is a bug in a controller, reported as such.
pub fn node_netfilter(
    cluster: &Cluster,
    node: &Node,
    kp: &KubeProxyRules,
    kr: Option<&super::kube_router::Programmed>,
    cache: &mut RuleCache,
) -> Result<Netfilter, InputError> {
    let text = node_ruleset_text(cluster, node, kp, kr);
    let mut nf = parse_iptables_save_cached(
        &format!("<rules kpath generated for {}>", node.name),
        &text,
        cache,
    )?;
    if let Some(nft) = &kp.nft {
        nf.nft = std::sync::Arc::clone(nft);
    }
    Ok(nf)
}
