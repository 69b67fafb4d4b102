//! Inputs that are valid but huge stay bounded: kpath says it cut the work short instead
//! of filling memory or running for ever.

mod common;

use kpath_sim::engine::{MAX_ENUMERATED_STEPS, explored};
use kpath_sim::k8s::build_world;
use kpath_sim::run::flow_outcomes;
use kpath_sim::scenario::load_scenario_str;

/// 16 connections to a Service of 3 endpoints picked at random: 3^16 outcomes of thousands
/// of steps each. Enumeration stops at its step budget and says how much it covered.
#[test]
fn enumerating_a_huge_flow_stops_at_the_step_budget() {
    let src = std::fs::read_to_string(common::scenario_path("pod-to-clusterip-cross-node"))
        .unwrap()
        .replacen(
            "    to: service/default/statsd:8125\n    protocol: udp\n    request: 30\n",
            "    to: service/default/service1:80\n    protocol: tcp\n    connections: 16\n",
            1,
        );
    assert!(src.contains("connections: 16"));
    let s = load_scenario_str("big.yaml", &src).unwrap_or_else(|e| panic!("{e}"));
    let w = build_world(s.model(), 0).unwrap();
    let outs = flow_outcomes(&s, &w, "statsd").unwrap();
    let steps: usize = outs
        .iter()
        .flat_map(|o| &o.result.packets)
        .map(|p| p.trace.steps.len())
        .sum();
    let biggest = outs
        .iter()
        .map(|o| {
            o.result
                .packets
                .iter()
                .map(|p| p.trace.steps.len())
                .sum::<usize>()
        })
        .max()
        .unwrap();
    assert!(steps < MAX_ENUMERATED_STEPS + biggest, "{steps} steps kept");
    assert!(explored(&outs) < 1.0, "it says it did not cover everything");
    assert!(outs.len() > 1);
}
