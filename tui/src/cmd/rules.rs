//! `kpath trace --iptables-save FILE` / `--nft-ruleset FILE`: rules-only mode. A node's
//! iptables-save dump (with its ipsets and IPVS table if given), its nf_tables ruleset, or
//! both, and one packet, with every outcome the rules allow.

use crate::args::Format;
use crate::cmd::dump::read_dump;
use crate::failure::{Failure, Output, usage};
use kpath_sim::node_dump::{self, NodeState};
use kpath_sim::render;
use kpath_sim::wire::IpProtocol;
use std::path::PathBuf;

/// What rules-only mode reads: the node's iptables-save dump, its `nft list ruleset` (at
/// least one of the two) and, optionally, its ipsets and its IPVS table; or a node's whole
/// dump directory holding them and its devices, routes, neighbours, FDB and sysctls.
pub struct Dumps {
    pub iptables: Option<PathBuf>,
    pub nft: Option<PathBuf>,
    pub ipsets: Option<PathBuf>,
    pub ipvs: Option<PathBuf>,
    /// `--node-dump DIR`: the files above come from it.
    pub node: Option<PathBuf>,
    /// Refuse an iptables dump that uses what kpath does not model (`--strict`).
    pub strict: bool,
}

/// The rule dumps of a node dump directory, and its network state.
fn open_node_dump(dumps: &mut Dumps) -> Result<Option<NodeState>, Failure> {
    let Some(dir) = &dumps.node else {
        return Ok(None);
    };
    let d = node_dump::NodeDir::open(dir)?;
    dumps.iptables = d.path(node_dump::IPTABLES);
    dumps.nft = d.path(node_dump::NFT);
    dumps.ipsets = d.path(node_dump::IPSETS);
    dumps.ipvs = d.path(node_dump::IPVS);
    Ok(d.state()?)
}

/// Rules-only mode: load a dump and list every outcome for one packet.
pub fn command(
    mut dumps: Dumps,
    src: Option<std::net::Ipv4Addr>,
    dst: Option<&str>,
    proto: IpProtocol,
    mut local_ips: Vec<std::net::Ipv4Addr>,
    ifaces: (Option<String>, Option<String>),
    format: Format,
) -> Result<Output, Failure> {
    let state = open_node_dump(&mut dumps)?;
    let mut names = Vec::new();
    let mut iptables_text = String::new();
    let mut nf = match &dumps.iptables {
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
            iptables_text = dump.text().to_string();
            nf
        }
        None => kpath_sim::netfilter::Netfilter::default(),
    };
    let mut assumed = Vec::new();
    if let Some(f) = &dumps.nft {
        let dump = read_dump(f)?;
        names.push(dump.name.clone());
        let text = if dumps.node.is_some() {
            // iptables-nft's own tables show in `nft list ruleset` too: read them once.
            let (text, twice) = node_dump::without_iptables_tables(dump.text(), &iptables_text);
            if !twice.is_empty() {
                assumed.push(format!(
                    "tables {} are iptables-nft's, in both iptables-save and nft-ruleset: read from iptables-save",
                    twice.join(", ")
                ));
            }
            text
        } else {
            dump.text().to_string()
        };
        nf.nft = std::sync::Arc::new(kpath_sim::netfilter::nftables::parse(&dump.name, &text)?);
    }
    let name = names.join(" + ");
    let nf = std::sync::Arc::new(nf);
    let sets = match &dumps.ipsets {
        Some(f) => {
            let d = read_dump(f)?;
            kpath_sim::netfilter::ipset::parse_ipsets(&d.name, d.text())?
        }
        None => Vec::new(),
    };
    let ipvs = match &dumps.ipvs {
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
    if let Some(st) = &state {
        if let Some(name) = &ifaces.0
            && st.ns.link_by_name(name).is_none()
        {
            let devs: Vec<&str> = st.ns.links.iter().map(|l| l.name.as_str()).collect();
            let hint = match kpath_sim::diag::did_you_mean(name, devs.iter().copied()) {
                Some(d) => format!("did you mean `{d}`?"),
                None => format!("the node's devices: {}", devs.join(", ")),
            };
            return Err(usage(format!(
                "--in-iface {name}: the node dump has no device `{name}`\n  = hint: {hint}"
            )));
        }
        // The node's addresses (kube-ipvs0's are the virtual services', listed apart).
        for l in &st.ns.links {
            if l.name == "kube-ipvs0" {
                continue;
            }
            for a in &l.addrs {
                if !a.addr.is_loopback() && !local_ips.contains(&a.addr) {
                    local_ips.push(a.addr);
                }
            }
        }
        assumed.extend(st.notes.iter().cloned());
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
    let answer = kpath_sim::rules_only::trace_node(nf.clone(), &q, state.as_ref());
    let outcomes = answer.outcomes;
    let missing = kpath_sim::rules_only::missing_sets(&nf, &q);
    if state.is_none() {
        assumed.extend(kpath_sim::rules_only::interface_assumptions(&nf, &q));
        assumed.extend(kpath_sim::rules_only::unknowns::rpfilter_note(&nf));
    }
    assumed.extend(kpath_sim::rules_only::unknowns::notes(
        &nf,
        &outcomes,
        names.first().map_or("", String::as_str),
    ));
    Ok(Output::Text(match format {
        Format::Text => render::rules::text(
            &name,
            &q,
            &outcomes,
            answer.arrival.as_deref(),
            &missing,
            &assumed,
        ),
        Format::Json => render::rules::json(&outcomes),
    }))
}
