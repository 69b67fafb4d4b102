//! Clusters as people have them, made scenarios: a `kubectl get -o yaml|json` dump of a
//! running cluster (`kubectl`), or manifests applied to a cluster skeleton the way the
//! control plane would (`manifests`). Both read the same API objects (`objects`,
//! `documents`) and turn each into the scenario's entry for it (`convert`); the scenario
//! is then validated as a file's is, with places in the text the objects came from.
//! `write` prints an imported scenario as YAML a person can read and edit.
//!
//! What a dump does not say (the pod network, kube-proxy's mode) is assumed and said;
//! what kpath cannot model (IPv6, SCTP, another CNI, kinds it does not know) is left out
//! by name. Both go in [`Notes`].

pub mod control_plane;
pub mod convert;
pub mod documents;
pub mod kubectl;
pub mod manifests;
pub mod objects;
mod scheduling;
pub mod write;

use serde_saphyr::{Location, Spanned};

/// What an import assumed, and what it left out, in the order met.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    pub assumed: Vec<String>,
    pub left_out: Vec<String>,
    pub not_modelled: Vec<String>,
}

impl Notes {
    pub fn assumed(&mut self, s: String) {
        self.assumed.push(s);
    }
    pub fn left_out(&mut self, s: String) {
        self.left_out.push(s);
    }
    pub fn not_modelled(&mut self, s: String) {
        self.not_modelled.push(s);
    }

    /// Every note, one sentence each, headed by its kind: what a command prints.
    pub fn lines(&self) -> Vec<String> {
        let head = |h: &str, v: &[String]| {
            v.iter()
                .map(move |s| format!("{h}: {s}"))
                .collect::<Vec<_>>()
        };
        let mut out = head("assumed", &self.assumed);
        out.extend(head("not modelled", &self.not_modelled));
        out.extend(head("left out", &self.left_out));
        out
    }
}

/// A value with no place in any file (one kpath derived).
pub(crate) fn plain<T>(v: T) -> Spanned<T> {
    Spanned::new(v, Location::UNKNOWN, Location::UNKNOWN)
}

/// A value derived from another, at its place.
pub(crate) fn like<T, U>(v: T, at: &Spanned<U>) -> Spanned<T> {
    Spanned::new(v, at.referenced, at.defined)
}
