//! ipsets (`net/netfilter/ipset/`): the sets `-m set --match-set NAME DIRS` consults.
//! kube-proxy's IPVS mode keeps Services in them (KUBE-CLUSTER-IP is hash:ip,port,
//! KUBE-LOOP-BACK hash:ip,port,ip, KUBE-NODE-PORT-TCP bitmap:port, ...).
//!
//! A set is read from and printed as `ipset save` text: `create NAME TYPE [options]` then
//! `add NAME ENTRY` lines, an entry's dimensions separated by commas (`10.96.0.10,udp:53`).

mod list;
mod print;
mod save;
mod syntax;

pub use list::parse_ipset_list;
pub use save::parse_ipset_save;

use crate::diag::InputError;
use crate::wire::{IpProtocol, Ipv4, Ipv4Net};
use std::collections::HashSet;
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    Ip(Ipv4Addr),
    Net(Ipv4Net),
    /// A port with its protocol (tcp, udp, sctp); bitmap:port has none.
    Port(Option<IpProtocol>, u16),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSet {
    pub name: String,
    pub kind: SetType,
    /// What the set is for, as kube-proxy describes it (not part of `ipset save`).
    pub comment: Option<String>,
    /// Entries in the order they were added (the order `ipset save` prints here).
    entries: Vec<Vec<Elem>>,
    /// The same entries, so that adding one does not scan the list (`-exist`).
    members: HashSet<Vec<Elem>>,
    /// The entries added with `nomatch` (a set with a net dimension): a packet whose most
    /// specific matching entry is one of these is not in the set.
    nomatch: HashSet<Vec<Elem>>,
}

impl IpSet {
    pub fn new(name: &str, kind: SetType, comment: Option<&str>) -> IpSet {
        IpSet {
            name: name.to_string(),
            kind,
            comment: comment.map(str::to_string),
            entries: Vec::new(),
            members: HashSet::new(),
            nomatch: HashSet::new(),
        }
    }

    /// Does the set type have a net dimension (where `nomatch` means something)?
    pub fn has_net(&self) -> bool {
        self.kind.dims().contains(&Dim::Net)
    }

    /// Whether an entry was added with `nomatch`.
    pub fn is_nomatch(&self, entry: &[Elem]) -> bool {
        self.nomatch.contains(entry)
    }

    /// Add an entry with or without `nomatch`. Under `-exist` adding an entry again
    /// replaces its flag: the last add wins (as `ipset restore -exist` leaves it).
    pub fn add_flagged(&mut self, entry: Vec<Elem>, nomatch: bool) {
        if nomatch {
            self.nomatch.insert(entry.clone());
        } else {
            self.nomatch.remove(&entry);
        }
        self.add(entry);
    }

    /// The entries, in the order they were added.
    pub fn entries(&self) -> &[Vec<Elem>] {
        &self.entries
    }

    /// Add an entry unless it is there already (`ipset add -exist`).
    pub fn add(&mut self, entry: Vec<Elem>) {
        if !self.members.contains(&entry) {
            self.members.insert(entry.clone());
            self.entries.push(entry);
        }
    }

    /// `ip_set_test` through the type's kadt: the packet's values for each dimension,
    /// taken from its source or destination as `dirs` says (true = src), against every
    /// entry. A dimension past the end of `dirs` repeats the last direction, as
    /// xt_set does for fewer flags than dimensions.
    pub fn test(&self, ip: &Ipv4, dirs: &[bool]) -> bool {
        let (sport, dport) = ip.l4_ports().unwrap_or_default();
        let proto = Some(ip.protocol());
        let value = |i: usize, d: Dim| {
            let src = dirs.get(i).or(dirs.last()).copied().unwrap_or(false);
            match d {
                Dim::Ip | Dim::Net => Elem::Ip(if src { ip.src } else { ip.dst }),
                Dim::Port => Elem::Port(proto, if src { sport } else { dport }),
            }
        };
        let dims = self.kind.dims();
        let holds = |e: &Vec<Elem>| {
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
        };
        if self.nomatch.is_empty() {
            return self.entries.iter().any(holds);
        }
        // mtype_test_cidrs: the prefixes present are tried from the most specific; the
        // first at which an entry holds the packet decides, and a nomatch entry says "not
        // in the set" (its -ENOTEMPTY becomes a miss in ip_set_test).
        let prefix = |e: &Vec<Elem>| -> u32 {
            e.iter()
                .map(|x| match x {
                    Elem::Net(n) => u32::from(n.prefix),
                    _ => 0,
                })
                .sum()
        };
        self.entries
            .iter()
            .filter(|e| holds(e))
            .max_by_key(|e| prefix(e))
            .is_some_and(|e| !self.nomatch.contains(e))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{L4, Tcp, TcpFlags};

    pub(super) fn syn(src: &str, dst: &str, sport: u16, dport: u16) -> Ipv4 {
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

    pub(super) const SAVE: &str = "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 comment
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

    /// The kernel's longest-prefix rule for hash:net with `nomatch` (ipset's tests/nethash.t
    /// and the lab: docs/design/kube-router-netpol.md 4.3).
    #[test]
    fn the_most_specific_entry_decides_and_nomatch_says_no() {
        let text = "create S hash:net family inet hashsize 1024 maxelem 65536
add S 10.0.0.0/8
add S 10.0.0.0/28 nomatch
add S 10.0.0.0/24
";
        let sets = parse_ipset_save("sets", text).unwrap();
        let s = &sets[0];
        let inside = |ip: &str| s.test(&syn(ip, "10.244.0.1", 1, 80), &[true]);
        assert!(!inside("10.0.0.5"), "the /28 nomatch is the most specific");
        assert!(inside("10.0.0.20"), "the /24 holds it");
        assert!(inside("10.1.0.1"), "the /8 holds it");
        assert!(!inside("11.0.0.1"));
        // Printed back with its flag; adding it again without the flag clears it.
        assert!(s.save().contains("add S 10.0.0.0/28 nomatch\n"));
        let mut again = s.clone();
        again.add_flagged(vec![Elem::Net("10.0.0.0/28".parse().unwrap())], false);
        assert!(again.test(&syn("10.0.0.5", "10.244.0.1", 1, 80), &[true]));
    }
}
