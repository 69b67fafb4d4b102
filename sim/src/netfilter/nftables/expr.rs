//! nf_tables rule expressions, in nft's words: what a rule reads from the packet
//! (payload, meta, ct, fib, numgen), how it compares (relational, set lookups, verdict
//! maps) and what it does (verdicts, NAT, mark, set updates, counters, log).

use crate::wire::{Ipv4Addr, Ipv4Net};

/// Something a rule reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// A header field: `ip saddr`, `tcp dport`, `th dport` (the transport header, any
    /// protocol with ports).
    Payload { proto: String, field: String },
    /// `meta l4proto`, `meta mark`, `meta iifname`, ... (`mark` and `iifname` are
    /// short for their `meta` forms).
    Meta(String),
    /// `ct state`, `ct status`, `ct mark`, `ct direction`.
    Ct(String),
    /// `fib saddr type`, `fib daddr . iif oif`: the route lookup's answer.
    Fib { flags: Vec<String>, result: String },
    /// `numgen random mod N [offset O]` (`inc` counters are state kpath would have to keep).
    Numgen { modulus: u32, offset: u32 },
}

impl Selector {
    /// A 32-bit mark: nft prints its values as `0x%08x`.
    pub fn is_mark(&self) -> bool {
        matches!(self, Selector::Meta(m) | Selector::Ct(m) if m == "mark")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
}

impl BitOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BitOp::And => "&",
            BitOp::Or => "|",
            BitOp::Xor => "^",
        }
    }
}

/// What a rule computes from the packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Sel(Selector),
    /// `ip daddr . meta l4proto . th dport`.
    Concat(Vec<Expr>),
    /// `meta mark & 0x4000`.
    Bitwise {
        left: Box<Expr>,
        op: BitOp,
        right: u64,
    },
}

impl Expr {
    pub fn is_mark(&self) -> bool {
        match self {
            Expr::Sel(s) => s.is_mark(),
            Expr::Bitwise { left, .. } => left.is_mark(),
            Expr::Concat(_) => false,
        }
    }
}

/// A constant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Addr(Ipv4Addr),
    Net(Ipv4Net),
    Number(u64),
    /// `1000-2000`, `10.0.0.1-10.0.0.9`.
    Range(Box<Value>, Box<Value>),
    /// A name nft resolves by the key's type: `tcp`, `new`, `local`, `eth0`.
    Symbol(String),
    /// `established,related`: flags, any of which matches.
    Flags(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Continue,
    Return,
    Jump(String),
    Goto(String),
}

/// A map element's data: a verdict (verdict maps) or values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    Verdict(Verdict),
    Value(Vec<Value>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
        }
    }
}

/// The right side of a match or the set of a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rhs {
    /// One value, or one per concatenated part.
    Value(Vec<Value>),
    /// An anonymous set: `{ 10.0.0.0/8, 192.168.0.0/16 }`.
    Anon(Vec<Element>),
    /// A named set: `@cluster-ips`.
    Named(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatKind {
    Dnat,
    Snat,
}

/// One statement of a rule, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// `ip daddr 10.0.0.1`, `ip saddr != 10.0.0.0/8`, `ip daddr @cluster-ips`.
    Match {
        left: Expr,
        op: CmpOp,
        right: Rhs,
    },
    /// `ip daddr . meta l4proto . th dport vmap @service-ips`.
    Vmap {
        key: Expr,
        map: Rhs,
    },
    Verdict(Verdict),
    /// Kept, never deciding.
    Counter {
        packets: u64,
        bytes: u64,
    },
    /// `meta mark set meta mark | 0x4000`, `ct mark set 0x1`.
    Set {
        target: Selector,
        value: SetValue,
    },
    /// `dnat to 10.180.0.1:80`, `snat to 1.2.3.4`.
    Nat {
        kind: NatKind,
        addr: Option<Ipv4Addr>,
        port: Option<u16>,
        flags: Vec<String>,
    },
    /// `masquerade [fully-random|random|persistent] [to :PORT[-PORT]]`.
    Masquerade {
        flags: Vec<String>,
        ports: Option<(u16, u16)>,
    },
    /// `redirect [to :PORT]`.
    Redirect {
        port: Option<u16>,
    },
    /// `reject [with icmp type port-unreachable | with tcp reset | ...]`.
    Reject {
        with: Option<String>,
    },
    Notrack,
    /// `log [prefix "..."] [level L] [group N]`: an event, never deciding.
    Log {
        words: Vec<String>,
    },
    /// `update @set { ip saddr [timeout 3h] }`, `add @set { ... }`: the packet path
    /// writes a dynamic set.
    SetUpdate {
        op: String,
        set: String,
        key: Expr,
        timeout: Option<u64>,
    },
}

/// What a `set` statement writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetValue {
    Const(u64),
    Expr(Expr),
}

/// A set or map element: its key, optional timeout and comment, and a map's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// The key, one value per concatenated part.
    pub key: Vec<Value>,
    pub timeout: Option<u64>,
    pub comment: Option<String>,
    /// A map element's data.
    pub data: Option<Data>,
}
