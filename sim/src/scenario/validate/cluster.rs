//! The cluster objects, checked as the API server would: networks, nodes, pods, Services, the internet.

use super::Checker;
use super::names::{LABEL_RULE, SUBDOMAIN_RULE, is_dns_subdomain, label_problem, shorten};
use crate::scenario::{
    FlannelBackend, IpProtocol, ProxyMode, ScenarioError, ServiceType, did_you_mean,
};
use std::collections::{HashMap, HashSet};

/// net-conf.json's vxlan `Backend` keys: only for the vxlan backend; the VNI fits 24 bits.
fn check_flannel_backend(c: &Checker) -> Result<(), ScenarioError> {
    let cni = &c.s.cluster.cni;
    if cni.backend != FlannelBackend::Vxlan {
        let only = |what: &str| {
            format!("cni.{what} is a setting of flannel's vxlan backend, not of host-gw")
        };
        let hint = "use backend: vxlan, or leave vni, port and directRouting out";
        if let Some(v) = &cni.vni {
            return Err(c.err_at(v, only("vni")).with_hint(hint));
        }
        if let Some(v) = &cni.port {
            return Err(c.err_at(v, only("port")).with_hint(hint));
        }
        if let Some(v) = &cni.direct_routing {
            return Err(c.err_at(v, only("directRouting")).with_hint(hint));
        }
    }
    if let Some(v) = &cni.vni
        && v.value > 0xff_ffff
    {
        return Err(c
            .err_at(v, format!("VNI {} does not fit VXLAN's 24 bits", v.value))
            .with_hint("use 1 to 16777215 (flannel's default is 1)"));
    }
    Ok(())
}

pub(super) fn check_cluster(c: &Checker) -> Result<(), ScenarioError> {
    let cl = &c.s.cluster;
    if cl.pod_cidr.value.overlaps(&cl.service_cidr.value) {
        return Err(c.err_at(&cl.service_cidr, format!(
            "service CIDR {} overlaps the pod CIDR {}", cl.service_cidr.value, cl.pod_cidr.value))
            .with_hint("kubeadm's defaults are podCIDR 10.244.0.0/16 (flannel) and serviceCIDR 10.96.0.0/12"));
    }
    for (net, what) in [
        (&cl.pod_cidr, "pod CIDR"),
        (&cl.service_cidr, "service CIDR"),
    ] {
        if net.value.overlaps(&cl.underlay.cidr.value) {
            return Err(c
                .err_at(
                    net,
                    format!(
                        "the {what} {} overlaps the underlay {}",
                        net.value, cl.underlay.cidr.value
                    ),
                )
                .with_hint(
                    "node addresses, pod addresses and Service addresses must not share a range",
                ));
        }
    }
    let mtu = cl.underlay.mtu.value;
    if !(576..=9216).contains(&mtu) {
        return Err(c
            .err_at(
                &cl.underlay.mtu,
                format!("underlay MTU {mtu} is out of range"),
            )
            .with_hint("use 576 to 9216 (1500 for ordinary Ethernet, 9000 for jumbo frames)"));
    }
    if let Some(m) = &cl.cni.mtu
        && (m.value < 576 || m.value > mtu)
    {
        return Err(c
            .err_at(m, format!("pod MTU {} is out of range", m.value))
            .with_hint(format!(
                "use 576 to the underlay MTU {mtu}; leave it out to get flannel's value"
            )));
    }
    check_flannel_backend(c)?;
    for n in &cl.nodes {
        for t in &n.taints {
            if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&t.effect.value.as_str()) {
                return Err(c
                    .err_at(
                        &t.effect,
                        format!("`{}` is not a taint effect", t.effect.value),
                    )
                    .with_hint("a taint's effect is NoSchedule, PreferNoSchedule or NoExecute"));
            }
        }
        if let Some(m) = &n.mtu
            && !(576..=9216).contains(&m.value)
        {
            return Err(c
                .err_at(m, format!("node MTU {} is out of range", m.value))
                .with_hint("use 576 to 9216 (1500 for ordinary Ethernet, 9000 for jumbo frames); leave it out for the underlay's"));
        }
        if let (Some(m), Some(p)) = (&n.mtu, &cl.cni.mtu)
            && p.value > m.value
        {
            return Err(c
                .err_at(
                    p,
                    format!(
                        "pod MTU {} is larger than node {}'s MTU {}",
                        p.value, n.name.value, m.value
                    ),
                )
                .with_hint(
                    "leave cni.mtu out: flannel then derives each node's pod MTU from its own NIC",
                ));
        }
    }
    if cl.nodes.is_empty() {
        return Err(
            ScenarioError::whole_file(&c.s.file, "the cluster has no nodes")
                .with_hint("add at least one entry under cluster.nodes"),
        );
    }
    // The nodes checked so far, by name and by IP (clusters have thousands).
    let mut names: HashSet<&str> = HashSet::new();
    let mut ips: HashMap<std::net::Ipv4Addr, &str> = HashMap::new();
    // The pod CIDRs checked so far (disjoint), by first address: (last address, node).
    let mut cidrs: std::collections::BTreeMap<u32, (u32, usize)> = Default::default();
    for (i, n) in cl.nodes.iter().enumerate() {
        if let Some(msg) = label_problem("node name", &n.name.value) {
            return Err(c
                .err_at(&n.name, msg)
                .with_hint(format!("a node name is {LABEL_RULE}")));
        }
        if n.name.value == "underlay" {
            return Err(c
                .err_at(&n.name, "node name `underlay` is reserved")
                .with_hint("kpath names the underlay switch's namespace `underlay`; pick another node name"));
        }
        if !names.insert(&n.name.value) {
            return Err(c.err_at(&n.name, format!("node `{}` is defined twice", n.name.value)));
        }
        if let Some(e) = ips.insert(n.ip.value, &n.name.value) {
            return Err(c.err_at(
                &n.ip,
                format!("node IP {} is already node `{e}`'s", n.ip.value),
            ));
        }
        let u = cl.underlay.cidr.value;
        if !u.contains(n.ip.value) || n.ip.value == u.network().addr || n.ip.value == u.broadcast()
        {
            return Err(c
                .err_at(
                    &n.ip,
                    format!(
                        "node IP {} is not a host address of the underlay {u}",
                        n.ip.value
                    ),
                )
                .with_hint(format!(
                    "pick an address between {} and {}",
                    u.nth(1),
                    prev(u.broadcast())
                )));
        }
        if !cl.pod_cidr.value.covers(&n.pod_cidr.value) {
            return Err(c.err_at(
                &n.pod_cidr,
                format!(
                    "node `{}`'s pod CIDR {} is not inside the cluster's pod CIDR {}",
                    n.name.value, n.pod_cidr.value, cl.pod_cidr.value
                ),
            ));
        }
        if n.pod_cidr.value.prefix > 30 {
            return Err(c
                .err_at(
                    &n.pod_cidr,
                    format!("node pod CIDR {} is too small", n.pod_cidr.value),
                )
                .with_hint("flannel gives each node a /24 (SubnetLen)"));
        }
        let (first, last) = (
            u32::from(n.pod_cidr.value.network().addr),
            u32::from(n.pod_cidr.value.broadcast()),
        );
        // The earliest node whose CIDR overlaps: the one starting at or before `first` if it
        // reaches it, and any starting inside.
        let before = cidrs
            .range(..=first)
            .next_back()
            .filter(|(_, (end, _))| *end >= first);
        let inside = cidrs.range(first..=last);
        let overlap = before.into_iter().chain(inside).map(|(_, (_, e))| *e).min();
        if let Some(e) = overlap.map(|e| &cl.nodes[e]) {
            return Err(c.err_at(&n.pod_cidr, format!(
                "node `{}`'s pod CIDR {} overlaps node `{}`'s {}",
                n.name.value, n.pod_cidr.value, e.name.value, e.pod_cidr.value))
                .with_hint("each node owns its own slice: node N gets 10.244.N.0/24 in flannel's default layout"));
        }
        cidrs.insert(first, (last, i));
    }
    Ok(())
}

/// The address before `ip` (the last host address before a broadcast address).
fn prev(ip: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::from(ip).wrapping_sub(1))
}

pub(super) fn check_pods(c: &Checker) -> Result<(), ScenarioError> {
    let nodes: Vec<&str> =
        c.s.cluster
            .nodes
            .iter()
            .map(|n| n.name.value.as_str())
            .collect();
    let by_name: HashMap<&str, &crate::scenario::Node> =
        c.s.cluster
            .nodes
            .iter()
            .rev()
            .map(|n| (n.name.value.as_str(), n))
            .collect();
    // The pods checked so far, by namespace/name and by IP (clusters have thousands).
    let mut keys: HashSet<(&str, &str)> = HashSet::new();
    // hostNetwork pods share their node's ports (the scheduler's NodePorts filter keeps a
    // second one off the node: a hostNetwork pod's containerPorts are its hostPorts).
    let mut host_ports: HashMap<(&str, IpProtocol, u16), String> = HashMap::new();
    let mut ips: HashMap<std::net::Ipv4Addr, usize> = HashMap::new();
    for (i, p) in c.s.pods.iter().enumerate() {
        let name = &p.name.value;
        if name.chars().count() > 253 || !is_dns_subdomain(name) {
            let msg = if name.chars().count() > 253 {
                format!(
                    "pod name `{}` is longer than 253 characters ({})",
                    shorten(name),
                    name.chars().count()
                )
            } else {
                format!("pod name `{name}` is not a DNS-1123 subdomain")
            };
            return Err(c
                .err_at(&p.name, msg)
                .with_hint(format!("a pod name is {SUBDOMAIN_RULE}")));
        }
        if let Some(msg) = label_problem("namespace", &p.namespace) {
            let msg = format!("pod `{}`: {msg}", shorten(name));
            let hint = format!("a namespace name is {LABEL_RULE}");
            let at = c.find_key_value("namespace", &p.namespace, p.name.referenced.line() as usize);
            let e = match at {
                Some((line, col)) => ScenarioError::at(&c.s.file, c.src, line, col, msg),
                None => c.err_at(&p.name, msg),
            };
            return Err(e.with_hint(hint));
        }
        if !keys.insert((&p.namespace, &p.name.value)) {
            return Err(c.err_at(&p.name, format!("pod `{}` is defined twice", p.key())));
        }
        let Some(node) = by_name.get(p.node.value.as_str()) else {
            let hint = match did_you_mean(&p.node.value, nodes.iter().copied()) {
                Some(m) => format!("did you mean `{m}`? nodes: {}", nodes.join(", ")),
                None => format!("nodes: {}", nodes.join(", ")),
            };
            return Err(c
                .err_at(
                    &p.node,
                    format!("pod `{}` is on unknown node `{}`", p.key(), p.node.value),
                )
                .with_hint(hint));
        };
        let cidr = node.pod_cidr.value.network();
        let pod_ip = match (&p.ip, p.host_network) {
            (Some(at), true) if at.value != node.ip.value => {
                return Err(c
                    .err_at(
                        at,
                        format!(
                            "hostNetwork pod `{}`'s IP {} is not its node's",
                            p.key(),
                            at.value
                        ),
                    )
                    .with_hint(format!(
                        "a hostNetwork pod shares node `{}`'s addresses: its IP is {}; leave ip out",
                        node.name.value, node.ip.value
                    )));
            }
            (_, true) => None,
            (None, false) => {
                return Err(c
                    .err_at(&p.name, format!("pod `{}` has no ip", p.key()))
                    .with_hint(format!(
                        "give it an address from node `{}`'s pod CIDR {cidr} ({} or above), or set hostNetwork: true",
                        node.name.value,
                        cidr.nth(2)
                    )));
            }
            (Some(at), false) => Some(at),
        };
        if let Some(at) = pod_ip {
            let ip = at.value;
            if !cidr.contains(ip) {
                return Err(c
                    .err_at(
                        at,
                        format!(
                            "pod `{}`'s IP {ip} is outside node `{}`'s pod CIDR {cidr}",
                            p.key(),
                            node.name.value
                        ),
                    )
                    .with_hint(format!(
                        "pods on {} get addresses from {cidr} (from {} up; .1 is cni0)",
                        node.name.value,
                        cidr.nth(2)
                    )));
            }
            if ip == cidr.nth(0) || ip == cidr.nth(1) || ip == cidr.broadcast() {
                return Err(c.err_at(at, format!(
                    "pod `{}`'s IP {ip} is reserved on node `{}`", p.key(), node.name.value))
                    .with_hint(format!("{} is the network (flannel's VXLAN device's address), {} is cni0, {} is broadcast; use {} or above",
                        cidr.nth(0), cidr.nth(1), cidr.broadcast(), cidr.nth(2))));
            }
            if let Some(&e) = ips.get(&ip) {
                let e = &c.s.pods[e];
                return Err(c.err_at(at, format!("pod IP {ip} is already pod `{}`'s", e.key())));
            }
            ips.insert(ip, i);
        }
        let mut seen: Vec<(IpProtocol, u16)> = Vec::new();
        for ct in &p.containers {
            for port in &ct.ports {
                let k = (port.protocol, port.container_port.value);
                if port.protocol == IpProtocol::Icmp {
                    return Err(c
                        .err_at(&port.container_port, "ICMP has no ports")
                        .with_hint("container ports are TCP or UDP"));
                }
                if k.1 == 0 {
                    return Err(c
                        .err_at(&port.container_port, "port 0 cannot be listened on")
                        .with_hint("ports are 1 to 65535"));
                }
                if seen.contains(&k) {
                    return Err(c.err_at(&port.container_port, format!(
                        "{}/{} is already bound in pod `{}`", k.1, port.protocol.name(), p.key()))
                        .with_hint("containers of a pod share one network namespace, so one port can be bound once"));
                }
                seen.push(k);
                if p.host_network
                    && let Some(other) =
                        host_ports.insert((p.node.value.as_str(), k.0, k.1), p.key())
                {
                    return Err(c
                        .err_at(
                            &port.container_port,
                            format!(
                                "{}/{} on node `{}` is already hostNetwork pod `{other}`'s",
                                k.1,
                                port.protocol.name(),
                                p.node.value
                            ),
                        )
                        .with_hint("hostNetwork pods share their node's ports: the scheduler puts two that want one port on different nodes"));
                }
            }
        }
    }
    Ok(())
}

/// IPVS settings: only with `mode: ipvs`, and a scheduler kpath models.
fn check_ipvs_config(c: &Checker) -> Result<(), ScenarioError> {
    let kp = &c.s.kube_proxy;
    let Some(cfg) = &kp.ipvs else { return Ok(()) };
    if c.s
        .kube_proxy
        .mode
        .as_ref()
        .map(|m| m.value)
        .unwrap_or_default()
        != ProxyMode::Ipvs
    {
        return Err(c
            .err_at(
                cfg,
                "`ipvs:` settings apply only when kube-proxy runs in IPVS mode",
            )
            .with_hint("add `mode: ipvs` to kubeProxy, or drop the `ipvs:` block"));
    }
    if let Some(sched) = &cfg.value.scheduler
        && crate::ipvs::Scheduler::by_name(&sched.value).is_none()
    {
        return Err(c
            .err_at(
                sched,
                format!("kpath does not model the IPVS scheduler `{}`", sched.value),
            )
            .with_hint(format!(
                "use one of: {}",
                crate::ipvs::Scheduler::NAMES.join(", ")
            )));
    }
    Ok(())
}

/// `nodePortAddresses`: CIDRs, or `primary` (kube-proxy refuses anything else at startup).
fn check_node_port_addresses(c: &Checker) -> Result<(), ScenarioError> {
    for a in &c.s.kube_proxy.node_port_addresses {
        if a.value != "primary" && a.value.parse::<crate::wire::Ipv4Net>().is_err() {
            return Err(c
                .err_at(a, format!("`{}` is not a CIDR or `primary`", a.value))
                .with_hint("nodePortAddresses takes CIDRs (172.31.0.0/24, 127.0.0.0/8) or the word `primary` (the node's InternalIP)"));
        }
    }
    Ok(())
}

/// Services: unique names, ClusterIPs inside the service CIDR and unique, ports that make
/// sense for the type (NodePorts in kube-apiserver's default range, unique).
pub(super) fn check_services(c: &Checker) -> Result<(), ScenarioError> {
    let s = c.s;
    check_ipvs_config(c)?;
    check_node_port_addresses(c)?;
    let scidr = s.cluster.service_cidr.value;
    // What earlier Services hold, looked up instead of rescanned: a scenario may have
    // tens of thousands of Services. The first holder of a ClusterIP or nodePort is named.
    let mut keys: HashSet<String> = HashSet::new();
    let mut cluster_ips: HashMap<std::net::Ipv4Addr, String> = HashMap::new();
    let mut node_ports: HashMap<u16, (String, Vec<IpProtocol>)> = HashMap::new();
    for svc in &s.services {
        let key = svc.key();
        if !keys.insert(key.clone()) {
            return Err(c.err_at(&svc.name, format!("Service `{key}` is defined twice")));
        }
        if svc.kind == ServiceType::ExternalName {
            if svc.external_name.is_none() {
                return Err(c
                    .err_at(
                        &svc.name,
                        format!("ExternalName Service `{key}` has no externalName"),
                    )
                    .with_hint("add `externalName: db.example.com`"));
            }
            // An address written on one still counts as taken for the Services after it.
            if let Some(ip) = svc.cluster_ip() {
                cluster_ips.entry(ip).or_insert(key);
            }
            continue;
        }
        let Some(cip) = &svc.cluster_ip else {
            return Err(c.err_at(&svc.name, format!("Service `{key}` has no clusterIP")).with_hint(format!(
                "kpath does not allocate one for you: pick an address in {scidr}, or `None` for a headless Service")));
        };
        if cip.value != "None" {
            let Ok(ip) = cip.value.parse::<std::net::Ipv4Addr>() else {
                return Err(c
                    .err_at(cip, format!("`{}` is not an IPv4 address", cip.value))
                    .with_hint("an address, or `None` for a headless Service"));
            };
            if !scidr.contains(ip) {
                return Err(c
                    .err_at(
                        cip,
                        format!("ClusterIP {ip} is outside the service CIDR {scidr}"),
                    )
                    .with_hint(format!("pick an address in {scidr}")));
            }
            // The allocator (pkg/registry/core/service/ipallocator) never hands out the
            // range's network address, nor (IPv4) its broadcast address: the API server
            // refuses them as "not in the valid range".
            let net = scidr.network();
            if scidr.prefix < 31 && (ip == net.addr || ip == scidr.broadcast()) {
                let which = if ip == net.addr {
                    "network"
                } else {
                    "broadcast"
                };
                return Err(c
                    .err_at(
                        cip,
                        format!("ClusterIP {ip} is the service CIDR's {which} address"),
                    )
                    .with_hint(format!(
                        "the API server allocates neither end of {scidr}: pick an address inside it"
                    )));
            }
            if let Some(other) = cluster_ips.get(&ip) {
                return Err(c.err_at(
                    cip,
                    format!("ClusterIP {ip} is already Service `{other}`'s"),
                ));
            }
            cluster_ips.insert(ip, key.clone());
        }
        if svc.ports.is_empty() && !svc.is_headless() {
            return Err(c
                .err_at(&svc.name, format!("Service `{key}` has no ports"))
                .with_hint("add `ports: [{port: 80}]`"));
        }
        for (j, p) in svc.ports.iter().enumerate() {
            if p.protocol == IpProtocol::Icmp {
                return Err(c
                    .err_at(&p.port, "Service ports are TCP or UDP")
                    .with_hint("protocol: TCP or UDP"));
            }
            if svc.ports.len() > 1 && p.name.as_deref().is_none_or(str::is_empty) {
                return Err(c
                    .err_at(
                        &p.port,
                        format!("Service `{key}` has several ports, so each needs a name"),
                    )
                    .with_hint("add `name: http` (Kubernetes requires it)"));
            }
            if svc.ports[..j]
                .iter()
                .any(|o| o.port.value == p.port.value && o.protocol == p.protocol)
            {
                return Err(c.err_at(
                    &p.port,
                    format!(
                        "port {}/{} appears twice in Service `{key}`",
                        p.port.value,
                        p.protocol.name()
                    ),
                ));
            }
            let wants_np = matches!(svc.kind, ServiceType::NodePort | ServiceType::LoadBalancer);
            match (&p.node_port, wants_np) {
                (Some(np), false) => {
                    return Err(c
                        .err_at(
                            np,
                            format!("Service `{key}` is a {:?}: it has no nodePort", svc.kind),
                        )
                        .with_hint("use type NodePort or LoadBalancer"));
                }
                (None, true) => {
                    return Err(c
                        .err_at(
                            &p.port,
                            format!(
                                "Service `{key}` is a {:?}: give each port a nodePort",
                                svc.kind
                            ),
                        )
                        .with_hint("kpath does not allocate one for you: pick 30000-32767"));
                }
                (Some(np), true) => {
                    if !(30000..=32767).contains(&np.value) {
                        return Err(c.err_at(np, format!("nodePort {} is outside 30000-32767", np.value)).with_hint("kube-apiserver's --service-node-port-range defaults to 30000-32767"));
                    }
                    // The allocator holds a number for one Service; that Service may
                    // use it once per protocol (a DNS NodePort on TCP and UDP).
                    match node_ports.get(&np.value) {
                        Some((other, protos)) if *other != key || protos.contains(&p.protocol) => {
                            let whom = if *other == key {
                                format!("this Service's other {} port", p.protocol.name())
                            } else {
                                format!("Service `{other}`")
                            };
                            return Err(c.err_at(
                                np,
                                format!("nodePort {} is already used by {whom}", np.value),
                            ).with_hint("a nodePort belongs to one Service (once per protocol); pick another in 30000-32767"));
                        }
                        _ => {}
                    }
                    node_ports
                        .entry(np.value)
                        .or_insert_with(|| (key.clone(), Vec::new()))
                        .1
                        .push(p.protocol);
                }
                (None, false) => {}
            }
        }
        if svc.kind == ServiceType::LoadBalancer && svc.load_balancer_ip.is_none() {
            return Err(c.err_at(&svc.name, format!("LoadBalancer Service `{key}` has no loadBalancerIP")).with_hint("give the address the load balancer got (`loadBalancerIP:`); kpath has no cloud to ask"));
        }
    }
    Ok(())
}

/// Hand-written EndpointSlices: each belongs to a Service of its namespace that has
/// endpoints to have (not ExternalName), under a name of its own.
pub(super) fn check_endpoint_slices(c: &Checker) -> Result<(), ScenarioError> {
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for e in &c.s.endpoint_slices {
        if !seen.insert((&e.namespace, &e.name.value)) {
            return Err(c.err_at(
                &e.name,
                format!(
                    "EndpointSlice `{}/{}` is defined twice",
                    e.namespace, e.name.value
                ),
            ));
        }
        let key = format!("{}/{}", e.namespace, e.service.value);
        match c.s.service(&key) {
            None => {
                let names: Vec<String> = c.s.services.iter().map(|s| s.key()).collect();
                let hint = match did_you_mean(&key, names.iter().map(String::as_str)) {
                    Some(m) => format!("did you mean `{m}`? "),
                    None => String::new(),
                };
                return Err(c
                    .err_at(
                        &e.service,
                        format!("no Service `{key}` for this EndpointSlice"),
                    )
                    .with_hint(format!(
                        "{hint}a slice names a Service of its own namespace"
                    )));
            }
            Some(s) if s.kind == ServiceType::ExternalName => {
                return Err(c
                    .err_at(&e.service, format!("`{key}` is an ExternalName Service"))
                    .with_hint("an ExternalName Service is a DNS name; kube-proxy reads no endpoints for it"));
            }
            Some(_) => {}
        }
        if let Some(n) = e.endpoints.iter().find_map(|ep| ep.node_name.as_ref())
            && c.s.node(&n.value).is_none()
        {
            return Err(c
                .err_at(n, format!("unknown node `{}`", n.value))
                .with_hint("nodeName names a node of cluster.nodes"));
        }
        if e.endpoints.iter().any(|ep| ep.addresses.is_empty()) {
            return Err(c
                .err_at(&e.name, "an endpoint of this slice has no address")
                .with_hint("give each endpoint `addresses: [IP]`"));
        }
    }
    Ok(())
}

/// The internet: the gateway on the underlay, hosts with unique names and public addresses.
pub(super) fn check_internet(c: &Checker) -> Result<(), ScenarioError> {
    let Some(net) = &c.s.internet else {
        return Ok(());
    };
    let cl = &c.s.cluster;
    let g = &net.gateway;
    let u = cl.underlay.cidr.value;
    if !u.contains(g.ip.value) || g.ip.value == u.network().addr || g.ip.value == u.broadcast() {
        return Err(c
            .err_at(
                &g.ip,
                format!(
                    "the gateway {} is not a host address of the underlay {u}",
                    g.ip.value
                ),
            )
            .with_hint("the nodes' default route points at it, so it sits on their segment"));
    }
    if let Some(n) = cl.nodes.iter().find(|n| n.ip.value == g.ip.value) {
        return Err(c.err_at(
            &g.ip,
            format!("{} is node `{}`'s address", g.ip.value, n.name.value),
        ));
    }
    let inside = |ip: std::net::Ipv4Addr| {
        u.contains(ip) || cl.pod_cidr.value.contains(ip) || cl.service_cidr.value.contains(ip)
    };
    if inside(g.public_ip.value) {
        return Err(c
            .err_at(
                &g.public_ip,
                format!(
                    "the public address {} is inside the cluster's own ranges",
                    g.public_ip.value
                ),
            )
            .with_hint("use an address outside the underlay, pod and service CIDRs"));
    }
    for (i, h) in net.hosts.iter().enumerate() {
        let name = &h.name.value;
        if net.hosts[..i].iter().any(|o| &o.name.value == name)
            || cl.nodes.iter().any(|n| &n.name.value == name)
            || name == "gateway"
            || name == "underlay"
        {
            return Err(c.err_at(&h.name, format!("the name `{name}` is taken")).with_hint("internet hosts need names of their own (not a node's, `gateway` or `underlay`)"));
        }
        if inside(h.ip.value) || h.ip.value == g.public_ip.value {
            return Err(c.err_at(&h.ip, format!("internet host `{name}`'s address {} is not an internet address here", h.ip.value)).with_hint("use an address outside the underlay, pod and service CIDRs and other than the gateway's"));
        }
        if let Some(o) = net.hosts[..i].iter().find(|o| o.ip.value == h.ip.value) {
            return Err(c.err_at(
                &h.ip,
                format!("{} is already host `{}`'s", h.ip.value, o.name.value),
            ));
        }
    }
    if let Some(n) = &net.load_balancer_node
        && c.s.node(&n.value).is_none()
    {
        return Err(c
            .err_at(n, format!("unknown node `{}`", n.value))
            .with_hint("loadBalancerNode names the node that receives LoadBalancer traffic"));
    }
    Ok(())
}
