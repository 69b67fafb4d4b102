//! Tables and chains, and the walk of a chain (`ipt_do_table`).

use super::{Hook, TableKind};
use serde::Serialize;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Accept,
    Drop,
}

#[derive(Clone, Debug)]
pub struct Chain {
    pub name: String,
    /// Built-in chains have a policy; user chains return to their caller.
    pub policy: Option<Verdict>,
}

#[derive(Clone, Debug)]
pub struct Table {
    pub kind: TableKind,
    pub chains: Vec<Chain>,
}

/// What walking a table's built-in chain for a hook decided, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainVerdict {
    pub table: TableKind,
    pub chain: String,
    pub verdict: Verdict,
    /// True when no rule decided and the chain's policy did.
    pub by_policy: bool,
}

impl Table {
    /// A table with its built-in chains, empty, policy ACCEPT (as iptables creates it).
    pub fn builtin(kind: TableKind) -> Table {
        let hooks = [
            Hook::Prerouting,
            Hook::Input,
            Hook::Forward,
            Hook::Output,
            Hook::Postrouting,
        ];
        Table {
            kind,
            chains: hooks
                .into_iter()
                .filter(|h| kind.priority(*h).is_some())
                .map(|h| Chain {
                    name: h.chain().to_string(),
                    policy: Some(Verdict::Accept),
                })
                .collect(),
        }
    }

    /// Walk the built-in chain of `hook`. With no rules yet, the policy decides.
    pub fn walk(&self, hook: Hook) -> ChainVerdict {
        let chain = self.chains.iter().find(|c| c.name == hook.chain());
        ChainVerdict {
            table: self.kind,
            chain: hook.chain().to_string(),
            verdict: chain.and_then(|c| c.policy).unwrap_or(Verdict::Accept),
            by_policy: true,
        }
    }
}
