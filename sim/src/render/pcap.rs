//! The pcapng form of a trace: one interface per link the packet crossed (a veth pair, a
//! cable, a VXLAN device, lo), one packet each time it crossed, its comment naming the step.

use crate::trace::Trace;
use crate::wire::pcapng::{PcapInterface, PcapRecord, write_pcapng};

/// Steps are 1 µs apart on the capture's clock, starting at the epoch: no wall clock.
const STEP_NS: u64 = 1_000;

/// Traces (one packet, or the packets of a flow) in one capture, one after the other on the
/// same clock and the same interfaces.
pub fn traces(ts: &[&Trace]) -> Result<Vec<u8>, String> {
    let mut ifaces: Vec<PcapInterface> = Vec::new();
    let mut records = Vec::new();
    for (n, s) in ts
        .iter()
        .flat_map(|t| t.steps.iter().map(move |s| (t, s)))
        .enumerate()
    {
        let clock = n as u64 + 1;
        let (t, s) = s;
        let Some(wire) = &s.wire else { continue };
        let idx = match ifaces.iter().position(|i| &i.name == wire) {
            Some(i) => i,
            None => {
                ifaces.push(PcapInterface {
                    name: wire.clone(),
                    description: format!("kpath link {wire}"),
                });
                ifaces.len() - 1
            }
        };
        records.push(PcapRecord {
            interface: idx as u32,
            timestamp_ns: clock * STEP_NS,
            data: s.packet.emit(),
            comment: format!(
                "{} step {} {} {}: {}",
                t.packet, s.index, s.netns, s.func, s.note
            ),
        });
    }
    write_pcapng(&ifaces, &records)
}
