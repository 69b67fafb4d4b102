//! Pictures for slides and READMEs (`kpath diagram`), drawn from a trace and the world it
//! ran in:
//!
//! - `mermaid`: the journey as a sequence diagram (GitHub renders it);
//! - `svg`: the cluster's topology (pods, veths, bridges, nodes, the underlay, the tunnel)
//!   with the packet's path drawn across it.
//!
//! `journey` reads what both draw from the trace's steps.

pub mod journey;
pub mod mermaid;
pub mod svg;
