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
    manifests: &[PathBuf],
    args: &crate::args::WorldArgs,
) -> Result<Output, Failure> {
    let s = load_with(&scenario, manifests)?;
    let mut w = build_world(s.model(), args.seed.unwrap_or(s.seed))?;
    w.dns_packets = args.dns == crate::args::DnsForm::Packets;
    let tracks = crate::tui::tracks(&s, &w, None).map_err(|e| usage(e.to_string()))?;
    if tracks.is_empty() {
        return Err(usage(format!(
            "{} has no packets or flows to show\n  = hint: add a `packets:` or `flows:` entry",
            s.file
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
