//! kpath at the sizes real nodes have (issue: 10,000 Services), with `kpath generate`'s
//! clusters (kpath_sim::scale): a kube-proxy node's iptables-save of 10,000 Services x 5
//! endpoints loaded as `kpath trace --iptables-save` loads it; every outcome of a SYN to the
//! last Service (the longest walk through KUBE-SERVICES); and a 3-node scenario of the same
//! Services built and traced, in iptables and IPVS mode. The kernel's side of the load is
//! benches/against-iptables-restore.sh (it needs root and a network namespace).

use criterion::{Criterion, criterion_group, criterion_main};
use kpath_sim::rules_only::{RulesQuery, trace_rules_shared};
use kpath_sim::scale::{Size, scenario_yaml};
use kpath_sim::scenario::ProxyMode;
use std::hint::black_box;
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
    g.bench_function(
        "every outcome of a SYN to the last of 10,000 Services",
        |b| b.iter(|| trace_rules_shared(black_box(nf.clone()), &q)),
    );
    g.finish();
}

fn scenario(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale-10k");
    g.sample_size(10);
    for mode in [ProxyMode::Iptables, ProxyMode::Ipvs] {
        let yaml = scenario_yaml(&size(mode)).expect("the size fits");
        g.bench_function(
            format!("3 nodes, 10,000 Services ({mode:?}): load, build, trace"),
            |b| {
                b.iter(|| {
                    let s = kpath_sim::load_scenario_str("scale.yaml", black_box(&yaml)).unwrap();
                    let w = kpath_sim::k8s::build_world(s.model(), 0).unwrap();
                    kpath_sim::run_packet(&s, &w, "to-last").unwrap()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, rules_only, scenario);
criterion_main!(benches);
