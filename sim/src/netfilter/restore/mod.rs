//! The iptables-save format, read the way iptables-restore reads it: tables (`*nat`),
//! chain declarations (`:KUBE-SERVICES - [0:0]`), rules (`-A CHAIN ...`) and `COMMIT`.
//! Every match and target kpath models is understood; anything else is an error naming the
//! line and the word, and nothing is skipped. Jumps to missing chains and jump loops are
//! refused at COMMIT, as iptables-restore refuses them.

use super::rule::*;
use super::table::{Chain, Table};
use super::{Netfilter, TableKind, Verdict};
use crate::diag::{InputError, did_you_mean};
use rule::{ReadRule, append_read_rule, append_rule};
use targets::*;
use words::{Tok, tokenize};

mod matches;
mod rule;
mod targets;
mod values;
mod words;

struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
    line: usize,
}

impl Ctx<'_> {
    /// An error at `col`, underlining the word that starts there (not the rest of the
    /// line, which is what `InputError::at` underlines for YAML values).
    fn err(&self, col: usize, msg: impl Into<String>) -> InputError {
        let mut e = InputError::at(self.file, self.src, self.line, col, msg);
        let word = e
            .source_line
            .chars()
            .skip(col.saturating_sub(1))
            .take_while(|c| !c.is_whitespace())
            .count();
        e.width = word.max(1);
        e
    }

    /// An error underlining `width` characters from `col` (a part of a word).
    fn err_span(&self, col: usize, width: usize, msg: impl Into<String>) -> InputError {
        let mut e = InputError::at(self.file, self.src, self.line, col, msg);
        e.width = width.max(1);
        e
    }
}

/// Parse a whole iptables-save dump. `file` names it in errors.
pub fn parse_iptables_save(file: &str, src: &str) -> Result<Netfilter, InputError> {
    read(file, src, None)
}

/// Rule lines already read, by their text, so that the dumps of many nodes (whose
/// kube-proxy rules are mostly the same) read each distinct line once and share the rule.
#[derive(Default)]
pub struct RuleCache {
    lines: rustc_hash::FxHashMap<Box<str>, ReadRule>,
}

/// [`parse_iptables_save`], reusing and filling `cache`: the result is the same as without it.
pub fn parse_iptables_save_cached(
    file: &str,
    src: &str,
    cache: &mut RuleCache,
) -> Result<Netfilter, InputError> {
    read(file, src, Some(cache))
}

fn read(file: &str, src: &str, mut cache: Option<&mut RuleCache>) -> Result<Netfilter, InputError> {
    let mut nf = Netfilter::default();
    let mut current: Option<(Table, usize)> = None;
    // The line declaring each chain of the current table, by its position (0: created by
    // `-A`, a built-in chain without a declaration): dumps hold thousands of chains.
    let mut declared: Vec<usize> = Vec::new();
    for (idx, raw) in src.lines().enumerate() {
        let ctx = Ctx {
            file,
            src,
            line: idx + 1,
        };
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let (Some(cache), Some((table, _))) = (cache.as_deref(), current.as_mut())
            && let Some(read) = cache.lines.get(line)
        {
            append_read_rule(&ctx, table, read)?;
            continue;
        }
        let toks = tokenize(&ctx, line)?;
        let Some(first) = toks.first() else { continue };
        if let Some(name) = first.text.strip_prefix('*') {
            if let Some((t, at)) = &current {
                return Err(ctx
                    .err(
                        first.col,
                        format!(
                            "table `{name}` starts before table `{}` (line {at}) was committed",
                            t.kind.name()
                        ),
                    )
                    .with_hint("end each table with a COMMIT line"));
            }
            let kind = table_kind(name).ok_or_else(|| {
                let known = ["raw", "mangle", "nat", "filter"];
                let hint = match did_you_mean(name, known) {
                    Some(m) => {
                        format!("did you mean `*{m}`? tables are raw, mangle, nat and filter")
                    }
                    None => "tables are raw, mangle, nat and filter".to_string(),
                };
                ctx.err(first.col + 1, format!("unknown table `{name}`"))
                    .with_hint(hint)
            })?;
            // A table given again is legal: iptables-restore commits each block, and the
            // later one replaces the earlier (below, at its COMMIT).
            current = Some((Table::new(kind), ctx.line));
            declared.clear();
        } else if first.text == "COMMIT" {
            let Some((t, from)) = current.take() else {
                return Err(ctx
                    .err(first.col, "COMMIT outside a table")
                    .with_hint("a table starts with a line like `*nat`"));
            };
            check_table(&ctx, &t, from)?;
            let mut t = t;
            t.index_rules();
            match nf.tables.iter_mut().find(|x| x.kind == t.kind) {
                Some(slot) => *slot = t,
                None => nf.tables.push(t),
            }
        } else {
            let Some((table, _)) = current.as_mut() else {
                return Err(ctx
                    .err(first.col, format!("`{}` outside a table", first.text))
                    .with_hint("a table starts with a line like `*nat`"));
            };
            if let Some(name) = first.text.strip_prefix(':') {
                let at = table.position(name).and_then(|i| declared.get(i).copied());
                if let Some(at) = at.filter(|&l| l > 0) {
                    return Err(ctx
                        .err(
                            toks[0].col,
                            format!("chain `{name}` is declared twice (first on line {at})"),
                        )
                        .with_hint(if table.kind.builtin_chains().contains(&name) {
                            // iptables-restore would just set the policy again; a dump
                            // never does, so one of the two lines is a mistake.
                            "a built-in chain is declared once, with its policy; keep one declaration"
                        } else {
                            "iptables-restore refuses it (\"Chain already exists\"); keep one declaration"
                        }));
                }
                if table.position(name).is_some() {
                    // A built-in chain `-A` used before its declaration line.
                    return Err(ctx
                        .err(
                            toks[0].col,
                            format!("chain `{name}` is declared after rules were appended to it"),
                        )
                        .with_hint(
                            "iptables-save declares every chain before the table's first rule",
                        ));
                }
                declare_chain(&ctx, table, name, &toks)?;
                declared.resize(table.chains().len(), 0);
                declared[table.chains().len() - 1] = ctx.line;
            } else {
                let toks = if first.text.starts_with('[') && first.text.ends_with(']') {
                    if toks.len() == 1 {
                        return Err(ctx
                            .err(
                                first.col,
                                format!("counters `{}` with no rule after them", first.text),
                            )
                            .with_hint("iptables-save -c writes `[PACKETS:BYTES] -A CHAIN ...`"));
                    }
                    &toks[1..]
                } else {
                    &toks[..]
                };
                let read = append_rule(&ctx, table, toks)?;
                if let Some(cache) = cache.as_deref_mut() {
                    cache.lines.insert(line.into(), read);
                }
            }
        }
    }
    if let Some((t, at)) = current {
        let lines = src.lines().count();
        return Err(InputError::at(
            file,
            src,
            lines.max(1),
            1,
            format!(
                "table `{}` (started on line {at}) has no COMMIT",
                t.kind.name()
            ),
        )
        .with_hint(
            "iptables-restore applies nothing without COMMIT; add it after the table's last rule",
        ));
    }
    if nf.tables.is_empty() {
        // iptables-restore accepts an empty input and changes nothing, but a rules-only
        // answer from no rules at all would be a silent "ACCEPT". An empty dump is what
        // `iptables-save` leaves when it fails (not root, no iptables modules loaded).
        return Err(InputError::at(file, src, 1, 1, "the dump has no tables")
            .with_hint("give the output of `iptables-save` on the node (run as root): tables start with `*filter`, `*nat`, ... and end with COMMIT"));
    }
    Ok(nf)
}

fn table_kind(name: &str) -> Option<TableKind> {
    match name {
        "raw" => Some(TableKind::Raw),
        "mangle" => Some(TableKind::Mangle),
        "nat" => Some(TableKind::Nat),
        "filter" => Some(TableKind::Filter),
        _ => None,
    }
}

fn declare_chain(ctx: &Ctx, table: &mut Table, name: &str, toks: &[Tok]) -> Result<(), InputError> {
    if name.is_empty() || name.len() > 28 {
        return Err(ctx
            .err(toks[0].col + 1, format!("`{name}` is not a chain name"))
            .with_hint("chain names are 1 to 28 characters"));
    }
    let Some(policy) = toks.get(1) else {
        return Err(ctx.err(toks[0].col, format!("chain `{name}` has no policy")).with_hint("write `:CHAIN ACCEPT [0:0]` for a built-in chain, `:CHAIN - [0:0]` for a user chain"));
    };
    let builtin = table.kind.builtin_chains().contains(&name);
    let policy = match (policy.text.as_ref(), builtin) {
        ("-", false) => None,
        ("ACCEPT", true) => Some(Verdict::Accept),
        ("DROP", true) => Some(Verdict::Drop),
        // iptables-restore: `-` on a built-in chain leaves its policy as it is (ACCEPT on a
        // fresh table).
        ("-", true) => Some(Verdict::Accept),
        (p, false) if p == "ACCEPT" || p == "DROP" => {
            return Err(ctx.err(policy.col, format!("`{name}` is not a built-in chain of the {} table, so it cannot have a policy", table.kind.name()))
                .with_hint(format!("user chains are declared with `-`; built-in chains here: {}", table.kind.builtin_chains().join(", "))));
        }
        (p, _) => {
            return Err(ctx
                .err(policy.col, format!("`{p}` is not a policy"))
                .with_hint("ACCEPT, DROP, or `-` for a user chain"));
        }
    };
    table.push_chain(Chain {
        name: name.to_string(),
        policy,
        rules: Vec::new(),
    });
    Ok(())
}

/// At COMMIT (`ctx`'s line): every jump of the table begun on line `from` goes to a chain
/// of this table, and no chain reaches itself.
fn check_table(ctx: &Ctx, t: &Table, from: usize) -> Result<(), InputError> {
    let place = |ci: usize, i: usize| rule::locate(ctx, t, from, ci, i);
    let at = |(line, col): (usize, usize), msg: String| {
        Ctx {
            file: ctx.file,
            src: ctx.src,
            line,
        }
        .err(col, msg)
    };
    // Each chain's jumps, as (target position, rule index): found once, read by the
    // reachability and loop checks below.
    let mut edges: Edges = vec![Vec::new(); t.chains().len()];
    for (ci, c) in t.chains().iter().enumerate() {
        for (i, r) in c.rules.iter().enumerate() {
            let (Target::Jump(to) | Target::Goto(to)) = &r.target else {
                continue;
            };
            let j = t.position(to);
            let target = j.map(|j| &t.chains()[j]);
            if let Some(j) = j
                && target.is_some_and(|x| x.policy.is_none())
            {
                edges[ci].push((j, i));
                continue;
            }
            match target {
                None => {
                    // A typo of a target (`ACCEPTT`, `accept`) reads as a jump to a chain:
                    // suggest targets as well as the table's chains.
                    let names: Vec<&str> = t.chains().iter().map(|c| c.name.as_str()).collect();
                    let upper = to.to_ascii_uppercase();
                    let suggestion = BUILTIN_TARGETS
                        .iter()
                        .copied()
                        .find(|b| *b == upper)
                        .or_else(|| {
                            did_you_mean(
                                to,
                                BUILTIN_TARGETS.iter().copied().chain(names.iter().copied()),
                            )
                        });
                    let hint = match suggestion {
                        Some(m) if BUILTIN_TARGETS.contains(&m) => format!(
                            "did you mean the target `{m}`? targets are case-sensitive; kpath models {TARGETS}"
                        ),
                        Some(m) => {
                            format!("did you mean `{m}`? or declare the chain with `:{to} - [0:0]`")
                        }
                        None => format!(
                            "declare it with `:{to} - [0:0]` before COMMIT; targets kpath models: {TARGETS}"
                        ),
                    };
                    return Err(at(
                        place(ci, i),
                        format!(
                            "jump to chain `{to}`, which the {} table does not have",
                            t.kind.name()
                        ),
                    )
                    .with_hint(hint));
                }
                Some(_) => {
                    return Err(at(place(ci, i), format!("jump to built-in chain `{to}`"))
                        .with_hint("only user chains can be jumped to"));
                }
            }
        }
    }
    check_targets(t, &edges, &|ci, i, msg| at(place(ci, i), msg))?;
    if let Some((cycle, ci, i)) = find_loop(t, &edges) {
        let path: Vec<String> = cycle.iter().map(|c| format!("`{c}`")).collect();
        return Err(at(
            place(ci, i),
            format!("jump loop: {}", path.join(" -> ")),
        )
        .with_hint(
            "iptables-restore refuses a ruleset whose chains can reach themselves (ELOOP, \"Too many levels of symbolic links\"); break the cycle",
        ));
    }
    Ok(())
}

/// Each chain's jumps and gotos to user chains: (target position, rule index).
type Edges = Vec<Vec<(usize, usize)>>;

/// The hooks from which each chain can be reached (its own hook for a built-in chain, the
/// union of its callers' for a user chain), in chain order: what the kernel's
/// `mark_source_chains` computes before `xt_check_target` checks each target against them.
/// A set of hooks is a bit mask of `HOOKS` positions.
fn reaching_hooks(t: &Table, edges: &Edges) -> Vec<u8> {
    let mut reach: Vec<u8> = t
        .chains()
        .iter()
        .map(|c| match c.policy {
            Some(_) => HOOKS
                .iter()
                .position(|h| h.chain() == c.name)
                .map_or(0, |i| 1 << i),
            None => 0,
        })
        .collect();
    // Propagate along jumps: a chain is looked at again whenever a caller gives it a hook it
    // did not have, so each chain is visited at most once per hook.
    let mut work: Vec<usize> = (0..reach.len()).filter(|&c| reach[c] != 0).collect();
    while let Some(c) = work.pop() {
        for &(j, _) in &edges[c] {
            if reach[c] & !reach[j] != 0 {
                reach[j] |= reach[c];
                work.push(j);
            }
        }
    }
    reach
}

const HOOKS: [super::Hook; 5] = [
    super::Hook::Prerouting,
    super::Hook::Input,
    super::Hook::Forward,
    super::Hook::Output,
    super::Hook::Postrouting,
];

/// Targets that only some tables or hooks allow, refused as iptables-restore refuses them
/// (`xt_check_target`: "RULE_APPEND failed (Invalid argument)").
fn check_targets(
    t: &Table,
    edges: &Edges,
    err_at: &dyn Fn(usize, usize, String) -> InputError,
) -> Result<(), InputError> {
    use super::{Hook, TableKind};
    let reach = reaching_hooks(t, edges);
    for (ci, (c, &mask)) in t.chains().iter().zip(&reach).enumerate() {
        let hooks = HOOKS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, h)| h);
        for (i, r) in c.rules.iter().enumerate() {
            let (name, table, allowed): (&str, Option<TableKind>, &[Hook]) = match &r.target {
                Target::Dnat { .. } => (
                    "DNAT",
                    Some(TableKind::Nat),
                    &[Hook::Prerouting, Hook::Output],
                ),
                Target::Snat { .. } => (
                    "SNAT",
                    Some(TableKind::Nat),
                    &[Hook::Postrouting, Hook::Input],
                ),
                Target::Masquerade { .. } => {
                    ("MASQUERADE", Some(TableKind::Nat), &[Hook::Postrouting])
                }
                Target::Reject { .. } => {
                    ("REJECT", None, &[Hook::Input, Hook::Forward, Hook::Output])
                }
                Target::Drop if t.kind == TableKind::Nat => {
                    return Err(err_at(ci, i, "the \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited".into())
                        .with_hint("drop in the filter table (or raw/mangle)"));
                }
                _ => continue,
            };
            let wrong_table = table.is_some_and(|k| k != t.kind);
            let bad_hook = hooks.clone().find(|h| !allowed.contains(h));
            if !wrong_table && bad_hook.is_none() {
                continue;
            }
            let where_ok: Vec<&str> = allowed.iter().map(|h| h.chain()).collect();
            let msg = if wrong_table {
                format!(
                    "the {name} target is only valid in the nat table, not {}",
                    t.kind.name()
                )
            } else {
                format!(
                    "the {name} target cannot run at {} (chain `{}` is reached from there)",
                    bad_hook.map_or("", |h| h.chain()),
                    c.name
                )
            };
            return Err(err_at(ci, i, msg).with_hint(format!(
                "iptables-restore refuses it (RULE_APPEND failed: Invalid argument); {name} belongs in {}",
                where_ok.join(" or ")
            )));
        }
    }
    Ok(())
}

/// A chain that can reach itself through jumps/gotos: the cycle's chain names (first and
/// last the same) and the (chain index, rule index) of the jump that closes it.
fn find_loop(t: &Table, edges: &Edges) -> Option<(Vec<String>, usize, usize)> {
    let names: Vec<&str> = t.chains().iter().map(|c| c.name.as_str()).collect();
    // Iterative DFS with colours: 0 unseen, 1 on the path, 2 done. The stack is the path
    // from `start`, so a jump back to a chain on it names the whole cycle.
    let mut colour = vec![0u8; names.len()];
    for start in 0..names.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = 1;
        while let Some((node, next)) = stack.pop() {
            if let Some(&(j, ri)) = edges[node].get(next) {
                stack.push((node, next + 1));
                match colour[j] {
                    1 => {
                        let from = stack.iter().position(|(n, _)| *n == j).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..]
                            .iter()
                            .map(|(n, _)| names[*n].to_string())
                            .collect();
                        cycle.push(names[j].to_string());
                        return Some((cycle, node, ri));
                    }
                    0 => {
                        colour[j] = 1;
                        stack.push((j, 0));
                    }
                    _ => {}
                }
            } else {
                colour[node] = 2;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
