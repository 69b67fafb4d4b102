//! An nf_tables ruleset as the kernel holds it (`net/netfilter/nf_tables_api.c`): tables
//! of a family, holding sets, maps and chains; base chains hooked in at a priority; rules
//! as lists of expressions. Values are kept as nft prints them (normalised: `mark or 1`
//! and `meta mark | 0x00000001` are one expression), so a ruleset read from `nft -f`
//! input and one read from `nft list ruleset` compare equal.

pub use super::expr::Element;
use std::collections::HashMap;
use std::fmt;

/// A table's address family. `ip6` and `inet` hold IPv6 too, which kpath does not model
/// yet; they are read so that a whole ruleset can be listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Ip,
    Ip6,
    Inet,
    Arp,
    Bridge,
    Netdev,
}

impl Family {
    pub const NAMES: [&'static str; 6] = ["ip", "ip6", "inet", "arp", "bridge", "netdev"];

    pub fn parse(s: &str) -> Option<Family> {
        Some(match s {
            "ip" => Family::Ip,
            "ip6" => Family::Ip6,
            "inet" => Family::Inet,
            "arp" => Family::Arp,
            "bridge" => Family::Bridge,
            "netdev" => Family::Netdev,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Family::NAMES[self as usize]
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub tables: Vec<Table>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub family: Family,
    pub name: String,
    pub comment: Option<String>,
    /// Sets and maps, in the order they were added (as `nft list` prints them).
    pub sets: Vec<Set>,
    pub chains: Vec<Chain>,
    /// Chains and sets by name and elements by key, built on the first lookup.
    pub lookup: Lookup,
}

/// A table's lookups, built on the first one: chains and sets by name, and each set's
/// exact keys (the kernel's hash and rbtree sets find an element without a scan), so that
/// a walk costs the same at 10,000 Services as at 10. A table is not changed once walked
/// (a namespace holds it shared); a copy starts without lookups.
#[derive(Default)]
pub struct Lookup(std::sync::OnceLock<Index>);

struct Index {
    chains: HashMap<String, usize>,
    sets: HashMap<String, usize>,
    /// Per set (by position): exact keys to the element, and the elements that are not
    /// exact (prefixes, ranges, flags), tried in order after.
    elements: Vec<SetIndex>,
}

/// One set's exact keys (to the element's position) and its other elements' positions.
type SetIndex = (HashMap<Vec<Exact>, usize>, Vec<usize>);

/// One part of a key as compared exactly: an address, a number (protocol names are their
/// numbers, as nft stores them) or a name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Exact {
    Addr(std::net::Ipv4Addr),
    Num(u64),
    Name(String),
}

impl Exact {
    /// A constant's exact form; None for a prefix, range or flag list.
    pub fn of(v: &super::expr::Value) -> Option<Exact> {
        use super::expr::Value;
        Some(match v {
            Value::Addr(a) => Exact::Addr(*a),
            Value::Number(n) => Exact::Num(*n),
            Value::Symbol(s) => match protocol_number(s) {
                Some(n) => Exact::Num(n),
                None => Exact::Name(s.clone()),
            },
            _ => return None,
        })
    }
}

/// Protocol names (`/etc/protocols`) as nft reads them for `meta l4proto tcp`.
pub fn protocol_number(s: &str) -> Option<u64> {
    Some(match s {
        "icmp" => 1,
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        _ => return None,
    })
}

impl Clone for Lookup {
    fn clone(&self) -> Lookup {
        Lookup::default()
    }
}

/// Lookups never make two tables differ.
impl PartialEq for Lookup {
    fn eq(&self, _: &Lookup) -> bool {
        true
    }
}

impl Eq for Lookup {}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lookup")
    }
}

impl Ruleset {
    /// The ruleset with what no listing promises put in one order: elements (the kernel
    /// lists a hash set's in hash order), sets and chains by name, no source lines, and no
    /// set sizes (the kernel gives a dynamic set a default one). What is left is what two
    /// listings of one ruleset must share, rule order within each chain included.
    pub fn unordered(mut self) -> Ruleset {
        for t in &mut self.tables {
            for s in &mut t.sets {
                s.elements.sort_by_key(|e| format!("{e:?}"));
                s.size = None;
            }
            for c in &mut t.chains {
                for r in &mut c.rules {
                    r.line = 0;
                }
            }
            t.sets.sort_by(|a, b| a.name.cmp(&b.name));
            t.chains.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self
    }
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.index().chains.get(name).map(|i| &self.chains[*i])
    }

    pub fn set(&self, name: &str) -> Option<&Set> {
        self.index().sets.get(name).map(|i| &self.sets[*i])
    }

    /// The first element of set `name` that holds `key`: an exact key by hash, else the
    /// prefixes and ranges in order (`holds` says whether one of those holds the key).
    pub fn find_element(
        &self,
        name: &str,
        key: Option<&[Exact]>,
        holds: impl Fn(&Element) -> bool,
    ) -> Option<&Element> {
        let ix = self.index();
        let si = *ix.sets.get(name)?;
        let set = &self.sets[si];
        let (exact, rest) = &ix.elements[si];
        match key {
            Some(k) => exact
                .get(k)
                .map(|i| &set.elements[*i])
                .or_else(|| rest.iter().map(|i| &set.elements[*i]).find(|e| holds(e))),
            None => set.elements.iter().find(|e| holds(e)),
        }
    }

    fn index(&self) -> &Index {
        self.lookup.0.get_or_init(|| Index {
            chains: self
                .chains
                .iter()
                .enumerate()
                .rev()
                .map(|(i, c)| (c.name.clone(), i))
                .collect(),
            sets: self
                .sets
                .iter()
                .enumerate()
                .rev()
                .map(|(i, s)| (s.name.clone(), i))
                .collect(),
            elements: self
                .sets
                .iter()
                .map(|s| {
                    let mut exact = HashMap::new();
                    let mut rest = Vec::new();
                    for (i, e) in s.elements.iter().enumerate() {
                        match e.key.iter().map(Exact::of).collect::<Option<Vec<_>>>() {
                            Some(k) => {
                                exact.entry(k).or_insert(i);
                            }
                            None => rest.push(i),
                        }
                    }
                    (exact, rest)
                })
                .collect(),
        })
    }
}

/// A chain's type (`type filter|nat|route`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
    Route,
}

impl ChainType {
    pub fn name(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
        }
    }
}

/// Where a base chain is hooked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NftHook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
    Ingress,
}

impl NftHook {
    pub fn parse(s: &str) -> Option<NftHook> {
        Some(match s {
            "prerouting" => NftHook::Prerouting,
            "input" => NftHook::Input,
            "forward" => NftHook::Forward,
            "output" => NftHook::Output,
            "postrouting" => NftHook::Postrouting,
            "ingress" => NftHook::Ingress,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            NftHook::Prerouting => "prerouting",
            NftHook::Input => "input",
            NftHook::Forward => "forward",
            NftHook::Output => "output",
            NftHook::Postrouting => "postrouting",
            NftHook::Ingress => "ingress",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseChain {
    pub kind: ChainType,
    pub hook: NftHook,
    pub priority: i32,
    /// The chain's policy: true accept (the default), false drop.
    pub accept: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub comment: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub exprs: Vec<super::expr::Stmt>,
    pub comment: Option<String>,
    /// Where the rule was read (line), for messages.
    pub line: usize,
}

/// A set or, with `data`, a map (a verdict map when the data is `verdict`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub name: String,
    /// The key's data types, concatenated with ` . ` (`ipv4_addr . inet_proto . inet_service`).
    pub key: Vec<String>,
    /// A map's data type (`verdict`, `ipv4_addr`, ...).
    pub data: Option<String>,
    pub flags: Vec<String>,
    /// Default element timeout, in seconds.
    pub timeout: Option<u64>,
    pub size: Option<u64>,
    pub comment: Option<String>,
    pub elements: Vec<Element>,
}

impl Set {
    pub fn is_map(&self) -> bool {
        self.data.is_some()
    }
}

/// A duration as nft prints it: `3h`, `1h30m`, `10s`, `0s`.
pub fn fmt_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut left = secs;
    for (unit, n) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if left >= n {
            out.push_str(&format!("{}{unit}", left / n));
            left %= n;
        }
    }
    out
}

/// `10800s`, `3h`, `1h30m`, `2d`, `500ms` (rounded down to seconds). None: not a duration.
pub fn parse_duration(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'd' => 86400,
            'h' => 3600,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0
            }
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        any = true;
    }
    if !num.is_empty() {
        // A bare number is seconds.
        total = total.checked_add(num.parse().ok()?)?;
        any = true;
    }
    any.then_some(total)
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_as_nft_does() {
        assert_eq!(parse_duration("10800s"), Some(10800));
        assert_eq!(parse_duration("3h"), Some(10800));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("1500ms"), Some(0));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(fmt_duration(10800), "3h");
        assert_eq!(fmt_duration(5430), "1h30m30s");
    }
}
