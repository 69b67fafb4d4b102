//! How fast the engine walks a packet: the cross-node ping of the VXLAN lesson (ARP
//! exchanges included, ~100 kernel steps), reported as walks per second and, through the
//! step count printed once, steps per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn cross_node_ping(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/pod-to-pod-cross-node.yaml");
    let s = kpath_sim::load_scenario(&path).expect("the shipped scenario loads");
    let world = kpath_sim::k8s::build_world(&s, 0).expect("the world builds");
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
        b.iter(|| kpath_sim::k8s::build_world(black_box(&s), 0).is_ok())
    });
}

criterion_group!(benches, cross_node_ping);
criterion_main!(benches);
