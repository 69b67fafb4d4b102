//! What a real node's ruleset uses that kpath does not model (`-m socket`, `-j TPROXY`,
//! a misspelt module), listed all at once with their places: the reader keeps each as
//! written instead of stopping at the first, the walk passes them (a module does not
//! match, a target does nothing) and records that it met them, and the answer says which
//! rules it could not evaluate and whether the packet met any.

use super::RuleOutcome;
use crate::diag::{InputError, did_you_mean};
use crate::netfilter::eval::HitAction;
use crate::netfilter::rule::{Match, Target, Unknown};
use crate::netfilter::{Netfilter, RuleTable};

/// The match modules kpath models, for "did you mean".
const MODELLED: [&str; 22] = [
    "comment",
    "tcp",
    "udp",
    "sctp",
    "icmp",
    "multiport",
    "mark",
    "addrtype",
    "statistic",
    "conntrack",
    "state",
    "recent",
    "set",
    "nfacct",
    "physdev",
    "ipvs",
    "limit",
    "iprange",
    "length",
    "pkttype",
    "owner",
    "connmark",
];

/// One use of something kpath does not model.
#[derive(Clone, Debug)]
pub struct UnknownUse {
    pub table: RuleTable,
    pub chain: String,
    /// 1-based position in the chain.
    pub position: usize,
    pub line: usize,
    pub col: usize,
    /// `-m NAME ...` or `-j NAME ...` as written.
    pub what: String,
    /// A module name that looks like a misspelling of one kpath models.
    pub did_you_mean: Option<&'static str>,
}

/// Every use, in the dump's order.
pub fn unknowns(nf: &Netfilter) -> Vec<UnknownUse> {
    let mut out = Vec::new();
    for t in &nf.tables {
        for c in t.chains() {
            for (i, r) in c.rules.iter().enumerate() {
                let mut push = |u: &Unknown, flag: &str, dym: Option<&'static str>| {
                    out.push(UnknownUse {
                        table: RuleTable::Iptables(t.kind),
                        chain: c.name.clone(),
                        position: i + 1,
                        line: u.line,
                        col: u.col,
                        what: format!("{flag}{}", u.words()),
                        did_you_mean: dym,
                    });
                };
                for m in &r.matches {
                    if let Match::Unknown(u) = m {
                        let dym = did_you_mean(&u.name, MODELLED.iter().copied())
                            .and_then(|d| MODELLED.iter().copied().find(|m| *m == d));
                        push(u, "-m", dym);
                    }
                }
                if let Target::Unknown(u) = &r.target {
                    push(u, "-j", None);
                }
            }
        }
    }
    out.sort_by_key(|u| (u.line, u.col));
    out
}

/// `--strict`: every use as a located error, all at once, or nothing when there is none.
pub fn refuse(file: &str, src: &str, uses: &[UnknownUse]) -> Vec<InputError> {
    uses.iter()
        .map(|u| {
            let hint = match u.did_you_mean {
                Some(m) => format!("did you mean `{m}`? without --strict, kpath reads past it and says which rules it could not evaluate"),
                None => "without --strict, kpath reads past it and says which rules it could not evaluate".to_string(),
            };
            InputError::at(
                file,
                src,
                u.line,
                u.col,
                format!("kpath does not model `{}`", u.what.trim()),
            )
            .with_hint(hint)
        })
        .collect()
}

/// What the answer says about them: every use with its place, and whether each outcome's
/// packet met it (the walk passed it, taking a module as not matching and a target as doing
/// nothing); the `-m limit` rules a packet met, taken as under their rate; and who owns
/// the node's own packets for `-m owner`.
pub fn notes(nf: &Netfilter, outcomes: &[RuleOutcome], file: &str) -> Vec<String> {
    let uses = &unknowns(nf)[..];
    let mut out = Vec::new();
    let met_by = |u: &UnknownUse| -> Vec<String> {
        (outcomes.iter().enumerate())
            .filter(|(_, o)| {
                o.hits.iter().any(|h| {
                    matches!(h.action, HitAction::Unevaluated(_))
                        && h.table == u.table
                        && h.chain == u.chain
                        && h.position == u.position
                })
            })
            .map(|(i, _)| (i + 1).to_string())
            .collect()
    };
    if !uses.is_empty() {
        let met: Vec<Vec<String>> = uses.iter().map(met_by).collect();
        let any = met.iter().filter(|m| !m.is_empty()).count();
        out.push(format!(
            "{} rule{} use{} what kpath does not model; the packet met {any} of them (a module taken as not matching, a target as doing nothing); --strict refuses the dump instead:",
            uses.len(),
            if uses.len() == 1 { "" } else { "s" },
            if uses.len() == 1 { "s" } else { "" },
        ));
        for (u, m) in uses.iter().zip(&met) {
            let dym = u
                .did_you_mean
                .map(|d| format!(" (did you mean `{d}`?)"))
                .unwrap_or_default();
            let seen = if m.is_empty() {
                "not met".to_string()
            } else {
                format!("met by outcome {}", m.join(", "))
            };
            out.push(format!(
                "  {file}:{}:{}  {} {} #{}: {}{dym} - {seen}",
                u.line,
                u.col,
                u.table.name(),
                u.chain,
                u.position,
                u.what
            ));
        }
    }
    let mut limits: Vec<&str> = outcomes
        .iter()
        .flat_map(|o| &o.hits)
        .filter(|h| h.rule.contains(" -m limit "))
        .map(|h| h.rule.as_str())
        .collect();
    limits.sort_unstable();
    limits.dedup();
    for l in limits {
        out.push(format!(
            "-m limit: assumed under its rate (no dump holds the token bucket's state): {l}"
        ));
    }
    let owner = nf
        .tables
        .iter()
        .flat_map(|t| t.chains())
        .flat_map(|c| &c.rules);
    if owner
        .flat_map(|r| &r.matches)
        .any(|m| matches!(m, Match::Owner(_)))
    {
        out.push("-m owner: the node's own packets are taken as sent by uid 0, gid 0 (kpath models no users); a forwarded packet has no socket, so only `!` criteria hold for it".to_string());
    }
    out
}

/// What a ruleset given alone (without its node's routes) assumes of `-m rpfilter`: that
/// the source is routed back by the device the packet came in on.
pub fn rpfilter_note(nf: &Netfilter) -> Option<String> {
    let rules = nf
        .tables
        .iter()
        .flat_map(|t| t.chains())
        .flat_map(|c| &c.rules);
    let n = rules
        .filter(|r| r.matches.iter().any(|m| matches!(m, Match::Rpfilter(_))))
        .count();
    (n > 0).then(|| format!(
        "-m rpfilter ({n} rule{}): without the node's routes the source is assumed routed back by the device the packet came in on; give the node's whole dump (--node-dump DIR) to evaluate it",
        if n == 1 { "" } else { "s" }
    ))
}
