//! The real binary in a real terminal: tmux runs `kpath tui`, the test sends keys and reads
//! the pane as a person would see it. Skipped, saying why, where tmux is missing.

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wait until the pane shows `what` (or fail after a few seconds, showing the pane).
fn wait_for(session: &str, what: &str) -> String {
    let start = Instant::now();
    loop {
        let pane = tmux(&["capture-pane", "-t", session, "-p"]);
        if pane.contains(what) {
            return pane;
        }
        if start.elapsed() > Duration::from_secs(10) {
            panic!("the pane never showed `{what}`:\n{pane}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills the tmux session when the test ends, passed or failed.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

fn keys(session: &str, k: &[&str]) {
    let mut args = vec!["send-keys", "-t", session];
    args.extend(k);
    tmux(&args);
}

#[test]
fn a_learner_steps_through_a_cross_node_ping_and_quits() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed (apt-get install tmux)");
        return;
    }
    let session = format!("kpath-test-{}", std::process::id());
    let _guard = Session(session.clone());
    let bin = env!("CARGO_BIN_EXE_kpath");
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/pod-to-pod-cross-node.yaml"
    );
    let cmd = format!("{bin} tui {scenario} -p ping; echo kpath-exited-$?; sleep 30");
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "32",
        "sh",
        "-c",
        &cmd,
    ]);
    let pane = wait_for(&session, "step 1/134");
    assert!(pane.contains("node-1 172.31.0.11") && pane.contains("pod client 10.244.1.2"));
    assert!(pane.contains("raw_sendmsg"), "{pane}");
    // To the first netfilter hook: the rule list and its chain appear.
    keys(&session, &["]"]);
    // The explanation line is drawn below the title: once it names the step, the whole
    // frame is on screen.
    let pane = wait_for(&session, "br_nf_pre_routing — ");
    assert!(pane.contains("step 17/134"), "{pane}");
    // Search for the encapsulation and see the tunnel.
    keys(&session, &["/", "vxlan_xmit_one", "Enter"]);
    wait_for(&session, "vxlan_xmit_one — ");
    let pane = wait_for(&session, "══ VXLAN vni 1: 172.31.0.11 -> 172.31.0.12 ══");
    assert!(
        pane.contains("(new) -> ") && pane.contains("encapsulate: VNI 1"),
        "{pane}"
    );
    // Help, then back.
    keys(&session, &["?"]);
    wait_for(&session, "keys — Esc closes");
    keys(&session, &["Escape"]);
    // A terminal too small says so, and a larger one draws again.
    tmux(&["resize-window", "-t", &session, "-x", "60", "-y", "20"]);
    wait_for(&session, "at least 80x24");
    tmux(&["resize-window", "-t", &session, "-x", "100", "-y", "32"]);
    wait_for(&session, "step ");
    // q quits with status 0 and gives the terminal back.
    keys(&session, &["q"]);
    let pane = wait_for(&session, "kpath-exited-0");
    assert!(
        !pane.contains("node-1 172.31.0.11"),
        "the alternate screen is gone:\n{pane}"
    );
}
