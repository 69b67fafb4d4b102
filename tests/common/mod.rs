//! Helpers shared by the integration tests: load a shipped scenario, trace a packet.
#![allow(dead_code)]

use kpath_sim::k8s::build_world;
use kpath_sim::net::World;
use kpath_sim::scenario::{Scenario, load_scenario};
use kpath_sim::trace::{Step, Trace};
use kpath_sim::wire::{Frame, Ipv4, L3, L4, UdpPayload, Vxlan};
use std::path::PathBuf;

pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.yaml"))
}

pub fn load(name: &str) -> (Scenario, World) {
    let s = load_scenario(&scenario_path(name)).unwrap_or_else(|e| panic!("{e}"));
    let w = build_world(s.model(), s.seed).unwrap_or_else(|e| panic!("{e}"));
    (s, w)
}

pub fn trace(name: &str, packet: &str) -> Trace {
    let (s, w) = load(name);
    kpath_sim::run_packet(&s, &w, packet).unwrap_or_else(|e| panic!("{e}"))
}

pub fn ipv4(f: &Frame) -> Option<&Ipv4> {
    match &f.payload {
        L3::Ipv4(ip) => Some(ip),
        L3::Arp(_) => None,
    }
}

/// The VXLAN header and outer IPv4 of an encapsulated frame.
pub fn vxlan(f: &Frame) -> Option<(&Ipv4, &Vxlan)> {
    let ip = ipv4(f)?;
    match &ip.payload {
        L4::Udp(u) => match &u.payload {
            UdpPayload::Vxlan(v) => Some((ip, v)),
            UdpPayload::Data(_) | UdpPayload::Dns(_) => None,
        },
        _ => None,
    }
}

/// Steps of the traced packet that put it on a wire, as (pcap interface, frame).
pub fn crossings(t: &Trace) -> Vec<(&str, &Step)> {
    t.packet_steps()
        .filter_map(|s| s.wire.as_deref().map(|w| (w, s)))
        .collect()
}

/// Is tshark here to read captures back? Says SKIPPED when not.
pub fn tshark_installed() -> bool {
    let here = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok();
    if !here {
        eprintln!("SKIPPED: tshark is not installed (.ci/run installs it)");
    }
    here
}

pub fn kpath() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_kpath"))
}

/// The address an ARP frame asks about.
pub fn ipv4_target(f: &Frame) -> String {
    match &f.payload {
        L3::Arp(a) => a.target_ip.to_string(),
        L3::Ipv4(ip) => ip.dst.to_string(),
    }
}

/// The first two lines of a bad-input corpus case (tests/bad_inputs/): `# expect: L:C
/// message` - or `# warn: L:C message` for input that loads with a warning - and
/// `# hint: text` (`-` for none). A case without them panics, naming the file.
pub struct Expect {
    pub warning: bool,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

pub fn expectation(path: &std::path::Path, bytes: &[u8]) -> Expect {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    let (first, second) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let (warning, rest) = match (
        first.strip_prefix("# expect: "),
        first.strip_prefix("# warn: "),
    ) {
        (Some(r), _) => (false, r),
        (None, Some(r)) => (true, r),
        _ => panic!(
            "{}: the first line must be `# expect: LINE:COLUMN message` (or `# warn: ...`)",
            path.display()
        ),
    };
    let (place, message) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
    let (line, column) = place
        .split_once(':')
        .and_then(|(l, c)| Some((l.parse().ok()?, c.parse().ok()?)))
        .unwrap_or_else(|| panic!("{}: `# expect: LINE:COLUMN message`", path.display()));
    let hint = second
        .strip_prefix("# hint: ")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| panic!("{}: the second line must be `# hint: ...`", path.display()));
    assert!(
        !message.trim().is_empty(),
        "{}: an expectation needs a message",
        path.display()
    );
    Expect {
        warning,
        line,
        column,
        message: message.trim().to_string(),
        hint: (hint != "-").then(|| hint.to_string()),
    }
}

impl Expect {
    /// What is wrong with error `e` against this expectation: its place, its message, its
    /// hint (a case with `# hint: -` wants none), and whether its rendering names the place.
    pub fn mismatches(&self, e: &kpath_sim::diag::InputError) -> Vec<String> {
        let mut bad = Vec::new();
        if (e.line, e.column) != (self.line, self.column) {
            bad.push(format!(
                "at {}:{}, expected {}:{}",
                e.line, e.column, self.line, self.column
            ));
        }
        if !e.message.contains(&self.message) {
            bad.push(format!("message `{}` lacks `{}`", e.message, self.message));
        }
        match (&self.hint, &e.hint) {
            (Some(w), Some(h)) if h.contains(w.as_str()) => {}
            (None, None) => {}
            (w, h) => bad.push(format!("hint {h:?}, expected {w:?}")),
        }
        let shown = e.to_string();
        if !shown.contains(&format!("--> {}:{}:{}", e.file, e.line, e.column)) {
            bad.push(format!("the rendering does not name the place:\n{shown}"));
        }
        bad
    }
}
