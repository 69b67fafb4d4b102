//! nf_tables (`net/netfilter/nf_tables_*.c`) as nft writes it: the ruleset model, nft's
//! input (`nft -f`, including the `add ...` transactions kube-proxy's knftables writes)
//! and its listing (`nft list ruleset`).
//!
//! `eval.rs` is `nft_do_chain` over this model; the walk runs it from the hook registry
//! (`engine/hooks/nftables.rs`; docs/design/nftables-kube-proxy.md §8).

pub mod eval;
pub mod expr;
pub mod lex;
mod parse;
mod parse_rule;
pub mod print;
pub mod ruleset;

pub use parse::parse;
pub use print::list_ruleset;
pub use ruleset::{Chain, Element, Family, Rule, Ruleset, Set, Table};

#[cfg(test)]
mod tests;
