//! kube-proxy: one controller per mode behind one interface, [`Provider`] (upstream's
//! `proxy.Provider`, which each mode's `Proxier` implements), and the one place the mode is
//! chosen, [`controller`]. iptables.rs follows `pkg/proxy/iptables`, ipvs.rs `pkg/proxy/ipvs`
//! (kube-proxy v1.30-era); this file holds what both write alike: the masquerade mark and its
//! rules, the forwarding rules, and the shape of the rules handed to node_rules.
//!
//! A controller programs one node's host namespace and returns kube-proxy's iptables rules;
//! the caller loads them with kubelet's and flannel's (node_rules), so no controller
//! imports another. A third mode (nftables) is one new file with a `Provider` and one arm
//! in [`controller`].

pub mod iptables;
pub mod ipvs;

use crate::net::Netns;
use crate::scenario::{Node, ProxyMode, Scenario};

/// One kube-proxy mode.
pub trait Provider {
    /// The mode, as a scenario's `kubeProxy.mode` names it.
    fn mode(&self) -> ProxyMode;
    /// `iptables`, `ipvs`: the mode's word in scenarios, on the command line and in reports.
    fn name(&self) -> &'static str;
    /// `syncProxyRules` on one node: program the node's host namespace `ns` (already built,
    /// with the CNI's devices and addresses) and return kube-proxy's iptables rules.
    fn program(&self, ns: &mut Netns, s: &Scenario, node: &Node) -> KubeProxyRules;
}

/// The controller for `mode`: the one place a kube-proxy mode is decided.
pub fn controller(mode: ProxyMode) -> &'static dyn Provider {
    match mode {
        ProxyMode::Iptables => &iptables::Proxier,
        ProxyMode::Ipvs => &ipvs::Proxier,
    }
}

/// The controller for the mode `s` runs kube-proxy in.
pub fn for_scenario(s: &Scenario) -> &'static dyn Provider {
    controller(s.proxy_mode())
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
    fn each_controller_is_the_one_for_its_mode() {
        for mode in [ProxyMode::Iptables, ProxyMode::Ipvs] {
            assert_eq!(controller(mode).mode(), mode);
        }
        assert_eq!(controller(ProxyMode::Iptables).name(), "iptables");
        assert_eq!(controller(ProxyMode::Ipvs).name(), "ipvs");
    }
}
