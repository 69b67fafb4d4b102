//! xt_TCPMSS: rewrite the MSS option of a TCP SYN (`tcpmss_mangle_packet`), so that peers
//! behind a smaller path MTU (a VXLAN overlay, a VPN) never send segments that do not fit.
//! `--set-mss N` asks for N; `--clamp-mss-to-pmtu` for the smaller of the route's MTU and
//! the reverse route's, less 40 (the IPv4 and TCP headers). The option is only ever
//! lowered; a SYN without one gets one, at most 536 (RFC 879's default, which the peer would
//! otherwise assume).

use crate::wire::{Ipv4, L4, TcpFlags};

/// The MSS option of a SYN or SYN-ACK (kind 2, length 4).
pub fn mss(ip: &Ipv4) -> Option<u16> {
    let L4::Tcp(t) = &ip.payload else { return None };
    let mut o = t.options.as_slice();
    while let [kind, rest @ ..] = o {
        match kind {
            0 => return None,
            1 => o = rest,
            2 if rest.len() >= 3 && rest[0] == 4 => {
                return Some(u16::from_be_bytes([rest[1], rest[2]]));
            }
            _ => {
                let len = usize::from(*rest.first()?);
                o = o.get(len.max(2)..)?;
            }
        }
    }
    None
}

/// `tcpmss_mangle_packet` on `ip`: the MSS option it now carries when it changed.
pub fn mangle(ip: &mut Ipv4, newmss: u16) -> Option<u16> {
    let L4::Tcp(t) = &mut ip.payload else {
        return None;
    };
    if t.flags.0 & TcpFlags::SYN == 0 {
        return None;
    }
    let mut i = 0;
    while i < t.options.len() {
        match t.options[i] {
            0 => break,
            1 => i += 1,
            2 if t.options.get(i + 1) == Some(&4) && i + 3 < t.options.len() => {
                let old = u16::from_be_bytes([t.options[i + 2], t.options[i + 3]]);
                if old <= newmss {
                    return None;
                }
                t.options[i + 2..i + 4].copy_from_slice(&newmss.to_be_bytes());
                return Some(newmss);
            }
            _ => {
                let len = usize::from(*t.options.get(i + 1)?);
                i += len.max(2);
            }
        }
    }
    // No MSS option: add one, unless the header is already at its 60 bytes.
    if t.options.len() + 4 > 40 {
        return None;
    }
    let mss = newmss.min(536);
    let mut o = vec![2, 4];
    o.extend_from_slice(&mss.to_be_bytes());
    o.extend_from_slice(&t.options);
    t.options = o;
    Some(mss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Tcp;

    fn syn(options: Vec<u8>, flags: u8) -> Ipv4 {
        Ipv4 {
            tos: 0,
            ident: 1,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            ttl: 64,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            payload: L4::Tcp(Tcp {
                sport: 1,
                dport: 2,
                seq: 1,
                ack: 0,
                flags: TcpFlags(flags),
                window: 64240,
                options,
                payload: vec![],
            }),
        }
    }

    #[test]
    fn only_lowers_and_adds_at_most_536() {
        let mut ip = syn(vec![2, 4, 0x05, 0xb4, 1, 1, 1, 1], TcpFlags::SYN);
        assert_eq!(mangle(&mut ip, 1410), Some(1410));
        let L4::Tcp(t) = &ip.payload else { panic!() };
        assert_eq!(&t.options[..4], &[2, 4, 0x05, 0x82]);
        // Already at or below: left alone.
        assert_eq!(mangle(&mut ip, 1460), None);
        // No option: one is added, at most 536.
        let mut bare = syn(vec![], TcpFlags::SYN);
        assert_eq!(mangle(&mut bare, 1410), Some(536));
        // Not a SYN: untouched.
        let mut ack = syn(vec![2, 4, 0x05, 0xb4], TcpFlags::ACK);
        assert_eq!(mangle(&mut ack, 1000), None);
    }
}
