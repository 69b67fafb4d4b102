//! `kpath policy`: reachability matrices as text (the e2e suite's truth tables) and JSON,
//! and what a policy tried with `--with` changes, each change with the policies that
//! decide it.

use crate::cluster::Cluster;
use crate::policy::{Decision, Matrix, Party, Probe, decide};
use serde::Serialize;
use std::fmt::Write;

fn port_words(m: &Matrix) -> String {
    format!("{}/{}", m.port, m.protocol.name().to_uppercase())
}

/// One matrix, headed by what it shows.
pub fn text(file: &str, m: &Matrix) -> String {
    let mut out = format!(
        "{file}: reachability on {} (a row per source pod, a column per destination; . allowed, X blocked)\n",
        port_words(m)
    );
    out.push_str(&crate::policy::matrix::print(m));
    out
}

/// A connection that a tried policy changes.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: String,
    pub before: bool,
    pub after: bool,
    /// Why, afterwards: the policies that isolate each end and those that allow.
    pub why: String,
}

/// The cells of `after` that differ from `before` (same pods, same port), with why.
pub fn changes(after_cluster: &Cluster, before: &Matrix, after: &Matrix) -> Vec<Change> {
    let pods = crate::policy::matrix::pods(after_cluster);
    let mut out = Vec::new();
    for (i, (b_row, a_row)) in before.allowed.iter().zip(&after.allowed).enumerate() {
        for (j, (b, a)) in b_row.iter().zip(a_row).enumerate() {
            if b == a {
                continue;
            }
            let d = decide(
                after_cluster,
                &Probe {
                    from: Party::Pod(pods[i]),
                    to: Party::Pod(pods[j]),
                    port: after.port,
                    protocol: after.protocol,
                },
            );
            out.push(Change {
                from: after.pods[i].clone(),
                to: after.pods[j].clone(),
                port: after.port,
                protocol: after.protocol.name().to_uppercase(),
                before: *b,
                after: *a,
                why: why(&d),
            });
        }
    }
    out
}

/// In words: which policies isolate each end and which allow (`egress of x/a isolated by
/// x/deny-out, allowed by none`).
pub fn why(d: &Decision) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let mut parts = Vec::new();
    for (dir, side) in [("egress", &d.egress), ("ingress", &d.ingress)] {
        if !side.isolated_by.is_empty() {
            parts.push(format!(
                "{dir} isolated by {}; allowed by {}",
                list(&side.isolated_by),
                list(&side.allowed_by)
            ));
        }
    }
    if parts.is_empty() {
        "no policy isolates either end".into()
    } else {
        parts.join("; ")
    }
}

/// The changes as text, after the matrix with the tried policies.
pub fn changes_text(with: &str, m: &Matrix, changes: &[Change]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "with {with}, {} connection{} on {} change{}:",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        port_words(m),
        if changes.len() == 1 { "s" } else { "" }
    );
    for c in changes {
        let word = |a: bool| if a { "allowed" } else { "blocked" };
        let _ = writeln!(
            out,
            "  {} -> {}: {} -> {} ({})",
            c.from,
            c.to,
            word(c.before),
            word(c.after),
            c.why
        );
    }
    out
}

#[derive(Serialize)]
struct MatrixJson<'a> {
    port: u16,
    protocol: String,
    pods: &'a [String],
    allowed: &'a [Vec<bool>],
}

/// Every matrix (and any changes) as JSON.
pub fn json(matrices: &[Matrix], changes: &[Change]) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        matrices: Vec<MatrixJson<'a>>,
        #[serde(skip_serializing_if = "<[Change]>::is_empty")]
        changes: &'a [Change],
    }
    let out = Out {
        matrices: matrices
            .iter()
            .map(|m| MatrixJson {
                port: m.port,
                protocol: m.protocol.name().to_uppercase(),
                pods: &m.pods,
                allowed: &m.allowed,
            })
            .collect(),
        changes,
    };
    serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
}
