//! Reading Kubernetes objects from text: one object, several YAML documents (`---`), a
//! `kind: List` (what `kubectl get a,b -o yaml` prints) or the same as JSON (`-o json`;
//! JSON is YAML's flow style, so one reader takes both). Every object keeps its places.

use super::objects::Object;
use crate::diag::InputError;

/// Dumps may be large (a cluster of 10,000 Services and 30,000 pods is ~100 MB of JSON):
/// the limit is the reader's budget, not a guess at what a person writes by hand.
pub const MAX_DUMP_BYTES: u64 = 512 * 1024 * 1024;

/// Does the text hold Kubernetes objects rather than a kpath scenario? Its first key (or
/// JSON's) is `apiVersion`, `kind`, `items` or `metadata`.
pub fn looks_like_objects(src: &str) -> bool {
    for line in src.lines() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') || t == "---" {
            continue;
        }
        if t.starts_with('{') || t.starts_with('[') {
            let head: String = src.chars().take(4096).collect();
            return head.contains("\"apiVersion\"") || head.contains("\"kind\"");
        }
        let key = t.split(':').next().unwrap_or("").trim_matches(['"', '\'']);
        return matches!(key, "apiVersion" | "kind" | "items" | "metadata");
    }
    false
}

/// Every object of the text, Lists opened, in the order written.
pub fn read(file: &str, src: &str) -> Result<Vec<Object>, InputError> {
    let opts = serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_nodes: MAX_DUMP_BYTES as usize / 2,
            max_events: MAX_DUMP_BYTES as usize,
        },
    };
    let docs: Vec<Object> = serde_saphyr::from_multiple_with_options(src, opts)
        .map_err(|e| crate::scenario::yaml_error(file, src, e))?;
    let mut out = Vec::new();
    for d in docs {
        open(d, &mut out);
    }
    Ok(out)
}

fn open(o: Object, out: &mut Vec<Object>) {
    if o.kind().ends_with("List") || (o.kind.is_none() && !o.items.is_empty()) {
        for i in o.items {
            open(i, out);
        }
    } else if o.kind.is_some() || o.metadata.name.is_some() {
        out.push(o);
    }
}
