//! IPv4 fragments: what a datagram larger than the MTU becomes on its way (ip_fragment, the
//! reassembly by conntrack and by the receiver), what tshark makes of kpath's capture, and
//! the queue that waits for a fragment that never comes.

mod common;

use common::{kpath, load, scenario_path, trace, tshark_installed};
use kpath_sim::engine::{Injection, Origin, injected_once};
use kpath_sim::trace::DispositionKind;
use kpath_sim::wire::{Fragment, IpProtocol, Ipv4, L3, L4};

#[test]
fn every_frame_of_a_fragmented_datagram_fits_the_device_it_crosses() {
    let (_, w) = load("fragments");
    let t = trace("fragments", "udp-3000");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    let mut pieces = 0;
    for s in t.steps.iter().filter(|s| s.wire.is_some()) {
        let dev = s.device.as_deref().unwrap();
        let mtu = w
            .ns_by_name(&s.netns)
            .unwrap()
            .link_by_name(dev)
            .unwrap()
            .mtu as usize;
        assert!(
            s.packet.len() <= 14 + mtu,
            "step {}: {} bytes on {dev}",
            s.index,
            s.packet.len()
        );
        if let L3::Ipv4(ip) = &s.packet.payload
            && ip.is_fragment()
        {
            pieces += 1;
        }
    }
    // Three pieces over the client's veth, into flannel.1 on node-1 and out of it on
    // node-2 (on the underlay they ride inside whole outer packets), and over the server's
    // veth.
    assert_eq!(pieces, 3 * 4, "fragment crossings");
}

#[test]
fn each_fragment_gets_its_own_vxlan_packet_with_the_same_outer_source_port() {
    let t = trace("fragments", "udp-3000");
    let outers: Vec<(u16, usize)> = t
        .steps
        .iter()
        .filter(|s| s.func == "vxlan_xmit_one")
        .filter_map(|s| common::vxlan(&s.packet))
        .map(|(ip, _)| match &ip.payload {
            L4::Udp(u) => (u.sport, ip.total_len()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(outers.len(), 3, "{outers:?}");
    assert_eq!(
        outers.iter().map(|o| o.1).collect::<Vec<_>>(),
        [1494, 1494, 230]
    );
    // The flow dissector reads no ports from a fragment, so all three hash alike.
    assert!(outers.iter().all(|o| o.0 == outers[0].0));
}

#[test]
fn tshark_reassembles_the_fragments_in_the_capture() {
    if !tshark_installed() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("kpath-frag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("frag.pcapng");
    let out = kpath()
        .args([
            "pcap",
            scenario_path("fragments").to_str().unwrap(),
            "--packet",
            "udp-3000",
            "-o",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            p.to_str().unwrap(),
            "-d",
            "udp.port==8472,vxlan",
            "-T",
            "fields",
        ])
        .args([
            "-e",
            "ip.fragment.count",
            "-e",
            "udp.length",
            "-e",
            "ip.reassembled.length",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let whole: Vec<&str> = text.lines().filter(|l| l.ends_with("\t3008")).collect();
    assert!(!whole.is_empty(), "tshark reassembled nothing:\n{text}");
    assert!(
        whole.iter().any(|l| l.starts_with("3\t3008\t")),
        "three fragments make the 3008-byte UDP message:\n{text}"
    );
}

#[test]
fn a_lone_fragment_waits_in_the_receivers_queue_and_is_lost() {
    let (_, w) = load("fragments");
    let ns = w.ns_by_name("default/server").unwrap();
    let eth0 = ns.link_by_name("eth0").unwrap().ifindex;
    let piece = Ipv4 {
        tos: 0,
        ident: 4242,
        dont_frag: false,
        more_frags: true,
        frag_offset: 0,
        ttl: 62,
        src: "10.244.1.2".parse().unwrap(),
        dst: "10.244.2.2".parse().unwrap(),
        payload: L4::Fragment(Fragment {
            protocol: IpProtocol::Udp,
            data: vec![0; 1424],
        }),
    };
    let inj = Injection {
        name: "first-half".into(),
        origin: Origin::Arrives {
            ns: ns.id,
            dev: eth0,
        },
        packet: piece,
    };
    let t = injected_once(&w, &inj, Default::default()).0;
    assert_eq!(t.disposition.kind, DispositionKind::Dropped);
    assert_eq!(t.disposition.netns, "default/server");
    assert!(
        t.disposition.reason.contains("ipfrag_time"),
        "{}",
        t.disposition.reason
    );
    let last = t.steps.last().unwrap();
    assert_eq!(last.func, "ip_defrag");
    assert!(
        last.note.contains("1 fragment and 1424 payload bytes"),
        "{}",
        last.note
    );
}

#[test]
fn a_bridged_datagram_is_cut_again_by_br_netfilter_as_it_came() {
    // Same node: the bridge's PREROUTING (br_netfilter) reassembles it for conntrack, and
    // br_nf_dev_queue_xmit cuts it again, no larger than its largest piece, for the port.
    let t = trace("fragments", "udp-3000-same-node");
    assert_eq!(t.disposition.kind, DispositionKind::Delivered);
    assert_eq!(t.disposition.netns, "default/neighbour");
    let recut = t
        .steps
        .iter()
        .find(|s| s.func == "br_nf_dev_queue_xmit")
        .expect("br_netfilter cuts it again");
    assert!(recut.note.contains("1444 bytes"), "{}", recut.note);
    let sizes = |ns: &str| -> Vec<usize> {
        t.steps
            .iter()
            .filter(|s| s.netns == ns && s.func == "veth_xmit")
            .filter(|s| matches!(s.packet.payload, L3::Ipv4(_)))
            .map(|s| s.packet.len() - 14)
            .collect()
    };
    assert_eq!(sizes("default/client"), [1444, 1444, 180]);
    assert_eq!(sizes("node-1"), [1444, 1444, 180]);
}
