//! Match modules (`-m NAME`) and their options, as the libxt_* extensions take them:
//! comment, tcp, udp, icmp, multiport, mark, addrtype, statistic, conntrack, state, recent,
//! set, nfacct, physdev and ipvs. An option belongs to the last module loaded before it
//! that takes it; `-p tcp`, `-p udp` and `-p icmp` load their module when one of its
//! options comes without `-m` (as iptables loads a protocol's match implicitly).

use super::Ctx;
use super::values::*;
use super::words::{Tok, Words};
use crate::diag::{InputError, did_you_mean};
use crate::netfilter::rule::*;
use crate::wire::IpProtocol;
use std::net::Ipv4Addr;

pub(super) const MATCHES: &str = "comment, tcp, udp, icmp, multiport, mark, addrtype, statistic, conntrack, state, recent, set, nfacct, physdev, ipvs";

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
    Ok(match v.text.as_str() {
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
        "addrtype" => Match::AddrType {
            src: None,
            dst: None,
            limit_iface_in: false,
            limit_iface_out: false,
        },
        "statistic" => Match::Statistic(Statistic::Random {
            probability: u32::MAX,
            neg: false,
        }),
        "conntrack" => Match::Conntrack {
            ctstate: None,
            ctorigdst: None,
            ctorigdstport: None,
        },
        "state" => Match::State {
            states: Vec::new(),
            neg: false,
        },
        "recent" => Match::Recent(Recent {
            cmd: RecentCmd::Set,
            name: "DEFAULT".into(),
            seconds: None,
            reap: false,
            hitcount: None,
            mask: Ipv4Addr::BROADCAST,
            source: true,
            neg: false,
        }),
        "set" => Match::Set {
            name: String::new(),
            dirs: Vec::new(),
            neg: false,
        },
        "nfacct" => Match::Nfacct(String::new()),
        "ipvs" => Match::Ipvs(Default::default()),
        "physdev" => Match::Physdev {
            physdev_in: None,
            physdev_out: None,
            is_in: None,
            is_out: None,
            is_bridged: None,
        },
        other => {
            let hint = match did_you_mean(other, MATCHES.split(", ")) {
                Some(m) => format!("did you mean `{m}`? kpath models: {MATCHES}"),
                None => format!("kpath models: {MATCHES}"),
            };
            return Err(ctx
                .err(v.col, format!("unknown match module `{other}`"))
                .with_hint(hint));
        }
    })
}

/// The module an option belongs to: the last one loaded that takes it. `-p tcp`/`-p udp`
/// load their module implicitly when an option needs it.
pub(super) fn module_for<'r>(rule: &'r mut Rule, opt: &str) -> Option<&'r mut Match> {
    let pos = rule.matches.iter().rposition(|m| takes(m, opt));
    if let Some(p) = pos {
        return rule.matches.get_mut(p);
    }
    let implicit = match rule.proto {
        Some((IpProtocol::Tcp, _))
            if matches!(
                opt,
                "--sport"
                    | "--dport"
                    | "--source-port"
                    | "--destination-port"
                    | "--tcp-flags"
                    | "--syn"
            ) =>
        {
            Match::Tcp {
                sport: None,
                dport: None,
                flags: None,
            }
        }
        Some((IpProtocol::Udp, _))
            if matches!(
                opt,
                "--sport" | "--dport" | "--source-port" | "--destination-port"
            ) =>
        {
            Match::Udp {
                sport: None,
                dport: None,
            }
        }
        Some((IpProtocol::Icmp, _)) if opt == "--icmp-type" => Match::Icmp {
            icmp_type: 255,
            code: None,
            neg: false,
        },
        _ => return None,
    };
    rule.matches.push(implicit);
    rule.matches.last_mut()
}

pub(super) fn takes(m: &Match, opt: &str) -> bool {
    match m {
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
        Match::Udp { .. } => matches!(
            opt,
            "--sport" | "--dport" | "--source-port" | "--destination-port"
        ),
        Match::Icmp { .. } => opt == "--icmp-type",
        Match::Multiport { .. } => matches!(
            opt,
            "--sports" | "--dports" | "--ports" | "--source-ports" | "--destination-ports"
        ),
        Match::Mark { .. } => opt == "--mark",
        Match::AddrType { .. } => matches!(
            opt,
            "--src-type" | "--dst-type" | "--limit-iface-in" | "--limit-iface-out"
        ),
        Match::Statistic(_) => matches!(opt, "--mode" | "--probability" | "--every" | "--packet"),
        Match::Conntrack { .. } => matches!(opt, "--ctstate" | "--ctorigdst" | "--ctorigdstport"),
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
        Match::Set { .. } => opt == "--match-set",
        Match::Nfacct(_) => opt == "--nfacct-name",
        Match::Ipvs(_) => matches!(
            opt,
            "--ipvs" | "--vproto" | "--vaddr" | "--vport" | "--vdir" | "--vmethod"
        ),
        Match::Physdev { .. } => matches!(
            opt,
            "--physdev-in"
                | "--physdev-out"
                | "--physdev-is-in"
                | "--physdev-is-out"
                | "--physdev-is-bridged"
        ),
    }
}

pub(super) fn match_option(
    w: &mut Words,
    m: &mut Match,
    opt: &Tok,
    inv: bool,
) -> Result<(), InputError> {
    let ctx = w.ctx;
    let o = opt.text.as_str();
    match m {
        Match::Comment(c) => *c = w.value(opt)?.text.clone(),
        Match::Tcp {
            sport,
            dport,
            flags,
        } => match o {
            "--sport" | "--source-port" => {
                *sport = Some((port_range(ctx, w.value(opt)?, ':')?, inv))
            }
            "--dport" | "--destination-port" => {
                *dport = Some((port_range(ctx, w.value(opt)?, ':')?, inv))
            }
            "--syn" => *flags = Some((0x17, 0x02, inv)),
            _ => {
                let mask = tcp_flag_list(ctx, w.value(opt)?)?;
                let comp = tcp_flag_list(ctx, w.value(opt)?)?;
                *flags = Some((mask, comp, inv));
            }
        },
        Match::Udp { sport, dport } => match o {
            "--sport" | "--source-port" => {
                *sport = Some((port_range(ctx, w.value(opt)?, ':')?, inv))
            }
            _ => *dport = Some((port_range(ctx, w.value(opt)?, ':')?, inv)),
        },
        Match::Icmp {
            icmp_type: t,
            code,
            neg,
        } => {
            (*t, *code) = icmp_type(ctx, w.value(opt)?)?;
            *neg = inv;
        }
        Match::Multiport { kind, ports, neg } => {
            *kind = match o {
                "--sports" | "--source-ports" => MultiportKind::Sports,
                "--dports" | "--destination-ports" => MultiportKind::Dports,
                _ => MultiportKind::Ports,
            };
            let v = w.value(opt)?;
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
            *neg = inv;
        }
        Match::Mark { value, mask, neg } => {
            (*value, *mask) = value_mask(ctx, w.value(opt)?, u32::MAX)?;
            *neg = inv;
        }
        Match::AddrType {
            src,
            dst,
            limit_iface_in,
            limit_iface_out,
        } => match o {
            "--src-type" => *src = Some((addr_types(ctx, w.value(opt)?)?, inv)),
            "--dst-type" => *dst = Some((addr_types(ctx, w.value(opt)?)?, inv)),
            "--limit-iface-in" => *limit_iface_in = true,
            _ => *limit_iface_out = true,
        },
        Match::Statistic(s) => match o {
            "--mode" => {
                let v = w.value(opt)?;
                *s = match v.text.as_str() {
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
                let v = w.value(opt)?;
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
                        return Err(ctx.err(opt.col, "--probability needs --mode random"));
                    }
                }
            }
            _ => {
                let v = num(ctx, w.value(opt)?)?;
                match s {
                    Statistic::Nth { every, packet, neg } => {
                        if o == "--every" {
                            *every = v;
                            *neg = inv;
                        } else {
                            *packet = v;
                        }
                    }
                    Statistic::Random { .. } => {
                        return Err(ctx.err(opt.col, format!("{o} needs --mode nth")));
                    }
                }
            }
        },
        Match::Conntrack {
            ctstate,
            ctorigdst,
            ctorigdstport,
        } => match o {
            "--ctstate" => *ctstate = Some((ct_states(ctx, w.value(opt)?)?, inv)),
            "--ctorigdst" => *ctorigdst = Some((parse_net(ctx, w.value(opt)?)?, inv)),
            _ => *ctorigdstport = Some((port_range(ctx, w.value(opt)?, ':')?, inv)),
        },
        Match::State { states, neg } => {
            *states = ct_states(ctx, w.value(opt)?)?;
            *neg = inv;
        }
        Match::Recent(r) => match o {
            "--set" | "--rcheck" | "--update" | "--remove" => {
                r.cmd = match o {
                    "--set" => RecentCmd::Set,
                    "--rcheck" => RecentCmd::Rcheck,
                    "--update" => RecentCmd::Update,
                    _ => RecentCmd::Remove,
                };
                r.neg = inv;
            }
            "--seconds" => r.seconds = Some(num(ctx, w.value(opt)?)?),
            "--hitcount" => r.hitcount = Some(num(ctx, w.value(opt)?)?),
            "--reap" => r.reap = true,
            "--name" => r.name = w.value(opt)?.text.clone(),
            "--mask" => {
                let v = w.value(opt)?;
                r.mask = v
                    .text
                    .parse()
                    .map_err(|_| ctx.err(v.col, format!("`{}` is not a netmask", v.text)))?;
            }
            "--rsource" => r.source = true,
            _ => r.source = false,
        },
        Match::Set { name, dirs, neg } => {
            *name = w.value(opt)?.text.clone();
            let v = w.value(opt)?;
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
            *neg = inv;
        }
        Match::Nfacct(n) => *n = w.value(opt)?.text.clone(),
        Match::Ipvs(m) => match o {
            "--ipvs" => m.property = Some(inv),
            "--vproto" => m.vproto = Some((parse_proto(ctx, w.value(opt)?)?, inv)),
            "--vaddr" => m.vaddr = Some((parse_net(ctx, w.value(opt)?)?, inv)),
            "--vport" => {
                let v = w.value(opt)?;
                m.vport = Some((port(ctx, &v.text, v.col)?, inv));
            }
            "--vdir" => {
                let v = w.value(opt)?;
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
                let v = w.value(opt)?;
                let method = v.text.to_ascii_uppercase();
                if !matches!(method.as_str(), "GATE" | "IPIP" | "MASQ") {
                    return Err(ctx
                        .err(v.col, format!("`{}` is not a forwarding method", v.text))
                        .with_hint("--vmethod GATE, IPIP or MASQ"));
                }
                m.vmethod = Some((method, inv));
            }
        },
        Match::Physdev {
            physdev_in,
            physdev_out,
            is_in,
            is_out,
            is_bridged,
        } => match o {
            "--physdev-in" => *physdev_in = Some((w.value(opt)?.text.clone(), inv)),
            "--physdev-out" => *physdev_out = Some((w.value(opt)?.text.clone(), inv)),
            "--physdev-is-in" => *is_in = Some(inv),
            "--physdev-is-out" => *is_out = Some(inv),
            _ => *is_bridged = Some(inv),
        },
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
