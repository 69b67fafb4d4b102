//! The world printed the way iproute2 and friends print it on a real node, so a learner can
//! compare a simulated node with a real one line by line. (iproute2 ends many lines with a
//! space; so do we.)

use super::link::{Link, LinkKind};
use super::netns::{Netns, SocketOwner};
use super::route::{Route, RouteProto, RouteTable, RouteType, Scope};
use super::world::World;
use crate::wire::IpProtocol;
use std::fmt::Write;

fn flags(l: &Link) -> &'static str {
    match l.kind {
        LinkKind::Loopback => "<LOOPBACK,UP,LOWER_UP>",
        // dummy_setup: IFF_NOARP, no multicast; kube-proxy never sets kube-ipvs0 up.
        LinkKind::Dummy if !l.up => "<BROADCAST,NOARP>",
        LinkKind::Dummy => "<BROADCAST,NOARP,UP,LOWER_UP>",
        _ => "<BROADCAST,MULTICAST,UP,LOWER_UP>",
    }
}

fn state(l: &Link) -> &'static str {
    if !l.up {
        return "DOWN";
    }
    match l.kind {
        LinkKind::Loopback | LinkKind::Vxlan(_) => "UNKNOWN",
        _ => "UP",
    }
}

/// iproute2 prints `qlen N` after `group default ` only when the device's tx_queue_len is
/// nonzero (`print_queuelen`: `if (qlen)`). The CNI plugins create veths through
/// vishvananda/netlink with TxQLen 0, so a pod's veth pair has none and its line ends with
/// `group default `; the bridge plugin asks for the kernel default (TxQLen -1) for cni0,
/// and lo, NICs and VXLAN devices keep ether_setup's 1000.
fn qlen(l: &Link) -> &'static str {
    match l.kind {
        // Veths as above; dummy devices have no queue (IFF_NO_QUEUE, tx_queue_len 0).
        LinkKind::Veth { .. } | LinkKind::Dummy => "",
        _ => "qlen 1000",
    }
}

/// `ip -d addr show`: devices, their details and their IPv4 addresses.
pub fn ip_addr(w: &World, ns: &Netns) -> String {
    let mut out = String::new();
    for l in &ns.links {
        let peer = l.kind.peer();
        let at = peer
            .map(|p| format!("@if{}", p.ifindex))
            .unwrap_or_default();
        let master = l
            .master
            .map(|m| format!(" master {}", ns.dev_name(m)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}: {}{at}: {} mtu {} qdisc {}{master} state {} group default {}",
            l.ifindex,
            l.name,
            flags(l),
            l.mtu,
            if l.up { "noqueue" } else { "noop" },
            state(l),
            qlen(l)
        );
        let (kind, brd) = match l.kind {
            LinkKind::Loopback => ("loopback", "00:00:00:00:00:00"),
            _ => ("ether", "ff:ff:ff:ff:ff:ff"),
        };
        let netns = peer
            .filter(|p| p.ns != ns.id)
            .map(|p| format!(" link-netns {}", w.ns(p.ns).name))
            .unwrap_or_default();
        let _ = writeln!(out, "    link/{kind} {} brd {brd}{netns}", l.mac);
        match &l.kind {
            LinkKind::Vxlan(v) => {
                let _ = writeln!(
                    out,
                    "    vxlan id {} local {} dev {} srcport 0 0 dstport {} {}ttl auto ageing 300 udpcsum ",
                    v.vni,
                    v.local,
                    ns.dev_name(v.dev),
                    v.dstport,
                    if v.learning { "" } else { "nolearning " }
                );
            }
            LinkKind::Bridge(_) => {
                let _ = writeln!(
                    out,
                    "    bridge forward_delay 1500 hello_time 200 max_age 2000 ageing_time 30000 stp_state 0 "
                );
            }
            LinkKind::Veth { .. } => {
                let _ = writeln!(out, "    veth ");
            }
            LinkKind::Dummy => {
                let _ = writeln!(out, "    dummy ");
            }
            _ => {}
        }
        if l.master.is_some() {
            let _ = writeln!(
                out,
                "    bridge_slave state forwarding priority 32 cost 2 hairpin {} learning on flood on ",
                if l.hairpin { "on" } else { "off" }
            );
        }
        for a in &l.addrs {
            let scope = if a.addr.is_loopback() {
                "host"
            } else {
                "global"
            };
            let brd = if a.prefix < 31 && !a.addr.is_loopback() {
                format!(" brd {}", a.broadcast())
            } else {
                String::new()
            };
            let _ = writeln!(out, "    inet {a}{brd} scope {scope} {}", l.name);
            let _ = writeln!(out, "       valid_lft forever preferred_lft forever");
        }
    }
    out
}

/// One route as `ip route` prints it.
pub fn route_line(ns: &Netns, r: &Route) -> String {
    let mut s = String::new();
    match r.rtype {
        RouteType::Local => s.push_str("local "),
        RouteType::Broadcast => s.push_str("broadcast "),
        RouteType::Unicast => {}
    }
    if r.dst.prefix == 0 {
        s.push_str("default");
    } else if r.dst.prefix == 32 {
        let _ = write!(s, "{}", r.dst.addr);
    } else {
        let _ = write!(s, "{}", r.dst.network());
    }
    if let Some(g) = r.via {
        let _ = write!(s, " via {g}");
    }
    let _ = write!(s, " dev {}", ns.dev_name(r.dev));
    if r.proto == RouteProto::Kernel {
        s.push_str(" proto kernel");
    }
    match r.scope {
        Scope::Link => s.push_str(" scope link"),
        Scope::Host => s.push_str(" scope host"),
        Scope::Universe => {}
    }
    if let Some(src) = r.src {
        let _ = write!(s, " src {src}");
    }
    if r.onlink {
        s.push_str(" onlink");
    }
    s.push(' ');
    s
}

/// `ip route show table TABLE`, in the kernel's dump order (by destination address).
pub fn ip_route(ns: &Netns, table: RouteTable) -> String {
    let mut routes: Vec<&Route> = ns.routes.iter().filter(|r| r.table == table).collect();
    routes.sort_by_key(|r| {
        (
            u32::from(r.dst.network().addr),
            std::cmp::Reverse(r.dst.prefix),
        )
    });
    routes.iter().map(|r| route_line(ns, r) + "\n").collect()
}

/// `ip neigh show`.
pub fn ip_neigh(ns: &Netns) -> String {
    ns.neigh
        .iter()
        .map(|n| {
            let ll = n.lladdr.map(|m| format!(" lladdr {m}")).unwrap_or_default();
            format!(
                "{} dev {}{ll} {} \n",
                n.ip,
                ns.dev_name(n.dev),
                n.state.name()
            )
        })
        .collect()
}

/// `bridge fdb show` (IPv4 entries only; no IPv6 multicast).
pub fn bridge_fdb(ns: &Netns) -> String {
    let mut out = String::new();
    for l in &ns.links {
        match &l.kind {
            LinkKind::Bridge(b) => {
                for e in &b.fdb {
                    let flag = if e.local { "permanent" } else { "" };
                    let _ = writeln!(
                        out,
                        "{} dev {} master {} {flag}",
                        e.mac,
                        ns.dev_name(e.port),
                        l.name
                    );
                }
            }
            LinkKind::Vxlan(v) => {
                for e in &v.fdb {
                    let _ = writeln!(out, "{} dev {} dst {} self permanent", e.mac, l.name, e.dst);
                }
            }
            _ => {}
        }
    }
    out
}

/// The sysctls the datapath reads, as `sysctl` prints them: the namespace's, `all`'s,
/// `default`'s and each device's.
pub fn sysctls(ns: &Netns) -> String {
    let devices: Vec<&str> = ns.links.iter().map(|l| l.name.as_str()).collect();
    let bridge = matches!(ns.kind, crate::net::NsKind::Node { .. });
    ns.sysctl
        .entries(&devices, bridge)
        .into_iter()
        .map(|(k, v)| format!("{k} = {v}\n"))
        .collect()
}

/// `ss -lntu`: listening sockets.
pub fn ss(ns: &Netns) -> String {
    let mut out = String::from("Netid State  Local Address:Port  Process\n");
    for s in &ns.sockets {
        let netid = s.proto.name();
        let st = match (s.proto, s.peer) {
            (IpProtocol::Tcp, None) => "LISTEN",
            (_, Some(_)) => "ESTAB",
            (_, None) => "UNCONN",
        };
        let owner = match &s.owner {
            SocketOwner::Container { .. } => s.owner.container_words().unwrap_or_default(),
            SocketOwner::Vxlan { device } => {
                format!("kernel (VXLAN socket of {})", ns.dev_name(*device))
            }
            SocketOwner::Host { host } => format!("a server on {host}"),
            SocketOwner::Assumed => "assumed (the sockets are not known)".to_string(),
        };
        let _ = writeln!(out, "{netid:<5} {st:<6} {}:{:<10} {owner}", s.addr, s.port);
    }
    out
}

/// Everything `kpath show` prints for one namespace, each block under the command that
/// would print it on a real machine.
pub fn show(w: &World, ns: &Netns) -> String {
    let mut out = String::new();
    let blocks = [
        ("ip -d addr show", ip_addr(w, ns)),
        ("ip route show", ip_route(ns, RouteTable::Main)),
        ("ip route show table local", ip_route(ns, RouteTable::Local)),
        ("ip neigh show", ip_neigh(ns)),
        ("bridge fdb show", bridge_fdb(ns)),
        ("sysctl (datapath)", sysctls(ns)),
        ("ss -lntu", ss(ns)),
    ];
    for (cmd, body) in blocks {
        let _ = writeln!(out, "# {} $ {cmd}", ns.name);
        out.push_str(&body);
        out.push('\n');
    }
    out
}
