//! Helpers the commands share: loading a scenario, and the error for a name that is no
//! packet or flow of it.

use crate::failure::{Failure, usage};
use kpath_sim::scenario::{ScenarioError, did_you_mean, load_scenario};

/// Load a scenario; its warnings go to stderr, as a compiler's do, and the command runs.
pub(super) fn load(path: &std::path::Path) -> Result<kpath_sim::scenario::Scenario, ScenarioError> {
    load_with(path, &[])
}

/// Load a scenario (or a kubectl dump) with manifests applied to it first (`-f`).
pub(super) fn load_with(
    path: &std::path::Path,
    manifests: &[std::path::PathBuf],
) -> Result<kpath_sim::scenario::Scenario, ScenarioError> {
    let s = if manifests.is_empty() {
        load_scenario(path)?
    } else {
        kpath_sim::import::manifests::load(path, manifests)?
    };
    report(&s);
    Ok(s)
}

/// A loaded scenario's warnings, and what its importer assumed or left out, on stderr.
pub(super) fn report(s: &kpath_sim::scenario::Scenario) {
    for w in &s.warnings {
        eprintln!("{}\n", w.as_warning());
    }
    for a in &s.assumptions {
        eprintln!("note: {a}");
    }
    if !s.assumptions.is_empty() {
        eprintln!();
    }
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
