//! The sending socket: build the packet a program in the source namespace would send (ping,
//! a TCP connect, a UDP sendto), route it (`ip_route_output_key`) and hand it to
//! `__ip_local_out`.

use super::{Next, Skb, Walk};
use crate::net::{NsId, RouteType, route};
use crate::scenario::{Endpoint, EndpointKind, IpProtocol, PacketSpec, Scenario, TcpFlag};
use crate::trace::{DispositionKind, StepKind};
use crate::wire::{
    Frame, Icmp, IcmpMessage, Ipv4, Ipv4Addr, L3, L4, Mac, Tcp, TcpFlags, Udp, UdpPayload,
};

/// Why a packet could not even be built. Scenario validation rules these out for loaded
/// files; they remain for worlds built by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("no packet named `{name}`; the scenario has: {}", known.join(", "))]
    UnknownPacket { name: String, known: Vec<String> },
    #[error("packet `{packet}`: {message}")]
    BadEndpoint { packet: String, message: String },
}

/// ping(8)'s default payload: 56 data bytes.
pub const PING_DEFAULT_SIZE: u16 = 56;

/// What a program asks its kernel to send.
pub(super) struct SendReq {
    pub ns: NsId,
    /// The address the socket is bound to; None: the route's source address.
    pub src: Option<Ipv4Addr>,
    pub dst: Ipv4Addr,
    pub ttl: Option<u8>,
    pub df: bool,
    pub l4: L4Spec,
    /// The socket call (`tcp_v4_connect`, `raw_sendmsg`, ...) and what it does, in words.
    pub func: &'static str,
    pub what: String,
}

impl SendReq {
    /// Send a packet already built, from its own source address, as it is.
    pub fn ready(ns: NsId, ip: Ipv4, func: &'static str, what: String) -> SendReq {
        SendReq {
            ns,
            src: Some(ip.src),
            dst: ip.dst,
            ttl: Some(ip.ttl),
            df: ip.dont_frag,
            l4: L4Spec::Ready(ip.payload),
            func,
            what,
        }
    }
}

/// The transport part, finished once the route (and with it the MSS) is known.
pub(super) enum L4Spec {
    /// A TCP segment; SYNs get Linux's options for the route's MSS.
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        len: u16,
        tsval: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
        len: u16,
    },
    EchoRequest {
        ident: u16,
        seq: u16,
        len: u16,
    },
    /// Already built (an echo reply, an ICMP error, a RST).
    Ready(L4),
}

impl Walk<'_> {
    pub(super) fn send(
        &mut self,
        s: &Scenario,
        p: &PacketSpec,
    ) -> Result<(Option<Frame>, Next), EngineError> {
        let bad = |message: String| EngineError::BadEndpoint {
            packet: p.name.value.clone(),
            message,
        };
        let from: Endpoint = p.from.value.parse().map_err(bad)?;
        let to: Endpoint = p.to.value.parse().map_err(bad)?;
        let ns = self
            .source_ns(s, &from)
            .ok_or_else(|| bad(format!("`{}` is not in the world", p.from.value)))?;
        let (dst, dport) = match self.resolve_target(s, ns, &to) {
            Ok(Some(t)) => t,
            Ok(None) => return Err(bad(format!("`{}` has no address", p.to.value))),
            Err(d) => return Ok((None, Next::End(super::End::Fate(d)))),
        };
        let (lo, hi) = self.world.ns(ns).sysctl.local_port_range;
        let sport = from.port.unwrap_or_else(|| self.world.range_u16(lo, hi));
        let len = p
            .size
            .as_ref()
            .map(|s| s.value)
            .unwrap_or(match p.protocol {
                IpProtocol::Icmp => PING_DEFAULT_SIZE,
                _ => 0,
            });
        let (l4, func, what) = match p.protocol {
            IpProtocol::Icmp => (
                L4Spec::EchoRequest {
                    ident: sport,
                    seq: 1,
                    len,
                },
                "raw_sendmsg",
                "ping sends an ICMP echo request".to_string(),
            ),
            IpProtocol::Udp => (
                L4Spec::Udp {
                    sport,
                    dport: dport.unwrap_or(0),
                    len,
                },
                "udp_sendmsg",
                "sendto() sends a UDP datagram".to_string(),
            ),
            IpProtocol::Sctp | IpProtocol::Other(_) => {
                return Err(bad(format!(
                    "kpath sends tcp, udp and icmp packets, not {}",
                    p.protocol
                )));
            }
            IpProtocol::Tcp => {
                let flags = tcp_flags(p);
                let (seq, ack) = (self.world.next_u32(), self.world.next_u32());
                let tsval = self.world.next_u32();
                let ack = if flags.has(TcpFlags::ACK) { ack } else { 0 };
                let (func, what) = if p.flags.is_none() {
                    ("tcp_v4_connect", "connect() sends a TCP SYN")
                } else {
                    ("tcp_sendmsg", "the socket sends a TCP segment")
                };
                (
                    L4Spec::Tcp {
                        sport,
                        dport: dport.unwrap_or(0),
                        seq,
                        ack,
                        flags,
                        len,
                        tsval,
                    },
                    func,
                    what.to_string(),
                )
            }
        };
        let explicit = match from.kind {
            EndpointKind::Ip(ip) => Some(ip),
            _ => None,
        };
        let req = SendReq {
            ns,
            src: explicit,
            dst,
            ttl: p.ttl,
            df: p.df,
            l4,
            func,
            what: format!("{} in {}: {what}", sender_of(&from), self.ns_name(ns)),
        };
        let (frame, next) = self.emit(req);
        Ok((Some(frame), next))
    }

    /// Put an injected packet where it starts: on its device's receive path, or through
    /// its program's send path.
    pub(super) fn inject(&mut self, inj: &super::Injection) -> (Frame, Next) {
        let ip = inj.packet.clone();
        match inj.origin {
            super::Origin::Arrives { ns, dev } => {
                let mac = self.world.ns(ns).link(dev).map_or(Mac::ZERO, |l| l.mac);
                let mut skb = Skb::probe(ns);
                skb.frame = Frame {
                    dst: mac,
                    src: Mac::ZERO,
                    payload: L3::Ipv4(ip),
                };
                skb.dev = dev;
                (skb.frame.clone(), Next::Rx(skb))
            }
            super::Origin::Sent { ns } => {
                let (func, what) = match &ip.payload {
                    L4::Tcp(_) => ("tcp_v4_connect", "connect() sends a TCP SYN"),
                    L4::Udp(_) => ("udp_sendmsg", "sendto() sends a UDP datagram"),
                    L4::Icmp(_) => ("raw_sendmsg", "ping sends an ICMP echo request"),
                };
                let what = format!("a program in {}: {what}", self.ns_name(ns));
                self.emit(SendReq::ready(ns, ip, func, what))
            }
        }
    }

    /// Where `to` points: an address and maybe a port. A DNS name is resolved as the
    /// sender's resolver would, recorded as a step; a name that does not resolve ends the
    /// walk (Err). Ok(None): the endpoint has no address at all (never for a valid scenario).
    pub(super) fn resolve_target(
        &mut self,
        s: &Scenario,
        ns: NsId,
        to: &Endpoint,
    ) -> Result<Option<(Ipv4Addr, Option<u16>)>, crate::trace::Disposition> {
        let port = to.port;
        Ok(match &to.kind {
            EndpointKind::Pod { key, .. } => s.pod(key).map(|p| (p.ip.value, port)),
            EndpointKind::Node(n) => s.node(n).map(|n| (n.ip.value, port)),
            EndpointKind::Ip(ip) => Some((*ip, port)),
            EndpointKind::Host(h) => s.host(h).map(|h| (h.ip.value, port)),
            EndpointKind::Service(key) => s.service(key).and_then(|svc| {
                let sp = svc.ports.iter().find(|p| match (&to.port_name, port) {
                    (Some(n), _) => p.name.as_deref() == Some(n),
                    (None, Some(n)) => p.port.value == n,
                    (None, None) => false,
                })?;
                Some((svc.cluster_ip()?, Some(sp.port.value)))
            }),
            EndpointKind::Dns(name) => {
                let pod_ns = match &self.world.ns(ns).kind {
                    crate::net::NsKind::Pod { namespace, .. } => namespace.clone(),
                    _ => "default".to_string(),
                };
                let look = crate::k8s::dns::resolve(s, name, &pod_ns);
                let asked: Vec<String> = look
                    .queries
                    .iter()
                    .map(|(q, a)| format!("{q}? {a}"))
                    .collect();
                let probe = Skb::probe(ns);
                let note = format!(
                    "the resolver (nameserver: the kube-dns Service, search {pod_ns}.svc.cluster.local svc.cluster.local cluster.local, ndots:5) asks: {}",
                    asked.join("; ")
                );
                self.record(&probe, None, "getaddrinfo", StepKind::Socket, note);
                match look.addrs.first() {
                    Some(ip) => Some((*ip, port)),
                    None => {
                        let reason = format!("`{name}` does not resolve: every query got NXDOMAIN");
                        self.record(&probe, None, "getaddrinfo", StepKind::Drop, reason.clone());
                        return Err(self.fate(&probe, None, DispositionKind::NoSuchName, reason));
                    }
                }
            }
        })
    }

    /// The kernel side of sending: route (`ip_route_output_key`, which also picks the source
    /// address), finish the transport header for the route's MSS, refuse what cannot be
    /// sent (a TCP segment over the MSS, a DF datagram over the MTU), then `__ip_local_out`.
    pub(super) fn emit(&mut self, req: SendReq) -> (Frame, Next) {
        let ns = req.ns;
        let dst = req.dst;
        let ttl = req.ttl.unwrap_or(self.world.ns(ns).sysctl.default_ttl);
        let ident = self.world.next_u32() as u16;
        let mut frame = Frame {
            dst: Mac::ZERO,
            src: Mac::ZERO,
            payload: L3::Ipv4(Ipv4 {
                tos: 0,
                ident,
                dont_frag: req.df,
                more_frags: false,
                frag_offset: 0,
                ttl,
                src: req.src.unwrap_or(Ipv4Addr::UNSPECIFIED),
                dst,
                payload: L4::Udp(Udp {
                    sport: 0,
                    dport: 0,
                    payload: UdpPayload::Data(Vec::new()),
                }),
            }),
        };
        let mut skb = Skb::probe(ns);
        let rt = route::lookup(&self.world.ns(ns).routes, dst).cloned();
        let Some(rt) = rt else {
            skb.frame = frame.clone();
            let next = self.drop_here(
                &skb,
                None,
                "ip_route_output_key",
                DispositionKind::NoRoute,
                format!(
                    "no route to {dst} in {}: the socket call fails with ENETUNREACH",
                    self.ns_name(ns)
                ),
            );
            return (frame, next);
        };
        let (out_dev, src) = self.output_dev_and_source(ns, &rt, dst, req.src);
        let mss = self
            .world
            .ns(ns)
            .link(out_dev)
            .map(|l| l.mtu)
            .unwrap_or(1500)
            .saturating_sub(40) as u16;
        if let L3::Ipv4(ip) = &mut frame.payload {
            ip.src = src;
            ip.payload = finish_l4(req.l4, mss);
        }
        skb.frame = frame.clone();
        skb.dev = out_dev;
        self.record(&skb, None, req.func, StepKind::Socket, req.what);
        let out_name = self.dev_name(ns, out_dev);
        let route_text = if rt.rtype == RouteType::Local {
            format!("{dst} is a local address: out through {out_name}")
        } else {
            format!("route {}", self.route_text(&skb, &rt))
        };
        self.record(
            &skb,
            Some(out_dev),
            "ip_route_output_key",
            StepKind::Routing,
            format!("{route_text}; source address {src}"),
        );

        // tcp_sendmsg cuts the byte stream into segments of at most the MSS (the route MTU
        // minus 40 bytes of IPv4 and TCP header), so TCP never hands IP a datagram larger
        // than the MTU, whatever DF says. kpath sends one segment, so a larger payload is
        // refused rather than silently cut.
        if let Some(L4::Tcp(t)) = skb.ipv4().map(|i| &i.payload) {
            let opts = t.options.len();
            let limit = usize::from(mss).saturating_sub(opts);
            if t.payload.len() > limit {
                let mtu = usize::from(mss) + 40;
                let with_opts = if opts > 0 {
                    format!(" less the {opts} bytes of options this segment carries, {limit}")
                } else {
                    String::new()
                };
                let next = self.drop_here(&skb, Some(out_dev), "tcp_sendmsg", DispositionKind::MessageTooLong,
                    format!("a {}-byte TCP payload does not fit one segment: the route through {out_name} gives MSS {mss} (MTU {mtu} - 40){with_opts}; TCP would segment it by MSS and kpath sends one segment, so keep `size` at most {limit}", t.payload.len()));
                return (frame, next);
            }
        }
        // ip_append_data: with DF (IP_PMTUDISC_DO/WANT) a datagram larger than the route
        // MTU is refused before it is built: "local error: message too long, mtu=1450".
        let mtu = self
            .world
            .ns(ns)
            .link(out_dev)
            .map(|l| l.mtu)
            .unwrap_or(65536);
        let len = skb.ipv4().map(|i| i.total_len()).unwrap_or(0);
        if req.df && len > mtu as usize {
            let next = self.drop_here(&skb, Some(out_dev), "ip_append_data", DispositionKind::MessageTooLong,
                format!("{len}-byte datagram exceeds the MTU {mtu} of {out_name} and DF is set: sendmsg fails with EMSGSIZE (ping: \"local error: message too long, mtu={mtu}\")"));
            return (frame, next);
        }
        (frame, Next::LocalOut(skb, rt))
    }

    /// Locally destined packets leave through lo (`ip_route_output_key_hash_rcu` sets
    /// `dev_out = net->loopback_dev` for RTN_LOCAL, and the source defaults to the
    /// destination). Otherwise the route's device and its preferred or primary address.
    fn output_dev_and_source(
        &self,
        ns: NsId,
        rt: &crate::net::Route,
        dst: Ipv4Addr,
        bound: Option<Ipv4Addr>,
    ) -> (u32, Ipv4Addr) {
        let n = self.world.ns(ns);
        if rt.rtype == RouteType::Local {
            let lo = n.link_by_name("lo").map(|l| l.ifindex).unwrap_or(rt.dev);
            return (lo, bound.or(rt.src).unwrap_or(dst));
        }
        let src = bound
            .or(rt.src)
            .or_else(|| n.primary_addr(rt.dev))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        (rt.dev, src)
    }

    pub(super) fn source_ns(&self, s: &Scenario, e: &Endpoint) -> Option<NsId> {
        let name = match &e.kind {
            EndpointKind::Pod { key, .. } => key.clone(),
            EndpointKind::Node(n) | EndpointKind::Host(n) => n.clone(),
            EndpointKind::Ip(ip) => {
                // A pod's address belongs to the pod; anything else to whoever holds it.
                if let Some(p) = s.pods.iter().find(|p| p.ip.value == *ip) {
                    p.key()
                } else {
                    return self
                        .world
                        .netns
                        .iter()
                        .find(|n| n.is_local(*ip))
                        .map(|n| n.id);
                }
            }
            EndpointKind::Service(_) | EndpointKind::Dns(_) => return None,
        };
        self.world.ns_by_name(&name).map(|n| n.id)
    }
}

/// Who sends, in words.
pub(super) fn sender_of(from: &Endpoint) -> String {
    match &from.kind {
        EndpointKind::Pod {
            container: Some(c), ..
        } => format!("container {c}"),
        EndpointKind::Pod { .. } => "a container".to_string(),
        EndpointKind::Host(_) => "a client program".to_string(),
        _ => "a process".to_string(),
    }
}

fn tcp_flags(p: &PacketSpec) -> TcpFlags {
    match &p.flags {
        None => TcpFlags(TcpFlags::SYN),
        Some(f) => TcpFlags(f.value.iter().fold(0, |acc, f| {
            acc | match f {
                TcpFlag::Fin => TcpFlags::FIN,
                TcpFlag::Syn => TcpFlags::SYN,
                TcpFlag::Rst => TcpFlags::RST,
                TcpFlag::Psh => TcpFlags::PSH,
                TcpFlag::Ack => TcpFlags::ACK,
                TcpFlag::Urg => TcpFlags::URG,
            }
        })),
    }
}

/// The transport header a Linux sender writes, for a route with this MSS.
pub(super) fn finish_l4(spec: L4Spec, mss: u16) -> L4 {
    match spec {
        L4Spec::EchoRequest { ident, seq, len } => L4::Icmp(Icmp {
            msg: IcmpMessage::EchoRequest { ident, seq },
            data: ping_data(len),
        }),
        L4Spec::Udp { sport, dport, len } => L4::Udp(Udp {
            sport,
            dport,
            payload: UdpPayload::Data(vec![0x6b; usize::from(len)]),
        }),
        L4Spec::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            len,
            tsval,
        } => {
            let syn = flags.has(TcpFlags::SYN);
            L4::Tcp(Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                // tcp_select_initial_window: the largest multiple of the MSS under 65535.
                window: 65535u16.checked_div(mss).map_or(65535, |q| q * mss),
                options: if syn {
                    syn_options(mss, tsval)
                } else {
                    Vec::new()
                },
                payload: vec![0x61; usize::from(len)],
            })
        }
        L4Spec::Ready(l4) => l4,
    }
}

/// The options of a Linux SYN, in the kernel's order (`tcp_options_write`): MSS, SACK
/// permitted, timestamps, NOP, window scale 7. 20 bytes, so a SYN is a 74-byte frame.
fn syn_options(mss: u16, tsval: u32) -> Vec<u8> {
    let mut o = vec![2, 4];
    o.extend_from_slice(&mss.to_be_bytes());
    o.extend_from_slice(&[4, 2, 8, 10]);
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&[0, 0, 0, 0, 1, 3, 3, 7]);
    o
}

/// ping(8) puts a 16-byte `struct timeval` first, then bytes counting up from 0x10
/// (`for (i = sizeof(struct timeval); i < datalen; ++i) *p++ = i;`). There is no clock in
/// a simulation, so the timeval is zero.
fn ping_data(len: u16) -> Vec<u8> {
    (0..len).map(|i| if i < 16 { 0 } else { i as u8 }).collect()
}
