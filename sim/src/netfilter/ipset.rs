//! ipsets (`net/netfilter/ipset/`): the sets `-m set --match-set NAME DIRS` consults.
//! kube-proxy's IPVS mode keeps Services in them (KUBE-CLUSTER-IP is hash:ip,port,
//! KUBE-LOOP-BACK hash:ip,port,ip, KUBE-NODE-PORT-TCP bitmap:port, ...).
//!
//! A set is read from and printed as `ipset save` text: `create NAME TYPE [options]` then
//! `add NAME ENTRY` lines, an entry's dimensions separated by commas (`10.96.0.10,udp:53`).

use crate::diag::{InputError, words};
use crate::wire::{IpProtocol, Ipv4, Ipv4Net, L4};
use std::net::Ipv4Addr;

/// The set types kube-proxy uses (`ipset create NAME TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetType {
    HashIp,
    HashNet,
    HashIpPort,
    HashIpPortIp,
    HashIpPortNet,
    BitmapPort,
}

/// One dimension of a set type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dim {
    Ip,
    Net,
    Port,
}

impl SetType {
    const ALL: [(SetType, &'static str); 6] = [
        (SetType::HashIp, "hash:ip"),
        (SetType::HashNet, "hash:net"),
        (SetType::HashIpPort, "hash:ip,port"),
        (SetType::HashIpPortIp, "hash:ip,port,ip"),
        (SetType::HashIpPortNet, "hash:ip,port,net"),
        (SetType::BitmapPort, "bitmap:port"),
    ];

    pub fn name(&self) -> &'static str {
        SetType::ALL
            .iter()
            .find(|(t, _)| t == self)
            .map(|(_, n)| *n)
            .unwrap_or("")
    }

    fn dims(&self) -> &'static [Dim] {
        match self {
            SetType::HashIp => &[Dim::Ip],
            SetType::HashNet => &[Dim::Net],
            SetType::HashIpPort => &[Dim::Ip, Dim::Port],
            SetType::HashIpPortIp => &[Dim::Ip, Dim::Port, Dim::Ip],
            SetType::HashIpPortNet => &[Dim::Ip, Dim::Port, Dim::Net],
            SetType::BitmapPort => &[Dim::Port],
        }
    }
}

/// One dimension of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    Ip(Ipv4Addr),
    Net(Ipv4Net),
    /// A port with its protocol (tcp, udp, sctp); bitmap:port has none.
    Port(Option<IpProtocol>, u16),
}

impl std::fmt::Display for Elem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Elem::Ip(a) => write!(f, "{a}"),
            Elem::Net(n) => write!(f, "{n}"),
            Elem::Port(None, p) => write!(f, "{p}"),
            Elem::Port(Some(proto), p) => write!(f, "{proto}:{p}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    pub name: String,
    pub kind: SetType,
    /// What the set is for, as kube-proxy describes it (not part of `ipset save`).
    pub comment: Option<String>,
    pub entries: Vec<Vec<Elem>>,
}

impl IpSet {
    pub fn new(name: &str, kind: SetType, comment: Option<&str>) -> IpSet {
        IpSet {
            name: name.to_string(),
            kind,
            comment: comment.map(str::to_string),
            entries: Vec::new(),
        }
    }

    /// Add an entry unless it is there already (`ipset add -exist`).
    pub fn add(&mut self, entry: Vec<Elem>) {
        if !self.entries.contains(&entry) {
            self.entries.push(entry);
        }
    }

    /// `ip_set_test` through the type's kadt: the packet's values for each dimension,
    /// taken from its source or destination as `dirs` says (true = src), against every
    /// entry. A dimension past the end of `dirs` repeats the last direction, as
    /// xt_set does for fewer flags than dimensions.
    pub fn test(&self, ip: &Ipv4, dirs: &[bool]) -> bool {
        let (sport, dport) = match &ip.payload {
            L4::Tcp(t) => (t.sport, t.dport),
            L4::Udp(u) => (u.sport, u.dport),
            L4::Icmp(_) => (0, 0),
        };
        let proto = Some(ip.protocol());
        let value = |i: usize, d: Dim| {
            let src = dirs.get(i).or(dirs.last()).copied().unwrap_or(false);
            match d {
                Dim::Ip | Dim::Net => Elem::Ip(if src { ip.src } else { ip.dst }),
                Dim::Port => Elem::Port(proto, if src { sport } else { dport }),
            }
        };
        let dims = self.kind.dims();
        self.entries.iter().any(|e| {
            e.len() == dims.len()
                && dims.iter().enumerate().all(|(i, d)| {
                    match (value(i, *d), e[i]) {
                        (Elem::Ip(a), Elem::Ip(b)) => a == b,
                        (Elem::Ip(a), Elem::Net(n)) => n.contains(a),
                        // bitmap:port stores bare ports: any protocol's port matches.
                        (Elem::Port(p, a), Elem::Port(q, b)) => a == b && (q.is_none() || p == q),
                        _ => false,
                    }
                })
        })
    }

    /// The set as `ipset save` prints it: the older header form without the random
    /// `bucketsize`/`initval` (docs/design/ipvs.md 4.3), members sorted as `-sorted` does
    /// (the kernel's hash order is no order).
    pub fn save(&self) -> String {
        let mut out = match self.kind {
            SetType::BitmapPort => format!("create {} bitmap:port range 0-65535\n", self.name),
            k => format!(
                "create {} {} family inet hashsize 1024 maxelem 65536\n",
                self.name,
                k.name()
            ),
        };
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|e| {
                let text: Vec<String> = e.iter().map(Elem::to_string).collect();
                format!("add {} {}\n", self.name, text.join(","))
            })
            .collect();
        lines.sort();
        out.extend(lines);
        out
    }
}

/// An error at `col` of `line`, underlining `word` (the underline of `InputError::at`
/// runs to the end of the line).
fn err_at(file: &str, src: &str, line: usize, col: usize, word: &str, msg: String) -> InputError {
    let mut e = InputError::at(file, src, line, col, msg);
    e.width = word.chars().count().max(1);
    e
}

/// The first `create` option (or `ipset list` header word) that changes what a set matches
/// and that kpath does not model, as (index in `opts`, message, hint). Reading such a set
/// as a plain IPv4 one would answer "in the set" wrongly instead of refusing.
fn unmodelled_option(opts: &[(usize, &str)]) -> Option<(usize, String, &'static str)> {
    // ipset's create options (ipset(8)): these take a value, these are flags; none of
    // them changes what kpath's matching sees except the two refused below.
    const VALUED: [&str; 9] = [
        "family",
        "hashsize",
        "maxelem",
        "timeout",
        "range",
        "bucketsize",
        "initval",
        "markmask",
        "size",
    ];
    const FLAGS: [&str; 4] = ["counters", "comment", "skbinfo", "forceadd"];
    let mut skip = false;
    for (i, (_, w)) in opts.iter().enumerate() {
        if std::mem::take(&mut skip) {
            continue;
        }
        if VALUED.contains(w) && *w != "family" {
            skip = true;
            continue;
        }
        if !VALUED.contains(w) && !FLAGS.contains(w) && *w != "netmask" {
            return Some((
                i,
                format!("unknown create option `{w}`"),
                "ipset's options: family, hashsize, maxelem, timeout, range, bucketsize, initval, markmask, size, netmask, counters, comment, skbinfo, forceadd",
            ));
        }
        match *w {
            "family" => match opts.get(i + 1) {
                Some((_, "inet")) => skip = true,
                Some((_, f)) => {
                    return Some((
                        i + 1,
                        format!("set family `{f}` is not modelled"),
                        "kpath models IPv4 sets (family inet) only",
                    ));
                }
                None => {
                    return Some((i, "`family` needs a value".into(), "family inet"));
                }
            },
            // hash:ip/hash:ip,port with `netmask` store networks, not addresses.
            "netmask" => {
                return Some((
                    i,
                    "`netmask` sets are not modelled".into(),
                    "kube-proxy never sets a netmask; kpath stores each entry as written",
                ));
            }
            _ => {}
        }
    }
    None
}

/// Words after an entry (`timeout 0`, `comment "..."`, `packets 0 bytes 0`, ...): the index
/// of `nomatch`, which turns a hash:net entry into an exception kpath does not model
/// (words inside a quoted comment are skipped).
fn nomatch_at(extras: &[(usize, &str)]) -> Option<usize> {
    let mut quoted = false;
    for (i, (_, w)) in extras.iter().enumerate() {
        if !quoted && *w == "nomatch" {
            return Some(i);
        }
        if w.matches('"').count() % 2 == 1 {
            quoted = !quoted;
        }
    }
    None
}

const NOMATCH_HINT: &str =
    "a `nomatch` entry excludes its network from the set; kube-proxy never writes one";

fn known_types() -> String {
    let known: Vec<&str> = SetType::ALL.iter().map(|(_, n)| *n).collect();
    format!("kpath knows {}", known.join(", "))
}

fn set_type(name: &str) -> Option<SetType> {
    SetType::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(t, _)| *t)
}

/// Read `ipset save` (or `ipset list -o save`) text.
pub fn parse_ipset_save(file: &str, src: &str) -> Result<Vec<IpSet>, InputError> {
    let mut sets: Vec<IpSet> = Vec::new();
    for (n, raw) in src.lines().enumerate() {
        let line = n + 1;
        let text = raw.trim_end();
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        let err = |col: usize, word: &str, msg: String| err_at(file, src, line, col, word, msg);
        let ws = words(text);
        let Some(&(cmd_col, cmd)) = ws.first() else {
            continue;
        };
        if cmd != "create" && cmd != "add" {
            // A dump given to the wrong option is a likely mistake: say what it is.
            let looks = match cmd {
                "-A" | "-a" => " (this line looks like `ipvsadm-save` output)",
                c if c.starts_with('*') || c.starts_with(':') || c == "COMMIT" => {
                    " (this line looks like `iptables-save` output)"
                }
                _ => "",
            };
            return Err(err(cmd_col, cmd, format!("unknown command `{cmd}`")).with_hint(format!(
                "an `ipset save` dump has only `create` and `add` lines, `ipset list` Name:/Type:/Members: blocks{looks}"
            )));
        }
        let Some(&(name_col, name)) = ws.get(1) else {
            return Err(err(cmd_col, cmd, format!("`{cmd}` names no set")).with_hint(
                "write `create NAME TYPE [options]` or `add NAME ENTRY`, as `ipset save` prints them",
            ));
        };
        if cmd == "create" {
            let Some(&(ty_col, ty)) = ws.get(2) else {
                return Err(
                    err(name_col, name, format!("`create {name}` has no set type"))
                        .with_hint(format!("write `create {name} TYPE`; {}", known_types())),
                );
            };
            let Some(kind) = set_type(ty) else {
                let known: Vec<&str> = SetType::ALL.iter().map(|(_, n)| *n).collect();
                let hint = match crate::diag::did_you_mean(ty, known) {
                    Some(m) => format!("did you mean `{m}`? {}", known_types()),
                    None => known_types(),
                };
                return Err(err(ty_col, ty, format!("unknown set type `{ty}`")).with_hint(hint));
            };
            if let Some((i, msg, hint)) = unmodelled_option(&ws[3..]) {
                let (col, w) = ws[3 + i];
                return Err(err(col, w, msg).with_hint(hint));
            }
            if sets.iter().any(|s| s.name == name) {
                return Err(err(name_col, name, format!("set `{name}` is created twice"))
                    .with_hint("ipset refuses it: \"Set cannot be created: set with the same name already exists\""));
            }
            sets.push(IpSet::new(name, kind, None));
            continue;
        }
        let Some(set) = sets.iter_mut().find(|s| s.name == name) else {
            return Err(err(
                name_col,
                name,
                format!("`add` to set `{name}`, which no `create` line made"),
            )
            .with_hint("`ipset save` prints each set's create line before its entries"));
        };
        let Some(&(entry_col, entry)) = ws.get(2) else {
            return Err(
                err(name_col, name, format!("`add {name}` has no entry")).with_hint(format!(
                    "write `add {name} ENTRY`, e.g. {}",
                    example(set.kind)
                )),
            );
        };
        if let Some(i) = nomatch_at(&ws[3..]) {
            let (col, w) = ws[3 + i];
            return Err(
                err(col, w, "`nomatch` entries are not modelled".into()).with_hint(NOMATCH_HINT)
            );
        }
        let elems = parse_entry(set.kind, entry, |off, part, m| {
            err(entry_col + off, part, m)
        })?;
        set.add(elems);
    }
    Ok(sets)
}

/// An entry of a set of type `kind`, for hints.
fn example(kind: SetType) -> &'static str {
    match kind {
        SetType::HashIp => "10.96.0.10",
        SetType::HashNet => "10.244.0.0/16",
        SetType::HashIpPort => "10.96.0.10,udp:53",
        SetType::HashIpPortIp => "10.244.1.3,tcp:80,10.244.1.3",
        SetType::HashIpPortNet => "203.0.113.50,tcp:80,198.51.100.0/24",
        SetType::BitmapPort => "30080",
    }
}

/// One member as ipset prints it (`10.96.0.1,tcp:443`, `30080`, `10.0.0.0/8`), for a set of
/// type `kind`; `err(offset, part, message)` locates a complaint about `part`, which starts
/// `offset` characters into the entry.
fn parse_entry(
    kind: SetType,
    entry: &str,
    err: impl Fn(usize, &str, String) -> InputError,
) -> Result<Vec<Elem>, InputError> {
    let dims = kind.dims();
    let parts: Vec<&str> = entry.split(',').collect();
    let shape = format!("a {} entry looks like {}", kind.name(), example(kind));
    if parts.len() != dims.len() {
        return Err(err(
            0,
            entry,
            format!(
                "`{entry}` has {} part(s); a {} entry has {}",
                parts.len(),
                kind.name(),
                dims.len()
            ),
        )
        .with_hint(shape));
    }
    let mut elems = Vec::new();
    let mut offset = 0;
    for (p, d) in parts.iter().zip(dims) {
        let bad = || {
            err(
                offset,
                p,
                format!(
                    "`{p}` is not {}",
                    match d {
                        Dim::Ip => "an IPv4 address",
                        Dim::Net => "an IPv4 network",
                        // bitmap:port members are bare port numbers.
                        Dim::Port if kind == SetType::BitmapPort => "a port (0-65535)",
                        Dim::Port => "a port (PROTO:PORT, e.g. tcp:80)",
                    }
                ),
            )
            .with_hint(shape.clone())
        };
        elems.push(match d {
            Dim::Ip => Elem::Ip(p.parse().map_err(|_| bad())?),
            Dim::Net => Elem::Net(if p.contains('/') {
                p.parse().map_err(|_| bad())?
            } else {
                Ipv4Net::new(p.parse().map_err(|_| bad())?, 32)
            }),
            Dim::Port => {
                let (proto, port) = match p.split_once(':') {
                    Some(("tcp", n)) => (Some(IpProtocol::Tcp), n),
                    Some(("udp", n)) => (Some(IpProtocol::Udp), n),
                    Some(("sctp", n)) => (Some(IpProtocol::Sctp), n),
                    Some(_) => return Err(bad()),
                    None => (None, *p),
                };
                Elem::Port(proto, port.parse().map_err(|_| bad())?)
            }
        });
        offset += p.chars().count() + 1;
    }
    Ok(elems)
}

/// Read a node's ipsets in either form the tool prints: `ipset save` (create/add lines) or
/// `ipset list` (Name:/Type:/Members: blocks).
pub fn parse_ipsets(file: &str, src: &str) -> Result<Vec<IpSet>, InputError> {
    let first = src
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    if first.is_some_and(|l| l.starts_with("Name:")) {
        parse_ipset_list(file, src)
    } else {
        parse_ipset_save(file, src)
    }
}

/// The set an `ipset list` block is reading: what its header promised, to check against
/// what it lists.
struct Block {
    /// Index in the sets read so far (None until its `Type:` line).
    set: Option<usize>,
    name: String,
    name_line: usize,
    /// `Number of entries: N`, with its line and the column of N.
    entries: Option<(usize, usize, usize)>,
    /// Member lines read (duplicates included, as `ipset list` counts them).
    listed: usize,
    members_line: Option<usize>,
}

impl Block {
    /// The block ends (a new `Name:`, the end of the file): a member count different from
    /// the header's means the listing was cut (a paste that lost its tail, `ipset list -t`),
    /// and reading it as is would answer "not in the set" for the members it lost.
    fn finish(&self, file: &str, src: &str) -> Result<(), InputError> {
        if self.set.is_none() {
            return Err(err_at(
                file,
                src,
                self.name_line,
                1,
                "Name:",
                format!("set `{}` has no `Type:` line", self.name),
            )
            .with_hint("each `ipset list` block has `Name:` then `Type:` lines"));
        }
        let Some((n, line, col)) = self.entries else {
            return Ok(());
        };
        if n == self.listed {
            return Ok(());
        }
        let how = match self.members_line {
            Some(at) => format!(
                "{} member line(s) after `Members:` (line {at})",
                self.listed
            ),
            None => "no `Members:` list".to_string(),
        };
        Err(err_at(
            file,
            src,
            line,
            col,
            &n.to_string(),
            format!(
                "set `{}` has {n} entries by its header but {how}",
                self.name
            ),
        )
        .with_hint("the listing is cut short (or was made with `ipset list -t`); give the full `ipset list` or `ipset save` output"))
    }
}

/// Read `ipset list`: a block per set - `Name:`, `Type:`, header lines, then `Members:` and
/// one member per line until a blank line.
pub fn parse_ipset_list(file: &str, src: &str) -> Result<Vec<IpSet>, InputError> {
    let mut sets: Vec<IpSet> = Vec::new();
    let mut block: Option<Block> = None;
    let mut members = false;
    for (n, raw) in src.lines().enumerate() {
        let line = n + 1;
        let text = raw.trim();
        let col = raw.chars().count() - raw.trim_start().chars().count() + 1;
        let err = |msg: String| err_at(file, src, line, col, text, msg);
        // `#` lines are notes added to a paste (`parse_ipsets` skips them too when it
        // tells the two forms apart); no ipset line starts with `#`.
        if text.starts_with('#') {
            continue;
        }
        if text.is_empty() {
            members = false;
            continue;
        }
        // A paste that lost the blank line between blocks: `Name:` never starts a member,
        // so it ends the member list instead of being read as one.
        if members && !text.starts_with("Name:") {
            let Some(set) = block
                .as_ref()
                .and_then(|b| b.set)
                .and_then(|i| sets.get_mut(i))
            else {
                return Err(err("a member before any set".into()));
            };
            // `ipset list` may add options after the member (timeout, comment).
            let ws = words(raw);
            let Some(&(entry_col, entry)) = ws.first() else {
                continue;
            };
            if let Some(i) = nomatch_at(&ws[1..]) {
                let (c, w) = ws[1 + i];
                return Err(err_at(
                    file,
                    src,
                    line,
                    c,
                    w,
                    "`nomatch` entries are not modelled".into(),
                )
                .with_hint(NOMATCH_HINT));
            }
            let elems = parse_entry(set.kind, entry, |off, part, m| {
                err_at(file, src, line, entry_col + off, part, m)
            })?;
            set.add(elems);
            if let Some(b) = block.as_mut() {
                b.listed += 1;
            }
            continue;
        }
        members = false;
        let Some((key, value)) = text.split_once(':') else {
            return Err(
                err(format!("expected `Key: value`, found `{text}`")).with_hint(
                    "an `ipset list` block has Name:, Type:, Header:, ... and Members: lines",
                ),
            );
        };
        // Where the value starts, for pointing at it.
        let value_col = col
            + key.chars().count()
            + 1
            + (value.chars().count() - value.trim_start().chars().count());
        let value = value.trim();
        let err_value = |msg: String| err_at(file, src, line, value_col, value, msg);
        match key {
            "Name" => {
                if let Some(b) = block.take() {
                    b.finish(file, src)?;
                }
                // A set name is one word, as `ipset save`/`ipset restore` read it: an
                // empty or spaced name would print a `create` line that reads back as
                // another set (found by fuzzing: `Name:` with nothing after it).
                if value.is_empty() || value.contains(char::is_whitespace) {
                    let msg = if value.is_empty() {
                        "`Name:` names no set".to_string()
                    } else {
                        format!("`{value}` is not a set name: a set name is one word")
                    };
                    return Err(
                        err_value(msg).with_hint("write `Name: SET`, e.g. `Name: KUBE-CLUSTER-IP`")
                    );
                }
                if sets.iter().any(|s| s.name == value) {
                    return Err(err_value(format!("set `{value}` is listed twice")));
                }
                block = Some(Block {
                    set: None,
                    name: value.to_string(),
                    name_line: line,
                    entries: None,
                    listed: 0,
                    members_line: None,
                });
            }
            "Type" => {
                let Some(b) = block.as_mut().filter(|b| b.set.is_none()) else {
                    return Err(err("`Type:` before the set's `Name:`".into())
                        .with_hint("each `ipset list` block starts with `Name: SET`"));
                };
                let Some(kind) = set_type(value) else {
                    let known: Vec<&str> = SetType::ALL.iter().map(|(_, n)| *n).collect();
                    let hint = match crate::diag::did_you_mean(value, known) {
                        Some(m) => format!("did you mean `{m}`? {}", known_types()),
                        None => known_types(),
                    };
                    return Err(err_value(format!("unknown set type `{value}`")).with_hint(hint));
                };
                b.set = Some(sets.len());
                sets.push(IpSet::new(&b.name, kind, None));
            }
            "Header" => {
                let ws = words(value);
                if let Some((i, msg, hint)) = unmodelled_option(&ws) {
                    let (c, w) = ws[i];
                    return Err(err_at(file, src, line, value_col + c - 1, w, msg).with_hint(hint));
                }
            }
            "Number of entries" => {
                let Ok(count) = value.parse::<usize>() else {
                    return Err(err_value(format!("`{value}` is not a number of entries")));
                };
                if let Some(b) = block.as_mut() {
                    b.entries = Some((count, line, value_col));
                }
            }
            "Members" => {
                let Some(b) = block.as_mut().filter(|b| b.set.is_some()) else {
                    return Err(err("`Members:` of a set with no `Type:`".into()).with_hint(
                        "each `ipset list` block has `Name:` and `Type:` lines before `Members:`",
                    ));
                };
                b.members_line = Some(line);
                members = true;
            }
            "Revision" | "Size in memory" | "References" => {}
            other => {
                return Err(err(format!("unknown line `{other}:` in an `ipset list` block"))
                    .with_hint("known: Name, Type, Revision, Header, Size in memory, References, Number of entries, Members"));
            }
        }
    }
    if let Some(b) = block {
        b.finish(file, src)?;
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Tcp, TcpFlags};

    fn syn(src: &str, dst: &str, sport: u16, dport: u16) -> Ipv4 {
        Ipv4 {
            tos: 0,
            ident: 1,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            ttl: 64,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            payload: L4::Tcp(Tcp {
                sport,
                dport,
                seq: 1,
                ack: 0,
                flags: TcpFlags(TcpFlags::SYN),
                window: 1,
                options: Vec::new(),
                payload: Vec::new(),
            }),
        }
    }

    const SAVE: &str = "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment
add KUBE-CLUSTER-IP 10.96.0.10,tcp:53 comment \"Kubernetes service cluster ip + port for masquerade purpose\"
add KUBE-CLUSTER-IP 10.96.0.10,udp:53
create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536
add KUBE-LOOP-BACK 10.244.1.3,tcp:80,10.244.1.3
create KUBE-NODE-PORT-TCP bitmap:port range 0-65535
add KUBE-NODE-PORT-TCP 30080
create KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536
add KUBE-LOAD-BALANCER-SOURCE-CIDR 203.0.113.50,tcp:80,198.51.100.0/24
";

    #[test]
    fn kube_proxy_sets_match_as_xt_set_asks() {
        let sets = parse_ipset_save("sets", SAVE).unwrap();
        let get = |n: &str| sets.iter().find(|s| s.name == n).unwrap();
        // --match-set KUBE-CLUSTER-IP dst,dst
        assert!(
            get("KUBE-CLUSTER-IP")
                .test(&syn("10.244.1.2", "10.96.0.10", 40000, 53), &[false, false])
        );
        assert!(
            !get("KUBE-CLUSTER-IP")
                .test(&syn("10.244.1.2", "10.96.0.10", 40000, 80), &[false, false])
        );
        // --match-set KUBE-LOOP-BACK dst,dst,src: a pod reaching itself.
        let hairpin = syn("10.244.1.3", "10.244.1.3", 40000, 80);
        assert!(get("KUBE-LOOP-BACK").test(&hairpin, &[false, false, true]));
        assert!(!get("KUBE-LOOP-BACK").test(
            &syn("10.244.1.2", "10.244.1.3", 40000, 80),
            &[false, false, true]
        ));
        // bitmap:port with dst.
        assert!(
            get("KUBE-NODE-PORT-TCP")
                .test(&syn("203.0.113.9", "172.31.0.11", 40000, 30080), &[false])
        );
        // hash:ip,port,net with dst,dst,src.
        let lb = get("KUBE-LOAD-BALANCER-SOURCE-CIDR");
        assert!(lb.test(
            &syn("198.51.100.7", "203.0.113.50", 40000, 80),
            &[false, false, true]
        ));
        assert!(!lb.test(
            &syn("192.0.2.7", "203.0.113.50", 40000, 80),
            &[false, false, true]
        ));
    }

    #[test]
    fn save_reads_back_and_bad_lines_say_where() {
        let sets = parse_ipset_save("sets", SAVE).unwrap();
        let text: String = sets.iter().map(IpSet::save).collect();
        assert_eq!(parse_ipset_save("again", &text).unwrap().len(), sets.len());
        let e = parse_ipset_save(
            "sets",
            "create S hash:ip,port family inet\nadd S 10.0.0.1,http\n",
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.message.contains("`http` is not a port")),
            (2, true),
            "{e}"
        );
        let e = parse_ipset_save("sets", "add T 10.0.0.1\n").unwrap_err();
        assert!(e.message.contains("no `create` line"), "{e}");
        let e = parse_ipset_save("sets", "create S list:set\n").unwrap_err();
        assert!(
            e.message.contains("unknown set type `list:set`") && e.column == 10,
            "{e}"
        );
    }

    const LIST: &str = "Name: KUBE-CLUSTER-IP
Type: hash:ip,port
Revision: 6
Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x4f8a9a1c
Size in memory: 408
References: 2
Number of entries: 2
Members:
10.96.0.10,udp:53
10.96.0.1,tcp:443

Name: KUBE-NODE-PORT-TCP
Type: bitmap:port
Revision: 3
Header: range 0-65535
Size in memory: 8268
References: 1
Number of entries: 1
Members:
30080
";

    #[test]
    fn ipset_list_reads_like_ipset_save() {
        let save = "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536
add KUBE-CLUSTER-IP 10.96.0.10,udp:53
add KUBE-CLUSTER-IP 10.96.0.1,tcp:443
create KUBE-NODE-PORT-TCP bitmap:port range 0-65535
add KUBE-NODE-PORT-TCP 30080
";
        let a = parse_ipsets("list", LIST).unwrap();
        let b = parse_ipsets("save", save).unwrap();
        assert_eq!(a.len(), 2);
        let show = |v: &[IpSet]| v.iter().map(IpSet::save).collect::<String>();
        assert_eq!(show(&a), show(&b));
        assert!(a[0].test(&syn("10.244.1.2", "10.96.0.1", 40000, 443), &[false, false]));
    }

    #[test]
    fn a_bad_ipset_list_is_located() {
        let bad = LIST.replace("10.96.0.1,tcp:443", "10.96.0.1,tcp:http");
        let e = parse_ipsets("sets.txt", &bad).unwrap_err();
        assert_eq!((e.line, e.column), (10, 11), "{e}");
        assert!(e.message.contains("tcp:http"), "{e}");
        let bad = LIST.replace("Type: bitmap:port", "Type: list:set");
        let e = parse_ipsets("sets.txt", &bad).unwrap_err();
        assert_eq!(e.line, 13, "{e}");
        assert!(e.hint.unwrap_or_default().contains("bitmap:port"));
        let bad = LIST.replace("References: 1", "Refs 1");
        let e = parse_ipsets("sets.txt", &bad).unwrap_err();
        assert!(e.message.contains("Key: value"), "{e}");
    }
}
