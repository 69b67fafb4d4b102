//! How fast the engine walks a packet: the cross-node ping of the VXLAN lesson (ARP
//! exchanges included, ~100 kernel steps), reported as walks per second and, through the
//! step count printed once, steps per second.

// The allocator the `kpath` binary runs with (tui/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn cross_node_ping(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/pod-to-pod-cross-node.yaml");
    let s = kpath_sim::load_scenario(&path).expect("the shipped scenario loads");
    let world = kpath_sim::k8s::build_world(s.model(), 0).expect("the world builds");
    let steps = kpath_sim::run_packet(&s, &world, "ping")
        .expect("ping traces")
        .steps
        .len() as u64;
    let mut g = c.benchmark_group("engine");
    // Throughput in elements = kernel steps, so criterion prints steps per second.
    g.throughput(Throughput::Elements(steps));
    g.bench_function(format!("cross-node ping ({steps} steps)"), |b| {
        b.iter(|| kpath_sim::run_packet(black_box(&s), black_box(&world), "ping"))
    });
    g.finish();
    c.bench_function("build world (2 nodes, 2 pods)", |b| {
        b.iter(|| kpath_sim::k8s::build_world(black_box(s.model()), 0).is_ok())
    });
}

/// A node with 2000 ClusterIP Services: kube-proxy's rules generated and parsed for both
/// nodes (about 6000 chains per node), then a SYN to one of them traced.
fn many_services(c: &mut Criterion) {
    let mut y = String::from(
        "cluster:\n  podCIDR: 10.244.0.0/16\n  serviceCIDR: 10.96.0.0/12\n  cni: {plugin: flannel, backend: vxlan}\n  underlay: {cidr: 172.31.0.0/24}\n  nodes:\n    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}\n    - {name: node-2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24}\npods:\n  - {name: web, node: node-2, ip: 10.244.2.2, labels: {app: web}, containers: [{name: web, ports: [{containerPort: 80}]}]}\n  - {name: client, node: node-1, ip: 10.244.1.2, containers: [{name: c}]}\nservices:\n",
    );
    for i in 0..2000 {
        y.push_str(&format!(
            "  - {{name: svc{i}, clusterIP: 10.96.{}.{}, selector: {{app: web}}, ports: [{{port: 80}}]}}\n",
            i / 250,
            i % 250 + 1
        ));
    }
    y.push_str("packets:\n  - {name: syn, from: pod/default/client, to: '10.96.7.250:80', protocol: tcp}\n");
    let s = kpath_sim::load_scenario_str("scale.yaml", &y).expect("the generated scenario loads");
    let mut g = c.benchmark_group("scale");
    g.sample_size(10);
    g.bench_function("build world, 2000 Services", |b| {
        b.iter(|| kpath_sim::k8s::build_world(black_box(s.model()), 0).is_ok())
    });
    let world = kpath_sim::k8s::build_world(s.model(), 0).expect("the world builds");
    g.bench_function("SYN to a ClusterIP among 2000", |b| {
        b.iter(|| kpath_sim::run_packet(black_box(&s), black_box(&world), "syn"))
    });
    // The same Services in IPVS mode: 2000 virtual services, one ipset entry each, and a
    // ruleset that does not grow with them.
    let ipvs = kpath_sim::compare::with_mode(&s, kpath_sim::scenario::ProxyMode::Ipvs);
    g.bench_function("build world, 2000 Services, IPVS mode", |b| {
        b.iter(|| kpath_sim::k8s::build_world(black_box(ipvs.model()), 0).is_ok())
    });
    let world = kpath_sim::k8s::build_world(ipvs.model(), 0).expect("the IPVS world builds");
    g.bench_function("SYN to a ClusterIP among 2000, IPVS mode", |b| {
        b.iter(|| kpath_sim::run_packet(black_box(&ipvs), black_box(&world), "syn"))
    });
    g.finish();
}

criterion_group!(benches, cross_node_ping, many_services);
criterion_main!(benches);
