//! `nft_do_chain` over kpath's ruleset model: one packet through a base chain, rule by
//! rule, with jump/goto/return, set and map lookups, and every outcome of `numgen random`
//! enumerated with its probability (as `-m statistic --mode random` is elsewhere).
//!
//! It is pure: it reads the packet's fields and the dynamic sets' contents and says what
//! the chain decided and did (verdict, NAT, mark, set updates). Hooking it into the walk
//! (conntrack, NAT bindings, steps) is the registrant's job.

use super::expr::*;
use super::ruleset::{Element, Exact, Table, protocol_number};
use crate::netfilter::eval::{HitAction, NatAction};
use crate::wire::{IpProtocol, Ipv4Addr};

/// What a chain reads of a packet.
#[derive(Clone, Debug)]
pub struct Packet {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: IpProtocol,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub mark: u32,
    pub iifname: Option<String>,
    pub oifname: Option<String>,
    /// conntrack's state word for the packet (`new`, `established`, ...; `untracked`).
    pub ct_state: &'static str,
    /// The connection's status bits as `ct status` names them (`seen-reply`, `assured`,
    /// `confirmed`, `snat`, `dnat`).
    pub ct_status: Vec<&'static str>,
    /// The connection's mark (`ct mark`).
    pub ct_mark: u32,
    /// The packet goes the reply way of its connection (`ct direction reply`).
    pub ct_reply: bool,
    /// The addresses this namespace calls local (`fib ... type local`).
    pub local: Vec<Ipv4Addr>,
    /// Where `redirect` sends the packet: the input device's address, or 127.0.0.1 for
    /// a locally sent packet.
    pub redirect_addr: Option<Ipv4Addr>,
}

/// The contents of the dynamic sets, by set name: the keys the packet path added.
pub type DynamicSets = std::collections::BTreeMap<String, Vec<Vec<Value>>>;

/// How a chain walk ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Final {
    Accept,
    Drop,
    Reject(Option<String>),
}

/// One rule (or a policy) that acted, as nft monitor trace reports it: every rule that ran
/// to its end (`verdict continue`) or gave a verdict. Chain, 1-based position (0 = the
/// chain's policy), what it did, and the set or map element its lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub chain: String,
    pub position: usize,
    pub action: HitAction,
    /// The element a set or map lookup of the rule found, as nft prints it
    /// (`172.30.0.41 . tcp . 80 : goto service-...`).
    pub element: Option<String>,
    /// The packet mark after the rule.
    pub mark: u32,
}

/// One way the walk can go.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub verdict: Final,
    pub probability: f64,
    pub hits: Vec<Hit>,
    pub mark: u32,
    /// The binding a nat chain's `dnat to`, `snat to` or `masquerade` asked for.
    pub nat: Option<NatAction>,
    /// `update @set { key }` / `add @set`: set and key.
    pub updates: Vec<(String, Vec<Value>)>,
    /// How many rules the walk looked at, matched or not (`kpath compare` adds them up).
    pub evaluated: usize,
    /// `ct mark set ...`: the connection's new mark.
    pub ct_mark: Option<u32>,
    /// `notrack`: the packet is to stay untracked.
    pub notrack: bool,
    /// The element the current rule's lookup found, until the rule acts.
    element: Option<String>,
}

/// Walk base chain `chain` of `table` for `pkt`: every outcome, probabilities summing
/// to 1.
pub fn walk_chain(table: &Table, chain: &str, pkt: &Packet, sets: &DynamicSets) -> Vec<Outcome> {
    let start = Outcome {
        verdict: Final::Accept,
        probability: 1.0,
        hits: Vec::new(),
        mark: pkt.mark,
        nat: None,
        updates: Vec::new(),
        evaluated: 0,
        ct_mark: None,
        notrack: false,
        element: None,
    };
    let accept = table
        .chain(chain)
        .and_then(|c| c.base.as_ref())
        .is_none_or(|b| b.accept);
    let mut out = Vec::new();
    for (o, end) in run(table, chain, pkt, sets, start, 0) {
        let mut o = o;
        if let End::Fell = end {
            // The base chain's policy.
            o.verdict = if accept { Final::Accept } else { Final::Drop };
            let policy = if accept {
                crate::netfilter::Verdict::Accept
            } else {
                crate::netfilter::Verdict::Drop
            };
            hit(&mut o, chain, 0, HitAction::Policy(policy));
        }
        out.push(o);
    }
    out
}

/// How a (sub)chain's run ended.
enum End {
    /// A verdict that ends the whole walk (accept, drop, reject).
    Done,
    /// The chain ran out of rules, or `return`: back to the caller.
    Fell,
}

/// Chains deeper than this are a loop kpath will not follow (nft refuses them at load).
const MAX_DEPTH: usize = 16;

fn run(
    table: &Table,
    chain: &str,
    pkt: &Packet,
    sets: &DynamicSets,
    o: Outcome,
    depth: usize,
) -> Vec<(Outcome, End)> {
    let Some(c) = table.chain(chain) else {
        return vec![(
            Outcome {
                verdict: Final::Drop,
                ..o
            },
            End::Done,
        )];
    };
    if depth > MAX_DEPTH {
        return vec![(
            Outcome {
                verdict: Final::Drop,
                ..o
            },
            End::Done,
        )];
    }
    // Each live branch: (outcome, next rule index).
    let mut done = Vec::new();
    let mut live = vec![(o, 0usize)];
    while let Some((o, i)) = live.pop() {
        let Some(rule) = c.rules.get(i) else {
            done.push((o, End::Fell));
            continue;
        };
        let mut o = o;
        o.evaluated += 1;
        o.element = None;
        for (o, step) in rule_outcomes(table, &c.name, i + 1, &rule.exprs, pkt, sets, o, depth) {
            match step {
                Step::Next => live.push((o, i + 1)),
                Step::End(e) => done.push((o, e)),
            }
        }
    }
    done
}

enum Step {
    Next,
    End(End),
}

fn hit(o: &mut Outcome, chain: &str, position: usize, action: HitAction) {
    o.hits.push(Hit {
        chain: chain.to_string(),
        position,
        action,
        element: o.element.take(),
        mark: o.mark,
    });
}

/// What a verdict statement does, as a step names it.
fn verdict_action(v: &Verdict) -> HitAction {
    match v {
        Verdict::Accept => HitAction::Accept,
        Verdict::Drop => HitAction::Drop,
        Verdict::Continue => HitAction::Continue,
        Verdict::Return => HitAction::Return,
        Verdict::Jump(c) => HitAction::Jump(c.clone()),
        Verdict::Goto(c) => HitAction::Goto(c.clone()),
    }
}

/// `reject [with ...]` in the words iptables' REJECT uses (`icmp-port-unreachable`,
/// `tcp-reset`), which the datapath answers with. nft_reject_ipv4's default is ICMP port
/// unreachable.
pub fn reject_with(with: Option<&str>) -> String {
    let Some(w) = with else {
        return "icmp-port-unreachable".into();
    };
    let w = w.trim();
    if w.contains("tcp reset") {
        return "tcp-reset".into();
    }
    let ty = w.rsplit(' ').next().unwrap_or(w);
    match ty {
        "admin-prohibited" => "icmp-admin-prohibited".into(),
        "host-prohibited" => "icmp-host-prohibited".into(),
        "net-prohibited" => "icmp-net-prohibited".into(),
        "host-unreachable" => "icmp-host-unreachable".into(),
        "net-unreachable" => "icmp-net-unreachable".into(),
        "prot-unreachable" => "icmp-proto-unreachable".into(),
        _ => "icmp-port-unreachable".into(),
    }
}

/// One rule's statements in order, forking where a numgen map does.
#[allow(clippy::too_many_arguments)]
fn rule_outcomes(
    table: &Table,
    chain: &str,
    pos: usize,
    stmts: &[Stmt],
    pkt: &Packet,
    sets: &DynamicSets,
    o: Outcome,
    depth: usize,
) -> Vec<(Outcome, Step)> {
    let Some((first, rest)) = stmts.split_first() else {
        // The rule ran to its end: nft_do_chain traces it with `verdict continue`.
        let mut o = o;
        hit(&mut o, chain, pos, HitAction::Continue);
        return vec![(o, Step::Next)];
    };
    let mut o = o;
    let then = |o: Outcome| rule_outcomes(table, chain, pos, rest, pkt, sets, o, depth);
    let verdict = |o: Outcome, v: &Verdict| -> Vec<(Outcome, Step)> {
        let mut o = o;
        hit(&mut o, chain, pos, verdict_action(v));
        match v {
            Verdict::Accept => vec![(
                Outcome {
                    verdict: Final::Accept,
                    ..o
                },
                Step::End(End::Done),
            )],
            Verdict::Drop => vec![(
                Outcome {
                    verdict: Final::Drop,
                    ..o
                },
                Step::End(End::Done),
            )],
            Verdict::Continue => vec![(o, Step::Next)],
            Verdict::Return => vec![(o, Step::End(End::Fell))],
            Verdict::Jump(to) => run(table, to, pkt, sets, o, depth + 1)
                .into_iter()
                .map(|(o, e)| match e {
                    End::Done => (o, Step::End(End::Done)),
                    // Back from a jump: on with the next rule.
                    End::Fell => (o, Step::Next),
                })
                .collect(),
            // A goto does not come back: the called chain's end is this chain's end.
            Verdict::Goto(to) => run(table, to, pkt, sets, o, depth + 1)
                .into_iter()
                .map(|(o, e)| (o, Step::End(e)))
                .collect(),
        }
    };
    match first {
        Stmt::Match { left, op, right } => match matches(left, *op, right, pkt, &o, table, sets) {
            Some(element) => {
                o.element = element.or(o.element);
                then(o)
            }
            None => vec![(o, Step::Next)],
        },
        Stmt::Vmap { key, map } => {
            // `numgen random mod N vmap { ... }`: every arm, 1/N each.
            if let Expr::Sel(Selector::Numgen { modulus, offset }) = key {
                let mut out = Vec::new();
                for n in 0..*modulus {
                    let v = u64::from(n + offset);
                    let mut b = o.clone();
                    b.probability /= f64::from(*modulus);
                    match lookup(map, table, &[Part::Num(v)]) {
                        Some(
                            e @ Element {
                                data: Some(Data::Verdict(vd)),
                                ..
                            },
                        ) => {
                            b.element = Some(super::print::element(e, false));
                            out.extend(verdict(b, vd))
                        }
                        // No element for this number: the lookup fails, the rule does not match.
                        _ => out.push((b, Step::Next)),
                    }
                }
                return out;
            }
            let Some(k) = key_of(key, pkt, &o) else {
                return vec![(o, Step::Next)];
            };
            match lookup(map, table, &k) {
                Some(
                    e @ Element {
                        data: Some(Data::Verdict(vd)),
                        ..
                    },
                ) => {
                    o.element = Some(super::print::element(e, false));
                    verdict(o, vd)
                }
                _ => vec![(o, Step::Next)],
            }
        }
        Stmt::Verdict(v) => verdict(o, v),
        Stmt::Counter { .. } | Stmt::Log { .. } => then(o),
        Stmt::Notrack => {
            o.notrack = true;
            then(o)
        }
        Stmt::Set { target, value } => {
            let v = match value {
                SetValue::Const(n) => *n as u32,
                SetValue::Expr(e) => number_of(e, pkt, &o).unwrap_or(0) as u32,
            };
            // The reader takes only the two marks as targets.
            if matches!(target, Selector::Ct(_)) {
                o.ct_mark = Some(v);
            } else {
                o.mark = v;
            }
            then(o)
        }
        Stmt::Nat {
            kind,
            addr,
            port,
            flags,
        } => {
            let Some(addr) = *addr else {
                // `dnat to :PORT` keeps the address; kube-proxy never writes it.
                return vec![(o, Step::Next)];
            };
            let to = match port {
                Some(p) => format!("{addr}:{p}"),
                None => addr.to_string(),
            };
            let nat = match kind {
                NatKind::Dnat => NatAction::Dnat {
                    to,
                    addr,
                    port: *port,
                },
                NatKind::Snat => NatAction::Snat {
                    to,
                    addr,
                    port: *port,
                    random_fully: flags.iter().any(|f| f == "fully-random"),
                },
            };
            nat_verdict(o, chain, pos, nat)
        }
        Stmt::Masquerade { flags, ports } => {
            let nat = NatAction::Masquerade {
                random_fully: flags.iter().any(|f| f == "fully-random"),
                to_ports: *ports,
            };
            nat_verdict(o, chain, pos, nat)
        }
        Stmt::Redirect { port } => {
            // nf_nat_redirect_ipv4: to the address of the device the packet came in on
            // (127.0.0.1 for a locally sent one), which the caller knows.
            let Some(addr) = pkt.redirect_addr else {
                return vec![(o, Step::Next)];
            };
            let to = match port {
                Some(p) => format!("{addr}:{p}"),
                None => addr.to_string(),
            };
            let nat = NatAction::Dnat {
                to,
                addr,
                port: *port,
            };
            nat_verdict(o, chain, pos, nat)
        }
        Stmt::Reject { with } => {
            hit(
                &mut o,
                chain,
                pos,
                HitAction::Reject(reject_with(with.as_deref())),
            );
            vec![(
                Outcome {
                    verdict: Final::Reject(with.clone()),
                    ..o
                },
                Step::End(End::Done),
            )]
        }
        Stmt::SetUpdate { set, key, .. } => {
            if let Some(k) = key_of(key, pkt, &o) {
                o.updates
                    .push((set.clone(), k.iter().map(Part::value).collect()));
            }
            then(o)
        }
    }
}

/// A NAT statement asks for a binding and ends the walk with accept (nft_nat_eval sets
/// NF_ACCEPT).
fn nat_verdict(mut o: Outcome, chain: &str, pos: usize, nat: NatAction) -> Vec<(Outcome, Step)> {
    hit(&mut o, chain, pos, HitAction::Nat(nat.clone()));
    o.nat = Some(nat);
    o.verdict = Final::Accept;
    vec![(o, Step::End(End::Done))]
}

/// A field's value as read from the packet.
#[derive(Clone, Debug, PartialEq)]
enum Part {
    Addr(Ipv4Addr),
    Num(u64),
    Name(String),
    Names(Vec<String>),
}

impl Part {
    /// The exact form a set's index keys it by; None for a flag list.
    fn exact(&self) -> Option<Exact> {
        Some(match self {
            Part::Addr(a) => Exact::Addr(*a),
            Part::Num(n) => Exact::Num(*n),
            Part::Name(s) => Exact::Name(s.clone()),
            Part::Names(_) => return None,
        })
    }

    fn value(&self) -> Value {
        match self {
            Part::Addr(a) => Value::Addr(*a),
            Part::Num(n) => Value::Number(*n),
            Part::Name(s) => Value::Symbol(s.clone()),
            Part::Names(f) => Value::Flags(f.clone()),
        }
    }
}

fn read(sel: &Selector, pkt: &Packet, o: &Outcome) -> Option<Part> {
    Some(match sel {
        Selector::Payload { proto, field } => match (proto.as_str(), field.as_str()) {
            ("ip", "saddr") => Part::Addr(pkt.src),
            ("ip", "daddr") => Part::Addr(pkt.dst),
            ("ip", "protocol") => Part::Num(u64::from(pkt.proto.number())),
            (p, f) => {
                // tcp/udp/sctp dport match only their protocol; th any with ports.
                if p != "th" && p != pkt.proto.name() {
                    return None;
                }
                let port = if f == "dport" { pkt.dport } else { pkt.sport };
                Part::Num(u64::from(port?))
            }
        },
        Selector::Meta(k) => match k.as_str() {
            "l4proto" | "protocol" => Part::Num(u64::from(pkt.proto.number())),
            "mark" => Part::Num(u64::from(o.mark)),
            "iifname" | "iif" => Part::Name(pkt.iifname.clone()?),
            "oifname" | "oif" => Part::Name(pkt.oifname.clone()?),
            _ => return None,
        },
        Selector::Ct(k) => match k.as_str() {
            "state" => Part::Names(vec![pkt.ct_state.to_string()]),
            "status" => Part::Names(pkt.ct_status.iter().map(|s| s.to_string()).collect()),
            "mark" => Part::Num(u64::from(o.ct_mark.unwrap_or(pkt.ct_mark))),
            "direction" => Part::Name(if pkt.ct_reply { "reply" } else { "original" }.into()),
            _ => return None,
        },
        Selector::Fib { flags, result } if result == "type" => {
            let a = if flags.first().map(String::as_str) == Some("saddr") {
                pkt.src
            } else {
                pkt.dst
            };
            Part::Name(if pkt.local.contains(&a) {
                "local".into()
            } else {
                "unicast".into()
            })
        }
        Selector::Fib { .. } | Selector::Numgen { .. } => return None,
    })
}

fn number_of(e: &Expr, pkt: &Packet, o: &Outcome) -> Option<u64> {
    match e {
        Expr::Sel(s) => match read(s, pkt, o)? {
            Part::Num(n) => Some(n),
            _ => None,
        },
        Expr::Bitwise { left, op, right } => {
            let l = number_of(left, pkt, o)?;
            Some(match op {
                BitOp::And => l & right,
                BitOp::Or => l | right,
                BitOp::Xor => l ^ right,
            })
        }
        Expr::Concat(_) => None,
    }
}

/// The key an expression makes of the packet: one part per concatenated field.
fn key_of(e: &Expr, pkt: &Packet, o: &Outcome) -> Option<Vec<Part>> {
    match e {
        Expr::Concat(parts) => parts
            .iter()
            .map(|p| key_of(p, pkt, o).map(|mut v| v.remove(0)))
            .collect(),
        Expr::Sel(s) => Some(vec![read(s, pkt, o)?]),
        Expr::Bitwise { .. } => Some(vec![Part::Num(number_of(e, pkt, o)?)]),
    }
}

/// The element of a set or map that holds `key`: by hash for a named set's exact keys,
/// as the kernel's set backends find it, else in order.
fn lookup<'a>(r: &'a Rhs, table: &'a Table, key: &[Part]) -> Option<&'a Element> {
    match r {
        Rhs::Anon(els) => els.iter().find(|e| element_matches(e, key)),
        Rhs::Named(n) => {
            let exact: Option<Vec<Exact>> = key.iter().map(Part::exact).collect();
            table.find_element(n, exact.as_deref(), |e| element_matches(e, key))
        }
        Rhs::Value(_) => None,
    }
}

fn element_matches(e: &Element, key: &[Part]) -> bool {
    e.key.len() == key.len() && e.key.iter().zip(key).all(|(v, p)| value_eq(v, p))
}

/// Does constant `v` (a prefix, a range, flags...) hold the packet's value `p`?
fn value_eq(v: &Value, p: &Part) -> bool {
    match (v, p) {
        (Value::Addr(a), Part::Addr(b)) => a == b,
        (Value::Net(n), Part::Addr(b)) => n.contains(*b),
        (Value::Number(a), Part::Num(b)) => a == b,
        (Value::Range(lo, hi), p) => match (lo.as_ref(), hi.as_ref(), p) {
            (Value::Number(l), Value::Number(h), Part::Num(n)) => l <= n && n <= h,
            (Value::Addr(l), Value::Addr(h), Part::Addr(a)) => l <= a && a <= h,
            _ => false,
        },
        (Value::Symbol(s), Part::Num(n)) => protocol_number(s) == Some(*n),
        (Value::Symbol(s), Part::Name(n)) => s == n,
        (Value::Symbol(s), Part::Names(ns)) => ns.contains(s),
        (Value::Flags(fs), Part::Names(ns)) => fs.iter().any(|f| ns.contains(f)),
        _ => false,
    }
}

/// Does the match hold? Some(the set element that held it, for a set lookup) when it does.
#[allow(clippy::too_many_arguments)]
fn matches(
    left: &Expr,
    op: CmpOp,
    right: &Rhs,
    pkt: &Packet,
    o: &Outcome,
    table: &Table,
    sets: &DynamicSets,
) -> Option<Option<String>> {
    // A field the packet does not have (a port of ICMP) never matches.
    let key = key_of(left, pkt, o)?;
    let same =
        |k: &[Value]| k.len() == key.len() && k.iter().zip(&key).all(|(v, p)| value_eq(v, p));
    let mut element = None;
    let found = match right {
        Rhs::Value(vs) => same(vs),
        Rhs::Anon(els) => els.iter().any(|e| element_matches(e, &key)),
        Rhs::Named(n) => {
            if let Some(e) = lookup(right, table, &key) {
                element = Some(super::print::element(e, false));
                true
            } else if let Some(k) = sets.get(n).and_then(|ks| ks.iter().find(|k| same(k))) {
                element = Some(
                    k.iter()
                        .map(|v| super::print::value(v, false))
                        .collect::<Vec<_>>()
                        .join(" . "),
                );
                true
            } else {
                false
            }
        }
    };
    let ordered = |f: fn(u64, u64) -> bool| match (right, key.as_slice()) {
        (Rhs::Value(vs), [Part::Num(n)]) => {
            matches!(vs.as_slice(), [Value::Number(v)] if f(*n, *v))
        }
        _ => false,
    };
    let holds = match op {
        CmpOp::Eq => found,
        CmpOp::Ne => !found,
        CmpOp::Lt => ordered(|a, b| a < b),
        CmpOp::Gt => ordered(|a, b| a > b),
        CmpOp::Le => ordered(|a, b| a <= b),
        CmpOp::Ge => ordered(|a, b| a >= b),
    };
    holds.then(|| element.filter(|_| op == CmpOp::Eq))
}
