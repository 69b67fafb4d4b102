//! How a trace names a rule: which engine and table it lives in, its chain, its place in
//! the chain and its text. A step carries this typed reference (and the typed action in
//! `eval::HitAction`), so nothing downstream parses a rule back out of a string.

use super::TableKind;
use serde::{Serialize, Serializer};

/// The table a rule lives in, with the engine that owns it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum RuleTable {
    /// One of the iptables tables (`iptable_filter`, `iptable_nat`, ...).
    Iptables(TableKind),
    /// An nf_tables table (`ip kube-proxy`): its family and name.
    Nftables {
        family: super::nftables::Family,
        name: std::sync::Arc<str>,
    },
}

impl RuleTable {
    /// The rule engine: the command that lists such rules.
    pub fn engine(&self) -> &'static str {
        match self {
            RuleTable::Iptables(_) => "iptables",
            RuleTable::Nftables { .. } => "nft",
        }
    }

    /// The table's name as its engine prints it (`nat`, `filter`, `kube-proxy`).
    pub fn name(&self) -> &str {
        match self {
            RuleTable::Iptables(k) => k.name(),
            RuleTable::Nftables { name, .. } => name,
        }
    }

    /// The kernel function that walks the table's chains.
    pub fn walker(&self) -> &'static str {
        match self {
            RuleTable::Iptables(_) => "ipt_do_table",
            RuleTable::Nftables { .. } => "nft_do_chain",
        }
    }

    /// The iptables table, for an iptables rule.
    pub fn iptables(&self) -> Option<TableKind> {
        match self {
            RuleTable::Iptables(k) => Some(*k),
            RuleTable::Nftables { .. } => None,
        }
    }
}

/// Traces name a table by its name alone (`"table": "nat"`), as they always have.
impl Serialize for RuleTable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A rule (or a chain's policy) in a ruleset.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct RuleRef {
    pub table: RuleTable,
    pub chain: String,
    /// 1-based position of the rule in its chain; 0 when the chain's policy decided.
    pub position: usize,
    /// The rule as its engine prints it (`-A CHAIN ...` for iptables-save); empty for a
    /// policy.
    #[serde(rename = "rule")]
    pub text: String,
    pub comment: Option<String>,
}

impl RuleRef {
    /// Whether this is a chain's policy rather than a rule.
    pub fn is_policy(&self) -> bool {
        self.position == 0
    }
}
