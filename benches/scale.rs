//! kpath at the sizes real nodes have (issue: 10,000 Services), with `kpath generate`'s
//! clusters (kpath_sim::scale): a kube-proxy node's iptables-save of 10,000 Services x 5
//! endpoints loaded as `kpath trace --iptables-save` loads it; one nat PREROUTING walk to the
//! last Service beside the same walk reading every rule; every outcome of a SYN to the
//! last Service (the longest walk through KUBE-SERVICES); and a 3-node scenario of the same
//! Services built and traced, in iptables, IPVS and nftables mode (and with 1,000 Services,
//! for the growth); nftables mode's nat-prerouting walk to the first and to the last
//! Service; a cluster of 5,000 nodes (and of 500). The kernel's side of the load is
//! benches/against-iptables-restore.sh (it needs root and a network namespace).

// The allocator the `kpath` binary runs with (tui/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use kpath_sim::netfilter::eval::{PacketMeta, RuleEnv, walk_table};
use kpath_sim::netfilter::rule::{AddrType, Recent};
use kpath_sim::netfilter::{Hook, Netfilter, TableKind};
use kpath_sim::rules_only::{RulesQuery, trace_rules_shared};
use kpath_sim::scale::{Size, scenario_yaml};
use kpath_sim::scenario::ProxyMode;
use kpath_sim::wire::{Ipv4, L4, Tcp, TcpFlags};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;

const SERVICES: usize = 10_000;

fn size(mode: ProxyMode) -> Size {
    Size {
        nodes: 3,
        services: SERVICES,
        endpoints: 5,
        groups: 10,
        proxy_mode: mode,
    }
}

fn node_dump() -> String {
    let yaml = scenario_yaml(&size(ProxyMode::Iptables)).expect("the size fits");
    let s = kpath_sim::load_scenario_str("scale.yaml", &yaml).expect("it loads");
    let w = kpath_sim::k8s::build_world(s.model(), 0).expect("it builds");
    let node = w.netns.iter().find(|n| n.name == "node-1").expect("node-1");
    node.netfilter.save()
}

fn rules_only(c: &mut Criterion) {
    let dump = node_dump();
    let mut g = c.benchmark_group("scale-10k");
    g.sample_size(10);
    g.bench_function("load a 10,000-Service node's iptables-save", |b| {
        b.iter(|| kpath_sim::netfilter::parse_iptables_save("node.rules", black_box(&dump)))
    });
    let nf = Arc::new(kpath_sim::netfilter::parse_iptables_save("node.rules", &dump).unwrap());
    let q = RulesQuery {
        src: "10.128.0.2".parse().unwrap(),
        dst: Size::cluster_ip(SERVICES - 1),
        dport: 80,
        proto: kpath_sim::wire::IpProtocol::Tcp,
        local_ips: vec!["172.16.0.16".parse().unwrap()],
        iif: None,
        oif: None,
        sets: Vec::new(),
        ipvs: None,
    };
    walk(&mut g, &nf);
    g.bench_function(
        "every outcome of a SYN to the last of 10,000 Services",
        |b| b.iter(|| trace_rules_shared(black_box(nf.clone()), &q)),
    );
    g.finish();
}

/// What the nat rules ask of the node in one walk: its own address is LOCAL, and every
/// `-m statistic` draw fails (so the walk goes to each Service's last endpoint).
struct Node;

impl RuleEnv for Node {
    fn addr_type(&self, ip: Ipv4Addr) -> AddrType {
        if ip == Ipv4Addr::new(172, 16, 0, 16) {
            AddrType::Local
        } else {
            AddrType::Unicast
        }
    }
    fn in_set(&self, _: &str, _: &[bool], _: &PacketMeta) -> Option<bool> {
        None
    }
    fn recent(&mut self, _: &Recent, _: Ipv4Addr) -> bool {
        false
    }
    fn random(&mut self, _: u32) -> bool {
        false
    }
    fn nth(&mut self, _: &str, _: u32, _: u32) -> bool {
        false
    }
}

/// One nat PREROUTING walk of a pod's SYN to the last of 10,000 Services, beside the same
/// walk reading every rule as the kernel's `ipt_do_table` does (the table without its
/// destination index): both look at the same rules and end at the same DNAT.
fn walk(g: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>, nf: &Netfilter) {
    let syn = Ipv4 {
        tos: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        ttl: 64,
        src: Ipv4Addr::new(10, 128, 0, 2),
        dst: Size::cluster_ip(SERVICES - 1),
        payload: L4::Tcp(Tcp {
            sport: 40000,
            dport: 80,
            seq: 1,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            options: vec![],
            payload: vec![],
        }),
    };
    let meta = PacketMeta {
        ip: &syn,
        iif: Some("cni0"),
        oif: None,
        physin: None,
        physout: None,
        mark: 0,
        ct: None,
        ipvs_property: false,
        ipvs_vs: None,
    };
    let indexed = nf.table(TableKind::Nat).expect("a nat table");
    let linear = indexed.without_rule_index();
    let a = walk_table(indexed, Hook::Prerouting, &meta, &mut Node);
    let b = walk_table(&linear, Hook::Prerouting, &meta, &mut Node);
    assert_eq!(a.evaluated, b.evaluated, "both look at the same rules");
    assert!(a.nat.is_some(), "the walk ends at a DNAT");
    println!(
        "nat PREROUTING to the last of {SERVICES} Services: {} rules looked at, {} matched",
        a.evaluated,
        a.hits.len()
    );
    g.bench_function(
        "one nat PREROUTING walk to the last of 10,000 Services",
        |b| b.iter(|| walk_table(indexed, Hook::Prerouting, black_box(&meta), &mut Node)),
    );
    g.bench_function(
        "the same walk reading every rule (ipt_do_table's way)",
        |b| b.iter(|| walk_table(&linear, Hook::Prerouting, black_box(&meta), &mut Node)),
    );
}

/// kube-proxy's nftables mode: nat-prerouting for a pod's SYN to the first and to the last
/// of 10,000 Services, on node-1's `ip kube-proxy` table as the scenario builds it. One
/// verdict-map lookup (@service-ips) finds either Service, so both walks look at the same
/// rules, where iptables mode's KUBE-SERVICES is read rule by rule.
fn nftables_walk(c: &mut Criterion) {
    use kpath_sim::netfilter::nftables::eval::{DynamicSets, Packet, walk_chain};
    let yaml = scenario_yaml(&size(ProxyMode::Nftables)).expect("the size fits");
    let s = kpath_sim::load_scenario_str("scale.yaml", &yaml).expect("it loads");
    let w = kpath_sim::k8s::build_world(s.model(), 0).expect("it builds");
    let node = w.netns.iter().find(|n| n.name == "node-1").expect("node-1");
    let table = &node.netfilter.nft.tables[0];
    let syn = |dst: Ipv4Addr| Packet {
        src: Ipv4Addr::new(10, 128, 0, 2),
        dst,
        proto: kpath_sim::wire::IpProtocol::Tcp,
        sport: Some(40000),
        dport: Some(80),
        mark: 0,
        iifname: Some("cni0".into()),
        oifname: None,
        ct_state: "new",
        ct_status: Vec::new(),
        ct_mark: 0,
        ct_reply: false,
        local: vec![Ipv4Addr::new(172, 16, 0, 16)],
        redirect_addr: None,
    };
    let (first, last) = (
        syn(Size::cluster_ip(0)),
        syn(Size::cluster_ip(SERVICES - 1)),
    );
    let sets = DynamicSets::new();
    let a = walk_chain(table, "nat-prerouting", &first, &sets);
    let b = walk_chain(table, "nat-prerouting", &last, &sets);
    assert_eq!(
        a[0].evaluated, b[0].evaluated,
        "the same rules, first or last"
    );
    assert!(b.iter().all(|o| o.nat.is_some()), "every outcome DNATs");
    println!(
        "nftables nat-prerouting to the first and the last of {SERVICES} Services: {} rules looked at each ({} outcomes)",
        b[0].evaluated,
        b.len()
    );
    let mut g = c.benchmark_group("scale-10k");
    g.sample_size(10);
    g.bench_function(
        "nftables mode: nat-prerouting to the first of 10,000 Services",
        |bn| bn.iter(|| walk_chain(table, "nat-prerouting", black_box(&first), &sets)),
    );
    g.bench_function(
        "nftables mode: nat-prerouting to the last of 10,000 Services",
        |bn| bn.iter(|| walk_chain(table, "nat-prerouting", black_box(&last), &sets)),
    );
    g.finish();
}

/// Load a generated scenario, build its world and trace one packet, as `kpath trace` does.
fn load_build_trace(yaml: &str, packet: &str) -> kpath_sim::trace::Trace {
    let s = kpath_sim::load_scenario_str("scale.yaml", black_box(yaml)).unwrap();
    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
    kpath_sim::run_packet(&s, &w, packet).unwrap()
}

fn scenario(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale-10k");
    g.sample_size(10);
    for mode in [ProxyMode::Iptables, ProxyMode::Ipvs, ProxyMode::Nftables] {
        let yaml = scenario_yaml(&size(mode)).expect("the size fits");
        g.bench_function(
            format!("3 nodes, 10,000 Services ({mode:?}): load, build, trace"),
            |b| b.iter(|| load_build_trace(&yaml, "to-last")),
        );
    }
    // The same at a tenth of the Services, beside it: the cost grows with the Services.
    let tenth = Size {
        services: SERVICES / 10,
        ..size(ProxyMode::Iptables)
    };
    let yaml = scenario_yaml(&tenth).expect("the size fits");
    g.bench_function(
        "3 nodes, 1,000 Services (Iptables): load, build, trace",
        |b| b.iter(|| load_build_trace(&yaml, "to-last")),
    );
    g.finish();
}

/// Kubernetes' largest cluster: 5,000 nodes with a pod each (and one Service), beside 500
/// nodes. Every node holds a route, a neighbour and an FDB entry for every other node.
fn many_nodes(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale-nodes");
    g.sample_size(10);
    for nodes in [500, 5000] {
        let yaml = scenario_yaml(&Size {
            nodes,
            services: 1,
            endpoints: 1,
            groups: nodes,
            proxy_mode: ProxyMode::Iptables,
        })
        .expect("the size fits");
        g.bench_function(format!("{nodes} nodes: load, build, trace"), |b| {
            b.iter(|| load_build_trace(&yaml, "to-first"))
        });
    }
    g.finish();
}

criterion_group!(benches, rules_only, nftables_walk, scenario, many_nodes);
criterion_main!(benches);
