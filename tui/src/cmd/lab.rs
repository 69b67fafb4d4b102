//! `kpath lab up|down` and `kpath verify`: build a scenario for real out of network
//! namespaces, send its packets through the real kernel, and compare what the kernel did
//! (`nft monitor trace`, captures) with kpath's trace. Everything it creates carries the
//! scenario's prefix and lives in its own namespaces; nothing touches the host's namespace.

use crate::args::LabAction;
use crate::cmd::shared::{load, no_packet_or_flow};
use crate::failure::{Failure, Output, usage};
use kpath_sim::k8s::build_world;
use kpath_sim::lab::send::ServePlan;
use kpath_sim::lab::verify::{self, Evidence};
use kpath_sim::lab::{self, Cmd};
use kpath_sim::lab::{nft_trace, probe};
use kpath_sim::net::{NsKind, SocketOwner, World};
use kpath_sim::scenario::Scenario;
use kpath_sim::trace::{Role, Trace};
use kpath_sim::wire::IpProtocol;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the lab needs from the machine: (command, Debian package).
const TOOLS: [(&str, &str); 12] = [
    ("ip", "iproute2"),
    ("bash", "bash"),
    ("bridge", "iproute2"),
    ("iptables-restore", "iptables"),
    ("nft", "nftables"),
    ("tcpdump", "tcpdump"),
    ("script", "bsdutils"),
    ("nc", "netcat-openbsd"),
    ("ping", "iputils-ping"),
    ("conntrack", "conntrack"),
    ("ethtool", "ethtool"),
    // kube-router's sets, for NetworkPolicy lessons.
    ("ipset", "ipset"),
];

/// Why the lab cannot run here, if it cannot: not root, no network namespaces, a missing
/// tool. Used by `lab up`, `verify` and the test that skips when the machine cannot.
pub fn unavailable() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        return Some("the lab needs root (it creates network namespaces): run it with sudo".into());
    }
    let missing: Vec<String> = TOOLS
        .iter()
        .filter(|(cmd, _)| {
            Command::new("sh")
                .args(["-c", &format!("command -v {cmd}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        })
        .map(|(cmd, pkg)| format!("{cmd} (package {pkg})"))
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "missing tools: {}; install them with apt-get install",
            missing.join(", ")
        ));
    }
    // `nft monitor trace` sees iptables rules only when iptables writes them through
    // nf_tables (iptables-nft, Debian's default), not with the legacy backend.
    let version = Command::new("iptables-restore")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !version.contains("nf_tables") {
        return Some(format!(
            "iptables-restore is not the nf_tables variant ({}): switch with `update-alternatives --set iptables /usr/sbin/iptables-nft`",
            version.trim()
        ));
    }
    let probe = "kpath-probe-netns";
    let ok = Command::new("ip")
        .args(["netns", "add", probe])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let _ = Command::new("ip")
        .args(["netns", "del", probe])
        .stderr(Stdio::null())
        .status();
    if !ok {
        return Some("cannot create network namespaces here (`ip netns add` failed)".into());
    }
    None
}

fn run(c: &Cmd) -> Result<(), String> {
    let mut cmd = Command::new(&c.argv[0]);
    cmd.args(&c.argv[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if c.stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", c.text()))?;
    if let (Some(input), Some(mut si)) = (&c.stdin, child.stdin.take()) {
        let _ = si.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", c.text()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            c.text(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The lab's namespaces that exist now.
fn existing(prefix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Remove every namespace of the lab, killing what runs inside first.
pub fn down(prefix: &str) -> usize {
    let names = existing(prefix);
    for n in &names {
        if let Ok(o) = Command::new("ip").args(["netns", "pids", n]).output() {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").arg(pid).stderr(Stdio::null()).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", n]).status();
    }
    super::lab_dns::remove_resolv_confs(prefix);
    names.len()
}

/// The flag Ctrl-C sets. ctrlc takes one handler per process, so it is installed once and
/// shared; each lab command clears it when it starts, so every command in a process (the
/// live test runs several) honours Ctrl-C, not only the first.
fn interrupted() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    let flag = FLAG
        .get_or_init(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
            flag
        })
        .clone();
    flag.store(false, Ordering::SeqCst);
    flag
}

/// Build the scenario's lab; on any error (or Ctrl-C) remove what was built.
pub fn up(s: &Scenario, w: &World, prefix: &str, stop: &AtomicBool) -> Result<(), String> {
    if !existing(prefix).is_empty() {
        down(prefix);
    }
    for c in lab::up_commands(w, prefix) {
        if stop.load(Ordering::SeqCst) {
            down(prefix);
            return Err("interrupted: the lab was removed".into());
        }
        if let Err(e) = run(&c) {
            down(prefix);
            return Err(format!(
                "{e}\n  (the lab for {} was removed again)",
                s.title()
            ));
        }
    }
    Ok(())
}

/// Why the lab cannot build this scenario's kube-proxy mode, if it cannot (IPVS mode: the
/// controller says why, given whether this kernel has IPVS).
pub fn ipvs_refusal(s: &Scenario) -> Option<String> {
    let kernel_has_ipvs = std::path::Path::new("/proc/net/ip_vs").exists();
    kpath_sim::k8s::kube_proxy::for_cluster(s.model()).lab_refusal(kernel_has_ipvs)
}

/// Check the machine, build the scenario's world and its lab: the world, the lab's
/// namespace prefix, and the flag Ctrl-C sets.
fn build_lab(s: &Scenario, seed: Option<u64>) -> Result<(World, String, Arc<AtomicBool>), Failure> {
    if let Some(why) = ipvs_refusal(s) {
        return Err(Failure {
            message: format!("error: {}: {why}", s.file),
            status: 2,
        });
    }
    if let Some(why) = unavailable() {
        return Err(usage(why));
    }
    let w = build_world(s.model(), seed.unwrap_or(s.seed))?;
    let prefix = lab::prefix(s.title());
    let stop = interrupted();
    up(s, &w, &prefix, &stop).map_err(|e| Failure {
        message: format!("error: {e}"),
        status: 1,
    })?;
    Ok((w, prefix, stop))
}

/// `kpath lab up|down`.
pub fn command(action: LabAction, scenario: PathBuf, seed: Option<u64>) -> Result<Output, Failure> {
    let out = match action {
        LabAction::Up => lab_up(&load(&scenario)?, seed)?,
        LabAction::Down => lab_down(&load(&scenario)?)?,
        LabAction::Dns => return super::lab_dns::serve(&load(&scenario)?),
        LabAction::Send => return super::lab_send::send(&scenario),
        LabAction::Serve => return super::lab_send::serve(&scenario),
    };
    Ok(Output::Text(out))
}

/// `kpath lab up`.
pub fn lab_up(s: &Scenario, seed: Option<u64>) -> Result<String, Failure> {
    let (w, prefix, _) = build_lab(s, seed)?;
    let mut out = format!(
        "lab for {} is up: {} network namespaces named {prefix}*\n\nenter them with:\n",
        s.title(),
        w.netns.len()
    );
    for (ns, real) in lab::namespaces(&w, &prefix) {
        let _ = writeln!(out, "  ip netns exec {real:<28} bash   # {ns}");
    }
    let dns_servers = super::lab_dns::start_servers(s, &prefix);
    let listening = listen(&w, &prefix, &dns_servers);
    let confs = super::lab_dns::write_resolv_confs(s, &w, &prefix);
    let _ = writeln!(
        out,
        "\nthen ping, curl, tcpdump -ni any, conntrack -L, iptables-save as on a real node;"
    );
    if !dns_servers.is_empty() {
        let _ = writeln!(
            out,
            "cluster DNS: {confs} pods resolve names through kube-dns (resolv.conf in /etc/netns/), answered in {} as kpath's CoreDNS would;",
            dns_servers.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "{listening} listener(s) run on the ports the pods' containers declare (nc), so these get what kpath predicts:"
    );
    for t in kpath_sim::lab::tries::tries(s, &w, &prefix) {
        let says = kpath_sim::render::outcomes::summary(&t.kpath);
        let _ = writeln!(out, "  {}", t.command);
        let _ = writeln!(out, "      # kpath: {}: {says}", t.name);
    }
    let _ = writeln!(out, "remove it all with: kpath lab down {}", s.file);
    Ok(out)
}

/// Start a listener on every port a pod's containers (or a host) declare, detached so that
/// it outlives this command (`setsid -f`); `kpath lab down` kills it with the namespace's
/// other processes. Returns how many were started.
fn listen(w: &World, prefix: &str, dns_servers: &[String]) -> usize {
    let mut n = 0;
    for ns in &w.netns {
        let real = lab::netns_name(prefix, &ns.name);
        let answers_dns = dns_servers.contains(&ns.name);
        for sock in ns.sockets.iter().filter(|x| {
            matches!(
                x.owner,
                SocketOwner::Container { .. } | SocketOwner::Host { .. }
            )
        }) {
            if answers_dns && sock.proto == IpProtocol::Udp && sock.port == 53 {
                continue;
            }
            let listen = match sock.proto {
                IpProtocol::Tcp => "-lk",
                IpProtocol::Udp => "-lku",
                _ => continue,
            };
            let port = sock.port.to_string();
            let started = Command::new("setsid")
                .args([
                    "-f", "ip", "netns", "exec", &real, "nc", listen, "-n", "-p", &port,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            n += usize::from(started);
            if started && sock.proto == IpProtocol::Tcp {
                wait_listening(&real, sock.port);
            }
        }
    }
    n
}

/// Wait (up to 2 s) until a TCP port listens in lab namespace `ns`, so that the commands
/// printed next meet their listener even when tried at once.
fn wait_listening(ns: &str, port: u16) {
    let filter = format!("sport = :{port}");
    for _ in 0..100 {
        let listening = Command::new("ip")
            .args(["netns", "exec", ns, "ss", "-Hltn", &filter])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty());
        if listening {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `kpath lab down`.
pub fn lab_down(s: &Scenario) -> Result<String, Failure> {
    let prefix = lab::prefix(s.title());
    let n = down(&prefix);
    Ok(format!(
        "removed {n} network namespaces of the lab for {} ({prefix}*)\n",
        s.title()
    ))
}

/// Background processes of a verify run, stopped (SIGINT, then kill) on drop.
struct Procs(Vec<Child>);

impl Procs {
    fn spawn(&mut self, argv: &[&str]) {
        if let Ok(c) = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            self.0.push(c);
        }
    }
    /// Start a capture and wait until tcpdump says it is listening (it prints `listening
    /// on` to stderr once the socket is bound), so the packet cannot pass before it looks.
    fn spawn_capture(&mut self, argv: &[&str]) {
        let Ok(mut c) = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        else {
            return;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(err) = c.stderr.take() {
            std::thread::spawn(move || {
                use std::io::BufRead as _;
                for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                    if line.contains("listening on") {
                        let _ = tx.send(());
                    }
                }
            });
        }
        let _ = rx.recv_timeout(Duration::from_secs(5));
        self.0.push(c);
    }
    fn stop(&mut self) {
        for c in &self.0 {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
        }
        std::thread::sleep(Duration::from_millis(700));
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.0.clear();
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `kpath verify` from the command line: the packet or flow asked for must be the scenario's.
pub fn verify_command(
    scenario: PathBuf,
    packet: Option<String>,
    keep: bool,
    seed: Option<u64>,
) -> Result<Output, Failure> {
    let s = load(&scenario)?;
    if let Some(p) = &packet
        && s.packet(p).is_none()
        && !s.flows.iter().any(|f| &f.name.value == p)
    {
        return Err(no_packet_or_flow(&s, p));
    }
    let (text, ok) = verify(&s, packet.as_deref(), seed, keep)?;
    Ok(Output::Report { text, ok })
}

/// `kpath verify`: every packet of the scenario through the real kernel and through kpath.
pub fn verify(
    s: &Scenario,
    packet: Option<&str>,
    seed: Option<u64>,
    keep: bool,
) -> Result<(String, bool), Failure> {
    let (w, prefix, stop) = build_lab(s, seed)?;
    let dir = std::env::temp_dir().join(format!("kpath-verify-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let result = verify_in_lab(s, &w, &prefix, &dir, packet, &stop);
    if keep {
        result.map(|(mut text, ok)| {
            let _ = writeln!(text, "the lab is still up (remove it with `kpath lab down {}`); the kernel's traces and captures are in {}", s.file, dir.display());
            (text, ok)
        })
    } else {
        down(&prefix);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

fn verify_in_lab(
    s: &Scenario,
    w: &World,
    prefix: &str,
    dir: &std::path::Path,
    only: Option<&str>,
    stop: &AtomicBool,
) -> Result<(String, bool), Failure> {
    let real = |ns: &str| lab::netns_name(prefix, ns);
    let failed = |e: String| Failure {
        message: format!("error: {e}"),
        status: 1,
    };
    // Trace every namespace that has netfilter tables: a chain at priority -400 (before
    // conntrack) on prerouting and output sets nftrace, as `nft monitor trace` needs.
    let traced = verify::traced_namespaces(w);
    for ns in &traced {
        let rules = "table ip kpath_trace {\n chain pre { type filter hook prerouting priority -400; meta nftrace set 1; }\n chain out { type filter hook output priority -400; meta nftrace set 1; }\n}\n";
        let mut argv: Vec<String> = ["ip", "netns", "exec"].map(String::from).to_vec();
        argv.extend([real(ns), "nft".into(), "-f".into(), "-".into()]);
        run(&Cmd {
            argv,
            stdin: Some(rules.into()),
        })
        .map_err(failed)?;
    }
    let serve_plan = dir.join("serve.json");
    let write_json = |path: &std::path::Path, json: String| {
        std::fs::write(path, json).map_err(|e| failed(format!("{}: {e}", path.display())))
    };
    write_json(&serve_plan, to_json(&ServePlan::default()))?;
    let exe = super::lab_dns::kpath_binary()
        .ok_or_else(|| failed("cannot find the kpath binary to run the lab's sender".into()))?;
    let _servers = servers(w, &real, &exe, dir, &serve_plan);

    let mut report = format!(
        "kpath verify {} ({} namespaces named {prefix}*)\n",
        s.title(),
        w.netns.len()
    );
    let mut all_ok = true;
    let mut totals = Totals::default();
    let items = probe::items(s, w, only).map_err(|e| usage(e.to_string()))?;
    for item in items {
        if stop.load(Ordering::SeqCst) {
            return Err(Failure {
                message: "interrupted: the lab was removed".into(),
                status: 130,
            });
        }
        let label = format!("{} `{}`", item.kind, item.name);
        let (Some(plan), Some(first)) = (&item.plan, item.outcomes.first()) else {
            let _ = writeln!(
                report,
                "\n{label}: not verifiable in the lab (its destination does not resolve to an address)"
            );
            continue;
        };
        let Some(src_ns) = first
            .steps
            .iter()
            .find(|s| s.role == Role::Packet)
            .map(|s| s.netns.clone())
        else {
            continue;
        };
        let dir = dir.join(&item.name);
        let _ = std::fs::create_dir_all(&dir);
        // Each item starts from empty connection tracking: an entry an earlier item left
        // would change this one's path (ESTABLISHED instead of NEW, an old NAT binding).
        for ns in &traced {
            let _ = Command::new("ip")
                .args(["netns", "exec", &real(ns), "conntrack", "-F"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        write_json(&serve_plan, to_json(&item.serve))?;
        let plan_file = dir.join("send.json");
        write_json(&plan_file, to_json(plan))?;
        let argv: Vec<String> = vec![
            exe.to_string_lossy().into_owned(),
            "lab".into(),
            "send".into(),
            plan_file.to_string_lossy().into_owned(),
        ];
        let ev = observe(w, &real, &dir, &traced, &item.outcomes, &src_ns, &argv);
        let c = if item.flows.is_empty() {
            verify::compare_paths(w, &item.outcomes, item.how.protocol, &ev)
        } else {
            verify::compare_flow(w, &item.flows, item.how.protocol, &ev)
        };
        all_ok &= c.rows.iter().all(|r| r.ok);
        totals.add(item.kind, &c);
        let label = format!("{label}, {} packet passes", c.packets);
        report.push_str(&kpath_sim::render::verify::as_text(&label, &c.rows));
    }
    let _ = writeln!(report, "\n{}", totals.line());
    Ok((report, all_ok))
}

/// The lab's own server (`kpath lab serve`) on every container and host port of the
/// world: it answers each item as `plan` says at that moment.
fn servers(
    w: &World,
    real: &dyn Fn(&str) -> String,
    exe: &std::path::Path,
    dir: &std::path::Path,
    plan: &std::path::Path,
) -> Procs {
    let mut servers = Procs(Vec::new());
    for n in &w.netns {
        let r = real(&n.name);
        for sock in n.sockets.iter().filter(|x| {
            matches!(
                x.owner,
                SocketOwner::Container { .. } | SocketOwner::Host { .. }
            )
        }) {
            let proto = match sock.proto {
                IpProtocol::Tcp => "tcp",
                IpProtocol::Udp => "udp",
                _ => continue,
            };
            let spec = dir.join(format!("serve-{}-{proto}-{}.json", r, sock.port));
            let text = format!(
                "{{\"proto\": \"{proto}\", \"port\": {}, \"plan\": {}}}",
                sock.port,
                serde_json::to_string(&plan.to_string_lossy()).unwrap_or_default()
            );
            if std::fs::write(&spec, text).is_err() {
                continue;
            }
            let exe = exe.to_string_lossy();
            let spec = spec.to_string_lossy();
            servers.spawn(&["ip", "netns", "exec", &r, &exe, "lab", "serve", &spec]);
            if sock.proto == IpProtocol::Tcp {
                wait_listening(&r, sock.port);
            }
        }
    }
    servers
}

/// The first line a child prints (empty if it prints none within 15 s).
fn first_line(out: std::process::ChildStdout) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut line = String::new();
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default()
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The counts README gives: items, packet passes, checks and differences.
#[derive(Default)]
struct Totals {
    packets: usize,
    flows: usize,
    passes: usize,
    checks: usize,
    differences: usize,
}

impl Totals {
    fn add(&mut self, kind: &str, c: &kpath_sim::lab::verify::Comparison) {
        if kind == "flow" {
            self.flows += 1;
        } else {
            self.packets += 1;
        }
        self.passes += c.packets;
        self.checks += c.rows.len();
        self.differences += c.rows.iter().filter(|r| !r.ok).count();
    }

    fn line(&self) -> String {
        let verdict = if self.differences == 0 {
            "kernel and kpath agree"
        } else {
            "kernel and kpath differ (rows marked !)"
        };
        format!(
            "{verdict}: {} packets and {} flows, {} packet passes through netfilter, {} checks, {} differences",
            self.packets, self.flows, self.passes, self.checks, self.differences
        )
    }
}

/// Send one packet through the lab while tracing and capturing; return what was seen.
/// Traces and captures are written to `dir` (kept with `--keep`).
fn observe(
    w: &World,
    real: &dyn Fn(&str) -> String,
    dir: &std::path::Path,
    traced: &[String],
    outcomes: &[Trace],
    src_ns: &str,
    argv: &[String],
) -> Evidence {
    let file = |name: String| dir.join(name.replace('/', "."));
    let trace_of = |ns: &str| file(format!("{ns}.trace"));
    let cap_of = |ns: &str, dev: &str| file(format!("arrival-{ns}-{dev}.pcap"));
    let cap_under = dir.join("underlay.pcap");
    let mut mons = Procs(Vec::new());
    // `nft monitor trace` prints only to a terminal: `script` gives it one.
    for ns in traced {
        let out = trace_of(ns);
        let _ = std::fs::remove_file(&out);
        let cmdline = format!("ip netns exec {} nft monitor trace", real(ns));
        mons.spawn(&[
            "script",
            "-qfc",
            &cmdline,
            out.to_str().unwrap_or("/dev/null"),
        ]);
    }
    // One capture per place an outcome could arrive: the kernel's random choice is known
    // only afterwards.
    let dests = verify::destinations(outcomes);
    for (ns, dev) in &dests {
        let cap = cap_of(ns, dev);
        let _ = std::fs::remove_file(&cap);
        let cap = cap.to_str().unwrap_or("/dev/null");
        let r = real(ns);
        mons.spawn_capture(&[
            "ip", "netns", "exec", &r, "tcpdump", "-Q", "in", "-i", dev, "-nn", "-U", "-w", cap,
            "not", "ip6",
        ]);
    }
    let _ = std::fs::remove_file(&cap_under);
    let vxlan_ports = w.vxlan_ports();
    if let Some(n) = w.netns.iter().find(|n| matches!(n.kind, NsKind::Switch))
        && let Some(br) = n.link_by_name("br0")
        && !vxlan_ports.is_empty()
    {
        // `udp and (port A or port B ...)`: the tunnels' packets on the wire.
        let ports: Vec<String> = vxlan_ports.iter().map(|p| format!("port {p}")).collect();
        let filter = format!("udp and ({})", ports.join(" or "));
        let r = real(&n.name);
        let cap = cap_under.to_str().unwrap_or("/dev/null");
        mons.spawn_capture(&[
            "ip", "netns", "exec", &r, "tcpdump", "-i", &br.name, "-nn", "-U", "-w", cap, &filter,
        ]);
    }
    // The monitors have no "ready" line; give them time to subscribe.
    std::thread::sleep(Duration::from_millis(1200));
    // The sender prints one line when it is done, and may then hold its connections open
    // (a flow that does not close): read the line, stop watching, and only then end it.
    let child = Command::new("ip")
        .args(["netns", "exec", &real(src_ns)])
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let (sender_ok, sender_said) = match child {
        Ok(mut c) => {
            let said = c.stdout.take().map(first_line).unwrap_or_default();
            std::thread::sleep(Duration::from_millis(800));
            mons.stop();
            let _ = c.kill();
            let status = c.wait();
            let mut err = String::new();
            if let Some(mut e) = c.stderr.take() {
                use std::io::Read as _;
                let _ = e.read_to_string(&mut err);
            }
            let ok = said.starts_with("delivered") || said.starts_with("sent");
            let _ = status;
            (ok, format!("{said}{err}"))
        }
        Err(e) => {
            mons.stop();
            (false, e.to_string())
        }
    };
    let frames =
        |p: &std::path::Path| lab::read_pcap(&std::fs::read(p).unwrap_or_default(), &vxlan_ports);
    Evidence {
        nft: traced
            .iter()
            .map(|ns| {
                let text = std::fs::read_to_string(trace_of(ns)).unwrap_or_default();
                (ns.clone(), nft_trace::parse(&text))
            })
            .collect(),
        sender_ok,
        sender_said,
        arrivals: dests
            .iter()
            .map(|(ns, dev)| ((ns.clone(), dev.clone()), frames(&cap_of(ns, dev))))
            .collect(),
        underlay: frames(&cap_under),
    }
}
