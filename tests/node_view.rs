//! kube-proxy's rules are written once for a run of nodes with the same node view
//! (`Provider::node_view`). That is sound only if the view holds everything of the node the
//! rules depend on: nodes with equal views must get equal rules, and a node whose rules
//! differ must have its own view. Checked on every shipped scenario in iptables mode and on
//! clusters with Local traffic policies whose endpoints sit on some nodes only.

use kpath_sim::k8s::kube_proxy::iptables::{node_view, nodeport_ips, rules};
use std::path::Path;

fn check(file: &str, yaml: &str) -> usize {
    let s = kpath_sim::load_scenario_str(file, yaml).unwrap_or_else(|e| panic!("{e}"));
    check_scenario(file, &s)
}

fn check_scenario(file: &str, s: &kpath_sim::scenario::Scenario) -> usize {
    let c = s.model();
    let w = kpath_sim::k8s::build_world(c, 0).unwrap();
    let views: Vec<(String, String)> = c
        .nodes
        .iter()
        .map(|n| {
            let ns = w.ns_by_name(&n.name).unwrap();
            let r = rules(c, &n.name, &nodeport_ips(ns, c, n));
            (node_view(c, n), format!("{}{}", r.filter, r.nat))
        })
        .collect();
    let mut distinct = 0;
    for (i, (va, ra)) in views.iter().enumerate() {
        for (vb, rb) in &views[..i] {
            if va == vb {
                assert_eq!(ra, rb, "{file}: two nodes share a view but not their rules");
            }
        }
        distinct += usize::from(views[..i].iter().all(|(vb, _)| vb != va));
    }
    distinct
}

#[test]
fn nodes_with_the_same_view_get_the_same_rules_in_every_shipped_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        // From the file: a lesson's `manifests:` are read relative to it.
        let s = kpath_sim::scenario::load_scenario(&f).unwrap_or_else(|e| panic!("{e}"));
        check_scenario(&f.display().to_string(), &s);
    }
}

#[test]
fn local_traffic_policies_and_source_ranges_give_nodes_their_own_views() {
    let cluster = "cluster:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
  cni: {plugin: flannel, backend: vxlan}
  underlay: {cidr: 172.31.0.0/24}
  nodes:
    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}
    - {name: node-2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24}
    - {name: node-3, ip: 172.31.0.13, podCIDR: 10.244.3.0/24}
    - {name: node-4, ip: 172.31.0.14, podCIDR: 10.244.4.0/24}
pods:
  - {name: web-1, node: node-1, ip: 10.244.1.5, labels: {app: web}, containers: [{name: w, ports: [{containerPort: 80}]}]}
  - {name: web-2, node: node-2, ip: 10.244.2.5, labels: {app: web}, containers: [{name: w, ports: [{containerPort: 80}]}]}
services:
";
    // Without a Local policy every node has the same view; with one, the nodes with
    // endpoints differ from each other and from the nodes without (which share theirs).
    let cluster_only = format!(
        "{cluster}  - {{name: web, clusterIP: 10.96.0.20, selector: {{app: web}}, ports: [{{port: 80}}]}}\n"
    );
    assert_eq!(check("cluster.yaml", &cluster_only), 1);
    let local = format!(
        "{cluster}  - {{name: web, type: NodePort, clusterIP: 10.96.0.20, externalTrafficPolicy: Local, selector: {{app: web}}, ports: [{{port: 80, nodePort: 30080}}]}}\n"
    );
    assert_eq!(check("local.yaml", &local), 3);
    let internal = format!(
        "{cluster}  - {{name: web, clusterIP: 10.96.0.20, internalTrafficPolicy: Local, selector: {{app: web}}, ports: [{{port: 80}}]}}\n"
    );
    assert_eq!(check("internal.yaml", &internal), 3);
    // A firewall that lets the node's own requests through depends on the node's IP.
    let ranges = format!(
        "{cluster}  - {{name: web, type: LoadBalancer, clusterIP: 10.96.0.20, loadBalancerIP: 203.0.113.10, loadBalancerSourceRanges: [172.31.0.12/32], selector: {{app: web}}, ports: [{{port: 80, nodePort: 30080}}]}}\n"
    );
    assert_eq!(check("ranges.yaml", &ranges), 4);
    // nodePortAddresses: each node's NodePort rules name its own addresses.
    let npa = format!(
        "kubeProxy: {{nodePortAddresses: [172.31.0.0/24]}}\n{cluster}  - {{name: web, type: NodePort, clusterIP: 10.96.0.20, selector: {{app: web}}, ports: [{{port: 80, nodePort: 30080}}]}}\n"
    );
    assert_eq!(check("npa.yaml", &npa), 4);
}
