//! NetworkPolicy at size: the reachability matrix for one port between 1,000 pods (10
//! namespaces of 100, 5 app labels each) under 200 policies (20 per namespace: default
//! deny, allow from one app, from another namespace, ipBlocks with except, named ports
//! and port ranges), the bound being one second.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use std::fmt::Write;
use std::hint::black_box;

/// The cluster as a scenario: `pods` pods over `namespaces` namespaces and `policies`
/// policies, every choice a function of the index (deterministic).
pub fn yaml(namespaces: usize, pods: usize, policies: usize) -> String {
    let mut y = String::from(
        "cluster:\n  podCIDR: 10.0.0.0/8\n  serviceCIDR: 172.20.0.0/16\n  cni: {plugin: flannel, backend: vxlan}\n  underlay: {cidr: 192.168.0.0/16, mtu: 1500}\n  nodes:\n",
    );
    let nodes = pods.div_ceil(200);
    for n in 0..nodes {
        let _ = writeln!(
            y,
            "    - {{name: node-{n}, ip: 192.168.{}.{}, podCIDR: 10.{}.{}.0/24}}",
            n / 250,
            n % 250 + 1,
            n / 256,
            n % 256
        );
    }
    y.push_str("namespaces:\n");
    for ns in 0..namespaces {
        let _ = writeln!(y, "  - {{name: ns-{ns}, labels: {{team: t{}}}}}", ns % 3);
    }
    y.push_str("pods:\n");
    for p in 0..pods {
        let node = p / 200;
        let _ = writeln!(
            y,
            "  - {{name: pod-{p}, namespace: ns-{}, node: node-{node}, ip: 10.{}.{}.{}, labels: {{app: app-{}}}, containers: [{{name: c, ports: [{{containerPort: 80, name: http}}]}}]}}",
            p % namespaces,
            node / 256,
            node % 256,
            p % 200 + 2,
            p % 5
        );
    }
    y.push_str("networkPolicies:\n");
    for i in 0..policies {
        let ns = i % namespaces;
        let rule = match i % 5 {
            0 => "ingress: []".to_string(),
            1 => format!("ingress: [{{from: [{{podSelector: {{matchLabels: {{app: app-{}}}}}}}]}}]", i % 5),
            2 => format!("ingress: [{{from: [{{namespaceSelector: {{matchLabels: {{team: t{}}}}}}}], ports: [{{port: http}}]}}]", i % 3),
            3 => "ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}], ports: [{port: 79, endPort: 81}]}]".to_string(),
            _ => "policyTypes: [Egress]\n    egress: [{to: [{namespaceSelector: {}}], ports: [{port: 53, protocol: UDP}]}]".to_string(),
        };
        let _ = writeln!(
            y,
            "  - name: p-{i}\n    namespace: ns-{ns}\n    podSelector: {{matchLabels: {{app: app-{}}}}}\n    {rule}",
            (i / namespaces) % 5
        );
    }
    y
}

fn matrix(c: &mut Criterion) {
    let y = yaml(10, 1000, 200);
    let s = kpath_sim::load_scenario_str("policy.yaml", &y).expect("it loads");
    let m = kpath_sim::policy::matrix(s.model(), 80, kpath_sim::wire::IpProtocol::Tcp);
    let blocked = m.allowed.iter().flatten().filter(|a| !**a).count();
    println!(
        "1,000 pods, 200 policies, 80/TCP: {} of {} connections blocked",
        blocked,
        m.pods.len() * m.pods.len()
    );
    let mut g = c.benchmark_group("policy");
    g.sample_size(10);
    g.bench_function(
        "reachability matrix: 1,000 pods, 200 policies, one port",
        |b| {
            b.iter(|| {
                kpath_sim::policy::matrix(
                    black_box(s.model()),
                    80,
                    kpath_sim::wire::IpProtocol::Tcp,
                )
            })
        },
    );
    g.finish();
}

criterion_group!(benches, matrix);
criterion_main!(benches);
