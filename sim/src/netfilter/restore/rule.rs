//! One rule line, `-A CHAIN [options] [-j TARGET [target options]]`, read as
//! iptables-restore's `do_parse` reads it: `-s`, `-d`, `-i`, `-o` and `-p` at most once,
//! `-m` loading a match module whose options follow, one `-j`/`-g`, and `!` before the
//! option it negates (refused where iptables refuses it).

use super::Ctx;
use super::matches::{
    MATCHES, NOT_INVERTIBLE, check_statistic, match_option, module_for, new_match,
};
use super::targets::{new_target, target_name, target_option, target_takes};
use super::values::{parse_net, parse_proto};
use super::words::tokenize;
use super::words::{Tok, Words};
use crate::diag::{InputError, did_you_mean};
use crate::netfilter::rule::{Rule, Target};
use crate::netfilter::table::{Chain, Table, Verdict};
use std::sync::Arc;

/// One `-A` line as read: kept by a [`RuleCache`] to be placed again, without reading the
/// words a second time, wherever the same line recurs.
#[derive(Clone)]
pub(super) struct ReadRule {
    chain: Box<str>,
    chain_col: usize,
    rule: Arc<Rule>,
}

/// Read a rule line's words (`-A CHAIN ...`, counters already taken off) and append the
/// rule to its chain, as `-A` does. Returns what was read, for a cache.
pub(super) fn append_rule(
    ctx: &Ctx,
    table: &mut Table,
    toks: &[Tok],
) -> Result<ReadRule, InputError> {
    let mut w = Words { ctx, toks, i: 0 };
    let Some(cmd) = w.next() else {
        return Err(ctx.err(1, "empty rule"));
    };
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
    // The chain first: iptables-restore looks it up before it reads the rule's options.
    let ci = chain_position(ctx, table, &chain_tok.text, chain_tok.col)?;
    let (rule, _) = parse_rule(&mut w)?;
    let read = ReadRule {
        chain: chain_tok.text.as_ref().into(),
        chain_col: chain_tok.col,
        rule: Arc::new(rule),
    };
    table.append_rule(ci, read.rule.clone());
    Ok(read)
}

/// Append a rule read before (from the same line text) to its chain.
pub(super) fn append_read_rule(
    ctx: &Ctx,
    table: &mut Table,
    read: &ReadRule,
) -> Result<(), InputError> {
    let ci = chain_position(ctx, table, &read.chain, read.chain_col)?;
    table.append_rule(ci, read.rule.clone());
    Ok(())
}

/// Where rule `i` of chain `ci` was read: its line, and the column of its `-j`/`-g` value
/// (or of `-A` when it has no target). Errors found at COMMIT (`ctx`'s line: jumps, loops,
/// targets in the wrong place) point at the rule; it is found by reading the table's lines
/// (after line `from`) again the way they were read, so that a load keeps no position per
/// rule (a node's dump has hundreds of thousands), and `--append`, counters and targets
/// named inside comments are placed right.
pub(super) fn locate(ctx: &Ctx, t: &Table, from: usize, ci: usize, i: usize) -> (usize, usize) {
    let chain = t.chains()[ci].name.as_str();
    let mut seen = 0;
    for (idx, raw) in ctx.src.lines().enumerate().take(ctx.line).skip(from) {
        let at = Ctx {
            file: ctx.file,
            src: ctx.src,
            line: idx + 1,
        };
        let Ok(toks) = tokenize(&at, raw.trim_end()) else {
            continue;
        };
        let toks = match toks.first() {
            Some(c) if c.text.starts_with('[') => &toks[1..],
            _ => &toks[..],
        };
        let mut w = Words {
            ctx: &at,
            toks,
            i: 0,
        };
        let Some(cmd) = w.next().filter(|c| c.text == "-A" || c.text == "--append") else {
            continue;
        };
        if w.value(cmd).ok().is_none_or(|c| c.text != chain) {
            continue;
        }
        if seen == i {
            let target_col = parse_rule(&mut w).ok().and_then(|(_, col)| col);
            return (at.line, target_col.unwrap_or(cmd.col));
        }
        seen += 1;
    }
    // Not read from this text: the COMMIT line.
    (ctx.line, 1)
}

/// The position of the chain a rule is appended to.
fn chain_position(
    ctx: &Ctx,
    table: &mut Table,
    chain: &str,
    col: usize,
) -> Result<usize, InputError> {
    if let Some(at) = table.position(chain) {
        return Ok(at);
    }
    // A table always has its built-in chains: `iptables-restore --noflush` (how kube-proxy
    // loads its rules) appends to them without a `:CHAIN` line, keeping their policy.
    if table.kind.builtin_chains().contains(&chain) {
        table.push_chain(Chain {
            name: chain.to_string(),
            policy: Some(Verdict::Accept),
            rules: Vec::new(),
        });
        return Ok(table.chains().len() - 1);
    }
    let names: Vec<&str> = table.chains().iter().map(|c| c.name.as_str()).collect();
    let hint = match did_you_mean(chain, names.iter().copied()) {
        Some(m) => format!("did you mean `{m}`?"),
        None => format!("declare it first with `:{chain} - [0:0]`"),
    };
    Err(ctx
        .err(
            col,
            format!(
                "chain `{chain}` is not declared in the {} table",
                table.kind.name()
            ),
        )
        .with_hint(hint))
}

/// A rule's words after `-A CHAIN`, and the column of its target's name.
fn parse_rule(w: &mut Words) -> Result<(Rule, Option<usize>), InputError> {
    let ctx = w.ctx;
    let mut rule = Rule::new(Target::None);
    let mut neg = false;
    let mut neg_col = 0;
    let mut target_set = false;
    let mut target_col = None;
    let mut statistic_cols: Vec<(usize, usize)> = Vec::new();
    while let Some(t) = w.next() {
        let opt = t.text.as_ref();
        if opt == "!" && !t.quoted {
            // xshared.c do_parse: "multiple consecutive ! not allowed".
            if neg {
                return Err(ctx
                    .err(t.col, "multiple consecutive `!` not allowed")
                    .with_hint("one `!` negates the option after it"));
            }
            neg = true;
            neg_col = t.col;
            continue;
        }
        let inv = std::mem::take(&mut neg);
        if inv {
            refuse_negation(ctx, &rule, target_set, opt, neg_col)?;
        }
        refuse_repeat(ctx, &rule, t)?;
        match opt {
            "-s" | "--source" => rule.src = Some((parse_net(ctx, w.value(t)?)?, inv)),
            "-d" | "--destination" => rule.dst = Some((parse_net(ctx, w.value(t)?)?, inv)),
            "-i" | "--in-interface" => {
                rule.in_iface = Some(Box::new((w.value(t)?.text.to_string(), inv)))
            }
            "-o" | "--out-interface" => {
                rule.out_iface = Some(Box::new((w.value(t)?.text.to_string(), inv)))
            }
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
                target_col = Some(v.col);
                let goto = opt.starts_with("-g") || opt == "--goto";
                rule.target = new_target(&v.text, goto, ctx.line, v.col);
                target_set = true;
            }
            o if o.starts_with('-') => {
                if target_set && target_takes(&rule.target, o) {
                    target_option(w, &mut rule.target, t)?;
                } else if let Some(m) = module_for(&mut rule, o) {
                    match_option(w, m, t, inv)?;
                } else if let Some(u) = (rule.matches.iter_mut().rev())
                    .find(|m| matches!(m, crate::netfilter::rule::Match::Unknown(_)))
                {
                    // No module kpath knows takes it: the unknown module loaded before does.
                    match_option(w, u, t, inv)?;
                } else {
                    return Err(unknown_option(ctx, &rule, target_set, t));
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
    // xt_CT with `--notrack` alone is NOTRACK; any other CT use (zones, helpers, timeouts)
    // stays what kpath does not model.
    if let Target::Unknown(u) = &rule.target
        && u.name == "CT"
        && u.args == ["--notrack"]
    {
        rule.target = Target::Notrack { ct: true };
    }
    // Exactly as long as it is: pushing left room for four (a node's dump holds hundreds of
    // thousands of rules with one or two matches).
    // (A new buffer: `shrink_to_fit` may keep the old one, since allocators shrink in place.)
    let mut exact = Vec::with_capacity(rule.matches.len());
    exact.append(&mut rule.matches);
    rule.matches = exact;
    Ok((rule, target_col))
}

/// `!` before `opt`, refused where iptables refuses it instead of dropped silently (which
/// would read `! -j ACCEPT` as `-j ACCEPT`): xshared.c set_option "cannot have ! before
/// --jump", xtoptions.c "option ... cannot be inverted" for options without XTOPT_INVERT
/// (every target option, and those listed in `NOT_INVERTIBLE`).
fn refuse_negation(
    ctx: &Ctx,
    rule: &Rule,
    target_set: bool,
    opt: &str,
    neg_col: usize,
) -> Result<(), InputError> {
    let refused = match opt {
        "-j" | "--jump" | "-g" | "--goto" => Some("a target cannot be negated"),
        o if target_set && target_takes(&rule.target, o) => {
            Some("a target's options cannot be negated")
        }
        o if NOT_INVERTIBLE.contains(&o) => Some("this option cannot be negated"),
        _ => None,
    };
    if let Some(why) = refused {
        return Err(ctx
            .err(neg_col, format!("`!` before `{opt}`: {why}"))
            .with_hint("iptables-restore refuses it; `!` goes before a match option, e.g. `! -s 10.0.0.0/8` or `-m mark ! --mark 0x4000`"));
    }
    Ok(())
}

/// iptables takes each of `-s`, `-d`, `-i`, `-o` and `-p` once per rule ("multiple -p
/// flags not allowed").
fn refuse_repeat(ctx: &Ctx, rule: &Rule, t: &Tok) -> Result<(), InputError> {
    let given = match t.text.as_ref() {
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
            .with_hint(
                "a rule matches one source, destination, interface and protocol; write two rules",
            ));
    }
    Ok(())
}

/// Option `t`, which neither the rule's target nor any module loaded before it takes.
fn unknown_option(ctx: &Ctx, rule: &Rule, target_set: bool, t: &Tok) -> InputError {
    let o = t.text.as_ref();
    let hint = if target_set {
        format!(
            "`{o}` is not an option of `{}` or of any module loaded before it",
            target_name(&rule.target)
        )
    } else {
        format!("`{o}` belongs to no module loaded with `-m` before it (modules: {MATCHES})")
    };
    ctx.err(t.col, format!("unknown option `{o}`"))
        .with_hint(hint)
}
