//! `expect:` blocks: dispositions, places and addresses, step and conntrack matches, outcome lists.

use super::Checker;
use crate::scenario::endpoint::Endpoint;
use crate::scenario::expect::{Expect, OutcomeMatch, StepMatch};
use crate::scenario::{ScenarioError, did_you_mean};
use serde_saphyr::Spanned;

const DISPOSITIONS: [&str; 13] = [
    "delivered",
    "no-route",
    "no-listener",
    "ttl-exceeded",
    "neighbour-unreachable",
    "dropped",
    "rejected",
    "fragmentation-needed",
    "message-too-long",
    "loop",
    "no-such-name",
    "dns-failed",
    "no such name",
];

fn check_disposition_name(c: &Checker, at: &Spanned<String>, v: &str) -> Result<(), ScenarioError> {
    let v = v.to_lowercase().replace('_', "-");
    if DISPOSITIONS.contains(&v.as_str()) {
        return Ok(());
    }
    let known = &DISPOSITIONS[..12];
    let hint = match did_you_mean(&v, known.iter().copied()) {
        Some(m) => format!("did you mean `{m}`? dispositions: {}", known.join(", ")),
        None => format!("dispositions: {}", known.join(", ")),
    };
    Err(c
        .err_at(at, format!("`{v}` is not a disposition"))
        .with_hint(hint))
}

fn check_addr(c: &Checker, v: &Spanned<String>) -> Result<(), ScenarioError> {
    let (a, p) = v
        .value
        .rsplit_once(':')
        .map(|(a, p)| (a, Some(p)))
        .unwrap_or((v.value.as_str(), None));
    let ok = a.parse::<std::net::Ipv4Addr>().is_ok() && p.is_none_or(|p| p.parse::<u16>().is_ok());
    if ok {
        Ok(())
    } else {
        Err(c
            .err_at(v, format!("`{}` is not IP[:PORT]", v.value))
            .with_hint("write an address like 10.244.2.5 or 10.244.2.5:80"))
    }
}

/// An `expect:` block: names that mean something, addresses that parse.
pub(super) fn check_expect(c: &Checker, e: &Expect) -> Result<(), ScenarioError> {
    if let Some(d) = &e.disposition {
        check_disposition_name(c, d, &d.value)?;
    }
    if let Some(a) = &e.at
        && a.value.parse::<Endpoint>().is_err()
        && !c.s.pods.iter().any(|p| p.key() == a.value)
    {
        return Err(c
            .err_at(a, format!("`{}` names no place", a.value))
            .with_hint("pod/NS/NAME[:PORT], node/NAME, host/NAME or a namespace name"));
    }
    for v in [&e.destination, &e.source].into_iter().flatten() {
        check_addr(c, v)?;
    }
    for m in e.steps.iter().chain(&e.not_steps) {
        if let Some(r) = &m.value.role
            && !["packet", "arp", "response", "dns", "any"].contains(&r.as_str())
        {
            return Err(c
                .err_at(m, format!("`{r}` is not a step role"))
                .with_hint("packet (the default), arp, response, dns or any"));
        }
        if let Some(h) = &m.value.hook
            && !["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"].contains(&h.as_str())
        {
            return Err(c
                .err_at(m, format!("`{h}` is not a netfilter hook"))
                .with_hint("PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING"));
        }
        // iptables' tables, and in nftables mode kube-proxy's `ip kube-proxy` table.
        let nft = c.s.kube_proxy.mode.as_ref().map(|m| m.value)
            == Some(crate::cluster::ProxyMode::Nftables);
        if let Some(t) = &m.value.table
            && !["raw", "mangle", "nat", "filter"].contains(&t.as_str())
            && !(nft && t == "kube-proxy")
        {
            let (what, hint) = if nft {
                (
                    "an iptables table or kube-proxy's nftables table",
                    "raw, mangle, nat, filter or kube-proxy",
                )
            } else {
                (
                    "an iptables table",
                    "raw, mangle, nat or filter (kube-proxy's nftables table, kube-proxy, is there with `kubeProxy: {mode: nftables}`)",
                )
            };
            return Err(c.err_at(m, format!("`{t}` is not {what}")).with_hint(hint));
        }
        if m.value == StepMatch::default() {
            return Err(c.err_at(m, "this step matches every step").with_hint("give at least one of netns, device, func, hook, table, chain, rule, comment, action, note"));
        }
    }
    for m in &e.conntrack {
        if !["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]
            .contains(&m.value.state.to_uppercase().as_str())
        {
            return Err(c
                .err_at(m, format!("`{}` is not a conntrack state", m.value.state))
                .with_hint("NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED"));
        }
    }
    if let Some(o) = &e.outcomes {
        check_outcome_list(c, o)?;
    }
    Ok(())
}

pub(super) fn check_outcome_list(
    c: &Checker,
    o: &Spanned<Vec<OutcomeMatch>>,
) -> Result<(), ScenarioError> {
    let total: f64 = o.value.iter().map(|x| x.probability).sum();
    if o.value.is_empty() || (total - 1.0).abs() > 0.001 {
        return Err(c
            .err_at(
                o,
                format!("the outcomes' probabilities add up to {total:.4}, not 1"),
            )
            .with_hint("list every outcome, each with its probability to 4 decimals"));
    }
    for x in &o.value {
        if let Some(d) = &x.disposition {
            let v = d.to_lowercase().replace('_', "-");
            if !DISPOSITIONS.contains(&v.as_str()) {
                return Err(c
                    .err_at(o, format!("`{d}` is not a disposition"))
                    .with_hint(DISPOSITIONS[..12].join(", ")));
            }
        }
    }
    Ok(())
}
