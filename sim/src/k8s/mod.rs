//! Controllers: turn a scenario into the Linux state a real cluster would have, programmed
//! the way the real agents program it. Each controller is a function over the world.

mod cni_bridge;
mod flannel;
mod mac;
mod node;

pub use mac::{flannel_vtep_mac, fnv1a};

use crate::net::World;
use crate::scenario::Scenario;

/// Build the world for a scenario. The same scenario and seed always give the same world.
pub fn build_world(s: &Scenario, seed: u64) -> World {
    let mut w = World::new(seed);
    let switch = node::underlay_switch(&mut w, s);
    for n in &s.cluster.nodes {
        node::node(&mut w, s, n, switch);
    }
    flannel::program(&mut w, s);
    for n in &s.cluster.nodes {
        cni_bridge::program(&mut w, s, n);
    }
    w
}
