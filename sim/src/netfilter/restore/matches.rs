//! Match modules (`-m NAME`) and their options, as the libxt_* extensions take them:
//! comment, tcp, udp, icmp, multiport, mark, addrtype, statistic, conntrack, state, recent,
//! set, nfacct, physdev, ipvs and limit. An option belongs to the last module loaded before it
//! that takes it; `-p tcp`, `-p udp` and `-p icmp` load their module when one of its
//! options comes without `-m` (as iptables loads a protocol's match implicitly).

use super::Ctx;
use super::values::*;
use super::words::{Tok, Words};
use crate::diag::InputError;
use crate::netfilter::rule::*;
use crate::wire::{IpProtocol, Ipv4Net};
use std::net::Ipv4Addr;

pub(super) const MATCHES: &str = "comment, tcp, udp, sctp, icmp, multiport, mark, addrtype, statistic, conntrack, state, recent, set, nfacct, physdev, ipvs, limit, iprange, length, pkttype, owner, connmark, rpfilter";

/// Match options iptables refuses to negate (no XTOPT_INVERT in their module): libxt_comment,
/// libxt_addrtype's --limit-iface-*, libxt_statistic's --mode/--packet, libxt_recent's
/// modifiers and libxt_nfacct.
pub(super) const NOT_INVERTIBLE: [&str; 13] = [
    "--comment",
    "--limit-iface-in",
    "--limit-iface-out",
    "--mode",
    "--packet",
    "--seconds",
    "--reap",
    "--hitcount",
    "--name",
    "--mask",
    "--rsource",
    "--rdest",
    "--nfacct-name",
];

pub(super) fn new_match(ctx: &Ctx, v: &Tok) -> Result<Match, InputError> {
    Ok(match v.text.as_ref() {
        "comment" => Match::Comment(String::new()),
        "tcp" => Match::Tcp {
            sport: None,
            dport: None,
            flags: None,
        },
        "udp" => Match::Udp {
            sport: None,
            dport: None,
        },
        "sctp" => Match::Sctp {
            sport: None,
            dport: None,
        },
        "icmp" => Match::Icmp {
            icmp_type: 255,
            code: None,
            neg: false,
        },
        "multiport" => Match::Multiport {
            kind: MultiportKind::Dports,
            ports: Vec::new(),
            neg: false,
        },
        "mark" => Match::Mark {
            value: 0,
            mask: u32::MAX,
            neg: false,
        },
        "addrtype" => Match::AddrType(Default::default()),
        "statistic" => Match::Statistic(Statistic::Random {
            probability: u32::MAX,
            neg: false,
        }),
        "conntrack" => Match::Conntrack(Default::default()),
        "state" => Match::State {
            states: Vec::new(),
            neg: false,
        },
        "recent" => Match::Recent(Box::new(Recent {
            cmd: RecentCmd::Set,
            name: "DEFAULT".into(),
            seconds: None,
            reap: false,
            hitcount: None,
            mask: Ipv4Addr::BROADCAST,
            source: true,
            neg: false,
        })),
        "set" => Match::Set(Default::default()),
        "nfacct" => Match::Nfacct(String::new()),
        "ipvs" => Match::Ipvs(Default::default()),
        "physdev" => Match::Physdev(Default::default()),
        "iprange" => Match::IpRange(Default::default()),
        "owner" => Match::Owner(Default::default()),
        "rpfilter" => Match::Rpfilter(Default::default()),
        "connmark" => Match::Connmark {
            value: 0,
            mask: u32::MAX,
            neg: false,
        },
        "pkttype" => Match::PktType {
            kind: crate::netfilter::rule::PktType::Unicast,
            neg: false,
        },
        "length" => Match::Length {
            lo: 0,
            hi: u16::MAX,
            neg: false,
        },
        // libxt_limit's defaults: 3/hour, burst 5.
        "limit" => Match::Limit(Box::new(Limit {
            count: 3,
            unit: "hour",
            burst: 5,
        })),
        // A module kpath does not model (or misspelt): kept as written, so the rest of the
        // ruleset is read; `rules_only::unknowns` lists them all with their places.
        other => Match::Unknown(Box::new(crate::netfilter::rule::Unknown {
            name: other.to_string(),
            args: Vec::new(),
            line: ctx.line,
            col: v.col,
        })),
    })
}

/// The module an option belongs to: the last one loaded that takes it. `-p tcp`/`-p udp`
/// load their module implicitly when an option needs it.
pub(super) fn module_for<'r>(rule: &'r mut Rule, opt: &str) -> Option<&'r mut Match> {
    let pos = rule.matches.iter().rposition(|m| takes(m, opt));
    if let Some(p) = pos {
        return rule.matches.get_mut(p);
    }
    // `-p tcp|udp|icmp` loads its protocol's module implicitly, for the options it takes.
    let implicit = match rule.proto {
        Some((IpProtocol::Tcp, _)) => Match::Tcp {
            sport: None,
            dport: None,
            flags: None,
        },
        Some((IpProtocol::Udp, _)) => Match::Udp {
            sport: None,
            dport: None,
        },
        Some((IpProtocol::Sctp, _)) => Match::Sctp {
            sport: None,
            dport: None,
        },
        Some((IpProtocol::Icmp, _)) => Match::Icmp {
            icmp_type: 255,
            code: None,
            neg: false,
        },
        _ => return None,
    };
    if !takes(&implicit, opt) {
        return None;
    }
    rule.matches.push(implicit);
    rule.matches.last_mut()
}

pub(super) fn takes(m: &Match, opt: &str) -> bool {
    match m {
        // Its options are taken only when no module kpath knows takes them (rule.rs).
        Match::Unknown(_) => false,
        Match::PktType { .. } => opt == "--pkt-type",
        Match::Rpfilter(_) => matches!(
            opt,
            "--loose" | "--validmark" | "--accept-local" | "--invert"
        ),
        Match::Connmark { .. } => opt == "--mark",
        Match::Owner(_) => matches!(opt, "--socket-exists" | "--uid-owner" | "--gid-owner"),
        Match::Comment(_) => opt == "--comment",
        Match::Tcp { .. } => matches!(
            opt,
            "--sport"
                | "--dport"
                | "--source-port"
                | "--destination-port"
                | "--tcp-flags"
                | "--syn"
        ),
        Match::Udp { .. } | Match::Sctp { .. } => matches!(
            opt,
            "--sport" | "--dport" | "--source-port" | "--destination-port"
        ),
        Match::Icmp { .. } => opt == "--icmp-type",
        Match::Multiport { .. } => matches!(
            opt,
            "--sports" | "--dports" | "--ports" | "--source-ports" | "--destination-ports"
        ),
        Match::Mark { .. } => opt == "--mark",
        Match::AddrType(_) => matches!(
            opt,
            "--src-type" | "--dst-type" | "--limit-iface-in" | "--limit-iface-out"
        ),
        Match::Statistic(_) => matches!(opt, "--mode" | "--probability" | "--every" | "--packet"),
        Match::Conntrack(_) => matches!(opt, "--ctstate" | "--ctorigdst" | "--ctorigdstport"),
        Match::State { .. } => opt == "--state",
        Match::Recent(_) => matches!(
            opt,
            "--set"
                | "--rcheck"
                | "--update"
                | "--remove"
                | "--seconds"
                | "--reap"
                | "--hitcount"
                | "--name"
                | "--mask"
                | "--rsource"
                | "--rdest"
        ),
        Match::Set(_) => opt == "--match-set",
        Match::Limit(_) => matches!(opt, "--limit" | "--limit-burst"),
        Match::IpRange(_) => matches!(opt, "--src-range" | "--dst-range"),
        Match::Length { .. } => opt == "--length",
        Match::Nfacct(_) => opt == "--nfacct-name",
        Match::Ipvs(_) => matches!(
            opt,
            "--ipvs" | "--vproto" | "--vaddr" | "--vport" | "--vdir" | "--vmethod"
        ),
        Match::Physdev(_) => matches!(
            opt,
            "--physdev-in"
                | "--physdev-out"
                | "--physdev-is-in"
                | "--physdev-is-out"
                | "--physdev-is-bridged"
        ),
    }
}

/// An option of a match module being read: its word, whether `!` came before it, and the
/// rule's words, to take its value from.
struct Opt<'r, 'a> {
    w: &'r mut Words<'a>,
    tok: &'r Tok<'r>,
    inv: bool,
}

impl<'a> Opt<'_, 'a> {
    /// The value after the option.
    fn value(&mut self) -> Result<&'a Tok<'a>, InputError> {
        self.w.value(self.tok)
    }
}

/// Read option `opt` (one that [`takes`] gives to `m`) into module `m`; `inv` is a `!`
/// before it.
pub(super) fn match_option(
    w: &mut Words,
    m: &mut Match,
    opt: &Tok,
    inv: bool,
) -> Result<(), InputError> {
    let o = &mut Opt { w, tok: opt, inv };
    match m {
        Match::Owner(ow) => {
            let inv = o.inv;
            if o.tok.text == "--socket-exists" {
                ow.socket_exists = Some(inv);
                return Ok(());
            }
            let v = o.value()?;
            // iptables resolves user and group names when it loads; a dump holds numbers.
            let (a, b) = match v.text.split_once('-') {
                Some((a, b)) => (a, b),
                None => (v.text.as_ref(), v.text.as_ref()),
            };
            let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else {
                return Err(o
                    .w
                    .ctx
                    .err(
                        v.col,
                        format!("`{}` is not a uid or gid (or a range of them)", v.text),
                    )
                    .with_hint("iptables-save prints owners as numbers: --uid-owner 1337"));
            };
            let r = Some((a, b, inv));
            if o.tok.text == "--uid-owner" {
                ow.uid = r;
            } else {
                ow.gid = r;
            }
            Ok(())
        }
        Match::Rpfilter(r) => {
            // libxt_rpfilter's options are flags; `--invert` is its own negation.
            let flag = match o.tok.text.as_ref() {
                "--loose" => &mut r.loose,
                "--validmark" => &mut r.validmark,
                "--accept-local" => &mut r.accept_local,
                _ => &mut r.invert,
            };
            *flag = true;
            Ok(())
        }
        Match::PktType { kind, neg } => {
            let v = o.value()?;
            *kind = crate::netfilter::rule::PktType::parse(&v.text).ok_or_else(|| {
                o.w.ctx
                    .err(v.col, format!("`{}` is not a packet type", v.text))
                    .with_hint(
                        "libxt_pkttype takes unicast, broadcast, multicast, host or otherhost",
                    )
            })?;
            *neg = o.inv;
            Ok(())
        }
        Match::Unknown(u) => {
            if inv {
                u.args.push("!".into());
            }
            u.args.push(opt.text.to_string());
            unknown_values(o.w, u);
            Ok(())
        }
        // libxt_comment's --comment and libxt_nfacct's --nfacct-name: one word, kept.
        Match::Comment(text) | Match::Nfacct(text) => {
            *text = o.value()?.text.to_string();
            Ok(())
        }
        Match::Tcp {
            sport,
            dport,
            flags,
        } => tcp_option(o, sport, dport, flags),
        Match::Udp { sport, dport } | Match::Sctp { sport, dport } => udp_option(o, sport, dport),
        Match::Icmp {
            icmp_type: t,
            code,
            neg,
        } => icmp_option(o, t, code, neg),
        Match::Multiport { kind, ports, neg } => multiport_option(o, kind, ports, neg),
        Match::Mark { value, mask, neg } | Match::Connmark { value, mask, neg } => {
            mark_option(o, value, mask, neg)
        }
        Match::IpRange(m) => {
            let (ctx, inv) = (o.w.ctx, o.inv);
            let v = o.value()?;
            let bad = || {
                ctx.err(v.col, format!("`{}` is not an address range", v.text))
                    .with_hint("FIRST-LAST, e.g. 10.0.0.1-10.0.0.9")
            };
            let (a, b) = v.text.split_once('-').unwrap_or((&v.text, &v.text));
            let (a, b): (Ipv4Addr, Ipv4Addr) = match (a.parse(), b.parse()) {
                (Ok(a), Ok(b)) => (a, b),
                _ => return Err(bad()),
            };
            if o.tok.text == "--src-range" {
                m.src = Some((a, b, inv));
            } else {
                m.dst = Some((a, b, inv));
            }
            Ok(())
        }
        Match::Length { lo, hi, neg } => {
            *neg = o.inv;
            let ctx = o.w.ctx;
            let v = o.value()?;
            let (a, b) = v.text.split_once(':').unwrap_or((&v.text, &v.text));
            let p = |s: &str| s.parse::<u16>();
            match (p(a), p(b)) {
                (Ok(a), Ok(b)) if a <= b => {
                    (*lo, *hi) = (a, b);
                    Ok(())
                }
                _ => Err(ctx
                    .err(v.col, format!("`{}` is not a length range", v.text))
                    .with_hint("N or MIN:MAX in bytes, 0-65535, e.g. 0:1280")),
            }
        }
        Match::Limit(l) => {
            let v = o.value()?;
            if o.tok.text == "--limit-burst" {
                l.burst = num(o.w.ctx, v)?;
                return Ok(());
            }
            // parse_rate: N/second|minute|hour|day, any prefix of the unit's name.
            let (n, unit) = v.text.split_once('/').unwrap_or((&v.text, "second"));
            let units = [
                ("sec", "second"),
                ("min", "minute"),
                ("hour", "hour"),
                ("day", "day"),
            ];
            let Some((short, _)) = units
                .iter()
                .find(|(_, long)| !unit.is_empty() && long.starts_with(unit))
            else {
                return Err(o
                    .w
                    .ctx
                    .err(v.col, format!("`{}` is not a rate", v.text))
                    .with_hint(
                        "N/second, N/minute, N/hour or N/day (any prefix of the unit: 10/min)",
                    ));
            };
            l.count = num(
                o.w.ctx,
                &Tok {
                    text: n.into(),
                    col: v.col,
                    quoted: false,
                },
            )?;
            l.unit = short;
            Ok(())
        }
        Match::AddrType(m) => {
            let AddrTypeMatch {
                src,
                dst,
                limit_iface_in,
                limit_iface_out,
            } = &mut **m;
            addrtype_option(o, src, dst, limit_iface_in, limit_iface_out)
        }
        Match::Statistic(s) => statistic_option(o, s),
        Match::Conntrack(m) => {
            let ConntrackMatch {
                ctstate,
                ctorigdst,
                ctorigdstport,
            } = &mut **m;
            conntrack_option(o, ctstate, ctorigdst, ctorigdstport)
        }
        Match::State { states, neg } => state_option(o, states, neg),
        Match::Recent(r) => recent_option(o, r),
        Match::Set(m) => {
            let SetMatch { name, dirs, neg } = &mut **m;
            set_option(o, name, dirs, neg)
        }
        Match::Ipvs(m) => ipvs_option(o, m),
        Match::Physdev(m) => {
            let PhysdevMatch {
                physdev_in,
                physdev_out,
                is_in,
                is_out,
                is_bridged,
            } = &mut **m;
            physdev_option(o, physdev_in, physdev_out, is_in, is_out, is_bridged)
        }
    }
}

/// libxt_tcp: `--sport`/`--dport` (long forms `--source-port`/`--destination-port`),
/// `--syn` (FIN,SYN,RST,ACK SYN) and `--tcp-flags MASK COMP`.
fn tcp_option(
    o: &mut Opt,
    sport: &mut Option<(PortRange, bool)>,
    dport: &mut Option<(PortRange, bool)>,
    flags: &mut Option<(u8, u8, bool)>,
) -> Result<(), InputError> {
    let (ctx, tok, inv) = (o.w.ctx, o.tok, o.inv);
    match tok.text.as_ref() {
        "--sport" | "--source-port" => *sport = Some((port_range(ctx, o.value()?, ':')?, inv)),
        "--dport" | "--destination-port" => *dport = Some((port_range(ctx, o.value()?, ':')?, inv)),
        "--syn" => *flags = Some((0x17, 0x02, inv)),
        _ => {
            let mask = tcp_flag_list(ctx, o.value()?)?;
            let comp = tcp_flag_list(ctx, o.value()?)?;
            *flags = Some((mask, comp, inv));
        }
    }
    Ok(())
}

/// libxt_udp: `--sport` and `--dport` (and their long forms).
fn udp_option(
    o: &mut Opt,
    sport: &mut Option<(PortRange, bool)>,
    dport: &mut Option<(PortRange, bool)>,
) -> Result<(), InputError> {
    let (ctx, tok, inv) = (o.w.ctx, o.tok, o.inv);
    match tok.text.as_ref() {
        "--sport" | "--source-port" => *sport = Some((port_range(ctx, o.value()?, ':')?, inv)),
        _ => *dport = Some((port_range(ctx, o.value()?, ':')?, inv)),
    }
    Ok(())
}

/// libipt_icmp: `--icmp-type TYPE[/CODE]` or a type's name.
fn icmp_option(
    o: &mut Opt,
    t: &mut u8,
    code: &mut Option<u8>,
    neg: &mut bool,
) -> Result<(), InputError> {
    (*t, *code) = icmp_type(o.w.ctx, o.value()?)?;
    *neg = o.inv;
    Ok(())
}

/// libxt_multiport: `--sports`, `--dports` or `--ports` (and their long forms), a list of
/// at most 15 ports or ranges.
fn multiport_option(
    o: &mut Opt,
    kind: &mut MultiportKind,
    ports: &mut Vec<PortRange>,
    neg: &mut bool,
) -> Result<(), InputError> {
    let ctx = o.w.ctx;
    *kind = match o.tok.text.as_ref() {
        "--sports" | "--source-ports" => MultiportKind::Sports,
        "--dports" | "--destination-ports" => MultiportKind::Dports,
        _ => MultiportKind::Ports,
    };
    let v = o.value()?;
    // Each port of the list located at its own column.
    let mut col = v.col;
    *ports = v
        .text
        .split(',')
        .map(|p| {
            let r = port_range(
                ctx,
                &Tok {
                    text: p.into(),
                    col,
                    quoted: false,
                },
                ':',
            );
            col += p.chars().count() + 1;
            r
        })
        .collect::<Result<_, _>>()?;
    if ports.len() > 15 {
        return Err(ctx
            .err(v.col, "multiport takes at most 15 ports")
            .with_hint("split the rule"));
    }
    *neg = o.inv;
    Ok(())
}

/// libxt_mark: `--mark VALUE[/MASK]`.
fn mark_option(
    o: &mut Opt,
    value: &mut u32,
    mask: &mut u32,
    neg: &mut bool,
) -> Result<(), InputError> {
    (*value, *mask) = value_mask(o.w.ctx, o.value()?, u32::MAX)?;
    *neg = o.inv;
    Ok(())
}

/// libxt_addrtype: `--src-type`, `--dst-type` (comma-separated types) and the flags
/// `--limit-iface-in`, `--limit-iface-out`.
fn addrtype_option(
    o: &mut Opt,
    src: &mut Option<(Vec<AddrType>, bool)>,
    dst: &mut Option<(Vec<AddrType>, bool)>,
    limit_iface_in: &mut bool,
    limit_iface_out: &mut bool,
) -> Result<(), InputError> {
    let (ctx, tok, inv) = (o.w.ctx, o.tok, o.inv);
    match tok.text.as_ref() {
        "--src-type" => *src = Some((addr_types(ctx, o.value()?)?, inv)),
        "--dst-type" => *dst = Some((addr_types(ctx, o.value()?)?, inv)),
        "--limit-iface-in" => *limit_iface_in = true,
        _ => *limit_iface_out = true,
    }
    Ok(())
}

/// libxt_statistic: `--mode random|nth`, then `--probability P` (random) or `--every N`
/// and `--packet P` (nth). What is missing at the end of the rule is [`check_statistic`]'s.
fn statistic_option(o: &mut Opt, s: &mut Statistic) -> Result<(), InputError> {
    let (ctx, tok, inv) = (o.w.ctx, o.tok, o.inv);
    let name = tok.text.as_ref();
    match name {
        "--mode" => {
            let v = o.value()?;
            *s = match v.text.as_ref() {
                "random" => Statistic::Random {
                    probability: u32::MAX,
                    neg: false,
                },
                "nth" => Statistic::Nth {
                    every: 0,
                    packet: 0,
                    neg: false,
                },
                other => {
                    return Err(ctx
                        .err(v.col, format!("unknown statistic mode `{other}`"))
                        .with_hint("random or nth"));
                }
            };
        }
        "--probability" => {
            let v = o.value()?;
            let p: f64 = v
                .text
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    ctx.err(v.col, format!("`{}` is not a probability", v.text))
                        .with_hint("a number from 0 to 1")
                })?;
            match s {
                Statistic::Random { probability, neg } => {
                    *probability = Statistic::encode_probability(p);
                    *neg = inv;
                }
                Statistic::Nth { .. } => {
                    return Err(ctx.err(tok.col, "--probability needs --mode random"));
                }
            }
        }
        _ => {
            let v = num(ctx, o.value()?)?;
            match s {
                Statistic::Nth { every, packet, neg } => {
                    if name == "--every" {
                        *every = v;
                        *neg = inv;
                    } else {
                        *packet = v;
                    }
                }
                Statistic::Random { .. } => {
                    return Err(ctx.err(tok.col, format!("{name} needs --mode nth")));
                }
            }
        }
    }
    Ok(())
}

/// libxt_conntrack: `--ctstate`, `--ctorigdst` and `--ctorigdstport`.
fn conntrack_option(
    o: &mut Opt,
    ctstate: &mut Option<(Vec<CtState>, bool)>,
    ctorigdst: &mut Option<(Ipv4Net, bool)>,
    ctorigdstport: &mut Option<(PortRange, bool)>,
) -> Result<(), InputError> {
    let (ctx, tok, inv) = (o.w.ctx, o.tok, o.inv);
    match tok.text.as_ref() {
        "--ctstate" => *ctstate = Some((ct_states(ctx, o.value()?)?, inv)),
        "--ctorigdst" => *ctorigdst = Some((parse_net(ctx, o.value()?)?, inv)),
        _ => *ctorigdstport = Some((port_range(ctx, o.value()?, ':')?, inv)),
    }
    Ok(())
}

/// libxt_state: `--state` (the older form of `-m conntrack --ctstate`).
fn state_option(o: &mut Opt, states: &mut Vec<CtState>, neg: &mut bool) -> Result<(), InputError> {
    *states = ct_states(o.w.ctx, o.value()?)?;
    *neg = o.inv;
    Ok(())
}

/// libxt_recent: a command (`--set`, `--rcheck`, `--update`, `--remove`), which `!`
/// negates, and its modifiers.
fn recent_option(o: &mut Opt, r: &mut Recent) -> Result<(), InputError> {
    let (ctx, tok) = (o.w.ctx, o.tok);
    let name = tok.text.as_ref();
    match name {
        "--set" | "--rcheck" | "--update" | "--remove" => {
            r.cmd = match name {
                "--set" => RecentCmd::Set,
                "--rcheck" => RecentCmd::Rcheck,
                "--update" => RecentCmd::Update,
                _ => RecentCmd::Remove,
            };
            r.neg = o.inv;
        }
        "--seconds" => r.seconds = Some(num(ctx, o.value()?)?),
        "--hitcount" => r.hitcount = Some(num(ctx, o.value()?)?),
        "--reap" => r.reap = true,
        "--name" => r.name = o.value()?.text.to_string(),
        "--mask" => {
            let v = o.value()?;
            r.mask = v
                .text
                .parse()
                .map_err(|_| ctx.err(v.col, format!("`{}` is not a netmask", v.text)))?;
        }
        "--rsource" => r.source = true,
        _ => r.source = false,
    }
    Ok(())
}

/// xt_set (libxt_set): `--match-set NAME DIRS`, a direction (`src`/`dst`) per dimension.
fn set_option(
    o: &mut Opt,
    name: &mut String,
    dirs: &mut Vec<bool>,
    neg: &mut bool,
) -> Result<(), InputError> {
    let ctx = o.w.ctx;
    *name = o.value()?.text.to_string();
    let v = o.value()?;
    *dirs = v
        .text
        .split(',')
        .map(|d| match d {
            "src" => Ok(true),
            "dst" => Ok(false),
            other => Err(ctx
                .err(v.col, format!("`{other}` is not a set direction"))
                .with_hint("src or dst per dimension, e.g. dst,dst")),
        })
        .collect::<Result<_, _>>()?;
    *neg = o.inv;
    Ok(())
}

/// libxt_ipvs: `--ipvs`, `--vproto`, `--vaddr`, `--vport`, `--vdir ORIGINAL|REPLY` and
/// `--vmethod GATE|IPIP|MASQ`.
fn ipvs_option(o: &mut Opt, m: &mut IpvsMatch) -> Result<(), InputError> {
    let (ctx, tok, inv) = (o.w.ctx, o.tok, o.inv);
    match tok.text.as_ref() {
        "--ipvs" => m.property = Some(inv),
        "--vproto" => m.vproto = Some((parse_proto(ctx, o.value()?)?, inv)),
        "--vaddr" => m.vaddr = Some((parse_net(ctx, o.value()?)?, inv)),
        "--vport" => {
            let v = o.value()?;
            m.vport = Some((port(ctx, &v.text, v.col)?, inv));
        }
        "--vdir" => {
            let v = o.value()?;
            m.vdir = Some(match v.text.to_ascii_uppercase().as_str() {
                "ORIGINAL" => false,
                "REPLY" => true,
                _ => {
                    return Err(ctx
                        .err(v.col, format!("`{}` is not a direction", v.text))
                        .with_hint("--vdir ORIGINAL or --vdir REPLY"));
                }
            });
        }
        _ => {
            let v = o.value()?;
            let method = v.text.to_ascii_uppercase();
            if !matches!(method.as_str(), "GATE" | "IPIP" | "MASQ") {
                return Err(ctx
                    .err(v.col, format!("`{}` is not a forwarding method", v.text))
                    .with_hint("--vmethod GATE, IPIP or MASQ"));
            }
            m.vmethod = Some((method, inv));
        }
    }
    Ok(())
}

/// libxt_physdev: `--physdev-in`, `--physdev-out` (bridge ports) and the flags
/// `--physdev-is-in`, `--physdev-is-out`, `--physdev-is-bridged`.
fn physdev_option(
    o: &mut Opt,
    physdev_in: &mut Option<(String, bool)>,
    physdev_out: &mut Option<(String, bool)>,
    is_in: &mut Option<bool>,
    is_out: &mut Option<bool>,
    is_bridged: &mut Option<bool>,
) -> Result<(), InputError> {
    let (tok, inv) = (o.tok, o.inv);
    match tok.text.as_ref() {
        "--physdev-in" => *physdev_in = Some((o.value()?.text.to_string(), inv)),
        "--physdev-out" => *physdev_out = Some((o.value()?.text.to_string(), inv)),
        "--physdev-is-in" => *is_in = Some(inv),
        "--physdev-is-out" => *is_out = Some(inv),
        _ => *is_bridged = Some(inv),
    }
    Ok(())
}

/// libxt_statistic's final check: what iptables-restore refuses.
pub(super) fn check_statistic(ctx: &Ctx, m: &Match, col: usize) -> Result<(), InputError> {
    match m {
        // The parser's "not given" value: a real --probability stores at most 2^31.
        Match::Statistic(Statistic::Random { probability, .. }) if *probability == u32::MAX => {
            Err(ctx
                .err(col, "`-m statistic --mode random` needs --probability")
                .with_hint("e.g. `-m statistic --mode random --probability 0.5`"))
        }
        Match::Statistic(Statistic::Nth { every: 0, .. }) => Err(ctx
            .err(col, "`-m statistic --mode nth` needs --every N with N >= 1")
            .with_hint("e.g. `-m statistic --mode nth --every 3 --packet 0`")),
        Match::Statistic(Statistic::Nth { every, packet, .. }) if packet >= every => Err(ctx
            .err(
                col,
                format!("--packet {packet} is not below --every {every}"),
            )
            .with_hint("the --packet p must be 0 <= p <= n-1")),
        _ => Ok(()),
    }
}

/// The values of an option of a module or target kpath does not model: it cannot know how
/// many it takes, so it takes the words up to the next option (`-x`, `--xxx`) or `!`.
pub(super) fn unknown_values(w: &mut Words, u: &mut crate::netfilter::rule::Unknown) {
    while let Some(t) = w.toks.get(w.i) {
        let text = t.text.as_ref();
        let option = !t.quoted
            && (text == "!"
                || (text.starts_with('-')
                    && text.len() > 1
                    && !text[1..].starts_with(|c: char| c.is_ascii_digit())));
        if option {
            break;
        }
        u.args.push(if t.quoted {
            crate::netfilter::rule::save_string(text)
        } else {
            text.to_string()
        });
        w.i += 1;
    }
}
