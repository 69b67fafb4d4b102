//! Tables and chains, as iptables-save lists them.

use super::DstIndex;
use super::rule::Rule;
use super::{Hook, TableKind};
use serde::Serialize;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Accept,
    Drop,
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Accept => "ACCEPT",
            Verdict::Drop => "DROP",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    /// Built-in chains have a policy; user chains return to their caller.
    pub policy: Option<Verdict>,
    /// Shared: the nodes of a cluster hold many identical rules (kube-proxy writes the same
    /// Service rules on every node), and a world keeps one copy of each
    /// ([`super::RuleCache`]).
    pub rules: Vec<Arc<Rule>>,
}

#[derive(Clone, Debug)]
pub struct Table {
    pub kind: TableKind,
    /// Private so that `by_name` always indexes every chain: chains are added with
    /// [`Table::push_chain`] and read with [`Table::chains`].
    chains: Vec<Chain>,
    /// The positions in `chains`, hashed by chain name, so that a jump finds its chain
    /// without reading every name (kube-proxy nodes have tens of thousands of chains). A
    /// table of positions rather than a map from names: each name is kept once, in its
    /// chain. Filled by [`Table::push_chain`], the only way a chain is added.
    by_name: hashbrown::HashTable<u32>,
    /// The long chains' rules by destination (`index_rules`), for walks to step over
    /// rules for other destinations.
    dst: rustc_hash::FxHashMap<String, DstIndex>,
}

/// Two tables are equal when their chains are: the index is only a way to find them.
impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.kind == other.kind && self.chains == other.chains
    }
}

impl Eq for Table {}

fn name_hash(name: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(name)
}

impl TableKind {
    /// The built-in chains of the table, in iptables' order.
    pub fn builtin_chains(&self) -> &'static [&'static str] {
        match self {
            TableKind::Raw => &["PREROUTING", "OUTPUT"],
            TableKind::Mangle => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
            TableKind::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
            TableKind::Filter => &["INPUT", "FORWARD", "OUTPUT"],
        }
    }
}

impl Table {
    /// A table with its built-in chains, empty, policy ACCEPT (as iptables creates it).
    pub fn builtin(kind: TableKind) -> Table {
        let mut t = Table::new(kind);
        for n in kind.builtin_chains() {
            t.push_chain(Chain {
                name: n.to_string(),
                policy: Some(Verdict::Accept),
                rules: Vec::new(),
            });
        }
        t
    }

    /// A table with no chains at all (what a `*table` line starts).
    pub fn new(kind: TableKind) -> Table {
        Table {
            kind,
            chains: Vec::new(),
            by_name: Default::default(),
            dst: Default::default(),
        }
    }

    /// Add a chain at the end, indexed by its name, which no chain of the table has yet
    /// (the reader refuses a second declaration before it gets here).
    pub fn push_chain(&mut self, c: Chain) {
        debug_assert!(self.position(&c.name).is_none(), "chain {} twice", c.name);
        let chains = &self.chains;
        self.by_name
            .insert_unique(name_hash(&c.name), chains.len() as u32, |&i| {
                name_hash(&chains[i as usize].name)
            });
        self.chains.push(c);
    }

    /// Index the long chains' rules by the destination they require (after loading).
    pub fn index_rules(&mut self) {
        self.dst = self
            .chains
            .iter()
            .filter_map(|c| Some((c.name.clone(), DstIndex::of(c)?)))
            .collect();
    }

    /// The table without its destination indexes: walks read every rule, as the kernel
    /// does (to check that the indexes change nothing).
    pub fn without_rule_index(&self) -> Table {
        Table {
            dst: Default::default(),
            ..self.clone()
        }
    }

    /// The destination index of `chain`, if it has one that still fits it.
    pub fn dst_index(&self, chain: &Chain) -> Option<&DstIndex> {
        self.dst.get(&chain.name).filter(|ix| ix.fits(chain))
    }

    /// Where chain `name` is in [`Table::chains`].
    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name
            .find(name_hash(name), |&i| self.chains[i as usize].name == name)
            .map(|&i| i as usize)
    }

    /// The chains in the order they were declared.
    pub fn chains(&self) -> &[Chain] {
        &self.chains
    }

    /// Append `rule` to the chain at `position` (what `-A` does).
    pub fn append_rule(&mut self, position: usize, rule: Arc<Rule>) {
        self.chains[position].rules.push(rule);
    }

    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.position(name).map(|i| &self.chains[i])
    }

    /// The built-in chain this table has at `hook`.
    pub fn hook_chain(&self, hook: Hook) -> Option<&Chain> {
        self.chain(hook.chain())
    }

    /// The table in iptables-save format: built-in chains first (in iptables' order), then
    /// user chains sorted by name (ASCII), as iptables-save lists them; then every rule,
    /// chain by chain in that same order.
    pub fn save(&self) -> String {
        let mut out = format!("*{}\n", self.kind.name());
        let mut order: Vec<&Chain> = self
            .kind
            .builtin_chains()
            .iter()
            .filter_map(|n| self.chain(n))
            .collect();
        let mut user: Vec<&Chain> = self.chains.iter().filter(|c| c.policy.is_none()).collect();
        user.sort_by(|a, b| a.name.cmp(&b.name));
        order.extend(user);
        for c in &order {
            let policy = c.policy.map(|p| p.name()).unwrap_or("-");
            let _ = writeln!(out, ":{} {policy} [0:0]", c.name);
        }
        for c in &order {
            for r in &c.rules {
                let _ = writeln!(out, "-A {} {}", c.name, r.spec());
            }
        }
        out.push_str("COMMIT\n");
        out
    }
}
