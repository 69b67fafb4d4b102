//! `kpath trace --iptables-save FILE` / `--nft-ruleset FILE`: rules-only mode. A node's
//! iptables-save dump (with its ipsets and IPVS table if given), its nf_tables ruleset, or
//! both, and one packet, with every outcome the rules allow.

use crate::args::Format;
use crate::cmd::dump::read_dump;
use crate::failure::{Failure, Output, usage};
use kpath_sim::render;
use kpath_sim::wire::IpProtocol;

/// What rules-only mode reads: the node's iptables-save dump, its `nft list ruleset` (at
/// least one of the two) and, optionally, its ipsets and its IPVS table.
pub struct Dumps<'a> {
    pub iptables: Option<&'a std::path::Path>,
    pub nft: Option<&'a std::path::Path>,
    pub ipsets: Option<&'a std::path::Path>,
    pub ipvs: Option<&'a std::path::Path>,
    /// Refuse an iptables dump that uses what kpath does not model (`--strict`).
    pub strict: bool,
}

/// Rules-only mode: load a dump and list every outcome for one packet.
pub fn command(
    dumps: Dumps,
    src: Option<std::net::Ipv4Addr>,
    dst: Option<&str>,
    proto: IpProtocol,
    local_ips: Vec<std::net::Ipv4Addr>,
    ifaces: (Option<String>, Option<String>),
    format: Format,
) -> Result<Output, Failure> {
    let mut names = Vec::new();
    let mut nf = match dumps.iptables {
        Some(f) => {
            let dump = read_dump(f)?;
            names.push(dump.name.clone());
            let nf = kpath_sim::netfilter::parse_iptables_save(&dump.name, dump.text())?;
            let uses = kpath_sim::rules_only::unknowns::unknowns(&nf);
            if dumps.strict && !uses.is_empty() {
                let errors =
                    kpath_sim::rules_only::unknowns::refuse(&dump.name, dump.text(), &uses);
                let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                return Err(Failure {
                    message: format!(
                        "{}\n\n{} rules use what kpath does not model (--strict)",
                        all.join("\n\n"),
                        uses.len()
                    ),
                    status: 2,
                });
            }
            nf
        }
        None => kpath_sim::netfilter::Netfilter::default(),
    };
    if let Some(f) = dumps.nft {
        let dump = read_dump(f)?;
        names.push(dump.name.clone());
        nf.nft = std::sync::Arc::new(kpath_sim::netfilter::nftables::parse(
            &dump.name,
            dump.text(),
        )?);
    }
    let name = names.join(" + ");
    let nf = std::sync::Arc::new(nf);
    let sets = match dumps.ipsets {
        Some(f) => {
            let d = read_dump(f)?;
            kpath_sim::netfilter::ipset::parse_ipsets(&d.name, d.text())?
        }
        None => Vec::new(),
    };
    let ipvs = match dumps.ipvs {
        Some(f) => {
            let d = read_dump(f)?;
            Some(kpath_sim::ipvs::parse::parse_ipvsadm_save(
                &d.name,
                d.text(),
            )?)
        }
        None => None,
    };
    let (Some(src), Some(dst)) = (src, dst) else {
        return Err(usage(
            "rules-only mode needs --src IP and --dst IP:PORT".into(),
        ));
    };
    let (dst_ip, dport) = match dst.rsplit_once(':') {
        Some(_) if proto == IpProtocol::Icmp => {
            return Err(usage(format!(
                "--dst {dst}: an ICMP packet has no port\n  = hint: give the address alone, e.g. --dst {}",
                dst.rsplit_once(':').map_or(dst, |x| x.0)
            )));
        }
        Some((a, p)) => {
            // Port 0 is no destination a TCP or UDP socket can connect to: the range the
            // message names is the range checked.
            let port = p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                let hint = if p.chars().any(|c| c.is_ascii_alphabetic()) {
                    "give the port number, e.g. 53 for dns, 443 for https"
                } else {
                    "a port is a number from 1 to 65535"
                };
                usage(format!(
                    "--dst {dst}: `{p}` is not a port (1-65535)\n  = hint: {hint}"
                ))
            })?;
            (a, port)
        }
        None if proto == IpProtocol::Icmp => (dst, 0),
        None => {
            let example = if dst.parse::<std::net::Ipv4Addr>().is_ok() {
                format!("{dst}:80")
            } else {
                "10.96.0.10:53".to_string()
            };
            return Err(usage(format!(
                "--dst {dst}: no port\n  = hint: give IP:PORT, e.g. --dst {example} (or --proto icmp for a ping)"
            )));
        }
    };
    let dst_ip = dst_ip.parse().map_err(|_| {
        usage(format!(
            "--dst {dst}: `{dst_ip}` is not an IPv4 address\n  = hint: give IP:PORT with a dotted IPv4 address, e.g. 10.96.0.10:53 (kpath models IPv4 only)"
        ))
    })?;
    // A connection's first packet has a unicast source and destination: 0.0.0.0 and
    // broadcast or multicast addresses start none that these rules are about.
    for (opt, ip) in [("--src", src), ("--dst", dst_ip)] {
        let what = if ip.is_unspecified() {
            Some("the unspecified address")
        } else if ip.is_broadcast() {
            Some("the limited broadcast address")
        } else if ip.is_multicast() {
            Some("a multicast address")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(usage(format!(
                "{opt} {ip}: {what} starts no connection\n  = hint: give a unicast address, e.g. a pod's (10.244.1.2) or a ClusterIP (10.96.0.10)"
            )));
        }
    }
    let q = kpath_sim::rules_only::RulesQuery {
        src,
        dst: dst_ip,
        dport,
        proto,
        local_ips,
        iif: ifaces.0,
        oif: ifaces.1,
        sets,
        ipvs,
    };
    let outcomes = kpath_sim::rules_only::trace_rules_shared(nf.clone(), &q);
    let missing = kpath_sim::rules_only::missing_sets(&nf, &q);
    let mut assumed = kpath_sim::rules_only::interface_assumptions(&nf, &q);
    assumed.extend(kpath_sim::rules_only::unknowns::notes(
        &nf,
        &outcomes,
        names.first().map_or("", String::as_str),
    ));
    Ok(Output::Text(match format {
        Format::Text => render::rules::text(&name, &q, &outcomes, &missing, &assumed),
        Format::Json => render::rules::json(&outcomes),
    }))
}
