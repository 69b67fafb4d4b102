//! Reading one rule of nft's input: its statements and the expressions they compare and
//! set (`ip daddr . meta l4proto . th dport vmap @service-ips`, `mark set mark or 0x4000`,
//! `numgen random mod 2 vmap { ... }`), in nft's grammar as far as kpath models it.

use super::expr::*;
use super::lex::{Tok, Token};
use super::parse::{MODELLED, Parser, R};
use super::ruleset::Rule;
use crate::wire::{Ipv4Addr, Ipv4Net};

impl Parser<'_> {
    /// A constant: address, prefix, number, range, symbol, or flags (`a,b`).
    pub(super) fn value(&mut self) -> R<Value> {
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
    /// One rule's statements, up to the end of its line (or `;`, or `}`).
    pub(super) fn rule(&mut self) -> R<Rule> {
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

    pub(super) fn statement(&mut self) -> R<Stmt> {
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

    pub(super) fn nat_flags(&mut self) -> Vec<String> {
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
    pub(super) fn match_or_set(&mut self) -> R<Stmt> {
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
    pub(super) fn set_ref(&mut self) -> R<Rhs> {
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

    pub(super) fn rhs(&mut self) -> R<Rhs> {
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
    pub(super) fn flags_or_value(&mut self) -> R<Value> {
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
    pub(super) fn expr(&mut self) -> R<Expr> {
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

    pub(super) fn bitwise(&mut self) -> R<Expr> {
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

    pub(super) fn selector(&mut self) -> R<Selector> {
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

pub(super) fn is_selector_start(w: &str) -> bool {
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
pub(super) fn one_value(w: &str) -> Option<Value> {
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

pub(super) fn number(w: &str) -> Option<u64> {
    match w.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => w.parse().ok(),
    }
}

pub(super) fn port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let p = s.parse().ok()?;
            Some((p, p))
        }
    }
}

/// `10.180.0.1:80`, `10.180.0.1`, `:80`.
pub(super) fn nat_target(s: &str) -> Option<(Option<Ipv4Addr>, Option<u16>)> {
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
