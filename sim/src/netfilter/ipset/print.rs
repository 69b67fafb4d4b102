//! `IpSet` and its members as `ipset save` prints them.

use super::{Elem, IpSet, SetType};

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

impl IpSet {
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
                let flag = if self.is_nomatch(e) { " nomatch" } else { "" };
                format!("add {} {}{flag}\n", self.name, text.join(","))
            })
            .collect();
        lines.sort();
        out.extend(lines);
        out
    }
}
