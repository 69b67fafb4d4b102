//! The cluster's topology as SVG, with a packet's path drawn across it: each node a
//! column (its pods above it, their veths to the node's bridge, the node's devices), the
//! underlay switch below with a port under each node, the gateway and the internet hosts
//! to the right. Cables and veth pairs are lines, bridge ports hang on their bridge, and
//! the path runs device to device in the order the trace took, dashed inside the tunnel.
//! Everything is read from the world (the shared topology model) and the trace.

use crate::net::{LinkKind, NsId, NsKind, World};
use crate::trace::{PacketView, Role, StepKind, Trace};
use std::collections::BTreeMap;
use std::fmt::Write;

const DEV_W: i32 = 104;
const DEV_H: i32 = 22;
const GAP: i32 = 8;
const BOX_PAD: i32 = 10;
const POD_Y: i32 = 50;
const POD_H: i32 = 64;
const NODE_Y: i32 = 170;
const NODE_H: i32 = 64;
const SWITCH_Y: i32 = 300;
const SWITCH_H: i32 = 64;

/// Where a namespace's box is, and its devices' boxes.
struct Placed {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
    /// ifindex -> the device box's top-left corner.
    devs: BTreeMap<u32, (i32, i32)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The devices a namespace's box shows (loopback is in every namespace and on no path
/// across them, so it is left out).
fn shown(w: &World, ns: NsId) -> Vec<(u32, String)> {
    w.ns(ns)
        .links
        .iter()
        .filter(|l| !matches!(l.kind, LinkKind::Loopback))
        .map(|l| (l.ifindex, l.name.clone()))
        .collect()
}

fn width_for(devices: usize) -> i32 {
    (devices.max(1) as i32) * (DEV_W + GAP) - GAP + 2 * BOX_PAD
}

/// Place a namespace's box at (x, y) with its devices in a row along its bottom.
fn place(w: &World, ns: NsId, x: i32, y: i32, min_w: i32, h: i32) -> Placed {
    let devs = shown(w, ns);
    let width = width_for(devs.len()).max(min_w);
    let devs = devs
        .iter()
        .enumerate()
        .map(|(k, (ix, _))| {
            (
                *ix,
                (x + BOX_PAD + k as i32 * (DEV_W + GAP), y + h - DEV_H - 8),
            )
        })
        .collect();
    Placed {
        x,
        y,
        w: width,
        h,
        devs,
    }
}

/// The node namespace a pod's eth0 is wired to (the far end of its veth).
fn node_of(w: &World, pod: NsId) -> Option<NsId> {
    w.ns(pod).links.iter().find_map(|l| match &l.kind {
        LinkKind::Veth { peer } => Some(peer.ns),
        _ => None,
    })
}

/// Draw the world's topology and, over it, the path of each trace (a flow's packets in
/// turn: the client's in one colour, the server's and the kernel's answers in another).
pub fn render(w: &World, title: &str, traces: &[(&Trace, bool)]) -> String {
    let ids: Vec<NsId> = (0..w.netns.len()).map(NsId).collect();
    let nodes: Vec<NsId> = ids
        .iter()
        .copied()
        .filter(|&n| matches!(w.ns(n).kind, NsKind::Node { .. }))
        .collect();
    let mut placed: BTreeMap<usize, Placed> = BTreeMap::new();
    let mut x = 20;
    for &n in &nodes {
        let pods: Vec<NsId> = ids
            .iter()
            .copied()
            .filter(|&p| matches!(w.ns(p).kind, NsKind::Pod { .. }) && node_of(w, p) == Some(n))
            .collect();
        let pod_ws: Vec<i32> = pods
            .iter()
            .map(|&p| width_for(shown(w, p).len()).max(150))
            .collect();
        let pods_w: i32 = pod_ws.iter().sum::<i32>() + GAP * (pods.len() as i32 - 1).max(0);
        let node = place(w, n, x, NODE_Y, pods_w, NODE_H);
        let mut px = x;
        for (&p, pw) in pods.iter().zip(&pod_ws) {
            placed.insert(p.0, place(w, p, px, POD_Y, *pw, POD_H));
            px += pw + GAP;
        }
        x += node.w + 3 * GAP;
        placed.insert(n.0, node);
    }
    // The gateway, then the internet's hosts, right of the nodes.
    for &n in &ids {
        if matches!(w.ns(n).kind, NsKind::Router) {
            let here = place(w, n, x, NODE_Y, 150, NODE_H);
            x += here.w + 3 * GAP;
            placed.insert(n.0, here);
        }
    }
    for &n in &ids {
        if matches!(w.ns(n).kind, NsKind::Host { .. }) {
            let here = place(w, n, x, POD_Y, 150, POD_H);
            x += here.w + GAP;
            placed.insert(n.0, here);
        }
    }
    // The underlay switch spans everything, each port under the device it is cabled to.
    for &s in &ids {
        if !matches!(w.ns(s).kind, NsKind::Switch) {
            continue;
        }
        let mut sw = Placed {
            x: 20,
            y: SWITCH_Y,
            w: (x - 20 - GAP).max(200),
            h: SWITCH_H,
            devs: BTreeMap::new(),
        };
        let under = |l: &crate::net::Link| match &l.kind {
            LinkKind::Ethernet { peer } => placed
                .get(&peer.ns.0)
                .and_then(|p| p.devs.get(&peer.ifindex))
                .map(|&(dx, _)| dx),
            _ => None,
        };
        // Devices cabled to nothing shown (the switch's own bridge) go right of the ports.
        let mut free = w.ns(s).links.iter().filter_map(under).max().unwrap_or(20) + DEV_W + GAP;
        for l in &w.ns(s).links {
            if matches!(l.kind, LinkKind::Loopback) {
                continue;
            }
            let dx = under(l).unwrap_or_else(|| {
                free += DEV_W + GAP;
                free - DEV_W - GAP
            });
            sw.devs
                .insert(l.ifindex, (dx, SWITCH_Y + SWITCH_H - DEV_H - 8));
        }
        sw.w = sw.w.max(free - 20);
        placed.insert(s.0, sw);
    }
    let width = x + 20;
    let height = SWITCH_Y + SWITCH_H + 40;
    let center = |ns: NsId, ix: u32| {
        placed
            .get(&ns.0)
            .and_then(|p| p.devs.get(&ix))
            .map(|&(dx, dy)| (dx + DEV_W / 2, dy + DEV_H / 2))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"##
    );
    out.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>
<style>.ns{fill:#f8f9fa;stroke:#868e96}.node{fill:#e7f5ff;stroke:#1971c2}.pod{fill:#fff9db;stroke:#e67700}.dev{fill:#fff;stroke:#495057}.wire{stroke:#adb5bd;stroke-width:2}.port{stroke:#ced4da;stroke-dasharray:2 2}.hop{fill:none;stroke-width:3;marker-end:url(#arrow)}.out{stroke:#d6336c}.back{stroke:#1c7ed6}.tunnel{stroke-dasharray:8 4}</style>
"##);
    let _ = writeln!(
        out,
        r#"<text x="20" y="24" font-size="15" font-weight="bold">{}</text>"#,
        esc(title)
    );
    for (&id, p) in &placed {
        let ns = w.ns(NsId(id));
        let class = match ns.kind {
            NsKind::Node { .. } => "node",
            NsKind::Pod { .. } => "pod",
            _ => "ns",
        };
        let _ = writeln!(
            out,
            r#"<g class="netns" data-netns="{}"><rect class="{class}" x="{}" y="{}" width="{}" height="{}" rx="6"/><text x="{}" y="{}" font-weight="bold">{}</text>"#,
            esc(&ns.name),
            p.x,
            p.y,
            p.w,
            p.h,
            p.x + BOX_PAD,
            p.y + 16,
            esc(&ns.name)
        );
        for l in &ns.links {
            let Some(&(dx, dy)) = p.devs.get(&l.ifindex) else {
                continue;
            };
            let addr = l.addrs.first().map(|a| a.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                r#"<g class="device" data-device="{}"><title>{} {}</title><rect class="dev" x="{dx}" y="{dy}" width="{DEV_W}" height="{DEV_H}" rx="3"/><text x="{}" y="{}">{}</text></g>"#,
                esc(&l.name),
                esc(&l.name),
                esc(&addr),
                dx + 5,
                dy + 15,
                esc(&l.name)
            );
        }
        out.push_str("</g>\n");
    }
    // Cables and veth pairs (each once), and bridge ports to their bridge.
    for &n in &ids {
        for l in &w.ns(n).links {
            let Some(a) = center(n, l.ifindex) else {
                continue;
            };
            if let LinkKind::Veth { peer } | LinkKind::Ethernet { peer } = &l.kind
                && (n, l.ifindex) < (peer.ns, peer.ifindex)
                && let Some(b) = center(peer.ns, peer.ifindex)
            {
                let _ = writeln!(
                    out,
                    r#"<line class="wire" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
                    a.0, a.1, b.0, b.1
                );
            }
            if let Some(m) = l.master
                && let Some(b) = center(n, m)
            {
                let _ = writeln!(
                    out,
                    r#"<line class="port" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
                    a.0,
                    a.1 - DEV_H / 2,
                    b.0,
                    b.1 - DEV_H / 2
                );
            }
        }
    }
    // The path: device to device in the order the trace took.
    // A device's centre, and where a frame it transmits arrives: the other end of its
    // veth or cable (the switch's port, the pod's eth0).
    let by_name = |ns: &str, dev: &str| {
        let ns = w.ns_by_name(ns)?;
        let link = ns.links.iter().find(|l| l.name == dev)?;
        let far = match &link.kind {
            LinkKind::Veth { peer } | LinkKind::Ethernet { peer } => center(peer.ns, peer.ifindex),
            _ => None,
        };
        Some((center(ns.id, link.ifindex)?, far))
    };
    for (t, back) in traces {
        let mut last: Option<(i32, i32)> = None;
        let points = t
            .steps
            .iter()
            .filter(|s| s.role == Role::Packet)
            .filter_map(|s| {
                let (at, far) = by_name(&s.netns, s.device.as_deref()?)?;
                let sent = matches!(s.kind, StepKind::Link);
                Some(std::iter::once((s, at)).chain(far.filter(|_| sent).map(|f| (s, f))))
            })
            .flatten();
        for (s, at) in points {
            if let Some(from) = last.filter(|&f| f != at) {
                let tunnel = if PacketView::of(&s.packet).outer.is_some() {
                    " tunnel"
                } else {
                    ""
                };
                let dir = if *back { "back" } else { "out" };
                // Along a row of devices the path arcs over them (below them on the way
                // back) instead of hiding their names.
                let bend = if from.1 == at.1 {
                    let lift = if *back { DEV_H * 2 } else { -DEV_H * 2 };
                    format!("Q{},{} ", (from.0 + at.0) / 2, from.1 + lift)
                } else {
                    "L".to_string()
                };
                let _ = writeln!(
                    out,
                    r#"<path class="hop {dir}{tunnel}" d="M{},{} {bend}{},{}"><title>{} {} {}</title></path>"#,
                    from.0,
                    from.1,
                    at.0,
                    at.1,
                    s.index,
                    esc(&s.netns),
                    esc(s.func)
                );
            }
            last = Some(at);
        }
    }
    out.push_str("</svg>\n");
    out
}
