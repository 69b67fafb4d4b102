//! Namespaces (core/v1) with their labels. Every namespace carries the immutable label
//! `kubernetes.io/metadata.name: <name>` (set by the API server since 1.21), which is what
//! NetworkPolicy namespaceSelectors match names by.

use std::collections::BTreeMap;

/// The label the API server puts on every namespace.
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl Namespace {
    /// A namespace with only the labels the API server gives it.
    pub fn new(name: &str) -> Namespace {
        let labels = BTreeMap::from([(METADATA_NAME_LABEL.to_string(), name.to_string())]);
        Namespace {
            name: name.to_string(),
            labels,
        }
    }
}

/// The namespaces a cluster has: the four the API server creates (default, kube-node-lease,
/// kube-public, kube-system) and every other one named, sorted by name.
pub fn namespaces<'a>(named: impl IntoIterator<Item = &'a str>) -> Vec<Namespace> {
    let mut names: Vec<&str> = ["default", "kube-node-lease", "kube-public", "kube-system"]
        .into_iter()
        .chain(named)
        .collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().map(Namespace::new).collect()
}
