//! The sender's stub resolver: glibc's `getaddrinfo` -> `res_nsearch` -> `send_dg`.
//!
//! Each question is a UDP datagram to the nameserver of the pod's resolv.conf, the kube-dns
//! ClusterIP, from a socket of its own: glibc closes the socket after every query (no
//! `RES_STAYOPEN`), so each search domain tried is a new source port and a new conntrack
//! entry. The datagram is walked through the same world as any packet, so kube-proxy DNATs it
//! to a CoreDNS pod, and CoreDNS's reply is walked back through the reverse NAT to the
//! resolver's connected socket, which takes it only if it comes from the address it asked.
//! Only then does the program send its own packet. State stays: the neighbour entries and
//! conntrack entries the lookup made are there for the packet that follows.

use super::send::{L4Spec, SendReq};
use super::{Skb, Walk};
use crate::k8s::dns::{Lookup, Query, Reply};
use crate::net::{NsId, Socket};
use crate::resolve::{Sender, Target};
use crate::trace::{Disposition, DispositionKind, Role, StepKind};
use crate::wire::dns::RData;
use crate::wire::{IpProtocol, Ipv4Addr, L3, L4, Udp, UdpPayload};

impl Walk<'_> {
    /// The resolver's part of sending to `to`: for a DNS name, the lookup (walked as DNS
    /// packets, or one step that states the answers), then the address to send to. A name
    /// that does not resolve, or a lookup that gets no answer, ends the walk (Err).
    pub(super) fn lookup(
        &mut self,
        from: &Sender,
        to: &Target,
    ) -> Result<(Ipv4Addr, Option<u16>), Disposition> {
        let ns = from.ns;
        let probe = Skb::probe(ns);
        let Some(nl) = &to.lookup else {
            return to.addr.clone().map_err(|reason| {
                self.record(&probe, None, "getaddrinfo", StepKind::Drop, reason.clone());
                self.fate(&probe, None, DispositionKind::NoSuchName, reason)
            });
        };
        let server = match &nl.server {
            Ok(s) if self.world.dns_packets => Ok(*s),
            Ok(_) => Err("the short form was asked for (--dns short)".to_string()),
            Err(why) => Err(why.clone()),
        };
        let replies = match server {
            Ok(server) => {
                self.record(&probe, None, "getaddrinfo", StepKind::Socket, format!(
                    "the resolver looks up `{}`: {}; it asks for A records only (kpath models IPv4; glibc would ask AAAA too, on the same socket)",
                    nl.name, resolv_conf(&nl.lookup, Some(server.0))));
                let mut replies = Vec::new();
                for q in &nl.lookup.queries {
                    replies.push(self.exchange(from, server, q)?);
                }
                replies
            }
            Err(why) => {
                let replies: Vec<Reply> = nl
                    .lookup
                    .queries
                    .iter()
                    .map(|q| self.loadbalance(q))
                    .collect();
                self.record(
                    &probe,
                    None,
                    "getaddrinfo",
                    StepKind::Socket,
                    format!(
                        "the resolver ({}) asks: {}. Not walked as DNS packets: {why}",
                        resolv_conf(&nl.lookup, None),
                        answers(&nl.lookup.queries, &replies)
                    ),
                );
                replies
            }
        };
        let addr = replies.last().and_then(|r| r.addrs().first().copied());
        match (addr, &to.addr) {
            (Some(ip), Ok((_, port))) => {
                self.record(
                    &probe,
                    None,
                    "getaddrinfo",
                    StepKind::Socket,
                    format!(
                        "the answers: {}; getaddrinfo returns {ip}",
                        answers(&nl.lookup.queries, &replies)
                    ),
                );
                Ok((ip, *port))
            }
            (_, addr) => {
                let reason = match addr {
                    Err(r) => r.clone(),
                    Ok(_) => format!("`{}` does not resolve", nl.name),
                };
                self.record(&probe, None, "getaddrinfo", StepKind::Drop, reason.clone());
                Err(self.fate(&probe, None, DispositionKind::NoSuchName, reason))
            }
        }
    }

    /// One question and its answer, each walked: the query from a fresh socket of the
    /// sender's to `server`, and CoreDNS's reply from wherever the query was delivered.
    fn exchange(
        &mut self,
        from: &Sender,
        server: (Ipv4Addr, u16),
        q: &Query,
    ) -> Result<Reply, Disposition> {
        let ns = from.ns;
        let (lo, hi) = self.world.ns(ns).sysctl.local_port_range;
        let sport = self.world.range_u16(lo, hi);
        let query = q.message(self.world.next_u32() as u16);
        let ask = SendReq {
            ns,
            src: from.bound,
            dst: server.0,
            ttl: None,
            // A UDP socket's default, IP_PMTUDISC_WANT, sets DF on what fits the path MTU.
            pmtudisc: crate::net::Pmtudisc::Want,
            l4: L4Spec::Ready(L4::Udp(Udp {
                sport,
                dport: server.1,
                payload: UdpPayload::Dns(Box::new(query.clone())),
            })),
            func: "udp_sendmsg",
            what: format!(
                "the resolver in {} (glibc send_dg) asks the nameserver {}:{}: A? {}",
                self.ns_name(ns),
                server.0,
                server.1,
                q.name
            ),
            role: Role::Dns,
        };
        let (frame, next) = self.emit(ask);
        // connect() bound the socket to the route's source address; the reply must find it.
        let src = match &frame.payload {
            L3::Ipv4(ip) => ip.src,
            L3::Arp(_) => Ipv4Addr::UNSPECIFIED,
        };
        let sock = Socket {
            proto: IpProtocol::Udp,
            addr: src,
            port: sport,
            peer: Some(server),
            owner: from.owner.clone(),
        };
        self.world.ns_mut(ns).sockets.push(sock.clone());
        let result = self.ask_and_answer(ns, next, q, &query);
        self.world.ns_mut(ns).sockets.retain(|s| *s != sock);
        result
    }

    fn ask_and_answer(
        &mut self,
        ns: NsId,
        next: super::Next,
        q: &Query,
        query: &crate::wire::dns::Dns,
    ) -> Result<Reply, Disposition> {
        let start = self.steps.len();
        let asked = self.finish(next);
        if asked.kind != DispositionKind::Delivered {
            let then = if self.error_back(start) {
                "the ICMP error reaches the resolver's socket, send_dg gets ECONNREFUSED and there is no other nameserver"
            } else {
                "glibc waits 5 s, retries (attempts:2), then gives up"
            };
            return Err(failed(
                asked.clone(),
                format!(
                    "the DNS query for {} got no answer: {}; {then}: getaddrinfo fails with EAI_AGAIN",
                    q.name, asked.reason
                ),
            ));
        }
        // Where the query arrived, as the server sees it (after DNAT).
        let arrived = self
            .steps
            .iter()
            .rev()
            .find(|s| s.role == Role::Dns)
            .and_then(|s| match &s.packet.payload {
                L3::Ipv4(ip) => Some(ip.clone()),
                L3::Arp(_) => None,
            });
        let server_ns = self.world.ns_by_name(&asked.netns).map(|n| n.id);
        let (Some(ip), Some(server_ns)) = (arrived, server_ns) else {
            return Err(failed(asked, "the DNS query's arrival is not known".into()));
        };
        let L4::Udp(u) = &ip.payload else {
            return Err(failed(
                asked,
                "the DNS query arrived as no UDP datagram".into(),
            ));
        };
        let reply = self.loadbalance(q);
        let message = reply.message(query);
        let who = asked.socket.clone().unwrap_or_else(|| "the server".into());
        // RFC 1035 4.2.1: without EDNS0 (glibc sends none unless `options edns0`) a UDP
        // answer holds at most 512 bytes.
        let big = if message.len() > 512 {
            format!(
                "; the answer is {} bytes, more than the 512 a resolver without EDNS0 takes: CoreDNS would truncate it (TC) and the resolver ask again over TCP, which kpath does not walk, so it is sent whole",
                message.len()
            )
        } else {
            String::new()
        };
        let answer = SendReq {
            ns: server_ns,
            src: Some(ip.dst),
            dst: ip.src,
            ttl: None,
            pmtudisc: crate::net::Pmtudisc::Want,
            l4: L4Spec::Ready(L4::Udp(Udp {
                sport: u.dport,
                dport: u.sport,
                payload: UdpPayload::Dns(Box::new(message)),
            })),
            func: "udp_sendmsg",
            what: format!("{who} answers {} with {reply}: {}{big}", q.name, reply.how),
            role: Role::Dns,
        };
        let (_, next) = self.emit(answer);
        let back = self.finish(next);
        let home = self.ns_name(ns);
        if back.kind != DispositionKind::Delivered || back.netns != home {
            return Err(failed(
                back.clone(),
                format!(
                    "CoreDNS's answer for {} did not reach the resolver in {home}: {}; getaddrinfo times out (EAI_AGAIN)",
                    q.name, back.reason
                ),
            ));
        }
        Ok(reply)
    }

    /// Walk back the ICMP error a refused query caused (steps from `start` on), as the
    /// traced packet's are; true if it reached the resolver's socket.
    fn error_back(&mut self, start: usize) -> bool {
        let sent = self.steps[start..]
            .iter()
            .rev()
            .find(|s| s.role == Role::Response)
            .and_then(|s| match &s.packet.payload {
                L3::Ipv4(ip) => Some((s.netns.clone(), ip.clone())),
                L3::Arp(_) => None,
            });
        let Some((ns_name, ip)) = sent else {
            return false;
        };
        let Some(ns) = self.world.ns_by_name(&ns_name).map(|n| n.id) else {
            return false;
        };
        let what = format!(
            "the kernel of {ns_name} sends the ICMP error back to {}",
            ip.dst
        );
        let mut req = SendReq::ready(ns, ip, "icmp_send", what);
        req.role = Role::Dns;
        let (_, next) = self.emit(req);
        self.finish(next).kind == DispositionKind::Delivered
    }

    /// CoreDNS's `loadbalance` plugin (in kubeadm's Corefile) shuffles the A records of
    /// every answer, so the first address, the one a client connects to, is any of them
    /// with equal chance: a random choice of the walk.
    fn loadbalance(&mut self, q: &Query) -> Reply {
        let ips = q.reply.addrs();
        let n = ips.len();
        if n < 2 {
            return q.reply.clone();
        }
        let drawn = self.world.next_u32() as usize % n;
        let first = self.choices.pick(
            vec![1.0 / n as f64; n],
            ips.iter().map(|ip| ip.to_string()).collect(),
            drawn,
            format!(
                "CoreDNS's loadbalance plugin shuffles the A records of {}",
                q.name
            ),
        );
        let mut reply = q.reply.clone();
        let mut rotated = ips;
        rotated.rotate_left(first);
        let mut next = rotated.into_iter();
        for r in &mut reply.answers {
            if let RData::A(ip) = &mut r.data
                && let Some(v) = next.next()
            {
                *ip = v;
            }
        }
        reply
    }
}

/// The resolver's configuration, as kubelet writes a pod's resolv.conf.
fn resolv_conf(l: &Lookup, server: Option<Ipv4Addr>) -> String {
    let ns = match server {
        Some(ip) => format!("nameserver {ip} (the kube-dns Service)"),
        None => "nameserver: the kube-dns Service".to_string(),
    };
    format!("{ns}, search {}, ndots:5", l.search.join(" "))
}

/// `web.default.svc.cluster.local? A 10.96.0.20`, question by question.
fn answers(queries: &[Query], replies: &[Reply]) -> String {
    queries
        .iter()
        .zip(replies)
        .map(|(q, r)| format!("{}? {r}", q.name))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The lookup failed where `d` ended: nothing is sent.
fn failed(d: Disposition, reason: String) -> Disposition {
    Disposition {
        kind: DispositionKind::DnsFailed,
        reason,
        socket: None,
        ..d
    }
}
