//! Why NetworkPolicy denied a packet, in the API's words: when a policy controller's rule
//! (kube-router's KUBE-POD-FW-* REJECT) ended a walk, the reference names the policies
//! that isolate each end and why none of them allowed the connection. The engine decided;
//! this only names the policies behind its rule.

use super::reference::{Decision, Party, Probe, Side, decide};
use crate::cluster::Cluster;
use crate::trace::{DispositionKind, Trace};
use crate::wire::L3;

/// Chains of policy controllers whose verdicts are NetworkPolicy's.
fn is_policy_chain(chain: &str) -> bool {
    chain.starts_with("KUBE-POD-FW-") || chain.starts_with("KUBE-NWPLCY-")
}

/// Fill `trace.disposition.policy` when a policy controller's rule ended the walk.
pub fn annotate(cluster: &Cluster, trace: &mut Trace) {
    let d = &trace.disposition;
    if !matches!(d.kind, DispositionKind::Rejected | DispositionKind::Dropped)
        || cluster.network_policies.is_empty()
    {
        return;
    }
    let Some(step) = trace.steps.iter().rev().find(|s| s.nf.is_some()) else {
        return;
    };
    let Some(nf) = &step.nf else { return };
    if !is_policy_chain(&nf.rule.chain) {
        return;
    }
    let L3::Ipv4(ip) = &step.packet.payload else {
        return;
    };
    let Some((_, dport)) = ip.l4_ports() else {
        return;
    };
    let party = |addr| match cluster
        .pods
        .iter()
        .find(|p| !p.host_network && p.ip == addr)
    {
        Some(p) => Party::Pod(p),
        None => Party::Addr(addr),
    };
    let probe = Probe {
        from: party(ip.src),
        to: party(ip.dst),
        port: dport,
        protocol: ip.protocol(),
    };
    let decision = decide(cluster, &probe);
    trace.disposition.policy = Some(Box::new(denial(&decision, &probe)));
}

fn name(p: &Party) -> String {
    match p {
        Party::Pod(p) => format!("pod {}", p.key()),
        Party::Addr(a) => a.to_string(),
    }
}

/// `neither a nor b allows`, `a does not allow`, `none of a, b and c allows`.
fn none_of(side: &Side) -> String {
    match side.isolated_by.as_slice() {
        [one] => format!("{one} does not allow"),
        [a, b] => format!("neither {a} nor {b} allows"),
        many => format!("none of {} allows", many.join(", ")),
    }
}

/// "denied by NetworkPolicy: x/deny isolates ingress of pod x/a; x/deny does not allow
/// 10.244.1.30 to 10.244.1.10:80/TCP".
pub fn denial(d: &Decision, probe: &Probe) -> String {
    let what = format!(
        "{}:{}/{}",
        probe.to.ip(),
        probe.port,
        probe.protocol.name().to_uppercase()
    );
    let mut parts = Vec::new();
    for (dir, side, end) in [
        ("egress", &d.egress, &probe.from),
        ("ingress", &d.ingress, &probe.to),
    ] {
        if side.allows() {
            continue;
        }
        let verb = if side.isolated_by.len() == 1 {
            "isolates"
        } else {
            "isolate"
        };
        let whom = if dir == "ingress" {
            format!("{} to {what}", probe.from.ip())
        } else {
            what.clone()
        };
        parts.push(format!(
            "{} {verb} {dir} of {}; {} {whom}",
            side.isolated_by.join(", "),
            name(end),
            none_of(side)
        ));
    }
    if parts.is_empty() {
        // The API allows it: the enforcing rules differ from the API here (kube-router's
        // known deviations, docs/design/kube-router-netpol.md 6.8-6.9).
        return "the policies allow this connection; the enforcing rules differ from the API here"
            .into();
    }
    format!("denied by NetworkPolicy: {}", parts.join("; and "))
}
