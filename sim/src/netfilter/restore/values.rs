//! The values of match and target options, as the iptables extensions read them: numbers
//! and `VALUE/MASK` (decimal or 0x hexadecimal), ports and port ranges (`80`, `80:90`,
//! `80-90` in NAT ranges), addresses and prefixes (`10.0.0.0/8`, `10.0.0.0/255.0.0.0`),
//! NAT ranges (`IP[-IP][:PORT[-PORT]]`), protocols, address types, conntrack states, ICMP
//! types and TCP flag lists. Each error points at the value, or at the part of it that is
//! wrong.

use super::Ctx;
use super::words::Tok;
use crate::diag::InputError;
use crate::netfilter::rule::{AddrType, CtState, NatRange, PortRange};
use crate::wire::{IpProtocol, Ipv4Net};
use std::net::Ipv4Addr;

pub(super) fn num(ctx: &Ctx, v: &Tok) -> Result<u32, InputError> {
    let t = v.text.as_ref();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => t.parse::<u32>(),
    };
    r.map_err(|_| {
        ctx.err(v.col, format!("`{t}` is not a number"))
            .with_hint("decimal or 0x-prefixed hexadecimal, up to 0xffffffff")
    })
}

/// `V` or `V/M`.
pub(super) fn value_mask(ctx: &Ctx, v: &Tok, default_mask: u32) -> Result<(u32, u32), InputError> {
    match v.text.split_once('/') {
        Some((a, b)) => Ok((
            num(
                ctx,
                &Tok {
                    text: a.into(),
                    col: v.col,
                    quoted: false,
                },
            )?,
            num(
                ctx,
                &Tok {
                    text: b.into(),
                    col: v.col + a.len() + 1,
                    quoted: false,
                },
            )?,
        )),
        None => Ok((num(ctx, v)?, default_mask)),
    }
}

pub(super) fn port(ctx: &Ctx, s: &str, col: usize) -> Result<u16, InputError> {
    s.parse::<u16>().map_err(|_| {
        let hint = if s.chars().any(|c| c.is_ascii_alphabetic()) {
            "iptables-save prints ports as numbers (0 to 65535), never service names"
        } else {
            "ports are 0 to 65535"
        };
        ctx.err_span(col, s.chars().count(), format!("`{s}` is not a port"))
            .with_hint(hint)
    })
}

/// `80`, `80:90` (and `80-90` where iptables allows it).
pub(super) fn port_range(ctx: &Ctx, v: &Tok, sep: char) -> Result<PortRange, InputError> {
    let (a, b, b_col) = match v.text.split_once(sep) {
        Some((a, b)) => (a, b, v.col + a.chars().count() + 1),
        None => (v.text.as_ref(), v.text.as_ref(), v.col),
    };
    let lo = if a.is_empty() {
        0
    } else {
        port(ctx, a, v.col)?
    };
    let hi = if b.is_empty() {
        65535
    } else {
        port(ctx, b, b_col)?
    };
    if lo > hi {
        return Err(ctx
            .err(v.col, format!("port range `{}` runs backwards", v.text))
            .with_hint("write LOW:HIGH"));
    }
    Ok(PortRange { lo, hi })
}

/// `10.0.0.1`, `10.0.0.0/8` or `10.0.0.0/255.0.0.0`.
pub(super) fn parse_net(ctx: &Ctx, v: &Tok) -> Result<Ipv4Net, InputError> {
    let bad = || {
        ctx.err(
            v.col,
            format!("`{}` is not an IPv4 address or prefix", v.text),
        )
        .with_hint("write 10.244.0.0/16 or 10.244.1.2")
    };
    let (a, p) = v.text.split_once('/').unwrap_or((&v.text, "32"));
    let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let prefix = match p.parse::<u8>() {
        Ok(n) if n <= 32 => n,
        Ok(_) => return Err(bad()),
        Err(_) => {
            let m: Ipv4Addr = p.parse().map_err(|_| bad())?;
            let m = u32::from(m);
            if m.leading_ones() + m.trailing_zeros() != 32 {
                return Err(bad());
            }
            m.leading_ones() as u8
        }
    };
    Ok(Ipv4Net::new(addr, prefix))
}

pub(super) fn nat_range(ctx: &Ctx, v: &Tok) -> Result<NatRange, InputError> {
    let (ips, ports) = match v.text.split_once(':') {
        Some((i, p)) => (i, Some(p)),
        None => (v.text.as_ref(), None),
    };
    let bad = || {
        ctx.err(v.col, format!("`{}` is not an address range", v.text))
            .with_hint("write IP[-IP][:PORT[-PORT]], e.g. 10.244.1.5:8080")
    };
    let (lo, hi) = ips.split_once('-').unwrap_or((ips, ips));
    let lo: Ipv4Addr = lo.parse().map_err(|_| bad())?;
    let hi: Ipv4Addr = hi.parse().map_err(|_| bad())?;
    let ports = match ports {
        Some(p) => Some(port_range(
            ctx,
            &Tok {
                text: p.into(),
                col: v.col + ips.chars().count() + 1,
                quoted: false,
            },
            '-',
        )?),
        None => None,
    };
    Ok(NatRange { lo, hi, ports })
}

pub(super) fn parse_proto(ctx: &Ctx, v: &Tok) -> Result<IpProtocol, InputError> {
    Ok(IpProtocol::from(
        match v.text.to_ascii_lowercase().as_str() {
            "all" => 0,
            // iptables' own spellings (xtables_chain_protos), then /etc/protocols.
            "mh" => 135,
            n => match crate::netfilter::rule::PROTOCOLS.iter().find(|(_, name)| *name == n) {
                Some((k, _)) => *k,
                None => n.parse::<u8>().map_err(|_| {
                    ctx.err(v.col, format!("unknown protocol `{}`", v.text)).with_hint(
                        "a name from /etc/protocols (tcp, udp, icmp, sctp, ipencap, gre, esp, ...), all, or a number 0-255",
                    )
                })?,
            },
        },
    ))
}

pub(super) fn addr_types(ctx: &Ctx, v: &Tok) -> Result<Vec<AddrType>, InputError> {
    v.text.split(',').map(|n| {
        AddrType::ALL.iter().copied().find(|t| t.name() == n).ok_or_else(|| {
            ctx.err(v.col, format!("unknown address type `{n}`")).with_hint("LOCAL, UNICAST, BROADCAST, MULTICAST, ANYCAST, BLACKHOLE, UNREACHABLE, PROHIBIT, UNSPEC")
        })
    }).collect()
}

pub(super) fn ct_states(ctx: &Ctx, v: &Tok) -> Result<Vec<CtState>, InputError> {
    v.text
        .split(',')
        .map(|n| {
            CtState::ALL
                .iter()
                .copied()
                .find(|t| t.name() == n)
                .ok_or_else(|| {
                    ctx.err(v.col, format!("unknown conntrack state `{n}`"))
                        .with_hint("INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED, SNAT, DNAT")
                })
        })
        .collect()
}

pub(super) fn icmp_type(ctx: &Ctx, v: &Tok) -> Result<(u8, Option<u8>), InputError> {
    // libxt_icmp's names, as `iptables -p icmp -h` lists them.
    let named = [
        ("any", 255, None),
        ("echo-reply", 0, None),
        ("pong", 0, None),
        ("destination-unreachable", 3, None),
        ("network-unreachable", 3, Some(0)),
        ("host-unreachable", 3, Some(1)),
        ("protocol-unreachable", 3, Some(2)),
        ("port-unreachable", 3, Some(3)),
        ("fragmentation-needed", 3, Some(4)),
        ("source-route-failed", 3, Some(5)),
        ("network-unknown", 3, Some(6)),
        ("host-unknown", 3, Some(7)),
        ("network-prohibited", 3, Some(9)),
        ("host-prohibited", 3, Some(10)),
        ("TOS-network-unreachable", 3, Some(11)),
        ("TOS-host-unreachable", 3, Some(12)),
        ("communication-prohibited", 3, Some(13)),
        ("host-precedence-violation", 3, Some(14)),
        ("precedence-cutoff", 3, Some(15)),
        ("source-quench", 4, None),
        ("redirect", 5, None),
        ("network-redirect", 5, Some(0)),
        ("host-redirect", 5, Some(1)),
        ("TOS-network-redirect", 5, Some(2)),
        ("TOS-host-redirect", 5, Some(3)),
        ("echo-request", 8, None),
        ("ping", 8, None),
        ("router-advertisement", 9, None),
        ("router-solicitation", 10, None),
        ("time-exceeded", 11, None),
        ("ttl-exceeded", 11, None),
        ("ttl-zero-during-transit", 11, Some(0)),
        ("ttl-zero-during-reassembly", 11, Some(1)),
        ("parameter-problem", 12, None),
        ("ip-header-bad", 12, Some(0)),
        ("required-option-missing", 12, Some(1)),
        ("timestamp-request", 13, None),
        ("timestamp-reply", 14, None),
        ("address-mask-request", 17, None),
        ("address-mask-reply", 18, None),
    ];
    if let Some((_, t, c)) = named.iter().find(|(n, _, _)| *n == v.text) {
        return Ok((*t, *c));
    }
    let (t, c) = v
        .text
        .split_once('/')
        .map(|(a, b)| (a, Some(b)))
        .unwrap_or((&v.text, None));
    let bad = || {
        ctx.err(v.col, format!("`{}` is not an ICMP type", v.text))
            .with_hint("a number (8), TYPE/CODE (3/4) or a name like echo-request")
    };
    let t = t.parse::<u8>().map_err(|_| bad())?;
    let c = match c {
        Some(c) => Some(c.parse::<u8>().map_err(|_| bad())?),
        None => None,
    };
    Ok((t, c))
}

pub(super) fn tcp_flag_list(ctx: &Ctx, v: &Tok) -> Result<u8, InputError> {
    if v.text == "ALL" {
        return Ok(0x3f);
    }
    if v.text == "NONE" {
        return Ok(0);
    }
    let names = [
        ("FIN", 0x01u8),
        ("SYN", 0x02),
        ("RST", 0x04),
        ("PSH", 0x08),
        ("ACK", 0x10),
        ("URG", 0x20),
    ];
    v.text.split(',').try_fold(0u8, |acc, n| {
        names
            .iter()
            .find(|(x, _)| *x == n)
            .map(|(_, b)| acc | b)
            .ok_or_else(|| {
                ctx.err(v.col, format!("unknown TCP flag `{n}`"))
                    .with_hint("FIN, SYN, RST, PSH, ACK, URG, ALL or NONE")
            })
    })
}
