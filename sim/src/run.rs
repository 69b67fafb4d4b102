//! A scenario's packets and flows, by name: resolve them against the world (`resolve`),
//! then walk them (`engine`). The CLI, the TUI, `kpath test` and the lab all start here.

use crate::engine::{self, Outcome};
use crate::net::World;
use crate::resolve::{self, ResolveError};
use crate::scenario::Scenario;
use crate::trace::{FlowTrace, Trace};

/// A walked packet or flow: what `kpath trace`, `kpath pcap` and the TUI show.
#[derive(Clone, Debug)]
pub enum Walked {
    Packet(Trace),
    Flow(FlowTrace),
}

impl Walked {
    /// The traces, in order (one, or a flow's packets).
    pub fn traces(&self) -> Vec<&Trace> {
        match self {
            Walked::Packet(t) => vec![t],
            Walked::Flow(f) => f.packets.iter().map(|p| &p.trace).collect(),
        }
    }
}

/// Trace the scenario's packet `name` through a fresh copy of `world`.
pub fn run_packet(s: &Scenario, world: &World, name: &str) -> Result<Trace, ResolveError> {
    let mut t = engine::walk_packet(world, &resolve::packet(s, world, name)?);
    crate::policy::explain::annotate(s.model(), &mut t);
    Ok(t)
}

/// Every possible outcome of packet `name`, most probable first.
pub fn packet_outcomes(
    s: &Scenario,
    world: &World,
    name: &str,
) -> Result<Vec<Outcome<Trace>>, ResolveError> {
    let mut outs = engine::packet_outcomes(world, &resolve::packet(s, world, name)?);
    for o in &mut outs {
        crate::policy::explain::annotate(s.model(), &mut o.result);
    }
    Ok(outs)
}

/// Walk the scenario's flow `name` once, with random choices drawn from the seed.
pub fn run_flow(s: &Scenario, world: &World, name: &str) -> Result<FlowTrace, ResolveError> {
    let mut f = engine::walk_flow(world, &resolve::flow(s, world, name)?);
    for p in &mut f.packets {
        crate::policy::explain::annotate(s.model(), &mut p.trace);
    }
    Ok(f)
}

/// Every possible outcome of flow `name`, most probable first.
pub fn flow_outcomes(
    s: &Scenario,
    world: &World,
    name: &str,
) -> Result<Vec<Outcome<FlowTrace>>, ResolveError> {
    let mut outs = engine::flow_outcomes(world, &resolve::flow(s, world, name)?);
    for o in &mut outs {
        for p in &mut o.result.packets {
            crate::policy::explain::annotate(s.model(), &mut p.trace);
        }
    }
    Ok(outs)
}
