//! Tables and chains, as iptables-save lists them.

use super::rule::Rule;
use super::{Hook, TableKind};
use serde::Serialize;
use std::fmt::Write;

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
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub kind: TableKind,
    pub chains: Vec<Chain>,
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
        Table {
            kind,
            chains: kind
                .builtin_chains()
                .iter()
                .map(|n| Chain {
                    name: n.to_string(),
                    policy: Some(Verdict::Accept),
                    rules: Vec::new(),
                })
                .collect(),
        }
    }

    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
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
