//! The commands, one file each. Each command loads a scenario, asks `kpath_sim` for a world
//! or a trace, and returns what to print; it decides nothing itself. `run` calls the one the
//! command line names. What several commands need lives in its own file (shared.rs; walk.rs
//! for trace and pcap), so no command imports another, nor this file that imports them all.

pub mod compare;
pub mod diagram;
mod dump;
pub mod generate;
pub mod import;
pub mod lab;
mod lab_dns;
mod lab_send;
pub mod pcap;
pub mod policy;
pub mod rules;
mod shared;
pub mod show;
pub mod test;
pub mod trace;
pub mod tui;
pub mod walk;

use crate::args::{Cli, Command};
use crate::failure::{Failure, Output};

pub fn run(cli: Cli) -> Result<Output, Failure> {
    if let Some(m) = cli.command.misplaced_trace_flag() {
        return Err(crate::failure::usage(m));
    }
    match cli.command {
        Command::Trace {
            iptables_save,
            nft_ruleset,
            node_dump,
            src,
            dst,
            proto,
            local_ips,
            ipset_save,
            ipvsadm_save,
            format,
            in_iface,
            out_iface,
            strict,
            ..
        } if iptables_save.is_some() || nft_ruleset.is_some() || node_dump.is_some() => {
            let dumps = rules::Dumps {
                iptables: iptables_save,
                nft: nft_ruleset,
                ipsets: ipset_save,
                ipvs: ipvsadm_save,
                node: node_dump,
                strict,
            };
            rules::command(
                dumps,
                src,
                dst.as_deref(),
                proto,
                local_ips,
                (in_iface, out_iface),
                format,
            )
        }
        Command::Trace {
            scenario,
            packet,
            flow,
            all_outcomes,
            format,
            explain,
            why,
            brief,
            full,
            world,
            from,
            to,
            proto,
            manifests,
            ..
        } => {
            let opts = kpath_sim::render::text::TextOptions {
                explain,
                why,
                // Every outcome at every step is hundreds of lines: --all-outcomes is brief
                // unless --full.
                brief: brief || (all_outcomes && !full),
            };
            let adhoc = from.zip(to).map(|(from, to)| trace::AdhocArgs {
                from,
                to,
                protocol: proto.name().to_string(),
            });
            trace::command(
                scenario,
                packet,
                flow,
                adhoc,
                all_outcomes,
                format,
                opts,
                &manifests,
                &world,
            )
        }
        Command::Diagram {
            scenario,
            packet,
            flow,
            format,
            output,
            world,
        } => diagram::command(scenario, packet, flow, format, output, &world),
        Command::Pcap {
            scenario,
            packet,
            flow,
            output,
            world,
        } => pcap::command(scenario, packet, flow, output, &world),
        Command::Test {
            paths,
            format,
            bless,
            seed,
        } => test::command(paths, format, bless, seed),
        Command::Show {
            scenario,
            node,
            pod,
            iptables,
            ipvs,
            nft,
            seed,
        } => show::command(
            scenario,
            node,
            pod,
            show::View::of(iptables, ipvs, nft),
            seed,
        ),
        Command::Tui {
            scenario,
            packet,
            from,
            to,
            proto,
            manifests,
            world,
        } => {
            let adhoc = from.zip(to).map(|(from, to)| trace::AdhocArgs {
                from,
                to,
                protocol: proto.to_string(),
            });
            tui::command(scenario, packet, adhoc, &manifests, &world)
        }
        Command::Lab {
            action,
            scenario,
            seed,
        } => lab::command(action, scenario, seed),
        Command::Verify {
            scenario,
            packet,
            keep,
            seed,
        } => lab::verify_command(scenario, packet, keep, seed),
        Command::Generate {
            services,
            endpoints,
            nodes,
            groups,
            proxy_mode,
            dump,
        } => generate::command(
            kpath_sim::scale::Size {
                nodes,
                services,
                endpoints,
                groups,
                proxy_mode: generate::mode(&proxy_mode)?,
            },
            dump,
        ),
        Command::Compare {
            scenario,
            proxy_modes,
            packet,
            flow,
            format,
            seed,
        } => compare::command(scenario, proxy_modes, packet, flow, format, seed),
        Command::Policy {
            scenario,
            port,
            with,
            format,
            manifests,
        } => policy::command(scenario, port, with, format, &manifests),
        Command::Collect => Ok(Output::Text(kpath_sim::node_dump::collect_script())),
        Command::Import {
            source: _,
            dump,
            output,
            pod_cidr,
            service_cidr,
            proxy_mode,
        } => import::command(dump, output, pod_cidr, service_cidr, proxy_mode),
    }
}
