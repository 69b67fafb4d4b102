//! `ipvsadm-save -n` (= `ipvsadm -S -n`) read back: the rules ipvsadm's `print_service_entry`
//! writes in its FMT_RULE form, one virtual service per `-A` line and one real server per
//! `-a` line:
//!
//! ```text
//! -A -t 10.96.0.1:443 -s rr -p 10800
//! -a -t 10.96.0.1:443 -r 172.31.0.10:6443 -m -w 1
//! -A -u 10.96.0.10:53 -s rr
//! ```
//!
//! Each line is applied as `ipvsadm-restore` applies it: `-A` is `ip_vs_add_service`, `-a`
//! is `ip_vs_add_dest`, which puts the new real server at the head of the service's list
//! ([`VirtualService::add_dest`]) - so the kernel's list (and round robin's order) is the
//! reverse of the file's. The long option names ipvsadm accepts (`--tcp-service`,
//! `--real-server`, ...) are read too. Anything kpath does not model (firewall-mark
//! services, IPv6, a scheduler it lacks, persistence netmasks, one-packet scheduling,
//! connection thresholds) is an error naming the line and the word, never skipped.

use super::{Forward, Ipvs, RealServer, Scheduler, VirtualService};
use crate::diag::{InputError, did_you_mean};
use crate::wire::IpProtocol;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

/// A word of a line and the 1-based column (in characters) it starts at.
struct Tok<'a> {
    text: &'a str,
    col: usize,
}

fn words(line: &str) -> Vec<Tok<'_>> {
    crate::diag::words(line)
        .into_iter()
        .map(|(col, text)| Tok { text, col })
        .collect()
}

/// Every scheduler the kernel ships (`net/netfilter/ipvs/Kconfig`): one of these that kpath
/// lacks is "not modelled", anything else a typo.
const KERNEL_SCHEDULERS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// The schedulers kpath models, in the kernel's order.
fn modelled() -> Vec<&'static str> {
    KERNEL_SCHEDULERS
        .iter()
        .copied()
        .filter(|n| Scheduler::by_name(n).is_some())
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    AddService,
    AddServer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opt {
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Sched,
    Persistent,
    Netmask,
    SchedFlags,
    Ops,
    Pe,
    Real,
    Masq,
    Route,
    Tunnel,
    Weight,
    UThreshold,
    LThreshold,
    Ipv6,
}

/// ipvsadm's short and long option names (`ipvsadm.c: parse_options`).
fn option(word: &str) -> Option<Opt> {
    Some(match word {
        "-t" | "--tcp-service" => Opt::Tcp,
        "-u" | "--udp-service" => Opt::Udp,
        "--sctp-service" => Opt::Sctp,
        "-f" | "--fwmark-service" => Opt::Fwmark,
        "-s" | "--scheduler" => Opt::Sched,
        "-p" | "--persistent" => Opt::Persistent,
        "-M" | "--netmask" => Opt::Netmask,
        "-b" | "--sched-flags" => Opt::SchedFlags,
        // ipvsadm-save prints one-packet scheduling as ` ops` (1.26) or ` --ops`.
        "-o" | "--ops" | "ops" => Opt::Ops,
        "--pe" | "pe" => Opt::Pe,
        "-r" | "-R" | "--real-server" => Opt::Real,
        "-m" | "--masquerading" => Opt::Masq,
        "-g" | "--gatewaying" => Opt::Route,
        "-i" | "--ipip" => Opt::Tunnel,
        "-w" | "--weight" => Opt::Weight,
        "-x" | "--u-threshold" => Opt::UThreshold,
        "-y" | "--l-threshold" => Opt::LThreshold,
        "-6" | "--ipv6" => Opt::Ipv6,
        _ => return None,
    })
}

const KNOWN_OPTIONS: [&str; 16] = [
    "-t",
    "-u",
    "--sctp-service",
    "-s",
    "-p",
    "-r",
    "-m",
    "-g",
    "-i",
    "-w",
    "--tcp-service",
    "--udp-service",
    "--scheduler",
    "--persistent",
    "--real-server",
    "--weight",
];

/// ipvsadm commands that are not part of a saved table.
fn other_command(word: &str) -> bool {
    matches!(
        word,
        "-E" | "--edit-service"
            | "-D"
            | "--delete-service"
            | "-C"
            | "--clear"
            | "-R"
            | "--restore"
            | "-S"
            | "--save"
            | "-e"
            | "--edit-server"
            | "-d"
            | "--delete-server"
            | "-L"
            | "-l"
            | "--list"
            | "-Z"
            | "--zero"
            | "--set"
            | "--start-daemon"
            | "--stop-daemon"
            | "-h"
            | "--help"
    )
}

struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
    line: usize,
}

impl Ctx<'_> {
    /// An error at `tok`, underlining exactly that word.
    fn err(&self, tok: &Tok, msg: impl Into<String>) -> InputError {
        let mut e = InputError::at(self.file, self.src, self.line, tok.col, msg);
        e.width = tok.text.chars().count().max(1);
        e
    }
}

/// What `-n` would have avoided: a name where ipvsadm prints an address or a port.
const NUMERIC_HINT: &str =
    "ipvsadm-save without -n prints host and service names; save the table with `ipvsadm-save -n`";

/// `ADDR:PORT` (or `ADDR` when `port_optional`) as ipvsadm prints it for IPv4.
fn addr_port(
    ctx: &Ctx,
    tok: &Tok,
    what: &str,
    port_optional: bool,
) -> Result<(Ipv4Addr, Option<u16>), InputError> {
    let text = tok.text;
    if text.starts_with('[') || text.matches(':').count() > 1 {
        return Err(ctx
            .err(tok, format!("`{text}` is an IPv6 {what}"))
            .with_hint("kpath models IPv4 only"));
    }
    let (a, p) = match text.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None if port_optional => (text, None),
        None => {
            return Err(ctx
                .err(tok, format!("{what} `{text}` has no port"))
                .with_hint("write ADDRESS:PORT, e.g. 10.96.0.10:53"));
        }
    };
    let named = |s: &str| s.chars().any(|c| c.is_ascii_alphabetic());
    let addr: Ipv4Addr = a.parse().map_err(|_| {
        let e = ctx.err(
            tok,
            format!("`{a}` is not an IPv4 address ({what} `{text}`)"),
        );
        if named(a) {
            e.with_hint(NUMERIC_HINT)
        } else {
            e.with_hint("an IPv4 address is four numbers from 0 to 255, e.g. 10.96.0.10")
        }
    })?;
    let port = match p {
        None => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| {
            let e = ctx.err(
                tok,
                format!("`{p}` is not a port, 0-65535 ({what} `{text}`)"),
            );
            if named(p) {
                e.with_hint(NUMERIC_HINT)
            } else {
                e.with_hint("a port is a number up to 65535, e.g. 10.96.0.10:53")
            }
        })?),
    };
    Ok((addr, port))
}

fn number(ctx: &Ctx, tok: &Tok, what: &str, min: u64, max: u64) -> Result<u64, InputError> {
    match tok.text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ctx
            .err(
                tok,
                format!("`{}` is not a valid {what} ({min}-{max})", tok.text),
            )
            // The range alone does not say what 0 means for a weight.
            .with_hint(if what == "weight" {
                format!("a whole number from {min} to {max}; 0 quiesces the real server (no new connections)")
            } else {
                format!("a whole number from {min} to {max}")
            })),
    }
}

/// One `-A` or `-a` line, its options read.
#[derive(Default)]
struct Line {
    /// (protocol, address, port) of the virtual service.
    service: Option<(IpProtocol, Ipv4Addr, u16)>,
    scheduler: Option<Scheduler>,
    persistent: Option<u32>,
    real: Option<(Ipv4Addr, Option<u16>)>,
    forward: Option<Forward>,
    weight: Option<u32>,
}

/// One `-A` or `-a` line: its options, then what its kind of line must have.
fn parse_line(ctx: &Ctx, cmd: Cmd, cmd_tok: &Tok, toks: &[Tok]) -> Result<Line, InputError> {
    let (mut l, sched_flags) = parse_options(ctx, cmd, toks)?;
    if l.service.is_none() {
        return Err(ctx
            .err(
                cmd_tok,
                format!("`{}` names no virtual service", cmd_tok.text),
            )
            .with_hint(
                "give it with -t ADDR:PORT (TCP), -u ADDR:PORT (UDP) or --sctp-service ADDR:PORT",
            ));
    }
    match cmd {
        Cmd::AddService => service_line(ctx, cmd_tok, &mut l, sched_flags)?,
        Cmd::AddServer => server_line(ctx, cmd_tok, &l)?,
    }
    Ok(l)
}

/// A virtual service's `-A` line has a scheduler, and its `-b` flags are the scheduler's.
fn service_line(
    ctx: &Ctx,
    cmd_tok: &Tok,
    l: &mut Line,
    sched_flags: Option<&Tok>,
) -> Result<(), InputError> {
    let Some(s) = &mut l.scheduler else {
        return Err(ctx
            .err(cmd_tok, "the service has no scheduler (`-s`)")
            .with_hint(format!(
                "ipvsadm-save always prints it; ipvsadm's default, wlc, is not modelled (kpath models {})",
                modelled().join(", ")
            )));
    };
    sched_flags_of(ctx, sched_flags, s)
}

/// A real server's `-a` line names the real server.
fn server_line(ctx: &Ctx, cmd_tok: &Tok, l: &Line) -> Result<(), InputError> {
    if l.real.is_none() {
        return Err(ctx
            .err(
                cmd_tok,
                "the real server line has no real server (`-r ADDR:PORT`)",
            )
            .with_hint("`-a -t 10.96.0.10:53 -r 10.244.1.3:53 -m -w 1`"));
    }
    Ok(())
}

/// The options of a line, left to right as `ipvsadm.c: parse_options` reads them, and the
/// `-b` word, which is read once the scheduler is known.
fn parse_options<'t>(
    ctx: &Ctx,
    cmd: Cmd,
    toks: &'t [Tok<'t>],
) -> Result<(Line, Option<&'t Tok<'t>>), InputError> {
    let mut l = Line::default();
    let mut seen: Vec<Opt> = Vec::new();
    let mut sched_flags: Option<&Tok> = None;
    let mut i = 0;
    while let Some(tok) = toks.get(i) {
        i += 1;
        let opt = known_option(ctx, tok)?;
        once(ctx, tok, opt, &mut seen)?;
        let mut value = || -> Result<&Tok, InputError> {
            let v = toks
                .get(i)
                .ok_or_else(|| ctx.err(tok, format!("`{}` needs a value", tok.text)))?;
            i += 1;
            Ok(v)
        };
        match opt {
            Opt::Tcp | Opt::Udp | Opt::Sctp => {
                l.service = Some(virtual_service(ctx, opt, value()?)?);
            }
            Opt::Sched => {
                service_only(ctx, cmd, tok, "scheduler")?;
                l.scheduler = Some(scheduler(ctx, value()?)?);
            }
            Opt::Persistent => {
                service_only(ctx, cmd, tok, "persistence")?;
                let v = value()?;
                l.persistent = Some(number(
                    ctx,
                    v,
                    "persistence timeout in seconds",
                    1,
                    u64::from(u32::MAX),
                )? as u32);
            }
            Opt::Netmask => {
                service_only(ctx, cmd, tok, "persistence netmask")?;
                let v = value()?;
                if v.text != "255.255.255.255" {
                    return Err(ctx
                        .err(v, format!("persistence netmask `{}` is not modelled", v.text))
                        .with_hint("kpath models per-client persistence (netmask 255.255.255.255), as kube-proxy's ClientIP affinity sets it"));
                }
            }
            Opt::SchedFlags => {
                service_only(ctx, cmd, tok, "scheduler flags")?;
                sched_flags = Some(value()?);
            }
            Opt::Real => {
                server_only(ctx, cmd, tok)?;
                let v = value()?;
                l.real = Some(addr_port(ctx, v, "real server address", true)?);
            }
            Opt::Masq | Opt::Route | Opt::Tunnel => {
                server_only(ctx, cmd, tok)?;
                l.forward = Some(match opt {
                    Opt::Masq => Forward::Masq,
                    Opt::Route => Forward::Route,
                    _ => Forward::Tunnel,
                });
            }
            Opt::Weight => {
                server_only(ctx, cmd, tok)?;
                let v = value()?;
                l.weight = Some(number(ctx, v, "weight", 0, i32::MAX as u64)? as u32);
            }
            Opt::Fwmark | Opt::Ipv6 | Opt::Ops | Opt::Pe | Opt::UThreshold | Opt::LThreshold => {
                return Err(unmodelled(ctx, opt, tok));
            }
        }
    }
    Ok((l, sched_flags))
}

/// The option `tok` names; any other word is refused.
fn known_option(ctx: &Ctx, tok: &Tok) -> Result<Opt, InputError> {
    let Some(opt) = option(tok.text) else {
        let msg = if tok.text.starts_with('-') {
            format!("unknown option `{}`", tok.text)
        } else {
            format!("unexpected `{}`", tok.text)
        };
        let e = ctx.err(tok, msg);
        return Err(match did_you_mean(tok.text, KNOWN_OPTIONS) {
            Some(m) if tok.text.starts_with('-') => e.with_hint(format!("did you mean `{m}`?")),
            _ => e.with_hint(
                "a saved service is `-A -t|-u ADDR:PORT -s SCHED [-p SECONDS]`, a real server `-a -t|-u ADDR:PORT -r ADDR:PORT -m|-g|-i -w WEIGHT`",
            ),
        });
    };
    Ok(opt)
}

/// Each option at most once a line: `seen` holds the options read so far.
fn once(ctx: &Ctx, tok: &Tok, opt: Opt, seen: &mut Vec<Opt>) -> Result<(), InputError> {
    // One forwarding method per real server: -m, -g and -i are the same option.
    let key = match opt {
        Opt::Masq | Opt::Route | Opt::Tunnel => Opt::Masq,
        Opt::Tcp | Opt::Udp | Opt::Sctp | Opt::Fwmark => Opt::Tcp,
        o => o,
    };
    if seen.contains(&key) {
        return Err(ctx.err(tok, format!("`{}` repeats an option given before on this line", tok.text))
            .with_hint("a line names one service, one scheduler, one real server, one forwarding method (-m, -g or -i) and one weight"));
    }
    seen.push(key);
    Ok(())
}

/// `tok`, an option of the service (its `name`), is refused on a real server's `-a` line.
fn service_only(ctx: &Ctx, cmd: Cmd, tok: &Tok, name: &str) -> Result<(), InputError> {
    if cmd == Cmd::AddServer {
        return Err(ctx
            .err(
                tok,
                format!(
                    "`{}` belongs to a service's `-A` line, not to a real server's `-a` line",
                    tok.text
                ),
            )
            .with_hint(format!(
                "the {name} is set once for the service, on its -A line"
            )));
    }
    Ok(())
}

/// `tok`, an option of a real server, is refused on a service's `-A` line.
fn server_only(ctx: &Ctx, cmd: Cmd, tok: &Tok) -> Result<(), InputError> {
    if cmd == Cmd::AddService {
        return Err(ctx
            .err(
                tok,
                format!(
                    "`{}` belongs to a real server's `-a` line, not to a service's `-A` line",
                    tok.text
                ),
            )
            .with_hint("add real servers with `-a -t|-u ADDR:PORT -r ADDR:PORT -m -w 1`"));
    }
    Ok(())
}

/// `-t|-u|--sctp-service ADDR:PORT`, the value `v` of `opt`: the line's virtual service.
fn virtual_service(
    ctx: &Ctx,
    opt: Opt,
    v: &Tok,
) -> Result<(IpProtocol, Ipv4Addr, u16), InputError> {
    let (addr, port) = addr_port(ctx, v, "virtual service address", false)?;
    let port = port.unwrap_or(0);
    if port == 0 {
        return Err(ctx
            .err(
                v,
                format!("virtual service `{}` has port 0 (every port)", v.text),
            )
            .with_hint("kpath models services on one port, as kube-proxy programs them"));
    }
    let proto = match opt {
        Opt::Tcp => IpProtocol::Tcp,
        Opt::Udp => IpProtocol::Udp,
        _ => IpProtocol::Sctp,
    };
    Ok((proto, addr, port))
}

/// `-s NAME`: one of the schedulers kpath models.
fn scheduler(ctx: &Ctx, v: &Tok) -> Result<Scheduler, InputError> {
    let Some(s) = Scheduler::by_name(v.text) else {
        let known = modelled();
        let e = if KERNEL_SCHEDULERS.contains(&v.text) {
            ctx.err(
                v,
                format!("scheduler `{}` is not modelled by kpath", v.text),
            )
        } else {
            ctx.err(v, format!("unknown scheduler `{}`", v.text))
        };
        let hint = match did_you_mean(v.text, known.iter().copied()) {
            Some(m) if !KERNEL_SCHEDULERS.contains(&v.text) => {
                format!("did you mean `{m}`? kpath models {}", known.join(", "))
            }
            _ => format!("kpath models {}", known.join(", ")),
        };
        return Err(e.with_hint(hint));
    };
    Ok(s)
}

/// The error for `tok`, an option kpath does not model (`-f`, `-6`, `ops`, `--pe`, `-x`,
/// `-y`).
fn unmodelled(ctx: &Ctx, opt: Opt, tok: &Tok) -> InputError {
    match opt {
        Opt::Fwmark => ctx
            .err(tok, "firewall-mark services (`-f`) are not modelled")
            .with_hint("kpath models services on ADDR:PORT (-t, -u, --sctp-service), as kube-proxy programs them"),
        Opt::Ipv6 => ctx
            .err(
                tok,
                format!("`{}`: IPv6 services are not modelled", tok.text),
            )
            .with_hint("kpath models IPv4 only"),
        Opt::Ops => ctx
            .err(tok, "one-packet scheduling is not modelled")
            .with_hint("kube-proxy never sets it"),
        Opt::Pe => ctx
            .err(tok, "persistence engines are not modelled")
            .with_hint("kube-proxy never sets one"),
        // -x, -y
        _ => ctx
            .err(
                tok,
                format!("connection thresholds (`{}`) are not modelled", tok.text),
            )
            .with_hint("kube-proxy never sets them, so no real server is ever overloaded"),
    }
}

/// `-b FLAGS` (ipvsadm 1.29 and later print the scheduler flags this way, after `-p`):
/// `mh-fallback` and `mh-port` for `mh`, as [`print::save`](super::print::save) writes
/// them; without `-b` an mh service has neither. (ipvsadm before 1.29 prints no flags, so
/// its dump of kube-proxy's mh services, which have mh-port, reads without it.) kpath's
/// other schedulers have no flags (kube-proxy sets none for sh).
fn sched_flags_of(ctx: &Ctx, v: Option<&Tok>, s: &mut Scheduler) -> Result<(), InputError> {
    let mut flags = super::mh::Flags::default();
    for flag in v.iter().flat_map(|v| v.text.split(',')) {
        match (&*s, flag) {
            (Scheduler::Mh(_), "mh-fallback") => flags.fallback = true,
            (Scheduler::Mh(_), "mh-port") => flags.port = true,
            _ => {
                let v = v.unwrap_or(&Tok { text: "", col: 1 });
                return Err(ctx
                    .err(v, format!("scheduler flag `{flag}` for `{}` is not modelled", s.name()))
                    .with_hint("kpath models mh's flags mh-fallback and mh-port; kube-proxy sets no flag for its other schedulers"));
            }
        }
    }
    if let Scheduler::Mh(f) = s {
        *f = flags;
    }
    Ok(())
}

/// Read an `ipvsadm-save -n` dump. `file` names it in errors.
pub fn parse_ipvsadm_save(file: &str, text: &str) -> Result<Ipvs, InputError> {
    let mut ipvs = Ipvs::default();
    // (protocol, address, port) -> (index in ipvs.services, the line that added it).
    let mut services: HashMap<(IpProtocol, Ipv4Addr, u16), (usize, usize)> = HashMap::new();
    // Real servers already added: (service index, address, port).
    let mut dests: HashSet<(usize, Ipv4Addr, u16)> = HashSet::new();
    for (n, raw) in text.lines().enumerate() {
        let ctx = Ctx {
            file,
            src: text,
            line: n + 1,
        };
        let toks = words(raw);
        let Some(first) = toks.first() else { continue };
        if first.text.starts_with('#') {
            continue;
        }
        let cmd = match first.text {
            "-A" | "--add-service" => Cmd::AddService,
            "-a" | "--add-server" => Cmd::AddServer,
            w => {
                let msg = if other_command(w) {
                    format!("`{w}` is not part of a saved table")
                } else {
                    format!("expected `-A` or `-a`, found `{w}`")
                };
                // A dump given to the wrong option is a likely mistake: say what it is.
                let looks = match w {
                    "create" | "add" | "Name:" => " (this line looks like `ipset` output)",
                    w if w.starts_with('*') || w.starts_with(':') || w == "COMMIT" => {
                        " (this line looks like `iptables-save` output)"
                    }
                    _ => "",
                };
                return Err(ctx.err(first, msg).with_hint(format!(
                    "an `ipvsadm-save -n` dump has only `-A` (virtual service) and `-a` (real server) lines{looks}",
                )));
            }
        };
        let l = parse_line(&ctx, cmd, first, &toks[1..])?;
        let Some(key) = l.service else { continue };
        let (proto, addr, port) = key;
        // The word after an option, for pointing at it.
        let value_of = |wanted: &[Opt]| {
            toks.iter()
                .position(|t| option(t.text).is_some_and(|o| wanted.contains(&o)))
                .and_then(|i| toks.get(i + 1))
                .unwrap_or(first)
        };
        let svc_tok = value_of(&[Opt::Tcp, Opt::Udp, Opt::Sctp]);
        let pname = proto.name();
        match cmd {
            Cmd::AddService => {
                if let Some((_, at)) = services.get(&key) {
                    return Err(ctx
                        .err(
                            svc_tok,
                            format!(
                                "service {pname} {addr}:{port} is added twice (first on line {at})"
                            ),
                        )
                        .with_hint("ipvsadm refuses it: \"Service already exists\""));
                }
                let Some(sched) = l.scheduler else { continue };
                let mut vs = VirtualService::new(proto, addr, port, sched);
                vs.persistent = l.persistent;
                services.insert(key, (ipvs.services.len(), ctx.line));
                ipvs.services.push(vs);
            }
            Cmd::AddServer => {
                let Some(&(si, _)) = services.get(&key) else {
                    return Err(ctx
                        .err(svc_tok, format!("real server for service {pname} {addr}:{port}, which no `-A` line added"))
                        .with_hint("ipvsadm-save prints each service's -A line before its real servers' -a lines"));
                };
                let Some((raddr, rport)) = l.real else {
                    continue;
                };
                // ipvsadm copies the service's port when the real server has none.
                let rport = rport.unwrap_or(port);
                let real_tok = value_of(&[Opt::Real]);
                if !dests.insert((si, raddr, rport)) {
                    return Err(ctx
                        .err(real_tok, format!("real server {raddr}:{rport} is added twice to service {pname} {addr}:{port}"))
                        .with_hint("ipvsadm refuses it: \"Destination already exists\""));
                }
                let mut d = RealServer::masq(raddr, rport);
                d.forward = l.forward.unwrap_or(Forward::Route);
                d.weight = l.weight.unwrap_or(1);
                if let Some(vs) = ipvs.services.get_mut(si) {
                    vs.add_dest(d);
                }
            }
        }
    }
    Ok(ipvs)
}

#[cfg(test)]
mod tests {
    use super::super::print;
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// Services in the order ipvsadm sorts them, real servers added in sorted order (so
    /// the kernel list is the reverse): what reading the printed table rebuilds.
    fn built() -> Ipvs {
        let sched = |n: &str| Scheduler::by_name(n).unwrap();
        let mut np = VirtualService::new(IpProtocol::Tcp, ip("172.31.0.11"), 30080, sched("rr"));
        np.persistent = Some(10800);
        np.add_dest(RealServer::masq(ip("10.244.1.5"), 8080));
        np.add_dest(RealServer::masq(ip("10.244.2.7"), 8080));
        let mut k = VirtualService::new(IpProtocol::Tcp, ip("10.96.0.1"), 443, sched("wrr"));
        let mut a = RealServer::masq(ip("172.31.0.10"), 6443);
        a.weight = 3;
        k.add_dest(a);
        let mut b = RealServer::masq(ip("172.31.0.20"), 6443);
        b.weight = 0;
        b.forward = Forward::Route;
        k.add_dest(b);
        let mut t = RealServer::masq(ip("172.31.0.30"), 6443);
        t.forward = Forward::Tunnel;
        k.add_dest(t);
        let empty = VirtualService::new(IpProtocol::Tcp, ip("10.96.0.20"), 80, sched("lc"));
        let mut dns = VirtualService::new(IpProtocol::Udp, ip("10.96.0.10"), 53, sched("sh"));
        dns.add_dest(RealServer::masq(ip("10.244.1.3"), 53));
        let sctp = VirtualService::new(IpProtocol::Sctp, ip("10.96.0.30"), 9000, sched("rr"));
        // kube-proxy's mh (mh-port), and one with both flags and one with none.
        let mut mh = VirtualService::new(IpProtocol::Udp, ip("10.96.0.40"), 53, sched("mh"));
        mh.add_dest(RealServer::masq(ip("10.244.1.3"), 53));
        let both = super::super::mh::Flags {
            fallback: true,
            port: true,
        };
        let mh2 = VirtualService::new(IpProtocol::Udp, ip("10.96.0.41"), 53, Scheduler::Mh(both));
        let mh3 = VirtualService::new(
            IpProtocol::Udp,
            ip("10.96.0.42"),
            53,
            Scheduler::Mh(Default::default()),
        );
        Ipvs {
            services: vec![np, k, empty, dns, mh, mh2, mh3, sctp],
            ..Ipvs::default()
        }
    }

    #[test]
    fn the_printed_table_reads_back_equal_and_prints_the_same() {
        let ipvs = built();
        let text = print::save(&ipvs);
        let back = parse_ipvsadm_save("saved", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, ipvs, "{text}");
        assert_eq!(print::save(&back), text);
        // The kernel list is the reverse of the file: the last -a line is the head.
        let np = &back.services[0];
        assert_eq!(np.dests[0].addr, ip("10.244.2.7"));
    }

    #[test]
    fn long_options_names_and_defaults_read_as_ipvsadm_reads_them() {
        let text = "# saved by hand\n--add-service --tcp-service 10.96.0.5:80 --scheduler rr\n\n--add-server --tcp-service 10.96.0.5:80 --real-server 10.244.1.9\n";
        let ipvs = parse_ipvsadm_save("long", text).unwrap_or_else(|e| panic!("{e}"));
        let d = &ipvs.services[0].dests[0];
        // No port: the service's; no method: gatewaying; no weight: 1.
        assert_eq!((d.port, d.forward, d.weight), (80, Forward::Route, 1));
    }

    /// (message fragment, line, column, width) of the error for `text`.
    fn refused(text: &str) -> (String, usize, usize, usize) {
        let e = parse_ipvsadm_save("bad.ipvs", text).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("bad.ipvs:{}:{}", e.line, e.column)),
            "{shown}"
        );
        (e.message.clone(), e.line, e.column, e.width)
    }

    #[test]
    fn bad_lines_are_refused_with_their_place() {
        let ok = "-A -t 10.96.0.10:53 -s rr\n";
        let (m, l, c, w) = refused(&format!(
            "{ok}-a -t 10.96.0.10:53 -r 10.244.1.3:53 -m -w 1 --frob\n"
        ));
        assert_eq!((m.as_str(), l, c, w), ("unknown option `--frob`", 2, 46, 6));
        let (m, l, c, _) = refused(&format!(
            "{ok}-a -t 10.96.0.11:53 -r 10.244.1.3:53 -m -w 1\n"
        ));
        assert!(m.contains("which no `-A` line added"), "{m}");
        assert_eq!((l, c), (2, 7));
        let (m, l, c, w) = refused("-A -t 10.96.0.300:53 -s rr\n");
        assert_eq!(
            (m.as_str(), l, c, w),
            (
                "`10.96.0.300` is not an IPv4 address (virtual service address `10.96.0.300:53`)",
                1,
                7,
                14
            )
        );
        let (m, _, c, _) = refused("-A -u 10.96.0.10:99999 -s rr\n");
        assert!(m.starts_with("`99999` is not a port"), "{m}");
        assert_eq!(c, 7);
        let (m, l, c, _) = refused(&format!("{ok}-A -t 10.96.0.10:53 -s rr\n"));
        assert_eq!(
            (m.as_str(), l, c),
            (
                "service tcp 10.96.0.10:53 is added twice (first on line 1)",
                2,
                7
            )
        );
        let (m, l, c, _) = refused(&format!(
            "{ok}-a -t 10.96.0.10:53 -r 10.244.1.3:53 -m\n-a -t 10.96.0.10:53 -r 10.244.1.3:53 -g\n"
        ));
        assert!(m.contains("added twice"), "{m}");
        assert_eq!((l, c), (3, 24));
        let (m, _, c, _) = refused("-A -t 10.96.0.10:53 -s wlc\n");
        assert_eq!(
            (m.as_str(), c),
            ("scheduler `wlc` is not modelled by kpath", 24)
        );
        let e = parse_ipvsadm_save("bad.ipvs", "-A -t 10.96.0.10:53 -s r\n").unwrap_err();
        assert_eq!(e.message, "unknown scheduler `r`");
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("kpath models rr, wrr, lc, sh")),
            "{e}"
        );
        let (m, l, c, _) = refused("-A -t 10.96.0.10:53 -s rr\nKUBE-SERVICES\n");
        assert_eq!(
            (m.as_str(), l, c),
            ("expected `-A` or `-a`, found `KUBE-SERVICES`", 2, 1)
        );
        let (m, ..) = refused("-A -t kube-dns.kube-system:domain -s rr\n");
        assert!(
            m.starts_with("`kube-dns.kube-system` is not an IPv4 address"),
            "{m}"
        );
        let (m, ..) = refused("-A -f 12 -s rr\n");
        assert!(m.contains("firewall-mark"), "{m}");
        let (m, _, c, _) = refused("-A -t 10.96.0.10:53 -s rr -w 1\n");
        assert!(m.contains("belongs to a real server"), "{m}");
        assert_eq!(c, 27);
        let (m, _, c, _) = refused("-A -t 10.96.0.10:53 -s\n");
        assert_eq!((m.as_str(), c), ("`-s` needs a value", 21));
        let (m, ..) = refused("-A -t 10.96.0.10:53 -s rr -p 0\n");
        assert!(m.contains("persistence timeout"), "{m}");
        let (m, ..) = refused("-A -t [fd00::1]:53 -s rr\n");
        assert!(m.contains("IPv6"), "{m}");
        let (m, ..) =
            refused("-A -t 10.96.0.10:53 -s rr\n-a -t 10.96.0.10:53 -r 10.244.1.3:53 -m -g\n");
        assert!(m.contains("repeats an option"), "{m}");
    }

    #[test]
    fn scheduler_flags_are_read_for_mh_and_refused_elsewhere() {
        let ipvs = parse_ipvsadm_save("f", "-A -u 10.96.0.10:53 -s mh -b mh-port\n").unwrap();
        assert_eq!(
            ipvs.services[0].scheduler,
            Scheduler::by_name("mh").unwrap()
        );
        let (m, _, c, w) = refused("-A -t 10.96.0.10:53 -s sh -b sh-port\n");
        assert_eq!(
            (m.as_str(), c, w),
            ("scheduler flag `sh-port` for `sh` is not modelled", 30, 7)
        );
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "\n\n",
            "-A",
            "-a",
            "-A -t",
            "-a -t 1.2.3.4:5",
            "-A -t :",
            "-A -t 1.2.3.4:",
            "-A -t 1.2.3.4:5 -s",
            "-a -t 1.2.3.4:5 -r",
            "-A -t 1.2.3.4:5 -s rr -p",
            "-A -t 1.2.3.4:5 -s rr -w 99999999999999",
            "\u{fe0f}-A",
            "-A -t 1.2.3.4:5 -s rr ops",
            "-A -t 1.2.3.4:5 -s mh -b mh-port,mh-fallback",
            "-A -t 1.2.3.4:5 -s sh -b sh-port",
            "-A -t 1.2.3.4:5 -s rr -b",
            "-A -t 1.2.3.4:5 -s mh -b ,",
            "-A -t 1.2.3.4:5 -s rr -M 255.255.255.0",
            "\t-A\t-t\t1.2.3.4:5\t-s\trr",
        ] {
            let _ = parse_ipvsadm_save("g", text);
        }
        assert!(parse_ipvsadm_save("g", "\t-A\t-t\t1.2.3.4:5\t-s\trr").is_ok());
    }
}
