//! `kpath trace CLUSTER.yaml -f DIR_OR_FILE`: manifests applied to a cluster skeleton (a
//! scenario, or a kubectl dump) as `kubectl apply -f` and the control plane would
//! (`control_plane`): workloads make pods, pods are scheduled and addressed, Services get
//! their ClusterIPs and nodePorts, and the EndpointSlices follow from the selectors. The
//! skeleton and the manifests are validated together, as one cluster, so a flow of the
//! skeleton may name a Service a manifest creates; an error names the file it is in.

use super::convert::Src;
use super::kubectl::{Sorted, objects_into};
use super::{Notes, control_plane, documents};
use crate::diag::{InputError, Sources};
use crate::scenario::{self, Scenario};
use std::path::{Path, PathBuf};

/// The manifest files `-f` names: a file, or a directory's `.yaml`, `.yml` and `.json`
/// files in name order (as `kubectl apply -f DIR` takes them, not recursing).
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| {
                InputError::whole_file(
                    &p.display().to_string(),
                    format!("cannot read the directory: {e}"),
                )
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(InputError::whole_file(
                    &p.display().to_string(),
                    "the directory holds no .yaml, .yml or .json file",
                )
                .with_hint("-f takes a manifest file or a directory of them"));
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The skeleton at `base` with the manifests at `paths` applied.
pub fn load(base: &Path, paths: &[PathBuf]) -> Result<Scenario, InputError> {
    let (file, text) = scenario::read_text(base, "scenario")?;
    load_text(base, &file, &text, paths)
}

/// [`load`] for a skeleton already read (`file`, `text`, from `path`): parsed once, its
/// own `manifests:` resolved relative to it, then the command line's.
pub fn load_text(
    path: &Path,
    file: &str,
    text: &str,
    paths: &[PathBuf],
) -> Result<Scenario, InputError> {
    let mut notes = Notes::default();
    let base = parse_base(file, text, &mut notes)?;
    let mut all = Vec::new();
    let dir = path.parent().unwrap_or(Path::new("."));
    for m in &base.manifests {
        let p = dir.join(&m.value);
        if !p.exists() {
            return Err(super::convert::Src { file, text }
                .err(m, format!("{} does not exist", p.display()))
                .with_hint("manifests are files or folders, relative to the scenario"));
        }
        all.push(p);
    }
    all.extend(paths.iter().cloned());
    let mut manifests = Vec::new();
    for f in files(&all)? {
        manifests.push(scenario::read_text(&f, "manifest")?);
    }
    apply_to(base, notes, file, text, &manifests)
}

/// The skeleton: a kubectl dump's cluster (not yet validated: the manifests complete it)
/// or a scenario.
fn parse_base(file: &str, text: &str, notes: &mut Notes) -> Result<Scenario, InputError> {
    if documents::looks_like_objects(text) {
        super::kubectl::unvalidated(file, text, &Default::default(), notes)
    } else {
        Ok(scenario::parse(file, text)?)
    }
}

/// Apply manifests (each its file name and text) to the skeleton `base_text`, as the
/// control plane would, and validate the whole.
pub fn apply(
    base_file: &str,
    base_text: &str,
    manifests: &[(String, String)],
) -> Result<Scenario, InputError> {
    let mut notes = Notes::default();
    let base = parse_base(base_file, base_text, &mut notes)?;
    apply_to(base, notes, base_file, base_text, manifests)
}

fn apply_to(
    mut s: Scenario,
    mut notes: Notes,
    base_file: &str,
    base_text: &str,
    manifests: &[(String, String)],
) -> Result<Scenario, InputError> {
    // One text holding them all, for the places of errors; each manifest is read padded
    // with empty lines to where it starts in it, so its places are the whole text's.
    let mut whole = base_text.to_string();
    let mut sources = Sources::default();
    sources.push(base_file, 1);
    let mut objects = Vec::new();
    for (file, text) in manifests {
        if !whole.ends_with('\n') {
            whole.push('\n');
        }
        let first = whole.matches('\n').count() + 1;
        sources.push(file, first);
        let padded = format!("{}{text}", "\n".repeat(first - 1));
        objects.extend(documents::read(file, &padded).map_err(|e| sources.place(e))?);
        whole.push_str(text);
    }
    let src = Src {
        file: base_file,
        text: &whole,
    };
    control_plane::generate_names(&mut objects);
    let placed = |e: InputError| sources.place(e);
    let mut sorted = Sorted::new(&src, objects).map_err(placed)?;
    if !sorted.nodes.is_empty() {
        notes.left_out(format!(
            "{} Node objects: the cluster's nodes are the skeleton's",
            sorted.nodes.len()
        ));
    }
    let made = control_plane::workload_pods(&src, &sorted.workloads, &s.cluster.nodes, &mut notes)
        .map_err(placed)?;
    sorted.pods.extend(made);
    control_plane::schedule(&mut sorted.pods, &s, &mut notes);
    control_plane::allocate(&mut sorted.services, &s, &mut notes);
    objects_into(&src, &sorted, &mut s, &mut notes).map_err(placed)?;
    for (kind, n) in &sorted.unknown {
        notes.not_modelled(format!(
            "{n} {kind} object{}: kpath does not read this kind",
            if *n == 1 { "" } else { "s" }
        ));
    }
    s.assumptions.extend(notes.lines());
    let mut s = scenario::finish(s, base_file, &whole).map_err(placed)?;
    s.warnings = std::mem::take(&mut s.warnings)
        .into_iter()
        .map(placed)
        .collect();
    Ok(s)
}
