//! ipsets (`net/netfilter/ipset/`): the sets `-m set --match-set NAME DIRS` consults.
//! kube-proxy's IPVS mode keeps Services in them (KUBE-CLUSTER-IP is hash:ip,port,
//! KUBE-LOOP-BACK hash:ip,port,ip, KUBE-NODE-PORT-TCP bitmap:port, ...).
//!
//! A set is read from and printed as `ipset save` text: `create NAME TYPE [options]` then
//! `add NAME ENTRY` lines, an entry's dimensions separated by commas (`10.96.0.10,udp:53`).

use crate::diag::InputError;
use crate::net::Ipv4Net;
use crate::wire::{Ipv4, L4};
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
    /// A port with its protocol (6, 17, 132); bitmap:port has no protocol (0).
    Port(u8, u16),
}

impl std::fmt::Display for Elem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Elem::Ip(a) => write!(f, "{a}"),
            Elem::Net(n) => write!(f, "{n}"),
            Elem::Port(0, p) => write!(f, "{p}"),
            Elem::Port(proto, p) => write!(f, "{}:{p}", proto_name(*proto)),
        }
    }
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        132 => "sctp",
        _ => "?",
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
        let proto = ip.protocol();
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
                        (Elem::Port(p, a), Elem::Port(q, b)) => a == b && (q == 0 || p == q),
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

/// Read `ipset save` (or `ipset list -o save`) text.
pub fn parse_ipset_save(file: &str, src: &str) -> Result<Vec<IpSet>, InputError> {
    let mut sets: Vec<IpSet> = Vec::new();
    for (n, raw) in src.lines().enumerate() {
        let line = n + 1;
        let text = raw.trim_end();
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        let col_of = |word: &str| raw.find(word).map_or(1, |i| i + 1);
        let err = |word: &str, msg: String| InputError::at(file, src, line, col_of(word), msg);
        let mut words = text.split_whitespace();
        let (Some(cmd), Some(name)) = (words.next(), words.next()) else {
            return Err(err(
                text.trim(),
                "expected `create NAME TYPE ...` or `add NAME ENTRY`".into(),
            ));
        };
        match cmd {
            "create" => {
                let ty = words.next().unwrap_or("");
                let Some(kind) = SetType::ALL.iter().find(|(_, n)| *n == ty).map(|(t, _)| *t)
                else {
                    let known: Vec<&str> = SetType::ALL.iter().map(|(_, n)| *n).collect();
                    return Err(err(ty, format!("unknown set type `{ty}`"))
                        .with_hint(format!("kpath knows {}", known.join(", "))));
                };
                if sets.iter().any(|s| s.name == name) {
                    return Err(err(name, format!("set `{name}` is created twice")));
                }
                sets.push(IpSet::new(name, kind, None));
            }
            "add" => {
                let entry = words.next().unwrap_or("");
                let Some(set) = sets.iter_mut().find(|s| s.name == name) else {
                    return Err(err(
                        name,
                        format!("`add` to set `{name}`, which no `create` line made"),
                    )
                    .with_hint("`ipset save` prints each set's create line before its entries"));
                };
                let elems = parse_entry(set.kind, entry, |m| err(entry, m))?;
                set.add(elems);
            }
            other => {
                return Err(err(other, format!("unknown command `{other}`"))
                    .with_hint("an `ipset save` dump has only `create` and `add` lines"));
            }
        }
    }
    Ok(sets)
}

/// One member as ipset prints it (`10.96.0.1,tcp:443`, `30080`, `10.0.0.0/8`), for a set of
/// type `kind`; `err` locates a complaint.
fn parse_entry(
    kind: SetType,
    entry: &str,
    err: impl Fn(String) -> InputError,
) -> Result<Vec<Elem>, InputError> {
    let dims = kind.dims();
    let parts: Vec<&str> = entry.split(',').collect();
    if parts.len() != dims.len() {
        return Err(err(format!(
            "`{entry}` has {} part(s); a {} entry has {}",
            parts.len(),
            kind.name(),
            dims.len()
        )));
    }
    let mut elems = Vec::new();
    for (p, d) in parts.iter().zip(dims) {
        let bad = || {
            err(format!(
                "`{p}` is not {}",
                match d {
                    Dim::Ip => "an IPv4 address",
                    Dim::Net => "an IPv4 network",
                    Dim::Port => "a port (PROTO:PORT, e.g. tcp:80)",
                }
            ))
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
                    Some(("tcp", n)) => (6, n),
                    Some(("udp", n)) => (17, n),
                    Some(("sctp", n)) => (132, n),
                    Some(_) => return Err(bad()),
                    None => (0, *p),
                };
                Elem::Port(proto, port.parse().map_err(|_| bad())?)
            }
        });
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

/// Read `ipset list`: a block per set - `Name:`, `Type:`, header lines, then `Members:` and
/// one member per line until a blank line.
pub fn parse_ipset_list(file: &str, src: &str) -> Result<Vec<IpSet>, InputError> {
    let mut sets: Vec<IpSet> = Vec::new();
    let mut name: Option<(String, usize)> = None;
    let mut members = false;
    for (n, raw) in src.lines().enumerate() {
        let line = n + 1;
        let text = raw.trim();
        let col = raw.len() - raw.trim_start().len() + 1;
        let err = |msg: String| InputError::at(file, src, line, col, msg);
        if text.is_empty() {
            members = false;
            continue;
        }
        if members {
            let Some(set) = sets.last_mut() else {
                return Err(err("a member before any set".into()));
            };
            // `ipset list` may add options after the member (timeout, comment).
            let entry = text.split_whitespace().next().unwrap_or("");
            let elems = parse_entry(set.kind, entry, err)?;
            set.add(elems);
            continue;
        }
        let Some((key, value)) = text.split_once(':') else {
            return Err(
                err(format!("expected `Key: value`, found `{text}`")).with_hint(
                    "an `ipset list` block has Name:, Type:, Header:, ... and Members: lines",
                ),
            );
        };
        let value = value.trim();
        match key {
            "Name" => {
                if sets.iter().any(|s| s.name == value) {
                    return Err(err(format!("set `{value}` is listed twice")));
                }
                name = Some((value.to_string(), line));
            }
            "Type" => {
                let Some((set_name, _)) = name.take() else {
                    return Err(err("`Type:` before the set's `Name:`".into()));
                };
                let Some(kind) = SetType::ALL
                    .iter()
                    .find(|(_, n)| *n == value)
                    .map(|(t, _)| *t)
                else {
                    let known: Vec<&str> = SetType::ALL.iter().map(|(_, n)| *n).collect();
                    return Err(err(format!("unknown set type `{value}`"))
                        .with_hint(format!("kpath knows {}", known.join(", "))));
                };
                sets.push(IpSet::new(&set_name, kind, None));
            }
            "Members" => {
                if name.is_some() || sets.is_empty() {
                    return Err(err("`Members:` of a set with no `Type:`".into()));
                }
                members = true;
            }
            "Revision" | "Header" | "Size in memory" | "References" | "Number of entries" => {}
            other => {
                return Err(err(format!("unknown line `{other}:` in an `ipset list` block"))
                    .with_hint("known: Name, Type, Revision, Header, Size in memory, References, Number of entries, Members"));
            }
        }
    }
    if let Some((n, at)) = name {
        return Err(InputError::at(
            file,
            src,
            at,
            1,
            format!("set `{n}` has no `Type:` line"),
        ));
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
        assert_eq!((e.line, e.column), (10, 1), "{e}");
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
