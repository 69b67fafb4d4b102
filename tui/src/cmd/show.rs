//! `kpath show`: a node's or pod's Linux state as `ip`, `bridge`, `sysctl` and `ss` print
//! it, its netfilter rules as `iptables-save` does, or kube-proxy's IPVS mode for the node.

use crate::cmd::shared::load;
use crate::failure::{Failure, Output, usage};
use kpath_sim::k8s::build_world;
use kpath_sim::net::iproute2;
use kpath_sim::scenario::did_you_mean;
use std::path::PathBuf;

/// What `kpath show` prints.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `ip`, `bridge`, `sysctl` and `ss`.
    Linux,
    /// `iptables-save`.
    Iptables,
    /// What IPVS mode programs.
    Ipvs,
    /// What nftables mode writes, as `nft list ruleset`.
    Nft,
}

impl View {
    pub fn of(iptables: bool, ipvs: bool, nft: bool) -> View {
        match (iptables, ipvs, nft) {
            (true, _, _) => View::Iptables,
            (_, true, _) => View::Ipvs,
            (_, _, true) => View::Nft,
            _ => View::Linux,
        }
    }
}

/// `kpath show`.
pub fn command(
    scenario: PathBuf,
    node: Option<String>,
    pod: Option<String>,
    view: View,
    seed: Option<u64>,
) -> Result<Output, Failure> {
    let s = load(&scenario)?;
    let w = build_world(s.model(), seed.unwrap_or(s.seed))?;
    let names: Vec<String> = match (&node, &pod) {
        (Some(n), _) => vec![n.clone()],
        // A hostNetwork pod's state is its node's.
        (_, Some(p)) => vec![
            s.pods
                .iter()
                .find(|x| x.key() == *p && x.host_network)
                .map_or_else(|| p.clone(), |x| x.node.value.clone()),
        ],
        _ => s
            .cluster
            .nodes
            .iter()
            .map(|n| n.name.value.clone())
            .collect(),
    };
    let mut out = String::new();
    for name in names {
        let Some(ns) = w.ns_by_name(&name) else {
            let kind = if pod.is_some() { "pod" } else { "node" };
            let known: Vec<String> = if pod.is_some() {
                s.pods.iter().map(|p| p.key()).collect()
            } else {
                s.cluster
                    .nodes
                    .iter()
                    .map(|n| n.name.value.clone())
                    .collect()
            };
            // `--pod client` for `default/client`: the namespace was left out,
            // which no edit distance bridges.
            let unqualified = (pod.is_some() && !name.contains('/'))
                .then(|| {
                    known
                        .iter()
                        .find(|k| k.rsplit_once('/').is_some_and(|(_, n)| n == name))
                })
                .flatten()
                .map(String::as_str);
            let hint = unqualified
                .or_else(|| did_you_mean(&name, known.iter().map(String::as_str)))
                .map(|m| format!("did you mean `{m}`? "))
                .unwrap_or_default();
            return Err(usage(format!(
                "{} has no {kind} `{name}`\n  = hint: {hint}{kind}s: {}",
                s.file,
                known.join(", ")
            )));
        };
        if view == View::Ipvs {
            out.push_str(&ipvs_view(&s, ns));
        } else if view == View::Nft {
            out.push_str(&nft_view(&s, ns));
        } else if view == View::Iptables {
            out.push_str(&ns.netfilter.save());
            // The sets its rules match on (kube-router's, kube-proxy's IPVS mode's), as
            // comments, so that the text still loads with iptables-restore.
            if !ns.ipsets.is_empty() {
                out.push_str(
                    "# the ipsets these rules match on (`ipset save`; restore them first):\n",
                );
                for line in ns
                    .ipsets
                    .iter()
                    .flat_map(|s| s.save().lines().map(str::to_string).collect::<Vec<_>>())
                {
                    out.push_str("# ");
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        } else {
            out.push_str(&iproute2::show(&w, ns));
        }
    }
    Ok(Output::Text(out))
}

/// `kpath show --nft`: node `ns`'s nf_tables ruleset as `nft list ruleset` prints it: the
/// `ip kube-proxy` table in nftables mode; in another mode, the table nftables mode would
/// write, said so.
fn nft_view(s: &kpath_sim::scenario::Scenario, ns: &kpath_sim::net::Netns) -> String {
    use kpath_sim::k8s::kube_proxy::{self, iptables, nftables};
    use kpath_sim::netfilter::nftables::list_ruleset;
    if !ns.netfilter.nft.tables.is_empty() {
        return format!(
            "# {}: the nf_tables ruleset (kube-proxy v1.33 in nftables mode); `kpath trace` walks packets through it\n{}",
            ns.name,
            list_ruleset(&ns.netfilter.nft)
        );
    }
    let cluster = s.model();
    let nodeports = cluster
        .nodes
        .iter()
        .find(|n| n.name == ns.name)
        .map(|n| iptables::nodeport_ips(ns, cluster, n))
        .unwrap_or_default();
    let text = nftables::transaction(cluster, &ns.name, &nodeports);
    let mode = kube_proxy::for_cluster(cluster).name();
    // kpath's own writer, read by kpath's own reader: a failure is a bug, said plainly.
    match kpath_sim::netfilter::nftables::parse("kube-proxy", &text) {
        Ok(rs) => format!(
            "# {}: the table kube-proxy v1.33 would write in nftables mode. This scenario runs {mode} mode:\n# add `kubeProxy: {{mode: nftables}}` to walk packets through it, or see both with `kpath compare`\n{}",
            ns.name,
            list_ruleset(&rs)
        ),
        Err(e) => format!("# kpath could not read its own nftables transaction: {e}\n{text}"),
    }
}

/// `kpath show --ipvs`: kube-proxy's IPVS mode for one node, in the tools' own formats.
fn ipvs_view(s: &kpath_sim::scenario::Scenario, ns: &kpath_sim::net::Netns) -> String {
    use kpath_sim::ipvs::print;
    use kpath_sim::k8s::kube_proxy::{self, ipvs};
    let n = ipvs::ipvs_node(
        s.model(),
        &ns.name,
        &ipvs::node_ips(ns),
        &ipvs::scheduler(s.model()),
    );
    let what = kube_proxy::for_cluster(s.model()).ipvs_view_note();
    let bound: Vec<String> = n
        .bound
        .iter()
        .map(|a| format!("    inet {a}/32 scope global kube-ipvs0"))
        .collect();
    let sets: String = n.ipsets.iter().map(|x| x.save()).collect();
    format!(
        "# {node}: {what}\n\n# ip addr show kube-ipvs0\nkube-ipvs0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN\n{}\n\n# ipvsadm -Ln\n{}\n# ipvsadm-save -n\n{}\n# ipset save\n{sets}\n# iptables-restore payload (kube-proxy's part)\n{}",
        bound.join("\n"),
        print::list(&n.ipvs),
        print::save(&n.ipvs),
        n.iptables,
        node = ns.name
    )
}
