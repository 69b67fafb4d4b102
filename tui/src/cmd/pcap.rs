//! `kpath pcap`: the journey of a packet or flow as a pcapng capture, one interface per
//! link it crossed.

use crate::cmd::walk::load_and_walk;
use crate::failure::{Failure, Output};
use kpath_sim::render::pcap;
use kpath_sim::trace::Trace;
use std::path::PathBuf;

/// `kpath pcap`.
pub fn command(
    scenario: PathBuf,
    packet: Option<String>,
    flow: Option<String>,
    output: PathBuf,
    args: &crate::args::WorldArgs,
) -> Result<Output, Failure> {
    let (_, walked) = load_and_walk(&scenario, packet.as_deref(), flow.as_deref(), args)?;
    let traces: Vec<&Trace> = walked.iter().flat_map(|w| w.traces()).collect();
    let bytes = pcap::traces(&traces).map_err(|e| Failure {
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
