//! The engine's invariants over generated clusters (proptest): random nodes, pods and
//! Services, either CNI backend, either kube-proxy mode, and random packets and flows
//! between them. Whatever the cluster, every walk
//! - ends, in one disposition at a namespace of the world, a delivery naming its socket;
//! - is the same for the same seed, byte for byte;
//! - emits only frames that parse back to themselves with valid checksums;
//! - keeps each packet's protocol through every NAT and IPVS rewrite;
//!
//! and a completed TCP flow's replies reach the client from the address it connected to.

use kpath_sim::k8s::build_world;
use kpath_sim::render::text;
use kpath_sim::run::{flow_outcomes, run_flow};
use kpath_sim::scenario::{Scenario, load_scenario_str};
use kpath_sim::trace::{DispositionKind, Role, StepKind, Trace};
use kpath_sim::wire::{Frame, Ipv4, L3, L4, UdpPayload};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Cluster {
    nodes: usize,
    /// Per pod: its node, its app label (0-2) and the port it listens on.
    pods: Vec<(usize, u8, u16)>,
    /// Per Service: the app it selects, its type (0 ClusterIP, 1 NodePort), session affinity.
    services: Vec<(u8, u8, bool)>,
    host_gw: bool,
    ipvs: bool,
    /// Per packet: source pod, destination (pod or Service index), protocol 0 tcp 1 udp 2 icmp.
    packets: Vec<(usize, usize, bool, u8)>,
}

fn cluster() -> impl Strategy<Value = Cluster> {
    (1usize..=3, any::<bool>(), any::<bool>()).prop_flat_map(|(nodes, host_gw, ipvs)| {
        (
            prop::collection::vec(
                (
                    0..nodes,
                    0u8..3,
                    prop::sample::select(vec![80u16, 80, 80, 8080, 53]),
                ),
                1..6,
            ),
            prop::collection::vec((0u8..3, 0u8..2, any::<bool>()), 0..4),
            prop::collection::vec(
                (any::<usize>(), any::<usize>(), any::<bool>(), 0u8..3),
                1..4,
            ),
        )
            .prop_map(move |(pods, services, packets)| Cluster {
                nodes,
                pods,
                services,
                host_gw,
                ipvs,
                packets,
            })
    })
}

/// The cluster as scenario YAML, through the same loader users go through.
fn yaml(c: &Cluster) -> String {
    let mut y = String::new();
    if c.ipvs {
        y.push_str("kubeProxy: {mode: ipvs}\n");
    }
    let backend = if c.host_gw { "host-gw" } else { "vxlan" };
    y.push_str(&format!(
        "cluster:\n  podCIDR: 10.244.0.0/16\n  serviceCIDR: 10.96.0.0/12\n  cni: {{plugin: flannel, backend: {backend}}}\n  underlay: {{cidr: 172.31.0.0/24}}\n  nodes:\n"
    ));
    for n in 0..c.nodes {
        y.push_str(&format!(
            "    - {{name: node-{n}, ip: 172.31.0.{}, podCIDR: 10.244.{n}.0/24}}\n",
            n + 10
        ));
    }
    y.push_str("internet:\n  gateway: {ip: 172.31.0.1, publicIP: 198.51.100.1}\npods:\n");
    for (i, (node, app, port)) in c.pods.iter().enumerate() {
        let proto = if *port == 53 { ", protocol: UDP" } else { "" };
        y.push_str(&format!(
            "  - {{name: p{i}, node: node-{node}, ip: 10.244.{node}.{}, labels: {{app: a{app}}}, containers: [{{name: c, ports: [{{containerPort: {port}{proto}}}]}}]}}\n",
            i + 2
        ));
    }
    y.push_str(if c.services.is_empty() {
        "services: []\n"
    } else {
        "services:\n"
    });
    for (i, (app, kind, affinity)) in c.services.iter().enumerate() {
        let t = if *kind == 1 {
            format!(
                ", type: NodePort, ports: [{{port: 80, targetPort: 80, nodePort: {}}}]",
                30000 + i
            )
        } else {
            ", ports: [{port: 80, targetPort: 80}]".to_string()
        };
        let aff = if *affinity {
            ", sessionAffinity: ClientIP"
        } else {
            ""
        };
        y.push_str(&format!(
            "  - {{name: s{i}, clusterIP: 10.96.0.{}, selector: {{app: a{app}}}{aff}{t}}}\n",
            i + 10
        ));
    }
    y.push_str("packets:\n");
    for (i, (from, to, to_service, proto)) in c.packets.iter().enumerate() {
        let from = from % c.pods.len();
        let (proto, port) = match proto {
            0 => ("tcp", ":80"),
            1 => ("udp", ":53"),
            _ => ("icmp", ""),
        };
        let to = if *to_service && !c.services.is_empty() && port == ":80" {
            format!("service/default/s{}{port}", to % c.services.len())
        } else {
            format!("pod/default/p{}{port}", to % c.pods.len())
        };
        y.push_str(&format!(
            "  - {{name: k{i}, from: pod/default/p{from}, to: '{to}', protocol: {proto}}}\n"
        ));
    }
    if !c.services.is_empty() {
        y.push_str(
            "flows:\n  - {name: f, from: pod/default/p0, to: 'service/default/s0:80', protocol: tcp, connections: 2}\n",
        );
    }
    y
}

fn ipv4(f: &Frame) -> Option<&Ipv4> {
    match &f.payload {
        L3::Ipv4(ip) => Some(ip),
        L3::Arp(_) => None,
    }
}

/// The packet itself, inside VXLAN when encapsulated.
fn inner(f: &Frame) -> Option<&Ipv4> {
    let ip = ipv4(f)?;
    match &ip.payload {
        L4::Udp(u) => match &u.payload {
            UdpPayload::Vxlan(v) => ipv4(&v.inner),
            _ => Some(ip),
        },
        _ => Some(ip),
    }
}

fn check_trace(s: &Scenario, names: &[String], t: &Trace) -> Result<(), TestCaseError> {
    let d = &t.disposition;
    // One disposition, somewhere real.
    let known = |ns: &str| {
        ns.is_empty() || ns == "underlay" || ns == "gateway" || names.iter().any(|n| n == ns)
    };
    prop_assert!(known(&d.netns), "ended in unknown netns {}", d.netns);
    prop_assert!(
        d.kind != DispositionKind::Loop,
        "no loop in a sane cluster: {}",
        d.reason
    );
    if d.kind == DispositionKind::Delivered {
        prop_assert!(
            d.socket.is_some(),
            "a delivery names its socket: {}",
            d.reason
        );
    }
    // Every frame parses back to itself, checksums verified.
    for st in &t.steps {
        let bytes = st.packet.emit();
        let back = Frame::parse(&bytes, &[8472])
            .map_err(|e| TestCaseError::fail(format!("step {} {}: {e:?}", st.index, st.func)))?;
        prop_assert_eq!(&back, &st.packet, "step {} {}", st.index, st.func);
    }
    // NAT and IPVS rewrite addresses and ports, never the protocol.
    let mut proto = None;
    for st in t.steps.iter().filter(|s| s.role == Role::Packet) {
        let Some(ip) = inner(&st.packet) else {
            continue;
        };
        if matches!(st.kind, StepKind::Nat | StepKind::Ipvs)
            && let Some(p) = proto
        {
            prop_assert_eq!(
                p,
                ip.protocol(),
                "step {} {} changed the protocol",
                st.index,
                st.func
            );
        }
        proto = Some(ip.protocol());
    }
    let _ = s;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn walks_end_determined_well_formed_and_replies_come_back(c in cluster(), seed in 0u64..4) {
        let src = yaml(&c);
        let s = load_scenario_str("gen.yaml", &src)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{src}")))?;
        let w = build_world(s.model(), seed).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let names: Vec<String> = w.netns.iter().map(|n| n.name.clone()).collect();
        for p in &s.packets {
            let a = kpath_sim::run_packet(&s, &w, &p.name.value)
                .map_err(|e| TestCaseError::fail(format!("{e}")))?;
            check_trace(&s, &names, &a)?;
            // The same seed, the same walk, byte for byte.
            let b = kpath_sim::run_packet(&s, &w, &p.name.value).unwrap();
            let opts = text::TextOptions { explain: true, why: false, brief: false };
            prop_assert_eq!(text::trace(&a, &opts), text::trace(&b, &opts));
        }
        if !s.flows.is_empty() {
            let f = run_flow(&s, &w, "f").map_err(|e| TestCaseError::fail(format!("{e}")))?;
            for p in &f.packets {
                check_trace(&s, &names, &p.trace)?;
            }
            // A completed connection's replies come from the address the client dialled.
            if f.completed {
                let vip = "10.96.0.10";
                for p in f.packets.iter().filter(|p| p.side == "server") {
                    let last = p.trace.steps.last().and_then(|s| ipv4(&s.packet));
                    prop_assert_eq!(last.map(|ip| ip.src.to_string()), Some(vip.to_string()),
                        "{} reached the client from elsewhere", p.label);
                }
            }
            // Every outcome of the flow is well formed too.
            for o in flow_outcomes(&s, &w, "f").unwrap() {
                for p in &o.result.packets {
                    check_trace(&s, &names, &p.trace)?;
                }
            }
        }
    }
}

/// A routing loop ends in TTL exceeded, not in the step cap: two nodes each routing
/// 10.244.99.0/24 to the other. (Inside the pod network, so flannel does not masquerade:
/// a packet masqueraded to node-1's address would come back to node-1 as a martian.)
#[test]
fn a_routing_loop_ends_in_ttl_exceeded() {
    use kpath_sim::{net::Route, wire::Ipv4Net};
    let src = "cluster:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
  cni: {plugin: flannel, backend: host-gw}
  underlay: {cidr: 172.31.0.0/24}
  nodes:
    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}
    - {name: node-2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24}
pods:
  - {name: client, node: node-1, ip: 10.244.1.2, containers: [{name: c}]}
packets:
  - {name: lost, from: pod/default/client, to: 10.244.99.1, protocol: icmp}
";
    let s = load_scenario_str("loop.yaml", src).unwrap_or_else(|e| panic!("{e}"));
    let mut w = build_world(s.model(), 0).unwrap();
    let dst = Ipv4Net::new("10.244.99.0".parse().unwrap(), 24);
    for (node, peer) in [("node-1", "172.31.0.12"), ("node-2", "172.31.0.11")] {
        let id = w.ns_by_name(node).unwrap().id;
        let ns = w.ns_mut(id);
        let eth0 = ns.link_by_name("eth0").unwrap().ifindex;
        ns.routes
            .push(Route::via(dst, Some(peer.parse().unwrap()), eth0, false));
    }
    let t = kpath_sim::run_packet(&s, &w, "lost").unwrap();
    assert_eq!(
        t.disposition.kind,
        DispositionKind::TtlExceeded,
        "{}",
        t.disposition.reason
    );
    // It bounced: the loop is visible, and the walk stayed far below the step cap.
    let forwards = t.steps.iter().filter(|s| s.func == "ip_forward").count();
    assert!(forwards > 50, "{forwards} forwards");
    assert!(t.steps.len() < kpath_sim::engine::STEP_CAP);
}
