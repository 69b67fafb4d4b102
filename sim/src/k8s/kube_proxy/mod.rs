//! kube-proxy: one controller per mode behind one interface, [`Provider`] (upstream's
//! `proxy.Provider`, which each mode's `Proxier` implements), and the one place the mode is
//! chosen, [`controller`]. iptables.rs follows `pkg/proxy/iptables`, ipvs.rs `pkg/proxy/ipvs`
//! (kube-proxy v1.30-era), nftables.rs `pkg/proxy/nftables` (v1.33); this file holds what both write alike: the masquerade mark and its
//! rules, the forwarding rules, and the shape of the rules handed to node_rules.
//!
//! A controller programs one node's host namespace and returns kube-proxy's iptables rules;
//! the caller loads them with kubelet's and flannel's (node_rules), so no controller
//! imports another. Whatever else differs by mode (its name on the command line, what
//! `kpath show --ipvs` says about it, whether the lab can build it) is a `Provider` method
//! too, so no caller matches on the mode. A mode is one file with a `Provider`, one arm in
//! [`controller`] and its entry in [`MODES`].

pub mod iptables;
pub mod ipvs;
pub mod nftables;

use crate::cluster::{Cluster, KubeProxyConfig, Node, ProxyMode};
use crate::net::Netns;

/// One kube-proxy mode.
pub trait Provider {
    /// The mode, as a scenario's `kubeProxy.mode` names it.
    fn mode(&self) -> ProxyMode;
    /// `iptables`, `ipvs`: the mode's word in scenarios, on the command line and in reports.
    fn name(&self) -> &'static str;
    /// `syncProxyRules` on one node: program the node's host namespace `ns` (already built,
    /// with the CNI's devices and addresses) and return kube-proxy's iptables rules.
    fn program(&self, ns: &mut Netns, cluster: &Cluster, node: &Node) -> KubeProxyRules;
    /// What of `node` this mode's rules depend on. kube-proxy writes most of its rules alike
    /// on every node: nodes with the same view get the same rules, so they are written once
    /// for a run of such nodes. None: `program` runs for every node (it changes the node).
    fn node_view(&self, _cluster: &Cluster, _node: &Node) -> Option<String> {
        None
    }
    /// The heading of `kpath show --ipvs` (which shows IPVS mode's state for a node) when
    /// the scenario runs in this mode.
    fn ipvs_view_note(&self) -> &'static str;
    /// Why kpath's lab cannot build a scenario in this mode, if it cannot;
    /// `kernel_has_ipvs` says whether the machine's kernel has IPVS (`/proc/net/ip_vs`).
    fn lab_refusal(&self, kernel_has_ipvs: bool) -> Option<String>;
}

/// The controller for `mode`: the one place a kube-proxy mode is decided.
pub fn controller(mode: ProxyMode) -> &'static dyn Provider {
    match mode {
        ProxyMode::Iptables => &iptables::Proxier,
        ProxyMode::Ipvs => &ipvs::Proxier,
        ProxyMode::Nftables => &nftables::Proxier,
    }
}

/// Every mode kpath models, in the order hints name them.
pub const MODES: [ProxyMode; 3] = [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables];

/// The mode a word names (`iptables`, `ipvs`: each controller's name).
pub fn parse_mode(word: &str) -> Option<ProxyMode> {
    MODES.into_iter().find(|m| controller(*m).name() == word)
}

/// A list of modes that does not parse: the message, with its place, and what to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModesError {
    pub message: String,
    pub hint: String,
}

/// Modes written comma-separated after the command-line option `option` (`--proxy-modes
/// iptables,ipvs`), each one once. The errors name `option`.
pub fn parse_modes(option: &str, text: &str) -> Result<Vec<ProxyMode>, ModesError> {
    let mut modes = Vec::new();
    for word in text.split(',').map(str::trim) {
        let Some(mode) = parse_mode(word) else {
            let names: Vec<&str> = MODES.iter().map(|m| controller(*m).name()).collect();
            return Err(ModesError {
                message: format!("{option}: unknown kube-proxy mode `{word}`"),
                hint: format!(
                    "kpath models {}; write them comma-separated, e.g. `{option} {}`",
                    listed(&names),
                    names.join(",")
                ),
            });
        };
        if modes.contains(&mode) {
            return Err(ModesError {
                message: format!("{option}: `{word}` is given twice"),
                hint: "name each mode once".into(),
            });
        }
        modes.push(mode);
    }
    Ok(modes)
}

/// `` `a` ``, `` `a` and `b` ``, `` `a`, `b` and `c` ``.
fn listed(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The controller for the mode the cluster runs kube-proxy in.
pub fn for_cluster(cluster: &Cluster) -> &'static dyn Provider {
    controller(cluster.kube_proxy.mode)
}

/// kube-proxy's rules for one node, split the way the node's ruleset is put together
/// (node_rules): its own chains and rules per table, apart from its jumps from the
/// built-in chains.
pub struct KubeProxyRules {
    pub filter: String,
    pub nat: String,
    /// The jumps from the built-in chains kube-proxy ensures (prepended, so listed here in
    /// their final order).
    pub filter_jumps: Vec<String>,
    pub nat_jumps: Vec<String>,
    /// nftables mode's `ip kube-proxy` table (the other modes write none).
    pub nft: Option<std::sync::Arc<crate::netfilter::nftables::Ruleset>>,
}

/// The sysctls kube-proxy sets when it starts (`NewProxier`): in iptables mode with
/// localhostNodePorts, and nodePortAddresses holding 127.0.0.1 (as when it is unset),
/// `net.ipv4.conf.all.route_localnet=1`, so that NodePorts answer on 127.0.0.1. IPVS mode sets ip_forward (on
/// already: the CNI plugin set it) and its net.ipv4.vs.* knobs, which kpath's IPVS follows
/// without naming them (conntrack=1: connections stay tracked for iptables' masquerade).
pub fn sysctls(kp: &KubeProxyConfig) -> Vec<(crate::net::sysctl::Key, String)> {
    use crate::net::sysctl::Key;
    match kp.mode {
        ProxyMode::Iptables
            if kp.localhost_node_ports && kp.node_port_addresses.contains_loopback() =>
        {
            vec![(Key::RouteLocalnet("all".into()), "1".into())]
        }
        ProxyMode::Iptables => Vec::new(),
        ProxyMode::Ipvs => vec![(Key::IpForward, "1".into())],
        // No localhost NodePorts in this mode, so no route_localnet.
        ProxyMode::Nftables => Vec::new(),
    }
}

/// The masquerade mark, `1 << --iptables-masquerade-bit` (14).
pub const MASQ_MARK: &str = "0x4000";

/// KUBE-FIREWALL's one rule: martian packets to 127/8 from outside are dropped (kubelet
/// writes it, and kube-proxy's iptables mode too when localhostNodePorts is on).
pub(crate) const LOCALNET_FIREWALL: &str = "-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP";

/// KUBE-POSTROUTING and KUBE-MARK-MASQ, written alike in both modes: packets marked by
/// KUBE-MARK-MASQ lose the mark and are masqueraded on their way out.
fn masquerade_rules(random_fully: bool) -> [String; 4] {
    let random_fully = if random_fully { " --random-fully" } else { "" };
    [
        format!("-A KUBE-POSTROUTING -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN"),
        format!("-A KUBE-POSTROUTING -j MARK --xor-mark {MASQ_MARK}"),
        format!(
            "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE{random_fully}"
        ),
        format!("-A KUBE-MARK-MASQ -j MARK --or-mark {MASQ_MARK}"),
    ]
}

/// KUBE-FORWARD's accepts, written alike in both modes: marked (masqueraded) traffic and
/// the packets of connections conntrack knows.
fn forward_accept_rules() -> [String; 2] {
    [
        format!(
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT"
        ),
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_controller_is_the_one_for_its_mode_and_named_as_scenarios_name_it() {
        for mode in MODES {
            let c = controller(mode);
            assert_eq!(c.mode(), mode);
            assert_eq!(parse_mode(c.name()), Some(mode));
            let read: ProxyMode = serde_saphyr::from_str(c.name()).unwrap();
            assert_eq!(read, mode, "kubeProxy.mode: {}", c.name());
        }
        assert_eq!(controller(ProxyMode::Iptables).name(), "iptables");
        assert_eq!(controller(ProxyMode::Ipvs).name(), "ipvs");
        assert_eq!(controller(ProxyMode::Nftables).name(), "nftables");
    }

    #[test]
    fn mode_lists_parse_with_located_hinted_errors() {
        let p = |t: &str| parse_modes("--proxy-modes", t);
        assert_eq!(
            p("ipvs, iptables"),
            Ok(vec![ProxyMode::Ipvs, ProxyMode::Iptables])
        );
        assert_eq!(
            p("iptables,nft"),
            Err(ModesError {
                message: "--proxy-modes: unknown kube-proxy mode `nft`".into(),
                hint: "kpath models `iptables`, `ipvs` and `nftables`; write them comma-separated, e.g. `--proxy-modes iptables,ipvs,nftables`".into(),
            })
        );
        assert_eq!(
            p("ipvs,ipvs").unwrap_err().message,
            "--proxy-modes: `ipvs` is given twice"
        );
        assert_eq!(listed(&["a"]), "`a`");
        assert_eq!(listed(&["a", "b", "c"]), "`a`, `b` and `c`");
    }
}
