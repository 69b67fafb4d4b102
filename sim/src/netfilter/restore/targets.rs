//! Targets (`-j`/`-g`) and their options, as the iptables target extensions take them:
//! ACCEPT, DROP, RETURN, TRACE, REJECT (`--reject-with`), DNAT/SNAT (`--to-destination`,
//! `--to-source`, `--random`, `--random-fully`, `--persistent`), MASQUERADE (`--to-ports`),
//! MARK (libxt_MARK's `--set-xmark`, `--set-mark`, `--or-mark`, `--and-mark`, `--xor-mark`)
//! LOG (`--log-prefix`, `--log-level`) and NFLOG (`--nflog-group`, `--nflog-prefix`,
//! `--nflog-size`/`--nflog-range`, `--nflog-threshold`); any other name is a jump to a user
//! chain.

use super::values::{nat_range, num, port_range, value_mask};
use super::words::{Tok, Words};
use crate::diag::InputError;
use crate::netfilter::rule::{ConnmarkOp, NatRange, Target};
use std::net::Ipv4Addr;

/// Real iptables targets kpath does not model: read as written (`Target::Unknown`), so a
/// ruleset that uses them still loads and the answer names them.
pub(super) const UNMODELLED_TARGETS: [&str; 23] = [
    "CT",
    "TPROXY",
    "NFQUEUE",
    "CLASSIFY",
    "DSCP",
    "TOS",
    "TTL",
    "SET",
    "CHECKSUM",
    "NETMAP",
    "AUDIT",
    "SECMARK",
    "CONNSECMARK",
    "HMARK",
    "IDLETIMER",
    "LED",
    "RATEEST",
    "SYNPROXY",
    "TEE",
    "CLUSTERIP",
    "ECN",
    "HL",
    "ULOG",
];

pub(super) const TARGETS: &str = "ACCEPT, DROP, RETURN, REJECT, DNAT, SNAT, MASQUERADE, REDIRECT, MARK, CONNMARK, LOG, NFLOG, TRACE, NOTRACK, CT --notrack, TCPMSS, or a user chain";

/// The targets of [`TARGETS`] by name, for "did you mean".
pub(super) const BUILTIN_TARGETS: [&str; 11] = [
    "ACCEPT",
    "DROP",
    "RETURN",
    "REJECT",
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "MARK",
    "LOG",
    "NFLOG",
    "TRACE",
];

pub(super) fn new_target(name: &str, goto: bool, line: usize, col: usize) -> Target {
    if goto {
        return Target::Goto(name.to_string());
    }
    if UNMODELLED_TARGETS.contains(&name) {
        return Target::Unknown(Box::new(crate::netfilter::rule::Unknown {
            name: name.to_string(),
            args: Vec::new(),
            line,
            col,
        }));
    }
    match name {
        "ACCEPT" => Target::Accept,
        "DROP" => Target::Drop,
        "RETURN" => Target::Return,
        "TRACE" => Target::Trace,
        "REJECT" => Target::Reject {
            with: "icmp-port-unreachable".into(),
        },
        "DNAT" => Target::Dnat {
            to: NatRange {
                lo: Ipv4Addr::UNSPECIFIED,
                hi: Ipv4Addr::UNSPECIFIED,
                ports: None,
            },
            random: false,
            persistent: false,
        },
        "SNAT" => Target::Snat {
            to: NatRange {
                lo: Ipv4Addr::UNSPECIFIED,
                hi: Ipv4Addr::UNSPECIFIED,
                ports: None,
            },
            random: false,
            random_fully: false,
            persistent: false,
        },
        "MASQUERADE" => Target::Masquerade {
            to_ports: None,
            random: false,
            random_fully: false,
        },
        "MARK" => Target::Mark { value: 0, mask: 0 },
        "LOG" => Target::Log {
            prefix: None,
            level: None,
        },
        "NFLOG" => Target::Nflog(Default::default()),
        "NOTRACK" => Target::Notrack { ct: false },
        "TCPMSS" => Target::Tcpmss { mss: None },
        "CONNMARK" => Target::Connmark(ConnmarkOp::Save {
            nfmask: u32::MAX,
            ctmask: u32::MAX,
        }),
        "REDIRECT" => Target::Redirect {
            to_ports: None,
            random: false,
        },
        chain => Target::Jump(chain.to_string()),
    }
}

pub(super) fn target_takes(t: &Target, opt: &str) -> bool {
    match t {
        Target::Reject { .. } => opt == "--reject-with",
        Target::Dnat { .. } => matches!(opt, "--to-destination" | "--random" | "--persistent"),
        Target::Snat { .. } => matches!(
            opt,
            "--to-source" | "--random" | "--random-fully" | "--persistent"
        ),
        Target::Masquerade { .. } => matches!(opt, "--to-ports" | "--random" | "--random-fully"),
        Target::Redirect { .. } => matches!(opt, "--to-ports" | "--random"),
        Target::Tcpmss { .. } => matches!(opt, "--set-mss" | "--clamp-mss-to-pmtu"),
        Target::Connmark(_) => matches!(
            opt,
            "--set-xmark"
                | "--set-mark"
                | "--and-mark"
                | "--or-mark"
                | "--xor-mark"
                | "--save-mark"
                | "--restore-mark"
                | "--nfmask"
                | "--ctmask"
                | "--mask"
        ),
        Target::Mark { .. } => matches!(
            opt,
            "--set-xmark" | "--set-mark" | "--or-mark" | "--and-mark" | "--xor-mark"
        ),
        Target::Log { .. } => matches!(opt, "--log-prefix" | "--log-level"),
        Target::Nflog(_) => matches!(
            opt,
            "--nflog-prefix"
                | "--nflog-group"
                | "--nflog-size"
                | "--nflog-range"
                | "--nflog-threshold"
        ),
        // Every option after a target kpath does not model is its own.
        Target::Unknown(_) => true,
        _ => false,
    }
}

pub(super) fn target_option(w: &mut Words, t: &mut Target, opt: &Tok) -> Result<(), InputError> {
    let ctx = w.ctx;
    let o = opt.text.as_ref();
    match t {
        Target::Unknown(u) => {
            u.args.push(o.to_string());
            super::matches::unknown_values(w, u);
        }
        Target::Reject { with } => *with = w.value(opt)?.text.to_string(),
        Target::Dnat {
            to,
            random,
            persistent,
        } => match o {
            "--to-destination" => *to = nat_range(ctx, w.value(opt)?)?,
            "--random" => *random = true,
            _ => *persistent = true,
        },
        Target::Snat {
            to,
            random,
            random_fully,
            persistent,
        } => match o {
            "--to-source" => *to = nat_range(ctx, w.value(opt)?)?,
            "--random" => *random = true,
            "--random-fully" => *random_fully = true,
            _ => *persistent = true,
        },
        Target::Connmark(op) => {
            // libxt_CONNMARK: the value forms become --set-xmark; --save/--restore keep
            // their masks (--mask sets both), all 0xffffffff unless given.
            let masks = |op: &ConnmarkOp| match *op {
                ConnmarkOp::Save { nfmask, ctmask } | ConnmarkOp::Restore { nfmask, ctmask } => {
                    (nfmask, ctmask)
                }
                ConnmarkOp::SetXmark { .. } => (u32::MAX, u32::MAX),
            };
            match o {
                "--save-mark" => {
                    let (nfmask, ctmask) = masks(op);
                    *op = ConnmarkOp::Save { nfmask, ctmask };
                }
                "--restore-mark" => {
                    let (nfmask, ctmask) = masks(op);
                    *op = ConnmarkOp::Restore { nfmask, ctmask };
                }
                "--nfmask" | "--ctmask" | "--mask" => {
                    let m = num(ctx, w.value(opt)?)?;
                    let (mut nf, mut ct) = masks(op);
                    if o != "--ctmask" {
                        nf = m;
                    }
                    if o != "--nfmask" {
                        ct = m;
                    }
                    *op = match op {
                        ConnmarkOp::Restore { .. } => ConnmarkOp::Restore {
                            nfmask: nf,
                            ctmask: ct,
                        },
                        _ => ConnmarkOp::Save {
                            nfmask: nf,
                            ctmask: ct,
                        },
                    };
                }
                _ => {
                    let (value, mask) = xmark(ctx, o, w.value(opt)?)?;
                    *op = ConnmarkOp::SetXmark { value, mask };
                }
            }
        }
        Target::Tcpmss { mss } => {
            if o == "--set-mss" {
                let v = w.value(opt)?;
                let n = num(ctx, v)?;
                *mss = Some(u16::try_from(n).map_err(|_| {
                    ctx.err(v.col, format!("MSS {n} does not fit 16 bits"))
                        .with_hint("--set-mss takes 0-65535, e.g. 1410 behind VXLAN")
                })?);
            } else {
                *mss = None;
            }
        }
        Target::Redirect { to_ports, random } => match o {
            "--to-ports" => *to_ports = Some(port_range(ctx, w.value(opt)?, '-')?),
            _ => *random = true,
        },
        Target::Masquerade {
            to_ports,
            random,
            random_fully,
        } => match o {
            "--to-ports" => *to_ports = Some(port_range(ctx, w.value(opt)?, '-')?),
            "--random" => *random = true,
            _ => *random_fully = true,
        },
        Target::Mark { value, mask } => (*value, *mask) = xmark(ctx, o, w.value(opt)?)?,
        Target::Nflog(n) => {
            let v = w.value(opt)?;
            match o {
                "--nflog-prefix" => n.prefix = Some(v.text.to_string()),
                "--nflog-group" => n.group = num(ctx, v)?.min(u32::from(u16::MAX)) as u16,
                "--nflog-size" => n.size = Some((true, num(ctx, v)?)),
                "--nflog-range" => n.size = Some((false, num(ctx, v)?)),
                _ => n.threshold = Some(num(ctx, v)?.min(u32::from(u16::MAX)) as u16),
            }
        }
        Target::Log { prefix, level } => {
            let v = w.value(opt)?;
            if o == "--log-prefix" {
                *prefix = Some(v.text.to_string());
            } else {
                let names = [
                    "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
                ];
                *level = Some(match names.iter().position(|n| *n == v.text) {
                    Some(i) => i as u8,
                    None => num(ctx, v)?.min(7) as u8,
                });
            }
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn target_name(t: &Target) -> String {
    t.to_string()
        .trim()
        .trim_start_matches("-j ")
        .trim_start_matches("-g ")
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string()
}

/// libxt_MARK's and libxt_CONNMARK's value forms as the one xor-mark they become: `V/M`
/// for `--set-xmark`; `--set-mark V/M` clears M and V's bits, then sets V
/// (mark_tg_parse); `--or-mark`, `--and-mark`, `--xor-mark`.
fn xmark(ctx: &super::Ctx, o: &str, v: &Tok) -> Result<(u32, u32), InputError> {
    Ok(match o {
        "--set-xmark" => value_mask(ctx, v, u32::MAX)?,
        "--set-mark" => {
            let (value, mask) = value_mask(ctx, v, u32::MAX)?;
            (value, value | mask)
        }
        "--or-mark" => {
            let x = num(ctx, v)?;
            (x, x)
        }
        "--and-mark" => (0, !num(ctx, v)?),
        _ => (num(ctx, v)?, 0),
    })
}
