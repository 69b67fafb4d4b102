//! Flows: a TCP connection (SYN, SYN-ACK, ACK, request, response, FIN, FIN, ACK) or a UDP or
//! ICMP exchange, every packet walked through the same world, so conntrack, neighbour and
//! FDB state carry from one packet to the next and replies come back through the reverse
//! NAT. Each side answers what it actually received: the server replies to the address the
//! packet came from (after any masquerade), from the address it was sent to (after DNAT);
//! the client's socket takes a reply only if it comes from where it connected to, as the
//! kernel's socket lookup demands. A packet that is refused ends the flow, after the RST or
//! ICMP error it caused has been walked back.

use super::choices::Choices;
use super::send::{L4Spec, SendReq};
use super::{Outcome, STEP_CAP, Walk, enumerate, packet_seed};
use crate::net::{NsId, Pmtudisc, Socket, World};
use crate::resolve::{ResolvedFlow, Transport};
use crate::trace::{DispositionKind, FlowPacket, FlowTrace, Role, Trace};
use crate::wire::IpProtocol;
use crate::wire::{Frame, Icmp, IcmpMessage, Ipv4, Ipv4Addr, L4, TcpFlags};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Client,
    Server,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Syn,
    SynAck,
    Ack,
    /// The client's request, all of it: sent as segments once the handshake has told the
    /// client the server's MSS.
    RequestData,
    Request(Segment),
    ResponseData,
    Response(Segment),
    FinClient,
    FinServer,
    LastAck,
    UdpRequest,
    UdpResponse,
    EchoRequest,
    EchoReply,
}

/// One TCP segment of a request or response: where its bytes start in the data, and how
/// many.
#[derive(Clone, Copy, Debug)]
struct Segment {
    off: u16,
    len: u16,
    /// The last segment of the write carries PSH (`tcp_mark_push`).
    last: bool,
}

impl Segment {
    /// ACK, and PSH on the last segment of the write.
    fn flags(&self) -> TcpFlags {
        TcpFlags(if self.last {
            TcpFlags::PSH | TcpFlags::ACK
        } else {
            TcpFlags::ACK
        })
    }
}

/// TCP timestamps (RFC 7323) take 12 bytes of every segment after the SYNs: NOP, NOP,
/// kind 8 length 10 (`tcp_established_options`).
const TS_OPTION_LEN: u16 = 12;

fn plan(f: &ResolvedFlow) -> Vec<(Side, &'static str, Kind)> {
    use Kind::*;
    use Side::*;
    match f.protocol {
        Transport::Tcp => {
            let mut p = vec![
                (Client, "SYN", Syn),
                (Server, "SYN-ACK", SynAck),
                (Client, "ACK", Ack),
            ];
            if f.request > 0 {
                p.push((Client, "request", RequestData));
            }
            if f.response > 0 {
                p.push((Server, "response", ResponseData));
            }
            if f.close {
                p.extend([
                    (Client, "FIN (client)", FinClient),
                    (Server, "FIN (server)", FinServer),
                    (Client, "last ACK", LastAck),
                ]);
            }
            p
        }
        Transport::Udp => vec![
            (Client, "request", UdpRequest),
            (Server, "response", UdpResponse),
        ],
        Transport::Icmp => vec![
            (Client, "echo request", EchoRequest),
            (Server, "echo reply", EchoReply),
        ],
    }
}

/// Both ends as each sees them.
struct Ends {
    client_ns: NsId,
    /// The client's address and port (port = echo id for ICMP), once sent.
    client: Option<(Ipv4Addr, u16)>,
    /// Where the client sends to (as addressed: a ClusterIP, say).
    target: (Ipv4Addr, u16),
    server_ns: Option<NsId>,
    /// The server's view: its own address and port, and its peer's.
    server_local: Option<(Ipv4Addr, u16)>,
    server_peer: Option<(Ipv4Addr, u16)>,
    c_isn: u32,
    s_isn: u32,
    tsval: u32,
    /// Each side's own MSS (from its route's MTU, as its SYN or SYN-ACK announced it) and
    /// the one it heard from the other side.
    client_mss: Option<u16>,
    server_mss: Option<u16>,
    client_heard_mss: Option<u16>,
    server_heard_mss: Option<u16>,
}

impl Ends {
    /// The payload a side puts in a segment (`tcp_current_mss`): the smaller of its own
    /// MSS and the peer's, less the timestamp option.
    fn mss_now(&self, side: Side) -> Option<u16> {
        let (own, heard) = match side {
            Side::Client => (self.client_mss?, self.client_heard_mss?),
            Side::Server => (self.server_mss?, self.server_heard_mss?),
        };
        Some(own.min(heard).saturating_sub(TS_OPTION_LEN).max(1))
    }
}

use crate::netfilter::tcpmss::mss as mss_option;

/// Cut `total` bytes into segments of at most `mss` bytes.
fn segments(total: u16, mss: u16) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut off = 0u16;
    while off < total {
        let len = mss.min(total - off);
        out.push(Segment {
            off,
            len,
            last: off + len == total,
        });
        off += len;
    }
    out
}

/// Walk flow `f` once, random choices drawn or forced by `choices`.
fn flow_once(world: &World, f: &ResolvedFlow, choices: Choices) -> (FlowTrace, Choices) {
    let name = f.name.as_str();
    let mut w = world.clone();
    w.rng = ChaCha8Rng::seed_from_u64(packet_seed(world.seed, &format!("flow/{name}")));
    let mut choices = choices;
    let mut packets: Vec<FlowPacket> = Vec::new();
    let trace_of = |label: &str, steps, sent, disposition| Trace {
        scenario: f.scenario.clone(),
        packet: format!("{name}: {label}"),
        seed: world.seed,
        sent,
        steps,
        disposition,
    };
    let flow_trace = |packets, completed, summary| FlowTrace {
        scenario: f.scenario.clone(),
        flow: name.to_string(),
        seed: world.seed,
        packets,
        completed,
        summary,
    };

    // The first packet: the resolver's lookup (maybe through DNS), then the send.
    let client_ns = f.from.ns;
    let mut walk = Walk::new(&mut w, std::mem::take(&mut choices), STEP_CAP);
    let target = match walk.lookup(&f.from, &f.to) {
        Ok((ip, port)) => (ip, port.unwrap_or(0)),
        Err(d) => {
            let steps = std::mem::take(&mut walk.steps);
            choices = std::mem::take(&mut walk.choices);
            let summary = d.reason.clone();
            packets.push(FlowPacket {
                label: "name lookup".into(),
                side: "client",
                trace: trace_of("name lookup", steps, None, d),
            });
            return (flow_trace(packets, false, summary), choices);
        }
    };
    let lookup_steps = std::mem::take(&mut walk.steps);
    choices = std::mem::take(&mut walk.choices);
    let (lo, hi) = w.ns(client_ns).sysctl.local_port_range;
    let mut completed = true;
    let mut summary = String::new();
    let first_plan: Vec<(Side, String, Kind)> = plan(f)
        .into_iter()
        .map(|(side, label, kind)| (side, label.to_string(), kind))
        .collect();
    let conns = f.connections.max(1);
    'conns: for conn in 0..conns {
        let sport = match f.from.port {
            Some(p) if conn == 0 => p,
            _ => w.range_u16(lo, hi),
        };
        let mut ends = Ends {
            client_ns,
            client: None,
            target,
            server_ns: None,
            server_local: None,
            server_peer: None,
            c_isn: w.next_u32(),
            s_isn: w.next_u32(),
            tsval: w.next_u32(),
            client_mss: None,
            server_mss: None,
            client_heard_mss: None,
            server_heard_mss: None,
        };
        let mut steps_plan = first_plan.clone();
        let mut i = 0;
        while i < steps_plan.len() {
            let (side, label, kind) = steps_plan[i].clone();
            // A request or response goes out in segments of the sender's current MSS.
            if let Kind::RequestData | Kind::ResponseData = kind {
                let (total, seg_kind): (u16, fn(Segment) -> Kind) = match kind {
                    Kind::RequestData => (f.request, Kind::Request),
                    _ => (f.response, Kind::Response),
                };
                let Some(mss) = ends.mss_now(side) else { break };
                let segs = segments(total, mss);
                let n = segs.len();
                let expanded: Vec<(Side, String, Kind)> = segs
                    .into_iter()
                    .enumerate()
                    .map(|(k, seg)| {
                        let l = if n == 1 {
                            label.clone()
                        } else {
                            format!("{label} {}/{n}", k + 1)
                        };
                        (side, l, seg_kind(seg))
                    })
                    .collect();
                steps_plan.splice(i..=i, expanded);
                continue;
            }
            let side = &side;
            let kind = &kind;
            let label = label.as_str();
            let first = i == 0;
            i += 1;
            let label = if conns > 1 {
                format!("connection {}: {label}", conn + 1)
            } else {
                label.to_string()
            };
            let label = label.as_str();
            let req = match side {
                Side::Client => client_packet(&ends, f, *kind, sport, &w),
                Side::Server => match server_packet(&ends, f, *kind, &w) {
                    Some(r) => r,
                    None => break,
                },
            };
            let mut walk = Walk::new(&mut w, std::mem::take(&mut choices), STEP_CAP);
            if first && conn == 0 {
                walk.steps = lookup_steps.clone();
            }
            let (frame, next) = walk.emit(req);
            let d = walk.finish(next);
            let steps = std::mem::take(&mut walk.steps);
            choices = std::mem::take(&mut walk.choices);
            let sent_ip = ipv4(&frame).cloned();
            if first && let Some(ip) = &sent_ip {
                ends.client = Some((ip.src, ports(ip).0));
                register(&mut w, client_ns, ip, f);
            }
            // What each side's SYN announced, and what the client heard in the SYN-ACK.
            match kind {
                Kind::Syn => ends.client_mss = sent_ip.as_ref().and_then(mss_option),
                Kind::SynAck => ends.server_mss = sent_ip.as_ref().and_then(mss_option),
                _ => {}
            }
            let response = steps
                .iter()
                .rev()
                .find(|s| s.role == Role::Response)
                .map(|s| (s.netns.clone(), s.packet.clone()));
            let delivered = d.kind == DispositionKind::Delivered;
            // The traced packet's last step (an answer the kernel sent comes after it).
            let arrived = steps
                .iter()
                .rev()
                .find(|s| s.role == Role::Packet)
                .map(|s| s.packet.clone());
            let delivered_ns = w.ns_by_name(&d.netns).map(|n| n.id);
            if matches!(kind, Kind::SynAck) && delivered {
                ends.client_heard_mss = arrived.as_ref().and_then(ipv4).and_then(mss_option);
            }
            summary = d.reason.clone();
            packets.push(FlowPacket {
                label: label.to_string(),
                side: if *side == Side::Client {
                    "client"
                } else {
                    "server"
                },
                trace: trace_of(label, steps, Some(frame), d),
            });
            if !delivered {
                completed = false;
                // Walk back what the refusal sent (a RST, an ICMP error), then stop.
                if let Some((ns_name, pkt)) = response
                    && let (Some(ns), Some(ip)) =
                        (w.ns_by_name(&ns_name).map(|n| n.id), ipv4(&pkt).cloned())
                {
                    let (label, func) = match &ip.payload {
                        L4::Tcp(_) => ("RST", "tcp_v4_send_reset"),
                        _ => ("ICMP error", "icmp_send"),
                    };
                    let what = format!(
                        "the kernel of {ns_name} sends the {label} back to {}",
                        ip.dst
                    );
                    let req = SendReq::ready(ns, ip, func, what);
                    let mut walk = Walk::new(&mut w, std::mem::take(&mut choices), STEP_CAP);
                    let (frame, next) = walk.emit(req);
                    let d2 = walk.finish(next);
                    let steps = std::mem::take(&mut walk.steps);
                    choices = std::mem::take(&mut walk.choices);
                    packets.push(FlowPacket {
                        label: label.into(),
                        side: "kernel",
                        trace: trace_of(label, steps, Some(frame), d2),
                    });
                }
                break 'conns;
            }
            // The server side learns its view of the flow from what it received.
            if *side == Side::Client
                && ends.server_ns.is_none()
                && let (Some(ns), Some(ip)) = (delivered_ns, arrived.as_ref().and_then(ipv4))
            {
                ends.server_ns = Some(ns);
                ends.server_local = Some((ip.dst, ports(ip).1));
                ends.server_peer = Some((ip.src, ports(ip).0));
                ends.server_heard_mss = mss_option(ip);
                if f.protocol == Transport::Tcp {
                    accept(&mut w, ns, ip);
                }
            }
        }
    }
    // Who served the client, connection after connection (IPVS round robin moves on).
    let mut servers: Vec<&str> = Vec::new();
    for p in packets.iter().filter(|p| p.side == "client") {
        let ns = p.trace.disposition.netns.as_str();
        if servers.last() != Some(&ns) {
            servers.push(ns);
        }
    }
    let served = if servers.is_empty() {
        String::new()
    } else {
        format!(" (served by {})", servers.join(", then "))
    };
    if completed {
        summary = match f.protocol {
            Transport::Tcp => format!(
                "every packet reached its socket: the connection {}",
                if f.close {
                    "opened, exchanged its data and closed"
                } else {
                    "opened and exchanged its data"
                }
            ),
            Transport::Udp => "the request and its response both reached their sockets".to_string(),
            Transport::Icmp => "the echo reply reached the ping socket".to_string(),
        } + &served;
    }
    (flow_trace(packets, completed, summary), choices)
}

/// Walk a resolved flow once, with random choices drawn from the seed.
pub fn walk_flow(world: &World, f: &ResolvedFlow) -> FlowTrace {
    flow_once(world, f, Choices::default()).0
}

/// Every possible outcome of a resolved flow, most probable first.
pub fn flow_outcomes(world: &World, f: &ResolvedFlow) -> Vec<Outcome<FlowTrace>> {
    enumerate(
        |c| flow_once(world, f, c),
        |f| f.packets.iter().map(|p| p.trace.steps.len()).sum(),
    )
}

fn ipv4(f: &Frame) -> Option<&Ipv4> {
    match &f.payload {
        crate::wire::L3::Ipv4(ip) => Some(ip),
        crate::wire::L3::Arp(_) => None,
    }
}

/// (source port, destination port); for ICMP echo the id twice.
fn ports(ip: &Ipv4) -> (u16, u16) {
    match &ip.payload {
        L4::Tcp(t) => (t.sport, t.dport),
        L4::Udp(u) => (u.sport, u.dport),
        L4::Icmp(i) => match i.msg {
            IcmpMessage::EchoRequest { ident, .. } | IcmpMessage::EchoReply { ident, .. } => {
                (ident, ident)
            }
            _ => (0, 0),
        },
        L4::Fragment(_) => ip.l4_ports().unwrap_or_default(),
    }
}

/// The client's socket after connect() (TCP, UDP) or the ping socket (ICMP).
fn register(w: &mut World, ns: NsId, ip: &Ipv4, f: &ResolvedFlow) {
    let (sport, dport) = ports(ip);
    let owner = f.from.owner.clone();
    let sock = match f.protocol {
        Transport::Icmp => Socket {
            proto: IpProtocol::Icmp,
            addr: Ipv4Addr::UNSPECIFIED,
            port: sport,
            peer: None,
            owner,
        },
        t => Socket {
            proto: t.ip_protocol(),
            addr: ip.src,
            port: sport,
            peer: Some((ip.dst, dport)),
            owner,
        },
    };
    w.ns_mut(ns).sockets.push(sock);
}

/// The listener's child socket once the SYN is accepted (`tcp_v4_syn_recv_sock`).
fn accept(w: &mut World, ns: NsId, ip: &Ipv4) {
    let (sport, dport) = ports(ip);
    let owner = w
        .ns(ns)
        .sockets
        .iter()
        .find(|s| s.proto == IpProtocol::Tcp && s.port == dport && s.peer.is_none())
        .map(|s| s.owner.clone());
    if let Some(owner) = owner {
        w.ns_mut(ns).sockets.push(Socket {
            proto: IpProtocol::Tcp,
            addr: ip.dst,
            port: dport,
            peer: Some((ip.src, sport)),
            owner,
        });
    }
}

fn client_packet(e: &Ends, f: &ResolvedFlow, kind: Kind, sport: u16, w: &World) -> SendReq {
    let (dst, dport) = e.target;
    let src = e.client.map(|c| c.0).or(f.from.bound);
    let req_len = f.request;
    let resp_len = u32::from(f.response);
    let c = e.c_isn;
    let s_ack = e.s_isn.wrapping_add(1);
    // The client's timestamps: its own clock (still, with no time passing) and the server's.
    let ts = Some((e.tsval, e.tsval.wrapping_add(1)));
    let (l4, func, what) = match kind {
        Kind::Syn => (
            L4Spec::Tcp {
                sport,
                dport,
                seq: c,
                ack: 0,
                flags: TcpFlags(TcpFlags::SYN),
                len: 0,
                ts: Some((e.tsval, 0)),
            },
            "tcp_v4_connect",
            "connect() sends SYN".to_string(),
        ),
        Kind::Ack => (
            L4Spec::Tcp {
                sport,
                dport,
                seq: c.wrapping_add(1),
                ack: s_ack,
                flags: TcpFlags(TcpFlags::ACK),
                len: 0,
                ts,
            },
            "tcp_rcv_state_process",
            "the SYN-ACK completes the handshake: ACK".to_string(),
        ),
        Kind::Request(seg) => (
            L4Spec::Tcp {
                sport,
                dport,
                seq: c.wrapping_add(1).wrapping_add(u32::from(seg.off)),
                ack: s_ack,
                flags: seg.flags(),
                len: seg.len,
                ts,
            },
            "tcp_sendmsg",
            data_words("client", "request", req_len, seg),
        ),
        Kind::FinClient => (
            L4Spec::Tcp {
                sport,
                dport,
                seq: c.wrapping_add(1).wrapping_add(u32::from(req_len)),
                ack: s_ack.wrapping_add(resp_len),
                flags: TcpFlags(TcpFlags::FIN | TcpFlags::ACK),
                len: 0,
                ts,
            },
            "tcp_close",
            "close(): FIN".to_string(),
        ),
        Kind::LastAck => (
            L4Spec::Tcp {
                sport,
                dport,
                seq: c.wrapping_add(2).wrapping_add(u32::from(req_len)),
                ack: s_ack.wrapping_add(resp_len).wrapping_add(1),
                flags: TcpFlags(TcpFlags::ACK),
                len: 0,
                ts,
            },
            "tcp_rcv_state_process",
            "the server's FIN is acknowledged".to_string(),
        ),
        Kind::UdpRequest => (
            L4Spec::Udp {
                sport,
                dport,
                len: req_len.max(1),
            },
            "udp_sendmsg",
            format!("sendto() sends a {}-byte request", req_len.max(1)),
        ),
        Kind::EchoRequest => (
            L4Spec::EchoRequest {
                ident: sport,
                seq: 1,
                len: if req_len == 0 {
                    super::send::PING_DEFAULT_SIZE
                } else {
                    req_len
                },
            },
            "raw_sendmsg",
            "ping sends an ICMP echo request".to_string(),
        ),
        _ => (
            L4Spec::Udp {
                sport,
                dport,
                len: 0,
            },
            "udp_sendmsg",
            String::new(),
        ),
    };
    // Linux sockets do path MTU discovery (IP_PMTUDISC_WANT): DF on what fits the route.
    SendReq {
        ns: e.client_ns,
        src,
        dst,
        ttl: None,
        pmtudisc: Pmtudisc::Want,
        l4,
        func,
        what: format!("{} in {}: {what}", f.from.words, w.ns(e.client_ns).name),
        role: Role::Packet,
    }
}

/// What the server sends next, answering what it received; None if it never received.
fn server_packet(e: &Ends, f: &ResolvedFlow, kind: Kind, w: &World) -> Option<SendReq> {
    let ns = e.server_ns?;
    let (local, lport) = e.server_local?;
    let (peer, pport) = e.server_peer?;
    let c_next = e.c_isn.wrapping_add(1);
    let s = e.s_isn;
    let req = u32::from(f.request);
    let resp = f.response;
    let ts = Some((e.tsval.wrapping_add(1), e.tsval));
    let (l4, func, what) = match kind {
        Kind::SynAck => (
            L4Spec::Tcp {
                sport: lport,
                dport: pport,
                seq: s,
                ack: c_next,
                flags: TcpFlags(TcpFlags::SYN | TcpFlags::ACK),
                len: 0,
                ts,
            },
            "tcp_v4_send_synack",
            "the listener answers the SYN: SYN-ACK".to_string(),
        ),
        Kind::Response(seg) => (
            L4Spec::Tcp {
                sport: lport,
                dport: pport,
                seq: s.wrapping_add(1).wrapping_add(u32::from(seg.off)),
                ack: c_next.wrapping_add(req),
                flags: seg.flags(),
                len: seg.len,
                ts,
            },
            "tcp_sendmsg",
            data_words("server", "response", resp, seg),
        ),
        Kind::FinServer => (
            L4Spec::Tcp {
                sport: lport,
                dport: pport,
                seq: s.wrapping_add(1).wrapping_add(u32::from(resp)),
                ack: c_next.wrapping_add(req).wrapping_add(1),
                flags: TcpFlags(TcpFlags::FIN | TcpFlags::ACK),
                len: 0,
                ts,
            },
            "tcp_close",
            "the server closes too: FIN".to_string(),
        ),
        Kind::UdpResponse => (
            L4Spec::Udp {
                sport: lport,
                dport: pport,
                len: resp.max(1),
            },
            "udp_sendmsg",
            format!("the server answers with {} bytes", resp.max(1)),
        ),
        Kind::EchoReply => (
            L4Spec::Ready(L4::Icmp(Icmp {
                msg: IcmpMessage::EchoReply {
                    ident: pport,
                    seq: 1,
                },
                data: echo_data(f),
            })),
            "icmp_reply",
            "icmp_echo answers with an echo reply".to_string(),
        ),
        _ => return None,
    };
    // icmp_reply sends from the ICMP control socket, IP_PMTUDISC_DONT (icmp_sk_init): DF
    // clear, as the lab's echo replies showed; TCP and UDP sockets do path MTU discovery.
    let pmtudisc = if matches!(kind, Kind::EchoReply) {
        Pmtudisc::Dont
    } else {
        Pmtudisc::Want
    };
    Some(SendReq {
        ns,
        src: Some(local),
        dst: peer,
        ttl: None,
        pmtudisc,
        l4,
        func,
        what: format!(
            "{} in {}: {what}",
            if matches!(kind, Kind::EchoReply) {
                "the kernel"
            } else {
                "the server"
            },
            w.ns(ns).name
        ),
        role: Role::Packet,
    })
}

/// What a data segment is, in words: `the client sends its 80-byte request`, or for one
/// segment of several, which bytes it carries.
fn data_words(who: &str, what: &str, total: u16, seg: Segment) -> String {
    if seg.off == 0 && seg.last {
        return format!("the {who} sends its {total}-byte {what}");
    }
    format!(
        "the {who}'s {total}-byte {what} goes out in segments of at most the MSS less the timestamp option: bytes {}-{} ({} bytes)",
        seg.off,
        u32::from(seg.off) + u32::from(seg.len) - 1,
        seg.len
    )
}

/// The echo reply carries the request's data back.
fn echo_data(f: &ResolvedFlow) -> Vec<u8> {
    let len = if f.request == 0 {
        super::send::PING_DEFAULT_SIZE
    } else {
        f.request
    };
    (0..len).map(|i| if i < 16 { 0 } else { i as u8 }).collect()
}
