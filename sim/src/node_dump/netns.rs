//! The node's namespace rebuilt from iproute2's JSON and `sysctl -a`: its devices as the
//! kernel holds them (a bridge with its ports and FDB, a VXLAN device with its FDB and the
//! UDP socket `vxlan_sock_add` binds, a dummy, lo), their addresses, the local and main
//! routing tables, the neighbour table and the sysctls. A device whose far side is
//! elsewhere (a NIC, a veth whose peer is a pod) is an uplink: what it sends leaves the
//! model, which is where a node's dump ends.

use super::Texts;
use super::iproute2_json::{JFdb, JLink, JNeigh, JRoute, list, located};
use crate::diag::InputError;
use crate::net::{
    Bridge, FdbEntry, IfIndex, Link, LinkKind, Neigh, Netns, NsId, NsKind, NudState, Route,
    RouteProto, RouteTable, RouteType, Scope, Socket, SocketOwner, Vxlan, VxlanFdb,
};
use crate::wire::{IpProtocol, Ipv4Addr, Ipv4Net, Mac};

/// The node as its dump shows it, and what kpath read past or had to assume, in words.
pub struct NodeState {
    /// The node's namespace (its id is set when it joins a world).
    pub ns: Netns,
    pub notes: Vec<String>,
}

/// One file being read: its shown name and text, for placing errors.
struct Src<'a> {
    file: &'a str,
    text: &'a str,
}

impl Src<'_> {
    fn err(&self, key: &str, value: &str, message: String, hint: &str) -> InputError {
        located(self.file, self.text, key, value, message).with_hint(hint.to_string())
    }

    fn ip(&self, key: &str, value: &str) -> Result<Ipv4Addr, InputError> {
        value.parse().map_err(|_| {
            self.err(
                key,
                value,
                format!("`{value}` is not an IPv4 address"),
                "iproute2 prints dotted IPv4 addresses (IPv6 entries are skipped by family)",
            )
        })
    }

    fn mac(&self, key: &str, value: &str) -> Result<Mac, InputError> {
        value.parse().map_err(|_| {
            self.err(
                key,
                value,
                format!("`{value}` is not a MAC address"),
                "six hex octets, e.g. 0a:58:0a:f4:00:01",
            )
        })
    }
}

/// The namespace, or None when the dump has neither `ip -j -d addr` nor `ip -j -d link`
/// (its devices unknown, nothing else can be placed).
pub fn build(t: &Texts) -> Result<Option<NodeState>, InputError> {
    let Some((lfile, ltext)) = t.link.as_ref().or(t.addr.as_ref()) else {
        return Ok(None);
    };
    let lsrc = Src {
        file: lfile,
        text: ltext,
    };
    let jlinks: Vec<JLink> = list(lfile, ltext, "ip -j -d link show")?;
    let mut notes = Vec::new();
    let mut ns = Netns::new(
        NsId(0),
        "node",
        NsKind::Node {
            node: "node".into(),
        },
    );
    devices(&lsrc, &jlinks, &mut ns, &mut notes)?;
    let addrs = match &t.addr {
        Some((file, text)) => {
            let src = Src { file, text };
            let jaddrs: Vec<JLink> = list(file, text, "ip -j -d addr show")?;
            addresses(&src, &jaddrs, &mut ns)?
        }
        None => {
            notes.push("no ip-addr.json: the node's addresses are unknown".into());
            Vec::new()
        }
    };
    match &t.route {
        Some((file, text)) => {
            for (dev, a) in &addrs {
                if let Some(l) = ns.link_mut(*dev) {
                    l.addrs.push(*a);
                }
            }
            let src = Src { file, text };
            let jroutes: Vec<JRoute> = list(file, text, "ip -j route show table all")?;
            routes(&src, &jroutes, &mut ns, &mut notes)?;
        }
        None => {
            for (dev, a) in addrs {
                ns.add_addr(dev, a);
            }
            notes.push("no ip-route.json: only the routes the kernel adds for each address are known (no default route)".into());
        }
    }
    if let Some((file, text)) = &t.neigh {
        let src = Src { file, text };
        let jneigh: Vec<JNeigh> = list(file, text, "ip -4 -j neigh show")?;
        neighbours(&src, &jneigh, &mut ns)?;
    }
    if let Some((file, text)) = &t.fdb {
        let src = Src { file, text };
        let jfdb: Vec<JFdb> = list(file, text, "bridge -j fdb show")?;
        fdb(&src, &jfdb, &mut ns, &mut notes)?;
    }
    match &t.sysctl {
        Some((file, text)) => {
            let names: Vec<String> = ns.links.iter().map(|l| l.name.clone()).collect();
            super::sysctl_a::apply(file, text, &mut ns.sysctl, |d| names.iter().any(|n| n == d))?;
        }
        None => {
            // A Kubernetes node forwards pods' packets, and kubelet (or the CNI plugin)
            // loads br_netfilter so bridged packets see iptables.
            ns.sysctl.ip_forward = true;
            let bridged = ns
                .links
                .iter()
                .any(|l| matches!(l.kind, LinkKind::Bridge(_)));
            ns.sysctl.bridge_nf_call_iptables = bridged;
            notes.push(format!(
                "no sysctl.txt: assumed net.ipv4.ip_forward=1{} and the kernel's defaults otherwise",
                if bridged {
                    ", net.bridge.bridge-nf-call-iptables=1"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(Some(NodeState { ns, notes }))
}

/// The devices, in the dump's order, with their bridge ports and VXLAN settings.
fn devices(
    src: &Src,
    jlinks: &[JLink],
    ns: &mut Netns,
    notes: &mut Vec<String>,
) -> Result<(), InputError> {
    let mut other_kinds: Vec<String> = Vec::new();
    for j in jlinks {
        if ns.link_by_name(&j.ifname).is_some() {
            return Err(src.err(
                "ifname",
                &j.ifname,
                format!("device `{}` is listed twice", j.ifname),
                "give one `ip -j -d link show` of one node",
            ));
        }
        let info = j.linkinfo.as_ref();
        let kind_name = info.and_then(|i| i.info_kind.as_deref());
        let kind = match kind_name {
            _ if j.link_type.as_deref() == Some("loopback") => LinkKind::Loopback,
            Some("bridge") => LinkKind::Bridge(Bridge::default()),
            Some("dummy") => LinkKind::Dummy,
            // Filled in below, once every device has its index.
            Some("vxlan") => LinkKind::Dummy,
            Some("veth") | None => LinkKind::Uplink { name_known: true },
            Some(other) => {
                other_kinds.push(format!("{} ({other})", j.ifname));
                LinkKind::Uplink { name_known: true }
            }
        };
        let mac = match &j.address {
            Some(a) if a.len() == 17 => src.mac("address", a)?,
            // Devices without an Ethernet address (ipip, wireguard, tun) print other forms.
            _ => Mac::ZERO,
        };
        let hairpin = info
            .and_then(|i| i.info_slave_data.as_ref())
            .and_then(|d| d.get("hairpin"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        ns.add_link(Link {
            ifindex: 0,
            name: j.ifname.clone(),
            kind,
            mac,
            mtu: j.mtu.unwrap_or(1500),
            addrs: Vec::new(),
            master: None,
            hairpin,
            up: j.flags.iter().any(|f| f == "UP"),
        });
    }
    for j in jlinks {
        let Some(dev) = ns.link_by_name(&j.ifname).map(|l| l.ifindex) else {
            continue;
        };
        if let Some(m) = &j.master {
            let master = find_dev(src, ns, "master", m)?;
            if let Some(l) = ns.link_mut(dev) {
                l.master = Some(master);
            }
        }
        let info = j.linkinfo.as_ref();
        if info.and_then(|i| i.info_kind.as_deref()) == Some("vxlan") {
            let data = info.and_then(|i| i.info_data.as_ref());
            let vx = vxlan(src, ns, &j.ifname, data, notes)?;
            let port = vx.dstport;
            if let Some(l) = ns.link_mut(dev) {
                l.kind = LinkKind::Vxlan(vx);
            }
            // vxlan_sock_add binds 0.0.0.0:<dstport> for the device's decapsulation.
            ns.sockets.push(Socket {
                proto: IpProtocol::Udp,
                addr: Ipv4Addr::UNSPECIFIED,
                port,
                peer: None,
                owner: SocketOwner::Vxlan { device: dev },
            });
        }
    }
    if !other_kinds.is_empty() {
        notes.push(format!(
            "devices of kinds kpath does not model are taken as NICs whose far side is not modelled: {}",
            other_kinds.join(", ")
        ));
    }
    Ok(())
}

fn find_dev(src: &Src, ns: &Netns, key: &str, name: &str) -> Result<IfIndex, InputError> {
    ns.link_by_name(name).map(|l| l.ifindex).ok_or_else(|| {
        src.err(
            key,
            name,
            format!("no device `{name}` in the node's device list"),
            "the files of one dump must come from one node at one time: run `kpath collect` again",
        )
    })
}

/// A VXLAN device from `ip -d`'s info_data: `id`, `local`, `link` (the underlay device),
/// `port` (the kernel's default is 8472 when none was given), `learning`.
fn vxlan(
    src: &Src,
    ns: &Netns,
    name: &str,
    data: Option<&serde_json::Value>,
    notes: &mut Vec<String>,
) -> Result<Vxlan, InputError> {
    let get = |k: &str| data.and_then(|d| d.get(k));
    let Some(vni) = get("id").and_then(serde_json::Value::as_u64) else {
        return Err(src.err(
            "ifname",
            name,
            format!("VXLAN device `{name}` has no `id` (VNI) in its linkinfo"),
            "the link list must come from `ip -j -d link show` (with -d, which prints linkinfo)",
        ));
    };
    let local = match get("local").and_then(serde_json::Value::as_str) {
        Some(a) => src.ip("local", a)?,
        None => Ipv4Addr::UNSPECIFIED,
    };
    let dev = match get("link").and_then(serde_json::Value::as_str) {
        Some(d) => find_dev(src, ns, "link", d)?,
        // No `dev` given: the kernel routes each encapsulated packet by itself; kpath sends
        // it by the first NIC, and says so.
        None => {
            let nic = ns
                .links
                .iter()
                .find(|l| matches!(l.kind, LinkKind::Uplink { .. }))
                .or(ns.links.first());
            notes.push(format!(
                "VXLAN device {name} names no underlay device (`dev`): its packets are taken to leave by {}",
                nic.map_or("?", |l| l.name.as_str())
            ));
            nic.map_or(0, |l| l.ifindex)
        }
    };
    Ok(Vxlan {
        vni: vni as u32,
        dstport: get("port")
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .unwrap_or(8472),
        local,
        dev,
        learning: get("learning")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true),
        fdb: Default::default(),
    })
}

/// Each device's IPv4 addresses, primary first (IPv6 skipped).
fn addresses(
    src: &Src,
    jaddrs: &[JLink],
    ns: &mut Netns,
) -> Result<Vec<(IfIndex, Ipv4Net)>, InputError> {
    let mut out = Vec::new();
    for j in jaddrs {
        let dev = find_dev(src, ns, "ifname", &j.ifname)?;
        for a in &j.addr_info {
            if a.family.as_deref() != Some("inet") {
                continue;
            }
            let Some(local) = &a.local else { continue };
            let ip = src.ip("local", local)?;
            let prefix = a.prefixlen.unwrap_or(32);
            if prefix > 32 {
                return Err(src.err(
                    "local",
                    local,
                    format!("`{local}` has prefix length {prefix}, over 32"),
                    "an IPv4 prefix length is 0 to 32",
                ));
            }
            out.push((dev, Ipv4Net::new(ip, prefix)));
        }
    }
    Ok(out)
}

/// The local and main tables, as the dump lists them.
fn routes(
    src: &Src,
    jroutes: &[JRoute],
    ns: &mut Netns,
    notes: &mut Vec<String>,
) -> Result<(), InputError> {
    let mut other_tables: Vec<String> = Vec::new();
    let mut other_types: Vec<String> = Vec::new();
    let mut multipath: Vec<String> = Vec::new();
    for r in jroutes {
        if r.dst.contains(':') {
            continue;
        }
        let table = match r.table.as_deref() {
            None | Some("main") => RouteTable::Main,
            Some("local") => RouteTable::Local,
            Some(t) => {
                if !other_tables.iter().any(|x| x == t) {
                    other_tables.push(t.to_string());
                }
                continue;
            }
        };
        let rtype = match r.rtype.as_deref() {
            None | Some("unicast") => RouteType::Unicast,
            Some("local") => RouteType::Local,
            Some("broadcast") => RouteType::Broadcast,
            Some(t) => {
                other_types.push(format!("{t} {}", r.dst));
                continue;
            }
        };
        let dst = if r.dst == "default" {
            Ipv4Net::DEFAULT
        } else {
            let (a, p) = r.dst.split_once('/').unwrap_or((&r.dst, "32"));
            let bad = || {
                src.err(
                    "dst",
                    &r.dst,
                    format!("`{}` is not a route destination", r.dst),
                    "`default`, an address, or ADDRESS/PREFIX",
                )
            };
            let ip: Ipv4Addr = a.parse().map_err(|_| bad())?;
            let prefix = p.parse::<u8>().ok().filter(|p| *p <= 32).ok_or_else(bad)?;
            Ipv4Net::new(ip, prefix)
        };
        let (gateway, dev, flags) = match r.nexthops.first() {
            Some(first) if r.dev.is_none() => {
                multipath.push(r.dst.clone());
                (&first.gateway, &first.dev, &first.flags)
            }
            _ => (&r.gateway, &r.dev, &r.flags),
        };
        let Some(dev) = dev else {
            return Err(src.err(
                "dst",
                &r.dst,
                format!("the route to {} names no device", r.dst),
                "every IPv4 route iproute2 prints has `dev`",
            ));
        };
        let dev = find_dev(src, ns, "dev", dev)?;
        let via = gateway
            .as_deref()
            .map(|g| src.ip("gateway", g))
            .transpose()?;
        let prefsrc = r
            .prefsrc
            .as_deref()
            .map(|a| src.ip("prefsrc", a))
            .transpose()?;
        ns.routes.push(Route {
            table,
            rtype,
            dst,
            via,
            dev,
            proto: if r.protocol.as_deref() == Some("kernel") {
                RouteProto::Kernel
            } else {
                RouteProto::Boot
            },
            scope: match r.scope.as_deref() {
                Some("host") => Scope::Host,
                Some("link") => Scope::Link,
                _ => Scope::Universe,
            },
            src: prefsrc,
            onlink: flags.iter().any(|f| f == "onlink"),
        });
    }
    if !other_tables.is_empty() {
        notes.push(format!(
            "routes in table {} are not consulted: kpath looks up the local and main tables, as the default `ip rule` list does (policy rules are not in the dump)",
            other_tables.join(", ")
        ));
    }
    if !other_types.is_empty() {
        notes.push(format!(
            "routes of types kpath does not model are left out: {}",
            other_types.join(", ")
        ));
    }
    if !multipath.is_empty() {
        notes.push(format!(
            "multipath routes take their first path: {}",
            multipath.join(", ")
        ));
    }
    Ok(())
}

/// The IPv4 neighbour table, with each entry's NUD state.
fn neighbours(src: &Src, jneigh: &[JNeigh], ns: &mut Netns) -> Result<(), InputError> {
    for n in jneigh {
        if n.dst.contains(':') {
            continue;
        }
        let ip = src.ip("dst", &n.dst)?;
        let dev = find_dev(src, ns, "dev", &n.dev)?;
        let lladdr = n
            .lladdr
            .as_deref()
            .map(|m| src.mac("lladdr", m))
            .transpose()?;
        let has = |s: &str| n.state.iter().any(|x| x == s);
        let state = if has("PERMANENT") || has("NOARP") {
            NudState::Permanent
        } else if has("REACHABLE") || has("DELAY") || has("PROBE") {
            NudState::Reachable
        } else if has("STALE") {
            NudState::Stale
        } else {
            NudState::Failed
        };
        ns.neigh.push(Neigh {
            ip,
            dev,
            lladdr,
            state,
        });
    }
    Ok(())
}

/// Bridge FDB entries (on a port, `master BRIDGE`) and VXLAN FDB entries (`dst REMOTE`).
fn fdb(
    src: &Src,
    jfdb: &[JFdb],
    ns: &mut Netns,
    notes: &mut Vec<String>,
) -> Result<(), InputError> {
    let mut default_dst = Vec::new();
    for e in jfdb {
        let Some(port) = ns.link_by_name(&e.ifname).map(|l| l.ifindex) else {
            return Err(src.err(
                "ifname",
                &e.ifname,
                format!("no device `{}` in the node's device list", e.ifname),
                "the files of one dump must come from one node at one time: run `kpath collect` again",
            ));
        };
        let mac = src.mac("mac", &e.mac)?;
        if let Some(dst) = &e.dst {
            if dst.contains(':') {
                continue;
            }
            let dst = src.ip("dst", dst)?;
            if let Some(l) = ns.link_mut(port)
                && let LinkKind::Vxlan(vx) = &mut l.kind
            {
                if mac == Mac::ZERO {
                    default_dst.push(format!("{} dst {dst}", l.name));
                }
                if !vx.fdb.iter().any(|f| f.mac == mac) {
                    vx.fdb.push(VxlanFdb { mac, dst });
                }
            }
            continue;
        }
        let Some(master) = &e.master else { continue };
        let br = find_dev(src, ns, "master", master)?;
        let local = e.state.as_deref() == Some("permanent");
        if let Some(l) = ns.link_mut(br)
            && let LinkKind::Bridge(b) = &mut l.kind
            && !b.fdb.iter().any(|f| f.mac == mac)
        {
            b.fdb.push(FdbEntry { mac, port, local });
        }
    }
    if !default_dst.is_empty() {
        notes.push(format!(
            "VXLAN default destinations (00:00:00:00:00:00) are not used for unknown MACs: {}",
            default_dst.join(", ")
        ));
    }
    Ok(())
}
