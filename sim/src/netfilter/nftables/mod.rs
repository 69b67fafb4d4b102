//! nf_tables (`net/netfilter/nf_tables_*.c`) as nft writes it: the ruleset model, nft's
//! input (`nft -f`, including the `add ...` transactions kube-proxy's knftables writes)
//! and its listing (`nft list ruleset`).
//!
//! This is the reader and printer; evaluating these rules as a registrant of the one hook
//! registry comes with kube-proxy's nftables mode (docs/design/nftables-kube-proxy.md).

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
