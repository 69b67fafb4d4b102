//! `kpath pcap`: the journey of a packet or flow as a pcapng capture, one interface per
//! link it crossed.

use crate::cmd::walk::load_and_walk;
use crate::failure::{Failure, Output};
use kpath_sim::render::pcap;
use kpath_sim::trace::Trace;
use kpath_sim::wire::{Ipv4, L3, L4, UdpPayload};
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
    // tshark decodes VXLAN only on 4789 unless told: name the ports the tunnels used.
    let mut ports: Vec<u16> = (traces.iter().flat_map(|t| &t.steps))
        .filter_map(|s| match &s.packet.payload {
            L3::Ipv4(Ipv4 {
                payload: L4::Udp(u),
                ..
            }) if matches!(u.payload, UdpPayload::Vxlan(_)) => Some(u.dport),
            _ => None,
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    let decode: String = ports
        .iter()
        .map(|p| format!(" -d udp.port=={p},vxlan"))
        .collect();
    Ok(Output::Written(format!(
        "wrote {} ({frames} frames, {} bytes); read it with: tshark -r {}{decode}",
        output.display(),
        bytes.len(),
        output.display()
    )))
}
