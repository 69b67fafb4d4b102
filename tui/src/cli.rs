//! The commands the arguments run. Each command loads a scenario, asks `kpath_sim` for a
//! world or a trace, and returns what to print; it decides nothing itself.

use crate::args::{Cli, Command, Format, LabAction};
use crate::failure::{Failure, Output, usage};
use kpath_sim::k8s::build_world;
use kpath_sim::net::iproute2;
use kpath_sim::scenario::{ScenarioError, did_you_mean, load_scenario};
use kpath_sim::trace::{Trace, pcap};
use kpath_sim::wire::IpProtocol;
use std::path::PathBuf;

pub fn run(cli: Cli) -> Result<Output, Failure> {
    match cli.command {
        Command::Trace {
            scenario,
            iptables_save,
            src,
            dst,
            proto,
            local_ips,
            ipset_save,
            ipvsadm_save,
            packet,
            flow,
            all_outcomes,
            format,
            explain,
            seed,
        } => {
            if let Some(file) = iptables_save {
                let dumps = Dumps {
                    iptables: &file,
                    ipsets: ipset_save.as_deref(),
                    ipvs: ipvsadm_save.as_deref(),
                };
                return rules_only(dumps, src, dst.as_deref(), proto, local_ips, format);
            }
            let Some(scenario) = scenario else {
                return Err(usage(
                    "give a scenario file, or --iptables-save FILE with --src and --dst".into(),
                ));
            };
            let s = load(&scenario)?;
            let sel = crate::cmd::trace::Selection {
                packet: packet.as_deref(),
                flow: flow.as_deref(),
            };
            let out = crate::cmd::trace::trace(&s, &sel, seed, format, explain, all_outcomes)?;
            Ok(Output::Text(out))
        }
        Command::Pcap {
            scenario,
            packet,
            flow,
            output,
            seed,
        } => {
            let s = load(&scenario)?;
            let sel = crate::cmd::trace::Selection {
                packet: packet.as_deref(),
                flow: flow.as_deref(),
            };
            let walked = crate::cmd::trace::walk(&s, &sel, seed)?;
            let traces: Vec<&Trace> = walked.iter().flat_map(|w| w.traces()).collect();
            let bytes = pcap::render_many(&traces).map_err(|e| Failure {
                message: format!("error: cannot build the capture: {e}"),
                status: 1,
            })?;
            std::fs::write(&output, &bytes).map_err(|e| Failure {
                message: format!("error: cannot write {}: {e}", output.display()),
                status: 1,
            })?;
            let frames = traces
                .iter()
                .flat_map(|t| &t.steps)
                .filter(|s| s.wire.is_some())
                .count();
            Ok(Output::Written(format!(
                "wrote {} ({frames} frames, {} bytes); read it with: tshark -r {} -d udp.port==8472,vxlan",
                output.display(),
                bytes.len(),
                output.display()
            )))
        }
        Command::Test {
            paths,
            format,
            bless,
            seed,
        } => {
            let paths = if paths.is_empty() {
                vec![PathBuf::from("scenarios")]
            } else {
                paths
            };
            let cases = crate::cmd::test::run(&paths, bless, seed)?;
            let text = crate::cmd::test::render(&cases, format);
            Ok(Output::Report {
                ok: !crate::cmd::test::failed(&cases),
                text,
            })
        }
        Command::Show {
            scenario,
            node,
            pod,
            iptables,
            ipvs,
            seed,
        } => {
            let s = load(&scenario)?;
            let w = build_world(&s, seed.unwrap_or(s.seed))?;
            let names: Vec<String> = match (&node, &pod) {
                (Some(n), _) => vec![n.clone()],
                (_, Some(p)) => vec![p.clone()],
                _ => s
                    .cluster
                    .nodes
                    .iter()
                    .map(|n| n.name.value.clone())
                    .collect(),
            };
            let mut out = String::new();
            for name in names {
                let Some(ns) = w.ns_by_name(&name) else {
                    let kind = if pod.is_some() { "pod" } else { "node" };
                    let known: Vec<String> = if pod.is_some() {
                        s.pods.iter().map(|p| p.key()).collect()
                    } else {
                        s.cluster
                            .nodes
                            .iter()
                            .map(|n| n.name.value.clone())
                            .collect()
                    };
                    // `--pod client` for `default/client`: the namespace was left out,
                    // which no edit distance bridges.
                    let unqualified = (pod.is_some() && !name.contains('/'))
                        .then(|| {
                            known
                                .iter()
                                .find(|k| k.rsplit_once('/').is_some_and(|(_, n)| n == name))
                        })
                        .flatten()
                        .map(String::as_str);
                    let hint = unqualified
                        .or_else(|| did_you_mean(&name, known.iter().map(String::as_str)))
                        .map(|m| format!("did you mean `{m}`? "))
                        .unwrap_or_default();
                    return Err(usage(format!(
                        "{} has no {kind} `{name}`\n  = hint: {hint}{kind}s: {}",
                        s.file,
                        known.join(", ")
                    )));
                };
                if ipvs {
                    out.push_str(&ipvs_view(&s, ns));
                } else if iptables {
                    out.push_str(&ns.netfilter.save());
                } else {
                    out.push_str(&iproute2::show(&w, ns));
                }
            }
            Ok(Output::Text(out))
        }
        Command::Tui {
            scenario,
            packet,
            seed,
        } => {
            let s = load(&scenario)?;
            let w = build_world(&s, seed.unwrap_or(s.seed))?;
            let tracks = crate::tui::tracks(&s, &w, None).map_err(|e| usage(e.to_string()))?;
            if tracks.is_empty() {
                return Err(usage(format!(
                    "{} has no packets or flows to show\n  = hint: add a `packets:` or `flows:` entry",
                    s.file
                )));
            }
            let start = match &packet {
                Some(p) => tracks
                    .iter()
                    .position(|t| {
                        t.trace.packet == *p
                            || t.label.starts_with(&format!("{p}:"))
                            || t.label.starts_with(&format!("{p} "))
                    })
                    .ok_or_else(|| no_packet_or_flow(&s, p))?,
                None => 0,
            };
            let mut app = crate::tui::app::App::new(s, w, tracks);
            app.set_track(start);
            crate::tui::run(app).map_err(|e| Failure {
                message: format!("error: {e}"),
                status: 1,
            })?;
            Ok(Output::Text(String::new()))
        }
        Command::Lab {
            action,
            scenario,
            seed,
        } => {
            let s = load(&scenario)?;
            let out = match action {
                LabAction::Up => crate::cmd::lab::lab_up(&s, seed)?,
                LabAction::Down => crate::cmd::lab::lab_down(&s)?,
            };
            Ok(Output::Text(out))
        }
        Command::Verify {
            scenario,
            packet,
            keep,
            seed,
        } => {
            let s = load(&scenario)?;
            if let Some(p) = &packet
                && s.packet(p).is_none()
                && !s.flows.iter().any(|f| &f.name.value == p)
            {
                return Err(no_packet_or_flow(&s, p));
            }
            let (text, ok) = crate::cmd::lab::verify(&s, packet.as_deref(), seed, keep)?;
            Ok(Output::Report { text, ok })
        }
        Command::Compare {
            scenario,
            proxy_modes,
            packet,
            flow,
            format,
            seed,
        } => {
            let modes = crate::cmd::compare::parse_modes(&proxy_modes)?;
            let s = load(&scenario)?;
            if let Some(p) = &packet
                && s.packet(p).is_none()
            {
                return Err(no_packet_or_flow(&s, p));
            }
            if let Some(f) = &flow
                && !s.flows.iter().any(|x| &x.name.value == f)
            {
                return Err(no_packet_or_flow(&s, f));
            }
            let (text, ok) = crate::cmd::compare::run(
                &s,
                &modes,
                packet.as_deref(),
                flow.as_deref(),
                seed,
                format,
            )?;
            Ok(Output::Report { text, ok })
        }
    }
}

/// Load a scenario; its warnings go to stderr, as a compiler's do, and the command runs.
fn load(path: &std::path::Path) -> Result<kpath_sim::scenario::Scenario, ScenarioError> {
    let s = load_scenario(path)?;
    for w in &s.warnings {
        eprintln!("{}\n", w.as_warning());
    }
    Ok(s)
}

/// `name` names no packet and no flow of the scenario: say so, with the names it has.
fn no_packet_or_flow(s: &kpath_sim::scenario::Scenario, name: &str) -> Failure {
    let known: Vec<&str> = s
        .packets
        .iter()
        .map(|p| p.name.value.as_str())
        .chain(s.flows.iter().map(|f| f.name.value.as_str()))
        .collect();
    let hint = did_you_mean(name, known.iter().copied())
        .map(|m| format!("did you mean `{m}`? "))
        .unwrap_or_default();
    usage(format!(
        "{} has no packet or flow `{name}`\n  = hint: {hint}packets and flows: {}",
        s.file,
        known.join(", ")
    ))
}

/// `kpath show --ipvs`: kube-proxy's IPVS mode for one node, in the tools' own formats.
fn ipvs_view(s: &kpath_sim::scenario::Scenario, ns: &kpath_sim::net::Netns) -> String {
    use kpath_sim::ipvs::{Scheduler, print};
    use kpath_sim::k8s::kube_proxy_ipvs::{ipvs_node, node_ips};
    use kpath_sim::scenario::ProxyMode;
    let sched = Scheduler::by_name(s.ipvs_scheduler()).unwrap_or(Scheduler::Rr { last: None });
    let n = ipvs_node(s, &ns.name, &node_ips(ns), &sched);
    let what = match s.proxy_mode() {
        ProxyMode::Ipvs => "what kube-proxy in IPVS mode programmed; `kpath trace` walks packets through it".to_string(),
        ProxyMode::Iptables => "what kube-proxy would program in IPVS mode. This scenario runs iptables mode:\n# add `kubeProxy: {mode: ipvs}` to walk packets through IPVS, or see both with `kpath compare`".to_string(),
    };
    let bound: Vec<String> = n
        .bound
        .iter()
        .map(|a| format!("    inet {a}/32 scope global kube-ipvs0"))
        .collect();
    let sets: String = n.ipsets.iter().map(|x| x.save()).collect();
    format!(
        "# {node}: {what}\n\n# ip addr show kube-ipvs0\nkube-ipvs0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN\n{}\n\n# ipvsadm -Ln\n{}\n# ipvsadm-save -n\n{}\n# ipset save\n{sets}\n# iptables-restore payload (kube-proxy's part)\n{}",
        bound.join("\n"),
        print::list(&n.ipvs),
        print::save(&n.ipvs),
        n.iptables,
        node = ns.name
    )
}

/// What rules-only mode reads: the node's iptables-save dump and, optionally, its ipsets
/// and its IPVS table.
struct Dumps<'a> {
    iptables: &'a std::path::Path,
    ipsets: Option<&'a std::path::Path>,
    ipvs: Option<&'a std::path::Path>,
}

/// Read a dump file, refusing one too large to be a node's dump, a directory, and bytes
/// that are not UTF-8 text (located, not read lossily: a stray byte would otherwise turn
/// into a word no rule has).
fn read_dump(file: &std::path::Path) -> Result<(String, String), Failure> {
    use std::io::Read;
    let name = file.display().to_string();
    let limit = kpath_sim::scenario::MAX_SCENARIO_BYTES;
    let cannot = |e: std::io::Error| -> Failure {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => {
                "check the path; save the dump on the node with e.g. `iptables-save > node.rules`"
            }
            std::io::ErrorKind::PermissionDenied => "the file is not readable by you",
            _ => "give the dump file itself",
        };
        ScenarioError::whole_file(&name, format!("cannot read {name}: {e}"))
            .with_hint(hint)
            .into()
    };
    let meta = std::fs::metadata(file).map_err(cannot)?;
    if meta.is_dir() {
        return Err(
            ScenarioError::whole_file(&name, format!("{name} is a directory, not a dump"))
                .with_hint("give the dump file itself, e.g. node.rules")
                .into(),
        );
    }
    let too_large = |size: String| -> Failure {
        ScenarioError::whole_file(
            &name,
            format!("{name} is {size} bytes; dumps are limited to {limit} bytes"),
        )
        .with_hint("give the dump of one node")
        .into()
    };
    if meta.len() > limit {
        return Err(too_large(meta.len().to_string()));
    }
    // At most limit + 1 bytes, whatever the metadata said: a FIFO, /dev/zero or a file
    // still growing has no size to check first, and memory stays bounded.
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!("more than {limit}")));
    }
    let text =
        String::from_utf8(bytes).map_err(|e| not_utf8(&name, e.as_bytes(), e.utf8_error()))?;
    Ok((name, text))
}

/// Bytes that are not UTF-8, located: the first bad byte's offset as line:column (columns
/// count characters, as every other error does), the line shown with the bad bytes as U+FFFD.
fn not_utf8(name: &str, bytes: &[u8], e: std::str::Utf8Error) -> Failure {
    let at = e.valid_up_to();
    // Everything before `at` is valid UTF-8.
    let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    let line_end = bytes[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| at + p);
    // The shown line: control characters (binary files are full of them) would drive the
    // terminal, so they show as U+FFFD too (one character each: the column stays right).
    let source_line: String = String::from_utf8_lossy(&bytes[line_start..line_end])
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    let err = ScenarioError {
        file: name.to_string(),
        line,
        column,
        message: format!(
            "{name} is not UTF-8 text: byte 0x{:02x} at offset {at} is not valid UTF-8",
            bytes[at]
        ),
        source_line,
        width: 1,
        hint: Some(
            "iptables-save, ipset and ipvsadm-save print plain text; is this a compressed or binary file, or a dump saved in another encoding?".into(),
        ),
    };
    err.into()
}

/// Rules-only mode: load a dump and list every outcome for one packet.
fn rules_only(
    dumps: Dumps,
    src: Option<std::net::Ipv4Addr>,
    dst: Option<&str>,
    proto: IpProtocol,
    local_ips: Vec<std::net::Ipv4Addr>,
    format: Format,
) -> Result<Output, Failure> {
    let (name, text) = read_dump(dumps.iptables)?;
    let nf = kpath_sim::netfilter::parse_iptables_save(&name, &text)?;
    let sets = match dumps.ipsets {
        Some(f) => {
            let (n, t) = read_dump(f)?;
            kpath_sim::netfilter::ipset::parse_ipsets(&n, &t)?
        }
        None => Vec::new(),
    };
    let ipvs = match dumps.ipvs {
        Some(f) => {
            let (n, t) = read_dump(f)?;
            Some(kpath_sim::ipvs::parse::parse_ipvsadm_save(&n, &t)?)
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
    let q = kpath_sim::rules_only::RulesQuery {
        src,
        dst: dst_ip,
        dport,
        proto,
        local_ips,
        iif: None,
        oif: None,
        sets,
        ipvs,
    };
    let outcomes = kpath_sim::rules_only::trace_rules(&nf, &q);
    let missing = kpath_sim::rules_only::missing_sets(&nf, &q);
    Ok(Output::Text(match format {
        Format::Text => {
            let mut text = kpath_sim::rules_only::render_text(&name, &q, &outcomes);
            if !missing.is_empty() {
                text.push_str(&format!(
                    "note: the rules match ipsets this answer does not have ({}); each reads as empty - give the node's `ipset save` with --ipset-save FILE\n",
                    missing.join(", ")
                ));
            }
            if kpath_sim::rules_only::missing_ipvs(&outcomes) {
                text.push_str(
                    "note: this is a kube-proxy IPVS-mode dump and the packet is for a virtual service the answer cannot see - give the node's `ipvsadm-save -n` with --ipvsadm-save FILE\n",
                );
            }
            text
        }
        Format::Json => kpath_sim::rules_only::render_json(&outcomes),
    }))
}
