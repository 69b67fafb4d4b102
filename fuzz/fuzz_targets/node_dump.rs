//! The node-dump reader (`node_dump`: iproute2's JSON and `sysctl -a` -> one namespace):
//! the input is the six files joined by NUL bytes, in the order ip-addr.json, ip-link.json,
//! ip-route.json, ip-neigh.json, bridge-fdb.json, sysctl.txt. A dump that reads must hold
//! a packet's walk through the engine without a panic, whatever its devices and tables say.
#![no_main]

use kpath_sim::node_dump::{Texts, build};
use kpath_sim::rules_only::{RulesQuery, trace_node};
use kpath_sim::wire::IpProtocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0').map(|t| Some((String::from("f"), t.to_string())));
    let mut next = || parts.next().flatten();
    let texts = Texts {
        addr: next(),
        link: next(),
        route: next(),
        neigh: next(),
        fdb: next(),
        sysctl: next(),
    };
    let Ok(Some(state)) = build(&texts) else {
        return;
    };
    for (src, dst, dport, proto) in [
        ("10.244.0.2", "10.96.0.1", 443, IpProtocol::Tcp),
        ("10.244.1.4", "10.244.0.2", 53, IpProtocol::Udp),
        ("203.0.113.9", "172.31.0.11", 0, IpProtocol::Icmp),
    ] {
        let q = RulesQuery {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            dport,
            proto,
            local_ips: Vec::new(),
            iif: None,
            oif: None,
            sets: Vec::new(),
            ipvs: None,
        };
        let _ = trace_node(Default::default(), &q, Some(&state));
    }
});
