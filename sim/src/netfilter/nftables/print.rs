//! Printing a ruleset as `nft list ruleset` does (nft 1.0): tables, then in each its sets
//! and maps, then its chains; base chains with symbolic priorities where nft uses them;
//! expressions in nft's normal form (`meta mark set meta mark | 0x00004000`).

use super::expr::*;
use super::ruleset::*;
use std::fmt::Write;

/// The whole ruleset, as `nft list ruleset` prints it.
pub fn list_ruleset(rs: &Ruleset) -> String {
    let mut out = String::new();
    for t in &rs.tables {
        out.push_str(&table(t));
    }
    out
}

fn table(t: &Table) -> String {
    let mut out = format!("table {} {} {{\n", t.family, t.name);
    if let Some(c) = &t.comment {
        let _ = writeln!(out, "\tcomment \"{c}\"");
    }
    let mut first = true;
    let mut gap = |out: &mut String| {
        if !first {
            out.push('\n');
        }
        first = false;
    };
    for s in &t.sets {
        gap(&mut out);
        out.push_str(&set(s));
    }
    for c in &t.chains {
        gap(&mut out);
        out.push_str(&chain(c, t.family));
    }
    out.push_str("}\n");
    out
}

fn set(s: &Set) -> String {
    let kind = if s.is_map() { "map" } else { "set" };
    let mut out = format!("\t{kind} {} {{\n", s.name);
    let mut ty = s.key.join(" . ");
    if let Some(d) = &s.data {
        let _ = write!(ty, " : {d}");
    }
    let _ = writeln!(out, "\t\ttype {ty}");
    // A dynamic set the packet path fills gets the kernel's default size when it has none.
    let size = s
        .size
        .or((s.flags.iter().any(|f| f == "dynamic")).then_some(65535));
    if let Some(n) = size {
        let _ = writeln!(out, "\t\tsize {n}");
    }
    if !s.flags.is_empty() {
        let _ = writeln!(out, "\t\tflags {}", s.flags.join(","));
    }
    if let Some(t) = s.timeout {
        let _ = writeln!(out, "\t\ttimeout {}", fmt_duration(t));
    }
    if let Some(c) = &s.comment {
        let _ = writeln!(out, "\t\tcomment \"{c}\"");
    }
    if !s.elements.is_empty() {
        // nft 1.0 wraps a named set's elements: one per line for maps and concatenations,
        // two per line otherwise, continued under the first.
        let per_line = if s.is_map() || s.key.len() > 1 { 1 } else { 2 };
        let mut text = String::new();
        for (i, e) in s.elements.iter().enumerate() {
            if i > 0 {
                text.push_str(if i % per_line == 0 {
                    ",\n\t\t\t     "
                } else {
                    ", "
                });
            }
            text.push_str(&element(e, false));
        }
        let _ = writeln!(out, "\t\telements = {{ {text} }}");
    }
    out.push_str("\t}\n");
    out
}

pub fn element(e: &Element, mark: bool) -> String {
    let mut out = e
        .key
        .iter()
        .map(|v| value(v, mark))
        .collect::<Vec<_>>()
        .join(" . ");
    if let Some(t) = e.timeout {
        let _ = write!(out, " timeout {}", fmt_duration(t));
    }
    if let Some(c) = &e.comment {
        let _ = write!(out, " comment \"{c}\"");
    }
    if let Some(d) = &e.data {
        let _ = write!(out, " : {}", data(d));
    }
    out
}

fn data(d: &Data) -> String {
    match d {
        Data::Verdict(v) => verdict(v),
        Data::Value(vs) => vs
            .iter()
            .map(|v| value(v, false))
            .collect::<Vec<_>>()
            .join(" . "),
    }
}

/// nft's names for standard priorities (`chain_prio2str`): raw, mangle, filter and
/// security at every hook, dstnat at prerouting and output... as nft 1.0 prints them: a
/// name is used within 10 of its value, and dstnat only at prerouting, srcnat only at
/// postrouting (nft prints nat output's -100 as a number).
pub fn priority(family: Family, hook: NftHook, prio: i32) -> String {
    let mut names: Vec<(&str, i32)> = vec![
        ("raw", -300),
        ("mangle", -150),
        ("filter", 0),
        ("security", 50),
    ];
    if family == Family::Bridge {
        return prio.to_string();
    }
    match hook {
        NftHook::Prerouting => names.push(("dstnat", -100)),
        NftHook::Postrouting => names.push(("srcnat", 100)),
        _ => {}
    }
    for (n, v) in names {
        let d = prio - v;
        if d == 0 {
            return n.to_string();
        }
        if d.abs() <= 10 {
            return format!("{n} {} {}", if d < 0 { "-" } else { "+" }, d.abs());
        }
    }
    prio.to_string()
}

fn chain(c: &Chain, family: Family) -> String {
    let mut out = format!("\tchain {} {{\n", c.name);
    if let Some(b) = &c.base {
        let _ = writeln!(
            out,
            "\t\ttype {} hook {} priority {}; policy {};",
            b.kind.name(),
            b.hook.name(),
            priority(family, b.hook, b.priority),
            if b.accept { "accept" } else { "drop" }
        );
    }
    if let Some(cm) = &c.comment {
        let _ = writeln!(out, "\t\tcomment \"{cm}\"");
    }
    for r in &c.rules {
        let _ = writeln!(out, "\t\t{}", rule(r));
    }
    out.push_str("\t}\n");
    out
}

/// A chain's rules, one line each, as nft prints them.
pub fn rule_lines(c: &Chain) -> Vec<String> {
    c.rules.iter().map(rule).collect()
}

/// One rule as nft prints it.
pub fn rule(r: &Rule) -> String {
    let mut parts: Vec<String> = r.exprs.iter().map(stmt).collect();
    if let Some(c) = &r.comment {
        parts.push(format!("comment \"{c}\""));
    }
    parts.join(" ")
}

pub fn stmt(s: &Stmt) -> String {
    match s {
        Stmt::Match { left, op, right } => {
            let l = expr(left);
            let r = rhs(right, left.is_mark());
            // nft writes `==` only after a bitwise expression; `!=` and orderings always.
            match (op, left) {
                (CmpOp::Eq, Expr::Bitwise { .. }) => format!("{l} == {r}"),
                (CmpOp::Eq, _) => format!("{l} {r}"),
                (op, _) => format!("{l} {} {r}", op.symbol()),
            }
        }
        Stmt::Vmap { key, map } => format!("{} vmap {}", expr(key), rhs(map, false)),
        Stmt::Verdict(v) => verdict(v),
        Stmt::Counter { packets, bytes } => format!("counter packets {packets} bytes {bytes}"),
        Stmt::Set { target, value } => {
            let v = match value {
                SetValue::Const(n) if target.is_mark() => format!("0x{n:08x}"),
                SetValue::Const(n) => n.to_string(),
                SetValue::Expr(e) => expr(e),
            };
            format!("{} set {v}", selector(target))
        }
        Stmt::Nat {
            kind,
            addr,
            port,
            flags,
        } => {
            let k = match kind {
                NatKind::Dnat => "dnat",
                NatKind::Snat => "snat",
            };
            let mut t = String::new();
            if let Some(a) = addr {
                let _ = write!(t, "{a}");
            }
            if let Some(p) = port {
                let _ = write!(t, ":{p}");
            }
            let mut out = format!("{k} to {t}");
            for f in flags {
                let _ = write!(out, " {f}");
            }
            out
        }
        Stmt::Masquerade { flags, ports } => {
            let mut out = "masquerade".to_string();
            if let Some((a, b)) = ports {
                if a == b {
                    let _ = write!(out, " to :{a}");
                } else {
                    let _ = write!(out, " to :{a}-{b}");
                }
            }
            for f in flags {
                let _ = write!(out, " {f}");
            }
            out
        }
        Stmt::Redirect { port } => match port {
            Some(p) => format!("redirect to :{p}"),
            None => "redirect".into(),
        },
        Stmt::Reject { with } => match with {
            Some(w) => format!("reject with {w}"),
            None => "reject".into(),
        },
        Stmt::Notrack => "notrack".into(),
        Stmt::Log { words } => {
            let mut out = "log".to_string();
            for w in words {
                let _ = write!(out, " {w}");
            }
            out
        }
        Stmt::SetUpdate {
            op,
            set,
            key,
            timeout,
        } => {
            let t = timeout
                .map(|t| format!(" timeout {}", fmt_duration(t)))
                .unwrap_or_default();
            format!("{op} @{set} {{ {}{t} }}", expr(key))
        }
    }
}

/// A verdict in nft's words (`goto service-...`).
pub fn verdict(v: &Verdict) -> String {
    match v {
        Verdict::Accept => "accept".into(),
        Verdict::Drop => "drop".into(),
        Verdict::Continue => "continue".into(),
        Verdict::Return => "return".into(),
        Verdict::Jump(c) => format!("jump {c}"),
        Verdict::Goto(c) => format!("goto {c}"),
    }
}

pub fn selector(s: &Selector) -> String {
    match s {
        Selector::Payload { proto, field } => format!("{proto} {field}"),
        Selector::Meta(k) => format!("meta {k}"),
        Selector::Ct(k) => format!("ct {k}"),
        Selector::Fib { flags, result } => format!("fib {} {result}", flags.join(" . ")),
        Selector::Numgen { modulus, offset } => {
            if *offset == 0 {
                format!("numgen random mod {modulus}")
            } else {
                format!("numgen random mod {modulus} offset {offset}")
            }
        }
    }
}

pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Sel(s) => selector(s),
        Expr::Concat(parts) => parts.iter().map(expr).collect::<Vec<_>>().join(" . "),
        Expr::Bitwise { left, op, right } => {
            let r = if left.is_mark() {
                format!("0x{right:08x}")
            } else {
                format!("0x{right:x}")
            };
            format!("{} {} {r}", expr(left), op.symbol())
        }
    }
}

fn rhs(r: &Rhs, mark: bool) -> String {
    match r {
        Rhs::Value(vs) => vs
            .iter()
            .map(|v| value(v, mark))
            .collect::<Vec<_>>()
            .join(" . "),
        Rhs::Named(n) => format!("@{n}"),
        Rhs::Anon(els) => {
            let els: Vec<String> = els.iter().map(|e| element(e, mark)).collect();
            format!("{{ {} }}", els.join(", "))
        }
    }
}

pub fn value(v: &Value, mark: bool) -> String {
    match v {
        Value::Addr(a) => a.to_string(),
        Value::Net(n) => n.to_string(),
        Value::Number(n) if mark => format!("0x{n:08x}"),
        Value::Number(n) => n.to_string(),
        Value::Range(a, b) => format!("{}-{}", value(a, mark), value(b, mark)),
        Value::Symbol(s) => s.clone(),
        Value::Flags(f) => f.join(","),
    }
}
