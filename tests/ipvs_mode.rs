//! kube-proxy's IPVS mode, controller side: what it programs on a node for the worked
//! example of docs/design/ipvs.md 1.6 (kube-ipvs0 addresses, ipsets, virtual services and
//! the iptables rules it still writes).

use kpath_sim::ipvs::{Scheduler, print};
use kpath_sim::k8s::kube_proxy::ipvs::ipvs_node;
use std::net::Ipv4Addr;

const SCENARIO: &str = "cluster:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
  cni: {plugin: flannel, backend: vxlan}
  underlay: {cidr: 172.31.0.0/24}
  nodes:
    - {name: node-1, ip: 172.31.0.11, podCIDR: 10.244.1.0/24}
    - {name: node-2, ip: 172.31.0.12, podCIDR: 10.244.2.0/24}
pods:
  - {name: web-a, node: node-1, ip: 10.244.1.5, labels: {app: web}, containers: [{name: web, ports: [{containerPort: 8080}]}]}
  - {name: web-b, node: node-2, ip: 10.244.2.7, labels: {app: web}, containers: [{name: web, ports: [{containerPort: 8080}]}]}
services:
  - {name: web, type: NodePort, clusterIP: 10.96.120.15, selector: {app: web}, sessionAffinity: ClientIP,
     ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}
packets: []
";

fn node1() -> kpath_sim::k8s::kube_proxy::ipvs::IpvsNode {
    let s = kpath_sim::load_scenario_str("ipvs.yaml", SCENARIO).unwrap_or_else(|e| panic!("{e}"));
    let ips: Vec<Ipv4Addr> = ["172.31.0.11", "10.244.1.0", "10.244.1.1"]
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
    ipvs_node(
        s.model(),
        "node-1",
        &ips,
        &Scheduler::by_name("rr").unwrap(),
    )
}

fn members(n: &kpath_sim::k8s::kube_proxy::ipvs::IpvsNode, set: &str) -> Vec<String> {
    let s = n.ipsets.iter().find(|s| s.name == set).expect(set);
    s.entries()
        .iter()
        .map(|e| {
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn vips_are_bound_and_sets_hold_the_services() {
    let n = node1();
    assert_eq!(n.bound, ["10.96.120.15".parse::<Ipv4Addr>().unwrap()]);
    assert_eq!(n.ipsets.len(), 16, "every set exists, empty or not");
    assert_eq!(members(&n, "KUBE-CLUSTER-IP"), ["10.96.120.15,tcp:80"]);
    assert_eq!(members(&n, "KUBE-NODE-PORT-TCP"), ["30080"]);
    assert_eq!(
        members(&n, "KUBE-LOOP-BACK"),
        ["10.244.1.5,tcp:8080,10.244.1.5"],
        "local endpoints only"
    );
    assert_eq!(members(&n, "KUBE-IPVS-IPS"), ["10.96.120.15"]);
    assert!(members(&n, "KUBE-EXTERNAL-IP").is_empty());
}

#[test]
fn a_virtual_service_per_cluster_ip_and_per_node_address_for_the_node_port() {
    let text = print::list(&node1().ipvs);
    let want = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  172.31.0.11:30080 rr persistent 10800
  -> 10.244.1.5:8080              Masq    1      0          0         
  -> 10.244.2.7:8080              Masq    1      0          0         
TCP  10.96.120.15:80 rr persistent 10800
  -> 10.244.1.5:8080              Masq    1      0          0         
  -> 10.244.2.7:8080              Masq    1      0          0         
TCP  10.244.1.0:30080 rr persistent 10800
  -> 10.244.1.5:8080              Masq    1      0          0         
  -> 10.244.2.7:8080              Masq    1      0          0         
TCP  10.244.1.1:30080 rr persistent 10800
  -> 10.244.1.5:8080              Masq    1      0          0         
  -> 10.244.2.7:8080              Masq    1      0          0         
";
    assert_eq!(text, want);
}

#[test]
fn the_iptables_rules_load_and_keep_kube_proxy_s_order() {
    let n = node1();
    let nf = kpath_sim::netfilter::parse_iptables_save("ipvs.rules", &n.iptables)
        .unwrap_or_else(|e| panic!("{e}\n{}", n.iptables));
    let save = nf.save();
    let services: Vec<&str> = save
        .lines()
        .filter(|l| l.starts_with("-A KUBE-SERVICES"))
        .collect();
    assert_eq!(services.len(), 4, "{save}");
    assert!(services[0].contains("-s 127.0.0.0/8 -j RETURN"));
    assert!(
        services[1].contains("--match-set KUBE-CLUSTER-IP dst,dst")
            && services[1].contains("-j KUBE-MARK-MASQ")
    );
    assert!(services[1].contains("! -s 10.244.0.0/16"));
    assert!(services[2].contains("--dst-type LOCAL -j KUBE-NODE-PORT"));
    assert!(services[3].contains("--match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT"));
    assert!(save.contains("-A KUBE-POSTROUTING -m comment --comment \"Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose\" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE"));
    assert!(save.contains("-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT"));
    // No `--ctstate INVALID -j DROP` in IPVS mode's KUBE-FORWARD.
    assert!(!save.contains("INVALID"));
}
