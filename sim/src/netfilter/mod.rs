//! Netfilter: hooks, tables and chains (`net/netfilter/`, `net/ipv4/netfilter/`).
//!
//! The rule engines' data and semantics, below the datapath: tables, chains and rules as
//! iptables-restore reads them (`restore/`), their evaluation (`eval`), conntrack, ipsets,
//! and the hook numbers and priorities. Which functions run at a hook, in what order, is
//! the engine's hook registry (`engine/nf_hook.rs`), where each table registers at its
//! priority as `nf_register_net_hooks` users do.

pub mod conntrack;
mod dst_index;
pub mod eval;
pub mod ipset;
pub mod nftables;
mod packet_meta;
mod restore;
pub mod rule;
mod rule_ref;
mod table;
pub mod tcpmss;
pub mod why;

pub use dst_index::DstIndex;
pub use restore::{RuleCache, parse_iptables_save, parse_iptables_save_cached};
pub use rule::{Match, Rule, Target};
pub use rule_ref::{RuleRef, RuleTable};
pub use table::{Chain, Table, Verdict};

use serde::Serialize;

/// The protocol family a hook belongs to (`NFPROTO_*`): IPv4's hooks, or the bridge's
/// (`NF_BR_*`, which number their hooks as IPv4 does: PRE_ROUTING 0 ... POST_ROUTING 4).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Bridge,
}

/// Hook priorities (`enum nf_ip_hook_priorities`, `enum nf_br_hook_priorities`): where a
/// registrant's function runs among the others at a hook, lowest first.
pub mod priority {
    pub const FIRST: i32 = i32::MIN;
    /// `NF_IP_PRI_CONNTRACK_DEFRAG`: nf_defrag_ipv4, before everything that reads ports.
    pub const CONNTRACK_DEFRAG: i32 = -400;
    pub const RAW: i32 = -300;
    pub const CONNTRACK: i32 = -200;
    pub const MANGLE: i32 = -150;
    pub const NAT_DST: i32 = -100;
    pub const FILTER: i32 = 0;
    pub const NAT_SRC: i32 = 100;
    pub const CONNTRACK_CONFIRM: i32 = i32::MAX;
    pub const LAST: i32 = i32::MAX;
    /// The bridge family's `NF_BR_PRI_BRNF`: br_netfilter's functions.
    pub const BR_BRNF: i32 = 0;
}

/// The five IPv4 hook points (`enum nf_inet_hooks`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    /// The built-in chain name iptables uses for this hook.
    pub fn chain(&self) -> &'static str {
        match self {
            Hook::Prerouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::Postrouting => "POSTROUTING",
        }
    }

    /// The kernel's name for the hook (`NF_INET_PRE_ROUTING`, ...).
    pub fn kernel_name(&self) -> &'static str {
        match self {
            Hook::Prerouting => "NF_INET_PRE_ROUTING",
            Hook::Input => "NF_INET_LOCAL_IN",
            Hook::Forward => "NF_INET_FORWARD",
            Hook::Output => "NF_INET_LOCAL_OUT",
            Hook::Postrouting => "NF_INET_POST_ROUTING",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    Raw,
    Mangle,
    Nat,
    Filter,
}

impl TableKind {
    pub fn name(&self) -> &'static str {
        match self {
            TableKind::Raw => "raw",
            TableKind::Mangle => "mangle",
            TableKind::Nat => "nat",
            TableKind::Filter => "filter",
        }
    }

    /// `enum nf_ip_hook_priorities`: where this table sits at `hook`, or None when the
    /// table has no chain there. nat is DNAT (-100) on the way in and SNAT (100) on the
    /// way out.
    pub fn priority(&self, hook: Hook) -> Option<i32> {
        use Hook::*;
        match (self, hook) {
            (TableKind::Raw, Prerouting | Output) => Some(priority::RAW),
            (TableKind::Mangle, _) => Some(priority::MANGLE),
            (TableKind::Nat, Prerouting | Output) => Some(priority::NAT_DST),
            (TableKind::Nat, Input | Postrouting) => Some(priority::NAT_SRC),
            (TableKind::Filter, Input | Forward | Output) => Some(priority::FILTER),
            _ => None,
        }
    }
}

/// Per-namespace state of stateful matches.
#[derive(Clone, Debug, Default)]
pub struct XtState {
    /// `-m recent` lists: name -> address -> last seen (simulated seconds).
    pub recent:
        std::collections::BTreeMap<String, std::collections::BTreeMap<std::net::Ipv4Addr, u64>>,
    /// `-m statistic --mode nth` counters, by rule.
    pub nth: std::collections::BTreeMap<String, u32>,
    /// nf_tables' dynamic sets (`update @set { ip saddr }`): table, then set, then each
    /// key with when it was last added or updated (simulated seconds).
    pub nft_sets: std::collections::BTreeMap<String, NftSetState>,
}

/// One nf_tables table's dynamic set contents: set name -> (key, last added or updated).
pub type NftSetState = std::collections::BTreeMap<String, Vec<(Vec<nftables::expr::Value>, u64)>>;

/// The netfilter state of one namespace: iptables' tables and the nf_tables ruleset.
#[derive(Clone, Debug, Default)]
pub struct Netfilter {
    pub tables: Vec<Table>,
    /// Shared: nodes kube-proxy programs alike hold one table.
    pub nft: std::sync::Arc<nftables::Ruleset>,
}

impl Netfilter {
    /// Every table without its destination indexes ([`Table::without_rule_index`]).
    pub fn without_rule_index(&self) -> Netfilter {
        Netfilter {
            tables: self.tables.iter().map(Table::without_rule_index).collect(),
            nft: self.nft.clone(),
        }
    }

    /// The iptables tables a Kubernetes node has loaded (kube-proxy and flannel use all
    /// four), with empty built-in chains and ACCEPT policies.
    pub fn iptables_node() -> Netfilter {
        Netfilter {
            tables: [
                TableKind::Raw,
                TableKind::Mangle,
                TableKind::Nat,
                TableKind::Filter,
            ]
            .into_iter()
            .map(Table::builtin)
            .collect(),
            nft: Default::default(),
        }
    }

    pub fn table(&self, kind: TableKind) -> Option<&Table> {
        self.tables.iter().find(|t| t.kind == kind)
    }

    /// The whole ruleset as `iptables-save` prints it (tables in raw, mangle, nat, filter
    /// order... as iptables-save lists them: the order they were loaded).
    pub fn save(&self) -> String {
        self.tables.iter().map(|t| t.save()).collect()
    }
}
