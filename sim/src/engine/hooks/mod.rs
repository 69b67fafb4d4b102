//! The modules that register netfilter hook functions (see `nf_hook.rs`), one file each,
//! in the order they register: defragmentation, conntrack, the iptables tables, nf_tables'
//! base chains, NAT, IPVS, br_netfilter.
//! To add a rule engine, write its registrant here and list it in [`REGISTRANTS`].

mod br_netfilter;
mod conntrack;
mod defrag;
mod iptables;
mod ipvs;
mod nat;
mod nftables;

use super::nf_hook::{RegisteredHook, Registrant, registry};
use crate::net::Netns;

/// Every registrant, in registration order (between equal priorities the later runs first).
pub(super) const REGISTRANTS: &[&'static dyn Registrant] = &[
    &defrag::NfDefragIpv4,
    &conntrack::NfConntrack,
    &iptables::Iptables,
    &nftables::NfTables,
    &nat::NfNat,
    &ipvs::IpVs,
    &br_netfilter::BrNetfilter,
];

/// A rule engine's step note: `nat KUBE-SERVICES rule 3 "comment": verdict jump X`, or for
/// a chain's policy `filter INPUT (priority 0): no rule decided; policy accept`.
fn rule_note(
    table: &str,
    chain: &str,
    position: usize,
    prio: i32,
    comment: Option<&str>,
    action: &crate::netfilter::eval::HitAction,
) -> String {
    if position == 0 {
        return format!(
            "{table} {chain} (priority {prio}): no rule decided; {}",
            action.describe()
        );
    }
    // One buffer: a note is written for every rule a packet meets.
    use std::fmt::Write;
    let mut s = String::with_capacity(96);
    let _ = write!(s, "{table} {chain} rule {position}");
    if let Some(c) = comment {
        let _ = write!(s, " \"{c}\"");
    }
    let _ = write!(s, ": {}", action.describe());
    s
}

/// What is registered in `ns`, in the order the kernel calls it at each hook.
pub fn registered_hooks(ns: &Netns) -> Vec<RegisteredHook> {
    registry(ns, REGISTRANTS).iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netfilter::{Family, Hook};

    fn node(scenario: &str) -> crate::net::Netns {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(scenario);
        let s = crate::scenario::load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
        let w = crate::k8s::build_world(s.model(), 0).unwrap_or_else(|e| panic!("{e}"));
        w.ns_by_name("node-1").unwrap().clone()
    }

    fn at(ns: &crate::net::Netns, pf: Family, hook: Hook) -> Vec<(i32, &'static str)> {
        registered_hooks(ns)
            .iter()
            .filter(|o| o.family == pf && o.hook == hook)
            .map(|o| (o.priority, o.function))
            .collect()
    }

    #[test]
    fn a_node_registers_what_the_kernel_registers_in_priority_order() {
        // A node's ruleset has mangle, nat and filter (kube-proxy and flannel write no raw
        // rules): conntrack, mangle and NAT at PREROUTING, after br_netfilter's sabotage.
        let n = node("pod-to-pod-cross-node.yaml");
        assert_eq!(
            at(&n, Family::Ipv4, Hook::Prerouting),
            [
                (i32::MIN, "ip_sabotage_in"),
                (-400, "ipv4_conntrack_defrag"),
                (-200, "ipv4_conntrack_in"),
                (-150, "ipt_do_table"),
                (-100, "nf_nat_ipv4_pre_routing"),
            ]
        );
        assert_eq!(
            at(&n, Family::Ipv4, Hook::Postrouting),
            [
                (-150, "ipt_do_table"),
                (100, "nf_nat_ipv4_out"),
                (i32::MAX, "ipv4_confirm"),
            ]
        );
        assert_eq!(
            at(&n, Family::Bridge, Hook::Forward),
            [(-1, "br_nf_forward_ip")]
        );
    }

    #[test]
    fn ipvs_registers_around_filter_input_and_nat_output() {
        let n = node("ipvs-clusterip.yaml");
        assert_eq!(
            at(&n, Family::Ipv4, Hook::Input),
            [
                (-150, "ipt_do_table"),
                (0, "ipt_do_table"),
                (98, "ip_vs_out_hook"),
                (99, "ip_vs_in_hook"),
                (100, "nf_nat_ipv4_local_in"),
                (i32::MAX, "ipv4_confirm"),
            ]
        );
        assert_eq!(
            at(&n, Family::Ipv4, Hook::Output),
            [
                (-400, "ipv4_conntrack_defrag"),
                (-200, "ipv4_conntrack_local"),
                (-150, "ipt_do_table"),
                (-100, "nf_nat_ipv4_local_fn"),
                (-99, "ip_vs_out_hook"),
                (-98, "ip_vs_in_hook"),
                (0, "ipt_do_table"),
            ]
        );
    }

    #[test]
    fn nf_tables_base_chains_run_at_their_priorities_among_iptables_tables() {
        // kube-proxy's filter chains sit at -110 (before DNAT) and -90 (after it, for
        // locally sent packets); its nat chains are NAT's lookups, not hooks of their own.
        let n = node("nftables-clusterip.yaml");
        assert_eq!(
            at(&n, Family::Ipv4, Hook::Prerouting),
            [
                (i32::MIN, "ip_sabotage_in"),
                (-400, "ipv4_conntrack_defrag"),
                (-200, "ipv4_conntrack_in"),
                (-150, "ipt_do_table"),
                (-110, "nft_do_chain_ipv4"),
                (-100, "nf_nat_ipv4_pre_routing"),
            ]
        );
        assert_eq!(
            at(&n, Family::Ipv4, Hook::Output),
            [
                (-400, "ipv4_conntrack_defrag"),
                (-200, "ipv4_conntrack_local"),
                (-150, "ipt_do_table"),
                (-110, "nft_do_chain_ipv4"),
                (-100, "nf_nat_ipv4_local_fn"),
                (-90, "nft_do_chain_ipv4"),
                (0, "ipt_do_table"),
            ]
        );
    }
}
