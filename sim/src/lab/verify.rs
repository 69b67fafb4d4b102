//! `kpath verify`: what the kernel did with a packet in the lab against what kpath says it does: the
//! rule-by-rule path per namespace (`nft monitor trace`), the packet's fate, the headers it
//! arrived with and the VXLAN outer headers on the underlay. The binary gathers the
//! evidence (it runs the commands); deciding what agrees happens here.

use super::nft_trace::{self, Event, Probe, Visit};
use crate::net::{LinkKind, World};
use crate::scenario::IpProtocol;
use crate::trace::{DispositionKind, FlowTrace, Role, Trace};
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
    // bridge-nf-call-iptables=0), and an echo request that arrives is delivered even when
    // its reply is lost on the way back (which a packet item does not follow). A drop
    // after the capture point shows in the netfilter rows.
    match proto {
        IpProtocol::Icmp if ok => "delivered".into(),
        _ if arrived => "delivered".into(),
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
    let tcp_flags = outcomes
        .first()
        .and_then(|t| t.sent.as_ref())
        .and_then(|f| match &f.payload {
            crate::wire::L3::Ipv4(ip) => match &ip.payload {
                crate::wire::L4::Tcp(t) => Some(t.flags.0),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or(crate::wire::TcpFlags::SYN);
    Probe {
        src: sent
            .and_then(|v| v.src.parse().ok())
            .unwrap_or(Ipv4Addr::UNSPECIFIED),
        dsts,
        proto: proto.name(),
        tcp_flags,
    }
}

/// What one item's comparison found.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// The kpath outcome compared (the one the kernel's random choice matches).
    pub chosen: usize,
    /// Packets compared: every pass of a packet through a namespace's netfilter, on either
    /// side.
    pub packets: usize,
}

/// Compare one packet: `outcomes` are kpath's possible outcomes of it (most probable
/// first). The kernel's random choice (its DNAT target) picks which outcome is compared.
pub fn compare_paths(
    w: &World,
    outcomes: &[Trace],
    proto: IpProtocol,
    ev: &Evidence,
) -> Comparison {
    compare(w, outcomes, &[], proto, ev)
}

/// Compare a flow: every packet of it, both ways, against everything the kernel's
/// netfilter saw while the lab ran it. `flows` are kpath's outcomes of the flow.
pub fn compare_flow(
    w: &World,
    flows: &[FlowTrace],
    proto: IpProtocol,
    ev: &Evidence,
) -> Comparison {
    let firsts: Vec<Trace> = flows
        .iter()
        .filter_map(|f| f.packets.first().map(|p| p.trace.clone()))
        .collect();
    compare(w, &firsts, flows, proto, ev)
}

fn compare(
    w: &World,
    outcomes: &[Trace],
    flows: &[FlowTrace],
    proto: IpProtocol,
    ev: &Evidence,
) -> Comparison {
    let Some(first) = outcomes.first() else {
        return Comparison::default();
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
    let steps: Vec<&crate::trace::Step> = match flows.get(chosen_idx) {
        Some(f) => f.packets.iter().flat_map(|p| &p.trace.steps).collect(),
        None => chosen.steps.iter().collect(),
    };
    let item = (flows.is_empty()).then(|| probe(outcomes, sent.as_ref(), proto));
    let (nf_rows, packets) = netfilter_rows(w, &steps, item.as_ref(), ev);
    rows.extend(nf_rows);
    let arrived = arrival(outcomes, chosen, sent.as_ref(), proto, ev);
    rows.push(match flows.get(chosen_idx) {
        Some(f) => flow_fate_row(f, ev),
        None => {
            let kf = kernel_fate(proto, ev.sender_ok, &ev.sender_said, arrived.is_some());
            let mf = kpath_fate(chosen);
            Row {
                what: "fate".into(),
                kpath: format!("{mf} at {}", chosen.disposition.netns),
                // A drop for want of an ARP answer is, to the sender, a plain drop.
                ok: kf == mf || (kf == "dropped" && mf == "neighbour-unreachable"),
                kernel: kf,
            }
        }
    });
    if chosen.disposition.kind == DispositionKind::Delivered {
        rows.push(arrival_row(chosen, arrived));
    }
    rows.extend(vxlan_row(chosen, ev));
    Comparison {
        rows,
        chosen: chosen_idx,
        packets,
    }
}

/// A flow's fate: whether the exchange completed, on both sides. (How it failed is in the
/// packets compared before: the kernel's sender sees a timeout where kpath names the RST
/// that caused it.)
fn flow_fate_row(f: &FlowTrace, ev: &Evidence) -> Row {
    let kernel = if ev.sender_ok {
        "completed".to_string()
    } else {
        format!("not completed ({})", ev.sender_said.trim())
    };
    let kpath = if f.completed {
        "completed".to_string()
    } else {
        let last = f.packets.iter().rev().find(|p| p.side != "kernel");
        match last {
            Some(p) => format!(
                "not completed ({}: {} at {})",
                p.label,
                kpath_fate(&p.trace),
                p.trace.disposition.netns
            ),
            None => "not completed".into(),
        }
    };
    Row {
        what: "flow".into(),
        ok: ev.sender_ok == f.completed,
        kernel,
        kpath,
    }
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

/// The rule-by-rule paths in every traced namespace, packet by packet: kpath's passes and
/// the kernel's are paired in order by what the packets are ([`nft_trace::Sig`]: never by
/// addresses or ports, which NAT may pick differently), and each pair is compared event by
/// event. A pass only one side has is a difference, shown event by event; so is any
/// packet the kernel walked that kpath did not, except the pure ACKs TCP sends on its own
/// timing, which the flow model leaves out (shown, not counted). `item` narrows the
/// kernel's passes to one packet (and what carried it) for a packet item; a flow compares
/// everything the kernel walked. Returns the rows and how many passes there were.
fn netfilter_rows(
    w: &World,
    steps: &[&crate::trace::Step],
    item: Option<&Probe>,
    ev: &Evidence,
) -> (Vec<Row>, usize) {
    let traced = traced_namespaces(w);
    let tunnels: Vec<&str> = vxlan_links(w).map(|(name, _)| name).collect();
    let ports: Vec<u16> = vxlan_links(w).map(|(_, p)| p).collect();
    let probed = item.and_then(|p| nft_trace::probed_identity(&ev.nft, p));
    let tcp = steps
        .iter()
        .any(|s| matches!(nft_trace::frame_sig(&s.packet), Some(g) if g.proto == "tcp"));
    let mut rows = Vec::new();
    let mut packets = 0;
    for ns in &traced {
        let events = ev
            .nft
            .iter()
            .find(|(n, _)| n == ns)
            .map(|(_, e)| e.as_slice())
            .unwrap_or_default();
        let nft = w.ns_by_name(ns).map(|n| n.netfilter.nft.clone());
        let all = nft_trace::kernel_visits(
            events,
            &ports,
            nft.as_deref().unwrap_or(&Default::default()),
        );
        let kernel: Vec<Visit> = match (item, &probed) {
            (Some(_), Some(id)) => nft_trace::item_visits(&all, id, &tunnels),
            (Some(_), None) => Vec::new(),
            (None, _) => all,
        }
        .into_iter()
        .filter(|v| !v.events.is_empty())
        .collect();
        let kpath = nft_trace::kpath_visits(steps.iter().copied(), ns);
        // The ICMP errors kpath records in this namespace (as response steps, not walked).
        let answered: Vec<String> = steps
            .iter()
            .filter(|s| s.role == crate::trace::Role::Response && s.netns == *ns)
            .filter_map(|s| nft_trace::frame_sig(&s.packet))
            .filter(|g| g.proto == "icmp")
            .map(|g| g.detail)
            .collect();
        let pairs = align(&kernel, &kpath);
        let paired: Vec<&nft_trace::Sig> = pairs
            .iter()
            .filter_map(|(k, m)| k.and(*m).map(|j| &kpath[j].sig))
            .collect();
        for pair in &pairs {
            packets += 1;
            let (k, m) = (pair.0.map(|i| &kernel[i]), pair.1.map(|i| &kpath[i]));
            let sig = k.or(m).map(|v| v.sig.to_string()).unwrap_or_default();
            // What the kernel sends on its own timing, which the flow model leaves out:
            // pure ACKs, a packet sent again (a SYN retried after a drop, its ICMP error
            // again), and the bare RST a segment sent again after close gets - shown, not
            // counted.
            let unmodelled = match (k, m, item) {
                (Some(v), None, None) if is_pure_ack(&v.sig, tcp) => {
                    Some("- (a pure ACK: not in the flow model)")
                }
                (Some(v), None, None) if paired.contains(&&v.sig) => {
                    Some("- (sent again: retries are not in the flow model)")
                }
                // A bare RST (no ACK) is tcp_v4_send_reset's answer to a segment for no
                // socket: a segment sent again after the other side closed, on TCP's own
                // timing. Every RST of the flow model (refused, unexpected) is compared.
                (Some(v), None, None)
                    if v.sig.proto == "tcp" && v.sig.detail == "R" && !v.sig.outer =>
                {
                    Some("- (a RST to a segment sent again: TCP's timing, not in the flow model)")
                }
                (Some(v), None, None) if v.sig.local && answered.contains(&v.sig.detail) => {
                    Some("- (kpath records this ICMP error, but does not walk it)")
                }
                _ => None,
            };
            let (ke, me) = (
                k.map_or(&[][..], |v| &v.events[..]),
                m.map_or(&[][..], |v| &v.events[..]),
            );
            for i in 0..ke.len().max(me.len()) {
                let (a, b) = (ke.get(i), me.get(i));
                rows.push(Row {
                    what: format!("{ns} {sig} #{}", i + 1),
                    kernel: fmt_event(a),
                    kpath: match unmodelled {
                        Some(why) => why.to_string(),
                        None => fmt_event(b),
                    },
                    ok: a == b || unmodelled.is_some(),
                });
            }
        }
    }
    (rows, packets)
}

fn fmt_event(e: Option<&nft_trace::PathEvent>) -> String {
    e.map(|(t, c, v)| format!("{t} {c}: {v}"))
        .unwrap_or_else(|| "-".into())
}

/// A TCP segment with ACK alone and no payload (20 bytes of IP, 20 of TCP, 12 of
/// timestamps at most), or a VXLAN packet small enough to carry only that (50 bytes of
/// encapsulation more): the ACKs TCP sends on its own timing.
fn is_pure_ack(s: &nft_trace::Sig, tcp: bool) -> bool {
    (s.proto == "tcp" && s.detail == "." && s.len <= 52 && !s.outer)
        || (tcp && s.outer && s.len <= 52 + 50)
}

/// The VXLAN devices of the world: name and UDP port.
fn vxlan_links(w: &World) -> impl Iterator<Item = (&str, u16)> {
    w.netns
        .iter()
        .flat_map(|n| &n.links)
        .filter_map(|l| match &l.kind {
            LinkKind::Vxlan(v) => Some((l.name.as_str(), v.dstport)),
            _ => None,
        })
}

/// Pair the kernel's passes with kpath's by signature: the first of a kind with the
/// first, the second with the second. Not by order across kinds: the kernel handles a
/// burst of VXLAN packets before the packets inside them (`vxlan_rcv` hands each inner
/// frame to a NAPI poll that runs later), where kpath follows each packet through.
/// (kernel index, kpath index) in kpath's order, then the kernel's passes kpath lacks.
fn align(k: &[Visit], m: &[Visit]) -> Vec<(Option<usize>, Option<usize>)> {
    let mut used = vec![false; k.len()];
    let mut out = Vec::new();
    for (j, v) in m.iter().enumerate() {
        let i = (0..k.len()).find(|&i| !used[i] && k[i].sig == v.sig);
        if let Some(i) = i {
            used[i] = true;
        }
        out.push((i, Some(j)));
    }
    out.extend((0..k.len()).filter(|&i| !used[i]).map(|i| (Some(i), None)));
    out
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
