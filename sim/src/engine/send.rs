//! The sending socket: build the packet a program in the source namespace would send (ping,
//! a TCP connect, a UDP sendto), route it (`ip_route_output_key`) and hand it to
//! `__ip_local_out`.

use super::{Next, Skb, Walk};
use crate::net::{NsId, RouteType, route};
use crate::scenario::{Endpoint, EndpointKind, PacketSpec, Protocol, Scenario, TcpFlag};
use crate::trace::{DispositionKind, Role, StepKind};
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

impl Walk<'_> {
    pub(super) fn send(
        &mut self,
        s: &Scenario,
        p: &PacketSpec,
    ) -> Result<(Frame, Next), EngineError> {
        let bad = |message: String| EngineError::BadEndpoint {
            packet: p.name.value.clone(),
            message,
        };
        let from: Endpoint = p.from.value.parse().map_err(bad)?;
        let to: Endpoint = p.to.value.parse().map_err(bad)?;
        let ns = self
            .source_ns(s, &from)
            .ok_or_else(|| bad(format!("`{}` is not in the world", p.from.value)))?;
        let dst = self
            .address_of(s, &to)
            .ok_or_else(|| bad(format!("`{}` has no address", p.to.value)))?;
        let sender = match &from.kind {
            EndpointKind::Pod {
                container: Some(c), ..
            } => format!("container {c}"),
            EndpointKind::Pod { .. } => "a container".to_string(),
            _ => "a process".to_string(),
        };

        let ttl = p.ttl.unwrap_or(self.world.ns(ns).sysctl.default_ttl);
        let ident = self.world.next_u32() as u16;
        let (lo, hi) = self.world.ns(ns).sysctl.local_port_range;
        let payload_len = p
            .size
            .as_ref()
            .map(|s| s.value)
            .unwrap_or(match p.protocol {
                Protocol::Icmp => PING_DEFAULT_SIZE,
                _ => 0,
            });
        let sport = from.port.unwrap_or_else(|| self.world.range_u16(lo, hi));
        let dport = to.port.unwrap_or(0);

        // ip_route_output_key: the route, and with it the source address.
        let rt = route::lookup(&self.world.ns(ns).routes, dst).cloned();
        let mut frame = Frame {
            dst: Mac::ZERO,
            src: Mac::ZERO,
            payload: L3::Ipv4(Ipv4 {
                tos: 0,
                ident,
                dont_frag: p.df,
                more_frags: false,
                frag_offset: 0,
                ttl,
                src: Ipv4Addr::UNSPECIFIED,
                dst,
                payload: L4::Udp(Udp {
                    sport: 0,
                    dport: 0,
                    payload: UdpPayload::Data(Vec::new()),
                }),
            }),
        };
        let mut skb = Skb {
            frame: frame.clone(),
            ns,
            dev: 0,
            iif: None,
            mark: 0,
            br_nf_prerouted: false,
            physin: None,
            physout: None,
            ct: None,
            role: Role::Packet,
        };
        let Some(rt) = rt else {
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
            return Ok((frame, next));
        };
        let (out_dev, src) = self.output_dev_and_source(ns, &rt, dst, &from);
        let mss = self
            .world
            .ns(ns)
            .link(out_dev)
            .map(|l| l.mtu)
            .unwrap_or(1500)
            .saturating_sub(40) as u16;
        let l4 = build_l4(
            p,
            sport,
            dport,
            payload_len,
            mss,
            self.world.next_u32(),
            self.world.next_u32(),
        );
        if let L3::Ipv4(ip) = &mut frame.payload {
            ip.src = src;
            ip.payload = l4;
        }
        skb.frame = frame.clone();
        skb.dev = out_dev;
        let (func, what) = match p.protocol {
            Protocol::Icmp => ("raw_sendmsg", "ping sends an ICMP echo request"),
            Protocol::Tcp if p.flags.is_none() => ("tcp_v4_connect", "connect() sends a TCP SYN"),
            Protocol::Tcp => ("tcp_sendmsg", "the socket sends a TCP segment"),
            Protocol::Udp => ("udp_sendmsg", "sendto() sends a UDP datagram"),
        };
        self.record(
            &skb,
            None,
            func,
            StepKind::Socket,
            format!("{sender} in {}: {what}", self.ns_name(ns)),
        );
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
                    format!("a {}-byte TCP payload does not fit one segment: the route through {out_name} gives MSS {mss} (MTU {mtu} - 40){with_opts}; TCP would segment it by MSS and kpath sends one segment, so keep `size` at most {limit}",
                        t.payload.len()));
                return Ok((frame, next));
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
        if p.df && len > mtu as usize {
            let next = self.drop_here(&skb, Some(out_dev), "ip_append_data", DispositionKind::MessageTooLong,
                format!("{len}-byte datagram exceeds the MTU {mtu} of {out_name} and DF is set: sendmsg fails with EMSGSIZE (ping: \"local error: message too long, mtu={mtu}\")"));
            return Ok((frame, next));
        }
        Ok((frame, Next::LocalOut(skb, rt)))
    }

    /// Locally destined packets leave through lo (`ip_route_output_key_hash_rcu` sets
    /// `dev_out = net->loopback_dev` for RTN_LOCAL, and the source defaults to the
    /// destination). Otherwise the route's device and its preferred or primary address.
    fn output_dev_and_source(
        &self,
        ns: NsId,
        rt: &crate::net::Route,
        dst: Ipv4Addr,
        from: &Endpoint,
    ) -> (u32, Ipv4Addr) {
        let n = self.world.ns(ns);
        let explicit = match from.kind {
            EndpointKind::Ip(ip) => Some(ip),
            _ => None,
        };
        if rt.rtype == RouteType::Local {
            let lo = n.link_by_name("lo").map(|l| l.ifindex).unwrap_or(rt.dev);
            return (lo, explicit.or(rt.src).unwrap_or(dst));
        }
        let src = explicit
            .or(rt.src)
            .or_else(|| n.primary_addr(rt.dev))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        (rt.dev, src)
    }

    fn source_ns(&self, s: &Scenario, e: &Endpoint) -> Option<NsId> {
        let name = match &e.kind {
            EndpointKind::Pod { key, .. } => key.clone(),
            EndpointKind::Node(n) => n.clone(),
            EndpointKind::Ip(ip) => {
                // A pod's address belongs to the pod; anything else to the node holding it.
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
        };
        self.world.ns_by_name(&name).map(|n| n.id)
    }

    fn address_of(&self, s: &Scenario, e: &Endpoint) -> Option<Ipv4Addr> {
        match &e.kind {
            EndpointKind::Pod { key, .. } => s.pod(key).map(|p| p.ip.value),
            EndpointKind::Node(n) => s.node(n).map(|n| n.ip.value),
            EndpointKind::Ip(ip) => Some(*ip),
        }
    }
}

/// The transport header a Linux sender writes.
fn build_l4(p: &PacketSpec, sport: u16, dport: u16, len: u16, mss: u16, r1: u32, r2: u32) -> L4 {
    match p.protocol {
        Protocol::Icmp => L4::Icmp(Icmp {
            msg: IcmpMessage::EchoRequest {
                ident: sport,
                seq: 1,
            },
            data: ping_data(len),
        }),
        Protocol::Udp => L4::Udp(Udp {
            sport,
            dport,
            payload: UdpPayload::Data(vec![0x6b; usize::from(len)]),
        }),
        Protocol::Tcp => {
            let flags = match &p.flags {
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
            };
            let syn = flags.has(TcpFlags::SYN);
            L4::Tcp(Tcp {
                sport,
                dport,
                seq: r1,
                ack: if flags.has(TcpFlags::ACK) { r2 } else { 0 },
                flags,
                // tcp_select_initial_window: the largest multiple of the MSS under 65535.
                window: 65535u16.checked_div(mss).map_or(65535, |q| q * mss),
                options: if syn {
                    syn_options(mss, r2)
                } else {
                    Vec::new()
                },
                payload: vec![0x61; usize::from(len)],
            })
        }
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
