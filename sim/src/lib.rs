//! kpath's engine: a deterministic model of the Linux/Kubernetes datapath.
//!
//! `scenario` (YAML) --controllers (`k8s`)--> `net::World`; a packet named by the scenario
//! --`resolve`--> its sender and target --`engine`--> `trace::Trace` (`run` does both)
//! --renderers (`render`: text, JSON, pcapng, reports)--> bytes for people and tools.
//! Nothing here prints or touches a terminal; the `kpath` binary does that.
//!
//! Input never panics the library: no `unwrap`/`expect` outside tests (clippy enforces it;
//! the few calls on values built here, never on input, say why they cannot fail).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod check;
pub mod cluster;
pub mod compare;
pub mod diag;
pub mod engine;
pub mod import;
pub mod ipvs;
pub mod k8s;
pub mod lab;
pub mod net;
pub mod netfilter;
pub mod node_dump;
pub mod policy;
pub mod render;
pub mod resolve;
pub mod rules_only;
pub mod run;
pub mod scale;
pub mod scenario;
pub mod topology;
pub mod trace;
pub mod wire;

pub use run::run_packet;
pub use scenario::{Scenario, load_scenario, load_scenario_str};
