//! The lab's cluster DNS (kpath_sim::lab::dns decides what): each pod namespace's
//! resolv.conf under /etc/netns/, and a responder in each CoreDNS pod that answers as kpath's
//! model does (`kpath lab dns FILE`, which `lab up` starts there), so a learner's `curl web`
//! or `nc -zv web 80` in the lab resolves through the real kube-proxy rules.

use crate::failure::{Failure, Output};
use kpath_sim::lab::{self, dns};
use kpath_sim::net::World;
use kpath_sim::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NETNS_ETC: &str = "/etc/netns";

/// `kpath lab dns FILE`: answer DNS on UDP port 53 of the namespace it runs in, forever.
pub fn serve(s: &Scenario) -> Result<Output, Failure> {
    let fail = |e: std::io::Error| Failure {
        message: format!("error: the lab's DNS responder: {e}"),
        status: 1,
    };
    let sock = std::net::UdpSocket::bind("0.0.0.0:53").map_err(fail)?;
    let mut buf = [0u8; 4096];
    loop {
        let (n, peer) = sock.recv_from(&mut buf).map_err(fail)?;
        if let Some(answer) = dns::respond(s.model(), &buf[..n]) {
            let _ = sock.send_to(&answer, peer);
        }
    }
}

/// Write each pod namespace's resolv.conf; how many were written.
pub fn write_resolv_confs(s: &Scenario, w: &World, prefix: &str) -> usize {
    let mut n = 0;
    for (ns, text) in dns::resolv_confs(s.model(), w) {
        let dir = Path::new(NETNS_ETC).join(lab::netns_name(prefix, &ns));
        let written = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(dir.join("resolv.conf"), text));
        n += usize::from(written.is_ok());
    }
    n
}

/// Remove the lab's /etc/netns/ entries.
pub fn remove_resolv_confs(prefix: &str) {
    let Ok(dir) = std::fs::read_dir(NETNS_ETC) else {
        return;
    };
    for e in dir.flatten() {
        if e.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Start the responder in each CoreDNS pod; the namespaces it serves.
pub fn start_servers(s: &Scenario, prefix: &str) -> Vec<String> {
    let Some(exe) = kpath_binary() else {
        return Vec::new();
    };
    let file = std::fs::canonicalize(&s.file).unwrap_or_else(|_| PathBuf::from(&s.file));
    let mut started = Vec::new();
    for ns in dns::servers(s.model()) {
        let real = lab::netns_name(prefix, &ns);
        let ok = Command::new("setsid")
            .arg("-f")
            .args(["ip", "netns", "exec", &real])
            .arg(&exe)
            .args(["lab", "dns"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|st| st.success());
        if ok {
            wait_bound(&real);
            started.push(ns);
        }
    }
    started
}

/// Wait (up to 2 s) until the responder holds UDP port 53 in lab namespace `ns`: a query
/// sent before would meet ICMP port unreachable, and glibc gives up at once on that.
fn wait_bound(ns: &str) {
    for _ in 0..100 {
        let bound = Command::new("ip")
            .args(["netns", "exec", ns, "ss", "-Hlun", "sport = :53"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty());
        if bound {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The kpath binary: this process, or (when a test harness in target/*/deps runs the lab)
/// the one Cargo built beside it.
pub(super) fn kpath_binary() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    if me.file_stem().is_some_and(|n| n == "kpath") {
        return Some(me);
    }
    let beside = me.parent()?.parent()?.join("kpath");
    beside.exists().then_some(beside)
}
