//! Checks a parsed scenario for what YAML types cannot say: unique names, addresses inside
//! their networks, references that resolve. The first problem is returned, located.
//!
//! - `names`: DNS-1123 labels and subdomains, as Kubernetes checks node, pod and namespace names.
//! - `cluster`: the cluster objects as the API server would take them: CIDRs, MTUs, nodes, pods,
//!   Services (and the IPVS settings) and the internet beside the cluster.
//! - `traffic`: what is sent: packets, flows and the endpoints they name.
//! - `expect`: `expect:` blocks: dispositions, places, addresses, steps, conntrack states and
//!   outcome lists.
//!
//! Only the first problem is reported, so the order of the checks in [`check`] decides which
//! error a scenario with several problems gets, and golden tests pin it: the cluster, pods,
//! packets each with its `expect:`, Services, the internet, then flows with theirs. Keep it.

mod cluster;
mod expect;
mod names;
mod network_policy;
mod sysctls;
mod traffic;

use super::{Scenario, ScenarioError};
use cluster::{check_cluster, check_endpoint_slices, check_internet, check_pods, check_services};
use expect::{check_expect, check_outcome_list};
use serde_saphyr::{Location, Spanned};
use sysctls::check_sysctls;
use traffic::{check_flow, check_packet};

struct Checker<'a> {
    s: &'a Scenario,
    src: &'a str,
}

impl Checker<'_> {
    fn err(&self, at: &Location, msg: impl Into<String>) -> ScenarioError {
        if *at == Location::UNKNOWN {
            ScenarioError::whole_file(&self.s.file, msg)
        } else {
            ScenarioError::at(
                &self.s.file,
                self.src,
                at.line() as usize,
                at.column() as usize,
                msg,
            )
        }
    }

    fn err_at<T>(&self, v: &Spanned<T>, msg: impl Into<String>) -> ScenarioError {
        self.err(&v.referenced, msg)
    }

    /// Where `key: value` is written nearest to line `near` (for fields read without a
    /// location, like a pod's `namespace`).
    fn find_key_value(&self, key: &str, value: &str, near: usize) -> Option<(usize, usize)> {
        let pat = format!("{key}:");
        let mut best: Option<(usize, usize)> = None;
        for (i, line) in self.src.lines().enumerate() {
            let mut from = 0;
            while let Some(k) = line[from..].find(&pat) {
                let after = from + k + pat.len();
                let rest = &line[after..];
                let trimmed = rest.trim_start_matches([' ', '\'', '"']);
                let col = line.len() - trimmed.len();
                let whole_value = trimmed.strip_prefix(value).is_some_and(|after| {
                    after
                        .chars()
                        .next()
                        .is_none_or(|ch| !(ch.is_alphanumeric() || "-._/".contains(ch)))
                });
                let at_key_start =
                    from + k == 0 || !line.as_bytes()[from + k - 1].is_ascii_alphanumeric();
                if at_key_start && whole_value {
                    let here = (i + 1, line[..col].chars().count() + 1);
                    if best.is_none_or(|b| b.0.abs_diff(near) > here.0.abs_diff(near)) {
                        best = Some(here);
                    }
                }
                from = after;
            }
        }
        best
    }
}

/// Check one packet given outside the scenario's text; `src` is the text its locations
/// point into.
pub(super) fn check_packet_alone(
    s: &Scenario,
    src: &str,
    p: &crate::scenario::PacketSpec,
) -> Result<(), ScenarioError> {
    check_packet(&Checker { s, src }, p)
}

/// Check one flow given outside the scenario's text (as [`check_packet_alone`]).
pub(super) fn check_policies_alone(s: &Scenario, src: &str) -> Result<(), ScenarioError> {
    network_policy::check_network_policies(&Checker { s, src })
}

pub(super) fn check_flow_alone(
    s: &Scenario,
    src: &str,
    f: &crate::scenario::FlowSpec,
) -> Result<(), ScenarioError> {
    check_flow(&Checker { s, src }, f)
}

pub(super) fn check(s: &Scenario, src: &str) -> Result<(), ScenarioError> {
    let c = Checker { s, src };
    check_cluster(&c)?;
    check_sysctls(&c)?;
    check_pods(&c)?;
    network_policy::check_network_policies(&c)?;
    let mut names: Vec<&str> = Vec::new();
    for p in &s.packets {
        if names.contains(&p.name.value.as_str()) {
            return Err(c
                .err_at(
                    &p.name,
                    format!("packet `{}` is defined twice", p.name.value),
                )
                .with_hint("packet names must be unique within a scenario"));
        }
        names.push(&p.name.value);
        check_packet(&c, p)?;
        if let Some(e) = &p.expect {
            check_expect(&c, e)?;
        }
    }
    check_services(&c)?;
    check_endpoint_slices(&c)?;
    check_internet(&c)?;
    let mut flows: Vec<&str> = Vec::new();
    for f in &s.flows {
        if flows.contains(&f.name.value.as_str()) || names.contains(&f.name.value.as_str()) {
            return Err(c
                .err_at(&f.name, format!("`{}` is defined twice", f.name.value))
                .with_hint("packet and flow names must be unique within a scenario"));
        }
        flows.push(&f.name.value);
        check_flow(&c, f)?;
        if let Some(e) = &f.expect {
            if let Some(o) = &e.outcomes {
                check_outcome_list(&c, o)?;
            }
            for ex in e.each.values() {
                check_expect(&c, ex)?;
            }
        }
    }
    Ok(())
}
