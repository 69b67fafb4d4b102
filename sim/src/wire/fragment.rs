//! IPv4 fragmentation and reassembly on the bytes (RFC 791 3.2): how `ip_do_fragment` cuts
//! a datagram and how `ip_frag_reasm` puts the pieces back. The engine decides when; this
//! file only knows the arithmetic.

use super::{Fragment, IPV4_HEADER_LEN, Ipv4, L4, WireError};

impl Ipv4 {
    /// `ip_is_fragment`: MF set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// The transport ports, where the packet shows them: a TCP or UDP message, or the first
    /// fragment of one (whose bytes begin with the header; iptables' `--dport` reads it
    /// there, and matches no later fragment).
    pub fn l4_ports(&self) -> Option<(u16, u16)> {
        match &self.payload {
            L4::Tcp(t) => Some((t.sport, t.dport)),
            L4::Udp(u) => Some((u.sport, u.dport)),
            L4::Icmp(_) => None,
            L4::Fragment(f) => match (&f.data[..], self.frag_offset) {
                ([a, b, c, d, ..], 0) if f.protocol.has_ports() => {
                    Some((u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d])))
                }
                _ => None,
            },
        }
    }

    /// The offset of this piece in the datagram's payload, in bytes.
    pub fn frag_offset_bytes(&self) -> usize {
        usize::from(self.frag_offset) * 8
    }

    /// `ip_do_fragment`'s slow path: pieces of at most `mtu` bytes each. Every piece but
    /// the last carries a multiple of 8 payload bytes (offsets count in 8-byte units) and MF;
    /// each copies the header (ident, TTL, TOS, DF). A fragment cut again keeps its offset
    /// and, if it was not the last, MF on its last piece. A datagram that fits is returned
    /// whole. `mtu` must leave room for the header and 8 bytes.
    pub fn fragment(&self, mtu: usize) -> Vec<Ipv4> {
        if self.total_len() <= mtu {
            return vec![self.clone()];
        }
        let bytes = self.emit();
        let body = &bytes[IPV4_HEADER_LEN..];
        let room = mtu.saturating_sub(IPV4_HEADER_LEN).max(8);
        let protocol = self.protocol();
        let base = self.frag_offset_bytes();
        let mut out = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let left = body.len() - at;
            let len = if left > room { room & !7 } else { left };
            let last = at + len == body.len();
            out.push(Ipv4 {
                more_frags: !last || self.more_frags,
                frag_offset: ((base + at) / 8) as u16,
                payload: L4::Fragment(Fragment {
                    protocol,
                    data: body[at..at + len].to_vec(),
                }),
                ..self.clone()
            });
            at += len;
        }
        out
    }
}

/// What a set of fragments of one datagram adds up to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reassembly {
    /// Pieces are still missing: `have` payload bytes so far.
    Incomplete { have: usize },
    /// Two pieces overlap: since Linux 4.19 (`ip_frag_queue`, after RFC 5722's rule for
    /// IPv6) the whole queue is discarded.
    Overlap,
    /// Every byte arrived: the datagram, and its largest fragment's total length
    /// (`IPCB(skb)->frag_max_size`, which a router keeps to cut it again the same way).
    Complete {
        datagram: Box<Ipv4>,
        max_size: usize,
    },
}

/// `ip_frag_reasm`: put `pieces` (one datagram's: same source, destination, protocol and
/// ident, in any order) back together. The header is the first piece's, with MF and the
/// offset cleared, and DF only if the largest piece had it. The payload is parsed again
/// (checksums verified); `vxlan_ports` says which UDP ports carry VXLAN.
pub fn reassemble(pieces: &[Ipv4], vxlan_ports: &[u16]) -> Result<Reassembly, WireError> {
    let mut sorted: Vec<&Ipv4> = pieces.iter().collect();
    sorted.sort_by_key(|p| p.frag_offset_bytes());
    let mut next = 0usize;
    let mut body = Vec::new();
    let mut last_seen = false;
    for p in &sorted {
        let L4::Fragment(f) = &p.payload else {
            continue;
        };
        let off = p.frag_offset_bytes();
        if off < next {
            return Ok(Reassembly::Overlap);
        }
        if off > next {
            return Ok(Reassembly::Incomplete { have: body.len() });
        }
        body.extend_from_slice(&f.data);
        next = off + f.data.len();
        last_seen = !p.more_frags;
    }
    if !last_seen {
        return Ok(Reassembly::Incomplete { have: body.len() });
    }
    let first = sorted[0];
    let max_size = sorted.iter().map(|p| p.total_len()).max().unwrap_or(0);
    let max_df = sorted
        .iter()
        .filter(|p| p.dont_frag)
        .map(|p| p.total_len())
        .max()
        .unwrap_or(0);
    let protocol = first.protocol();
    let payload = L4::parse(protocol, &body, first.src, first.dst, vxlan_ports)?;
    let datagram = Ipv4 {
        dont_frag: max_df == max_size,
        more_frags: false,
        frag_offset: 0,
        payload,
        ..first.clone()
    };
    Ok(Reassembly::Complete {
        datagram: Box::new(datagram),
        max_size,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::wire::{Frame, L3, Udp, UdpPayload};

    fn udp(len: usize) -> Ipv4 {
        let mut f = ping(vec![]);
        let mut ip = ipv4_of(&mut f).clone();
        ip.dont_frag = false;
        ip.payload = L4::Udp(Udp {
            sport: 40000,
            dport: 53,
            payload: UdpPayload::Data((0..len).map(|i| i as u8).collect()),
        });
        ip
    }

    #[test]
    fn a_3000_byte_datagram_on_1500_is_cut_like_the_kernel() {
        // 3008 payload bytes (8 UDP + 3000): 1480 + 1480 + 48.
        let ip = udp(3000);
        let parts = ip.fragment(1500);
        let sizes: Vec<(usize, usize, bool)> = parts
            .iter()
            .map(|p| (p.total_len(), p.frag_offset_bytes(), p.more_frags))
            .collect();
        assert_eq!(
            sizes,
            [(1500, 0, true), (1500, 1480, true), (68, 2960, false)]
        );
        assert!(parts.iter().all(|p| p.ident == ip.ident && p.ttl == ip.ttl));
    }

    #[test]
    fn odd_mtus_round_every_piece_but_the_last_down_to_8_bytes() {
        // flannel's 1450: 1430 bytes of room, 1424 used (1444-byte fragments).
        let parts = udp(3000).fragment(1450);
        assert_eq!(parts[0].total_len(), 1444);
        assert!(parts.iter().all(|p| p.total_len() <= 1450));
        assert!(
            parts[..parts.len() - 1]
                .iter()
                .all(|p| (p.total_len() - 20) % 8 == 0)
        );
    }

    #[test]
    fn fragments_emit_and_parse_back_and_reassemble_in_any_order() {
        let ip = udp(5000);
        let mut parts = ip.fragment(1400);
        for p in &parts {
            let frame = Frame {
                dst: POD_A,
                src: POD_A,
                payload: L3::Ipv4(p.clone()),
            };
            assert_eq!(Frame::parse(&frame.emit(), &[]).unwrap(), frame);
        }
        parts.reverse();
        let Reassembly::Complete { datagram, max_size } = reassemble(&parts, &[]).unwrap() else {
            panic!("incomplete")
        };
        assert_eq!(*datagram, ip);
        assert_eq!(max_size, 1396);
    }

    #[test]
    fn a_missing_piece_leaves_the_queue_incomplete_and_an_overlap_discards_it() {
        let parts = udp(3000).fragment(1500);
        assert_eq!(
            reassemble(&[parts[0].clone(), parts[2].clone()], &[]).unwrap(),
            Reassembly::Incomplete { have: 1480 }
        );
        assert_eq!(
            reassemble(&parts[..2], &[]).unwrap(),
            Reassembly::Incomplete { have: 2960 }
        );
        let mut bad = parts[1].clone();
        bad.frag_offset -= 1;
        assert_eq!(
            reassemble(&[parts[0].clone(), bad, parts[2].clone()], &[]).unwrap(),
            Reassembly::Overlap
        );
    }

    #[test]
    fn cutting_a_fragment_again_keeps_its_place_and_its_mf() {
        let parts = udp(3000).fragment(1500);
        let again: Vec<Ipv4> = parts.iter().flat_map(|p| p.fragment(1000)).collect();
        assert!(again.iter().all(|p| p.total_len() <= 1000));
        assert_eq!(again.iter().filter(|p| !p.more_frags).count(), 1);
        let Reassembly::Complete { datagram, .. } = reassemble(&again, &[]).unwrap() else {
            panic!("incomplete")
        };
        assert_eq!(*datagram, udp(3000));
    }
}
