//! Connection tracking (`net/netfilter/nf_conntrack_core.c`) and the NAT bindings stored on
//! each connection (`nf_nat_core.c`). A connection is two tuples, original and reply; NAT is
//! decided once, for the first packet, by rewriting the reply tuple, and every later packet
//! of either direction is rewritten from the tuples alone.

use crate::wire::{IcmpMessage, IpProtocol, Ipv4, L4, TcpFlags};
use serde::Serialize;
use std::net::Ipv4Addr;

/// A conntrack tuple. For ICMP echo, `sport` is the echo id and `dport` the type (8 request,
/// 0 reply), as `nf_conntrack_proto_icmp` keys them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tuple {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: IpProtocol,
    pub sport: u16,
    pub dport: u16,
}

impl Tuple {
    /// The tuple of a packet, or None for what conntrack does not track here (ICMP errors
    /// are RELATED to another connection and looked up through their quoted packet).
    pub fn of(ip: &Ipv4) -> Option<Tuple> {
        let (sport, dport) = match &ip.payload {
            L4::Tcp(t) => (t.sport, t.dport),
            L4::Udp(u) => (u.sport, u.dport),
            L4::Icmp(i) => match i.msg {
                IcmpMessage::EchoRequest { ident, .. } => (ident, 8),
                IcmpMessage::EchoReply { ident, .. } => (ident, 0),
                _ => return None,
            },
            // A fragment that skipped defragmentation is not tracked (ipv4_get_l4proto
            // gives up on it): it stays untracked.
            L4::Fragment(_) => return None,
        };
        Some(Tuple {
            src: ip.src,
            dst: ip.dst,
            proto: ip.protocol(),
            sport,
            dport,
        })
    }

    /// `nf_ct_invert_tuple`: the tuple a reply would carry.
    pub fn invert(&self) -> Tuple {
        if self.proto == IpProtocol::Icmp {
            // ICMP: same id, echo request <-> echo reply.
            let t = match self.dport {
                8 => 0,
                0 => 8,
                other => other,
            };
            return Tuple {
                src: self.dst,
                dst: self.src,
                proto: IpProtocol::Icmp,
                sport: self.sport,
                dport: t,
            };
        }
        Tuple {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            sport: self.dport,
            dport: self.sport,
        }
    }

    /// `src=.. dst=.. sport=.. dport=..` (or `type=8 code=0 id=..` for ICMP) as conntrack -L.
    pub fn text(&self) -> String {
        let mut s = String::with_capacity(64);
        self.write_text(&mut s);
        s
    }

    fn write_text(&self, s: &mut String) {
        use std::fmt::Write;
        let _ = if self.proto == IpProtocol::Icmp {
            write!(
                s,
                "src={} dst={} type={} code=0 id={}",
                self.src, self.dst, self.dport, self.sport
            )
        } else {
            write!(
                s,
                "src={} dst={} sport={} dport={}",
                self.src, self.dst, self.sport, self.dport
            )
        };
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    Original,
    Reply,
}

/// TCP conntrack states (`enum tcp_conntrack`), the ones a connection walks through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    SynSent,
    SynRecv,
    Established,
    FinWait,
    CloseWait,
    LastAck,
    TimeWait,
    Close,
}

impl TcpState {
    pub fn name(&self) -> &'static str {
        match self {
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
        }
    }

    /// nf_conntrack_tcp_timeout_* defaults, in seconds.
    pub fn timeout(&self) -> u32 {
        match self {
            TcpState::SynSent => 120,
            TcpState::SynRecv => 60,
            TcpState::Established => 432000,
            TcpState::FinWait => 120,
            TcpState::CloseWait => 60,
            TcpState::LastAck => 30,
            TcpState::TimeWait => 120,
            TcpState::Close => 10,
        }
    }

    /// A simplified `tcp_conntracks` transition table: enough for SYN, SYN-ACK, ACK, data,
    /// FIN and RST in order.
    fn next(self, flags: TcpFlags, dir: Dir) -> TcpState {
        let has = |b| flags.has(b);
        if has(TcpFlags::RST) {
            return TcpState::Close;
        }
        match (self, dir) {
            (TcpState::SynSent, Dir::Reply) if has(TcpFlags::SYN) && has(TcpFlags::ACK) => {
                TcpState::SynRecv
            }
            (TcpState::SynRecv, Dir::Original) if has(TcpFlags::ACK) => TcpState::Established,
            (TcpState::Established, _) if has(TcpFlags::FIN) => TcpState::FinWait,
            (TcpState::FinWait, _) if has(TcpFlags::FIN) => TcpState::LastAck,
            (TcpState::FinWait, _) if has(TcpFlags::ACK) => TcpState::CloseWait,
            (TcpState::CloseWait, _) if has(TcpFlags::FIN) => TcpState::LastAck,
            (TcpState::LastAck, _) if has(TcpFlags::ACK) => TcpState::TimeWait,
            (s, _) => s,
        }
    }
}

/// One tracked connection (`struct nf_conn`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conn {
    pub id: u32,
    pub orig: Tuple,
    pub reply: Tuple,
    /// IPS_SEEN_REPLY.
    pub seen_reply: bool,
    /// IPS_ASSURED.
    pub assured: bool,
    /// In the table (`__nf_conntrack_confirm` ran); until then only the skb holds it.
    pub confirmed: bool,
    /// IPS_DST_NAT_DONE / IPS_SRC_NAT_DONE: the binding for that manip type is decided
    /// (possibly a null binding).
    pub dnat_done: bool,
    pub snat_done: bool,
    pub tcp: Option<TcpState>,
    pub mark: u32,
    /// IPVS rewrote the reply tuple to its real server (`ip_vs_update_conntrack`). It sets
    /// no IPS_DST_NAT bit, so netfilter NAT leaves these packets alone: IPVS translates
    /// them itself, both ways.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ipvs: bool,
}

impl Conn {
    /// IPS_DST_NAT: the reply comes from somewhere else than the original destination.
    /// (ICMP echo keys the id on both sides and the type in `dport`, so only the address
    /// counts there.)
    pub fn dnat(&self) -> bool {
        if self.ipvs {
            return false;
        }
        if self.orig.proto == IpProtocol::Icmp {
            return self.reply.src != self.orig.dst;
        }
        self.reply.src != self.orig.dst || self.reply.sport != self.orig.dport
    }

    /// IPS_SRC_NAT: the reply goes somewhere else than the original source.
    pub fn snat(&self) -> bool {
        if self.orig.proto == IpProtocol::Icmp {
            return self.reply.dst != self.orig.src || self.reply.sport != self.orig.sport;
        }
        self.reply.dst != self.orig.src || self.reply.dport != self.orig.sport
    }

    /// The tuple of the direction a packet travels in.
    pub fn tuple(&self, dir: Dir) -> &Tuple {
        match dir {
            Dir::Original => &self.orig,
            Dir::Reply => &self.reply,
        }
    }

    /// The line `conntrack -L` prints.
    pub fn text(&self) -> String {
        let name = match self.orig.proto {
            IpProtocol::Other(_) => "unknown",
            p => p.name(),
        };
        let num = self.orig.proto.number();
        let timeout = match (self.tcp, self.orig.proto) {
            (Some(s), _) => s.timeout(),
            (None, IpProtocol::Udp) if self.assured => 120,
            _ => 30,
        };
        let unreplied = if self.seen_reply { "" } else { " [UNREPLIED]" };
        let assured = if self.assured { " [ASSURED]" } else { "" };
        // Written in one buffer: every conntrack step of a walk prints its entry.
        use std::fmt::Write;
        let mut s = String::with_capacity(192);
        let _ = write!(s, "{name:<8} {num} {timeout}");
        if let Some(t) = self.tcp {
            s.push(' ');
            s.push_str(t.name());
        }
        s.push(' ');
        self.orig.write_text(&mut s);
        s.push_str(unreplied);
        s.push(' ');
        self.reply.write_text(&mut s);
        let _ = write!(s, "{assured} mark={} use=1", self.mark);
        s
    }
}

/// The conntrack table of a namespace.
#[derive(Clone, Debug, Default)]
pub struct Conntrack {
    pub conns: Vec<Conn>,
    next_id: u32,
}

/// What `nf_conntrack_in` found for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CtRef {
    pub id: u32,
    pub dir: Dir,
    pub state: super::rule::CtState,
}

impl Conntrack {
    pub fn get(&self, id: u32) -> Option<&Conn> {
        self.conns.iter().find(|c| c.id == id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    /// `resolve_normal_ct`: find the connection (either direction) or start a new one.
    /// Returns the reference and whether it was created now.
    pub fn track(&mut self, ip: &Ipv4) -> (CtRef, bool) {
        use super::rule::CtState;
        // What cannot start a connection and belongs to none carries no conntrack entry,
        // which `-m conntrack --ctstate INVALID` matches (xt_conntrack: no ct and not the
        // untracked template).
        let invalid = (
            CtRef {
                id: 0,
                dir: Dir::Original,
                state: CtState::Invalid,
            },
            false,
        );
        // An ICMP error belongs to the connection of the packet it quotes
        // (`nf_conntrack_icmp_error` -> RELATED); quoting no known connection, it is
        // INVALID.
        if let Some(q) = quoted_tuple(ip) {
            // nf_conntrack_inet_error: the quoted packet travelled towards the error's
            // sender, so its inverse is the tuple of the direction the error travels in.
            let inv = q.invert();
            let Some(c) = self.conns.iter().find(|c| c.orig == inv || c.reply == inv) else {
                return invalid;
            };
            let dir = if c.orig == inv {
                Dir::Original
            } else {
                Dir::Reply
            };
            return (
                CtRef {
                    id: c.id,
                    dir,
                    state: CtState::Related,
                },
                false,
            );
        }
        let Some(t) = Tuple::of(ip) else {
            return invalid;
        };
        let flags = match &ip.payload {
            L4::Tcp(tcp) => Some(tcp.flags),
            _ => None,
        };
        if let Some(c) = self.conns.iter_mut().find(|c| c.orig == t || c.reply == t) {
            let dir = if c.orig == t {
                Dir::Original
            } else {
                Dir::Reply
            };
            if dir == Dir::Reply {
                c.seen_reply = true;
            }
            if let (Some(s), Some(f)) = (c.tcp, flags) {
                let n = s.next(f, dir);
                if n == TcpState::Established {
                    c.assured = true;
                }
                c.tcp = Some(n);
            } else if dir == Dir::Reply && c.orig.proto == IpProtocol::Udp {
                c.assured = c.assured || c.seen_reply;
            }
            let state = match dir {
                Dir::Original if !c.seen_reply => CtState::New,
                _ => CtState::Established,
            };
            return (
                CtRef {
                    id: c.id,
                    dir,
                    state,
                },
                false,
            );
        }
        // A new connection. What cannot start one is INVALID: a lone RST, a SYN-ACK
        // (tcp_conntracks: sNO -> sIV), a TCP packet with neither SYN nor ACK, an echo reply
        // (icmp_new accepts only requests). Mid-stream ACKs are picked up
        // (nf_conntrack_tcp_loose=1).
        let tcp = match flags {
            Some(f)
                if f.has(TcpFlags::RST)
                    || (f.has(TcpFlags::SYN) && f.has(TcpFlags::ACK))
                    || (!f.has(TcpFlags::SYN) && !f.has(TcpFlags::ACK)) =>
            {
                return invalid;
            }
            Some(f) if f.has(TcpFlags::SYN) => Some(TcpState::SynSent),
            Some(_) => Some(TcpState::Established),
            None if t.proto == IpProtocol::Icmp && t.dport != 8 => return invalid,
            None => None,
        };
        self.next_id += 1;
        let id = self.next_id;
        self.conns.push(Conn {
            id,
            orig: t,
            reply: t.invert(),
            seen_reply: false,
            assured: false,
            confirmed: false,
            dnat_done: false,
            snat_done: false,
            tcp,
            mark: 0,
            ipvs: false,
        });
        (
            CtRef {
                id,
                dir: Dir::Original,
                state: CtState::New,
            },
            true,
        )
    }

    /// A tuple is free for a NAT binding when no other connection uses it as its reply
    /// (`nf_nat_used_tuple`).
    pub fn reply_in_use(&self, id: u32, reply: &Tuple) -> bool {
        self.conns
            .iter()
            .any(|c| c.id != id && (c.reply == *reply || c.orig == *reply))
    }

    /// Forget connections that never got confirmed (their first packet was dropped).
    pub fn drop_unconfirmed(&mut self) {
        self.conns.retain(|c| c.confirmed);
    }
}

/// The tuple of the packet an ICMP error quotes (its IP header and first 8 bytes), if `ip`
/// is an ICMP error.
pub fn quoted_tuple(ip: &Ipv4) -> Option<Tuple> {
    let L4::Icmp(icmp) = &ip.payload else {
        return None;
    };
    if matches!(
        icmp.msg,
        IcmpMessage::EchoRequest { .. } | IcmpMessage::EchoReply { .. }
    ) {
        return None;
    }
    let d = &icmp.data;
    let ihl = usize::from(*d.first()? & 0x0f) * 4;
    if d.len() < ihl + 8 || ihl < 20 {
        return None;
    }
    let addr = |i: usize| Ipv4Addr::new(d[i], d[i + 1], d[i + 2], d[i + 3]);
    let proto = IpProtocol::from(d[9]);
    let (sport, dport) = match proto {
        IpProtocol::Tcp | IpProtocol::Udp => (
            u16::from_be_bytes([d[ihl], d[ihl + 1]]),
            u16::from_be_bytes([d[ihl + 2], d[ihl + 3]]),
        ),
        // A quoted echo: id at bytes 4-5, the type keys the tuple.
        IpProtocol::Icmp => (
            u16::from_be_bytes([d[ihl + 4], d[ihl + 5]]),
            u16::from(d[ihl]),
        ),
        _ => return None,
    };
    Some(Tuple {
        src: addr(12),
        dst: addr(16),
        proto,
        sport,
        dport,
    })
}

/// `nf_nat_icmp_reply_translation`: rewrite the packet an ICMP error quotes so that it
/// matches what the receiver of the error sent (or will see), for the manip being applied
/// to the error itself: the quoted packet travels the other way, so its opposite end
/// changes. Fixes the quoted IPv4 header checksum.
pub fn manip_quoted(ip: &mut Ipv4, conn: &Conn, dir: Dir, dst: bool) -> bool {
    // The quoted packet's direction is the opposite of the error's; it should read as
    // the tuple of that direction (as its sender saw it for a reply-direction error).
    let want = match dir {
        Dir::Reply => conn.orig,
        Dir::Original => conn.reply,
    };
    if dst {
        // The error's destination changes: the quoted packet's source.
        rewrite_quoted(ip, Some((want.src, want.sport)), None)
    } else {
        // The error's source changes: the quoted packet's destination.
        rewrite_quoted(ip, None, Some((want.dst, want.dport)))
    }
}

/// Set the source and/or destination (address and TCP/UDP port) of the packet an ICMP
/// error quotes, and fix the quoted IPv4 header's checksum. True when it changed.
pub fn rewrite_quoted(
    ip: &mut Ipv4,
    src: Option<(Ipv4Addr, u16)>,
    dst: Option<(Ipv4Addr, u16)>,
) -> bool {
    let L4::Icmp(icmp) = &mut ip.payload else {
        return false;
    };
    let d = &mut icmp.data;
    let Some(ihl) = d.first().map(|b| usize::from(b & 0x0f) * 4) else {
        return false;
    };
    if d.len() < ihl + 4 || ihl < 20 {
        return false;
    }
    let before = d.clone();
    let ports = d[9] == 6 || d[9] == 17;
    for (at, port_at, v) in [(12, ihl, src), (16, ihl + 2, dst)] {
        if let Some((a, p)) = v {
            d[at..at + 4].copy_from_slice(&a.octets());
            if ports {
                d[port_at..port_at + 2].copy_from_slice(&p.to_be_bytes());
            }
        }
    }
    d[10] = 0;
    d[11] = 0;
    let sum = (0..ihl).step_by(2).fold(0u32, |acc, i| {
        acc + u32::from(u16::from_be_bytes([d[i], d[i + 1]]))
    });
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    d[10..12].copy_from_slice(&sum.to_be_bytes());
    *d != before
}

/// Rewrite `ip` for manip type `dst` (true: destination, PREROUTING/OUTPUT; false: source,
/// POSTROUTING/INPUT) as `nf_nat_manip_pkt` does: the packet's tuple becomes the inverse of
/// the other direction's tuple. Returns true when it changed.
pub fn manip(ip: &mut Ipv4, conn: &Conn, dir: Dir, dst: bool) -> bool {
    let applies = match (dir, dst) {
        (Dir::Original, true) => conn.dnat(),
        (Dir::Original, false) => conn.snat(),
        (Dir::Reply, true) => conn.snat(),
        (Dir::Reply, false) => conn.dnat(),
    };
    if !applies {
        return false;
    }
    let before = ip.clone();
    let target = match dir {
        Dir::Original => conn.reply.invert(),
        Dir::Reply => conn.orig.invert(),
    };
    if dst {
        ip.dst = target.dst;
        if ip.protocol() != IpProtocol::Icmp {
            set_ports(ip, None, Some(target.dport));
        }
    } else {
        ip.src = target.src;
        set_ports(ip, Some(target.sport), None);
    }
    *ip != before
}

fn set_ports(ip: &mut Ipv4, sport: Option<u16>, dport: Option<u16>) {
    match &mut ip.payload {
        L4::Tcp(t) => {
            if let Some(s) = sport {
                t.sport = s;
            }
            if let Some(d) = dport {
                t.dport = d;
            }
        }
        L4::Udp(u) => {
            if let Some(s) = sport {
                u.sport = s;
            }
            if let Some(d) = dport {
                u.dport = d;
            }
        }
        // ICMP echo: the id is the "port"; it changes only when two connections would clash.
        L4::Icmp(i) => {
            if let Some(s) = sport {
                match &mut i.msg {
                    IcmpMessage::EchoRequest { ident, .. }
                    | IcmpMessage::EchoReply { ident, .. } => *ident = s,
                    _ => {}
                }
            }
        }
        // NAT works on whole datagrams (defragmentation runs before conntrack).
        L4::Fragment(_) => {}
    }
}
