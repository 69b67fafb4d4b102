//! An imported scenario printed as YAML a person can read and edit: a header saying where
//! it came from and what was assumed, the cluster, then namespaces, pods (grouped by
//! namespace), Services, hand-written EndpointSlices and NetworkPolicies, each group under
//! a comment. Loading what this prints gives the same cluster as the import itself
//! (tests/kubectl_import.rs holds it to that).

use crate::cluster::{ProxyMode, ServiceType, SessionAffinity, TargetPort, TrafficPolicy};
use crate::scenario::network_policy::{PeerSpec, PortSpec, PortValue, SelectorSpec};
use crate::scenario::{FlannelBackend, Scenario};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A scalar as YAML reads it back unchanged: plain when it cannot be taken for a number,
/// a boolean or null, double-quoted otherwise.
fn q(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

fn map(m: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}: {}", q(k), q(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn proto(p: crate::wire::IpProtocol) -> &'static str {
    match p {
        crate::wire::IpProtocol::Udp => "UDP",
        crate::wire::IpProtocol::Icmp => "ICMP",
        _ => "TCP",
    }
}

/// The scenario as YAML; `source` names where it came from in the header.
pub fn scenario(s: &Scenario, source: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Imported by `kpath import kubectl {source}`.");
    let _ = writeln!(
        o,
        "# Every object below is the dump's; the cluster settings are read from flannel's"
    );
    let _ = writeln!(
        o,
        "# annotations and ConfigMap and kube-proxy's ConfigMap where the dump has them."
    );
    if !s.assumptions.is_empty() {
        let _ = writeln!(o, "#");
        for a in &s.assumptions {
            let _ = writeln!(o, "# {a}");
        }
    }
    let _ = writeln!(o, "name: {}", q(s.title()));
    cluster(&mut o, s);
    namespaces(&mut o, s);
    pods(&mut o, s);
    services(&mut o, s);
    slices(&mut o, s);
    policies(&mut o, s);
    o
}

fn cluster(o: &mut String, s: &Scenario) {
    let c = &s.cluster;
    let _ = writeln!(o, "\n# The network the nodes' agents were started with.");
    let _ = writeln!(o, "cluster:");
    let _ = writeln!(o, "  podCIDR: {}", c.pod_cidr.value);
    let _ = writeln!(o, "  serviceCIDR: {}", c.service_cidr.value);
    let backend = match c.cni.backend {
        FlannelBackend::Vxlan => "vxlan",
        FlannelBackend::HostGw => "host-gw",
    };
    let mut cni = format!("plugin: flannel, backend: {backend}");
    if let Some(v) = &c.cni.vni {
        let _ = write!(cni, ", vni: {}", v.value);
    }
    if let Some(p) = &c.cni.port {
        let _ = write!(cni, ", port: {}", p.value);
    }
    if let Some(d) = &c.cni.direct_routing {
        let _ = write!(cni, ", directRouting: {}", d.value);
    }
    if c.cni.policy.is_some() {
        cni.push_str(", policy: kube-router");
    }
    let _ = writeln!(o, "  cni: {{{cni}}}");
    let _ = writeln!(
        o,
        "  underlay: {{cidr: {}, mtu: {}}}",
        c.underlay.cidr.value, c.underlay.mtu.value
    );
    let _ = writeln!(o, "  nodes:");
    for n in &c.nodes {
        let mut more = String::new();
        if let Some(m) = &n.vtep_mac {
            let _ = write!(more, ", vtepMAC: {}", q(&m.value.to_string()));
        }
        if n.unschedulable {
            more.push_str(", unschedulable: true");
        }
        if !n.labels.is_empty() {
            let l: Vec<String> = (n.labels.iter())
                .map(|(k, v)| format!("{}: {}", q(k), q(v)))
                .collect();
            let _ = write!(more, ", labels: {{{}}}", l.join(", "));
        }
        if !n.taints.is_empty() {
            let t: Vec<String> = (n.taints.iter())
                .map(|t| {
                    let value = if t.value.is_empty() {
                        String::new()
                    } else {
                        format!(", value: {}", q(&t.value))
                    };
                    format!("{{key: {}{value}, effect: {}}}", q(&t.key), t.effect.value)
                })
                .collect();
            let _ = write!(more, ", taints: [{}]", t.join(", "));
        }
        let _ = writeln!(
            o,
            "    - {{name: {}, ip: {}, podCIDR: {}{more}}}",
            q(&n.name.value),
            n.ip.value,
            n.pod_cidr.value
        );
    }
    let kp = &s.kube_proxy;
    let mode = match kp.mode.as_ref().map(|m| m.value).unwrap_or_default() {
        ProxyMode::Iptables => "iptables",
        ProxyMode::Ipvs => "ipvs",
        ProxyMode::Nftables => "nftables",
    };
    let mut k = format!("mode: {mode}");
    if let Some(c) = kp.cluster_cidr {
        let _ = write!(k, ", clusterCIDR: {c}");
    }
    if let Some(sch) = kp.ipvs.as_ref().and_then(|i| i.value.scheduler.as_ref()) {
        let _ = write!(k, ", ipvs: {{scheduler: {}}}", q(&sch.value));
    }
    let _ = writeln!(o, "kubeProxy: {{{k}}}");
    if let Some(i) = &s.internet {
        let g = &i.gateway;
        let _ = writeln!(
            o,
            "# The nodes' default route (assumed: a dump holds no routes)."
        );
        let _ = writeln!(
            o,
            "internet:\n  gateway: {{ip: {}, publicIP: {}}}",
            g.ip.value, g.public_ip.value
        );
    }
}

fn namespaces(o: &mut String, s: &Scenario) {
    if s.namespaces.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n# Namespaces and their labels (what namespaceSelectors match)."
    );
    let _ = writeln!(o, "namespaces:");
    for n in &s.namespaces {
        let labels = if n.labels.is_empty() {
            String::new()
        } else {
            format!(", labels: {}", map(&n.labels))
        };
        let _ = writeln!(o, "  - {{name: {}{labels}}}", q(&n.name.value));
    }
}

fn pods(o: &mut String, s: &Scenario) {
    if s.pods.is_empty() {
        return;
    }
    let _ = writeln!(o, "\npods:");
    let mut last = "";
    for p in &s.pods {
        if p.namespace != last {
            let _ = writeln!(o, "  # namespace {}", p.namespace);
            last = &p.namespace;
        }
        let _ = writeln!(o, "  - name: {}", q(&p.name.value));
        let _ = writeln!(o, "    namespace: {}", q(&p.namespace));
        let _ = writeln!(o, "    node: {}", q(&p.node.value));
        match &p.ip {
            Some(ip) => {
                let _ = writeln!(o, "    ip: {}", ip.value);
            }
            None => {
                let _ = writeln!(o, "    hostNetwork: true");
            }
        }
        if !p.labels.is_empty() {
            let _ = writeln!(o, "    labels: {}", map(&p.labels));
        }
        if !p.ready {
            let _ = writeln!(o, "    ready: false");
        }
        if p.terminating {
            let _ = writeln!(o, "    terminating: true");
        }
        if !p.containers.is_empty() {
            let _ = writeln!(o, "    containers:");
        }
        for c in &p.containers {
            let mut line = format!("name: {}", q(&c.name));
            if let Some(i) = &c.image {
                let _ = write!(line, ", image: {}", q(i));
            }
            if !c.ports.is_empty() {
                let ports: Vec<String> = c
                    .ports
                    .iter()
                    .map(|p| {
                        let name = p
                            .name
                            .as_ref()
                            .map_or(String::new(), |n| format!(", name: {}", q(n)));
                        format!(
                            "{{containerPort: {}, protocol: {}{name}}}",
                            p.container_port.value,
                            proto(p.protocol)
                        )
                    })
                    .collect();
                let _ = write!(line, ", ports: [{}]", ports.join(", "));
            }
            let _ = writeln!(o, "      - {{{line}}}");
        }
    }
}

fn services(o: &mut String, s: &Scenario) {
    if s.services.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n# Services, with every field kube-proxy reads; their EndpointSlices follow from"
    );
    let _ = writeln!(
        o,
        "# the selectors and the pods' readiness, as the EndpointSlice controller makes them."
    );
    let _ = writeln!(o, "services:");
    for v in &s.services {
        let _ = writeln!(o, "  - name: {}", q(&v.name.value));
        let _ = writeln!(o, "    namespace: {}", q(&v.namespace));
        let kind = match v.kind {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
            ServiceType::ExternalName => "ExternalName",
        };
        let _ = writeln!(o, "    type: {kind}");
        if let Some(c) = &v.cluster_ip {
            let _ = writeln!(o, "    clusterIP: {}", q(&c.value));
        }
        if !v.selector.is_empty() {
            let _ = writeln!(o, "    selector: {}", map(&v.selector));
        }
        if !v.ports.is_empty() {
            let _ = writeln!(o, "    ports:");
        }
        for p in &v.ports {
            let mut line = String::new();
            if let Some(n) = &p.name {
                let _ = write!(line, "name: {}, ", q(n));
            }
            let _ = write!(
                line,
                "port: {}, protocol: {}",
                p.port.value,
                proto(p.protocol)
            );
            match p.target_port.as_ref().map(|t| &t.value) {
                Some(TargetPort::Number(n)) => {
                    let _ = write!(line, ", targetPort: {n}");
                }
                Some(TargetPort::Name(n)) => {
                    let _ = write!(line, ", targetPort: {}", q(n));
                }
                None => {}
            }
            if let Some(n) = &p.node_port {
                let _ = write!(line, ", nodePort: {}", n.value);
            }
            let _ = writeln!(o, "      - {{{line}}}");
        }
        let list = |v: Vec<String>| v.join(", ");
        if !v.external_ips.is_empty() {
            let _ = writeln!(
                o,
                "    externalIPs: [{}]",
                list(v.external_ips.iter().map(|i| i.value.to_string()).collect())
            );
        }
        if let Some(l) = &v.load_balancer_ip {
            let _ = writeln!(o, "    loadBalancerIP: {}", l.value);
        }
        if !v.load_balancer_source_ranges.is_empty() {
            let _ = writeln!(
                o,
                "    loadBalancerSourceRanges: [{}]",
                list(
                    v.load_balancer_source_ranges
                        .iter()
                        .map(|r| r.value.to_string())
                        .collect()
                )
            );
        }
        if v.external_traffic_policy == TrafficPolicy::Local {
            let _ = writeln!(o, "    externalTrafficPolicy: Local");
        }
        if v.internal_traffic_policy == TrafficPolicy::Local {
            let _ = writeln!(o, "    internalTrafficPolicy: Local");
        }
        if v.session_affinity == SessionAffinity::ClientIP {
            let _ = writeln!(o, "    sessionAffinity: ClientIP");
            let _ = writeln!(
                o,
                "    sessionAffinityTimeout: {}",
                v.session_affinity_timeout
            );
        }
        if let Some(e) = &v.external_name {
            let _ = writeln!(o, "    externalName: {}", q(e));
        }
        if let Some(h) = v.health_check_node_port {
            let _ = writeln!(o, "    healthCheckNodePort: {h}");
        }
    }
}

fn slices(o: &mut String, s: &Scenario) {
    if s.endpoint_slices.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n# EndpointSlices of Services without a selector, as the dump holds them."
    );
    let _ = writeln!(o, "endpointSlices:");
    for e in &s.endpoint_slices {
        let _ = writeln!(o, "  - name: {}", q(&e.name.value));
        let _ = writeln!(o, "    namespace: {}", q(&e.namespace));
        let _ = writeln!(o, "    service: {}", q(&e.service.value));
        let ports: Vec<String> = e
            .ports
            .iter()
            .map(|p| {
                let name = p
                    .name
                    .as_ref()
                    .filter(|n| !n.is_empty())
                    .map_or(String::new(), |n| format!("name: {}, ", q(n)));
                format!(
                    "{{{name}port: {}, protocol: {}}}",
                    p.port.value,
                    proto(p.protocol)
                )
            })
            .collect();
        let _ = writeln!(o, "    ports: [{}]", ports.join(", "));
        let _ = writeln!(o, "    endpoints:");
        for ep in &e.endpoints {
            let addrs: Vec<String> = ep.addresses.iter().map(|a| a.value.to_string()).collect();
            let mut line = format!("addresses: [{}]", addrs.join(", "));
            if let Some(r) = ep.ready {
                let _ = write!(line, ", ready: {r}");
            }
            if let Some(sv) = ep.serving {
                let _ = write!(line, ", serving: {sv}");
            }
            if ep.terminating {
                line.push_str(", terminating: true");
            }
            if let Some(n) = &ep.node_name {
                let _ = write!(line, ", nodeName: {}", q(&n.value));
            }
            let _ = writeln!(o, "      - {{{line}}}");
        }
    }
}

fn selector(sel: &SelectorSpec) -> String {
    let mut parts = Vec::new();
    if !sel.match_labels.is_empty() {
        parts.push(format!("matchLabels: {}", map(&sel.match_labels)));
    }
    if !sel.match_expressions.is_empty() {
        let ex: Vec<String> = sel
            .match_expressions
            .iter()
            .map(|e| {
                let vals: Vec<String> = e.value.values.iter().map(|v| q(v)).collect();
                format!(
                    "{{key: {}, operator: {}, values: [{}]}}",
                    q(&e.value.key),
                    q(&e.value.operator.value),
                    vals.join(", ")
                )
            })
            .collect();
        parts.push(format!("matchExpressions: [{}]", ex.join(", ")));
    }
    format!("{{{}}}", parts.join(", "))
}

fn peer(p: &PeerSpec) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &p.pod_selector {
        parts.push(format!("podSelector: {}", selector(s)));
    }
    if let Some(s) = &p.namespace_selector {
        parts.push(format!("namespaceSelector: {}", selector(s)));
    }
    if let Some(b) = &p.ip_block {
        let ex: Vec<String> = b.except.iter().map(|e| q(&e.value)).collect();
        let except = if ex.is_empty() {
            String::new()
        } else {
            format!(", except: [{}]", ex.join(", "))
        };
        parts.push(format!("ipBlock: {{cidr: {}{except}}}", q(&b.cidr.value)));
    }
    format!("{{{}}}", parts.join(", "))
}

fn port(p: &PortSpec) -> String {
    let mut parts = Vec::new();
    if let Some(pr) = &p.protocol {
        parts.push(format!("protocol: {}", q(&pr.value)));
    }
    match p.port.as_ref().map(|p| &p.value) {
        Some(PortValue::Number(n)) => parts.push(format!("port: {n}")),
        Some(PortValue::Name(n)) => parts.push(format!("port: {}", q(n))),
        None => {}
    }
    if let Some(e) = &p.end_port {
        parts.push(format!("endPort: {}", e.value));
    }
    format!("{{{}}}", parts.join(", "))
}

fn rules<T>(
    o: &mut String,
    key: &str,
    peers_key: &str,
    rules: &[Spanned<T>],
    parts: impl Fn(&T) -> (&[Spanned<PeerSpec>], &[Spanned<PortSpec>]),
) {
    if rules.is_empty() {
        return;
    }
    let _ = writeln!(o, "    {key}:");
    for r in rules {
        let (peers, ports) = parts(&r.value);
        let mut line = Vec::new();
        if !peers.is_empty() {
            let ps: Vec<String> = peers.iter().map(|p| peer(&p.value)).collect();
            line.push(format!("{peers_key}: [{}]", ps.join(", ")));
        }
        if !ports.is_empty() {
            let ps: Vec<String> = ports.iter().map(|p| port(&p.value)).collect();
            line.push(format!("ports: [{}]", ps.join(", ")));
        }
        let _ = writeln!(o, "      - {{{}}}", line.join(", "));
    }
}

fn policies(o: &mut String, s: &Scenario) {
    if s.network_policies.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nnetworkPolicies:");
    for p in &s.network_policies {
        let _ = writeln!(o, "  - name: {}", q(&p.name.value));
        let _ = writeln!(o, "    namespace: {}", q(&p.namespace.value));
        let _ = writeln!(o, "    podSelector: {}", selector(&p.pod_selector.value));
        if let Some(t) = &p.policy_types {
            let ts: Vec<String> = t.iter().map(|t| q(&t.value)).collect();
            let _ = writeln!(o, "    policyTypes: [{}]", ts.join(", "));
        }
        rules(o, "ingress", "from", &p.ingress, |r| (&r.from, &r.ports));
        rules(o, "egress", "to", &p.egress, |r| (&r.to, &r.ports));
    }
}
