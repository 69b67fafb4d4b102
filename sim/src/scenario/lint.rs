//! Warnings: scenarios that load and run, but probably not as their author meant - a
//! Service whose selector matches no pod has no endpoints, so every packet to it is
//! refused, which a typo in a label would cause.

use super::{Scenario, ServiceType};
use crate::diag::{InputError, did_you_mean};

/// How many Services without endpoints are each warned of at their place; the rest are
/// named in one warning (a dump of a big cluster may hold thousands, and each located
/// warning reads the file's text).
const LOCATED_MAX: usize = 20;

/// The warnings for a loaded scenario, in file order.
pub(super) fn warnings(s: &Scenario, src: &str) -> Vec<InputError> {
    let mut out = Vec::new();
    let mut unlocated: Vec<String> = Vec::new();
    let mut located = 0;
    for svc in &s.services {
        if svc.selector.is_empty() || svc.kind == ServiceType::ExternalName {
            continue;
        }
        let selects = |p: &super::Pod| {
            p.namespace == svc.namespace
                && svc.selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
        };
        if s.pods.iter().any(selects) {
            named_ports(s, src, svc, &selects, &mut out);
            continue;
        }
        let wanted: Vec<String> = svc
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if located == LOCATED_MAX {
            unlocated.push(format!("{} ({})", svc.key(), wanted.join(",")));
            continue;
        }
        located += 1;
        let mut labels: Vec<String> = s
            .pods
            .iter()
            .filter(|p| p.namespace == svc.namespace)
            .flat_map(|p| p.labels.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        labels.sort();
        labels.dedup();
        // A big namespace has hundreds of labels: the first dozen say enough.
        let listed = if labels.len() > 12 {
            format!("{}, ... ({} in all)", labels[..12].join(", "), labels.len())
        } else {
            labels.join(", ")
        };
        let hint = match wanted
            .iter()
            .find_map(|w| did_you_mean(w, labels.iter().map(String::as_str)))
        {
            Some(m) => format!("did you mean `{m}`? labels in {}: {listed}", svc.namespace),
            None if labels.is_empty() => {
                format!("no pod in namespace {} has labels", svc.namespace)
            }
            None => format!("labels in {}: {listed}", svc.namespace),
        };
        // The selector has no recorded place; it is written below the Service's name.
        // On the name's own line, after the name (a dump written as one line of JSON).
        let from = svc.name.referenced.line() as usize;
        let name_col = svc.name.referenced.column() as usize;
        let (line, col) = src
            .lines()
            .enumerate()
            .skip(from.saturating_sub(1))
            .find_map(|(i, l)| {
                let start = if i + 1 == from {
                    l.char_indices()
                        .nth(name_col.saturating_sub(1))
                        .map_or(l.len(), |(b, _)| b)
                } else {
                    0
                };
                l[start..]
                    .find("selector")
                    .map(|c| (i + 1, l[..start + c].chars().count() + 1))
            })
            .unwrap_or((from, name_col));
        out.push(
            InputError::at(
                &s.file,
                src,
                line,
                col,
                format!(
                    "Service `{}`'s selector {} matches no pod: it has no endpoints, and every packet to it is refused",
                    svc.key(),
                    wanted.join(",")
                ),
            )
            .with_hint(hint),
        );
    }
    if !unlocated.is_empty() {
        let shown: Vec<&str> = unlocated.iter().take(10).map(String::as_str).collect();
        let more = if unlocated.len() > 10 { ", ..." } else { "" };
        out.push(
            InputError::whole_file(
                &s.file,
                format!(
                    "{} more Services' selectors match no pod (no endpoints; every packet to them is refused): {}{more}",
                    unlocated.len(),
                    shown.join(", ")
                ),
            )
            .with_hint("check the pods' labels, or whether the dump left the pods out"),
        );
    }
    out
}

/// A named targetPort that no selected pod declares (with the port's protocol): the
/// EndpointSlice controller lists no endpoint for that port, and kube-proxy REJECTs it.
fn named_ports(
    s: &Scenario,
    src: &str,
    svc: &super::Service,
    selects: &dyn Fn(&super::Pod) -> bool,
    out: &mut Vec<InputError>,
) {
    for p in &svc.ports {
        let Some(t) = &p.target_port else { continue };
        let super::TargetPort::Name(name) = &t.value else {
            continue;
        };
        let declared = s.pods.iter().filter(|x| selects(x)).any(|pod| {
            pod.containers
                .iter()
                .flat_map(|c| &c.ports)
                .any(|cp| cp.name.as_deref() == Some(name.as_str()) && cp.protocol == p.protocol)
        });
        if declared {
            continue;
        }
        let names: Vec<String> = s
            .pods
            .iter()
            .filter(|x| selects(x))
            .flat_map(|pod| pod.containers.iter().flat_map(|c| &c.ports))
            .filter_map(|cp| cp.name.clone())
            .collect();
        let hint = match did_you_mean(name, names.iter().map(String::as_str)) {
            Some(m) => format!("did you mean `{m}`? name the container port, or give the targetPort as a number"),
            None => "name the container port (`ports: [{containerPort: 8080, name: ...}]`), or give the targetPort as a number".to_string(),
        };
        out.push(
            InputError::at(
                &s.file,
                src,
                t.referenced.line() as usize,
                t.referenced.column() as usize,
                format!(
                    "targetPort `{name}` names no {} container port of the pods Service `{}` selects: the port has no endpoints, and kube-proxy REJECTs it",
                    p.protocol.name().to_uppercase(),
                    svc.key()
                ),
            )
            .with_hint(hint),
        );
    }
}
