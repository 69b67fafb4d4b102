//! Helpers the commands share: loading a scenario, and the error for a name that is no
//! packet or flow of it.

use crate::failure::{Failure, usage};
use kpath_sim::scenario::{ScenarioError, did_you_mean, load_scenario};

/// Load a scenario; its warnings go to stderr, as a compiler's do, and the command runs.
pub(super) fn load(path: &std::path::Path) -> Result<kpath_sim::scenario::Scenario, ScenarioError> {
    let s = load_scenario(path)?;
    for w in &s.warnings {
        eprintln!("{}\n", w.as_warning());
    }
    Ok(s)
}

/// `name` names no packet and no flow of the scenario: say so, with the names it has.
pub(super) fn no_packet_or_flow(s: &kpath_sim::scenario::Scenario, name: &str) -> Failure {
    let known: Vec<&str> = s
        .packets
        .iter()
        .map(|p| p.name.value.as_str())
        .chain(s.flows.iter().map(|f| f.name.value.as_str()))
        .collect();
    let hint = did_you_mean(name, known.iter().copied())
        .map(|m| format!("did you mean `{m}`? "))
        .unwrap_or_default();
    usage(format!(
        "{} has no packet or flow `{name}`\n  = hint: {hint}packets and flows: {}",
        s.file,
        known.join(", ")
    ))
}
