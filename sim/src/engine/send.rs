//! The sending socket: build the packet a program in the source namespace would send (ping,
//! a TCP connect, a UDP sendto), route it (`ip_route_output_key`) and hand it to
//! `__ip_local_out`.

use super::{Next, Skb, Walk};
use crate::net::{IfIndex, NsId, Pmtudisc, RouteType, route};
use crate::resolve::{ResolvedPacket, Transport};
use crate::trace::{DispositionKind, Role, StepKind};
use crate::wire::{
    Frame, Icmp, IcmpMessage, Ipv4, Ipv4Addr, L3, L4, Mac, Tcp, TcpFlags, Udp, UdpPayload,
};

/// The bytes a UDP datagram and a TCP segment carry (what the lab's sender writes too).
pub const UDP_FILL: u8 = 0x6b;
pub const TCP_FILL: u8 = 0x61;

/// ping(8)'s default payload: 56 data bytes.
pub const PING_DEFAULT_SIZE: u16 = 56;

/// What a program asks its kernel to send.
pub(super) struct SendReq {
    pub ns: NsId,
    /// The address the socket is bound to; None: the route's source address.
    pub src: Option<Ipv4Addr>,
    pub dst: Ipv4Addr,
    pub ttl: Option<u8>,
    /// The socket's path MTU discovery: whether DF is set, and what happens to a datagram
    /// larger than the route's MTU.
    pub pmtudisc: Pmtudisc,
    pub l4: L4Spec,
    /// The socket call (`tcp_v4_connect`, `raw_sendmsg`, ...) and what it does, in words.
    pub func: &'static str,
    pub what: String,
    /// Whose packet it is: the traced packet's, or (before it) the resolver's.
    pub role: Role,
}

impl SendReq {
    /// Send a packet already built, from its own source address, as it is (DF as it is).
    pub fn ready(ns: NsId, ip: Ipv4, func: &'static str, what: String) -> SendReq {
        SendReq {
            ns,
            src: Some(ip.src),
            dst: ip.dst,
            ttl: Some(ip.ttl),
            pmtudisc: if ip.dont_frag {
                Pmtudisc::Do
            } else {
                Pmtudisc::Dont
            },
            l4: L4Spec::Ready(ip.payload),
            func,
            what,
            role: Role::Packet,
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
        /// The timestamp option (TSval, TSecr): in a SYN (with the MSS and the rest), and
        /// in every segment of a connection that agreed on timestamps.
        ts: Option<(u32, u32)>,
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
    /// Send a resolved packet as its program would: the resolver's lookup first (a step, or
    /// the end of the walk when the name does not resolve), then the socket call.
    pub(super) fn send(&mut self, p: &ResolvedPacket) -> (Option<Frame>, Next) {
        let ns = p.from.ns;
        let (dst, dport) = match self.lookup(&p.from, &p.to) {
            Ok(t) => t,
            Err(d) => return (None, Next::End(super::End::Fate(d))),
        };
        let (lo, hi) = self.world.ns(ns).sysctl.local_port_range;
        let sport = p.from.port.unwrap_or_else(|| self.world.range_u16(lo, hi));
        let len = p.size.unwrap_or(match p.protocol {
            Transport::Icmp => PING_DEFAULT_SIZE,
            Transport::Udp | Transport::Tcp => 0,
        });
        let (l4, func, what) = match p.protocol {
            Transport::Icmp => (
                L4Spec::EchoRequest {
                    ident: sport,
                    seq: 1,
                    len,
                },
                "raw_sendmsg",
                "ping sends an ICMP echo request".to_string(),
            ),
            Transport::Udp => (
                L4Spec::Udp {
                    sport,
                    dport: dport.unwrap_or(0),
                    len,
                },
                "udp_sendmsg",
                "sendto() sends a UDP datagram".to_string(),
            ),
            Transport::Tcp => {
                let flags = p.flags.unwrap_or(TcpFlags(TcpFlags::SYN));
                let (seq, ack) = (self.world.next_u32(), self.world.next_u32());
                let tsval = self.world.next_u32();
                let ack = if flags.has(TcpFlags::ACK) { ack } else { 0 };
                // A segment sent outside a connection (a scenario's `flags:`) carries no
                // timestamps; a connect()'s SYN does.
                let ts = flags.has(TcpFlags::SYN).then_some((tsval, 0));
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
                        ts,
                    },
                    func,
                    what.to_string(),
                )
            }
        };
        let req = SendReq {
            ns,
            src: p.from.bound,
            dst,
            ttl: p.ttl,
            pmtudisc: p.pmtudisc,
            l4,
            func,
            what: format!("{} in {}: {what}", p.from.words, self.ns_name(ns)),
            role: Role::Packet,
        };
        let (frame, next) = self.emit(req);
        (Some(frame), next)
    }

    /// Put an injected packet where it starts: on its device's receive path, or through
    /// its program's send path.
    pub(super) fn inject(&mut self, inj: &super::Injection) -> (Frame, Next) {
        let ip = inj.packet.clone();
        match inj.origin {
            super::Origin::Arrives { ns, dev } => {
                let mac = self.world.ns(ns).link(dev).map_or(Mac::ZERO, |l| l.mac);
                Self::arrives(ns, dev, Mac::ZERO, mac, ip)
            }
            super::Origin::ArrivesFrame { ns, dev, src, dst } => {
                Self::arrives(ns, dev, src, dst, ip)
            }
            super::Origin::Sent { ns } => {
                let (func, what) = match &ip.payload {
                    L4::Tcp(_) => ("tcp_v4_connect", "connect() sends a TCP SYN"),
                    L4::Udp(_) => ("udp_sendmsg", "sendto() sends a UDP datagram"),
                    L4::Icmp(_) => ("raw_sendmsg", "ping sends an ICMP echo request"),
                    L4::Fragment(_) => ("raw_sendmsg", "a raw socket sends an IP fragment"),
                };
                let what = format!("a program in {}: {what}", self.ns_name(ns));
                self.emit(SendReq::ready(ns, ip, func, what))
            }
        }
    }

    /// A frame from `src` to `dst` handed to `dev`'s receive path.
    fn arrives(ns: NsId, dev: IfIndex, src: Mac, dst: Mac, ip: Ipv4) -> (Frame, Next) {
        let mut skb = Skb::probe(ns);
        skb.frame = Frame {
            dst,
            src,
            payload: L3::Ipv4(ip),
        };
        skb.dev = dev;
        (skb.frame.clone(), Next::Rx(skb))
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
                dont_frag: false,
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
        skb.role = req.role;
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
        if rt.rtype != RouteType::Local
            && let Some(why) = self.localnet_out(ns, src, out_dev)
        {
            skb.frame = frame.clone();
            let next = self.drop_here(
                &skb,
                Some(out_dev),
                "ip_route_output_key",
                DispositionKind::Dropped,
                format!("{why}: the socket call fails with EINVAL"),
            );
            return (frame, next);
        }
        let mtu = self
            .world
            .ns(ns)
            .link(out_dev)
            .map(|l| l.mtu)
            .unwrap_or(1500);
        let mss = mtu.saturating_sub(40) as u16;
        // __ip_make_skb: DO sets DF always, WANT only on a datagram that fits the route's
        // MTU (a larger one may be fragmented: ignore_df), DONT never.
        let mut fits = true;
        if let L3::Ipv4(ip) = &mut frame.payload {
            ip.src = src;
            ip.payload = finish_l4(req.l4, mss);
            fits = ip.total_len() <= mtu as usize;
            ip.dont_frag = match req.pmtudisc {
                Pmtudisc::Do => true,
                Pmtudisc::Want => fits,
                Pmtudisc::Dont => false,
            };
        }
        skb.frame = frame.clone();
        skb.dev = out_dev;
        skb.ignore_df = req.pmtudisc != Pmtudisc::Do;
        // tcp_advertise_mss: a SYN announces the MSS its route allows.
        let syn = matches!(skb.ipv4().map(|i| &i.payload), Some(L4::Tcp(t)) if t.flags.has(TcpFlags::SYN));
        let what = if syn {
            let dev = self.dev_name(ns, out_dev);
            format!(
                "{}, announcing MSS {mss} ({dev}'s MTU {} - 40)",
                req.what,
                u32::from(mss) + 40
            )
        } else {
            req.what
        };
        self.record(&skb, None, req.func, StepKind::Socket, what);
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
        // __ip_append_data: with IP_PMTUDISC_DO a datagram larger than the route MTU is
        // refused before it is built ("local error: message too long, mtu=1450").
        if req.pmtudisc == Pmtudisc::Do && !fits {
            let len = skb.ipv4().map(|i| i.total_len()).unwrap_or(0);
            let next = self.drop_here(&skb, Some(out_dev), "ip_append_data", DispositionKind::MessageTooLong,
                format!("{len}-byte datagram exceeds the MTU {mtu} of {out_name} and the socket sets DF (IP_PMTUDISC_DO): sendmsg fails with EMSGSIZE (ping: \"local error: message too long, mtu={mtu}\")"));
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
            payload: UdpPayload::Data(vec![UDP_FILL; usize::from(len)]),
        }),
        L4Spec::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            len,
            ts,
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
                options: match (syn, ts) {
                    (true, ts) => syn_options(mss, ts.unwrap_or_default()),
                    (false, Some(ts)) => ts_options(ts),
                    (false, None) => Vec::new(),
                },
                payload: vec![TCP_FILL; usize::from(len)],
            })
        }
        L4Spec::Ready(l4) => l4,
    }
}

/// The options of a Linux SYN, in the kernel's order (`tcp_options_write`): MSS, SACK
/// permitted, timestamps, NOP, window scale 7. 20 bytes, so a SYN is a 74-byte frame.
fn syn_options(mss: u16, (tsval, tsecr): (u32, u32)) -> Vec<u8> {
    let mut o = vec![2, 4];
    o.extend_from_slice(&mss.to_be_bytes());
    o.extend_from_slice(&[4, 2, 8, 10]);
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o.extend_from_slice(&[1, 3, 3, 7]);
    o
}

/// The timestamp option of an established connection's segment: NOP, NOP, TS (12 bytes).
fn ts_options((tsval, tsecr): (u32, u32)) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o
}

/// ping(8) puts a 16-byte `struct timeval` first, then bytes counting up from 0x10
/// (`for (i = sizeof(struct timeval); i < datalen; ++i) *p++ = i;`). There is no clock in
/// a simulation, so the timeval is zero.
pub fn ping_data(len: u16) -> Vec<u8> {
    (0..len).map(|i| if i < 16 { 0 } else { i as u8 }).collect()
}
