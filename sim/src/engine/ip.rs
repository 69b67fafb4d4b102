//! IPv4 (`net/ipv4/ip_input.c`, `ip_forward.c`, `ip_output.c`, `route.c`).

use super::{End, Next, Skb, Walk};
use crate::net::{LinkKind, Route, RouteType, route};
use crate::netfilter::{Family, Hook};
use crate::trace::{DispositionKind, StepKind};
use crate::wire::{IcmpMessage, Ipv4Addr};

impl Walk<'_> {
    /// `ip_rcv` -> NF_INET_PRE_ROUTING -> `ip_rcv_finish` -> `ip_route_input_noref`.
    pub(super) fn ip_rcv(&mut self, mut skb: Skb) -> Next {
        let dev = skb.dev;
        // ip_rcv_core clears the IP control block, frag_max_size with it.
        skb.frag_max_size = 0;
        let devn = self.dev_name(skb.ns, dev);
        let note = if skb.br_nf_prerouted {
            format!(
                "IPv4 packet received on {devn}; PREROUTING already ran in br_netfilter, so ip_sabotage_in skips it"
            )
        } else {
            format!("IPv4 packet received on {devn}")
        };
        self.record(&skb, Some(dev), "ip_rcv", StepKind::Routing, note);
        if let Err(d) = self.nf_hook(Family::Ipv4, Hook::Prerouting, &mut skb, Some(dev), None) {
            return *d;
        }
        skb.br_nf_prerouted = false;
        skb.iif = Some(dev);
        self.ip_route_input(skb)
    }

    fn ip_route_input(&mut self, skb: Skb) -> Next {
        let Some(ip) = skb.ipv4() else {
            return self.drop_here(
                &skb,
                None,
                "ip_route_input_noref",
                DispositionKind::Dropped,
                "not IPv4".into(),
            );
        };
        let (src, dst) = (ip.src, ip.dst);
        // A packet lo hands back still carries the route it was sent by (ip_rcv_finish_core
        // skips the lookup when skb_dst is set): no martian or rp_filter checks for it.
        let from_lo = self
            .world
            .ns(skb.ns)
            .link(skb.dev)
            .is_some_and(|l| matches!(l.kind, LinkKind::Loopback));
        if !from_lo && let Some(why) = self.martian(&skb, src, dst) {
            return self.drop_here(
                &skb,
                skb.iif,
                "ip_route_input_slow",
                DispositionKind::Dropped,
                why,
            );
        }
        let ns = self.world.ns(skb.ns);
        let rt = route::lookup(&ns.routes, dst).cloned();
        let forwarding = ns.sysctl.ip_forward;
        // ip_route_input_slow validates the source for local and broadcast delivery, and in
        // __mkroute_input for forwarding, which it reaches only with forwarding on.
        let validated = rt
            .as_ref()
            .is_some_and(|r| r.rtype != RouteType::Unicast || forwarding);
        if !from_lo
            && validated
            && let Some(why) = self.fib_validate_source(&skb, src)
        {
            return self.drop_here(
                &skb,
                skb.iif,
                "fib_validate_source",
                DispositionKind::Dropped,
                why,
            );
        }
        match rt {
            None => {
                let note = format!("no route to {dst}: ip_error sends ICMP network unreachable");
                self.icmp_error(
                    &skb,
                    IcmpMessage::DestUnreachable {
                        code: 0,
                        next_hop_mtu: 0,
                    },
                );
                self.drop_here(
                    &skb,
                    skb.iif,
                    "ip_route_input_slow",
                    DispositionKind::NoRoute,
                    note,
                )
            }
            Some(r) => match r.rtype {
                RouteType::Local => {
                    self.record(
                        &skb,
                        skb.iif,
                        "ip_route_input_noref",
                        StepKind::Routing,
                        format!("{dst} is a local address (table local): deliver here"),
                    );
                    Next::LocalDeliver(skb)
                }
                // RTN_BROADCAST: ip_route_input_slow's brd_input delivers locally too.
                // (Scenario validation keeps broadcast destinations out; a hand-built world
                // can still send one.)
                RouteType::Broadcast => {
                    self.record(
                        &skb,
                        skb.iif,
                        "ip_route_input_noref",
                        StepKind::Routing,
                        format!("{dst} is a broadcast address here (table local): deliver here"),
                    );
                    Next::LocalDeliver(skb)
                }
                RouteType::Unicast => self.ip_route_input_forward(skb, r, dst, forwarding),
            },
        }
    }

    /// `ip_route_me_harder`, called by nat OUTPUT when it changed a local packet's
    /// destination: route it again from its (kept) source; the new route is the one it
    /// leaves by (`skb_dst_set`), and a failure drops it (`NF_DROP_ERR`).
    pub(super) fn ip_route_me_harder(&mut self, skb: &mut Skb) -> super::nf_hook::NfVerdict {
        use super::nf_hook::NfVerdict;
        let Some((src, now)) = skb.ipv4().map(|i| (i.src, i.dst)) else {
            return NfVerdict::Accept;
        };
        let drop = |walk: &mut Self, skb: &Skb, dev, kind, why: String| match walk.drop_here(
            skb,
            dev,
            "ip_route_me_harder",
            kind,
            why,
        ) {
            Next::End(super::End::Fate(d)) => NfVerdict::Drop(d),
            next => NfVerdict::Stolen(next),
        };
        let Some(nrt) = route::lookup(&self.world.ns(skb.ns).routes, now).cloned() else {
            return drop(
                self,
                skb,
                Some(skb.dev),
                DispositionKind::NoRoute,
                format!("DNAT moved the destination to {now}, and there is no route to it"),
            );
        };
        if nrt.rtype != RouteType::Local
            && let Some(why) = self.localnet_out(skb.ns, src, nrt.dev)
        {
            return drop(
                self,
                skb,
                Some(nrt.dev),
                DispositionKind::Dropped,
                format!(
                    "DNAT moved the destination to {now}, off this host: {why}; nf_nat_ipv4_local_fn drops the packet (NF_DROP, -EINVAL), and a TCP connect() retransmits its SYN until it times out"
                ),
            );
        }
        let text = self.route_text(skb, &nrt);
        self.record(
            skb,
            Some(nrt.dev),
            "ip_route_me_harder",
            StepKind::Routing,
            format!("the destination changed in nat OUTPUT: route again at once, {now} via {text}"),
        );
        skb.dev = if nrt.rtype == RouteType::Local {
            self.world
                .ns(skb.ns)
                .link_by_name("lo")
                .map(|l| l.ifindex)
                .unwrap_or(nrt.dev)
        } else {
            nrt.dev
        };
        self.rerouted = Some(nrt);
        NfVerdict::Accept
    }

    /// `__mkroute_output`: a 127.0.0.0/8 source may leave only through lo, unless the output
    /// device allows it (route_localnet, `all` or its own). Some(why) when refused (-EINVAL).
    pub(super) fn localnet_out(
        &self,
        ns: crate::net::NsId,
        src: Ipv4Addr,
        out: crate::net::IfIndex,
    ) -> Option<String> {
        let n = self.world.ns(ns);
        let dev = self.dev_name(ns, out);
        let lo = n
            .link(out)
            .is_some_and(|l| matches!(l.kind, LinkKind::Loopback));
        if !src.is_loopback() || lo || n.sysctl.route_localnet(&dev) {
            return None;
        }
        Some(format!(
            "the source {src} may not leave through {dev} while net.ipv4.conf.{}.route_localnet=0 (and all=0): __mkroute_output refuses the route",
            dev.replace('.', "/")
        ))
    }

    /// `ip_route_input_slow`'s martian checks: 127.0.0.0/8 is not routed off lo unless the
    /// input device allows it (route_localnet, `all` or its own); the destination is checked
    /// first.
    fn martian(&self, skb: &Skb, src: Ipv4Addr, dst: Ipv4Addr) -> Option<String> {
        if !dst.is_loopback() && !src.is_loopback() {
            return None;
        }
        let ns = self.world.ns(skb.ns);
        let dev = ns.link(skb.dev).map_or("", |l| l.name.as_str());
        if ns.sysctl.route_localnet(dev) {
            return None;
        }
        let knob = format!(
            "net.ipv4.conf.{}.route_localnet=0 (and all=0)",
            dev.replace('.', "/")
        );
        Some(if dst.is_loopback() {
            format!(
                "martian destination {dst} from {src} on {dev}: 127.0.0.0/8 arrives from outside lo and {knob}; ip_route_input_slow drops it"
            )
        } else {
            format!(
                "martian source {src} for {dst} on {dev}: 127.0.0.0/8 arrives from outside lo and {knob}; ip_route_input_slow drops it"
            )
        })
    }

    /// `fib_validate_source`: rp_filter (the larger of `all` and the input device's) 0 lets
    /// anything in but a source that is this namespace's own address; 1 (strict) wants the
    /// route back to the source to leave through the input device, 2 (loose) any route back.
    /// One route lookup per routed packet, and no allocation unless it refuses.
    fn fib_validate_source(&self, skb: &Skb, src: Ipv4Addr) -> Option<String> {
        if src.is_unspecified() {
            return None;
        }
        let ns = self.world.ns(skb.ns);
        let dev = ns.link(skb.dev).map_or("", |l| l.name.as_str());
        let rpf = ns.sysctl.rp_filter(dev);
        let back = route::lookup(&ns.routes, src);
        // rp_filter 0 only asks whether a device holds the address (inet_lookup_ifaddr_rcu:
        // the address's own local route, not the rest of 127.0.0.0/8); the full check
        // refuses whatever the route back calls local.
        let own = back.is_some_and(|r| match rpf {
            0 => r.rtype == RouteType::Local && (r.dst.prefix == 32 || r.dst.addr == src),
            _ => matches!(r.rtype, RouteType::Local | RouteType::Broadcast),
        });
        if own {
            return Some(format!(
                "martian source {src} on {dev}: it is an address of this namespace, so fib_validate_source refuses it (-EINVAL)"
            ));
        }
        let knob = || {
            format!(
                "rp_filter={rpf} on {dev} (the larger of net.ipv4.conf.all and net.ipv4.conf.{})",
                dev.replace('.', "/")
            )
        };
        match (rpf, back) {
            (0, _) => None,
            (_, None) => Some(format!(
                "{}: no route back to {src}, so the reverse-path check fails (-EXDEV, IPReversePathFilter)",
                knob()
            )),
            (_, Some(r)) if r.dev == skb.dev => None,
            (2, Some(_)) => None,
            (_, Some(r)) => Some(format!(
                "{} is strict: the route back to {src} leaves through {}, not {dev} (-EXDEV, IPReversePathFilter)",
                knob(),
                self.dev_name(skb.ns, r.dev)
            )),
        }
    }

    /// The unicast branch of `ip_route_input_slow`: forward, if forwarding is on.
    fn ip_route_input_forward(
        &mut self,
        skb: Skb,
        r: Route,
        dst: Ipv4Addr,
        forwarding: bool,
    ) -> Next {
        if !forwarding {
            return self.drop_here(
                &skb,
                skb.iif,
                "ip_route_input_slow",
                DispositionKind::NoRoute,
                format!("{dst} is not local and net.ipv4.ip_forward=0: not forwarded"),
            );
        }
        let text = self.route_text(&skb, &r);
        self.record(
            &skb,
            skb.iif,
            "ip_route_input_noref",
            StepKind::Routing,
            format!("{dst}: forward by {text}"),
        );
        Next::Forward(skb, r)
    }

    /// A route as `ip route` prints it.
    pub(super) fn route_text(&self, skb: &Skb, r: &Route) -> String {
        let via = r.via.map(|g| format!(" via {g}")).unwrap_or_default();
        let onlink = if r.onlink { " onlink" } else { "" };
        let dst = if r.dst.prefix == 0 {
            "default".to_string()
        } else {
            r.dst.to_string()
        };
        format!("{dst}{via} dev {}{onlink}", self.dev_name(skb.ns, r.dev))
    }

    /// `ip_forward`: TTL check, MTU check (before the decrement, so an ICMP error quotes the
    /// TTL as it arrived), `ip_decrease_ttl`, then NF_INET_FORWARD.
    pub(super) fn ip_forward(&mut self, mut skb: Skb, rt: Route) -> Next {
        let Some(ip) = skb.ipv4().cloned() else {
            return Next::Output(skb, rt);
        };
        let out = rt.dev;
        let outn = self.dev_name(skb.ns, out);
        if ip.ttl <= 1 {
            self.icmp_error(&skb, IcmpMessage::TimeExceeded { code: 0 });
            return self.drop_here(
                &skb,
                skb.iif,
                "ip_forward",
                DispositionKind::TtlExceeded,
                format!(
                    "TTL {} would reach 0: dropped, ICMP time exceeded sent to {}",
                    ip.ttl, ip.src
                ),
            );
        }
        let mtu = self
            .world
            .ns(skb.ns)
            .link(out)
            .map(|l| l.mtu)
            .unwrap_or(65536);
        let len = ip.total_len();
        // ip_exceeds_mtu: only with DF; a reassembled datagram counts by its largest
        // fragment (frag_max_size), since it will leave cut as it came.
        let fms = usize::from(skb.frag_max_size);
        let exceeds = len > mtu as usize && ip.dont_frag && (fms > mtu as usize || !skb.ignore_df);
        if exceeds {
            self.icmp_error(
                &skb,
                IcmpMessage::DestUnreachable {
                    code: 4,
                    next_hop_mtu: mtu as u16,
                },
            );
            return self.drop_here(&skb, skb.iif, "ip_forward", DispositionKind::FragmentationNeeded,
                format!("{len} bytes do not fit {outn}'s MTU {mtu} and DF is set: dropped, ICMP fragmentation needed (mtu {mtu}) sent to {}", ip.src));
        }
        if let Some(i) = skb.ipv4_mut() {
            i.ttl -= 1;
        }
        self.record(
            &skb,
            skb.iif,
            "ip_forward",
            StepKind::Routing,
            format!("forward out {outn}: TTL {} -> {}", ip.ttl, ip.ttl - 1),
        );
        self.ip_rt_send_redirect(&skb, &rt);
        if let Err(d) = {
            let iif = skb.iif;
            self.nf_hook(Family::Ipv4, Hook::Forward, &mut skb, iif, Some(out))
        } {
            return *d;
        }
        skb.dev = out;
        Next::Output(skb, rt)
    }

    /// `__ip_local_out`: NF_INET_LOCAL_OUT for a packet this namespace generated.
    pub(super) fn ip_local_out(&mut self, mut skb: Skb, rt: Route) -> Next {
        self.rerouted = None;
        if let Err(d) = {
            let dev = skb.dev;
            self.nf_hook(Family::Ipv4, Hook::Output, &mut skb, None, Some(dev))
        } {
            return *d;
        }
        // nat OUTPUT routed the packet again (ip_route_me_harder) when it changed the
        // destination: it goes out by that route.
        if let Some(nrt) = self.rerouted.take() {
            return Next::Output(skb, nrt);
        }
        Next::Output(skb, rt)
    }

    /// `ip_output` -> NF_INET_POST_ROUTING -> `ip_finish_output` -> `ip_finish_output2`.
    pub(super) fn ip_output(&mut self, mut skb: Skb, rt: Route) -> Next {
        let out = skb.dev;
        if let Err(d) = {
            let iif = skb.iif;
            self.nf_hook(Family::Ipv4, Hook::Postrouting, &mut skb, iif, Some(out))
        } {
            return *d;
        }
        let Some(ip) = skb.ipv4().cloned() else {
            return Next::Xmit(skb);
        };
        let mtu = self
            .world
            .ns(skb.ns)
            .link(out)
            .map_or(65536, |l| l.mtu as usize);
        let len = ip.total_len();
        let fms = usize::from(skb.frag_max_size);
        // ip_finish_output: too big for the device, or reassembled from smaller pieces than
        // that (frag_max_size): ip_fragment. DF stops it there, unless the skb may ignore DF
        // and came in no larger than the MTU.
        let cut = if fms != 0 { mtu.min(fms) } else { mtu };
        if len <= cut {
            return self.ip_finish_output2(skb, &rt);
        }
        let outn = self.dev_name(skb.ns, out);
        if ip.dont_frag && (!skb.ignore_df || fms > mtu) {
            self.icmp_error(
                &skb,
                IcmpMessage::DestUnreachable {
                    code: 4,
                    next_hop_mtu: mtu as u16,
                },
            );
            return self.drop_here(&skb, Some(out), "ip_fragment", DispositionKind::FragmentationNeeded,
                format!("{len} bytes do not fit {outn}'s MTU {mtu} and DF is set: dropped, ICMP fragmentation needed (mtu {mtu}) sent to {}", ip.src));
        }
        let why = if len > mtu {
            let df = if ip.dont_frag {
                "DF is set, but the datagram may be fragmented here (ignore_df)"
            } else {
                "DF is clear"
            };
            format!("{len} bytes exceed {outn}'s MTU {mtu} and {df}")
        } else {
            format!(
                "the datagram was reassembled from fragments of at most {fms} bytes (frag_max_size), so ip_do_fragment cuts it again no larger than it came"
            )
        };
        self.send_fragments(skb, cut, "ip_fragment", why, |w, s| {
            w.ip_finish_output2(s, &rt)
        })
    }

    /// `ip_finish_output2`: find the next hop's neighbour and hand the frame to the device.
    fn ip_finish_output2(&mut self, mut skb: Skb, rt: &Route) -> Next {
        let out = skb.dev;
        let Some(dst) = skb.ipv4().map(|i| i.dst) else {
            return Next::Xmit(skb);
        };
        let ns = self.world.ns(skb.ns);
        let noarp = ns.link(out).is_some_and(|l| match l.kind {
            LinkKind::Loopback => true,
            // A node rebuilt from its whole dump has its neighbour table: an uplink finds
            // its next hop there. Around a ruleset alone, the neighbours lie beyond the model.
            LinkKind::Uplink { .. } => !ns.unknowns.neighbours,
            _ => false,
        });
        if noarp {
            // lo is IFF_NOARP: no neighbour, no MAC addresses.
            return Next::Xmit(skb);
        }
        let nexthop = rt.via.unwrap_or(dst);
        match self.neigh_output(&mut skb, out, nexthop) {
            Ok(()) => Next::Xmit(skb),
            Err(d) => Next::End(End::Fate(d)),
        }
    }
}
