//! Facts measured on a real kernel (a flannel-style cluster in network namespaces, see
//! shared/lab/cluster.sh), each pinned as a test of the simulated trace.

mod common;

use common::*;
use kpath_sim::netfilter::eval::HitAction;
use kpath_sim::trace::{DispositionKind, StepKind};
use kpath_sim::wire::Frame;

#[test]
fn cross_node_ping_ttl_is_64_then_63_in_the_tunnel_then_62_at_the_pod() {
    let t = trace("pod-to-pod-cross-node", "ping");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    assert_eq!(t.disposition.netns, "default/server");
    let sent = crossings(&t)
        .first()
        .map(|(_, s)| ipv4(&s.packet).unwrap().ttl);
    assert_eq!(sent, Some(64), "the pod sends with TTL 64");
    let outer: Vec<_> = crossings(&t)
        .into_iter()
        .filter_map(|(_, s)| vxlan(&s.packet))
        .collect();
    assert!(
        !outer.is_empty(),
        "the packet crosses the underlay encapsulated"
    );
    for (o, v) in &outer {
        assert_eq!(o.ttl, 64, "outer TTL");
        assert_eq!(ipv4(&v.inner).unwrap().ttl, 63, "inner TTL on the underlay");
    }
    let last = t.packet_steps().last().unwrap();
    assert_eq!(last.func, "icmp_echo");
    assert_eq!(ipv4(&last.packet).unwrap().ttl, 62, "TTL on arrival");
}

#[test]
fn same_node_ping_is_bridged_and_arrives_with_ttl_64() {
    let t = trace("pod-to-pod-same-node", "ping");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    assert_eq!(
        ipv4(&t.packet_steps().last().unwrap().packet).unwrap().ttl,
        64
    );
    assert!(
        t.packet_steps().any(|s| s.func == "br_forward"),
        "cni0 forwards the frame"
    );
    assert!(
        !t.packet_steps().any(|s| s.func == "ip_forward"),
        "no routing on the way"
    );
}

#[test]
fn a_56_byte_ping_is_a_98_byte_frame_and_a_148_byte_underlay_frame() {
    let t = trace("pod-to-pod-cross-node", "ping");
    let frames: Vec<(&str, &Frame)> = crossings(&t)
        .into_iter()
        .map(|(w, s)| (w, &s.packet))
        .collect();
    let (inner, outer): (Vec<_>, Vec<_>) = frames.iter().partition(|(_, f)| vxlan(f).is_none());
    assert!(
        inner.iter().all(|(_, f)| f.emit().len() == 98),
        "every unencapsulated crossing is 98 bytes"
    );
    assert!(!outer.is_empty());
    for (w, f) in outer {
        assert_eq!(f.emit().len(), 148, "underlay frame on {w}");
    }
}

#[test]
fn vxlan_outer_headers_are_as_flannel_and_the_kernel_write_them() {
    let (_, world) = load("pod-to-pod-cross-node");
    let t = trace("pod-to-pod-cross-node", "ping");
    let (_, step) = crossings(&t)
        .into_iter()
        .find(|(_, s)| vxlan(&s.packet).is_some())
        .expect("an underlay crossing");
    let bytes = step.packet.emit();
    // Ethernet 14 + IPv4 20: UDP header at 34, VXLAN header at 42, inner frame at 50.
    assert_eq!(
        u16::from_be_bytes([bytes[36], bytes[37]]),
        8472,
        "outer UDP destination port"
    );
    let sport = u16::from_be_bytes([bytes[34], bytes[35]]);
    assert!(
        (32768..61000).contains(&sport),
        "source port {sport} is in ip_local_port_range"
    );
    assert_ne!(
        u16::from_be_bytes([bytes[40], bytes[41]]),
        0,
        "outer UDP checksum is computed"
    );
    assert_eq!(
        &bytes[42..50],
        &[0x08, 0, 0, 0, 0, 0, 0x01, 0],
        "VXLAN header, VNI 1"
    );
    // Frame::parse verifies every checksum, outer and inner.
    Frame::parse(&bytes, &[8472]).expect("the underlay frame parses with valid checksums");
    let mac = |ns: &str| {
        world
            .ns_by_name(ns)
            .unwrap()
            .link_by_name("flannel.1")
            .unwrap()
            .mac
            .0
    };
    assert_eq!(
        &bytes[50..56],
        &mac("node-2"),
        "inner destination: node-2's flannel.1"
    );
    assert_eq!(
        &bytes[56..62],
        &mac("node-1"),
        "inner source: node-1's flannel.1"
    );
    // Outer IPv4: DF clear, TTL 64 (flannel.1 is `ttl auto`, `df unset`).
    assert_eq!(bytes[20] & 0x40, 0, "outer DF clear");
}

/// The (hook, table, input device) of each netfilter step of the traced packet in `ns`,
/// consecutive repeats (several rules of one table walk) folded into one.
fn hook_walk(t: &kpath_sim::trace::Trace, ns: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in t.packet_steps().filter(|s| s.netns == ns) {
        let Some(n) = &s.nf else { continue };
        let item = format!(
            "{} {} {}",
            n.hook.chain(),
            n.rule.table.name(),
            n.iif.as_deref().unwrap_or("-")
        );
        if out.last() != Some(&item) {
            out.push(item);
        }
    }
    out
}

#[test]
fn bridged_then_routed_frames_run_prerouting_once() {
    // br_netfilter runs PREROUTING at the bridge; ip_sabotage_in stops the second run when
    // the bridge passes the frame up. iptables sees cni0 as -i.
    let t = trace("pod-to-pod-cross-node", "ping");
    let walk = hook_walk(&t, "node-1");
    let pre: Vec<&String> = walk
        .iter()
        .filter(|w| w.starts_with("PREROUTING"))
        .collect();
    assert_eq!(
        pre,
        ["PREROUTING mangle cni0", "PREROUTING nat cni0"],
        "{walk:?}"
    );
    let ip_rcv = t
        .packet_steps()
        .position(|s| s.netns == "node-1" && s.func == "ip_rcv")
        .unwrap();
    let br_nf = t
        .packet_steps()
        .position(|s| s.netns == "node-1" && s.func == "br_nf_pre_routing")
        .unwrap();
    assert!(br_nf < ip_rcv);
}

#[test]
fn the_receiving_node_walks_input_for_the_outer_packet_then_forward_for_the_inner() {
    let t = trace("pod-to-pod-cross-node", "ping");
    assert_eq!(
        hook_walk(&t, "node-2"),
        [
            "PREROUTING mangle eth0",
            "PREROUTING nat eth0",
            "INPUT mangle eth0",
            "INPUT filter eth0",
            "INPUT nat eth0",
            "PREROUTING mangle flannel.1",
            "PREROUTING nat flannel.1",
            "FORWARD mangle flannel.1",
            "FORWARD filter flannel.1",
            "POSTROUTING mangle flannel.1",
            "POSTROUTING nat flannel.1",
        ]
    );
    // As the kernel showed: the outer packet's nat PREROUTING walk reaches KUBE-SERVICES'
    // last rule (the node address is LOCAL) and KUBE-NODEPORTS, which has nothing for 8472.
    assert!(t.packet_steps().any(|s| {
        s.netns == "node-2"
            && s.nf.as_ref().is_some_and(|n| {
                n.rule.chain == "KUBE-SERVICES"
                    && n.action == HitAction::Jump("KUBE-NODEPORTS".into())
            })
    }));
}

#[test]
fn first_packet_arps_for_the_gateway_the_remote_node_and_the_pod_in_that_order() {
    let t = trace("pod-to-pod-cross-node", "ping");
    let asked: Vec<String> = t
        .steps
        .iter()
        .filter(|s| s.func == "arp_solicit")
        .map(|s| {
            format!(
                "{} {} {}",
                s.netns,
                s.device.as_deref().unwrap_or(""),
                common::ipv4_target(&s.packet)
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            "default/client eth0 10.244.1.1",
            "node-1 eth0 172.31.0.12",
            "node-2 cni0 10.244.2.2"
        ]
    );
    assert!(
        !t.steps
            .iter()
            .any(|s| s.func == "arp_solicit" && s.device.as_deref() == Some("flannel.1")),
        "flannel.1's neighbours are permanent: no ARP on the overlay"
    );
}

#[test]
fn oversized_df_packet_gets_fragmentation_needed_from_the_node_with_mtu_1450() {
    let t = trace("mtu-too-big", "ping-1472");
    assert_eq!(t.disposition.kind, DispositionKind::FragmentationNeeded);
    assert_eq!(t.disposition.netns, "node-1");
    let icmp = t
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Icmp)
        .expect("an ICMP error is sent");
    let ip = ipv4(&icmp.packet).unwrap();
    assert_eq!(
        (ip.src.to_string(), ip.dst.to_string()),
        ("10.244.1.1".into(), "10.244.1.2".into())
    );
    let bytes = ip.emit();
    assert_eq!((bytes[20], bytes[21]), (3, 4), "type 3 code 4");
    assert_eq!(
        u16::from_be_bytes([bytes[26], bytes[27]]),
        1450,
        "next-hop MTU"
    );
    assert_eq!(bytes.len(), 576, "icmp_send quotes up to 576 bytes in all");
    assert_eq!(
        bytes[28 + 8],
        64,
        "the quoted header still has TTL 64: the MTU check precedes the decrement"
    );
    assert_eq!(
        trace("mtu-too-big", "ping-1422").disposition.kind,
        DispositionKind::Delivered
    );
}

#[test]
fn node_to_remote_pod_uses_flannel1_address_and_arrives_with_ttl_63() {
    let t = trace("node-to-pod", "ping");
    let first = ipv4(t.sent.as_ref().unwrap()).unwrap();
    assert_eq!(first.src.to_string(), "10.244.1.0");
    assert_eq!(
        ipv4(&t.packet_steps().last().unwrap().packet).unwrap().ttl,
        63
    );
    let local = trace("node-to-pod", "probe-local");
    assert_eq!(
        ipv4(local.sent.as_ref().unwrap()).unwrap().src.to_string(),
        "10.244.1.1"
    );
}
