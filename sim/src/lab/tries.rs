//! What a learner can try in a lab to see kpath's answer from the real kernel: one command
//! per packet and flow of the scenario, sent from the same namespace to the same address,
//! with kpath's prediction beside it. The lab's listeners (every port a pod's containers
//! declare) make a TCP connect or a UDP datagram meet a socket, as kpath assumes.

use super::netns_name;
use crate::net::World;
use crate::run::Walked;
use crate::scenario::Scenario;
use crate::scenario::{Endpoint, EndpointKind};
use crate::trace::{PacketView, Trace};

/// One command to try, for a packet or flow of the scenario, and kpath's walk of it (what
/// kpath says the command will meet).
pub struct Try {
    pub name: String,
    pub command: String,
    pub kpath: Walked,
}

/// The command that sends `t`'s packet from its sender's lab namespace: `nc -zv` connects
/// (TCP: succeeded, refused or timed out), `nc -u` sends a datagram, `ping -c 1` an echo.
/// With `name`, the command asks for the name, as the packet's program did (the lab's pods
/// resolve it through the lab's cluster DNS); else for the address kpath's walk sent to.
fn command_for(t: &Trace, prefix: &str, name: Option<&str>) -> Option<String> {
    let first = t.steps.first()?;
    let sent = PacketView::of(t.sent.as_ref()?);
    let ns = netns_name(prefix, &first.netns);
    let dst = name.unwrap_or(&sent.dst);
    let cmd = match (sent.proto, sent.dport) {
        ("tcp", Some(p)) => format!("nc -zv -w 2 {dst} {p}"),
        ("udp", Some(p)) => format!("sh -c 'echo hi | nc -u -w 1 {dst} {p}'"),
        ("icmp", _) => format!("ping -c 1 -W 2 {dst}"),
        _ => return None,
    };
    Some(format!("ip netns exec {ns} {cmd}"))
}

/// The DNS name `to` asks for, when the lab can resolve it (it runs cluster DNS).
fn name_of(to: &str, lab_has_dns: bool) -> Option<String> {
    let e: Endpoint = to.parse().ok()?;
    match e.kind {
        EndpointKind::Dns(name) if lab_has_dns => Some(name),
        _ => None,
    }
}

/// A command for each packet and flow of the scenario (a flow: its first packet, the one
/// its client sends), in the scenario's order.
pub fn tries(s: &Scenario, w: &World, prefix: &str) -> Vec<Try> {
    let dns = !super::dns::servers(s.model()).is_empty();
    let mut out = Vec::new();
    for p in &s.packets {
        let Ok(t) = crate::run_packet(s, w, &p.name.value) else {
            continue;
        };
        let name = name_of(&p.to.value, dns);
        if let Some(command) = command_for(&t, prefix, name.as_deref()) {
            out.push(Try {
                name: p.name.value.clone(),
                command,
                kpath: Walked::Packet(t),
            });
        }
    }
    for f in &s.flows {
        let Ok(ft) = crate::run::run_flow(s, w, &f.name.value) else {
            continue;
        };
        let name = name_of(&f.to.value, dns);
        let command = ft
            .packets
            .first()
            .and_then(|p| command_for(&p.trace, prefix, name.as_deref()));
        if let Some(command) = command {
            out.push(Try {
                name: f.name.value.clone(),
                command,
                kpath: Walked::Flow(ft),
            });
        }
    }
    out
}
