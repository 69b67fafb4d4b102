//! IP protocol numbers (`IPPROTO_*` in include/uapi/linux/in.h): the one protocol type of
//! kpath. Packets, conntrack tuples, sockets, iptables' `-p`, IPVS services, ipset entries
//! and the scenario's `protocol:` keys all speak it.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub enum IpProtocol {
    Icmp,
    /// Kubernetes' default protocol for a port, so the default here too.
    #[default]
    Tcp,
    Udp,
    Sctp,
    /// Any other number (0 is iptables' `-p all`).
    Other(u8),
}

impl IpProtocol {
    /// The number in the IPv4 header's protocol field.
    pub const fn number(self) -> u8 {
        match self {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Sctp => 132,
            IpProtocol::Other(n) => n,
        }
    }

    pub const fn from_number(n: u8) -> IpProtocol {
        match n {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            132 => IpProtocol::Sctp,
            n => IpProtocol::Other(n),
        }
    }

    /// The lowercase name (`tcp`), as `/etc/protocols`, iptables and ipvsadm write it;
    /// `other` for a number without one here (`Display` prints the number instead).
    pub fn name(self) -> &'static str {
        match self {
            IpProtocol::Icmp => "icmp",
            IpProtocol::Tcp => "tcp",
            IpProtocol::Udp => "udp",
            IpProtocol::Sctp => "sctp",
            IpProtocol::Other(_) => "other",
        }
    }

    /// TCP and UDP (and SCTP) have ports; ICMP has none.
    pub fn has_ports(self) -> bool {
        matches!(self, IpProtocol::Tcp | IpProtocol::Udp | IpProtocol::Sctp)
    }
}

impl From<u8> for IpProtocol {
    fn from(n: u8) -> Self {
        IpProtocol::from_number(n)
    }
}

impl fmt::Display for IpProtocol {
    /// The name, or the number when it has none here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProtocol::Other(n) => write!(f, "{n}"),
            p => f.write_str(p.name()),
        }
    }
}

/// Serialized as the number the kernel stores (`"proto": 6`).
impl Serialize for IpProtocol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.number())
    }
}

/// The names a scenario may give (`protocol: tcp`; Kubernetes' `TCP` too): the protocols
/// kpath sends and serves. (Read through an enum, so YAML errors point at the value.)
impl<'de> Deserialize<'de> for IpProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        enum Name {
            #[serde(rename = "tcp", alias = "TCP")]
            Tcp,
            #[serde(rename = "udp", alias = "UDP")]
            Udp,
            #[serde(rename = "icmp", alias = "ICMP")]
            Icmp,
        }
        Ok(match Name::deserialize(d)? {
            Name::Tcp => IpProtocol::Tcp,
            Name::Udp => IpProtocol::Udp,
            Name::Icmp => IpProtocol::Icmp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::IpProtocol;

    #[test]
    fn numbers_and_names_round_trip() {
        for n in 0..=255u8 {
            assert_eq!(IpProtocol::from(n).number(), n);
        }
        assert_eq!(IpProtocol::from(6), IpProtocol::Tcp);
        assert_eq!(IpProtocol::Udp.to_string(), "udp");
        assert_eq!(IpProtocol::Other(47).to_string(), "47");
    }
}
