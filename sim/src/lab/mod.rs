//! The lab: a world rendered as the commands (`ip`, `bridge`, `sysctl`, `ipset restore`,
//! `iptables-restore`, `nft -f`)
//! that build it for real out of network namespaces, and the reader of what the kernel says
//! back (`nft monitor trace`). Running the commands is the binary's job; this module only
//! says what to run and how to read the answers.

pub mod dns;
pub mod nft_trace;
pub mod probe;
pub mod send;
pub mod tries;
pub mod verify;

use crate::net::{LinkKind, Netns, NsId, NsKind, NudState, RouteProto, RouteTable, World};

/// The prefix every lab namespace of a scenario carries: `kp` + 4 hex digits of the
/// scenario's name, so two scenarios' labs never collide and `lab down` finds its own.
pub fn prefix(scenario_title: &str) -> String {
    format!(
        "kp{:04x}-",
        (crate::k8s::fnv1a(scenario_title) & 0xffff) as u16
    )
}

/// The real namespace name for a world namespace (`/` is not allowed in netns names).
pub fn netns_name(prefix: &str, ns: &str) -> String {
    format!("{prefix}{}", ns.replace('/', "."))
}

/// One command: argv, and optional standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub stdin: Option<String>,
}

impl Cmd {
    fn new(argv: &[&str]) -> Cmd {
        Cmd {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            stdin: None,
        }
    }
    pub fn text(&self) -> String {
        let mut s = self.argv.join(" ");
        if self.stdin.is_some() {
            s.push_str(" < (rules)");
        }
        s
    }
}

/// The commands that build `world` in namespaces named with `prefix`, in an order that
/// works: namespaces, links (pairs created once, from their lower end), bridges and VXLAN
/// devices, MACs and MTUs, addresses, routes, neighbours, FDB entries, sysctls, rules.
pub fn up_commands(world: &World, prefix: &str) -> Vec<Cmd> {
    let name = |id: NsId| netns_name(prefix, &world.ns(id).name);
    let mut c: Vec<Cmd> = Vec::new();
    for ns in &world.netns {
        c.push(Cmd::new(&["ip", "netns", "add", &name(ns.id)]));
    }
    for ns in &world.netns {
        loopback(&name(ns.id), &mut c);
    }
    // Devices that are not point-to-point first (bridges must exist before ports join).
    for ns in &world.netns {
        devices(world, ns, &name, &mut c);
    }
    for ns in &world.netns {
        links(ns, &name(ns.id), &mut c);
    }
    for ns in &world.netns {
        let n = name(ns.id);
        tables(ns, &n, &mut c);
        settings(ns, &n, &mut c);
    }
    c
}

/// `lo` up, IPv6 off: IPv6 only adds noise (router solicitations) to traces and captures.
fn loopback(n: &str, c: &mut Vec<Cmd>) {
    c.push(Cmd::new(&["ip", "-n", n, "link", "set", "lo", "up"]));
    for which in ["all", "default"] {
        let key = format!("net.ipv6.conf.{which}.disable_ipv6=1");
        c.push(Cmd::new(&["ip", "netns", "exec", n, "sysctl", "-qw", &key]));
    }
}

/// Bridges, and each veth (or cable) pair once, from the end in the lower namespace.
fn devices(world: &World, ns: &Netns, name: &dyn Fn(NsId) -> String, c: &mut Vec<Cmd>) {
    let n = name(ns.id);
    for l in &ns.links {
        match &l.kind {
            LinkKind::Bridge(_) => c.push(Cmd::new(&[
                "ip", "-n", &n, "link", "add", &l.name, "type", "bridge",
            ])),
            LinkKind::Veth { peer } | LinkKind::Ethernet { peer }
                // Each pair once, from the end in the lower namespace (or lower ifindex).
                if (ns.id, l.ifindex) < (peer.ns, peer.ifindex) => {
                    let pn = world
                        .link(*peer)
                        .map(|p| p.name.clone())
                        .unwrap_or_default();
                    c.push(Cmd::new(&[
                        "ip",
                        "link",
                        "add",
                        &l.name,
                        "netns",
                        &n,
                        "type",
                        "veth",
                        "peer",
                        "name",
                        &pn,
                        "netns",
                        &name(peer.ns),
                    ]));
                }
            _ => {}
        }
    }
}

/// Each device's VXLAN settings, address and MTU, bridge port, state and addresses.
fn links(ns: &Netns, n: &str, c: &mut Vec<Cmd>) {
    for l in &ns.links {
        if let LinkKind::Vxlan(v) = &l.kind {
            let local = v.local.to_string();
            let vni = v.vni.to_string();
            let port = v.dstport.to_string();
            let dev = ns.dev_name(v.dev);
            let mut argv = vec![
                "ip", "-n", n, "link", "add", &l.name, "type", "vxlan", "id", &vni, "local",
                &local, "dev", &dev, "dstport", &port,
            ];
            if !v.learning {
                argv.push("nolearning");
            }
            c.push(Cmd::new(&argv));
        }
        if matches!(l.kind, LinkKind::Loopback) {
            continue;
        }
        let mac = l.mac.to_string();
        let mtu = l.mtu.to_string();
        c.push(Cmd::new(&[
            "ip", "-n", n, "link", "set", &l.name, "address", &mac, "mtu", &mtu,
        ]));
        // kpath's TCP cuts a send into MSS-sized segments as it sends them; with
        // segmentation offloads on, the kernel would carry one large GSO packet through
        // netfilter and cut it only at the device. Off, the lab's kernel segments like
        // kpath. (Not every device lets every feature change: what cannot is left.)
        c.push(Cmd::new(&[
            "sh",
            "-c",
            &format!(
                "ip netns exec {n} ethtool -K {} tso off gso off gro off >/dev/null 2>&1 || true",
                l.name
            ),
        ]));
    }
    for l in &ns.links {
        if let Some(m) = l.master {
            let br = ns.dev_name(m);
            c.push(Cmd::new(&[
                "ip", "-n", n, "link", "set", &l.name, "master", &br,
            ]));
            if l.hairpin {
                c.push(Cmd::new(&[
                    "ip",
                    "-n",
                    n,
                    "link",
                    "set",
                    &l.name,
                    "type",
                    "bridge_slave",
                    "hairpin",
                    "on",
                ]));
            }
        }
    }
    for l in ns
        .links
        .iter()
        .filter(|l| !matches!(l.kind, LinkKind::Loopback))
    {
        c.push(Cmd::new(&["ip", "-n", n, "link", "set", &l.name, "up"]));
    }
    for l in &ns.links {
        for a in &l.addrs {
            if a.addr.is_loopback() {
                continue;
            }
            let addr = a.to_string();
            c.push(Cmd::new(&[
                "ip", "-n", n, "addr", "add", &addr, "dev", &l.name,
            ]));
        }
    }
}

/// Routes, permanent neighbours and the VXLAN FDB, as flannel programs them.
fn tables(ns: &Netns, n: &str, c: &mut Vec<Cmd>) {
    for r in ns
        .routes
        .iter()
        .filter(|r| r.table == RouteTable::Main && r.proto != RouteProto::Kernel)
    {
        let dst = if r.dst.prefix == 0 {
            "default".to_string()
        } else {
            r.dst.network().to_string()
        };
        let dev = ns.dev_name(r.dev);
        let mut argv = vec![
            "ip".to_string(),
            "-n".into(),
            n.to_string(),
            "route".into(),
            "add".into(),
            dst,
        ];
        if let Some(g) = r.via {
            argv.extend(["via".into(), g.to_string()]);
        }
        argv.extend(["dev".into(), dev]);
        if r.onlink {
            argv.push("onlink".into());
        }
        c.push(Cmd { argv, stdin: None });
    }
    for nb in ns.neigh.iter().filter(|nb| nb.state == NudState::Permanent) {
        if let Some(mac) = nb.lladdr {
            c.push(Cmd::new(&[
                "ip",
                "-n",
                n,
                "neigh",
                "add",
                &nb.ip.to_string(),
                "lladdr",
                &mac.to_string(),
                "dev",
                &ns.dev_name(nb.dev),
                "nud",
                "permanent",
            ]));
        }
    }
    for l in &ns.links {
        if let LinkKind::Vxlan(v) = &l.kind {
            for e in &v.fdb {
                c.push(Cmd::new(&[
                    "bridge",
                    "-n",
                    n,
                    "fdb",
                    "append",
                    &e.mac.to_string(),
                    "dev",
                    &l.name,
                    "dst",
                    &e.dst.to_string(),
                ]));
            }
        }
    }
}

/// The sysctls the datapath reads, every one kpath models, each set explicitly (a new
/// namespace would otherwise copy the host's `all` and `default`), in one `sysctl -w`; and
/// the node's iptables rules (iptables-restore).
fn settings(ns: &Netns, n: &str, c: &mut Vec<Cmd>) {
    let devices: Vec<&str> = ns.links.iter().map(|l| l.name.as_str()).collect();
    // The underlay switch is a plain L2 switch: bridge-nf-call-iptables=0 there too (a new
    // namespace would get 1 once br_netfilter is loaded, and br_nf_dev_queue_xmit would
    // then fragment what a hardware switch drops).
    let bridge = matches!(ns.kind, NsKind::Node { .. } | NsKind::Switch);
    let mut argv: Vec<String> = ["ip", "netns", "exec", n, "sysctl", "-qw"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.extend(
        ns.sysctl
            .entries(&devices, bridge)
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.replace('\t', " "))),
    );
    c.push(Cmd { argv, stdin: None });
    // The sets the rules match on exist before the rules (kube-router restores its sets
    // before its iptables-restore); ipsets are per namespace.
    if !ns.ipsets.is_empty() {
        c.push(Cmd {
            argv: ["ip", "netns", "exec", n, "ipset", "restore", "-exist"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            stdin: Some(ns.ipsets.iter().map(|s| s.save()).collect()),
        });
    }
    if !ns.netfilter.tables.is_empty() {
        c.push(Cmd {
            argv: vec![
                "ip".into(),
                "netns".into(),
                "exec".into(),
                n.to_string(),
                "iptables-restore".into(),
            ],
            stdin: Some(ns.netfilter.save()),
        });
    }
    // After iptables: NAT asks lookups of equal priority in the order they were
    // registered, and kpath registers iptables' nat table first.
    if !ns.netfilter.nft.tables.is_empty() {
        c.push(Cmd {
            argv: ["ip", "netns", "exec", n, "nft", "-f", "-"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            stdin: Some(crate::netfilter::nftables::list_ruleset(&ns.netfilter.nft)),
        });
    }
}

/// The namespaces of a lab, for `lab down` and for entering them.
pub fn namespaces(world: &World, prefix: &str) -> Vec<(String, String)> {
    world
        .netns
        .iter()
        .map(|n| (n.name.clone(), netns_name(prefix, &n.name)))
        .collect()
}

/// The frames of a pcap file (as tcpdump writes them), parsed; frames that do not parse
/// (IPv6, LLDP, ...) are left out.
pub fn read_pcap(bytes: &[u8], vxlan_ports: &[u16]) -> Vec<crate::wire::Frame> {
    let Ok(mut r) = pcap_file::pcap::PcapReader::new(bytes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while let Some(Ok(pkt)) = r.next_packet() {
        if let Ok(f) = crate::wire::Frame::parse_captured(&pkt.data, vxlan_ports) {
            out.push(f);
        }
    }
    out
}
