//! Namespaces and NetworkPolicies: what the API server refuses (its validation of
//! networking.k8s.io/v1 NetworkPolicy and meta/v1 LabelSelector) is a located error with a
//! hint.

use super::Checker;
use crate::cluster::SelectorOp;
use crate::scenario::ScenarioError;
use crate::scenario::network_policy::{
    PeerSpec, PortSpec, PortValue, SelectorSpec, cidr, port_spec, protocol, table,
};
use serde_saphyr::Spanned;

pub(super) fn check_network_policies(c: &Checker) -> Result<(), ScenarioError> {
    let mut seen: Vec<&str> = Vec::new();
    for n in &c.s.namespaces {
        if seen.contains(&n.name.value.as_str()) {
            return Err(c
                .err_at(
                    &n.name,
                    format!("namespace `{}` is listed twice", n.name.value),
                )
                .with_hint("give each namespace's labels once"));
        }
        seen.push(&n.name.value);
    }
    let mut names: Vec<(&str, &str)> = Vec::new();
    for p in &c.s.network_policies {
        let key = (p.namespace.value.as_str(), p.name.value.as_str());
        if names.contains(&key) {
            return Err(c
                .err_at(
                    &p.name,
                    format!("NetworkPolicy `{}/{}` is defined twice", key.0, key.1),
                )
                .with_hint("a policy's name is unique within its namespace"));
        }
        names.push(key);
        check_selector(c, &p.pod_selector.value)?;
        if let Some(ts) = &p.policy_types {
            for t in ts {
                if !["Ingress", "Egress"].contains(&t.value.as_str()) {
                    return Err(c
                        .err_at(t, format!("`{}` is not a policy type", t.value))
                        .with_hint("policyTypes holds Ingress, Egress or both"));
                }
            }
        }
        for r in &p.ingress {
            check_rule(c, &r.value.from, &r.value.ports)?;
        }
        for r in &p.egress {
            check_rule(c, &r.value.to, &r.value.ports)?;
        }
    }
    check_reachability(c)
}

/// `expect: reachability:`: a port the API names, and a truth table of known pods.
fn check_reachability(c: &Checker) -> Result<(), ScenarioError> {
    let Some(e) = &c.s.expect else {
        return Ok(());
    };
    let pods: Vec<String> =
        c.s.pods
            .iter()
            .filter(|p| !p.host_network)
            .map(|p| format!("{}/{}", p.namespace, p.name.value))
            .collect();
    for r in &e.reachability {
        let port = &r.value.port;
        if port_spec(&port.value).is_none() {
            return Err(c
                .err_at(port, format!("`{}` is not a port", port.value))
                .with_hint("PORT[/PROTOCOL] with TCP (the default), UDP or SCTP, e.g. 80/TCP"));
        }
        let m = &r.value.matrix;
        // A block scalar (`matrix: |`): its lines follow the indicator's line, and the
        // value's place is its first line or the indicator's.
        let at = |i: usize| {
            let line = m.referenced.line() as usize;
            let ends_block = |n: usize| {
                n >= 1
                    && c.src.lines().nth(n - 1).is_some_and(|l| {
                        let t = l.trim_end();
                        t.ends_with('|') || t.ends_with('>') || t.ends_with("|-")
                    })
            };
            let first = if ends_block(line) {
                Some(line + 1)
            } else if ends_block(line.saturating_sub(1)) {
                Some(line)
            } else {
                None
            };
            match first {
                Some(f) => {
                    let l = f + i;
                    let col = c
                        .src
                        .lines()
                        .nth(l - 1)
                        .map_or(1, |t| t.len() - t.trim_start().len() + 1);
                    (l, col)
                }
                None => (line, m.referenced.column() as usize),
            }
        };
        let (cols, rows) = match table(&m.value) {
            Ok(t) => t,
            Err((i, msg)) => {
                let (l, col) = at(i);
                return Err(ScenarioError::at(&c.s.file, c.src, l, col, msg).with_hint(
                    "write it as `kpath policy` prints it: `-` and the destinations, then a row per source of `.` (allowed) and `X` (blocked)",
                ));
            }
        };
        for (i, name) in std::iter::once((0, &cols))
            .flat_map(|(i, cs)| cs.iter().map(move |n| (i, n)))
            .chain(rows.iter().enumerate().map(|(i, (n, _))| (i + 1, n)))
        {
            if !pods.contains(name) {
                let (l, col) = at(i);
                let hint = crate::diag::did_you_mean(name, pods.iter().map(String::as_str))
                    .map(|m| format!("did you mean `{m}`? "))
                    .unwrap_or_default();
                return Err(ScenarioError::at(
                    &c.s.file,
                    c.src,
                    l,
                    col,
                    format!("`{name}` is no pod of the scenario"),
                )
                .with_hint(format!(
                    "{hint}pods are written NAMESPACE/NAME (hostNetwork pods have no row)"
                )));
            }
        }
    }
    Ok(())
}

fn check_selector(c: &Checker, s: &SelectorSpec) -> Result<(), ScenarioError> {
    for e in &s.match_expressions {
        let op = &e.value.operator;
        let Some(kind) = SelectorOp::parse(&op.value) else {
            return Err(c
                .err_at(op, format!("`{}` is not a selector operator", op.value))
                .with_hint(SelectorOp::NAMES.join(", ")));
        };
        let wants_values = matches!(kind, SelectorOp::In | SelectorOp::NotIn);
        if wants_values && e.value.values.is_empty() {
            return Err(c
                .err_at(e, format!("`{}` needs values", op.value))
                .with_hint(format!(
                    "give the values the label `{}` may (In) or may not (NotIn) have",
                    e.value.key
                )));
        }
        if !wants_values && !e.value.values.is_empty() {
            return Err(c
                .err_at(e, format!("`{}` takes no values", op.value))
                .with_hint("Exists and DoesNotExist ask only whether the label is there"));
        }
    }
    Ok(())
}

fn check_rule(
    c: &Checker,
    peers: &[Spanned<PeerSpec>],
    ports: &[Spanned<PortSpec>],
) -> Result<(), ScenarioError> {
    for p in peers {
        check_peer(c, p)?;
    }
    for p in ports {
        check_port(c, p)?;
    }
    Ok(())
}

fn check_peer(c: &Checker, p: &Spanned<PeerSpec>) -> Result<(), ScenarioError> {
    let v = &p.value;
    let selectors = v.pod_selector.is_some() || v.namespace_selector.is_some();
    match &v.ip_block {
        None if !selectors => {
            return Err(c.err_at(p, "this peer names nothing").with_hint(
                "give podSelector, namespaceSelector (or both), or ipBlock; to allow every peer, leave out `from`/`to`",
            ));
        }
        Some(_) if selectors => {
            return Err(c
                .err_at(
                    p,
                    "ipBlock cannot be combined with podSelector or namespaceSelector",
                )
                .with_hint("write them as two peers of the list"));
        }
        None => {}
        Some(b) => {
            let Some(net) = cidr(&b.cidr.value) else {
                return Err(c
                    .err_at(&b.cidr, format!("`{}` is not an IPv4 CIDR", b.cidr.value))
                    .with_hint(
                        "an address and a prefix length, e.g. 10.0.0.0/24 (kpath models IPv4 only)",
                    ));
            };
            for e in &b.except {
                let Some(ex) = cidr(&e.value) else {
                    return Err(c
                        .err_at(e, format!("`{}` is not an IPv4 CIDR", e.value))
                        .with_hint("an address and a prefix length, e.g. 10.0.0.0/26"));
                };
                if ex.prefix <= net.prefix || !net.contains(ex.addr) {
                    return Err(c
                        .err_at(
                            e,
                            format!(
                                "except `{}` is not inside the cidr `{}`",
                                e.value, b.cidr.value
                            ),
                        )
                        .with_hint(
                            "each except must be a smaller block within the ipBlock's cidr",
                        ));
                }
            }
        }
    }
    for s in [&v.pod_selector, &v.namespace_selector]
        .into_iter()
        .flatten()
    {
        check_selector(c, s)?;
    }
    Ok(())
}

fn check_port(c: &Checker, p: &Spanned<PortSpec>) -> Result<(), ScenarioError> {
    let v = &p.value;
    if let Some(w) = &v.protocol
        && protocol(&w.value).is_none()
    {
        return Err(c
            .err_at(
                w,
                format!("`{}` is not a protocol a NetworkPolicy names", w.value),
            )
            .with_hint("TCP (the default), UDP or SCTP, in capitals"));
    }
    let number = match v.port.as_ref().map(|x| (x, &x.value)) {
        Some((at, PortValue::Number(n))) => {
            if !(1..=65535).contains(n) {
                return Err(c
                    .err_at(at, format!("port {n} is out of range"))
                    .with_hint("a port is a number from 1 to 65535, or a container port's name"));
            }
            Some(*n)
        }
        Some((at, PortValue::Name(s))) => {
            let ok = !s.is_empty()
                && s.len() <= 15
                && s.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
                && s.chars().any(|ch| ch.is_ascii_lowercase())
                && !s.starts_with('-')
                && !s.ends_with('-')
                && !s.contains("--");
            if !ok {
                return Err(c
                    .err_at(at, format!("`{s}` is not a port name"))
                    .with_hint("a container port's name: up to 15 lowercase letters, digits and single hyphens, with a letter"));
            }
            None
        }
        None => None,
    };
    if let Some(e) = &v.end_port {
        let Some(start) = number else {
            return Err(c.err_at(e, "endPort needs a numeric port").with_hint(
                "a range is port..endPort: give `port:` as a number (a named port cannot start a range)",
            ));
        };
        if e.value < start || e.value > 65535 {
            return Err(c
                .err_at(
                    e,
                    format!("endPort {} is not within {start}-65535", e.value),
                )
                .with_hint("endPort is the last port of the range and not below `port`"));
        }
    }
    Ok(())
}
