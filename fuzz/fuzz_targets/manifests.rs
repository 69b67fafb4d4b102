//! Manifests applied to a fixed two-node cluster (`import::manifests`: workloads, the
//! scheduler, IPAM and the allocators, then validation): what applies must build.
#![no_main]

use libfuzzer_sys::fuzz_target;

const SKELETON: &str = "cluster:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
  cni: {plugin: flannel, backend: vxlan}
  underlay: {cidr: 172.31.0.0/24, mtu: 1500}
  nodes:
    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}
    - {name: node-2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24}
";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let manifests = [("m.yaml".to_string(), text.to_string())];
    let Ok(s) = kpath_sim::import::manifests::apply("cluster.yaml", SKELETON, &manifests) else {
        return;
    };
    if let Err(e) = kpath_sim::k8s::build_world(s.model(), 0) {
        panic!("applied manifests failed to build a world:\n{e}");
    }
});
