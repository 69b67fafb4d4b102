//! The iptables-save format, read the way iptables-restore reads it: tables (`*nat`),
//! chain declarations (`:KUBE-SERVICES - [0:0]`), rules (`-A CHAIN ...`) and `COMMIT`.
//! Every match and target kpath models is understood; anything else is an error naming the
//! line and the word, and nothing is skipped. Jumps to missing chains and jump loops are
//! refused at COMMIT, as iptables-restore refuses them.

use super::rule::*;
use super::table::{Chain, Table};
use super::{Netfilter, TableKind, Verdict};
use crate::diag::{InputError, did_you_mean};
use crate::net::Ipv4Net;
use std::net::Ipv4Addr;

/// A word of a line and the 1-based column it starts at.
#[derive(Clone, Debug)]
struct Tok {
    text: String,
    col: usize,
}

struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
    line: usize,
}

impl Ctx<'_> {
    fn err(&self, col: usize, msg: impl Into<String>) -> InputError {
        InputError::at(self.file, self.src, self.line, col, msg)
    }
}

/// Split a line into words; double quotes group, backslash escapes inside them (the way
/// iptables-restore tokenizes).
fn tokenize(ctx: &Ctx, line: &str) -> Result<Vec<Tok>, InputError> {
    let mut toks = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        if chars[i] == '"' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(ctx
                            .err(start + 1, "unterminated quoted string")
                            .with_hint("close the string with `\"`"));
                    }
                    Some('\\') if i + 1 < chars.len() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        text.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                text.push(chars[i]);
                i += 1;
            }
        }
        toks.push(Tok {
            text,
            col: start + 1,
        });
    }
    Ok(toks)
}

/// Parse a whole iptables-save dump. `file` names it in errors.
pub fn parse_iptables_save(file: &str, src: &str) -> Result<Netfilter, InputError> {
    let mut nf = Netfilter::default();
    let mut current: Option<(Table, usize)> = None;
    // Chain name -> position in the current table: dumps hold thousands of chains.
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
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
        let toks = tokenize(&ctx, line)?;
        let first = &toks[0];
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
                ctx.err(first.col + 1, format!("unknown table `{name}`"))
                    .with_hint("tables are raw, mangle, nat and filter")
            })?;
            if nf.tables.iter().any(|t| t.kind == kind) {
                return Err(ctx.err(first.col, format!("table `{name}` appears twice")));
            }
            current = Some((
                Table {
                    kind,
                    chains: Vec::new(),
                },
                ctx.line,
            ));
            index.clear();
        } else if first.text == "COMMIT" {
            let Some((t, at)) = current.take() else {
                return Err(ctx
                    .err(first.col, "COMMIT outside a table")
                    .with_hint("a table starts with a line like `*nat`"));
            };
            check_table(&ctx, &t, src, at, &index)?;
            nf.tables.push(t);
        } else {
            let Some((table, _)) = current.as_mut() else {
                return Err(ctx
                    .err(first.col, format!("`{}` outside a table", first.text))
                    .with_hint("a table starts with a line like `*nat`"));
            };
            if let Some(name) = first.text.strip_prefix(':') {
                if index.contains_key(name) {
                    return Err(ctx.err(toks[0].col, format!("chain `{name}` is declared twice")));
                }
                declare_chain(&ctx, table, name, &toks)?;
                index.insert(name.to_string(), table.chains.len() - 1);
            } else {
                let toks = if first.text.starts_with('[') && first.text.ends_with(']') {
                    &toks[1..]
                } else {
                    &toks[..]
                };
                append_rule(&ctx, table, &mut index, toks)?;
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
    let policy = match (policy.text.as_str(), builtin) {
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
    table.chains.push(Chain {
        name: name.to_string(),
        policy,
        rules: Vec::new(),
    });
    Ok(())
}

/// The source line of every rule of the table that starts on line `from`, per chain in
/// order (one pass over the table's lines, for error positions).
fn rule_lines(src: &str, from: usize, to: usize) -> std::collections::HashMap<&str, Vec<usize>> {
    let mut out: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (n, l) in src.lines().enumerate().take(to).skip(from) {
        let l = l.trim_start();
        let l = if l.starts_with('[') {
            l.split_once(' ').map(|x| x.1).unwrap_or(l)
        } else {
            l
        };
        if let Some(rest) = l.strip_prefix("-A ") {
            let chain = rest.split_whitespace().next().unwrap_or("");
            out.entry(chain).or_default().push(n + 1);
        }
    }
    out
}

/// At COMMIT: every jump goes to a chain of this table, and no chain reaches itself.
fn check_table(
    ctx: &Ctx,
    t: &Table,
    src: &str,
    started: usize,
    index: &std::collections::HashMap<String, usize>,
) -> Result<(), InputError> {
    let lines = rule_lines(src, started, ctx.line);
    let rule_line = |chain: &str, i: usize| lines.get(chain).and_then(|v| v.get(i)).copied();
    for c in &t.chains {
        for (i, r) in c.rules.iter().enumerate() {
            let (Target::Jump(to) | Target::Goto(to)) = &r.target else {
                continue;
            };
            let target = index.get(to).map(|&i| &t.chains[i]);
            if target.is_some_and(|x| x.policy.is_none()) {
                continue;
            }
            // Only errors from here on: find the rule's line and column.
            let line = rule_line(&c.name, i).unwrap_or(ctx.line);
            let lctx = Ctx {
                file: ctx.file,
                src: ctx.src,
                line,
            };
            let col = src
                .lines()
                .nth(line - 1)
                .and_then(|l| l.find(&format!(" {to}")).map(|p| p + 2))
                .unwrap_or(1);
            match target {
                None if UNMODELLED_TARGETS.contains(&to.as_str()) => {
                    return Err(lctx
                        .err(col, format!("kpath does not model the {to} target yet"))
                        .with_hint(format!("targets kpath models: {TARGETS}")));
                }
                None => {
                    let names: Vec<&str> = t.chains.iter().map(|c| c.name.as_str()).collect();
                    let hint = match did_you_mean(to, names.iter().copied()) {
                        Some(m) => {
                            format!("did you mean `{m}`? declare a chain with `:{to} - [0:0]`")
                        }
                        None => format!("declare it with `:{to} - [0:0]` before COMMIT"),
                    };
                    return Err(lctx
                        .err(
                            col,
                            format!(
                                "jump to chain `{to}`, which the {} table does not have",
                                t.kind.name()
                            ),
                        )
                        .with_hint(hint));
                }
                Some(x) if x.policy.is_some() => {
                    return Err(lctx
                        .err(col, format!("jump to built-in chain `{to}`"))
                        .with_hint("only user chains can be jumped to"));
                }
                Some(_) => {}
            }
        }
    }
    check_targets(ctx, t, &rule_line)?;
    if let Some((chain, via)) = find_loop(t) {
        let line = t
            .chains
            .iter()
            .find(|c| c.name == chain)
            .and_then(|c| {
                c.rules.iter().position(
                    |r| matches!(&r.target, Target::Jump(x) | Target::Goto(x) if *x == via),
                )
            })
            .and_then(|i| rule_line(&chain, i))
            .unwrap_or(ctx.line);
        let lctx = Ctx {
            file: ctx.file,
            src: ctx.src,
            line,
        };
        let col = src
            .lines()
            .nth(line - 1)
            .and_then(|l| l.find(&format!(" {via}")).map(|p| p + 2))
            .unwrap_or(1);
        return Err(lctx
            .err(
                col,
                format!("jump loop: `{chain}` jumps to `{via}`, which leads back to `{chain}`"),
            )
            .with_hint("iptables-restore refuses loops (ELOOP); break the cycle"));
    }
    Ok(())
}

/// A chain that can reach itself through jumps/gotos: (chain, the jump target that closes it).
/// The hooks from which each chain can be reached (its own hook for a built-in chain, the
/// union of its callers' for a user chain): what the kernel's `mark_source_chains`
/// computes before `xt_check_target` checks each target against them.
fn reaching_hooks(t: &Table) -> Vec<(String, Vec<super::Hook>)> {
    use super::Hook;
    let hook_of = |name: &str| {
        [
            Hook::Prerouting,
            Hook::Input,
            Hook::Forward,
            Hook::Output,
            Hook::Postrouting,
        ]
        .into_iter()
        .find(|h| h.chain() == name)
    };
    let mut out: Vec<(String, Vec<Hook>)> = t
        .chains
        .iter()
        .map(|c| {
            let own = if c.policy.is_some() {
                hook_of(&c.name)
            } else {
                None
            };
            (c.name.clone(), own.into_iter().collect())
        })
        .collect();
    // Propagate along jumps until nothing changes (chains form no loops: checked after).
    let index: std::collections::HashMap<&str, usize> = t
        .chains
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    for _ in 0..=t.chains.len() {
        let mut changed = false;
        for (ci, c) in t.chains.iter().enumerate() {
            if out[ci].1.is_empty() {
                continue;
            }
            let from = out[ci].1.clone();
            for r in &c.rules {
                if let Target::Jump(to) | Target::Goto(to) = &r.target
                    && let Some(&j) = index.get(to.as_str())
                {
                    for h in &from {
                        if !out[j].1.contains(h) {
                            out[j].1.push(*h);
                            changed = true;
                        }
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    out
}

/// Targets that only some tables or hooks allow, refused as iptables-restore refuses them
/// (`xt_check_target`: "RULE_APPEND failed (Invalid argument)").
fn check_targets(
    ctx: &Ctx,
    t: &Table,
    rule_line: &dyn Fn(&str, usize) -> Option<usize>,
) -> Result<(), InputError> {
    let src = ctx.src;
    use super::{Hook, TableKind};
    let reach = reaching_hooks(t);
    // `reach` is in chain order.
    for (c, (_, hooks)) in t.chains.iter().zip(&reach) {
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
                    let line = rule_line(&c.name, i).unwrap_or(ctx.line);
                    let col = src
                        .lines()
                        .nth(line - 1)
                        .and_then(|l| l.find("DROP"))
                        .map_or(1, |p| p + 1);
                    return Err(Ctx { file: ctx.file, src: ctx.src, line }
                        .err(col, "the \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited")
                        .with_hint("drop in the filter table (or raw/mangle)"));
                }
                _ => continue,
            };
            let wrong_table = table.is_some_and(|k| k != t.kind);
            let bad_hook = hooks.iter().find(|h| !allowed.contains(h));
            if !wrong_table && bad_hook.is_none() {
                continue;
            }
            let line = rule_line(&c.name, i).unwrap_or(ctx.line);
            let col = src
                .lines()
                .nth(line - 1)
                .and_then(|l| l.find(name))
                .map_or(1, |p| p + 1);
            let lctx = Ctx {
                file: ctx.file,
                src: ctx.src,
                line,
            };
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
            return Err(lctx.err(col, msg).with_hint(format!(
                "iptables-restore refuses it (RULE_APPEND failed: Invalid argument); {name} belongs in {}",
                where_ok.join(" or ")
            )));
        }
    }
    Ok(())
}

fn find_loop(t: &Table) -> Option<(String, String)> {
    let names: Vec<&str> = t.chains.iter().map(|c| c.name.as_str()).collect();
    let index: std::collections::HashMap<&str, usize> =
        names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    // Each chain's jumps, as (target index, target name), computed once.
    let edges: Vec<Vec<(usize, &str)>> = t
        .chains
        .iter()
        .map(|c| {
            c.rules
                .iter()
                .filter_map(|r| match &r.target {
                    Target::Jump(to) | Target::Goto(to) => {
                        index.get(to.as_str()).map(|&j| (j, to.as_str()))
                    }
                    _ => None,
                })
                .collect()
        })
        .collect();
    // Iterative DFS with colours: 0 unseen, 1 on stack, 2 done.
    let mut colour = vec![0u8; names.len()];
    for start in 0..names.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = 1;
        while let Some((node, next)) = stack.pop() {
            if let Some(&(j, to)) = edges[node].get(next) {
                stack.push((node, next + 1));
                match colour[j] {
                    1 => return Some((names[node].to_string(), to.to_string())),
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

const MATCHES: &str = "comment, tcp, udp, icmp, multiport, mark, addrtype, statistic, conntrack, state, recent, set, nfacct, physdev, ipvs";
/// Real iptables targets kpath does not model: named as such instead of "missing chain".
const UNMODELLED_TARGETS: [&str; 16] = [
    "CT", "NOTRACK", "CONNMARK", "TPROXY", "REDIRECT", "NFLOG", "NFQUEUE", "TCPMSS", "CLASSIFY",
    "DSCP", "TOS", "TTL", "SET", "CHECKSUM", "NETMAP", "AUDIT",
];
const TARGETS: &str =
    "ACCEPT, DROP, RETURN, REJECT, DNAT, SNAT, MASQUERADE, MARK, LOG, TRACE, or a user chain";

/// Walks the words of one rule.
struct Words<'a> {
    ctx: &'a Ctx<'a>,
    toks: &'a [Tok],
    i: usize,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> Option<&'a Tok> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }
    /// The value after option `opt`.
    fn value(&mut self, opt: &Tok) -> Result<&'a Tok, InputError> {
        self.next().ok_or_else(|| {
            self.ctx
                .err(opt.col, format!("`{}` needs a value", opt.text))
        })
    }
}

fn append_rule(
    ctx: &Ctx,
    table: &mut Table,
    index: &mut std::collections::HashMap<String, usize>,
    toks: &[Tok],
) -> Result<(), InputError> {
    let mut w = Words { ctx, toks, i: 0 };
    let Some(cmd) = w.next() else { return Ok(()) };
    if cmd.text != "-A" && cmd.text != "--append" {
        let hint = if cmd.text == "-I" || cmd.text == "-N" || cmd.text == "-P" {
            "iptables-save dumps only use `-A`; declare chains with `:NAME - [0:0]`"
        } else {
            "rules start with `-A CHAIN`"
        };
        return Err(ctx
            .err(cmd.col, format!("unexpected `{}`", cmd.text))
            .with_hint(hint));
    }
    let chain_tok = w.value(cmd)?;
    // A table always has its built-in chains: `iptables-restore --noflush` (how kube-proxy
    // loads its rules) appends to them without a `:CHAIN` line, keeping their policy.
    if !index.contains_key(&chain_tok.text)
        && table
            .kind
            .builtin_chains()
            .contains(&chain_tok.text.as_str())
    {
        table.chains.push(super::Chain {
            name: chain_tok.text.clone(),
            policy: Some(super::Verdict::Accept),
            rules: Vec::new(),
        });
        index.insert(chain_tok.text.clone(), table.chains.len() - 1);
    }
    let Some(&ci) = index.get(&chain_tok.text) else {
        let names: Vec<&str> = table.chains.iter().map(|c| c.name.as_str()).collect();
        let hint = match did_you_mean(&chain_tok.text, names.iter().copied()) {
            Some(m) => format!("did you mean `{m}`?"),
            None => format!("declare it first with `:{} - [0:0]`", chain_tok.text),
        };
        return Err(ctx
            .err(
                chain_tok.col,
                format!(
                    "chain `{}` is not declared in the {} table",
                    chain_tok.text,
                    table.kind.name()
                ),
            )
            .with_hint(hint));
    };
    let rule = parse_rule(&mut w)?;
    table.chains[ci].rules.push(rule);
    Ok(())
}

fn parse_rule(w: &mut Words) -> Result<Rule, InputError> {
    let ctx = w.ctx;
    let mut rule = Rule::new(Target::None);
    let mut neg = false;
    let mut neg_col = 0;
    let mut target_set = false;
    let mut statistic_cols: Vec<(usize, usize)> = Vec::new();
    while let Some(t) = w.next() {
        let opt = t.text.as_str();
        if opt == "!" {
            neg = true;
            neg_col = t.col;
            continue;
        }
        let inv = std::mem::take(&mut neg);
        // iptables takes each of these once per rule ("multiple -p flags not allowed").
        let given = match opt {
            "-s" | "--source" => rule.src.is_some().then_some("-s"),
            "-d" | "--destination" => rule.dst.is_some().then_some("-d"),
            "-i" | "--in-interface" => rule.in_iface.is_some().then_some("-i"),
            "-o" | "--out-interface" => rule.out_iface.is_some().then_some("-o"),
            "-p" | "--protocol" => rule.proto.is_some().then_some("-p"),
            _ => None,
        };
        if let Some(flag) = given {
            return Err(ctx
                .err(t.col, format!("multiple {flag} flags not allowed"))
                .with_hint("a rule matches one source, destination, interface and protocol; write two rules"));
        }
        match opt {
            "-s" | "--source" => rule.src = Some((parse_net(ctx, w.value(t)?)?, inv)),
            "-d" | "--destination" => rule.dst = Some((parse_net(ctx, w.value(t)?)?, inv)),
            "-i" | "--in-interface" => rule.in_iface = Some((w.value(t)?.text.clone(), inv)),
            "-o" | "--out-interface" => rule.out_iface = Some((w.value(t)?.text.clone(), inv)),
            "-p" | "--protocol" => {
                let v = w.value(t)?;
                rule.proto = Some((parse_proto(ctx, v)?, inv));
            }
            "-m" | "--match" => {
                if inv {
                    return Err(ctx.err(neg_col, "`!` cannot negate `-m`").with_hint(
                        "put `!` before the module's option, e.g. `-m mark ! --mark 0x4000`",
                    ));
                }
                let v = w.value(t)?;
                rule.matches.push(new_match(ctx, v)?);
                if v.text == "statistic" {
                    statistic_cols.push((rule.matches.len() - 1, v.col));
                }
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                if target_set {
                    return Err(ctx
                        .err(t.col, "a rule has one target")
                        .with_hint("split it into two rules"));
                }
                let v = w.value(t)?;
                rule.target = new_target(&v.text, opt.starts_with("-g") || opt == "--goto");
                target_set = true;
            }
            o if o.starts_with('-') => {
                if target_set && target_takes(&rule.target, o) {
                    target_option(w, &mut rule.target, t)?;
                } else if let Some(m) = module_for(&mut rule, o) {
                    match_option(w, m, t, inv)?;
                } else {
                    let hint = if target_set {
                        format!(
                            "`{o}` is not an option of `{}` or of any module loaded before it",
                            target_name(&rule.target)
                        )
                    } else {
                        format!(
                            "`{o}` belongs to no module loaded with `-m` before it (modules: {MATCHES})"
                        )
                    };
                    return Err(ctx
                        .err(t.col, format!("unknown option `{o}`"))
                        .with_hint(hint));
                }
            }
            other => {
                return Err(ctx.err(t.col, format!("unexpected `{other}`")).with_hint(
                    "every word of a rule is an option (`-x`/`--xxx`) or an option's value",
                ));
            }
        }
    }
    if neg {
        return Err(ctx.err(neg_col, "`!` at the end of the rule negates nothing"));
    }
    for (i, col) in statistic_cols {
        check_statistic(ctx, &rule.matches[i], col)?;
    }
    Ok(rule)
}

/// libxt_statistic's final check: what iptables-restore refuses.
fn check_statistic(ctx: &Ctx, m: &Match, col: usize) -> Result<(), InputError> {
    match m {
        // The parser's "not given" value: a real --probability stores at most 2^31.
        Match::Statistic(Statistic::Random { probability, .. }) if *probability == u32::MAX => {
            Err(ctx
                .err(col, "`-m statistic --mode random` needs --probability")
                .with_hint("e.g. `-m statistic --mode random --probability 0.5`"))
        }
        Match::Statistic(Statistic::Nth { every: 0, .. }) => Err(ctx
            .err(col, "`-m statistic --mode nth` needs --every N with N >= 1")
            .with_hint("e.g. `-m statistic --mode nth --every 3 --packet 0`")),
        Match::Statistic(Statistic::Nth { every, packet, .. }) if packet >= every => Err(ctx
            .err(
                col,
                format!("--packet {packet} is not below --every {every}"),
            )
            .with_hint("the --packet p must be 0 <= p <= n-1")),
        _ => Ok(()),
    }
}

fn target_name(t: &Target) -> String {
    t.to_string()
        .trim()
        .trim_start_matches("-j ")
        .trim_start_matches("-g ")
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string()
}

fn parse_proto(ctx: &Ctx, v: &Tok) -> Result<Proto, InputError> {
    Ok(Proto(match v.text.to_ascii_lowercase().as_str() {
        "all" => 0,
        "icmp" => 1,
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        n => n.parse::<u8>().map_err(|_| {
            ctx.err(v.col, format!("unknown protocol `{}`", v.text))
                .with_hint("tcp, udp, icmp, sctp, all, or a number 0-255")
        })?,
    }))
}

/// `10.0.0.1`, `10.0.0.0/8` or `10.0.0.0/255.0.0.0`.
fn parse_net(ctx: &Ctx, v: &Tok) -> Result<Ipv4Net, InputError> {
    let bad = || {
        ctx.err(
            v.col,
            format!("`{}` is not an IPv4 address or prefix", v.text),
        )
        .with_hint("write 10.244.0.0/16 or 10.244.1.2")
    };
    let (a, p) = v.text.split_once('/').unwrap_or((&v.text, "32"));
    let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let prefix = match p.parse::<u8>() {
        Ok(n) if n <= 32 => n,
        Ok(_) => return Err(bad()),
        Err(_) => {
            let m: Ipv4Addr = p.parse().map_err(|_| bad())?;
            let m = u32::from(m);
            if m.leading_ones() + m.trailing_zeros() != 32 {
                return Err(bad());
            }
            m.leading_ones() as u8
        }
    };
    Ok(Ipv4Net::new(addr, prefix))
}

fn new_match(ctx: &Ctx, v: &Tok) -> Result<Match, InputError> {
    Ok(match v.text.as_str() {
        "comment" => Match::Comment(String::new()),
        "tcp" => Match::Tcp {
            sport: None,
            dport: None,
            flags: None,
        },
        "udp" => Match::Udp {
            sport: None,
            dport: None,
        },
        "icmp" => Match::Icmp {
            icmp_type: 255,
            code: None,
            neg: false,
        },
        "multiport" => Match::Multiport {
            kind: MultiportKind::Dports,
            ports: Vec::new(),
            neg: false,
        },
        "mark" => Match::Mark {
            value: 0,
            mask: u32::MAX,
            neg: false,
        },
        "addrtype" => Match::AddrType {
            src: None,
            dst: None,
            limit_iface_in: false,
            limit_iface_out: false,
        },
        "statistic" => Match::Statistic(Statistic::Random {
            probability: u32::MAX,
            neg: false,
        }),
        "conntrack" => Match::Conntrack {
            ctstate: None,
            ctorigdst: None,
            ctorigdstport: None,
        },
        "state" => Match::State {
            states: Vec::new(),
            neg: false,
        },
        "recent" => Match::Recent(Recent {
            cmd: RecentCmd::Set,
            name: "DEFAULT".into(),
            seconds: None,
            reap: false,
            hitcount: None,
            mask: Ipv4Addr::BROADCAST,
            source: true,
            neg: false,
        }),
        "set" => Match::Set {
            name: String::new(),
            dirs: Vec::new(),
            neg: false,
        },
        "nfacct" => Match::Nfacct(String::new()),
        "ipvs" => Match::Ipvs(Default::default()),
        "physdev" => Match::Physdev {
            physdev_in: None,
            physdev_out: None,
            is_in: None,
            is_out: None,
            is_bridged: None,
        },
        other => {
            let hint = match did_you_mean(other, MATCHES.split(", ")) {
                Some(m) => format!("did you mean `{m}`? kpath models: {MATCHES}"),
                None => format!("kpath models: {MATCHES}"),
            };
            return Err(ctx
                .err(v.col, format!("unknown match module `{other}`"))
                .with_hint(hint));
        }
    })
}

fn new_target(name: &str, goto: bool) -> Target {
    if goto {
        return Target::Goto(name.to_string());
    }
    match name {
        "ACCEPT" => Target::Accept,
        "DROP" => Target::Drop,
        "RETURN" => Target::Return,
        "TRACE" => Target::Trace,
        "REJECT" => Target::Reject {
            with: "icmp-port-unreachable".into(),
        },
        "DNAT" => Target::Dnat {
            to: NatRange {
                lo: Ipv4Addr::UNSPECIFIED,
                hi: Ipv4Addr::UNSPECIFIED,
                ports: None,
            },
            random: false,
            persistent: false,
        },
        "SNAT" => Target::Snat {
            to: NatRange {
                lo: Ipv4Addr::UNSPECIFIED,
                hi: Ipv4Addr::UNSPECIFIED,
                ports: None,
            },
            random: false,
            random_fully: false,
            persistent: false,
        },
        "MASQUERADE" => Target::Masquerade {
            to_ports: None,
            random: false,
            random_fully: false,
        },
        "MARK" => Target::Mark { value: 0, mask: 0 },
        "LOG" => Target::Log {
            prefix: None,
            level: None,
        },
        chain => Target::Jump(chain.to_string()),
    }
}

fn target_takes(t: &Target, opt: &str) -> bool {
    match t {
        Target::Reject { .. } => opt == "--reject-with",
        Target::Dnat { .. } => matches!(opt, "--to-destination" | "--random" | "--persistent"),
        Target::Snat { .. } => matches!(
            opt,
            "--to-source" | "--random" | "--random-fully" | "--persistent"
        ),
        Target::Masquerade { .. } => matches!(opt, "--to-ports" | "--random" | "--random-fully"),
        Target::Mark { .. } => matches!(
            opt,
            "--set-xmark" | "--set-mark" | "--or-mark" | "--and-mark" | "--xor-mark"
        ),
        Target::Log { .. } => matches!(opt, "--log-prefix" | "--log-level"),
        _ => false,
    }
}

fn num(ctx: &Ctx, v: &Tok) -> Result<u32, InputError> {
    let t = v.text.as_str();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => t.parse::<u32>(),
    };
    r.map_err(|_| {
        ctx.err(v.col, format!("`{t}` is not a number"))
            .with_hint("decimal or 0x-prefixed hexadecimal, up to 0xffffffff")
    })
}

/// `V` or `V/M`.
fn value_mask(ctx: &Ctx, v: &Tok, default_mask: u32) -> Result<(u32, u32), InputError> {
    match v.text.split_once('/') {
        Some((a, b)) => Ok((
            num(
                ctx,
                &Tok {
                    text: a.into(),
                    col: v.col,
                },
            )?,
            num(
                ctx,
                &Tok {
                    text: b.into(),
                    col: v.col + a.len() + 1,
                },
            )?,
        )),
        None => Ok((num(ctx, v)?, default_mask)),
    }
}

fn port(ctx: &Ctx, s: &str, col: usize) -> Result<u16, InputError> {
    s.parse::<u16>().map_err(|_| {
        ctx.err(col, format!("`{s}` is not a port"))
            .with_hint("ports are 0 to 65535")
    })
}

/// `80`, `80:90` (and `80-90` where iptables allows it).
fn port_range(ctx: &Ctx, v: &Tok, sep: char) -> Result<PortRange, InputError> {
    let (a, b) = v.text.split_once(sep).unwrap_or((&v.text, &v.text));
    let lo = if a.is_empty() {
        0
    } else {
        port(ctx, a, v.col)?
    };
    let hi = if b.is_empty() {
        65535
    } else {
        port(ctx, b, v.col)?
    };
    if lo > hi {
        return Err(ctx
            .err(v.col, format!("port range `{}` runs backwards", v.text))
            .with_hint("write LOW:HIGH"));
    }
    Ok(PortRange { lo, hi })
}

fn nat_range(ctx: &Ctx, v: &Tok) -> Result<NatRange, InputError> {
    let (ips, ports) = match v.text.split_once(':') {
        Some((i, p)) => (i, Some(p)),
        None => (v.text.as_str(), None),
    };
    let bad = || {
        ctx.err(v.col, format!("`{}` is not an address range", v.text))
            .with_hint("write IP[-IP][:PORT[-PORT]], e.g. 10.244.1.5:8080")
    };
    let (lo, hi) = ips.split_once('-').unwrap_or((ips, ips));
    let lo: Ipv4Addr = lo.parse().map_err(|_| bad())?;
    let hi: Ipv4Addr = hi.parse().map_err(|_| bad())?;
    let ports = match ports {
        Some(p) => Some(port_range(
            ctx,
            &Tok {
                text: p.into(),
                col: v.col,
            },
            '-',
        )?),
        None => None,
    };
    Ok(NatRange { lo, hi, ports })
}

fn target_option(w: &mut Words, t: &mut Target, opt: &Tok) -> Result<(), InputError> {
    let ctx = w.ctx;
    let o = opt.text.as_str();
    match t {
        Target::Reject { with } => *with = w.value(opt)?.text.clone(),
        Target::Dnat {
            to,
            random,
            persistent,
        } => match o {
            "--to-destination" => *to = nat_range(ctx, w.value(opt)?)?,
            "--random" => *random = true,
            _ => *persistent = true,
        },
        Target::Snat {
            to,
            random,
            random_fully,
            persistent,
        } => match o {
            "--to-source" => *to = nat_range(ctx, w.value(opt)?)?,
            "--random" => *random = true,
            "--random-fully" => *random_fully = true,
            _ => *persistent = true,
        },
        Target::Masquerade {
            to_ports,
            random,
            random_fully,
        } => match o {
            "--to-ports" => *to_ports = Some(port_range(ctx, w.value(opt)?, '-')?),
            "--random" => *random = true,
            _ => *random_fully = true,
        },
        Target::Mark { value, mask } => {
            let v = w.value(opt)?;
            // libxt_MARK: every form becomes xor-mark value / and-not mask.
            (*value, *mask) = match o {
                "--set-xmark" => value_mask(ctx, v, u32::MAX)?,
                // mark_tg_parse: --set-mark V/M clears M and V's bits, then sets V.
                "--set-mark" => {
                    let (value, mask) = value_mask(ctx, v, u32::MAX)?;
                    (value, value | mask)
                }
                "--or-mark" => {
                    let x = num(ctx, v)?;
                    (x, x)
                }
                "--and-mark" => (0, !num(ctx, v)?),
                _ => (num(ctx, v)?, 0),
            };
        }
        Target::Log { prefix, level } => {
            let v = w.value(opt)?;
            if o == "--log-prefix" {
                *prefix = Some(v.text.clone());
            } else {
                let names = [
                    "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
                ];
                *level = Some(match names.iter().position(|n| *n == v.text) {
                    Some(i) => i as u8,
                    None => num(ctx, v)?.min(7) as u8,
                });
            }
        }
        _ => {}
    }
    Ok(())
}

/// The module an option belongs to: the last one loaded that takes it. `-p tcp`/`-p udp`
/// load their module implicitly when an option needs it.
fn module_for<'r>(rule: &'r mut Rule, opt: &str) -> Option<&'r mut Match> {
    let pos = rule.matches.iter().rposition(|m| takes(m, opt));
    if let Some(p) = pos {
        return rule.matches.get_mut(p);
    }
    let implicit = match rule.proto {
        Some((Proto(6), _))
            if matches!(
                opt,
                "--sport"
                    | "--dport"
                    | "--source-port"
                    | "--destination-port"
                    | "--tcp-flags"
                    | "--syn"
            ) =>
        {
            Match::Tcp {
                sport: None,
                dport: None,
                flags: None,
            }
        }
        Some((Proto(17), _))
            if matches!(
                opt,
                "--sport" | "--dport" | "--source-port" | "--destination-port"
            ) =>
        {
            Match::Udp {
                sport: None,
                dport: None,
            }
        }
        Some((Proto(1), _)) if opt == "--icmp-type" => Match::Icmp {
            icmp_type: 255,
            code: None,
            neg: false,
        },
        _ => return None,
    };
    rule.matches.push(implicit);
    rule.matches.last_mut()
}

fn takes(m: &Match, opt: &str) -> bool {
    match m {
        Match::Comment(_) => opt == "--comment",
        Match::Tcp { .. } => matches!(
            opt,
            "--sport"
                | "--dport"
                | "--source-port"
                | "--destination-port"
                | "--tcp-flags"
                | "--syn"
        ),
        Match::Udp { .. } => matches!(
            opt,
            "--sport" | "--dport" | "--source-port" | "--destination-port"
        ),
        Match::Icmp { .. } => opt == "--icmp-type",
        Match::Multiport { .. } => matches!(
            opt,
            "--sports" | "--dports" | "--ports" | "--source-ports" | "--destination-ports"
        ),
        Match::Mark { .. } => opt == "--mark",
        Match::AddrType { .. } => matches!(
            opt,
            "--src-type" | "--dst-type" | "--limit-iface-in" | "--limit-iface-out"
        ),
        Match::Statistic(_) => matches!(opt, "--mode" | "--probability" | "--every" | "--packet"),
        Match::Conntrack { .. } => matches!(opt, "--ctstate" | "--ctorigdst" | "--ctorigdstport"),
        Match::State { .. } => opt == "--state",
        Match::Recent(_) => matches!(
            opt,
            "--set"
                | "--rcheck"
                | "--update"
                | "--remove"
                | "--seconds"
                | "--reap"
                | "--hitcount"
                | "--name"
                | "--mask"
                | "--rsource"
                | "--rdest"
        ),
        Match::Set { .. } => opt == "--match-set",
        Match::Nfacct(_) => opt == "--nfacct-name",
        Match::Ipvs(_) => matches!(
            opt,
            "--ipvs" | "--vproto" | "--vaddr" | "--vport" | "--vdir" | "--vmethod"
        ),
        Match::Physdev { .. } => matches!(
            opt,
            "--physdev-in"
                | "--physdev-out"
                | "--physdev-is-in"
                | "--physdev-is-out"
                | "--physdev-is-bridged"
        ),
    }
}

fn addr_types(ctx: &Ctx, v: &Tok) -> Result<Vec<AddrType>, InputError> {
    v.text.split(',').map(|n| {
        AddrType::ALL.iter().copied().find(|t| t.name() == n).ok_or_else(|| {
            ctx.err(v.col, format!("unknown address type `{n}`")).with_hint("LOCAL, UNICAST, BROADCAST, MULTICAST, ANYCAST, BLACKHOLE, UNREACHABLE, PROHIBIT, UNSPEC")
        })
    }).collect()
}

fn ct_states(ctx: &Ctx, v: &Tok) -> Result<Vec<CtState>, InputError> {
    v.text
        .split(',')
        .map(|n| {
            CtState::ALL
                .iter()
                .copied()
                .find(|t| t.name() == n)
                .ok_or_else(|| {
                    ctx.err(v.col, format!("unknown conntrack state `{n}`"))
                        .with_hint("INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED, SNAT, DNAT")
                })
        })
        .collect()
}

fn icmp_type(ctx: &Ctx, v: &Tok) -> Result<(u8, Option<u8>), InputError> {
    let named = [
        ("echo-reply", 0, None),
        ("destination-unreachable", 3, None),
        ("port-unreachable", 3, Some(3)),
        ("fragmentation-needed", 3, Some(4)),
        ("echo-request", 8, None),
        ("time-exceeded", 11, None),
        ("any", 255, None),
    ];
    if let Some((_, t, c)) = named.iter().find(|(n, _, _)| *n == v.text) {
        return Ok((*t, *c));
    }
    let (t, c) = v
        .text
        .split_once('/')
        .map(|(a, b)| (a, Some(b)))
        .unwrap_or((&v.text, None));
    let bad = || {
        ctx.err(v.col, format!("`{}` is not an ICMP type", v.text))
            .with_hint("a number (8), TYPE/CODE (3/4) or a name like echo-request")
    };
    let t = t.parse::<u8>().map_err(|_| bad())?;
    let c = match c {
        Some(c) => Some(c.parse::<u8>().map_err(|_| bad())?),
        None => None,
    };
    Ok((t, c))
}

fn match_option(w: &mut Words, m: &mut Match, opt: &Tok, inv: bool) -> Result<(), InputError> {
    let ctx = w.ctx;
    let o = opt.text.as_str();
    match m {
        Match::Comment(c) => *c = w.value(opt)?.text.clone(),
        Match::Tcp {
            sport,
            dport,
            flags,
        } => match o {
            "--sport" | "--source-port" => {
                *sport = Some((port_range(ctx, w.value(opt)?, ':')?, inv))
            }
            "--dport" | "--destination-port" => {
                *dport = Some((port_range(ctx, w.value(opt)?, ':')?, inv))
            }
            "--syn" => *flags = Some((0x17, 0x02, inv)),
            _ => {
                let mask = tcp_flag_list(ctx, w.value(opt)?)?;
                let comp = tcp_flag_list(ctx, w.value(opt)?)?;
                *flags = Some((mask, comp, inv));
            }
        },
        Match::Udp { sport, dport } => match o {
            "--sport" | "--source-port" => {
                *sport = Some((port_range(ctx, w.value(opt)?, ':')?, inv))
            }
            _ => *dport = Some((port_range(ctx, w.value(opt)?, ':')?, inv)),
        },
        Match::Icmp {
            icmp_type: t,
            code,
            neg,
        } => {
            (*t, *code) = icmp_type(ctx, w.value(opt)?)?;
            *neg = inv;
        }
        Match::Multiport { kind, ports, neg } => {
            *kind = match o {
                "--sports" | "--source-ports" => MultiportKind::Sports,
                "--dports" | "--destination-ports" => MultiportKind::Dports,
                _ => MultiportKind::Ports,
            };
            let v = w.value(opt)?;
            *ports = v
                .text
                .split(',')
                .map(|p| {
                    port_range(
                        ctx,
                        &Tok {
                            text: p.into(),
                            col: v.col,
                        },
                        ':',
                    )
                })
                .collect::<Result<_, _>>()?;
            if ports.len() > 15 {
                return Err(ctx
                    .err(v.col, "multiport takes at most 15 ports")
                    .with_hint("split the rule"));
            }
            *neg = inv;
        }
        Match::Mark { value, mask, neg } => {
            (*value, *mask) = value_mask(ctx, w.value(opt)?, u32::MAX)?;
            *neg = inv;
        }
        Match::AddrType {
            src,
            dst,
            limit_iface_in,
            limit_iface_out,
        } => match o {
            "--src-type" => *src = Some((addr_types(ctx, w.value(opt)?)?, inv)),
            "--dst-type" => *dst = Some((addr_types(ctx, w.value(opt)?)?, inv)),
            "--limit-iface-in" => *limit_iface_in = true,
            _ => *limit_iface_out = true,
        },
        Match::Statistic(s) => match o {
            "--mode" => {
                let v = w.value(opt)?;
                *s = match v.text.as_str() {
                    "random" => Statistic::Random {
                        probability: u32::MAX,
                        neg: false,
                    },
                    "nth" => Statistic::Nth {
                        every: 0,
                        packet: 0,
                        neg: false,
                    },
                    other => {
                        return Err(ctx
                            .err(v.col, format!("unknown statistic mode `{other}`"))
                            .with_hint("random or nth"));
                    }
                };
            }
            "--probability" => {
                let v = w.value(opt)?;
                let p: f64 = v
                    .text
                    .parse()
                    .ok()
                    .filter(|p: &f64| (0.0..=1.0).contains(p))
                    .ok_or_else(|| {
                        ctx.err(v.col, format!("`{}` is not a probability", v.text))
                            .with_hint("a number from 0 to 1")
                    })?;
                match s {
                    Statistic::Random { probability, neg } => {
                        *probability = Statistic::encode_probability(p);
                        *neg = inv;
                    }
                    Statistic::Nth { .. } => {
                        return Err(ctx.err(opt.col, "--probability needs --mode random"));
                    }
                }
            }
            _ => {
                let v = num(ctx, w.value(opt)?)?;
                match s {
                    Statistic::Nth { every, packet, neg } => {
                        if o == "--every" {
                            *every = v;
                            *neg = inv;
                        } else {
                            *packet = v;
                        }
                    }
                    Statistic::Random { .. } => {
                        return Err(ctx.err(opt.col, format!("{o} needs --mode nth")));
                    }
                }
            }
        },
        Match::Conntrack {
            ctstate,
            ctorigdst,
            ctorigdstport,
        } => match o {
            "--ctstate" => *ctstate = Some((ct_states(ctx, w.value(opt)?)?, inv)),
            "--ctorigdst" => *ctorigdst = Some((parse_net(ctx, w.value(opt)?)?, inv)),
            _ => *ctorigdstport = Some((port_range(ctx, w.value(opt)?, ':')?, inv)),
        },
        Match::State { states, neg } => {
            *states = ct_states(ctx, w.value(opt)?)?;
            *neg = inv;
        }
        Match::Recent(r) => match o {
            "--set" | "--rcheck" | "--update" | "--remove" => {
                r.cmd = match o {
                    "--set" => RecentCmd::Set,
                    "--rcheck" => RecentCmd::Rcheck,
                    "--update" => RecentCmd::Update,
                    _ => RecentCmd::Remove,
                };
                r.neg = inv;
            }
            "--seconds" => r.seconds = Some(num(ctx, w.value(opt)?)?),
            "--hitcount" => r.hitcount = Some(num(ctx, w.value(opt)?)?),
            "--reap" => r.reap = true,
            "--name" => r.name = w.value(opt)?.text.clone(),
            "--mask" => {
                let v = w.value(opt)?;
                r.mask = v
                    .text
                    .parse()
                    .map_err(|_| ctx.err(v.col, format!("`{}` is not a netmask", v.text)))?;
            }
            "--rsource" => r.source = true,
            _ => r.source = false,
        },
        Match::Set { name, dirs, neg } => {
            *name = w.value(opt)?.text.clone();
            let v = w.value(opt)?;
            *dirs = v
                .text
                .split(',')
                .map(|d| match d {
                    "src" => Ok(true),
                    "dst" => Ok(false),
                    other => Err(ctx
                        .err(v.col, format!("`{other}` is not a set direction"))
                        .with_hint("src or dst per dimension, e.g. dst,dst")),
                })
                .collect::<Result<_, _>>()?;
            *neg = inv;
        }
        Match::Nfacct(n) => *n = w.value(opt)?.text.clone(),
        Match::Ipvs(m) => match o {
            "--ipvs" => m.property = Some(inv),
            "--vproto" => m.vproto = Some((parse_proto(ctx, w.value(opt)?)?.0, inv)),
            "--vaddr" => m.vaddr = Some((parse_net(ctx, w.value(opt)?)?, inv)),
            "--vport" => {
                let v = w.value(opt)?;
                m.vport = Some((port(ctx, &v.text, v.col)?, inv));
            }
            "--vdir" => {
                let v = w.value(opt)?;
                m.vdir = Some(match v.text.to_ascii_uppercase().as_str() {
                    "ORIGINAL" => false,
                    "REPLY" => true,
                    _ => {
                        return Err(ctx
                            .err(v.col, format!("`{}` is not a direction", v.text))
                            .with_hint("--vdir ORIGINAL or --vdir REPLY"));
                    }
                });
            }
            _ => {
                let v = w.value(opt)?;
                let method = v.text.to_ascii_uppercase();
                if !matches!(method.as_str(), "GATE" | "IPIP" | "MASQ") {
                    return Err(ctx
                        .err(v.col, format!("`{}` is not a forwarding method", v.text))
                        .with_hint("--vmethod GATE, IPIP or MASQ"));
                }
                m.vmethod = Some((method, inv));
            }
        },
        Match::Physdev {
            physdev_in,
            physdev_out,
            is_in,
            is_out,
            is_bridged,
        } => match o {
            "--physdev-in" => *physdev_in = Some((w.value(opt)?.text.clone(), inv)),
            "--physdev-out" => *physdev_out = Some((w.value(opt)?.text.clone(), inv)),
            "--physdev-is-in" => *is_in = Some(inv),
            "--physdev-is-out" => *is_out = Some(inv),
            _ => *is_bridged = Some(inv),
        },
    }
    Ok(())
}

fn tcp_flag_list(ctx: &Ctx, v: &Tok) -> Result<u8, InputError> {
    if v.text == "ALL" {
        return Ok(0x3f);
    }
    if v.text == "NONE" {
        return Ok(0);
    }
    let names = [
        ("FIN", 0x01u8),
        ("SYN", 0x02),
        ("RST", 0x04),
        ("PSH", 0x08),
        ("ACK", 0x10),
        ("URG", 0x20),
    ];
    v.text.split(',').try_fold(0u8, |acc, n| {
        names
            .iter()
            .find(|(x, _)| *x == n)
            .map(|(_, b)| acc | b)
            .ok_or_else(|| {
                ctx.err(v.col, format!("unknown TCP flag `{n}`"))
                    .with_hint("FIN, SYN, RST, PSH, ACK, URG, ALL or NONE")
            })
    })
}
