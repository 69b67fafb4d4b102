//! `kpath test`: run every expectation of every scenario found, compare golden traces, and
//! report one line per case and a closing `N passed, N failed[, N skipped]` line, as text,
//! JSON or JUnit XML.

use crate::args::TestFormat;
use crate::failure::{Failure, Output, usage};
use kpath_sim::check::{Case, Status, any_failed, check_flow, check_packet};
use kpath_sim::k8s::build_world;
use kpath_sim::render::{test_report, text};
use kpath_sim::scenario::{Scenario, load_scenario};
use std::path::{Path, PathBuf};

/// A folder's manifests (Kubernetes objects) are not scenarios: the scenarios that name
/// them in `manifests:` apply them. A file named on the command line is tested whatever it
/// holds.
fn holds_manifests(p: &Path) -> bool {
    std::fs::read_to_string(p).is_ok_and(|t| kpath_sim::import::documents::looks_like_objects(&t))
}

/// Every scenario file under the paths (folders searched recursively), in sorted order.
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                && !holds_manifests(&p)
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(usage(format!(
                "{} does not exist\n  = hint: give scenario files or folders (default: ./scenarios)",
                p.display()
            )));
        }
    }
    Ok(out)
}

/// The golden trace file of a scenario: `NAME.golden` beside `NAME.yaml`.
pub fn golden_path(scenario: &Path) -> PathBuf {
    scenario.with_extension("golden")
}

/// The deterministic text snapshot of every packet and flow: `### packet NAME` sections.
fn snapshot(s: &Scenario, seed: Option<u64>) -> Result<Vec<(String, String)>, String> {
    let mut w = build_world(s.model(), seed.unwrap_or(s.seed)).map_err(|e| e.to_string())?;
    // As `kpath trace` prints it: drops say why the rules before them did not match.
    w.why_not = true;
    let opts = text::TextOptions {
        explain: false,
        why: false,
        brief: false,
    };
    let mut out = Vec::new();
    for p in &s.packets {
        let t = kpath_sim::run_packet(s, &w, &p.name.value).map_err(|e| e.to_string())?;
        out.push((format!("packet {}", p.name.value), text::trace(&t, &opts)));
    }
    for f in &s.flows {
        let t = kpath_sim::run::run_flow(s, &w, &f.name.value).map_err(|e| e.to_string())?;
        out.push((format!("flow {}", f.name.value), text::flow(&t, &opts)));
    }
    Ok(out)
}

fn snapshot_text(sections: &[(String, String)]) -> String {
    sections
        .iter()
        .map(|(name, body)| format!("### {name}\n{body}"))
        .collect()
}

fn parse_snapshot(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("### ") {
            out.push((name.trim_end().to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
        }
    }
    out
}

/// A readable line diff (longest common subsequence), with two lines of context around
/// each change.
pub fn line_diff(old: &str, new: &str) -> Vec<String> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    if n * m > 4_000_000 {
        return vec![format!(
            "(traces too long to diff: {n} lines before, {m} now)"
        )];
    }
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| *c != ' ')
        .map(|(k, _)| k)
        .collect();
    let mut out = Vec::new();
    let mut shown_until = 0usize;
    for &k in &changed {
        let lo = k.saturating_sub(2).max(shown_until);
        let hi = (k + 3).min(ops.len());
        if lo > shown_until && shown_until > 0 {
            out.push("...".to_string());
        }
        for (c, l) in &ops[lo..hi] {
            out.push(format!("{c} {l}"));
        }
        shown_until = shown_until.max(hi);
        if out.len() > 60 {
            out.push(format!("... ({} changed lines in all)", changed.len()));
            break;
        }
    }
    out
}

/// `kpath test`.
pub fn command(
    paths: Vec<PathBuf>,
    format: TestFormat,
    bless: bool,
    seed: Option<u64>,
) -> Result<Output, Failure> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths
    };
    let cases = run(&paths, bless, seed)?;
    let text = match format {
        TestFormat::Text => test_report::as_text(&cases),
        TestFormat::Json => test_report::as_json(&cases),
        TestFormat::Junit => test_report::as_junit(&cases),
    };
    Ok(Output::Report {
        ok: !any_failed(&cases),
        text,
    })
}

/// Run everything; returns the cases.
pub fn run(paths: &[PathBuf], bless: bool, seed: Option<u64>) -> Result<Vec<Case>, Failure> {
    let mut cases = Vec::new();
    for file in scenario_files(paths)? {
        let name = file.display().to_string();
        let s = match load_scenario(&file) {
            Ok(s) => s,
            Err(e) => {
                cases.push(Case {
                    file: name,
                    name: "load".into(),
                    status: Status::Fail,
                    details: e.to_string().lines().map(str::to_string).collect(),
                });
                continue;
            }
        };
        // Warnings do not fail a test run; they go to stderr, beside the report.
        for w in &s.warnings {
            eprintln!("{}\n", w.as_warning());
        }
        let w = match build_world(s.model(), seed.unwrap_or(s.seed)) {
            Ok(w) => w,
            Err(e) => {
                cases.push(Case::failed(&name, "load", e.to_string()));
                continue;
            }
        };
        for p in &s.packets {
            cases.push(Case::of(&name, check_packet(&s, &w, &p.name.value)));
        }
        for f in &s.flows {
            cases.push(Case::of(&name, check_flow(&s, &w, &f.name.value)));
        }
        for r in kpath_sim::check::check_reachability(&s, &w) {
            cases.push(Case::of(&name, r));
        }
        cases.extend(golden(&file, &name, &s, bless, seed));
    }
    Ok(cases)
}

/// Compare (or, with `bless`, write) the scenario's golden traces.
fn golden(file: &Path, name: &str, s: &Scenario, bless: bool, seed: Option<u64>) -> Vec<Case> {
    let gp = golden_path(file);
    let now = match snapshot(s, seed) {
        Ok(n) => n,
        Err(e) => {
            return vec![Case::failed(name, "golden", e)];
        }
    };
    if bless {
        return match std::fs::write(&gp, snapshot_text(&now)) {
            Ok(()) => vec![Case {
                file: name.into(),
                name: "golden (blessed)".into(),
                status: Status::Pass,
                details: vec![format!("wrote {}", gp.display())],
            }],
            Err(e) => vec![Case::failed(
                name,
                "golden",
                format!("cannot write {}: {e}", gp.display()),
            )],
        };
    }
    let Ok(text) = std::fs::read_to_string(&gp) else {
        return Vec::new();
    };
    let before = parse_snapshot(&text);
    let mut cases = Vec::new();
    for (item, body) in &now {
        let case_name = format!("golden {item}");
        match before.iter().find(|(n, _)| n == item) {
            Some((_, old)) if old == body => cases.push(Case {
                file: name.into(),
                name: case_name,
                status: Status::Pass,
                details: Vec::new(),
            }),
            Some((_, old)) => {
                let mut details = vec![format!(
                    "the trace differs from {} (run `kpath test --bless` if the change is intended):",
                    gp.display()
                )];
                details.extend(line_diff(old, body));
                cases.push(Case {
                    file: name.into(),
                    name: case_name,
                    status: Status::Fail,
                    details,
                });
            }
            None => cases.push(Case::failed(
                name,
                &case_name,
                format!(
                    "{} has no trace for `{item}` (run `kpath test --bless`)",
                    gp.display()
                ),
            )),
        }
    }
    for (item, _) in before
        .iter()
        .filter(|(n, _)| !now.iter().any(|(m, _)| m == n))
    {
        cases.push(Case::failed(
            name,
            &format!("golden {item}"),
            format!(
                "{} has a trace for `{item}`, which the scenario no longer has (run `kpath test --bless`)",
                gp.display()
            ),
        ));
    }
    cases
}
