//! The validated scenario as cluster objects (`crate::cluster`): spans dropped, defaults
//! filled in as the API server and the agents fill them, and the EndpointSlices derived.

use super::Scenario;
use crate::cluster::{
    self, Cluster, ClusterIp, Cni, Gateway, Host, Internet, KubeProxyConfig, Network, Node, Pod,
    Service, ServicePort, TargetPort, Underlay,
};

/// The cluster a validated scenario describes.
pub(super) fn cluster(s: &Scenario) -> Cluster {
    let c = &s.cluster;
    let network = Network {
        pod_cidr: c.pod_cidr.value,
        service_cidr: c.service_cidr.value,
        cni: Cni {
            plugin: c.cni.plugin,
            backend: c.cni.backend,
            mtu: c.cni.mtu.as_ref().map(|m| m.value),
            bridge_nf_call_iptables: c.cni.bridge_nf_call_iptables,
            hairpin_mode: c.cni.hairpin_mode,
            vxlan: {
                let d = cluster::VxlanBackend::default();
                cluster::VxlanBackend {
                    vni: c.cni.vni.as_ref().map_or(d.vni, |v| v.value),
                    port: match c.cni.port.as_ref().map(|p| p.value) {
                        None | Some(0) => d.port,
                        Some(p) => p,
                    },
                    direct_routing: c.cni.direct_routing.as_ref().is_some_and(|v| v.value),
                }
            },
            policy: c.cni.policy.as_ref().map(|p| p.value),
        },
        underlay: Underlay {
            cidr: c.underlay.cidr.value,
            mtu: c.underlay.mtu.value,
        },
    };
    let nodes = c
        .nodes
        .iter()
        .map(|n| Node {
            name: n.name.value.clone(),
            ip: n.ip.value,
            pod_cidr: n.pod_cidr.value,
            sysctls: c
                .sysctls
                .0
                .iter()
                .chain(&n.sysctls.0)
                .filter_map(|(k, v)| {
                    let key = crate::net::sysctl::Key::parse(&k.value).ok()?;
                    Some((key, v.value.text()))
                })
                .collect(),
            mtu: n.mtu.as_ref().map(|m| m.value),
            link_mtu: (n.link_mtu.0.iter())
                .map(|(d, m)| (d.value.replace('/', "."), m.value))
                .collect(),
            vtep_mac: n.vtep_mac.as_ref().map(|m| m.value),
        })
        .collect();
    let pods: Vec<Pod> = s.pods.iter().map(|p| pod(s, p)).collect();
    let services: Vec<Service> = s.services.iter().map(service).collect();
    let network_policies = super::network_policy::network_policies(s);
    let mut namespaces = cluster::namespaces(
        pods.iter()
            .map(|p| p.namespace.as_str())
            .chain(services.iter().map(|s| s.namespace.as_str()))
            .chain(s.namespaces.iter().map(|n| n.name.value.as_str()))
            .chain(network_policies.iter().map(|p| p.namespace.as_str())),
    );
    // The labels written; `kubernetes.io/metadata.name` stays the API server's.
    for n in &s.namespaces {
        if let Some(ns) = namespaces.iter_mut().find(|x| x.name == n.name.value) {
            for (k, v) in &n.labels {
                if k != cluster::METADATA_NAME_LABEL {
                    ns.labels.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let mut endpoint_slices = cluster::endpoint_slices(&services, &pods);
    endpoint_slices.extend(s.endpoint_slices.iter().map(|e| e.model()));
    let kp = &s.kube_proxy;
    let kube_proxy = KubeProxyConfig {
        mode: kp.mode.as_ref().map(|m| m.value).unwrap_or_default(),
        ipvs_scheduler: kp
            .ipvs
            .as_ref()
            .and_then(|i| i.value.scheduler.as_ref())
            .map_or("rr", |s| s.value.as_str())
            .to_string(),
        cluster_cidr: kp.cluster_cidr,
        masquerade_all: kp.masquerade_all,
        random_fully: kp.random_fully,
        nfacct: kp.nfacct,
        localhost_node_ports: kp.localhost_node_ports,
        node_port_addresses: crate::cluster::NodePortAddresses {
            cidrs: kp
                .node_port_addresses
                .iter()
                .filter_map(|a| a.value.parse().ok())
                .collect(),
            primary: kp.node_port_addresses.iter().any(|a| a.value == "primary"),
        },
    };
    let internet = s.internet.as_ref().map(|i| Internet {
        gateway: Gateway {
            ip: i.gateway.ip.value,
            public_ip: i.gateway.public_ip.value,
            masquerade: i.gateway.masquerade,
        },
        hosts: i
            .hosts
            .iter()
            .map(|h| Host {
                name: h.name.value.clone(),
                ip: h.ip.value,
                dns_name: h.dns_name.clone(),
                ports: h.ports.iter().map(container_port).collect(),
            })
            .collect(),
        load_balancer_node: i.load_balancer_node.as_ref().map(|n| n.value.clone()),
    });
    Cluster {
        network,
        nodes,
        namespaces,
        pods,
        services,
        endpoint_slices,
        kube_proxy,
        internet,
        network_policies,
    }
}

fn pod(s: &Scenario, p: &super::Pod) -> Pod {
    // Validation made sure a pod without an address is a hostNetwork pod on a known node.
    let node_ip = || {
        let n = s
            .cluster
            .nodes
            .iter()
            .find(|n| n.name.value == p.node.value);
        n.map_or(std::net::Ipv4Addr::UNSPECIFIED, |n| n.ip.value)
    };
    Pod {
        namespace: p.namespace.clone(),
        name: p.name.value.clone(),
        node: p.node.value.clone(),
        ip: p.ip.as_ref().map_or_else(node_ip, |i| i.value),
        host_network: p.host_network,
        labels: p.labels.clone(),
        ready: p.ready,
        terminating: p.terminating,
        containers: p
            .containers
            .iter()
            .map(|c| cluster::Container {
                name: c.name.clone(),
                image: c.image.clone(),
                ports: c.ports.iter().map(container_port).collect(),
            })
            .collect(),
    }
}

fn container_port(p: &super::ContainerPort) -> cluster::ContainerPort {
    cluster::ContainerPort {
        container_port: p.container_port.value,
        protocol: p.protocol,
        name: p.name.clone(),
    }
}

fn service(s: &super::Service) -> Service {
    // Validation has checked the address; anything else is "None" (headless). An
    // ExternalName Service has none.
    let cluster_ip = match &s.cluster_ip {
        _ if s.kind == super::ServiceType::ExternalName => ClusterIp::Unset,
        None => ClusterIp::Unset,
        Some(c) => c
            .value
            .parse()
            .map_or(ClusterIp::Headless, ClusterIp::Address),
    };
    Service {
        namespace: s.namespace.clone(),
        name: s.name.value.clone(),
        kind: s.kind,
        cluster_ip,
        selector: s.selector.clone(),
        ports: s
            .ports
            .iter()
            .map(|p| ServicePort {
                name: p.name.clone(),
                port: p.port.value,
                // The API server defaults targetPort to port.
                target_port: p
                    .target_port
                    .as_ref()
                    .map_or(TargetPort::Number(p.port.value), |t| t.value.clone()),
                protocol: p.protocol,
                node_port: p.node_port.as_ref().map(|n| n.value),
            })
            .collect(),
        external_ips: s.external_ips.iter().map(|e| e.value).collect(),
        load_balancer_ip: s.load_balancer_ip.as_ref().map(|l| l.value),
        load_balancer_source_ranges: s
            .load_balancer_source_ranges
            .iter()
            .map(|r| r.value)
            .collect(),
        external_traffic_policy: s.external_traffic_policy,
        internal_traffic_policy: s.internal_traffic_policy,
        session_affinity: s.session_affinity,
        session_affinity_timeout: s.session_affinity_timeout,
        external_name: s.external_name.clone(),
        health_check_node_port: s.health_check_node_port,
    }
}
