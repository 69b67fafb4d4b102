//! Checks a parsed scenario for what YAML types cannot say: unique names, addresses inside
//! their networks, references that resolve. The first problem is returned, located.

use super::endpoint::{ENDPOINT_FORMS, Endpoint, EndpointKind};
use super::{PacketSpec, Protocol, Scenario};
use super::{ScenarioError, did_you_mean};
use serde_saphyr::{Location, Spanned};

struct Checker<'a> {
    s: &'a Scenario,
    src: &'a str,
}

impl Checker<'_> {
    fn err(&self, at: &Location, msg: impl Into<String>) -> ScenarioError {
        if *at == Location::UNKNOWN {
            ScenarioError::whole_file(&self.s.file, msg)
        } else {
            ScenarioError::at(
                &self.s.file,
                self.src,
                at.line() as usize,
                at.column() as usize,
                msg,
            )
        }
    }

    fn err_at<T>(&self, v: &Spanned<T>, msg: impl Into<String>) -> ScenarioError {
        self.err(&v.referenced, msg)
    }
}

pub(super) fn check(s: &Scenario, src: &str) -> Result<(), ScenarioError> {
    let c = Checker { s, src };
    check_cluster(&c)?;
    check_pods(&c)?;
    let mut names: Vec<&str> = Vec::new();
    for p in &s.packets {
        if names.contains(&p.name.value.as_str()) {
            return Err(c
                .err_at(
                    &p.name,
                    format!("packet `{}` is defined twice", p.name.value),
                )
                .with_hint("packet names must be unique within a scenario"));
        }
        names.push(&p.name.value);
        check_packet(&c, p)?;
    }
    Ok(())
}

fn check_cluster(c: &Checker) -> Result<(), ScenarioError> {
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
    if cl.nodes.is_empty() {
        return Err(
            ScenarioError::whole_file(&c.s.file, "the cluster has no nodes")
                .with_hint("add at least one entry under cluster.nodes"),
        );
    }
    for (i, n) in cl.nodes.iter().enumerate() {
        let earlier = &cl.nodes[..i];
        if earlier.iter().any(|e| e.name.value == n.name.value) {
            return Err(c.err_at(&n.name, format!("node `{}` is defined twice", n.name.value)));
        }
        if let Some(e) = earlier.iter().find(|e| e.ip.value == n.ip.value) {
            return Err(c.err_at(
                &n.ip,
                format!(
                    "node IP {} is already node `{}`'s",
                    n.ip.value, e.name.value
                ),
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
        if let Some(e) = earlier
            .iter()
            .find(|e| e.pod_cidr.value.overlaps(&n.pod_cidr.value))
        {
            return Err(c.err_at(&n.pod_cidr, format!(
                "node `{}`'s pod CIDR {} overlaps node `{}`'s {}",
                n.name.value, n.pod_cidr.value, e.name.value, e.pod_cidr.value))
                .with_hint("each node owns its own slice: node N gets 10.244.N.0/24 in flannel's default layout"));
        }
    }
    Ok(())
}

/// The address before `ip` (the last host address before a broadcast address).
fn prev(ip: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::from(ip).wrapping_sub(1))
}

fn check_pods(c: &Checker) -> Result<(), ScenarioError> {
    let nodes: Vec<&str> =
        c.s.cluster
            .nodes
            .iter()
            .map(|n| n.name.value.as_str())
            .collect();
    for (i, p) in c.s.pods.iter().enumerate() {
        let earlier = &c.s.pods[..i];
        if earlier.iter().any(|e| e.key() == p.key()) {
            return Err(c.err_at(&p.name, format!("pod `{}` is defined twice", p.key())));
        }
        let Some(node) = c.s.node(&p.node.value) else {
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
        let ip = p.ip.value;
        if !cidr.contains(ip) {
            return Err(c
                .err_at(
                    &p.ip,
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
            return Err(c.err_at(&p.ip, format!(
                "pod `{}`'s IP {ip} is reserved on node `{}`", p.key(), node.name.value))
                .with_hint(format!("{} is the network (flannel.1's address), {} is cni0, {} is broadcast; use {} or above",
                    cidr.nth(0), cidr.nth(1), cidr.broadcast(), cidr.nth(2))));
        }
        if let Some(e) = earlier.iter().find(|e| e.ip.value == ip) {
            return Err(c.err_at(&p.ip, format!("pod IP {ip} is already pod `{}`'s", e.key())));
        }
        let mut seen: Vec<(Protocol, u16)> = Vec::new();
        for ct in &p.containers {
            for port in &ct.ports {
                let k = (port.protocol, port.container_port.value);
                if port.protocol == Protocol::Icmp {
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
            }
        }
    }
    Ok(())
}

fn check_packet(c: &Checker, p: &PacketSpec) -> Result<(), ScenarioError> {
    let from = check_endpoint(c, &p.from)?;
    let to = check_endpoint(c, &p.to)?;
    if from.kind == EndpointKind::Ip(std::net::Ipv4Addr::UNSPECIFIED) {
        return Err(c.err_at(&p.from, "0.0.0.0 cannot send"));
    }
    if let EndpointKind::Ip(ip) = from.kind {
        let owned = c.s.pods.iter().any(|x| x.ip.value == ip)
            || c.s.cluster.nodes.iter().any(|n| n.ip.value == ip);
        if !owned {
            return Err(c.err_at(&p.from, format!("no pod or node in the scenario has the address {ip}"))
                .with_hint("a packet is sent from a pod or node: name it (pod/NS/NAME, node/NAME) or give one of their IPs"));
        }
    }
    match p.protocol {
        Protocol::Icmp => {
            for (e, s) in [(&from, &p.from), (&to, &p.to)] {
                if e.port.is_some() {
                    return Err(c
                        .err_at(s, "ICMP has no ports")
                        .with_hint("drop the `:PORT`, or use protocol tcp or udp"));
                }
            }
        }
        Protocol::Tcp | Protocol::Udp if to.port.is_none() => {
            return Err(c
                .err_at(
                    &p.to,
                    format!("a {} packet needs a destination port", p.protocol.name()),
                )
                .with_hint(format!("write `{}:PORT`", p.to.value)));
        }
        _ => {}
    }
    if let Some(f) = &p.flags
        && p.protocol != Protocol::Tcp
    {
        return Err(c.err_at(f, "flags are TCP flags, but this packet is not TCP"));
    }
    if let Some(size) = &p.size {
        let max = 65535 - 20 - 60;
        if usize::from(size.value) > max {
            return Err(c
                .err_at(
                    size,
                    format!(
                        "payload size {} does not fit in an IPv4 datagram",
                        size.value
                    ),
                )
                .with_hint(format!("use at most {max} bytes")));
        }
    }
    if p.ttl == Some(0) {
        return Err(ScenarioError::whole_file(
            &c.s.file,
            format!("packet `{}`: ttl 0 cannot be sent", p.name.value),
        )
        .with_hint("use 1 to 255"));
    }
    Ok(())
}

fn check_endpoint(c: &Checker, s: &Spanned<String>) -> Result<Endpoint, ScenarioError> {
    let e: Endpoint = s
        .value
        .parse()
        .map_err(|m: String| c.err_at(s, m).with_hint(ENDPOINT_FORMS))?;
    match &e.kind {
        EndpointKind::Pod { key, container } => {
            let Some(pod) = c.s.pod(key) else {
                let known: Vec<String> = c.s.pods.iter().map(|p| p.key()).collect();
                let hint = match did_you_mean(key, known.iter().map(String::as_str)) {
                    Some(m) => format!("did you mean `pod/{m}`? pods: {}", known.join(", ")),
                    None if known.is_empty() => {
                        "the scenario has no pods; add them under `pods:`".to_string()
                    }
                    None => format!("pods: {}", known.join(", ")),
                };
                return Err(c.err_at(s, format!("unknown pod `{key}`")).with_hint(hint));
            };
            if let Some(ct) = container
                && !pod.containers.iter().any(|x| &x.name == ct)
            {
                let names: Vec<&str> = pod.containers.iter().map(|x| x.name.as_str()).collect();
                return Err(c
                    .err_at(s, format!("pod `{key}` has no container `{ct}`"))
                    .with_hint(format!("containers: {}", names.join(", "))));
            }
        }
        EndpointKind::Node(n) => {
            if c.s.node(n).is_none() {
                let known: Vec<&str> =
                    c.s.cluster
                        .nodes
                        .iter()
                        .map(|n| n.name.value.as_str())
                        .collect();
                let hint = match did_you_mean(n, known.iter().copied()) {
                    Some(m) => format!("did you mean `node/{m}`? nodes: {}", known.join(", ")),
                    None => format!("nodes: {}", known.join(", ")),
                };
                return Err(c.err_at(s, format!("unknown node `{n}`")).with_hint(hint));
            }
        }
        EndpointKind::Ip(_) => {}
    }
    Ok(e)
}
