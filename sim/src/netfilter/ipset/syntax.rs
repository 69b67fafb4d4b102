//! What both dump forms share: set type names, `create` options (the `Header:` of
//! `ipset list`), the `nomatch` flag and the members themselves.

use super::{Dim, Elem, SetType};
use crate::diag::InputError;
use crate::wire::{IpProtocol, Ipv4Net};

/// An error at `col` of `line`, underlining `word` (the underline of `InputError::at`
/// runs to the end of the line).
pub(super) fn err_at(
    file: &str,
    src: &str,
    line: usize,
    col: usize,
    word: &str,
    msg: String,
) -> InputError {
    let mut e = InputError::at(file, src, line, col, msg);
    e.width = word.chars().count().max(1);
    e
}

/// The first `create` option (or `ipset list` header word) that changes what a set matches
/// and that kpath does not model, as (index in `opts`, message, hint). Reading such a set
/// as a plain IPv4 one would answer "in the set" wrongly instead of refusing.
pub(super) fn unmodelled_option(opts: &[(usize, &str)]) -> Option<(usize, String, &'static str)> {
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
pub(super) fn nomatch_at(extras: &[(usize, &str)]) -> Option<usize> {
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

pub(super) const NOMATCH_HINT: &str = "`nomatch` excludes a network from a set with a net dimension (hash:net, hash:ip,port,net); the kernel refuses it elsewhere";

pub(super) fn known_types() -> String {
    let known: Vec<&str> = SetType::ALL.iter().map(|(_, n)| *n).collect();
    format!("kpath knows {}", known.join(", "))
}

pub(super) fn set_type(name: &str) -> Option<SetType> {
    SetType::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(t, _)| *t)
}

/// An entry of a set of type `kind`, for hints.
pub(super) fn example(kind: SetType) -> &'static str {
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
pub(super) fn parse_entry(
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
