//! A chain's rules indexed by the destination address they require, so that a walk can
//! step over rules that cannot match the packet without reading them one by one.
//!
//! The kernel reads every rule of a chain in order (ipt_do_table); for each it first checks
//! the IP header part of the rule (`ip_packet_match`: -s, -d, -i, -o, -p) and only then its
//! matches. So a rule with `-d A/32` (not negated) can only match a packet to A, and for any
//! other destination the kernel rejects it there, before any match module (and any state
//! a match keeps) is reached. kube-proxy's KUBE-SERVICES is such a chain: one rule per
//! Service port, each with `-d CLUSTER-IP/32`. Stepping over those rules is exact: the
//! rules the walk reports and the count of rules "looked at" are the kernel's.

use super::Chain;
use rustc_hash::FxHashMap;
use std::net::Ipv4Addr;

/// Chains shorter than this are read rule by rule: the index would not pay.
pub const MIN_RULES: usize = 32;

#[derive(Clone, Debug, Default)]
pub struct DstIndex {
    /// How many rules the chain had when indexed (a changed chain is not trusted).
    rules: usize,
    /// Positions of the rules that require exactly this destination.
    by_dst: FxHashMap<Ipv4Addr, Vec<u32>>,
    /// Positions of every other rule (no `-d`, a shorter prefix, or a negated one).
    others: Vec<u32>,
}

impl DstIndex {
    /// The chain's index, or None when it is too short to need one.
    pub fn of(chain: &Chain) -> Option<DstIndex> {
        if chain.rules.len() < MIN_RULES {
            return None;
        }
        let mut ix = DstIndex {
            rules: chain.rules.len(),
            ..DstIndex::default()
        };
        for (i, r) in chain.rules.iter().enumerate() {
            match r.dst {
                Some((net, false)) if net.prefix == 32 => {
                    ix.by_dst.entry(net.addr).or_default().push(i as u32)
                }
                _ => ix.others.push(i as u32),
            }
        }
        Some(ix)
    }

    /// Whether the index still describes `chain`.
    pub fn fits(&self, chain: &Chain) -> bool {
        self.rules == chain.rules.len()
    }

    /// The first position at or after `from` whose rule may match a packet to `dst`:
    /// every rule before it requires another destination. The chain's length when none.
    pub fn next_candidate(&self, from: usize, dst: Ipv4Addr) -> usize {
        let first_at = |v: &[u32]| {
            let k = v.partition_point(|&p| (p as usize) < from);
            v.get(k).map_or(self.rules, |&p| p as usize)
        };
        let own = self.by_dst.get(&dst).map_or(self.rules, |v| first_at(v));
        own.min(first_at(&self.others))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netfilter::rule::{Rule, Target};
    use crate::wire::Ipv4Net;

    fn rule(dst: Option<(&str, u8, bool)>) -> Rule {
        let mut r = Rule::new(Target::Accept);
        r.dst = dst.map(|(a, p, inv)| (Ipv4Net::new(a.parse().unwrap(), p), inv));
        r
    }

    #[test]
    fn candidates_are_the_rules_for_the_destination_and_every_rule_without_one() {
        let mut rules: Vec<Rule> = (0..40)
            .map(|i| rule(Some((&format!("10.96.0.{i}"), 32, false))))
            .collect();
        rules[10] = rule(None);
        rules[20] = rule(Some(("10.96.0.0", 24, false)));
        rules[30] = rule(Some(("10.96.0.7", 32, true)));
        let chain = Chain {
            name: "KUBE-SERVICES".into(),
            policy: None,
            rules: rules.into_iter().map(std::sync::Arc::new).collect(),
        };
        let ix = DstIndex::of(&chain).unwrap();
        let to = |a: &str| a.parse::<Ipv4Addr>().unwrap();
        assert_eq!(ix.next_candidate(0, to("10.96.0.5")), 5);
        assert_eq!(ix.next_candidate(6, to("10.96.0.5")), 10);
        assert_eq!(ix.next_candidate(11, to("10.96.0.5")), 20);
        assert_eq!(ix.next_candidate(21, to("10.96.0.5")), 30);
        assert_eq!(ix.next_candidate(31, to("10.96.0.35")), 35);
        assert_eq!(ix.next_candidate(36, to("10.96.0.35")), 40);
        assert_eq!(ix.next_candidate(0, to("192.0.2.1")), 10);
    }

    #[test]
    fn short_chains_are_not_indexed() {
        let chain = Chain {
            name: "X".into(),
            policy: None,
            rules: (1..MIN_RULES)
                .map(|_| std::sync::Arc::new(rule(None)))
                .collect(),
        };
        assert!(DstIndex::of(&chain).is_none());
    }
}
