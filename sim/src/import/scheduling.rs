//! Which nodes a pod may run on, as kube-scheduler's filters decide it (NodeUnschedulable,
//! TaintToleration, and NodeAffinity for `nodeSelector`), and as the DaemonSet controller
//! checks it before it makes a node's pod. Soft preferences (PreferNoSchedule, scoring)
//! pick among the nodes that fit; kpath's scheduler takes the one with the fewest pods.

use super::objects::{Spec, Toleration};
use crate::scenario::{Node, Taint};

/// The label every node carries with its own name (kubelet sets it).
const HOSTNAME: &str = "kubernetes.io/hostname";

/// Why node `n` cannot take a pod of this spec, in words, or None when it can. A
/// DaemonSet's pods tolerate `node.kubernetes.io/unschedulable` (its controller adds the
/// toleration), so a cordoned node still runs them.
pub fn unfit(n: &Node, spec: &Spec, daemon: bool) -> Option<String> {
    for (k, v) in &spec.node_selector {
        let have = n
            .labels
            .get(k)
            .cloned()
            .or_else(|| (k == HOSTNAME).then(|| n.name.value.clone()));
        if have.as_deref() != Some(v.as_str()) {
            let has = have.map_or("no such label".to_string(), |h| format!("{k}={h}"));
            return Some(format!("nodeSelector {k}={v} ({has})"));
        }
    }
    if n.unschedulable
        && !daemon
        && !spec.tolerations.iter().any(|t| {
            tolerates(
                t,
                &Taint {
                    key: "node.kubernetes.io/unschedulable".into(),
                    value: String::new(),
                    effect: super::plain("NoSchedule".into()),
                },
            )
        })
    {
        return Some("cordoned (spec.unschedulable)".into());
    }
    n.taints
        .iter()
        .filter(|t| matches!(t.effect.value.as_str(), "NoSchedule" | "NoExecute"))
        .find(|t| !spec.tolerations.iter().any(|tol| tolerates(tol, t)))
        .map(|t| {
            let value = if t.value.is_empty() {
                String::new()
            } else {
                format!("={}", t.value)
            };
            format!("taint {}{value}:{} not tolerated", t.key, t.effect.value)
        })
}

/// `Toleration.ToleratesTaint` (k8s.io/api/core/v1): the effects agree (an empty one
/// tolerates every effect), and `Exists` matches the key (an empty key: every key) while
/// `Equal`, the default operator, matches key and value.
fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    if !tol.effect.is_empty() && tol.effect != taint.effect.value {
        return false;
    }
    match tol.operator.as_str() {
        "Exists" => tol.key.is_empty() || tol.key == taint.key,
        _ => tol.key == taint.key && tol.value == taint.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect: super::super::plain(effect.into()),
        }
    }

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        Toleration {
            key: key.into(),
            operator: op.into(),
            value: value.into(),
            effect: effect.into(),
        }
    }

    #[test]
    fn tolerations_match_as_the_api_defines() {
        let cp = taint("node-role.kubernetes.io/control-plane", "", "NoSchedule");
        assert!(tolerates(
            &tol(
                "node-role.kubernetes.io/control-plane",
                "Exists",
                "",
                "NoSchedule"
            ),
            &cp
        ));
        assert!(tolerates(&tol("", "Exists", "", ""), &cp));
        assert!(!tolerates(
            &tol(
                "node-role.kubernetes.io/control-plane",
                "Exists",
                "",
                "NoExecute"
            ),
            &cp
        ));
        let gpu = taint("gpu", "true", "NoSchedule");
        assert!(tolerates(&tol("gpu", "", "true", ""), &gpu));
        assert!(tolerates(&tol("gpu", "Equal", "true", "NoSchedule"), &gpu));
        assert!(!tolerates(
            &tol("gpu", "Equal", "false", "NoSchedule"),
            &gpu
        ));
        assert!(!tolerates(&tol("", "Equal", "", ""), &gpu));
    }
}
