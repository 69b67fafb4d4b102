//! Local delivery (`ip_local_deliver` -> NF_INET_LOCAL_IN -> the protocol handler) and the
//! socket lookup that names who receives the packet.

use super::{End, Next, Skb, Walk};
use crate::net::ipfrag::DefragUser;
use crate::net::{Socket, SocketOwner};
use crate::netfilter::{Family, Hook};
use crate::trace::{Disposition, DispositionKind, StepKind};
use crate::wire::IpProtocol;
use crate::wire::{IcmpMessage, Ipv4, L4, Tcp, TcpFlags, Udp, UdpPayload};

impl Walk<'_> {
    /// `ip_local_deliver`: the LOCAL_IN hook, then `ip_protocol_deliver_rcu` hands the
    /// packet to the handler of its protocol (`icmp_rcv`, `udp_rcv`, `tcp_v4_rcv`).
    pub(super) fn ip_local_deliver(&mut self, mut skb: Skb) -> Next {
        let dev = skb.dev;
        self.record(
            &skb,
            Some(dev),
            "ip_local_deliver",
            StepKind::Routing,
            "the packet is for this host",
        );
        if let Err(next) = self.ip_defrag(&mut skb, DefragUser::LocalDeliver, Some(dev)) {
            return *next;
        }
        if let Err(d) = self.nf_hook(Family::Ipv4, Hook::Input, &mut skb, Some(dev), None) {
            return *d;
        }
        let Some(ip) = skb.ipv4().cloned() else {
            return self.drop_here(
                &skb,
                Some(dev),
                "ip_local_deliver",
                DispositionKind::Dropped,
                "not IPv4".into(),
            );
        };
        match &ip.payload {
            L4::Icmp(icmp) => self.icmp_rcv(skb, &ip, icmp.msg),
            L4::Udp(u) => self.udp_rcv(skb, &ip, u),
            L4::Tcp(t) => self.tcp_v4_rcv(skb, &ip, t),
            L4::Fragment(_) => self.drop_here(
                &skb,
                Some(dev),
                "ip_local_deliver",
                DispositionKind::Dropped,
                "a fragment reached the protocol handler without reassembly".into(),
            ),
        }
    }

    /// `icmp_rcv` (net/ipv4/icmp.c): an echo request goes to `icmp_echo`, an echo reply to
    /// `ping_rcv`, an error to the socket that sent the packet it quotes.
    fn icmp_rcv(&mut self, skb: Skb, ip: &Ipv4, msg: IcmpMessage) -> Next {
        let dev = skb.dev;
        match msg {
            IcmpMessage::EchoRequest { ident, seq } => {
                self.record(&skb, Some(dev), "icmp_echo", StepKind::Delivery, format!(
                "icmp_rcv: echo request id {ident} seq {seq} arrives with TTL {}; the kernel answers it with an echo reply", ip.ttl));
                self.delivered(
                    &skb,
                    "the kernel's ICMP echo responder (icmp_echo)".into(),
                    format!(
                        "ICMP echo request answered by the kernel of {}",
                        self.ns_name(skb.ns)
                    ),
                )
            }
            IcmpMessage::EchoReply { ident, seq } => {
                match self.lookup_socket(&skb, IpProtocol::Icmp, ident) {
                    Some(sock) => {
                        let who = socket_text(&sock);
                        self.record(&skb, Some(dev), "ping_rcv", StepKind::Delivery, format!(
                        "icmp_rcv: echo reply id {ident} seq {seq} from {} with TTL {}: handed to {who}", ip.src, ip.ttl));
                        self.delivered_to(&skb, &sock, format!("echo reply delivered to {who}"))
                    }
                    None => self.drop_here(
                        &skb,
                        Some(dev),
                        "ping_rcv",
                        DispositionKind::Dropped,
                        format!("no ping socket waits for echo id {ident}: the reply is discarded"),
                    ),
                }
            }
            other @ (IcmpMessage::DestUnreachable { .. }
            | IcmpMessage::TimeExceeded { .. }
            | IcmpMessage::Redirect { .. }) => self.icmp_err_to_socket(skb, other),
        }
    }

    /// `udp_rcv` -> `__udp4_lib_rcv` (net/ipv4/udp.c): the socket of the destination port
    /// takes the datagram (a VXLAN socket through its `encap_rcv`); with none, ICMP port
    /// unreachable.
    fn udp_rcv(&mut self, skb: Skb, ip: &Ipv4, u: &Udp) -> Next {
        let dev = skb.dev;
        let sock = self.lookup_socket(&skb, IpProtocol::Udp, u.dport);
        match sock {
            Some(Socket {
                owner: SocketOwner::Vxlan { device },
                ..
            }) if matches!(u.payload, UdpPayload::Vxlan(_)) => {
                let dn = self.dev_name(skb.ns, device);
                self.record(&skb, Some(dev), "udp_rcv", StepKind::Socket, format!(
                    "UDP port {} belongs to {dn}'s VXLAN socket: encap_rcv hands it to vxlan_rcv", u.dport));
                self.vxlan_rcv(skb, device)
            }
            Some(s) => {
                let who = socket_text(&s);
                self.record(
                    &skb,
                    Some(dev),
                    "udp_rcv",
                    StepKind::Delivery,
                    format!("__udp4_lib_lookup finds {who}: the datagram is queued to it"),
                );
                self.delivered_to(&skb, &s, format!("delivered to {who}"))
            }
            None => {
                self.icmp_error(
                    &skb,
                    IcmpMessage::DestUnreachable {
                        code: 3,
                        next_hop_mtu: 0,
                    },
                );
                let ns = self.ns_name(skb.ns);
                self.drop_here(
                    &skb,
                    Some(dev),
                    "__udp4_lib_rcv",
                    DispositionKind::NoListener,
                    format!(
                        "nothing listens on UDP port {} in {ns}: ICMP port unreachable sent to {}",
                        u.dport, ip.src
                    ),
                )
            }
        }
    }

    /// `tcp_v4_rcv` (net/ipv4/tcp_ipv4.c): an established socket takes the segment; a
    /// listener answers it as `tcp_rcv_state_process` does in LISTEN; with no socket,
    /// `tcp_v4_send_reset`.
    fn tcp_v4_rcv(&mut self, skb: Skb, ip: &Ipv4, t: &Tcp) -> Next {
        let dev = skb.dev;
        let ns = self.ns_name(skb.ns);
        let Some(s) = self.lookup_socket(&skb, IpProtocol::Tcp, t.dport) else {
            if !t.flags.has(TcpFlags::RST) {
                self.tcp_reset(&skb);
            }
            // A socket on this port connected elsewhere: the reply came from the
            // wrong address (a missed reverse NAT), which is worth saying plainly.
            let other = self
                .world
                .ns(skb.ns)
                .sockets
                .iter()
                .find(|x| x.proto == IpProtocol::Tcp && x.port == t.dport && x.peer.is_some())
                .and_then(|x| x.peer);
            let why = match other {
                Some((pa, pp)) => format!(
                    "no socket takes {}:{} -> {}:{}: the socket on port {} is connected to {pa}:{pp}, not to {}:{}, so tcp_v4_send_reset answers with RST",
                    ip.src, t.sport, ip.dst, t.dport, t.dport, ip.src, t.sport
                ),
                None => format!(
                    "nothing listens on TCP port {} in {ns}: tcp_v4_send_reset answers with RST (connection refused)",
                    t.dport
                ),
            };
            return self.drop_here(
                &skb,
                Some(dev),
                "tcp_v4_rcv",
                DispositionKind::NoListener,
                why,
            );
        };
        let who = socket_text(&s);
        if s.peer.is_some() {
            let what = if t.flags.has(TcpFlags::RST) {
                "the connection is reset"
            } else {
                "the segment is processed by the connection's state machine"
            };
            self.record(
                &skb,
                Some(dev),
                "tcp_v4_rcv",
                StepKind::Delivery,
                format!(
                    "__inet_lookup_established finds {who}: {what} ({})",
                    t.flags
                ),
            );
            return self.delivered_to(&skb, &s, format!("TCP [{}] delivered to {who}", t.flags));
        }
        // tcp_rcv_state_process for a socket in LISTEN: ACK first, then RST, then
        // SYN (without FIN); everything else is discarded.
        let f = t.flags;
        if f.has(TcpFlags::ACK) {
            if f.has(TcpFlags::RST) {
                // tcp_v4_send_reset never answers a RST.
                return self.drop_here(&skb, Some(dev), "tcp_v4_rcv", DispositionKind::Dropped,
                    format!("{who} is in LISTEN; a segment with ACK is refused, but it carries RST ({f}) and a RST is never answered: silently discarded"));
            }
            self.tcp_reset(&skb);
            return self.drop_here(&skb, Some(dev), "tcp_v4_rcv", DispositionKind::NoListener,
                format!("{who} is in LISTEN and this segment ({f}) carries ACK of no connection: tcp_rcv_state_process refuses it, tcp_v4_send_reset answers with RST (seq = its ack)"));
        }
        if f.has(TcpFlags::RST) {
            return self.drop_here(
                &skb,
                Some(dev),
                "tcp_v4_rcv",
                DispositionKind::Dropped,
                format!("{who} is in LISTEN; a RST ({f}) for no connection is silently discarded"),
            );
        }
        if f.has(TcpFlags::SYN) && !f.has(TcpFlags::FIN) {
            self.record(&skb, Some(dev), "tcp_v4_rcv", StepKind::Delivery, format!(
                "__inet_lookup_listener finds {who}: tcp_v4_conn_request queues the SYN and a SYN-ACK goes back"));
            return self.delivered_to(&skb, &s, format!("SYN accepted by {who}"));
        }
        let what = if f.has(TcpFlags::SYN) {
            "SYN with FIN"
        } else {
            "neither SYN, ACK nor RST"
        };
        self.drop_here(&skb, Some(dev), "tcp_v4_rcv", DispositionKind::Dropped,
            format!("{who} is in LISTEN; this segment ({f}) has {what}: tcp_rcv_state_process discards it silently (SKB_DROP_REASON_TCP_FLAGS)"))
    }

    /// The socket for the packet: a connected one for its exact 4-tuple first
    /// (`__inet_lookup_established`), then one listening on its port and address.
    fn lookup_socket(&self, skb: &Skb, proto: IpProtocol, port: u16) -> Option<Socket> {
        let ip = skb.ipv4()?;
        let sport = ip.l4_ports().map_or(0, |p| p.0);
        let ns = self.world.ns(skb.ns);
        let socks = &ns.sockets;
        let assumed = ns.unknowns.sockets.then_some(Socket {
            proto,
            addr: ip.dst,
            port,
            peer: None,
            owner: SocketOwner::Assumed,
        });
        socks
            .iter()
            .find(|s| {
                s.proto == proto
                    && s.port == port
                    && s.addr == ip.dst
                    && s.peer == Some((ip.src, sport))
            })
            .or_else(|| {
                socks.iter().find(|s| {
                    s.proto == proto
                        && s.port == port
                        && s.peer.is_none()
                        && (s.addr.is_unspecified() || s.addr == ip.dst)
                })
            })
            .cloned()
            .or(assumed)
    }

    /// `icmp_unreach` -> the protocol's err handler (`tcp_v4_err`, `__udp4_lib_err`,
    /// `ping_err`): the error goes to the socket that sent the quoted packet.
    fn icmp_err_to_socket(&mut self, skb: Skb, msg: IcmpMessage) -> Next {
        let dev = skb.dev;
        let Some(q) = skb
            .ipv4()
            .and_then(crate::netfilter::conntrack::quoted_tuple)
        else {
            return self.drop_here(
                &skb,
                Some(dev),
                "icmp_rcv",
                DispositionKind::Dropped,
                "the ICMP error quotes nothing usable: ignored".into(),
            );
        };
        let (proto, func) = match q.proto {
            IpProtocol::Tcp => (IpProtocol::Tcp, "tcp_v4_err"),
            IpProtocol::Udp => (IpProtocol::Udp, "__udp4_lib_err"),
            _ => (IpProtocol::Icmp, "ping_err"),
        };
        let sock = self
            .world
            .ns(skb.ns)
            .sockets
            .iter()
            .find(|s| {
                s.proto == proto
                    && s.port == q.sport
                    && match proto {
                        IpProtocol::Icmp => true,
                        _ => s.addr == q.src && s.peer.is_none_or(|p| p == (q.dst, q.dport)),
                    }
            })
            .cloned();
        let effect = match msg {
            IcmpMessage::DestUnreachable { code: 3, .. } => {
                "the call fails with ECONNREFUSED (\"Connection refused\")".to_string()
            }
            IcmpMessage::DestUnreachable {
                code: 4,
                next_hop_mtu,
            } => format!(
                "the route's path MTU drops to {next_hop_mtu}: TCP shrinks its segments, ping prints \"Frag needed and DF set (mtu = {next_hop_mtu})\""
            ),
            IcmpMessage::DestUnreachable { code: 0, .. } => {
                "the call fails with ENETUNREACH (\"Network is unreachable\")".to_string()
            }
            IcmpMessage::DestUnreachable { code: 1, .. } => {
                "the call fails with EHOSTUNREACH (\"No route to host\")".to_string()
            }
            IcmpMessage::DestUnreachable { code: 13, .. }
            | IcmpMessage::DestUnreachable { code: 9, .. }
            | IcmpMessage::DestUnreachable { code: 10, .. } => {
                "the call fails with EHOSTUNREACH (administratively prohibited)".to_string()
            }
            IcmpMessage::TimeExceeded { .. } => {
                "the TTL ran out on the way (traceroute reads these)".to_string()
            }
            other => format!("{other}"),
        };
        let about = format!("{}:{} -> {}:{}", q.src, q.sport, q.dst, q.dport);
        match sock {
            Some(s) => {
                let who = socket_text(&s);
                self.record(
                    &skb,
                    Some(dev),
                    func,
                    StepKind::Delivery,
                    format!("ICMP {msg} about {about} reaches {who}: {effect}"),
                );
                self.delivered_to(&skb, &s, format!("ICMP {msg} delivered to {who}: {effect}"))
            }
            None => self.drop_here(
                &skb,
                Some(dev),
                func,
                DispositionKind::Dropped,
                format!(
                    "ICMP {msg} about {about}: no socket sent that packet, so the error is ignored"
                ),
            ),
        }
    }

    fn delivered(&mut self, skb: &Skb, socket: String, reason: String) -> Next {
        let d = Disposition {
            socket: Some(socket.into()),
            ..self.fate(skb, Some(skb.dev), DispositionKind::Delivered, reason)
        };
        Next::End(End::Fate(d))
    }

    /// Delivered to socket `s`: named, and with its hostNetwork pod when it has one.
    fn delivered_to(&mut self, skb: &Skb, s: &Socket, reason: String) -> Next {
        let mut next = self.delivered(skb, socket_text(s), reason);
        if let (Next::End(End::Fate(d)), SocketOwner::Container { host_pod, .. }) =
            (&mut next, &s.owner)
        {
            d.pod = host_pod.as_deref().map(Box::from);
        }
        next
    }
}

/// `tcp 0.0.0.0:80 (container nginx)`.
pub fn socket_text(s: &Socket) -> String {
    let owner = match &s.owner {
        SocketOwner::Container { .. } => s.owner.container_words().unwrap_or_default(),
        SocketOwner::Vxlan { .. } => "VXLAN".to_string(),
        SocketOwner::Host { host } => format!("a program on {host}"),
        SocketOwner::Assumed => {
            "a listener kpath assumes: the node's sockets are not known".to_string()
        }
    };
    match (s.proto, s.peer) {
        (IpProtocol::Icmp, _) => format!("the ping socket for echo id {} ({owner})", s.port),
        (_, Some((pa, pp))) => format!(
            "{} {}:{} <-> {pa}:{pp} ({owner})",
            s.proto.name(),
            s.addr,
            s.port
        ),
        (_, None) => format!("{} {}:{} ({owner})", s.proto.name(), s.addr, s.port),
    }
}
