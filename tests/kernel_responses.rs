//! What the kernel answers, and refuses, at the edges of the model: the source of an ICMP
//! error, a listening socket's reaction to odd TCP flags, a forwarded packet whose next hop
//! never answers ARP, TCP's MSS, oversized tunnel packets and per-packet randomness.

mod common;

use kpath_sim::net::{FdbEntry, LinkKind, Neigh, NudState, World};
use kpath_sim::trace::{DispositionKind, Role, Step, Trace};
use kpath_sim::wire::{Frame, IcmpMessage, Ipv4, L3, L4, Mac, TcpFlags};

/// The cross-node scenario with extra packets appended.
fn with_packets(extra: &str) -> kpath_sim::Scenario {
    let src = std::fs::read_to_string(common::scenario_path("pod-to-pod-cross-node")).unwrap();
    kpath_sim::load_scenario_str("t.yaml", &format!("{src}{extra}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn world(s: &kpath_sim::Scenario) -> World {
    kpath_sim::k8s::build_world(s.model(), 0).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &kpath_sim::Scenario, w: &World, name: &str) -> Trace {
    kpath_sim::run_packet(s, w, name).unwrap_or_else(|e| panic!("{e}"))
}

fn trace(extra: &str, name: &str) -> Trace {
    let s = with_packets(extra);
    run(&s, &world(&s), name)
}

fn ip(f: &Frame) -> &Ipv4 {
    match &f.payload {
        L3::Ipv4(ip) => ip,
        L3::Arp(_) => panic!("not IPv4"),
    }
}

fn responses(t: &Trace) -> Vec<&Step> {
    t.steps
        .iter()
        .filter(|s| s.role == Role::Response)
        .collect()
}

fn icmp_msg(s: &Step) -> IcmpMessage {
    match &ip(&s.packet).payload {
        L4::Icmp(i) => i.msg,
        other => panic!("not ICMP: {other:?}"),
    }
}

#[test]
fn port_unreachable_from_a_node_comes_from_the_address_that_was_targeted() {
    // __icmp_send: for a packet that was for this host (RTCF_LOCAL) the error's source is
    // the packet's own destination, not whatever address routes back to the sender.
    let t = trace(
        "  - {name: closed, from: pod/default/client, to: 'node/node-2:9999', protocol: udp, size: 10}\n",
        "closed",
    );
    assert_eq!(t.disposition.kind, DispositionKind::NoListener, "{t:#?}");
    assert_eq!(t.disposition.netns, "node-2");
    let r = responses(&t);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(
        icmp_msg(r[0]),
        IcmpMessage::DestUnreachable {
            code: 3,
            next_hop_mtu: 0
        }
    );
    assert_eq!(ip(&r[0].packet).src.to_string(), "172.31.0.12");
    assert!(r[0].note.contains("from 172.31.0.12"), "{}", r[0].note);
}

#[test]
fn port_unreachable_from_a_nodes_cni0_address_comes_from_that_address() {
    // The route back to the client is via flannel.1 (10.244.2.0), but the datagram was for
    // 10.244.2.1 (cni0): that is the source.
    let t = trace(
        "  - {name: closed, from: pod/default/client, to: '10.244.2.1:9999', protocol: udp, size: 10}\n",
        "closed",
    );
    assert_eq!(t.disposition.kind, DispositionKind::NoListener, "{t:#?}");
    let r = responses(&t);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(ip(&r[0].packet).src.to_string(), "10.244.2.1");
    assert_eq!(ip(&r[0].packet).dst.to_string(), "10.244.1.2");
}

#[test]
fn a_forwarded_packets_icmp_error_still_comes_from_the_route_back() {
    // ip_forward's time exceeded is about a packet for someone else: the source is chosen by
    // the route towards the sender (cni0's 10.244.1.1 on node-1).
    let t = trace(
        "  - {name: ttl1, from: pod/default/client, to: pod/default/server, protocol: icmp, ttl: 1}\n",
        "ttl1",
    );
    let r = responses(&t);
    assert_eq!(r.len(), 1);
    assert_eq!(ip(&r[0].packet).src.to_string(), "10.244.1.1");
}

/// A segment from node-2 to the server pod's listening port 80. (From the client pod, the
/// odd flag combinations would not get this far: conntrack marks them INVALID and
/// kube-proxy's KUBE-FORWARD drops INVALID packets on node-1.)
fn tcp_to_listener(flags: &str) -> Trace {
    trace(
        &format!(
            "  - {{name: seg, from: node/node-2, to: 'pod/default/server:80', protocol: tcp, flags: {flags}}}\n"
        ),
        "seg",
    )
}

#[test]
fn a_listening_socket_drops_fin_without_syn_silently() {
    let t = tcp_to_listener("[FIN]");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped, "{t:#?}");
    assert_eq!(t.disposition.netns, "default/server");
    assert!(responses(&t).is_empty(), "no RST for a FIN to a listener");
    assert!(
        t.disposition.reason.contains("LISTEN"),
        "{}",
        t.disposition.reason
    );
}

#[test]
fn a_listening_socket_drops_syn_fin_silently() {
    let t = tcp_to_listener("[SYN, FIN]");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped, "{t:#?}");
    assert!(responses(&t).is_empty(), "no RST for SYN+FIN");
    assert!(t.disposition.socket.is_none(), "SYN+FIN is not accepted");
}

#[test]
fn a_listening_socket_drops_a_segment_without_flags_silently() {
    let t = tcp_to_listener("[]");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped, "{t:#?}");
    assert!(responses(&t).is_empty());
}

#[test]
fn a_listening_socket_answers_an_ack_with_rst_seq_set_to_the_ack() {
    let t = tcp_to_listener("[ACK]");
    let sent_ack = match &ip(t.sent.as_ref().unwrap()).payload {
        L4::Tcp(tcp) => tcp.ack,
        _ => unreachable!(),
    };
    let r = responses(&t);
    assert_eq!(r.len(), 1, "{t:#?}");
    let L4::Tcp(rst) = &ip(&r[0].packet).payload else {
        panic!("not TCP")
    };
    assert_eq!(rst.flags, TcpFlags(TcpFlags::RST));
    assert_eq!(rst.seq, sent_ack);
    assert_eq!(t.disposition.kind, DispositionKind::NoListener);
}

#[test]
fn a_listening_socket_ignores_rst_and_accepts_syn() {
    let t = tcp_to_listener("[RST]");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped);
    assert!(responses(&t).is_empty());
    let t = tcp_to_listener("[SYN, PSH]");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered, "{t:#?}");
}

#[test]
fn a_forwarded_packet_whose_next_hop_never_answers_arp_gets_host_unreachable() {
    // neigh_invalidate -> arp_error_report -> ipv4_link_failure: ICMP host unreachable goes
    // back to the sender of the queued packet.
    let t = trace(
        "  - {name: ghost, from: pod/default/client, to: 10.244.2.77, protocol: icmp}\n",
        "ghost",
    );
    assert_eq!(t.disposition.kind, DispositionKind::NeighbourUnreachable);
    assert_eq!(
        (
            t.disposition.netns.as_str(),
            t.disposition.device.as_deref()
        ),
        ("node-2", Some("cni0"))
    );
    let r = responses(&t);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(r[0].func, "icmp_send");
    assert_eq!(r[0].netns, "node-2");
    assert_eq!(
        icmp_msg(r[0]),
        IcmpMessage::DestUnreachable {
            code: 1,
            next_hop_mtu: 0
        }
    );
    assert_eq!(ip(&r[0].packet).dst.to_string(), "10.244.1.2");
    // Recorded before the walk ends.
    let last = t.steps.last().unwrap();
    assert_eq!(last.func, "neigh_invalidate");
    assert!(r[0].index < last.index);
}

#[test]
fn a_locally_sent_packet_whose_next_hop_never_answers_fails_at_the_socket() {
    let t = trace(
        "  - {name: ghost, from: pod/default/client, to: 10.244.1.77, protocol: icmp}\n",
        "ghost",
    );
    assert_eq!(t.disposition.kind, DispositionKind::NeighbourUnreachable);
    assert_eq!(t.disposition.netns, "default/client");
    assert!(responses(&t).is_empty(), "no ICMP step for a local packet");
    assert!(
        t.disposition.reason.contains("EHOSTUNREACH"),
        "{}",
        t.disposition.reason
    );
}

#[test]
fn a_tcp_payload_larger_than_the_mss_is_refused_at_send() {
    // Pod MTU 1450: MSS 1410.
    let extra = "  - {name: big, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp, flags: [ACK], size: 1411}\n  - {name: fits, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp, flags: [ACK], size: 1410}\n  - {name: nodf, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp, flags: [ACK], size: 1411, df: false}\n";
    let s = with_packets(extra);
    let w = world(&s);
    for name in ["big", "nodf"] {
        let t = run(&s, &w, name);
        assert_eq!(
            t.disposition.kind,
            DispositionKind::MessageTooLong,
            "{name}"
        );
        assert_eq!(t.disposition.netns, "default/client");
        assert!(
            t.disposition.reason.contains("MSS 1410"),
            "{}",
            t.disposition.reason
        );
    }
    let t = run(&s, &w, "fits");
    assert_ne!(t.disposition.kind, DispositionKind::MessageTooLong);
    assert_eq!(t.disposition.netns, "default/server");
}

#[test]
fn a_datagram_too_big_for_the_tunnel_is_cut_before_it_and_put_together_after() {
    // Give the client a huge MTU, so its 65495-byte TCP datagram (DF clear) leaves the pod
    // whole: node-1 must cut it to flannel.1's MTU, and VXLAN wraps each piece on its own.
    let mut s = with_packets(
        "  - {name: huge, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp, flags: [ACK], size: 1000, df: false}\n",
    );
    let p = s
        .packets
        .iter_mut()
        .find(|p| p.name.value == "huge")
        .unwrap();
    p.size.as_mut().unwrap().value = 65455;
    let mut w = world(&s);
    let client = w.ns_by_name("default/client").unwrap().id;
    let eth0 = w.ns(client).link_by_name("eth0").unwrap().ifindex;
    w.ns_mut(client).link_mut(eth0).unwrap().mtu = 65535;
    // Both ends of the veth: the node's end takes no frame larger than its own MTU.
    let LinkKind::Veth { peer } = w.ns(client).link(eth0).unwrap().kind else {
        panic!("eth0 is a veth");
    };
    w.ns_mut(peer.ns).link_mut(peer.ifindex).unwrap().mtu = 65535;
    let t = run(&s, &w, "huge");
    assert_eq!(
        t.disposition.netns, "default/server",
        "{}",
        t.disposition.reason
    );
    let cut: Vec<&str> = t
        .steps
        .iter()
        .filter(|s| s.func == "ip_fragment")
        .map(|s| s.netns.as_str())
        .collect();
    assert_eq!(
        cut,
        ["node-1", "node-2"],
        "cut before flannel.1 and before cni0"
    );
    let encaps = t
        .steps
        .iter()
        .filter(|s| s.func == "vxlan_xmit_one")
        .count();
    assert_eq!(
        encaps,
        65495usize.div_ceil(1424),
        "one VXLAN packet per fragment"
    );
    for step in &t.steps {
        let bytes = step.packet.emit();
        if step.func == "vxlan_xmit_one" {
            assert!(
                bytes.len() <= 14 + 1500,
                "step {}: {} bytes",
                step.index,
                bytes.len()
            );
        }
        let back = Frame::parse(&bytes, &[8472]).expect("every step's bytes parse back");
        assert_eq!(back, step.packet, "step {}", step.index);
    }
}

#[test]
fn each_packet_draws_its_own_randomness() {
    let s = with_packets(
        "  - {name: ping2, from: pod/default/client, to: pod/default/server, protocol: icmp}\n  - {name: syn2, from: pod/default/client, to: 'pod/default/server:80', protocol: tcp}\n",
    );
    let w = world(&s);
    let id = |t: &Trace| match &ip(t.sent.as_ref().unwrap()).payload {
        L4::Icmp(i) => match i.msg {
            IcmpMessage::EchoRequest { ident, .. } => ident,
            _ => unreachable!(),
        },
        _ => unreachable!(),
    };
    let (a, b) = (run(&s, &w, "ping"), run(&s, &w, "ping2"));
    assert_ne!(id(&a), id(&b), "two pings share an ICMP id");
    assert_ne!(
        ip(a.sent.as_ref().unwrap()).ident,
        ip(b.sent.as_ref().unwrap()).ident,
        "two pings share an IP ID"
    );
    let ports = |t: &Trace| match &ip(t.sent.as_ref().unwrap()).payload {
        L4::Tcp(tcp) => (tcp.sport, tcp.seq),
        _ => unreachable!(),
    };
    let (c, d) = (run(&s, &w, "syn"), run(&s, &w, "syn2"));
    assert_ne!(ports(&c).0, ports(&d).0, "two connects share a source port");
    assert_ne!(ports(&c).1, ports(&d).1, "two connects share an ISN");
    // A packet's draws do not depend on which other packets the scenario has.
    let alone = with_packets("");
    let e = run(&alone, &world(&alone), "ping");
    assert_eq!(e.sent, a.sent);
}

#[test]
fn an_arp_reply_taken_up_by_the_wrong_host_does_not_resolve_the_asker() {
    // A duplicate MAC: the underlay switch's own br0 carries node-1's eth0 MAC, so node-2's
    // reply to node-1 goes up the switch's stack instead. node-1 is still waiting.
    let s = with_packets("");
    let mut w = world(&s);
    let n1 = w.ns_by_name("node-1").unwrap().id;
    let m1 = w.ns(n1).link_by_name("eth0").unwrap().mac;
    let sw = w.ns_by_name("underlay").unwrap().id;
    let br0 = w.ns(sw).link_by_name("br0").unwrap().ifindex;
    let l = w.ns_mut(sw).link_mut(br0).unwrap();
    l.mac = m1;
    if let LinkKind::Bridge(b) = &mut l.kind {
        b.fdb.push(FdbEntry {
            mac: m1,
            port: br0,
            local: true,
        });
    }
    let t = run(&s, &w, "ping");
    assert_eq!(
        t.disposition.kind,
        DispositionKind::NeighbourUnreachable,
        "{}",
        t.disposition.reason
    );
    assert_eq!(
        (
            t.disposition.netns.as_str(),
            t.disposition.device.as_deref()
        ),
        ("node-1", Some("eth0"))
    );
    assert!(
        t.steps
            .iter()
            .any(|s| s.netns == "underlay" && s.func == "arp_process"),
        "the switch's stack sees the reply"
    );
}

#[test]
fn a_failed_neighbour_entry_is_not_used() {
    // A FAILED entry with a stale lladdr must not be used: the kernel resolves again.
    let s = with_packets("");
    let mut w = world(&s);
    let c = w.ns_by_name("default/client").unwrap().id;
    let eth0 = w.ns(c).link_by_name("eth0").unwrap().ifindex;
    w.ns_mut(c).neigh.push(Neigh {
        ip: "10.244.1.1".parse().unwrap(),
        dev: eth0,
        lladdr: Some(Mac([2, 0, 0, 0, 0, 9])),
        state: NudState::Failed,
    });
    let t = run(&s, &w, "ping");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    assert_eq!(t.steps[2].func, "neigh_resolve_output");
}

#[test]
fn the_host_sending_to_its_bridges_own_mac_is_dropped_by_br_dev_xmit() {
    // br_dev_xmit finds the bridge's own address in the FDB: br_forward gets no port and
    // frees the frame.
    let s = with_packets("  - {name: self, from: node/node-1, to: 10.244.1.50, protocol: icmp}\n");
    let mut w = world(&s);
    let n1 = w.ns_by_name("node-1").unwrap().id;
    let cni0 = w.ns(n1).link_by_name("cni0").unwrap();
    let (ifindex, mac) = (cni0.ifindex, cni0.mac);
    w.ns_mut(n1).neigh.push(Neigh {
        ip: "10.244.1.50".parse().unwrap(),
        dev: ifindex,
        lladdr: Some(mac),
        state: NudState::Permanent,
    });
    let t = run(&s, &w, "self");
    assert_eq!(t.disposition.kind, DispositionKind::Dropped);
    let last = t.steps.last().unwrap();
    assert_eq!(last.func, "br_dev_xmit", "{t:#?}");
    assert!(
        t.disposition.reason.contains("own address"),
        "{}",
        t.disposition.reason
    );
}

/// The bridge-nf-call-iptables-off lesson with extra `sysctls:` for node-1.
fn bridged_off(sysctls: &str) -> Trace {
    let src =
        std::fs::read_to_string(common::scenario_path("bridge-nf-call-iptables-off")).unwrap();
    let src = src.replace(
        "    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}",
        &format!("    - {{name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24, sysctls: {{{sysctls}}}}}"),
    );
    let s = kpath_sim::load_scenario_str("t.yaml", &format!(
        "{src}packets:\n  - {{name: syn, from: pod/default/client, to: '10.96.0.20:80', protocol: tcp}}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    run(&s, &world(&s), "syn")
}

#[test]
fn a_packet_routed_back_out_its_own_device_gets_an_icmp_redirect_unless_send_redirects_is_off() {
    // ip_forward -> ip_rt_send_redirect: the SYN came in on cni0 and, DNATed to a pod on
    // the same bridge, leaves by cni0 again; its sender is on that link.
    let t = bridged_off("");
    let r = responses(&t);
    assert_eq!(r.len(), 1, "{:?}", t.disposition);
    assert_eq!(
        icmp_msg(r[0]),
        IcmpMessage::Redirect {
            code: 1,
            gateway: "10.244.1.3".parse().unwrap()
        }
    );
    let p = ip(&r[0].packet);
    assert_eq!(
        (p.src.to_string(), p.dst.to_string()),
        ("10.244.1.1".into(), "10.244.1.2".into())
    );
    // The redirect does not stop the packet: it is still forwarded to the web pod.
    assert!(t.steps.iter().any(|s| s.func == "ipt_do_table"
        && s.netns == "node-1"
        && s.nf.as_ref().is_some_and(|n| n.rule.chain == "FORWARD")));
    // send_redirects is all OR the device's: either one on keeps it.
    let t = bridged_off("net.ipv4.conf.all.send_redirects: 0");
    assert_eq!(responses(&t).len(), 1, "{:?}", t.disposition);
    let t =
        bridged_off("net.ipv4.conf.all.send_redirects: 0, net.ipv4.conf.cni0.send_redirects: 0");
    assert!(responses(&t).is_empty(), "{:?}", t.disposition);
}
