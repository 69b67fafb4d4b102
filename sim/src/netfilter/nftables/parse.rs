//! Reading nft's input: `nft -f` files of commands (`add table|chain|set|map|element|rule`,
//! `flush`, `delete`, as knftables writes kube-proxy's transactions) and the block form
//! `nft list ruleset` prints (`table ip t { chain c { ... } }`). Both build one
//! [`Ruleset`]. Errors are located (line:column, the token, a hint); an expression kpath
//! does not model is refused by name, never skipped. One rule's statements are read in
//! parse_rule.rs.

use super::expr::*;
use super::lex::{Tok, Token, tokens};
use super::ruleset::*;
use crate::diag::InputError;
use std::collections::{HashMap, HashSet};

/// The statements and expressions kpath models, for hints.
pub(super) const MODELLED: &str = "ip saddr/daddr/protocol, tcp/udp/th sport/dport, meta l4proto/mark/iifname/oifname/iif/oif, mark, ct state/status/mark/direction, fib saddr/daddr type, numgen random mod N, concatenations (a . b), & | ^, sets (@name, { ... }), vmap, counter, accept, drop, continue, return, jump, goto, reject, dnat, snat, masquerade, redirect, notrack, log, meta/ct mark set, update/add @set, comment";

/// Read `src` (from `file`) into a ruleset.
pub fn parse(file: &str, src: &str) -> Result<Ruleset, InputError> {
    let toks = tokens(src).map_err(|(l, c, m)| InputError::at(file, src, l, c, m))?;
    let mut p = Parser {
        file,
        src,
        toks,
        pos: 0,
        rs: Ruleset::default(),
        places: Places::default(),
    };
    p.commands()?;
    Ok(p.rs)
}

/// Where each chain and set is, and which keys each set holds, so that kube-proxy's
/// transaction for 10,000 Services (tens of thousands of chains, rules and elements) reads
/// in linear time. Kept as chains and sets are added; after a flush or delete (`stale`)
/// found again from the ruleset.
#[derive(Default)]
pub(super) struct Places {
    chains: HashMap<(usize, String), usize>,
    sets: HashMap<(usize, String), usize>,
    keys: HashMap<(usize, usize), HashSet<String>>,
    stale: bool,
}

pub(super) struct Parser<'a> {
    pub(super) file: &'a str,
    pub(super) src: &'a str,
    pub(super) toks: Vec<Token>,
    pub(super) pos: usize,
    pub(super) rs: Ruleset,
    pub(super) places: Places,
}

pub(super) type R<T> = Result<T, InputError>;

impl Parser<'_> {
    pub(super) fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    pub(super) fn peek_word(&self) -> Option<&str> {
        self.peek().and_then(Token::word)
    }

    pub(super) fn peek_is(&self, w: &str) -> bool {
        self.peek_word() == Some(w)
    }

    pub(super) fn peek_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(p), .. }) if *p == c)
    }

    pub(super) fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    pub(super) fn err_at(&self, t: Option<&Token>, msg: impl Into<String>) -> InputError {
        let (line, col) = match t.or_else(|| self.toks.last()) {
            Some(t) => (t.line, t.col),
            None => (1, 1),
        };
        InputError::at(self.file, self.src, line, col, msg)
    }

    pub(super) fn err_here(&self, msg: impl Into<String>) -> InputError {
        self.err_at(self.peek(), msg)
    }

    pub(super) fn skip_newlines(&mut self) {
        while matches!(
            self.peek(),
            Some(Token {
                tok: Tok::Newline,
                ..
            })
        ) || self.peek_punct(';')
        {
            self.pos += 1;
        }
    }

    pub(super) fn at_end_of_rule(&self) -> bool {
        match self.peek() {
            None => true,
            Some(t) => matches!(t.tok, Tok::Newline | Tok::Punct(';') | Tok::Punct('}')),
        }
    }

    pub(super) fn word(&mut self, what: &str) -> R<String> {
        match self.peek() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.err_here(format!(
                "expected {what}, found `{}`",
                self.peek().map(Token::text).unwrap_or_default()
            ))),
        }
    }

    pub(super) fn expect_word(&mut self, w: &str) -> R<()> {
        if self.peek_is(w) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err_here(format!(
                "expected `{w}`, found `{}`",
                self.peek().map(Token::text).unwrap_or_default()
            )))
        }
    }

    pub(super) fn expect_punct(&mut self, c: char) -> R<()> {
        if self.peek_punct(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err_here(format!(
                "expected `{c}`, found `{}`",
                self.peek().map(Token::text).unwrap_or_default()
            )))
        }
    }

    pub(super) fn string(&mut self) -> R<String> {
        match self.next() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => Ok(s),
            Some(Token {
                tok: Tok::Word(w), ..
            }) => Ok(w),
            t => {
                self.pos -= 1;
                Err(self.err_at(t.as_ref(), "expected a string in double quotes"))
            }
        }
    }

    // ---- commands -------------------------------------------------------------------

    pub(super) fn commands(&mut self) -> R<()> {
        loop {
            self.skip_newlines();
            let Some(t) = self.peek().cloned() else {
                return Ok(());
            };
            let w = self.word("a command")?;
            match w.as_str() {
                "table" => self.table_block()?,
                "add" | "create" => self.add()?,
                "insert" => {
                    self.expect_word("rule")?;
                    self.rule_command(true)?;
                }
                "flush" => self.flush_or_delete(true)?,
                "delete" | "destroy" => self.flush_or_delete(false)?,
                other => {
                    return Err(self.err_at(Some(&t), format!("`{other}` is not a command kpath reads"))
                        .with_hint("nft -f input: add, create, insert, flush, delete, or `table FAMILY NAME { ... }` as nft list ruleset prints"));
                }
            }
        }
    }

    pub(super) fn family_and_name(&mut self) -> R<(Family, String)> {
        let t = self.peek().cloned();
        let first = self.word("a table family or name")?;
        match Family::parse(&first) {
            Some(f) => Ok((f, self.word("a table name")?)),
            // nft's default family is ip.
            None if t.is_some() => Ok((Family::Ip, first)),
            None => Err(self.err_at(t.as_ref(), "expected a table")),
        }
    }

    pub(super) fn table_mut(&mut self, family: Family, name: &str, at: Option<&Token>) -> R<usize> {
        self.rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name)
            .ok_or_else(|| {
                self.err_at(at, format!("table {family} {name} does not exist"))
                    .with_hint(format!("add it first: add table {family} {name}"))
            })
    }

    pub(super) fn ensure_table(&mut self, family: Family, name: &str) -> usize {
        if let Some(i) = self
            .rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name)
        {
            return i;
        }
        self.rs.tables.push(Table {
            family,
            name: name.to_string(),
            comment: None,
            sets: Vec::new(),
            chains: Vec::new(),
            lookup: Default::default(),
        });
        self.rs.tables.len() - 1
    }

    pub(super) fn add(&mut self) -> R<()> {
        let t = self.peek().cloned();
        let what = self.word("table, chain, set, map, element or rule")?;
        match what.as_str() {
            "table" => {
                let (family, name) = self.family_and_name()?;
                let ti = self.ensure_table(family, &name);
                if self.peek_punct('{') {
                    self.pos += 1;
                    self.table_body(ti)?;
                }
                Ok(())
            }
            "chain" => {
                let at = self.peek().cloned();
                let (family, table) = self.family_and_name()?;
                let ti = self.table_mut(family, &table, at.as_ref())?;
                let name = self.word("a chain name")?;
                let ci = self.ensure_chain(ti, &name);
                if self.peek_punct('{') {
                    self.pos += 1;
                    self.chain_body(ti, ci, true)?;
                }
                Ok(())
            }
            "set" | "map" => {
                let at = self.peek().cloned();
                let (family, table) = self.family_and_name()?;
                let ti = self.table_mut(family, &table, at.as_ref())?;
                let name = self.word("a set name")?;
                self.expect_punct('{')?;
                let set = self.set_body(name, what == "map")?;
                match self.set_index(ti, &set.name) {
                    Some(si) => {
                        let old = &mut self.rs.tables[ti].sets[si];
                        let elements = std::mem::take(&mut old.elements);
                        *old = Set { elements, ..set };
                    }
                    None => self.push_set(ti, set),
                }
                Ok(())
            }
            "element" => {
                let at = self.peek().cloned();
                let (family, table) = self.family_and_name()?;
                let ti = self.table_mut(family, &table, at.as_ref())?;
                let st = self.peek().cloned();
                let name = self.word("a set name")?;
                let Some(si) = self.set_index(ti, &name) else {
                    return Err(self
                        .err_at(
                            st.as_ref(),
                            format!("set `{name}` does not exist in table {family} {table}"),
                        )
                        .with_hint("add the set (or map) before its elements"));
                };
                self.expect_punct('{')?;
                let els = self.elements()?;
                // `add element` of a key the set holds already changes nothing (the kernel
                // keeps one; kube-proxy adds a ClusterIP once per Service port).
                let keys = self.places.keys.entry((ti, si)).or_insert_with(|| {
                    self.rs.tables[ti].sets[si]
                        .elements
                        .iter()
                        .map(|e| format!("{:?}", e.key))
                        .collect()
                });
                let set = &mut self.rs.tables[ti].sets[si];
                for e in els {
                    if keys.insert(format!("{:?}", e.key)) {
                        set.elements.push(e);
                    }
                }
                Ok(())
            }
            "rule" => self.rule_command(false),
            other => Err(self
                .err_at(t.as_ref(), format!("kpath does not read `add {other}`"))
                .with_hint("add table, chain, set, map, element or rule")),
        }
    }

    pub(super) fn ensure_chain(&mut self, ti: usize, name: &str) -> usize {
        if let Some(i) = self.chain_index(ti, name) {
            return i;
        }
        // chain_index made the places fresh: the new chain's place is kept with them.
        let tb = &mut self.rs.tables[ti];
        tb.chains.push(Chain {
            name: name.to_string(),
            base: None,
            comment: None,
            rules: Vec::new(),
        });
        let i = tb.chains.len() - 1;
        self.places.chains.insert((ti, name.to_string()), i);
        i
    }

    /// The chain `name` of table `ti`, if it exists.
    fn chain_index(&mut self, ti: usize, name: &str) -> Option<usize> {
        self.places_fresh();
        self.places.chains.get(&(ti, name.to_string())).copied()
    }

    /// The set (or map) `name` of table `ti`, if it exists.
    fn set_index(&mut self, ti: usize, name: &str) -> Option<usize> {
        self.places_fresh();
        self.places.sets.get(&(ti, name.to_string())).copied()
    }

    /// After a flush or delete moved things: find every chain and set again.
    fn places_fresh(&mut self) {
        if !self.places.stale {
            return;
        }
        self.places = Places::default();
        for (ti, t) in self.rs.tables.iter().enumerate() {
            for (i, c) in t.chains.iter().enumerate().rev() {
                self.places.chains.insert((ti, c.name.clone()), i);
            }
            for (i, st) in t.sets.iter().enumerate().rev() {
                self.places.sets.insert((ti, st.name.clone()), i);
            }
        }
    }

    pub(super) fn push_set(&mut self, ti: usize, set: Set) {
        self.places_fresh();
        let sets = &mut self.rs.tables[ti].sets;
        self.places.sets.insert((ti, set.name.clone()), sets.len());
        sets.push(set);
    }

    pub(super) fn rule_command(&mut self, insert: bool) -> R<()> {
        let at = self.peek().cloned();
        let (family, table) = self.family_and_name()?;
        let ti = self.table_mut(family, &table, at.as_ref())?;
        let ct = self.peek().cloned();
        let chain = self.word("a chain name")?;
        let Some(ci) = self.chain_index(ti, &chain) else {
            return Err(self
                .err_at(
                    ct.as_ref(),
                    format!("chain `{chain}` does not exist in table {family} {table}"),
                )
                .with_hint("add the chain before its rules"));
        };
        let rule = self.rule()?;
        let rules = &mut self.rs.tables[ti].chains[ci].rules;
        if insert {
            rules.insert(0, rule);
        } else {
            rules.push(rule);
        }
        Ok(())
    }

    pub(super) fn flush_or_delete(&mut self, flush: bool) -> R<()> {
        // Places move or empty: find them again on next use.
        self.places.stale = true;
        let t = self.peek().cloned();
        let what = self.word("ruleset, table, chain, set or map")?;
        if what == "ruleset" {
            if flush {
                self.rs.tables.clear();
            }
            return Ok(());
        }
        let at = self.peek().cloned();
        let (family, table) = self.family_and_name()?;
        let Some(ti) = self
            .rs
            .tables
            .iter()
            .position(|x| x.family == family && x.name == table)
        else {
            // Deleting or flushing what does not exist fails in nft; knftables only does it
            // to what it added in the same transaction.
            return Err(self.err_at(
                at.as_ref(),
                format!("table {family} {table} does not exist"),
            ));
        };
        match what.as_str() {
            "table" if flush => {
                for c in &mut self.rs.tables[ti].chains {
                    c.rules.clear();
                }
            }
            "table" => {
                self.rs.tables.remove(ti);
            }
            "chain" => {
                let name = self.word("a chain name")?;
                let tb = &mut self.rs.tables[ti];
                if flush {
                    if let Some(c) = tb.chains.iter_mut().find(|c| c.name == name) {
                        c.rules.clear();
                    }
                } else {
                    tb.chains.retain(|c| c.name != name);
                }
            }
            "set" | "map" => {
                let name = self.word("a set name")?;
                let tb = &mut self.rs.tables[ti];
                if flush {
                    if let Some(s) = tb.sets.iter_mut().find(|s| s.name == name) {
                        s.elements.clear();
                    }
                } else {
                    tb.sets.retain(|s| s.name != name);
                }
            }
            other => {
                return Err(self
                    .err_at(
                        t.as_ref(),
                        format!(
                            "kpath does not read `{} {other}`",
                            if flush { "flush" } else { "delete" }
                        ),
                    )
                    .with_hint("ruleset, table, chain, set or map"));
            }
        }
        Ok(())
    }

    // ---- block form -------------------------------------------------------------------

    pub(super) fn table_block(&mut self) -> R<()> {
        let (family, name) = self.family_and_name()?;
        let ti = self.ensure_table(family, &name);
        self.expect_punct('{')?;
        self.table_body(ti)
    }

    /// After `{`, up to and including `}`.
    pub(super) fn table_body(&mut self, ti: usize) -> R<()> {
        loop {
            self.skip_newlines();
            if self.peek_punct('}') {
                self.pos += 1;
                return Ok(());
            }
            let t = self.peek().cloned();
            let w = self.word("chain, set, map, comment or flags")?;
            match w.as_str() {
                "comment" => self.rs.tables[ti].comment = Some(self.string()?),
                "flags" => {
                    self.flag_list()?;
                }
                "chain" => {
                    let name = self.word("a chain name")?;
                    let ci = self.ensure_chain(ti, &name);
                    self.expect_punct('{')?;
                    self.chain_body(ti, ci, false)?;
                }
                "set" | "map" => {
                    let name = self.word("a set name")?;
                    self.expect_punct('{')?;
                    let set = self.set_body(name, w == "map")?;
                    self.push_set(ti, set);
                }
                other => {
                    return Err(self
                        .err_at(t.as_ref(), format!("kpath does not read `{other}` in a table"))
                        .with_hint("a table holds chains, sets and maps (flowtables, counters, quotas and other stateful objects are not modelled)"));
                }
            }
        }
    }

    pub(super) fn flag_list(&mut self) -> R<Vec<String>> {
        let mut flags = vec![self.word("a flag")?];
        while self.peek_punct(',') {
            self.pos += 1;
            flags.push(self.word("a flag")?);
        }
        Ok(flags)
    }

    /// After `{`: the chain's spec and, in the block form, its rules; up to `}`.
    pub(super) fn chain_body(&mut self, ti: usize, ci: usize, spec_only: bool) -> R<()> {
        loop {
            self.skip_newlines();
            if self.peek_punct('}') {
                self.pos += 1;
                return Ok(());
            }
            if self.peek_is("type") {
                let base = self.base_chain()?;
                self.rs.tables[ti].chains[ci].base = Some(base);
            } else if self.peek_is("policy") {
                self.pos += 1;
                let t = self.peek().cloned();
                let p = self.word("accept or drop")?;
                let accept = match p.as_str() {
                    "accept" => true,
                    "drop" => false,
                    _ => {
                        return Err(self
                            .err_at(t.as_ref(), format!("`{p}` is not a chain policy"))
                            .with_hint("accept or drop"));
                    }
                };
                match &mut self.rs.tables[ti].chains[ci].base {
                    Some(b) => b.accept = accept,
                    None => {
                        return Err(self
                            .err_at(t.as_ref(), "only a base chain has a policy")
                            .with_hint("give the chain `type ... hook ... priority ...;` first"));
                    }
                }
            } else if self.peek_is("comment") && self.comment_only_line() {
                self.pos += 1;
                self.rs.tables[ti].chains[ci].comment = Some(self.string()?);
            } else if spec_only {
                return Err(self
                    .err_here(format!(
                        "`{}` does not belong in a chain's declaration",
                        self.peek().map(Token::text).unwrap_or_default()
                    ))
                    .with_hint(
                        "type T hook H priority P ; policy accept|drop ; comment \"...\" ;",
                    ));
            } else {
                let rule = self.rule()?;
                self.rs.tables[ti].chains[ci].rules.push(rule);
            }
        }
    }

    /// Is the `comment "..."` at the cursor alone on its line (the chain's comment), not
    /// the end of a rule?
    pub(super) fn comment_only_line(&self) -> bool {
        let starts_line = self.pos == 0
            || matches!(
                self.toks[self.pos - 1].tok,
                Tok::Newline | Tok::Punct('{') | Tok::Punct(';')
            );
        let ends = matches!(
            self.toks.get(self.pos + 2).map(|t| &t.tok),
            None | Some(Tok::Newline | Tok::Punct(';') | Tok::Punct('}'))
        );
        starts_line && ends
    }

    pub(super) fn base_chain(&mut self) -> R<BaseChain> {
        self.expect_word("type")?;
        let t = self.peek().cloned();
        let kind = match self.word("filter, nat or route")?.as_str() {
            "filter" => ChainType::Filter,
            "nat" => ChainType::Nat,
            "route" => ChainType::Route,
            other => {
                return Err(self
                    .err_at(t.as_ref(), format!("`{other}` is not a chain type"))
                    .with_hint("filter, nat or route"));
            }
        };
        self.expect_word("hook")?;
        let t = self.peek().cloned();
        let h = self.word("a hook")?;
        let hook = NftHook::parse(&h).ok_or_else(|| {
            self.err_at(t.as_ref(), format!("`{h}` is not a hook"))
                .with_hint("prerouting, input, forward, output, postrouting or ingress")
        })?;
        if self.peek_is("device") {
            self.pos += 2;
        }
        self.expect_word("priority")?;
        let priority = self.priority(hook)?;
        Ok(BaseChain {
            kind,
            hook,
            priority,
            accept: true,
        })
    }

    /// `-110`, `dstnat`, `dstnat - 10`, `filter + 5`, `dstnat-10`.
    pub(super) fn priority(&mut self, hook: NftHook) -> R<i32> {
        let t = self.peek().cloned();
        let w = self.word("a priority")?;
        let named = |s: &str| -> Option<i32> {
            Some(match s {
                "raw" => -300,
                "mangle" => -150,
                "dstnat" if matches!(hook, NftHook::Prerouting | NftHook::Output) => -100,
                "filter" => 0,
                "security" => 50,
                "srcnat" if matches!(hook, NftHook::Postrouting | NftHook::Input) => 100,
                _ => return None,
            })
        };
        let bad = |p: &Parser| {
            p.err_at(t.as_ref(), format!("`{w}` is not a priority here"))
                .with_hint("a number, or raw, mangle, dstnat (prerouting, output), filter, security, srcnat (postrouting, input), with + N or - N")
        };
        if let Ok(n) = w.parse::<i32>() {
            return Ok(n);
        }
        // `dstnat-10` written as one word.
        if let Some((i, _)) = w
            .char_indices()
            .skip(1)
            .find(|(_, c)| matches!(c, '+' | '-'))
        {
            let base = named(&w[..i]).ok_or_else(|| bad(self))?;
            let off: i32 = w[i + 1..].parse().map_err(|_| bad(self))?;
            return Ok(if &w[i..=i] == "-" {
                base - off
            } else {
                base + off
            });
        }
        let base = named(&w).ok_or_else(|| bad(self))?;
        if self.peek_is("+") || self.peek_is("-") {
            let neg = self.peek_is("-");
            self.pos += 1;
            let ot = self.peek().cloned();
            let o = self.word("an offset")?;
            let off: i32 = o
                .parse()
                .map_err(|_| self.err_at(ot.as_ref(), format!("`{o}` is not a number")))?;
            return Ok(if neg { base - off } else { base + off });
        }
        Ok(base)
    }

    /// After `{`: a set's or map's declaration, up to `}`.
    pub(super) fn set_body(&mut self, name: String, map: bool) -> R<Set> {
        let mut set = Set {
            name,
            key: Vec::new(),
            data: None,
            flags: Vec::new(),
            timeout: None,
            size: None,
            comment: None,
            elements: Vec::new(),
        };
        loop {
            self.skip_newlines();
            if self.peek_punct('}') {
                self.pos += 1;
                break;
            }
            let t = self.peek().cloned();
            let w = self.word("type, flags, timeout, size, comment or elements")?;
            match w.as_str() {
                "type" => {
                    set.key.push(self.word("a data type")?);
                    while self.peek_is(".") {
                        self.pos += 1;
                        set.key.push(self.word("a data type")?);
                    }
                    if self.peek_is(":") {
                        self.pos += 1;
                        set.data = Some(self.word("a data type")?);
                    }
                }
                "flags" => set.flags = self.flag_list()?,
                "timeout" => set.timeout = Some(self.duration()?),
                "size" => {
                    let st = self.peek().cloned();
                    let n = self.word("a size")?;
                    set.size =
                        Some(n.parse().map_err(|_| {
                            self.err_at(st.as_ref(), format!("`{n}` is not a size"))
                        })?);
                }
                "comment" => set.comment = Some(self.string()?),
                "gc-interval" => {
                    self.duration()?;
                }
                "policy" => {
                    self.word("performance or memory")?;
                }
                "elements" => {
                    self.expect_word("=")?;
                    self.expect_punct('{')?;
                    set.elements = self.elements()?;
                }
                "typeof" => {
                    return Err(self.err_at(t.as_ref(), "kpath does not read `typeof` set declarations").with_hint("declare the key with `type` (ipv4_addr, inet_proto, inet_service, ...)"));
                }
                other => {
                    return Err(self
                        .err_at(
                            t.as_ref(),
                            format!("`{other}` does not belong in a set's declaration"),
                        )
                        .with_hint("type, flags, timeout, size, comment, elements"));
                }
            }
        }
        if set.key.is_empty() {
            return Err(self
                .err_here(format!("set `{}` has no type", set.name))
                .with_hint("type ipv4_addr ;"));
        }
        if map != set.data.is_some() {
            let hint = if map {
                "a map's type has a data type: type K : verdict"
            } else {
                "a set's type has no `: DATA`; declare a map instead"
            };
            return Err(self
                .err_here(format!(
                    "{} `{}` type does not match",
                    if map { "map" } else { "set" },
                    set.name
                ))
                .with_hint(hint));
        }
        Ok(set)
    }

    pub(super) fn duration(&mut self) -> R<u64> {
        let t = self.peek().cloned();
        let w = self.word("a duration")?;
        parse_duration(&w).ok_or_else(|| {
            self.err_at(t.as_ref(), format!("`{w}` is not a duration"))
                .with_hint("10800s, 3h, 1h30m")
        })
    }

    /// After `{`: elements separated by commas, up to `}`.
    pub(super) fn elements(&mut self) -> R<Vec<Element>> {
        let mut out = Vec::new();
        loop {
            self.skip_newlines();
            if self.peek_punct('}') {
                self.pos += 1;
                return Ok(out);
            }
            let mut key = vec![self.value()?];
            while self.peek_is(".") {
                self.pos += 1;
                key.push(self.value()?);
            }
            let mut el = Element {
                key,
                timeout: None,
                comment: None,
                data: None,
            };
            loop {
                if self.peek_is("timeout") {
                    self.pos += 1;
                    el.timeout = Some(self.duration()?);
                } else if self.peek_is("expires") {
                    self.pos += 1;
                    self.duration()?;
                } else if self.peek_is("comment") {
                    self.pos += 1;
                    el.comment = Some(self.string()?);
                } else {
                    break;
                }
            }
            if self.peek_is(":") {
                self.pos += 1;
                el.data = Some(self.data()?);
            }
            out.push(el);
            self.skip_newlines();
            if self.peek_punct(',') {
                self.pos += 1;
            } else if !self.peek_punct('}') {
                return Err(self.err_here(format!(
                    "expected `,` or `}}` after an element, found `{}`",
                    self.peek().map(Token::text).unwrap_or_default()
                )));
            }
        }
    }

    pub(super) fn data(&mut self) -> R<Data> {
        if let Some(v) = self.verdict()? {
            return Ok(Data::Verdict(v));
        }
        let mut vals = vec![self.value()?];
        while self.peek_is(".") {
            self.pos += 1;
            vals.push(self.value()?);
        }
        Ok(Data::Value(vals))
    }

    pub(super) fn verdict(&mut self) -> R<Option<Verdict>> {
        let v = match self.peek_word() {
            Some("accept") => Verdict::Accept,
            Some("drop") => Verdict::Drop,
            Some("continue") => Verdict::Continue,
            Some("return") => Verdict::Return,
            Some("jump") | Some("goto") => {
                let jump = self.peek_is("jump");
                self.pos += 1;
                let c = self.word("a chain name")?;
                return Ok(Some(if jump {
                    Verdict::Jump(c)
                } else {
                    Verdict::Goto(c)
                }));
            }
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(v))
    }
}
