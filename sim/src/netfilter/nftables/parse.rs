//! Reading nft's input: `nft -f` files of commands (`add table|chain|set|map|element|rule`,
//! `flush`, `delete`, as knftables writes kube-proxy's transactions) and the block form
//! `nft list ruleset` prints (`table ip t { chain c { ... } }`). Both build one
//! [`Ruleset`]. Errors are located (line:column, the token, a hint); an expression kpath
//! does not model is refused by name, never skipped.

use super::expr::*;
use super::lex::{Tok, Token, tokens};
use super::ruleset::*;
use crate::diag::InputError;
use crate::wire::{Ipv4Addr, Ipv4Net};

/// The statements and expressions kpath models, for hints.
const MODELLED: &str = "ip saddr/daddr/protocol, tcp/udp/th sport/dport, meta l4proto/mark/iifname/oifname/iif/oif, mark, ct state/status/mark/direction, fib saddr/daddr type, numgen random mod N, concatenations (a . b), & | ^, sets (@name, { ... }), vmap, counter, accept, drop, continue, return, jump, goto, reject, dnat, snat, masquerade, redirect, notrack, log, meta/ct mark set, update/add @set, comment";

/// Read `src` (from `file`) into a ruleset.
pub fn parse(file: &str, src: &str) -> Result<Ruleset, InputError> {
    let toks = tokens(src).map_err(|(l, c, m)| InputError::at(file, src, l, c, m))?;
    let mut p = Parser {
        file,
        src,
        toks,
        pos: 0,
        rs: Ruleset::default(),
    };
    p.commands()?;
    Ok(p.rs)
}

struct Parser<'a> {
    file: &'a str,
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    rs: Ruleset,
}

type R<T> = Result<T, InputError>;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn peek_word(&self) -> Option<&str> {
        self.peek().and_then(Token::word)
    }

    fn peek_is(&self, w: &str) -> bool {
        self.peek_word() == Some(w)
    }

    fn peek_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(p), .. }) if *p == c)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn err_at(&self, t: Option<&Token>, msg: impl Into<String>) -> InputError {
        let (line, col) = match t.or_else(|| self.toks.last()) {
            Some(t) => (t.line, t.col),
            None => (1, 1),
        };
        InputError::at(self.file, self.src, line, col, msg)
    }

    fn err_here(&self, msg: impl Into<String>) -> InputError {
        self.err_at(self.peek(), msg)
    }

    fn skip_newlines(&mut self) {
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

    fn at_end_of_rule(&self) -> bool {
        match self.peek() {
            None => true,
            Some(t) => matches!(t.tok, Tok::Newline | Tok::Punct(';') | Tok::Punct('}')),
        }
    }

    fn word(&mut self, what: &str) -> R<String> {
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

    fn expect_word(&mut self, w: &str) -> R<()> {
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

    fn expect_punct(&mut self, c: char) -> R<()> {
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

    fn string(&mut self) -> R<String> {
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

    fn commands(&mut self) -> R<()> {
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

    fn family_and_name(&mut self) -> R<(Family, String)> {
        let t = self.peek().cloned();
        let first = self.word("a table family or name")?;
        match Family::parse(&first) {
            Some(f) => Ok((f, self.word("a table name")?)),
            // nft's default family is ip.
            None if t.is_some() => Ok((Family::Ip, first)),
            None => Err(self.err_at(t.as_ref(), "expected a table")),
        }
    }

    fn table_mut(&mut self, family: Family, name: &str, at: Option<&Token>) -> R<usize> {
        self.rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name)
            .ok_or_else(|| {
                self.err_at(at, format!("table {family} {name} does not exist"))
                    .with_hint(format!("add it first: add table {family} {name}"))
            })
    }

    fn ensure_table(&mut self, family: Family, name: &str) -> usize {
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
        });
        self.rs.tables.len() - 1
    }

    fn add(&mut self) -> R<()> {
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
                let tb = &mut self.rs.tables[ti];
                match tb.sets.iter_mut().find(|s| s.name == set.name) {
                    Some(old) => {
                        let elements = std::mem::take(&mut old.elements);
                        *old = Set { elements, ..set };
                    }
                    None => tb.sets.push(set),
                }
                Ok(())
            }
            "element" => {
                let at = self.peek().cloned();
                let (family, table) = self.family_and_name()?;
                let ti = self.table_mut(family, &table, at.as_ref())?;
                let st = self.peek().cloned();
                let name = self.word("a set name")?;
                let Some(si) = self.rs.tables[ti].sets.iter().position(|s| s.name == name) else {
                    return Err(self
                        .err_at(
                            st.as_ref(),
                            format!("set `{name}` does not exist in table {family} {table}"),
                        )
                        .with_hint("add the set (or map) before its elements"));
                };
                self.expect_punct('{')?;
                let els = self.elements()?;
                let set = &mut self.rs.tables[ti].sets[si];
                // `add element` of a key the set holds already changes nothing (the kernel
                // keeps one; kube-proxy adds a ClusterIP once per Service port).
                for e in els {
                    if !set.elements.iter().any(|x| x.key == e.key) {
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

    fn ensure_chain(&mut self, ti: usize, name: &str) -> usize {
        let tb = &mut self.rs.tables[ti];
        if let Some(i) = tb.chains.iter().position(|c| c.name == name) {
            return i;
        }
        tb.chains.push(Chain {
            name: name.to_string(),
            base: None,
            comment: None,
            rules: Vec::new(),
        });
        tb.chains.len() - 1
    }

    fn rule_command(&mut self, insert: bool) -> R<()> {
        let at = self.peek().cloned();
        let (family, table) = self.family_and_name()?;
        let ti = self.table_mut(family, &table, at.as_ref())?;
        let ct = self.peek().cloned();
        let chain = self.word("a chain name")?;
        let Some(ci) = self.rs.tables[ti]
            .chains
            .iter()
            .position(|c| c.name == chain)
        else {
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

    fn flush_or_delete(&mut self, flush: bool) -> R<()> {
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

    fn table_block(&mut self) -> R<()> {
        let (family, name) = self.family_and_name()?;
        let ti = self.ensure_table(family, &name);
        self.expect_punct('{')?;
        self.table_body(ti)
    }

    /// After `{`, up to and including `}`.
    fn table_body(&mut self, ti: usize) -> R<()> {
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
                    self.rs.tables[ti].sets.push(set);
                }
                other => {
                    return Err(self
                        .err_at(t.as_ref(), format!("kpath does not read `{other}` in a table"))
                        .with_hint("a table holds chains, sets and maps (flowtables, counters, quotas and other stateful objects are not modelled)"));
                }
            }
        }
    }

    fn flag_list(&mut self) -> R<Vec<String>> {
        let mut flags = vec![self.word("a flag")?];
        while self.peek_punct(',') {
            self.pos += 1;
            flags.push(self.word("a flag")?);
        }
        Ok(flags)
    }

    /// After `{`: the chain's spec and, in the block form, its rules; up to `}`.
    fn chain_body(&mut self, ti: usize, ci: usize, spec_only: bool) -> R<()> {
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
    fn comment_only_line(&self) -> bool {
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

    fn base_chain(&mut self) -> R<BaseChain> {
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
    fn priority(&mut self, hook: NftHook) -> R<i32> {
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
    fn set_body(&mut self, name: String, map: bool) -> R<Set> {
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

    fn duration(&mut self) -> R<u64> {
        let t = self.peek().cloned();
        let w = self.word("a duration")?;
        parse_duration(&w).ok_or_else(|| {
            self.err_at(t.as_ref(), format!("`{w}` is not a duration"))
                .with_hint("10800s, 3h, 1h30m")
        })
    }

    /// After `{`: elements separated by commas, up to `}`.
    fn elements(&mut self) -> R<Vec<Element>> {
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

    fn data(&mut self) -> R<Data> {
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

    fn verdict(&mut self) -> R<Option<Verdict>> {
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

    /// A constant: address, prefix, number, range, symbol, or flags (`a,b`).
    fn value(&mut self) -> R<Value> {
        let t = self.peek().cloned();
        let w = match self.next() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => w,
            Some(Token {
                tok: Tok::Str(s), ..
            }) => return Ok(Value::Symbol(s)),
            other => {
                self.pos -= 1;
                let found = other.as_ref().map(Token::text).unwrap_or_default();
                return Err(
                    self.err_at(other.as_ref(), format!("expected a value, found `{found}`"))
                );
            }
        };
        one_value(&w).ok_or_else(|| self.err_at(t.as_ref(), format!("`{w}` is not a value kpath reads")).with_hint("an IPv4 address or prefix, a number, a range (a-b), or a name (tcp, new, local)"))
    }

    // ---- rules ----------------------------------------------------------------------------

    /// One rule's statements, up to the end of its line (or `;`, or `}`).
    fn rule(&mut self) -> R<Rule> {
        let line = self.peek().map_or(0, |t| t.line);
        let mut exprs = Vec::new();
        let mut comment = None;
        while !self.at_end_of_rule() {
            if self.peek_is("comment") {
                self.pos += 1;
                comment = Some(self.string()?);
                continue;
            }
            exprs.push(self.statement()?);
        }
        if exprs.is_empty() {
            return Err(self.err_here("an empty rule"));
        }
        Ok(Rule {
            exprs,
            comment,
            line,
        })
    }

    fn statement(&mut self) -> R<Stmt> {
        let t = self.peek().cloned();
        if let Some(v) = self.verdict()? {
            return Ok(Stmt::Verdict(v));
        }
        let w = self.peek_word().unwrap_or_default().to_string();
        match w.as_str() {
            "counter" => {
                self.pos += 1;
                let (mut packets, mut bytes) = (0, 0);
                while self.peek_is("packets") || self.peek_is("bytes") {
                    let which = self.word("packets")?;
                    let nt = self.peek().cloned();
                    let n: u64 = self
                        .word("a count")?
                        .parse()
                        .map_err(|_| self.err_at(nt.as_ref(), "not a count"))?;
                    if which == "packets" {
                        packets = n
                    } else {
                        bytes = n
                    }
                }
                Ok(Stmt::Counter { packets, bytes })
            }
            "reject" => {
                self.pos += 1;
                let with = if self.peek_is("with") {
                    self.pos += 1;
                    let mut words = vec![self.word("icmp, icmpx or tcp")?];
                    let kind = words[0].clone();
                    words.push(self.word("type or reset")?);
                    if kind != "tcp" {
                        words.push(self.word("an ICMP code name")?);
                    }
                    Some(words.join(" "))
                } else {
                    None
                };
                Ok(Stmt::Reject { with })
            }
            "dnat" | "snat" => {
                self.pos += 1;
                if self.peek_is("ip") {
                    self.pos += 1;
                }
                self.expect_word("to")?;
                let at = self.peek().cloned();
                let target = self.word("an address[:port]")?;
                let (addr, port) = nat_target(&target).ok_or_else(|| {
                    self.err_at(
                        at.as_ref(),
                        format!("`{target}` is not a NAT target kpath models"),
                    )
                    .with_hint("ADDRESS or ADDRESS:PORT (maps and ranges are not modelled)")
                })?;
                let flags = self.nat_flags();
                Ok(Stmt::Nat {
                    kind: if w == "dnat" {
                        NatKind::Dnat
                    } else {
                        NatKind::Snat
                    },
                    addr,
                    port,
                    flags,
                })
            }
            "masquerade" => {
                self.pos += 1;
                let mut ports = None;
                if self.peek_is("to") {
                    self.pos += 1;
                    let at = self.peek().cloned();
                    let p = self.word(":PORT[-PORT]")?;
                    ports = Some(port_range(p.trim_start_matches(':')).ok_or_else(|| {
                        self.err_at(at.as_ref(), format!("`{p}` is not a port range"))
                    })?);
                }
                let flags = self.nat_flags();
                Ok(Stmt::Masquerade { flags, ports })
            }
            "redirect" => {
                self.pos += 1;
                let mut port = None;
                if self.peek_is("to") {
                    self.pos += 1;
                    let at = self.peek().cloned();
                    let p = self.word(":PORT")?;
                    port =
                        Some(p.trim_start_matches(':').parse().map_err(|_| {
                            self.err_at(at.as_ref(), format!("`{p}` is not a port"))
                        })?);
                }
                Ok(Stmt::Redirect { port })
            }
            "notrack" => {
                self.pos += 1;
                Ok(Stmt::Notrack)
            }
            "log" => {
                self.pos += 1;
                let mut words = Vec::new();
                while matches!(
                    self.peek_word(),
                    Some("prefix" | "level" | "group" | "flags" | "snaplen" | "queue-threshold")
                ) {
                    words.push(self.word("log option")?);
                    let v = match self.next() {
                        Some(Token {
                            tok: Tok::Str(s), ..
                        }) => format!("\"{s}\""),
                        Some(Token {
                            tok: Tok::Word(w), ..
                        }) => w,
                        other => {
                            return Err(self.err_at(other.as_ref(), "expected the option's value"));
                        }
                    };
                    words.push(v);
                }
                Ok(Stmt::Log { words })
            }
            "update" | "add" => {
                self.pos += 1;
                let st = self.peek().cloned();
                let set = self.word("@SET")?;
                let Some(set) = set.strip_prefix('@').map(String::from) else {
                    return Err(self.err_at(st.as_ref(), format!("expected @SET, found `{set}`")));
                };
                self.expect_punct('{')?;
                let key = self.expr()?;
                let mut timeout = None;
                if self.peek_is("timeout") {
                    self.pos += 1;
                    timeout = Some(self.duration()?);
                }
                self.expect_punct('}')?;
                Ok(Stmt::SetUpdate {
                    op: w,
                    set,
                    key,
                    timeout,
                })
            }
            _ if is_selector_start(&w) => self.match_or_set(),
            _ => Err(self
                .err_at(
                    t.as_ref(),
                    format!(
                        "kpath does not model the nft expression `{}`",
                        t.as_ref().map(Token::text).unwrap_or_default()
                    ),
                )
                .with_hint(format!("kpath models: {MODELLED}"))),
        }
    }

    fn nat_flags(&mut self) -> Vec<String> {
        let mut flags = Vec::new();
        while let Some(f @ ("fully-random" | "random" | "persistent")) = self.peek_word() {
            flags.push(f.to_string());
            self.pos += 1;
            if self.peek_punct(',') {
                self.pos += 1;
            }
        }
        flags
    }

    /// A selector-led statement: a match, a verdict-map lookup or a `set`.
    fn match_or_set(&mut self) -> R<Stmt> {
        let st = self.peek().cloned();
        let left = self.expr()?;
        if self.peek_is("vmap") {
            self.pos += 1;
            let map = self.set_ref()?;
            return Ok(Stmt::Vmap { key: left, map });
        }
        if self.peek_is("set") {
            self.pos += 1;
            let Expr::Sel(target) = left else {
                return Err(self.err_at(st.as_ref(), "only a field can be set"));
            };
            if !target.is_mark() {
                return Err(self
                    .err_at(
                        st.as_ref(),
                        "kpath models `set` only for meta mark and ct mark",
                    )
                    .with_hint(format!("kpath models: {MODELLED}")));
            }
            let value = if self.peek_word().is_some_and(is_selector_start) {
                SetValue::Expr(self.expr()?)
            } else {
                let vt = self.peek().cloned();
                match self.value()? {
                    Value::Number(n) => SetValue::Const(n),
                    _ => return Err(self.err_at(vt.as_ref(), "a mark is a number")),
                }
            };
            return Ok(Stmt::Set { target, value });
        }
        let op = match self.peek_word() {
            Some("==" | "eq") => CmpOp::Eq,
            Some("!=" | "ne") => CmpOp::Ne,
            Some("<" | "lt") => CmpOp::Lt,
            Some(">" | "gt") => CmpOp::Gt,
            Some("<=" | "le") => CmpOp::Le,
            Some(">=" | "ge") => CmpOp::Ge,
            _ => {
                if self.at_end_of_rule() {
                    return Err(self
                        .err_here("this expression is compared with nothing")
                        .with_hint("give a value, a set (@name or { ... }) or `vmap`"));
                }
                let right = self.rhs()?;
                return Ok(Stmt::Match {
                    left,
                    op: CmpOp::Eq,
                    right,
                });
            }
        };
        self.pos += 1;
        let right = self.rhs()?;
        Ok(Stmt::Match { left, op, right })
    }

    /// `@name` or `{ elements }`.
    fn set_ref(&mut self) -> R<Rhs> {
        if self.peek_punct('{') {
            self.pos += 1;
            return Ok(Rhs::Anon(self.elements()?));
        }
        let t = self.peek().cloned();
        let w = self.word("@MAP or { ... }")?;
        match w.strip_prefix('@') {
            Some(n) => Ok(Rhs::Named(n.to_string())),
            None => Err(self.err_at(
                t.as_ref(),
                format!("expected @MAP or {{ ... }}, found `{w}`"),
            )),
        }
    }

    fn rhs(&mut self) -> R<Rhs> {
        if self.peek_punct('{') || self.peek_word().is_some_and(|w| w.starts_with('@')) {
            let r = self.set_ref()?;
            // nft lists a one-element anonymous set as its element.
            if let Rhs::Anon(els) = &r
                && let [e] = els.as_slice()
                && e.data.is_none()
                && e.timeout.is_none()
                && e.comment.is_none()
            {
                return Ok(Rhs::Value(e.key.clone()));
            }
            return Ok(r);
        }
        let mut vals = vec![self.flags_or_value()?];
        while self.peek_is(".") {
            self.pos += 1;
            vals.push(self.value()?);
        }
        Ok(Rhs::Value(vals))
    }

    /// A value, or `established,related` (flags).
    fn flags_or_value(&mut self) -> R<Value> {
        let v = self.value()?;
        if !self.peek_punct(',') {
            return Ok(v);
        }
        let Value::Symbol(first) = v else {
            return Ok(v);
        };
        let mut flags = vec![first];
        while self.peek_punct(',') {
            self.pos += 1;
            flags.push(self.word("a flag")?);
        }
        Ok(Value::Flags(flags))
    }

    /// A selector, concatenations and bitwise operations.
    fn expr(&mut self) -> R<Expr> {
        let mut parts = vec![self.bitwise()?];
        while self.peek_is(".") {
            self.pos += 1;
            parts.push(self.bitwise()?);
        }
        if parts.len() == 1
            && let Some(only) = parts.pop()
        {
            return Ok(only);
        }
        Ok(Expr::Concat(parts))
    }

    fn bitwise(&mut self) -> R<Expr> {
        let mut e = Expr::Sel(self.selector()?);
        loop {
            let op = match self.peek_word() {
                Some("&" | "and") => BitOp::And,
                Some("|" | "or") => BitOp::Or,
                Some("^" | "xor") => BitOp::Xor,
                _ => return Ok(e),
            };
            self.pos += 1;
            let t = self.peek().cloned();
            let n = match self.value()? {
                Value::Number(n) => n,
                _ => return Err(self.err_at(t.as_ref(), "a bitwise operation takes a number")),
            };
            e = Expr::Bitwise {
                left: Box::new(e),
                op,
                right: n,
            };
        }
    }

    fn selector(&mut self) -> R<Selector> {
        let t = self.peek().cloned();
        let w = self.word("an expression")?;
        let unknown = |p: &Parser, what: String| {
            p.err_at(
                t.as_ref(),
                format!("kpath does not model the nft expression `{what}`"),
            )
            .with_hint(format!("kpath models: {MODELLED}"))
        };
        Ok(match w.as_str() {
            "ip" | "tcp" | "udp" | "th" | "sctp" => {
                let f = self.word("a header field")?;
                let ok = match w.as_str() {
                    "ip" => matches!(
                        f.as_str(),
                        "saddr" | "daddr" | "protocol" | "ttl" | "length" | "id" | "dscp"
                    ),
                    _ => matches!(f.as_str(), "sport" | "dport"),
                };
                if !ok {
                    return Err(unknown(self, format!("{w} {f}")));
                }
                Selector::Payload { proto: w, field: f }
            }
            "meta" => {
                let k = self.word("a meta key")?;
                if !matches!(
                    k.as_str(),
                    "l4proto"
                        | "mark"
                        | "iifname"
                        | "oifname"
                        | "iif"
                        | "oif"
                        | "nfproto"
                        | "pkttype"
                        | "protocol"
                ) {
                    return Err(unknown(self, format!("meta {k}")));
                }
                Selector::Meta(k)
            }
            "mark" | "iifname" | "oifname" | "iif" | "oif" | "l4proto" | "pkttype" => {
                Selector::Meta(w)
            }
            "ct" => {
                let k = self.word("a ct key")?;
                if !matches!(k.as_str(), "state" | "status" | "mark" | "direction") {
                    return Err(unknown(self, format!("ct {k}")));
                }
                Selector::Ct(k)
            }
            "fib" => {
                let mut flags = vec![self.word("saddr or daddr")?];
                while self.peek_is(".") {
                    self.pos += 1;
                    flags.push(self.word("a fib flag")?);
                }
                let result = self.word("type, oif or oifname")?;
                Selector::Fib { flags, result }
            }
            "numgen" => {
                let mode = self.word("random")?;
                if mode != "random" {
                    return Err(unknown(self, format!("numgen {mode}")).with_hint("numgen random: kpath enumerates its outcomes; `inc` needs a counter kpath does not keep"));
                }
                self.expect_word("mod")?;
                let mt = self.peek().cloned();
                let m = self.word("a modulus")?;
                let modulus: u32 =
                    m.parse().ok().filter(|&m| m > 0).ok_or_else(|| {
                        self.err_at(mt.as_ref(), format!("`{m}` is not a modulus"))
                    })?;
                let mut offset = 0;
                if self.peek_is("offset") {
                    self.pos += 1;
                    let ot = self.peek().cloned();
                    let o = self.word("an offset")?;
                    offset = o
                        .parse()
                        .map_err(|_| self.err_at(ot.as_ref(), format!("`{o}` is not an offset")))?;
                }
                Selector::Numgen { modulus, offset }
            }
            other => return Err(unknown(self, other.to_string())),
        })
    }
}

fn is_selector_start(w: &str) -> bool {
    matches!(
        w,
        "ip" | "tcp"
            | "udp"
            | "th"
            | "sctp"
            | "meta"
            | "mark"
            | "iifname"
            | "oifname"
            | "iif"
            | "oif"
            | "l4proto"
            | "pkttype"
            | "ct"
            | "fib"
            | "numgen"
    ) || matches!(
        w,
        "ip6"
            | "icmp"
            | "icmpv6"
            | "ether"
            | "vlan"
            | "arp"
            | "socket"
            | "osf"
            | "rt"
            | "ipsec"
            | "tunnel"
            | "symhash"
            | "jhash"
            | "hash"
            | "exthdr"
            | "dccp"
    )
}

/// One constant, as written.
fn one_value(w: &str) -> Option<Value> {
    if let Ok(a) = w.parse::<Ipv4Addr>() {
        return Some(Value::Addr(a));
    }
    if w.contains('/')
        && let Ok(n) = w.parse::<Ipv4Net>()
    {
        return Some(Value::Net(n));
    }
    if let Some(n) = number(w) {
        return Some(Value::Number(n));
    }
    if let Some((a, b)) = w.split_once('-')
        && let (Some(a), Some(b)) = (one_value(a), one_value(b))
        && !matches!(a, Value::Symbol(_))
    {
        return Some(Value::Range(Box::new(a), Box::new(b)));
    }
    if w.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
    {
        return Some(Value::Symbol(w.to_string()));
    }
    None
}

fn number(w: &str) -> Option<u64> {
    match w.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => w.parse().ok(),
    }
}

fn port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let p = s.parse().ok()?;
            Some((p, p))
        }
    }
}

/// `10.180.0.1:80`, `10.180.0.1`, `:80`.
fn nat_target(s: &str) -> Option<(Option<Ipv4Addr>, Option<u16>)> {
    match s.rsplit_once(':') {
        Some((a, p)) => {
            let addr = if a.is_empty() {
                None
            } else {
                Some(a.parse().ok()?)
            };
            Some((addr, Some(p.parse().ok()?)))
        }
        None => Some((Some(s.parse().ok()?), None)),
    }
}
