//! The rules-only answer as text (one block per outcome, the rules that decided it
//! underneath) and as JSON.

use crate::rules_only::{
    Egress, IpvsResult, IpvsStep, RuleOutcome, RulesQuery, ipvs_addresses, missing_ipvs,
};
use serde::Serialize;

/// The answer as text: one block per outcome, the rules that decided it underneath, then a
/// note for what the answer could not see: the ipsets the rules match that were not given
/// (`missing_sets`, from `rules_only::missing_sets`) and an IPVS table that was not given.
pub fn text(
    file: &str,
    q: &RulesQuery,
    outcomes: &[RuleOutcome],
    arrival: Option<&str>,
    missing_sets: &[String],
    assumptions: &[String],
) -> String {
    use std::fmt::Write;
    let proto = q.proto;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{file}: {proto} {} -> {}:{} (the first packet of a new connection)",
        q.src, q.dst, q.dport
    );
    let locals: Vec<String> = q.local_ips.iter().map(|i| i.to_string()).collect();
    let _ = writeln!(
        out,
        "node addresses: {}",
        if locals.is_empty() {
            "none given (--local-ip)".into()
        } else {
            locals.join(", ")
        }
    );
    let implied = ipvs_addresses(q);
    if !implied.is_empty() {
        let shown: Vec<String> = implied.iter().take(6).map(|i| i.to_string()).collect();
        let more = if implied.len() > 6 {
            format!(", ... ({} in all)", implied.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  and, on this IPVS node, kube-ipvs0's and the virtual services' addresses: {}{more}",
            shown.join(", ")
        );
    }
    if let Some(a) = arrival {
        let _ = writeln!(out, "in: {a}");
    }
    let n = outcomes.len();
    let _ = writeln!(
        out,
        "{n} possible outcome{}:",
        if n == 1 { "" } else { "s" }
    );
    let covered: f64 = outcomes.iter().map(|o| o.probability).sum();
    if covered < 1.0 - 1e-9 {
        let _ = writeln!(
            out,
            "(cut short at {} outcomes, covering {:.2}% of the probability: the rest were not walked)",
            crate::engine::MAX_OUTCOMES,
            covered * 100.0
        );
    }
    for o in outcomes {
        let dest = o
            .destination
            .as_deref()
            .map(|d| format!(" -> {d}"))
            .unwrap_or_default();
        let masq = if o.masquerade { ", masqueraded" } else { "" };
        let _ = writeln!(
            out,
            "\n{:>7.2}%  {}{dest} ({}{masq})",
            o.probability * 100.0,
            o.verdict.name(),
            o.path.name()
        );
        for (i, h) in o.hits.iter().enumerate() {
            if let Some(step) = o.ipvs.as_ref().filter(|s| s.after_hits == i) {
                out.push_str(&ipvs_text(step));
            }
            let pos = if h.position == 0 {
                String::new()
            } else {
                format!(" #{}", h.position)
            };
            let comment = h
                .comment
                .as_ref()
                .map(|c| format!("  \"{c}\""))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {} {}{pos} -> {}{comment}",
                h.table.name(),
                h.chain,
                h.action.describe().trim_start_matches("verdict ")
            );
        }
        if let Some(step) = o.ipvs.as_ref().filter(|s| s.after_hits >= o.hits.len()) {
            out.push_str(&ipvs_text(step));
        }
        if let Some(e) = &o.egress {
            out.push_str(&egress_text(e));
        }
        for n in &o.notes {
            let _ = writeln!(out, "    note: {n}");
        }
    }
    for a in assumptions {
        let _ = writeln!(out, "note: {a}");
    }
    if !missing_sets.is_empty() {
        let _ = writeln!(
            out,
            "note: the rules match ipsets this answer does not have ({}); each reads as empty - give the node's `ipset save` with --ipset-save FILE",
            missing_sets.join(", ")
        );
    }
    if missing_ipvs(outcomes) {
        out.push_str(
            "note: this is a kube-proxy IPVS-mode dump and the packet is for a virtual service the answer cannot see - give the node's `ipvsadm-save -n` with --ipvsadm-save FILE\n",
        );
    }
    out
}

/// How the packet left: `out: veth1 (a port of cni0) to 0a:58:..`, or by eth0 inside
/// VXLAN.
fn egress_text(e: &Egress) -> String {
    let port = e
        .bridge
        .as_ref()
        .map(|b| format!(" (a port of {b})"))
        .unwrap_or_default();
    match &e.vxlan {
        Some(v) => format!(
            "    out: {}{port} to {}, inside VXLAN from {}: VNI {}, UDP {}:{} -> {}:{}\n",
            e.device, e.mac, v.device, v.vni, v.outer_src, v.sport, v.outer_dst, v.dport
        ),
        None => format!("    out: {}{port} to {}\n", e.device, e.mac),
    }
}

/// IPVS's step among the rules: `IPVS: 10.96.0.10:53 -> 10.244.1.3:53 (rr)`, then the
/// hook and the kernel functions.
fn ipvs_text(s: &IpvsStep) -> String {
    let to = match (s.result, &s.real_server) {
        (_, Some(rs)) => rs.clone(),
        (IpvsResult::Rejected, None) => "no real server".to_string(),
        _ => "? (no ipvsadm-save)".to_string(),
    };
    let sched = s.scheduler.map(|n| format!(" ({n})")).unwrap_or_default();
    let then = match s.result {
        IpvsResult::Forwarded => ", then LOCAL_OUT again and POSTROUTING",
        IpvsResult::Local => ": the real server is the node, the walk goes on",
        IpvsResult::Rejected => ": ICMP port unreachable",
        IpvsResult::Dropped | IpvsResult::Unknown => "",
    };
    format!(
        "    IPVS: {} -> {to}{sched}\n      {} at {} (priority {}){}{then}\n",
        s.service,
        s.functions.first().copied().unwrap_or("ip_vs_in_hook"),
        s.hook,
        s.priority,
        s.functions
            .iter()
            .skip(1)
            .map(|f| format!(" -> {f}"))
            .collect::<String>(),
    )
}

/// The answer as JSON: `outcomes` with verdict, destination, masquerade, probability and
/// the matched rules.
pub fn json(outcomes: &[RuleOutcome]) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        outcomes: &'a [RuleOutcome],
    }
    serde_json::to_string_pretty(&View { outcomes }).unwrap_or_default() + "\n"
}
