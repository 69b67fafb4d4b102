//! The scenario half of the bad-input corpus: every file in tests/bad_inputs/scenario/ is
//! a scenario with one mistake, and its first two lines say what kpath must answer -
//! `# expect: LINE:COLUMN message` (an error) or `# warn: LINE:COLUMN message` (it loads,
//! with that warning), then `# hint: text` (or `# hint: -` for none). The message and hint
//! are substrings; the place is exact. A case without these lines fails.

mod common;

use common::{Expect, expectation};
use kpath_sim::diag::InputError;
use kpath_sim::scenario::load_scenario;
use std::path::{Path, PathBuf};

fn check(path: &Path, e: &InputError, want: &Expect) -> Result<(), String> {
    let bad = want.mismatches(e);
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}\n{e}", path.display(), bad.join("; ")))
    }
}

#[test]
fn every_bad_scenario_gets_its_located_error_or_warning() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs/scenario");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "the corpus has {} cases", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let want = expectation(f, &std::fs::read(f).unwrap());
        let got = match (load_scenario(f), want.warning) {
            (Err(e), false) => check(f, &e, &want),
            (Ok(s), true) => match s
                .warnings
                .iter()
                .find(|w| w.message.contains(&want.message))
            {
                Some(w) => check(f, w, &want),
                None => Err(format!(
                    "{}: loaded without the warning; warnings: {:?}",
                    f.display(),
                    s.warnings
                )),
            },
            (Ok(_), false) => Err(format!("{}: loaded, but should be refused", f.display())),
            (Err(e), true) => Err(format!(
                "{}: refused, but should load with a warning:\n{e}",
                f.display()
            )),
        };
        if let Err(m) = got {
            failures.push(m);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A 100 MB file is refused by its size before it is read: memory stays small.
#[test]
fn a_huge_scenario_is_refused_by_its_size() {
    let dir = std::env::temp_dir().join(format!("kpath-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.yaml");
    // A sparse file: 100 MB long without writing 100 MB.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(100 * 1024 * 1024)
        .unwrap();
    let e = load_scenario(&path).expect_err("too large");
    assert!(e.message.contains("104857600 bytes"), "{e}");
    assert!(e.message.contains("limited to"), "{e}");
    assert!(e.hint.is_some(), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
