//! The dump and command-line half of the bad-input corpus (the scenario half is
//! tests/bad_inputs/scenario/, checked by tests/bad_scenarios.rs).
//!
//! Every file under tests/bad_inputs/{iptables-save,ipvsadm-save,ipset}/ is a dump with one
//! mistake; its first two lines (comments every reader skips) say what kpath must answer:
//!
//! ```text
//! # expect: LINE:COLUMN message
//! # hint: text            (or `# hint: -` for none)
//! ```
//!
//! The place is exact, the message and hint are substrings. Each case is read twice: by the
//! library reader (unless the file is not UTF-8 - the library takes `&str`), checking the
//! typed error, and by `kpath trace` in rules-only mode, checking exit status 2 and that
//! stderr names `FILE:LINE:COLUMN`, the message and the hint.
//!
//! Every file under tests/bad_inputs/cli/ is a command line:
//!
//! ```text
//! # expect: message
//! # hint: text            (or `-`: stderr has no hint line)
//! # args: trace {root}/scenarios/x.yaml --seed abc
//! # at: {root}/path:3:2   (optional: a place stderr must name)
//! ```
//!
//! `{root}` is the repository; words are split on spaces. The command must exit with status
//! 2 and print nothing on stdout. A case without its expectation lines fails, as does an
//! empty folder.

mod common;

use common::{Expect, expectation, kpath};
use kpath_sim::diag::InputError;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus(dir: &str) -> Vec<PathBuf> {
    let dir = root().join("tests/bad_inputs").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no cases", dir.display());
    files
}

/// The value of the `# KEY: ` header line `n` (0-based), or a panic naming the case.
fn header<'a>(path: &Path, lines: &[&'a str], n: usize, key: &str) -> &'a str {
    lines
        .get(n)
        .and_then(|l| l.strip_prefix(&format!("# {key}: ")))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{}: line {} must be `# {key}: ...` (every case states what kpath must answer)",
                path.display(),
                n + 1
            )
        })
}

fn hint_of(v: &str) -> Option<String> {
    (v != "-").then(|| v.to_string())
}

/// What is wrong with the library's error `e` for `text`, if anything.
fn check_error(text: &str, e: &InputError, want: &Expect) -> Vec<String> {
    let mut bad = want.mismatches(e);
    // The rendering shows the offending line, underlined inside it.
    let shown = e.to_string();
    let line = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
    // A long line is shown as a window around the column (diag.rs `snippet`).
    let visible = line.chars().count() <= 100 && shown.contains(line) || shown.contains("...");
    if e.source_line != line || !visible {
        bad.push(format!(
            "the snippet is not line {}: {:?}",
            e.line, e.source_line
        ));
    }
    if e.column == 0 || e.column + e.width - 1 > line.chars().count().max(1) {
        bad.push(format!(
            "underline {}+{} runs outside the line",
            e.column, e.width
        ));
    }
    bad
}

/// Run kpath; (exit status, stdout, stderr).
fn run(args: &[String]) -> (Option<i32>, String, String) {
    let out = kpath().args(args).output().expect("run kpath");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What is wrong with a failed run's output, if anything.
fn check_cli(
    status: Option<i32>,
    stdout: &str,
    stderr: &str,
    message: &str,
    hint: Option<&str>,
    at: Option<&str>,
) -> Vec<String> {
    let mut bad = Vec::new();
    if status != Some(2) {
        bad.push(format!("exit status {status:?}, expected 2"));
    }
    if !stdout.is_empty() {
        bad.push(format!("printed on stdout: {stdout}"));
    }
    if !stderr.starts_with("error: ") || !stderr.contains(message) {
        bad.push(format!("stderr lacks `error: ...{message}`"));
    }
    match hint {
        Some(h) if !stderr.contains(h) => bad.push(format!("stderr lacks the hint `{h}`")),
        None if stderr.contains("hint:") => bad.push("stderr has a hint, expected none".into()),
        _ => {}
    }
    if let Some(at) = at
        && !stderr.contains(&format!("--> {at}"))
    {
        bad.push(format!("stderr does not point at `{at}`"));
    }
    if !bad.is_empty() {
        bad.push(format!("stderr:\n{stderr}"));
    }
    bad
}

type Reader = fn(&str, &str) -> Result<(), InputError>;

/// A dump kpath reads, for the ipset and IPVS cases' command lines.
fn good_rules() -> String {
    root()
        .join("tests/fixtures/kube-proxy-trace-packet.rules")
        .display()
        .to_string()
}

/// The three dump readers: folder, library reader, and the `kpath trace` options that hand
/// it a file.
fn readers() -> [(&'static str, Reader, Vec<String>); 3] {
    let rules = good_rules();
    [
        (
            "iptables-save",
            |f, t| kpath_sim::netfilter::parse_iptables_save(f, t).map(drop),
            vec!["--iptables-save".into()],
        ),
        (
            "ipvsadm-save",
            |f, t| kpath_sim::ipvs::parse::parse_ipvsadm_save(f, t).map(drop),
            vec![
                "--iptables-save".into(),
                rules.clone(),
                "--ipvsadm-save".into(),
            ],
        ),
        (
            "ipset",
            |f, t| kpath_sim::netfilter::ipset::parse_ipsets(f, t).map(drop),
            vec!["--iptables-save".into(), rules, "--ipset-save".into()],
        ),
    ]
}

#[test]
fn every_bad_dump_is_refused_with_its_place_message_and_hint() {
    // The dump the IPVS and ipset cases run beside must itself be good.
    let rules = std::fs::read_to_string(good_rules()).unwrap();
    kpath_sim::netfilter::parse_iptables_save("fixture", &rules).unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for (dir, read, options) in readers() {
        let cases = corpus(dir);
        counts.push((dir, cases.len()));
        for path in cases {
            let bytes = std::fs::read(&path).unwrap();
            let want = expectation(&path, &bytes);
            assert!(!want.warning, "{}: dumps have no warnings", path.display());
            let name = path
                .strip_prefix(root())
                .unwrap_or(&path)
                .display()
                .to_string();
            let mut bad = Vec::new();
            // Only the command line reads bytes (the library takes `&str`); for a file that
            // is not UTF-8 it alone must locate the first bad byte.
            if let Ok(text) = std::str::from_utf8(&bytes) {
                match read(&name, text) {
                    Ok(()) => bad.push("the library reader accepted it".to_string()),
                    Err(e) => bad.extend(check_error(text, &e, &want)),
                }
            }
            let file = path.display().to_string();
            let mut args: Vec<String> = vec!["trace".into()];
            args.extend(options.iter().cloned());
            args.extend([&file, "--src", "10.244.1.2", "--dst", "10.96.0.10:53"].map(String::from));
            let (status, stdout, stderr) = run(&args);
            bad.extend(check_cli(
                status,
                &stdout,
                &stderr,
                &want.message,
                want.hint.as_deref(),
                Some(&format!("{file}:{}:{}", want.line, want.column)),
            ));
            if !bad.is_empty() {
                failures.push(format!("{name}:\n  {}", bad.join("\n  ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    assert!(total >= 35, "only {total} dump cases: {counts:?}");
}

#[test]
fn every_bad_command_line_exits_2_with_its_message() {
    let root = root().display().to_string();
    let mut failures = Vec::new();
    for path in corpus("cli") {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let message = header(&path, &lines, 0, "expect").replace("{root}", &root);
        let hint = hint_of(header(&path, &lines, 1, "hint"));
        let args: Vec<String> = header(&path, &lines, 2, "args")
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| w.replace("{root}", &root))
            .collect();
        let at = lines
            .get(3)
            .and_then(|l| l.strip_prefix("# at: "))
            .map(|a| a.trim().replace("{root}", &root));
        let (status, stdout, stderr) = run(&args);
        let bad = check_cli(
            status,
            &stdout,
            &stderr,
            &message,
            hint.as_deref(),
            at.as_deref(),
        );
        if !bad.is_empty() {
            failures.push(format!("{}:\n  {}", path.display(), bad.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn an_empty_dump_is_refused_not_read_as_accept_everything() {
    // What `iptables-save` leaves when it fails (not root): zero bytes.
    let e = kpath_sim::netfilter::parse_iptables_save("node.rules", "").unwrap_err();
    assert_eq!((e.line, e.column), (1, 1), "{e}");
    assert!(e.message.contains("no tables"), "{e}");
    // An empty IPVS table or set list is a node without services or sets: read as such.
    assert!(kpath_sim::ipvs::parse::parse_ipvsadm_save("node.ipvs", "").is_ok());
    assert!(kpath_sim::netfilter::ipset::parse_ipsets("node.sets", "").is_ok());
}

#[test]
fn huge_lines_are_refused_with_their_place() {
    // One 4 MB word: longer than any word iptables-restore takes.
    let word = "x".repeat(4 << 20);
    let text = format!(
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment {word} -j ACCEPT\nCOMMIT\n"
    );
    let e = kpath_sim::netfilter::parse_iptables_save("huge.rules", &text).unwrap_err();
    assert_eq!((e.line, e.column), (3, 31), "{}", e.message);
    assert!(e.message.contains("Parameter too long"), "{}", e.message);
    // A 4 MB line of short words: read (or refused) in linear time, never a hang.
    let many = " -m comment --comment x".repeat((4 << 20) / 24);
    let text = format!("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT{many} -j FROB\nCOMMIT\n");
    let e = kpath_sim::netfilter::parse_iptables_save("long.rules", &text).unwrap_err();
    assert_eq!(e.line, 3, "{}", e.message);
    assert!(e.message.contains("`FROB`"), "{}", e.message);
    for text in [
        format!("-A -t 10.96.0.10:53 -s rr {}\n", "-p 1 ".repeat(1 << 20)),
        format!("create S hash:ip family inet {}\n", "x".repeat(4 << 20)),
    ] {
        // Refused (each is the wrong reader's input), with a place, not a panic.
        let e = kpath_sim::ipvs::parse::parse_ipvsadm_save("long.ipvs", &text);
        assert!(e.is_err_and(|e| e.line == 1));
        let e = kpath_sim::netfilter::ipset::parse_ipsets("long.sets", &text);
        assert!(e.is_err_and(|e| e.line == 1));
    }
}

#[test]
fn an_endless_file_is_read_only_up_to_the_size_limit() {
    // /dev/zero has no size to check first: the read itself must stop at the limit.
    let zero = Path::new("/dev/zero");
    if !zero.exists() {
        eprintln!("skipped: no /dev/zero");
        return;
    }
    let args: Vec<String> = [
        "trace",
        "--iptables-save",
        "/dev/zero",
        "--src",
        "10.244.1.2",
        "--dst",
        "10.96.0.10:53",
    ]
    .map(String::from)
    .to_vec();
    let (status, stdout, stderr) = run(&args);
    let bad = check_cli(
        status,
        &stdout,
        &stderr,
        "dumps are limited to",
        Some("is this a node's dump?"),
        Some("/dev/zero"),
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn a_jump_loop_that_slipped_past_the_reader_still_ends_the_walk() {
    use kpath_sim::netfilter::rule::Target;
    // The reader refuses loops (tests/bad_inputs/iptables-save/jump-loop.rules); a table
    // built by hand can still hold one, and evaluation must end anyway, saying why.
    let text = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A FORWARD -j A\n-A INPUT -j A\n-A A -j B\n-A B -j RETURN\nCOMMIT\n";
    let mut nf = kpath_sim::netfilter::parse_iptables_save("loop.rules", text).unwrap();
    let mut looped = kpath_sim::netfilter::Table::new(nf.tables[0].kind);
    for c in nf.tables[0].chains() {
        let mut c = c.clone();
        if c.name == "B" {
            let mut r = (*c.rules[0]).clone();
            r.target = Target::Jump("A".into());
            c.rules[0] = std::sync::Arc::new(r);
        }
        looped.push_chain(c);
    }
    nf.tables[0] = looped;
    let q = kpath_sim::rules_only::RulesQuery {
        src: "10.244.1.2".parse().unwrap(),
        dst: "10.96.0.10".parse().unwrap(),
        dport: 53,
        proto: kpath_sim::wire::IpProtocol::Udp,
        local_ips: Vec::new(),
        iif: None,
        oif: None,
        sets: Vec::new(),
        ipvs: None,
    };
    let outcomes = kpath_sim::rules_only::trace_rules(&nf, &q);
    assert!(!outcomes.is_empty());
    for o in &outcomes {
        assert_eq!(o.verdict, kpath_sim::rules_only::RuleVerdict::Drop);
        // The jump stack outgrew the table's chains at the first repeat: a handful of
        // hits, not a million.
        assert!(o.hits.len() < 10, "{} hits", o.hits.len());
    }
    let text = kpath_sim::render::rules::text("loop.rules", &q, &outcomes, None, &[], &[]);
    assert!(text.contains("makes a loop"), "{text}");
}
