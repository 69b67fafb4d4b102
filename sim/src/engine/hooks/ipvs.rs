//! IPVS's netfilter hooks (`net/netfilter/ipvs/ip_vs_core.c`), registered in a namespace
//! once it has a virtual service: `ip_vs_in_hook` schedules requests to a virtual address
//! and hands them to `ip_vs_nat_xmit`, which rewrites the destination to the real server
//! and sends the packet out through LOCAL_OUT again (the packet is stolen from the hook it
//! arrived at); `ip_vs_out_hook` gives replies of a real server the virtual address back.
//! docs/design/ipvs.md sections 2.1-2.6 hold the facts, with their sources.

use super::super::nf_hook::{NfHookFn, NfHookOps, NfHookState, NfVerdict, Registrant};
use super::super::{Next, Skb, Walk};
use crate::ipvs::conn::{IpvsConn, Template};
use crate::ipvs::{Forward, Scheduler};
use crate::net::{Netns, RouteType, route};
use crate::netfilter::conntrack::Dir;
use crate::netfilter::{Family, Hook, priority};
use crate::trace::{DispositionKind, StepKind};
use crate::wire::{IcmpMessage, IpProtocol, Ipv4, Ipv4Addr, L4, TcpFlags};

/// What IPVS sees of a packet: protocol and ports. None for what it has no protocol for
/// (ICMP: `ip_vs_in_icmp` only handles errors about its own connections, which kpath does
/// not model).
struct Ports {
    proto: IpProtocol,
    sport: u16,
    dport: u16,
    /// A TCP SYN without RST: the only TCP packet that may start a connection
    /// (`tcp_conn_schedule`, with `sloppy_tcp` off).
    starts: bool,
}

fn ports(ip: &Ipv4) -> Option<Ports> {
    match &ip.payload {
        L4::Tcp(t) => Some(Ports {
            proto: IpProtocol::Tcp,
            sport: t.sport,
            dport: t.dport,
            starts: t.flags.has(TcpFlags::SYN) && !t.flags.has(TcpFlags::RST),
        }),
        L4::Udp(u) => Some(Ports {
            proto: IpProtocol::Udp,
            sport: u.sport,
            dport: u.dport,
            starts: true,
        }),
        // Conntrack's defragmentation ran first (PREROUTING and OUTPUT, -400): IPVS sees
        // whole datagrams.
        L4::Icmp(_) | L4::Fragment(_) => None,
    }
}

fn set_dst(ip: &mut Ipv4, addr: Ipv4Addr, port: u16) {
    ip.dst = addr;
    match &mut ip.payload {
        L4::Tcp(t) => t.dport = port,
        L4::Udp(u) => u.dport = port,
        L4::Icmp(_) | L4::Fragment(_) => {}
    }
}

fn set_src(ip: &mut Ipv4, addr: Ipv4Addr, port: u16) {
    ip.src = addr;
    match &mut ip.payload {
        L4::Tcp(t) => t.sport = port,
        L4::Udp(u) => u.sport = port,
        L4::Icmp(_) | L4::Fragment(_) => {}
    }
}

pub(super) struct IpVs;

struct InHook;
struct OutHook;

/// `ip_vs_ops4`, registered with a namespace's first virtual service
/// (`ip_vs_register_hooks`). `ip_vs_forward_icmp` (FORWARD 99) is not modelled.
impl Registrant for IpVs {
    fn register(&self, ns: &Netns, ops: &mut Vec<NfHookOps>) {
        // A node whose IPVS table is unknown still has IPVS's hooks: the walk must stop
        // where they would look a packet up.
        if ns.ipvs.is_none() && ns.unknowns.ipvs_table.is_none() {
            return;
        }
        let op = |hooknum, priority, name, hook: &'static dyn NfHookFn| NfHookOps {
            pf: Family::Ipv4,
            hooknum,
            priority,
            name,
            hook,
            private: 0,
        };
        ops.extend([
            // After packet filtering: replies of real servers get their virtual source
            // (NF_IP_PRI_NAT_SRC - 2), then requests are scheduled (NF_IP_PRI_NAT_SRC - 1).
            op(
                Hook::Input,
                priority::NAT_SRC - 2,
                "ip_vs_out_hook",
                &OutHook,
            ),
            op(Hook::Input, priority::NAT_SRC - 1, "ip_vs_in_hook", &InHook),
            // The node's own packets, after nat OUTPUT (NF_IP_PRI_NAT_DST + 1, + 2).
            op(
                Hook::Output,
                priority::NAT_DST + 1,
                "ip_vs_out_hook",
                &OutHook,
            ),
            op(
                Hook::Output,
                priority::NAT_DST + 2,
                "ip_vs_in_hook",
                &InHook,
            ),
            // Forwarded replies (bridged ones too, through br_netfilter).
            op(Hook::Forward, 100, "ip_vs_out_hook", &OutHook),
        ]);
    }
}

impl NfHookFn for InHook {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        match walk.ip_vs_in_hook(skb, state.hook) {
            Ok(()) => NfVerdict::Accept,
            Err(next) => NfVerdict::Stolen(*next),
        }
    }
}

impl NfHookFn for OutHook {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        walk.ip_vs_out_hook(skb, state.hook);
        NfVerdict::Accept
    }
}

impl Walk<'_> {
    /// `ip_vs_in_hook` (LOCAL_IN 99 for requests that arrived, LOCAL_OUT -98 for the node's
    /// own): find the packet's IPVS connection, or schedule a new one if the destination is
    /// a virtual service. Err: IPVS took the packet - sent on to the real server, or
    /// refused by `ip_vs_leave`.
    fn ip_vs_in_hook(&mut self, skb: &mut Skb, hook: Hook) -> Result<(), Box<Next>> {
        if skb.ipvs_property {
            return Ok(());
        }
        let Some(ip) = skb.ipv4().cloned() else {
            return Ok(());
        };
        let Some(p) = ports(&ip) else { return Ok(()) };
        let Some(ipvs) = self.world.ns(skb.ns).ipvs.as_ref() else {
            return self.ip_vs_table_unknown(skb, hook, &ip, &p);
        };
        let (src, dst) = ((ip.src, p.sport), (ip.dst, p.dport));
        if let Some(c) = ipvs.conns.in_get(p.proto, src, dst).cloned() {
            let note = format!(
                "ip_vs_conn_in_get: a packet of a known IPVS connection ({}), to the same real server",
                c.text()
            );
            self.ipvs_step(skb, hook, "ip_vs_in_hook", note, Some(&c));
            return self.ip_vs_nat_xmit(skb, hook, &c);
        }
        let Some(si) = ipvs.find(p.proto, ip.dst, p.dport) else {
            return Ok(());
        };
        let vs = format!("{}:{}/{}", ip.dst, p.dport, p.proto);
        if !p.starts {
            let note = format!(
                "{vs} is a virtual service, but this TCP packet is not a SYN and belongs to no IPVS connection: tcp_conn_schedule leaves it to the local stack"
            );
            self.ipvs_step(skb, hook, "ip_vs_in_hook", note, None);
            return Ok(());
        }
        let Some((daddr, dport, how)) = self.ip_vs_schedule(skb.ns, si, &ip, &p) else {
            // ip_vs_leave: no destination; ICMP port unreachable for TCP and UDP alike.
            self.icmp_error(
                skb,
                IcmpMessage::DestUnreachable {
                    code: 3,
                    next_hop_mtu: 0,
                },
            );
            let why = format!(
                "ip_vs_leave: the virtual service {vs} has no real server: ICMP port unreachable sent to {}, the packet dropped",
                ip.src
            );
            let d = self.drop_here(skb, None, "ip_vs_leave", DispositionKind::Rejected, why);
            return Err(Box::new(d));
        };
        let forward = self
            .world
            .ns(skb.ns)
            .ipvs
            .as_ref()
            .and_then(|v| {
                v.services[si]
                    .dests
                    .iter()
                    .find(|d| (d.addr, d.port) == (daddr, dport))
            })
            .map_or(Forward::Masq, |d| d.forward);
        let c = IpvsConn {
            proto: p.proto,
            caddr: ip.src,
            cport: p.sport,
            vaddr: ip.dst,
            vport: p.dport,
            daddr,
            dport,
            forward,
        };
        if let Some(ipvs) = self.world.ns_mut(skb.ns).ipvs.as_mut() {
            ipvs.conns.conns.push(c.clone());
            // A new TCP connection starts in SYN_RECV, an active state; UDP ones are
            // inactive (set_tcp_state, ip_vs_proto_udp) - what lc weighs.
            if let Some(d) = ipvs.services[si]
                .dests
                .iter_mut()
                .find(|d| (d.addr, d.port) == (daddr, dport))
            {
                if p.proto == IpProtocol::Tcp {
                    d.active += 1;
                } else {
                    d.inactive += 1;
                }
            }
        }
        let note = format!(
            "ip_vs_schedule: {vs} is a virtual service; {how} picks real server {daddr}:{dport}; ip_vs_conn_new: {}",
            c.text()
        );
        self.ipvs_step(skb, hook, "ip_vs_in_hook", note, Some(&c));
        self.ip_vs_nat_xmit(skb, hook, &c)
    }

    /// Without the IPVS table (`Unknowns::ipvs_table`): a packet that may be for a virtual
    /// service ends the walk undetermined; one the node's sets rule out goes on.
    fn ip_vs_table_unknown(
        &mut self,
        skb: &Skb,
        hook: Hook,
        ip: &Ipv4,
        p: &Ports,
    ) -> Result<(), Box<Next>> {
        let ns = self.world.ns(skb.ns);
        let Some(unknown) = ns.unknowns.ipvs_table.as_ref() else {
            return Ok(());
        };
        let mut known = Vec::new();
        let mut member = None;
        for (name, dirs, proto) in &unknown.candidate_sets {
            let Some(set) = ns.ipsets.iter().find(|s| &s.name == name) else {
                continue;
            };
            known.push(name.as_str());
            if proto.is_none_or(|x| x == p.proto) && set.test(ip, dirs) {
                member = Some(name.clone());
                break;
            }
        }
        let why = match (member, known.is_empty()) {
            (Some(set), _) => format!("it is in the set {set}"),
            (None, true) => "no set tells whether it is one".to_string(),
            (None, false) => return Ok(()),
        };
        let why = format!(
            "ip_vs_in_hook looks up a virtual service for {} {}:{} ({why}), but the IPVS table is not known: what IPVS does with the packet cannot be told",
            p.proto, ip.dst, p.dport
        );
        self.ipvs_step(skb, hook, "ip_vs_in_hook", why.clone(), None);
        Err(Box::new(Next::End(super::super::End::Fate(self.fate(
            skb,
            None,
            DispositionKind::Undetermined,
            why,
        )))))
    }

    /// `ip_vs_schedule`: a persistent service's template first (`ip_vs_sched_persist`),
    /// else the scheduler. Returns the real server and how it was chosen.
    fn ip_vs_schedule(
        &mut self,
        ns: crate::net::NsId,
        si: usize,
        ip: &Ipv4,
        p: &Ports,
    ) -> Option<(Ipv4Addr, u16, String)> {
        let ipvs = self.world.ns(ns).ipvs.as_ref()?;
        let svc = &ipvs.services[si];
        let persistent = svc.persistent;
        if persistent.is_some()
            && let Some(t) = ipvs.conns.template(p.proto, ip.src, ip.dst, p.dport)
            // ip_vs_check_template: the template's server must still be there, weight > 0.
            && svc
                .dests
                .iter()
                .any(|d| (d.addr, d.port) == (t.daddr, t.dport) && d.weight > 0)
        {
            let how = format!(
                "the persistence template of client {} (ClientIP affinity)",
                ip.src
            );
            return Some((t.daddr, t.dport, how));
        }
        let sched_name = svc.scheduler.name();
        let weights: Vec<u32> = svc.dests.iter().map(|d| d.weight).collect();
        let labels: Vec<String> = svc
            .dests
            .iter()
            .map(|d| format!("{}:{}", d.addr, d.port))
            .collect();
        // Round robin goes on from where it stands, which is world state: on a real node
        // nobody knows where that is before the first connection kpath sends. So the first
        // pick of a round-robin service is an enumerable choice (each server weighed by its
        // long-run share), and the picks after it follow from it.
        let first = svc.dests.iter().all(|d| d.active + d.inactive == 0);
        let round_robin = matches!(svc.scheduler, Scheduler::Rr { .. } | Scheduler::Wrr(_));
        let vs = format!("{}:{}", svc.addr, svc.port);
        let svc = &mut self.world.ns_mut(ns).ipvs.as_mut()?.services[si];
        let picked = svc.schedule(ip.src, p.sport)?;
        let mut chosen = picked;
        if round_robin && first {
            // rr takes every server with weight > 0 in turn (ip_vs_rr_schedule looks at no
            // other weight); wrr in proportion to the weights.
            let shares: Vec<u32> = match svc.scheduler {
                Scheduler::Rr { .. } => weights.iter().map(|w| u32::from(*w > 0)).collect(),
                _ => weights.clone(),
            };
            let total: u32 = shares.iter().sum();
            let options: Vec<f64> = shares
                .iter()
                .map(|w| f64::from(*w) / f64::from(total.max(1)))
                .collect();
            let what = format!("ip_vs_{sched_name}_schedule for {vs}");
            chosen = self.choices.pick(options, labels, picked, what);
            let svc = &mut self.world.ns_mut(ns).ipvs.as_mut()?.services[si];
            svc.scheduler.stand_on(chosen);
        }
        let svc = &mut self.world.ns_mut(ns).ipvs.as_mut()?.services[si];
        let d = svc.dests.get(chosen)?.clone();
        let how = match &svc.scheduler {
            Scheduler::Rr { .. } => format!(
                "rr (round robin, server {} of {})",
                chosen + 1,
                svc.dests.len()
            ),
            Scheduler::Wrr(_) => "wrr (weighted round robin)".to_string(),
            Scheduler::Lc => "lc (least connections)".to_string(),
            Scheduler::Sh => format!(
                "sh (source hash: {} falls in bucket {})",
                ip.src,
                crate::ipvs::sched::sh_bucket(ip.src)
            ),
            Scheduler::Mh(_) => format!("mh (Maglev hash of {}:{})", ip.src, p.sport),
        };
        if let Some(timeout) = svc.persistent {
            let ipvs = self.world.ns_mut(ns).ipvs.as_mut()?;
            ipvs.conns.templates.push(Template {
                proto: p.proto,
                caddr: ip.src,
                vaddr: ip.dst,
                vport: p.dport,
                daddr: d.addr,
                dport: d.port,
            });
            let how = format!(
                "{how}, and a persistence template keeps client {} there for {timeout} s",
                ip.src
            );
            return Some((d.addr, d.port, how));
        }
        Some((d.addr, d.port, how))
    }

    /// `ip_vs_nat_xmit` (and, unchanged packets aside, `ip_vs_dr_xmit` and
    /// `ip_vs_tunnel_xmit`): route to the real server (`__ip_vs_get_out_rt`), decrement the TTL
    /// (the packet is routed), rewrite the destination, tell conntrack the reply will come
    /// from the real server (`ip_vs_update_conntrack`), and send it through LOCAL_OUT from
    /// the start (`ip_vs_nat_send_or_cont`: NF_HOOK(LOCAL_OUT) and NF_STOLEN). A real
    /// server on this host keeps the packet on its way to the local stack instead.
    fn ip_vs_nat_xmit(&mut self, skb: &mut Skb, hook: Hook, c: &IpvsConn) -> Result<(), Box<Next>> {
        let Some(ip) = skb.ipv4().cloned() else {
            return Ok(());
        };
        // ip_vs_bind_xmit: the connection's forwarding method picks the transmitter. kube-proxy
        // programs Masq; a dump may hold the others, which send the packet on unchanged.
        let (func, nat) = match c.forward {
            Forward::Masq | Forward::Local => ("ip_vs_nat_xmit", true),
            Forward::Route => ("ip_vs_dr_xmit", false),
            Forward::Tunnel => ("ip_vs_tunnel_xmit", false),
        };
        let ns = self.world.ns(skb.ns);
        let Some(rt) = route::lookup(&ns.routes, c.daddr).cloned() else {
            let why = format!("{func}: no route to real server {}: dropped", c.daddr);
            return Err(Box::new(self.drop_here(
                skb,
                None,
                func,
                DispositionKind::NoRoute,
                why,
            )));
        };
        let local = rt.rtype == RouteType::Local;
        // "From world but DNAT to loopback address?": a packet that arrived may not be sent to
        // 127.0.0.0/8; and a 127/8 source may not leave the host.
        let refused = if local && c.daddr.is_loopback() && hook == Hook::Input {
            Some(format!(
                "{func}: stopping DNAT to loopback address {}: a packet from outside may not go to a 127.0.0.0/8 real server, dropped",
                c.daddr
            ))
        } else if ip.src.is_loopback() && !local {
            Some(format!(
                "{func}: a 127/8 source cannot leave for remote real server {} (crosses_local_route_boundary): dropped",
                c.daddr
            ))
        } else {
            None
        };
        if let Some(why) = refused {
            return Err(Box::new(self.drop_here(
                skb,
                None,
                func,
                DispositionKind::Dropped,
                why,
            )));
        }
        let mut ttl_note = String::new();
        if !local && nat {
            // decrement_ttl: the packet is routed to the real server.
            if ip.ttl <= 1 {
                self.icmp_error(skb, IcmpMessage::TimeExceeded { code: 0 });
                let why = format!(
                    "{func}: TTL {} would reach 0: dropped, ICMP time exceeded sent to {}",
                    ip.ttl, ip.src
                );
                return Err(Box::new(self.drop_here(
                    skb,
                    None,
                    func,
                    DispositionKind::TtlExceeded,
                    why,
                )));
            }
            let mtu = ns.link(rt.dev).map(|l| l.mtu).unwrap_or(65536);
            let len = ip.total_len();
            if ip.dont_frag && len > mtu as usize {
                self.icmp_error(
                    skb,
                    IcmpMessage::DestUnreachable {
                        code: 4,
                        next_hop_mtu: mtu as u16,
                    },
                );
                let why = format!(
                    "{func}: {len} bytes do not fit the MTU {mtu} towards {} and DF is set: dropped, ICMP fragmentation needed sent to {}",
                    c.daddr, ip.src
                );
                return Err(Box::new(self.drop_here(
                    skb,
                    None,
                    func,
                    DispositionKind::FragmentationNeeded,
                    why,
                )));
            }
            ttl_note = format!(", TTL {} -> {}", ip.ttl, ip.ttl - 1);
        }
        let rt_text = self.route_text(skb, &rt);
        if let Some(i) = skb.ipv4_mut().filter(|_| nat) {
            set_dst(i, c.daddr, c.dport);
            if !local {
                i.ttl -= 1;
            }
        }
        skb.ipvs_property = true;
        let ct_line = if nat {
            self.ip_vs_update_conntrack(skb, c)
        } else {
            None
        };
        let then = if local {
            "the real server is on this host: the packet goes on to the local stack".to_string()
        } else {
            format!("routed by {rt_text}; it is sent through LOCAL_OUT again (NF_STOLEN here)")
        };
        let note = if nat {
            format!(
                "{func}: destination {}:{} -> {}:{}{ttl_note}; {then}",
                c.vaddr, c.vport, c.daddr, c.dport
            )
        } else {
            format!(
                "{func}: {} forwarding to real server {}:{} sends the packet on unchanged (kpath does not model the {} itself); {then}",
                c.forward.name(),
                c.daddr,
                c.dport,
                if c.forward == Forward::Tunnel {
                    "IPIP encapsulation"
                } else {
                    "MAC rewrite"
                }
            )
        };
        let step = self.record(skb, Some(rt.dev), func, StepKind::Ipvs, note);
        step.hook = Some(hook);
        step.conntrack = ct_line;
        step.ipvs = Some(c.clone());
        if local {
            return Ok(());
        }
        let mut out = skb.clone();
        out.dev = rt.dev;
        Err(Box::new(Next::LocalOut(out, rt)))
    }

    /// `ip_vs_update_conntrack`: for a new (unconfirmed) connection in the original
    /// direction, the reply tuple's source becomes the real server - without a NAT status
    /// bit. Returns the conntrack line after the change.
    fn ip_vs_update_conntrack(&mut self, skb: &Skb, c: &IpvsConn) -> Option<String> {
        let r = skb.ct?;
        let conn = self
            .world
            .ns_mut(skb.ns)
            .conntrack
            .as_mut()?
            .get_mut(r.id)?;
        if r.dir == Dir::Original && !conn.confirmed {
            conn.reply.src = c.daddr;
            conn.reply.sport = c.dport;
            conn.ipvs = true;
        }
        Some(conn.text())
    }

    /// `ip_vs_out_hook` (FORWARD 100, LOCAL_IN 98, LOCAL_OUT -99): a reply from a real
    /// server of a known connection gets the virtual address and port back as its source
    /// (`handle_response` -> `tcp_snat_handler` / `udp_snat_handler`).
    fn ip_vs_out_hook(&mut self, skb: &mut Skb, hook: Hook) {
        if skb.ipvs_property {
            return;
        }
        let Some(ip) = skb.ipv4().cloned() else {
            return;
        };
        let Some(p) = ports(&ip) else {
            return self.ip_vs_out_icmp(skb, hook, &ip);
        };
        let Some(c) = self.world.ns(skb.ns).ipvs.as_ref().and_then(|v| {
            v.conns
                .out_get(p.proto, (ip.src, p.sport), (ip.dst, p.dport))
                .cloned()
        }) else {
            return;
        };
        if let Some(i) = skb.ipv4_mut() {
            set_src(i, c.vaddr, c.vport);
        }
        skb.ipvs_property = true;
        let note = format!(
            "ip_vs_conn_out_get finds {}: handle_response rewrites the source {}:{} -> {}:{}, the virtual service the client asked for",
            c.text(),
            c.daddr,
            c.dport,
            c.vaddr,
            c.vport
        );
        self.ipvs_step(skb, hook, "ip_vs_out_hook", note, Some(&c));
    }

    /// `ip_vs_out_icmp`: an ICMP error from a real server about a packet of a connection
    /// (say, port unreachable from the picked pod) is made to come from the virtual
    /// address, and the packet it quotes to have gone there (`ip_vs_nat_icmp`), so the
    /// client's socket recognises it.
    fn ip_vs_out_icmp(&mut self, skb: &mut Skb, hook: Hook, ip: &Ipv4) {
        let Some(q) = crate::netfilter::conntrack::quoted_tuple(ip) else {
            return;
        };
        let Some(c) = self.world.ns(skb.ns).ipvs.as_ref().and_then(|v| {
            v.conns
                .out_get(q.proto, (q.dst, q.dport), (q.src, q.sport))
                .cloned()
        }) else {
            return;
        };
        if let Some(i) = skb.ipv4_mut() {
            i.src = c.vaddr;
            crate::netfilter::conntrack::rewrite_quoted(i, None, Some((c.vaddr, c.vport)));
        }
        skb.ipvs_property = true;
        let note = format!(
            "ip_vs_out_icmp: an ICMP error about {}: ip_vs_nat_icmp makes it come from {} and quote {}:{} as the destination",
            c.text(),
            c.vaddr,
            c.vaddr,
            c.vport
        );
        self.ipvs_step(skb, hook, "ip_vs_out_icmp", note, Some(&c));
    }

    /// For `-m ipvs`: the virtual service of the IPVS connection whose request `skb` is,
    /// once IPVS sent it to the real server (xt_ipvs looks it up with `conn_out_get` on
    /// the inverted packet: client -> real server).
    pub(super) fn ipvs_request_of(&self, skb: &Skb) -> Option<(IpProtocol, Ipv4Addr, u16)> {
        if !skb.ipvs_property {
            return None;
        }
        let ip = skb.ipv4()?;
        let p = ports(ip)?;
        let c = self
            .world
            .ns(skb.ns)
            .ipvs
            .as_ref()?
            .conns
            .conns
            .iter()
            .find(|c| {
                c.proto == p.proto
                    && (c.caddr, c.cport) == (ip.src, p.sport)
                    && (c.daddr, c.dport) == (ip.dst, p.dport)
            })?;
        Some((c.proto, c.vaddr, c.vport))
    }

    fn ipvs_step(
        &mut self,
        skb: &Skb,
        hook: Hook,
        func: &'static str,
        note: String,
        conn: Option<&IpvsConn>,
    ) {
        let step = self.record(skb, None, func, StepKind::Ipvs, note);
        step.hook = Some(hook);
        step.ipvs = conn.cloned();
    }
}
