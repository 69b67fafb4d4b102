//! One-line, tcpdump-like summaries for the trace (80 columns): addresses, the protocol
//! and its key fields, then `ttl` and the IP total length. Not a dissector.

use super::*;
use std::fmt::{self, Display, Formatter};
use std::str::FromStr;

impl Display for Mac {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // By hand: walks print MACs in most steps' notes, and six `{:02x}` cost more.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = [b':'; 17];
        for (i, b) in self.0.iter().enumerate() {
            s[i * 3] = HEX[usize::from(b >> 4)];
            s[i * 3 + 1] = HEX[usize::from(b & 15)];
        }
        f.pad(std::str::from_utf8(&s).map_err(|_| fmt::Error)?)
    }
}

/// A MAC address string was not six `:`-separated hex octets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?} (want aa:bb:cc:dd:ee:ff)")]
pub struct ParseMacError(pub String);

impl FromStr for Mac {
    type Err = ParseMacError;
    /// Six `:`-separated octets of one or two hex digits, any case.
    fn from_str(s: &str) -> Result<Mac, ParseMacError> {
        let err = || ParseMacError(s.to_string());
        let mut mac = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut mac {
            let part = parts.next().ok_or_else(err)?;
            let hex_digits =
                (1..=2).contains(&part.len()) && part.bytes().all(|c| c.is_ascii_hexdigit());
            if !hex_digits {
                return Err(err());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        match parts.next() {
            None => Ok(Mac(mac)),
            Some(_) => Err(err()),
        }
    }
}

impl Display for TcpFlags {
    /// tcpdump's letters: F S R P U (then E W for ECN), `.` for ACK, `none` for no bits.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        const LETTERS: [(u8, char); 8] = [
            (TcpFlags::FIN, 'F'),
            (TcpFlags::SYN, 'S'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::URG, 'U'),
            (0x40, 'E'),
            (0x80, 'W'),
            (TcpFlags::ACK, '.'),
        ];
        for (bit, c) in LETTERS {
            if self.has(bit) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl Display for Frame {
    /// `<src> > <dst>, IPv4, <ipv4 summary>` or `<src> > <dst>, ARP ...`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} > {}, ", self.src, self.dst)?;
        match &self.payload {
            L3::Ipv4(ip) => write!(f, "IPv4, {ip}"),
            L3::Arp(arp) => write!(f, "{arp}"),
        }
    }
}

impl Display for Arp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.op {
            ArpOp::Request => write!(f, "ARP who-has {} tell {}", self.target_ip, self.sender_ip),
            ArpOp::Reply => write!(f, "ARP reply {} is-at {}", self.sender_ip, self.sender_mac),
        }
    }
}

impl Display for Ipv4 {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (src, dst) = (self.src, self.dst);
        match &self.payload {
            L4::Icmp(icmp) => write!(f, "{src} > {dst}: ICMP {}", icmp.msg)?,
            // The first piece holds the ports (as tcpdump shows them); the others only bytes.
            L4::Fragment(fr) => {
                let proto = fr.protocol.name().to_uppercase();
                match (&fr.data[..], self.frag_offset, fr.protocol.has_ports()) {
                    ([a, b, c, d, ..], 0, true) => write!(
                        f,
                        "{src}.{} > {dst}.{}: {proto} fragment",
                        u16::from_be_bytes([*a, *b]),
                        u16::from_be_bytes([*c, *d])
                    )?,
                    _ => write!(f, "{src} > {dst}: {proto} fragment")?,
                }
            }
            L4::Tcp(t) => {
                write!(
                    f,
                    "{src}.{} > {dst}.{}: TCP [{}] seq {}",
                    t.sport, t.dport, t.flags, t.seq
                )?;
                if t.flags.has(TcpFlags::ACK) {
                    write!(f, " ack {}", t.ack)?;
                }
            }
            L4::Udp(u) => {
                write!(f, "{src}.{} > {dst}.{}: ", u.sport, u.dport)?;
                if let UdpPayload::Vxlan(v) = &u.payload {
                    // The inner frame carries the interesting ttl/len; keep the line short.
                    return write!(f, "VXLAN vni {} [inner: {}]", v.vni, v.inner);
                }
                match &u.payload {
                    UdpPayload::Dns(d) => write!(f, "DNS {d}")?,
                    _ => f.write_str("UDP")?,
                }
            }
        }
        write!(f, ", ttl {}, len {}", self.ttl, self.total_len())?;
        if self.more_frags || self.frag_offset != 0 {
            // tcpdump -v style: ident:offset in bytes, `+` while more fragments follow.
            let more = if self.more_frags { "+" } else { "" };
            write!(
                f,
                ", frag {}:{}{more}",
                self.ident,
                u32::from(self.frag_offset) * 8
            )?;
        }
        Ok(())
    }
}

impl Display for IcmpMessage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            IcmpMessage::EchoRequest { ident, seq } => {
                write!(f, "echo request id {ident} seq {seq}")
            }
            IcmpMessage::EchoReply { ident, seq } => write!(f, "echo reply id {ident} seq {seq}"),
            // RFC 792 / RFC 1191 code names, shortened.
            IcmpMessage::DestUnreachable { code, next_hop_mtu } => match code {
                0 => f.write_str("net unreachable"),
                1 => f.write_str("host unreachable"),
                2 => f.write_str("protocol unreachable"),
                3 => f.write_str("port unreachable"),
                4 => write!(f, "frag needed, mtu {next_hop_mtu}"),
                _ => write!(f, "unreachable code {code}"),
            },
            IcmpMessage::TimeExceeded { code: 0 } => f.write_str("time exceeded in-transit"),
            IcmpMessage::TimeExceeded { code } => write!(f, "time exceeded code {code}"),
            IcmpMessage::Redirect { code: 1, gateway } => write!(f, "redirect host via {gateway}"),
            IcmpMessage::Redirect { code, gateway } => {
                write!(f, "redirect code {code} via {gateway}")
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    /// A MAC as text, `0a:58:0a:f4:00:01` (a scenario's `vtepMAC:`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "`{s}` is not a MAC address (six hex octets, e.g. 0e:00:ac:1f:00:0b)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn mac_round_trips_and_rejects() {
        assert_eq!(POD_A.to_string(), "0a:58:0a:f4:01:02");
        assert_eq!("0A:58:a:f4:01:02".parse(), Ok(POD_A));
        assert_eq!(Mac::BROADCAST.to_string().parse(), Ok(Mac::BROADCAST));
        for bad in [
            "",
            "0a:58:0a:f4:01",
            "0a:58:0a:f4:01:02:03",
            "0a:58:0a:f4:01:0g",
            "0a:58:0a:f4::02",
            "+a:58:0a:f4:01:02",
            "0a-58-0a-f4-01-02",
            "100:58:0a:f4:01:02",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tcp_flags_like_tcpdump() {
        let cases = [
            (0, "none"),
            (TcpFlags::SYN, "S"),
            (TcpFlags::SYN | TcpFlags::ACK, "S."),
            (TcpFlags::RST | TcpFlags::ACK, "R."),
            (TcpFlags::PSH | TcpFlags::ACK, "P."),
            (TcpFlags::FIN | TcpFlags::ACK, "F."),
            (TcpFlags::ACK, "."),
            (TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK, "FP."),
        ];
        for (bits, s) in cases {
            assert_eq!(TcpFlags(bits).to_string(), s);
        }
    }

    #[test]
    fn summaries() {
        let ip = |mut f: Frame| ipv4_of(&mut f).to_string();
        assert_eq!(
            ip(ping(vec![0; 56])),
            "10.244.1.2 > 10.244.2.2: ICMP echo request id 1 seq 1, ttl 64, len 84"
        );
        assert_eq!(
            ip(syn_frame()),
            "10.244.1.2.40000 > 10.244.2.2.80: TCP [S] seq 1, ttl 64, len 60"
        );
        assert_eq!(
            ip(udp_frame()),
            "10.244.1.2.40000 > 10.96.0.10.53: UDP, ttl 64, len 33"
        );
        assert_eq!(
            ip(vxlan_frame()),
            "172.31.0.11.51234 > 172.31.0.12.8472: VXLAN vni 1 [inner: 0a:58:0a:f4:01:02 > \
             0a:58:0a:f4:01:01, IPv4, 10.244.1.2 > 10.244.2.2: ICMP echo request id 1 seq 1, \
             ttl 64, len 36]"
        );
        assert_eq!(
            udp_frame().to_string(),
            "0a:58:0a:f4:01:02 > 0a:58:0a:f4:01:01, IPv4, 10.244.1.2.40000 > 10.96.0.10.53: \
             UDP, ttl 64, len 33"
        );
        assert_eq!(
            arp_frame().to_string(),
            "0a:58:0a:f4:01:02 > ff:ff:ff:ff:ff:ff, ARP who-has 10.244.1.1 tell 10.244.1.2"
        );
        let reply = Arp {
            op: ArpOp::Reply,
            ..arp_sample()
        };
        assert_eq!(
            reply.to_string(),
            "ARP reply 10.244.1.2 is-at 0a:58:0a:f4:01:02"
        );
    }

    #[test]
    fn icmp_errors_acks_and_fragments() {
        let mut f = syn_frame();
        let t = tcp_of(&mut f);
        (t.flags, t.ack) = (TcpFlags(TcpFlags::SYN | TcpFlags::ACK), 2);
        let ip = ipv4_of(&mut f);
        assert!(ip.to_string().contains("TCP [S.] seq 1 ack 2, ttl 64"));
        (ip.more_frags, ip.frag_offset) = (true, 185);
        assert!(ip.to_string().ends_with("len 60, frag 4661:1480+"), "{ip}");
        let msg = IcmpMessage::DestUnreachable {
            code: 4,
            next_hop_mtu: 1450,
        };
        assert_eq!(msg.to_string(), "frag needed, mtu 1450");
        assert_eq!(
            IcmpMessage::TimeExceeded { code: 0 }.to_string(),
            "time exceeded in-transit"
        );
    }

    fn arp_sample() -> Arp {
        match arp_frame().payload {
            L3::Arp(a) => a,
            L3::Ipv4(_) => unreachable!(),
        }
    }
}
