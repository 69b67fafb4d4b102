//! IPv4 prefixes (`10.244.1.0/24`) as `ip` prints and parses them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 address with a prefix length. `addr` keeps host bits (an interface address
/// `10.244.1.1/24`); `network()` clears them (the route `10.244.1.0/24`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub const DEFAULT: Ipv4Net = Ipv4Net {
        addr: Ipv4Addr::UNSPECIFIED,
        prefix: 0,
    };

    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Ipv4Net { addr, prefix }
    }

    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    pub fn network(&self) -> Ipv4Net {
        Ipv4Net::new(
            Ipv4Addr::from(u32::from(self.addr) & self.mask()),
            self.prefix,
        )
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }

    /// True when the two prefixes share at least one address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network().addr) || other.contains(self.network().addr)
    }

    /// True when `other` lies wholly inside `self`.
    pub fn covers(&self, other: &Ipv4Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    /// The `n`th address of the network (`10.244.1.0/24`.nth(1) = 10.244.1.1).
    /// How many addresses the network holds (2^32 for /0 saturates at u32::MAX).
    pub fn size(&self) -> u32 {
        1u32.checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(u32::MAX)
    }

    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from((u32::from(self.addr) & self.mask()).wrapping_add(n))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').ok_or_else(|| {
            format!("`{s}` is not a CIDR prefix (expected ADDRESS/LENGTH, like 10.244.0.0/16)")
        })?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("`{a}` is not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("`{p}` is not a prefix length (0 to 32)"))?;
        Ok(Ipv4Net { addr, prefix })
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Ipv4Net {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_contains_and_network() {
        let n: Ipv4Net = "10.244.1.1/24".parse().unwrap();
        assert_eq!(n.network().to_string(), "10.244.1.0/24");
        assert!(n.contains("10.244.1.200".parse().unwrap()));
        assert!(!n.contains("10.244.2.1".parse().unwrap()));
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 244, 1, 255));
        assert_eq!(n.nth(1), Ipv4Addr::new(10, 244, 1, 1));
        let all: Ipv4Net = "10.244.0.0/16".parse().unwrap();
        assert!(all.covers(&n) && !n.covers(&all));
        assert!(all.overlaps(&n) && n.overlaps(&all));
        assert!(!n.overlaps(&"10.244.2.0/24".parse().unwrap()));
        assert_eq!(Ipv4Net::DEFAULT.mask(), 0);
    }

    #[test]
    fn rejects_bad_text() {
        assert!("10.244.0.0".parse::<Ipv4Net>().is_err());
        assert!("10.244.0.0/33".parse::<Ipv4Net>().is_err());
        assert!("10.244.0/16".parse::<Ipv4Net>().is_err());
    }
}
