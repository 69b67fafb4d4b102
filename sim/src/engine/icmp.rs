//! What the kernel sends back when it refuses a packet: `icmp_send` errors and
//! `tcp_v4_send_reset`. They are recorded as response steps with their real bytes; walking
//! them back to the sender belongs to flows.

use super::{Skb, Walk};
use crate::net::route::{self, Route, RouteType};
use crate::trace::{Role, StepKind};
use crate::wire::{Frame, Icmp, IcmpMessage, Ipv4, Ipv4Addr, L3, L4, Mac, Tcp, TcpFlags};

/// `icmp_send` quotes as much of the offending datagram as fits in 576 bytes
/// (576 - 20 IP - 8 ICMP).
const ICMP_QUOTE_MAX: usize = 576 - 28;

impl Walk<'_> {
    /// Build and record the ICMP error `msg` about `skb`'s packet.
    pub(super) fn icmp_error(&mut self, skb: &Skb, msg: IcmpMessage) {
        let Some(orig) = skb.ipv4().cloned() else {
            return;
        };
        // __icmp_send answers only the first fragment of a datagram (`IP_OFFSET` clear).
        if orig.frag_offset != 0 {
            return;
        }
        // Nor an ICMP error (icmp_pointers[type].error): errors about errors would loop.
        if let L4::Icmp(Icmp {
            msg:
                IcmpMessage::DestUnreachable { .. }
                | IcmpMessage::TimeExceeded { .. }
                | IcmpMessage::Redirect { .. },
            ..
        }) = orig.payload
        {
            return;
        }
        // __icmp_send: a packet that was for this host (RTCF_LOCAL) is answered from the
        // address it was sent to; for a forwarded one the source is left to the route back
        // to the sender (icmp_route_lookup -> inet_select_addr).
        let ns = self.world.ns(skb.ns);
        let src = if ns.is_local(orig.dst) {
            orig.dst
        } else {
            route::lookup(&ns.routes, orig.src)
                .and_then(|r| r.src.or_else(|| ns.primary_addr(r.dev)))
                .unwrap_or(Ipv4Addr::UNSPECIFIED)
        };
        let ttl = ns.sysctl.default_ttl;
        let mut quote = orig.emit();
        quote.truncate(ICMP_QUOTE_MAX);
        let resp = Ipv4 {
            // IPTOS_PREC_INTERNETCONTROL, as icmp_send sets it.
            tos: 0xc0,
            ident: self.world.next_u32() as u16,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            ttl,
            src,
            dst: orig.src,
            payload: L4::Icmp(Icmp { msg, data: quote }),
        };
        let what = match msg {
            IcmpMessage::DestUnreachable {
                code: 4,
                next_hop_mtu,
            } => format!("fragmentation needed (mtu {next_hop_mtu})"),
            IcmpMessage::DestUnreachable { code: 0, .. } => "network unreachable".to_string(),
            IcmpMessage::DestUnreachable { code: 1, .. } => "host unreachable".to_string(),
            IcmpMessage::DestUnreachable { code: 3, .. } => "port unreachable".to_string(),
            IcmpMessage::DestUnreachable { code, .. } => {
                format!("destination unreachable (code {code})")
            }
            IcmpMessage::TimeExceeded { .. } => "time exceeded in transit".to_string(),
            IcmpMessage::Redirect { gateway, .. } if gateway == orig.dst => {
                format!("redirect ({gateway} is on the sender's own link: send to it directly)")
            }
            IcmpMessage::Redirect { gateway, .. } => {
                format!("redirect (reach {} via {gateway} directly)", orig.dst)
            }
            other => other.to_string(),
        };
        let note = format!("icmp_send: ICMP {what} from {src} to {}", orig.src);
        self.respond(skb, resp, "icmp_send", note);
    }

    /// `ip_forward` -> `ip_rt_send_redirect`, for a packet `__mkroute_input` marked
    /// IPSKB_DOREDIRECT: it leaves by the device it came in on, its sender is on that link
    /// (fib_validate_source > 0: the route back has no gateway), and send_redirects is on
    /// for the device (all OR dev). ICMP redirect for the host, naming the route's next hop.
    /// (shared_media, on by default, skips `inet_addr_onlink`.) inet_peer backs off further
    /// redirects to the same sender (ip_rt_redirect_load, 20 ms << n): kpath, without a
    /// clock, sends the first of each walk or flow.
    pub(super) fn ip_rt_send_redirect(&mut self, skb: &Skb, rt: &Route) {
        let Some(ip) = skb.ipv4() else { return };
        if skb.iif != Some(rt.dev) || skb.role != Role::Packet {
            return;
        }
        let ns = self.world.ns(skb.ns);
        let back_direct = route::lookup(&ns.routes, ip.src)
            .is_some_and(|b| b.rtype == RouteType::Unicast && b.via.is_none());
        let dev = self.dev_name(skb.ns, rt.dev);
        if !back_direct || !ns.sysctl.send_redirects(&dev) || ns.redirected.contains(&ip.src) {
            return;
        }
        let gateway = rt.via.unwrap_or(ip.dst);
        let sender = ip.src;
        self.world.ns_mut(skb.ns).redirected.insert(sender);
        self.icmp_error(skb, IcmpMessage::Redirect { code: 1, gateway });
    }

    /// `tcp_v4_send_reset`: RST (with ACK of the SYN) for a segment no socket wants.
    pub(super) fn tcp_reset(&mut self, skb: &Skb) {
        let Some(orig) = skb.ipv4().cloned() else {
            return;
        };
        let L4::Tcp(t) = &orig.payload else { return };
        let seg_len = t.payload.len() as u32
            + u32::from(t.flags.has(TcpFlags::SYN))
            + u32::from(t.flags.has(TcpFlags::FIN));
        let (seq, ack, flags) = if t.flags.has(TcpFlags::ACK) {
            (t.ack, 0, TcpFlags(TcpFlags::RST))
        } else {
            (
                0,
                t.seq.wrapping_add(seg_len),
                TcpFlags(TcpFlags::RST | TcpFlags::ACK),
            )
        };
        let resp = Ipv4 {
            tos: 0,
            ident: 0,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            ttl: self.world.ns(skb.ns).sysctl.default_ttl,
            src: orig.dst,
            dst: orig.src,
            payload: L4::Tcp(Tcp {
                sport: t.dport,
                dport: t.sport,
                seq,
                ack,
                flags,
                window: 0,
                options: Vec::new(),
                payload: Vec::new(),
            }),
        };
        let note = format!(
            "tcp_v4_send_reset: RST from {}:{} to {}:{}",
            orig.dst, t.dport, orig.src, t.sport
        );
        self.respond(skb, resp, "tcp_v4_send_reset", note);
    }

    fn respond(&mut self, skb: &Skb, ip: Ipv4, func: &'static str, note: String) {
        let resp = Skb {
            frame: Frame {
                dst: Mac::ZERO,
                src: Mac::ZERO,
                payload: L3::Ipv4(ip),
            },
            role: Role::Response,
            ..skb.clone()
        };
        self.record(&resp, skb.iif.or(Some(skb.dev)), func, StepKind::Icmp, note);
    }
}
