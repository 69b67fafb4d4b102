//! `kpath verify`: what the kernel did with a packet in the lab against what kpath says it does: the
//! rule-by-rule path per namespace (`nft monitor trace`), the packet's fate, the headers it
//! arrived with and the VXLAN outer headers on the underlay. The binary gathers the
//! evidence (it runs the commands); deciding what agrees happens here.

use super::nft_trace::{self, Event, Probe};
use crate::net::{LinkKind, World};
use crate::scenario::IpProtocol;
use crate::trace::{DispositionKind, Role, Trace};
use crate::trace::{OuterView, PacketView};
use crate::wire::Frame;
use std::net::Ipv4Addr;

/// What the lab saw while one packet crossed it.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// `nft monitor trace` events per traced namespace, in the world's order.
    pub nft: Vec<(String, Vec<Event>)>,
    /// Whether the sending command (ping, nc, a UDP write) succeeded, and what it printed.
    pub sender_ok: bool,
    pub sender_said: String,
    /// Frames captured arriving (`tcpdump -Q in`) at each place an outcome could end:
    /// (namespace, device) as [`destinations`] lists them.
    pub arrivals: Vec<((String, String), Vec<Frame>)>,
    /// VXLAN frames seen on the underlay bridge.
    pub underlay: Vec<Frame>,
}

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub what: String,
    pub kernel: String,
    pub kpath: String,
    pub ok: bool,
}

/// The namespaces whose netfilter is traced: every one with tables.
pub fn traced_namespaces(w: &World) -> Vec<String> {
    w.netns
        .iter()
        .filter(|n| !n.netfilter.tables.is_empty())
        .map(|n| n.name.clone())
        .collect()
}

/// Where the packet's outcomes could arrive: (namespace, device) of every outcome that
/// reaches a socket or a closed port, without repeats.
pub fn destinations(outcomes: &[Trace]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for o in outcomes.iter().filter(|o| {
        matches!(
            o.disposition.kind,
            DispositionKind::Delivered | DispositionKind::NoListener
        )
    }) {
        if let Some(d) = last_device(o)
            && !out.contains(&d)
        {
            out.push(d);
        }
    }
    out
}

fn last_device(t: &Trace) -> Option<(String, String)> {
    let s = t
        .steps
        .iter()
        .rev()
        .find(|s| s.role == Role::Packet && s.device.is_some())?;
    Some((t.disposition.netns.clone(), s.device.clone()?))
}

/// How a kpath outcome ended, in the words both sides can report.
fn kpath_fate(t: &Trace) -> String {
    match t.disposition.kind {
        DispositionKind::Delivered => "delivered".into(),
        DispositionKind::NoListener | DispositionKind::Rejected => "refused".into(),
        k => k.key(),
    }
}

/// How the kernel's packet ended, from what the sender printed and what the captures saw.
fn kernel_fate(proto: IpProtocol, ok: bool, said: &str, arrived: bool) -> String {
    let t = said.to_lowercase();
    let by_text = [
        ("frag needed", "fragmentation-needed"),
        ("message too long", "message-too-long"),
        ("time to live exceeded", "ttl-exceeded"),
        ("host unreachable", "neighbour-unreachable"),
        ("no route to host", "neighbour-unreachable"),
        ("network is unreachable", "no-route"),
        ("refused", "refused"),
        ("port unreachable", "refused"),
    ];
    if let Some((_, fate)) = by_text.iter().find(|(needle, _)| t.contains(needle)) {
        return fate.to_string();
    }
    // The packet's fate, not the exchange's: a SYN that arrives is delivered even when the
    // handshake then fails (a reply that misses conntrack, as with
    // bridge-nf-call-iptables=0). Ping can only tell from the reply.
    match proto {
        IpProtocol::Icmp if ok => "delivered".into(),
        IpProtocol::Tcp | IpProtocol::Udp if arrived => "delivered".into(),
        IpProtocol::Tcp if ok => "delivered elsewhere".into(),
        _ => "dropped".into(),
    }
}

/// The kernel's DNAT choice, if it made one (`dnat to 10.244.1.3:80`).
fn dnat_choice(nft: &[(String, Vec<Event>)]) -> Option<String> {
    nft.iter().flat_map(|(_, e)| e).find_map(|e| match &e.kind {
        nft_trace::EventKind::Rule { text, .. } => text
            .split("dnat to ")
            .nth(1)
            .map(|r| r.split_whitespace().next().unwrap_or("").to_string()),
        _ => None,
    })
}

fn probe(outcomes: &[Trace], sent: Option<&PacketView>, proto: IpProtocol) -> Probe {
    let mut dsts: Vec<Ipv4Addr> = outcomes
        .iter()
        .filter_map(|o| o.arrival())
        .filter_map(|s| PacketView::of(&s.packet).dst.parse().ok())
        .collect();
    dsts.extend(sent.and_then(|v| v.dst.parse::<Ipv4Addr>().ok()));
    Probe {
        src: sent
            .and_then(|v| v.src.parse().ok())
            .unwrap_or(Ipv4Addr::UNSPECIFIED),
        dsts,
        proto: proto.name(),
    }
}

/// Compare one packet: `outcomes` are kpath's possible outcomes of it (most probable
/// first). The kernel's random choice (its DNAT target) picks which outcome is compared.
/// Returns the rows and the index of the outcome compared.
pub fn compare_paths(
    w: &World,
    outcomes: &[Trace],
    proto: IpProtocol,
    ev: &Evidence,
) -> (Vec<Row>, usize) {
    let Some(first) = outcomes.first() else {
        return (Vec::new(), 0);
    };
    let sent = first.sent.as_ref().map(PacketView::of);
    let choice = dnat_choice(&ev.nft);
    let chosen_idx = outcomes
        .iter()
        .position(|o| {
            choice.as_ref().is_some_and(|c| {
                o.steps
                    .iter()
                    .any(|s| s.nf.as_ref().and_then(|n| n.action.dnat_to()) == Some(c.as_str()))
            })
        })
        .unwrap_or(0);
    let chosen = &outcomes[chosen_idx];
    let mut rows = Vec::new();
    rows.extend(choice_row(outcomes, choice.as_deref()));
    rows.extend(netfilter_rows(
        w,
        outcomes,
        chosen,
        sent.as_ref(),
        proto,
        ev,
    ));
    let arrived = arrival(outcomes, chosen, sent.as_ref(), proto, ev);
    let kf = kernel_fate(proto, ev.sender_ok, &ev.sender_said, arrived.is_some());
    let mf = kpath_fate(chosen);
    rows.push(Row {
        what: "fate".into(),
        kpath: format!("{mf} at {}", chosen.disposition.netns),
        // A drop for want of an ARP answer is, to the sender, a plain drop.
        ok: kf == mf || (kf == "dropped" && mf == "neighbour-unreachable"),
        kernel: kf,
    });
    if chosen.disposition.kind == DispositionKind::Delivered {
        rows.push(arrival_row(chosen, arrived));
    }
    rows.extend(vxlan_row(chosen, ev));
    (rows, chosen_idx)
}

/// Where a draw decides (kube-proxy's `statistic` endpoint pick), the kernel's draw must be
/// one of kpath's outcomes: the sets are compared, not the draws.
fn choice_row(outcomes: &[Trace], kernel: Option<&str>) -> Option<Row> {
    let mut possible: Vec<String> = Vec::new();
    for o in outcomes {
        for s in &o.steps {
            if let Some(to) = s.nf.as_ref().and_then(|n| n.action.dnat_to())
                && !possible.iter().any(|p| p == to)
            {
                possible.push(to.to_string());
            }
        }
    }
    if possible.len() < 2 {
        return None;
    }
    let kernel = kernel.unwrap_or("none");
    Some(Row {
        what: "endpoint choice".into(),
        ok: possible.iter().any(|p| p == kernel),
        kernel: format!("dnat to {kernel}"),
        kpath: format!("one of {}", possible.join(", ")),
    })
}

/// The rule-by-rule path in every traced namespace, row by row.
fn netfilter_rows(
    w: &World,
    outcomes: &[Trace],
    chosen: &Trace,
    sent: Option<&PacketView>,
    proto: IpProtocol,
    ev: &Evidence,
) -> Vec<Row> {
    let traced = traced_namespaces(w);
    let tunnels: Vec<&str> = w
        .netns
        .iter()
        .flat_map(|n| &n.links)
        .filter(|l| matches!(l.kind, LinkKind::Vxlan(_)))
        .map(|l| l.name.as_str())
        .collect();
    let kernel = nft_trace::kernel_paths(&ev.nft, &probe(outcomes, sent, proto), &tunnels);
    let kpath = nft_trace::kpath_paths(&chosen.steps, &traced);
    let path_of = |paths: &[(String, Vec<nft_trace::PathEvent>)], ns: &str| {
        paths
            .iter()
            .find(|(n, _)| n == ns)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    };
    let fmt = |e: Option<&nft_trace::PathEvent>| {
        e.map(|(t, c, v)| format!("{t} {c}: {v}"))
            .unwrap_or_else(|| "-".into())
    };
    let mut rows = Vec::new();
    for ns in &traced {
        let (k, m) = (path_of(&kernel, ns), path_of(&kpath, ns));
        for i in 0..k.len().max(m.len()) {
            let (a, b) = (k.get(i), m.get(i));
            rows.push(Row {
                what: format!("{ns} netfilter #{}", i + 1),
                kernel: fmt(a),
                kpath: fmt(b),
                ok: a == b,
            });
        }
    }
    rows
}

/// The packet as the kernel delivered it: looked for where kpath's chosen outcome arrives
/// or, when kpath says it does not arrive, wherever any outcome could.
fn arrival(
    outcomes: &[Trace],
    chosen: &Trace,
    sent: Option<&PacketView>,
    proto: IpProtocol,
    ev: &Evidence,
) -> Option<PacketView> {
    let target = last_device(chosen);
    let looked: Vec<&Vec<Frame>> =
        match ev.arrivals.iter().find(|(d, _)| Some(d) == target.as_ref()) {
            Some((_, f)) => vec![f],
            None => ev.arrivals.iter().map(|(_, f)| f).collect(),
        };
    let sources: Vec<String> = sent
        .iter()
        .map(|v| v.src.clone())
        .chain(
            outcomes
                .iter()
                .filter_map(|o| o.arrival().map(|s| PacketView::of(&s.packet).src)),
        )
        .collect();
    looked
        .into_iter()
        .flatten()
        .map(PacketView::of)
        .find(|v| sources.contains(&v.src) && v.proto == proto.name())
}

fn arrival_row(chosen: &Trace, arrived: Option<PacketView>) -> Row {
    let m = chosen
        .steps
        .iter()
        .rev()
        .find(|s| s.role == Role::Packet)
        .map(|s| PacketView::of(&s.packet));
    let fmt = |v: &Option<PacketView>| {
        v.as_ref()
            .map(|v| {
                let port = v.dport.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{} -> {}{port}, ttl {}", v.src, v.dst, v.ttl.unwrap_or(0))
            })
            .unwrap_or_else(|| "not captured".into())
    };
    let ok = match (&arrived, &m) {
        (Some(a), Some(b)) => (&a.src, &a.dst, a.dport, a.ttl) == (&b.src, &b.dst, b.dport, b.ttl),
        _ => false,
    };
    Row {
        what: format!("arrival at {}", chosen.disposition.netns),
        kernel: fmt(&arrived),
        kpath: fmt(&m),
        ok,
    }
}

/// The VXLAN outer headers' deterministic fields. The kernel's frame is the one on the
/// underlay carrying the same inner addresses (so a wrong NAT inside shows as "none"); not
/// the inner source port, which the kernel's socket picks for itself.
fn vxlan_row(chosen: &Trace, ev: &Evidence) -> Option<Row> {
    let m_view = chosen
        .steps
        .iter()
        .filter(|s| s.role == Role::Packet)
        .map(|s| PacketView::of(&s.packet))
        .find(|v| v.outer.is_some());
    let same_inner = |v: &PacketView| {
        m_view.as_ref().is_some_and(|m| {
            (&m.src, &m.dst, m.proto) == (&v.src, &v.dst, v.proto)
                && (m.proto == "icmp" || m.dport == v.dport)
        })
    };
    let k_outer = ev
        .underlay
        .iter()
        .map(PacketView::of)
        .find(|v| v.outer.is_some() && same_inner(v))
        .and_then(|v| v.outer);
    let m_outer = m_view.and_then(|v| v.outer);
    if k_outer.is_none() && m_outer.is_none() {
        return None;
    }
    let fmt = |o: &Option<OuterView>| {
        o.as_ref()
            .map(|o| {
                format!(
                    "{} -> {}:{} vni {} ttl {} len {}",
                    o.src, o.dst, o.udp_dport, o.vni, o.ttl, o.len
                )
            })
            .unwrap_or_else(|| "none".into())
    };
    let key = |o: &OuterView| {
        (
            o.src.clone(),
            o.dst.clone(),
            o.udp_dport,
            o.vni,
            o.ttl,
            o.len,
        )
    };
    let ok = match (&k_outer, &m_outer) {
        (Some(a), Some(b)) => key(a) == key(b),
        _ => false,
    };
    Some(Row {
        what: "VXLAN outer".into(),
        kernel: fmt(&k_outer),
        kpath: fmt(&m_outer),
        ok,
    })
}
