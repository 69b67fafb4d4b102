//! `kpath tui`: build the tracks of a scenario's packets and flows and start the terminal
//! app (tui/src/tui/) on the one asked for.

use crate::cmd::shared::{load_with, no_packet_or_flow};
use crate::failure::{Failure, Output, usage};
use kpath_sim::k8s::build_world;
use std::path::PathBuf;

/// `kpath tui`.
pub fn command(
    scenario: PathBuf,
    packet: Option<String>,
    adhoc: Option<crate::cmd::trace::AdhocArgs>,
    manifests: &[PathBuf],
    args: &crate::args::WorldArgs,
) -> Result<Output, Failure> {
    let mut s = load_with(&scenario, manifests)?;
    let mut packet = packet;
    if let Some(a) = &adhoc {
        let ask = kpath_sim::scenario::adhoc::Adhoc {
            from: &a.from,
            to: &a.to,
            protocol: &a.protocol,
            flow: false,
        };
        packet = Some(kpath_sim::scenario::adhoc::add(&mut s, &ask).map_err(usage)?);
    }
    let mut w = build_world(s.model(), args.seed.unwrap_or(s.seed))?;
    w.dns_packets = args.dns == crate::args::DnsForm::Packets;
    let tracks = crate::tui::tracks(&s, &w, None).map_err(|e| usage(e.to_string()))?;
    if tracks.is_empty() {
        return Err(usage(format!(
            "{} has no packets or flows to show (a kubectl dump defines none)\n  = hint: {}",
            s.file,
            ask_hint(&s)
        )));
    }
    // The first track of the packet (or of all), at the outcome `kpath trace` prints for
    // this seed.
    let of = |t: &crate::tui::app::Track| match &packet {
        Some(p) => {
            t.trace.packet == *p
                || t.label.starts_with(&format!("{p}:"))
                || t.label.starts_with(&format!("{p} "))
        }
        None => true,
    };
    let start = tracks
        .iter()
        .position(|t| of(t) && t.seeded)
        .or_else(|| tracks.iter().position(of))
        .ok_or_else(|| match &packet {
            Some(p) => no_packet_or_flow(&s, p),
            None => usage("no packets".into()),
        })?;
    let mut app = crate::tui::app::App::new(s, w, tracks);
    app.set_track(start);
    crate::tui::run(app).map_err(|e| Failure {
        message: format!("error: {e}"),
        status: 1,
    })?;
    Ok(Output::Text(String::new()))
}

/// A question the cluster can answer, to start from: its first pod to its first Service
/// with a port, or to another pod; else how to add one.
fn ask_hint(s: &kpath_sim::scenario::Scenario) -> String {
    let m = s.model();
    let pod = |p: &kpath_sim::cluster::Pod| format!("pod/{}/{}", p.namespace, p.name);
    let Some(first) = m.pods.first() else {
        return "add a `packets:` or `flows:` entry (the cluster has no pods to send from)".into();
    };
    let to = m
        .services
        .iter()
        .find_map(|sv| {
            sv.ports
                .first()
                .map(|p| format!("service/{}/{}:{}", sv.namespace, sv.name, p.port))
        })
        .or_else(|| m.pods.get(1).map(|p| format!("{}:80", pod(p))));
    match to {
        Some(to) => format!(
            "ask one: kpath tui {} --from {} --to {to} (or add a `packets:` or `flows:` entry)",
            s.file,
            pod(first)
        ),
        None => "add a `packets:` or `flows:` entry".into(),
    }
}
