//! What is sent: packets and flows, and the endpoints they name.

use super::Checker;
use crate::scenario::endpoint::{ENDPOINT_FORMS, Endpoint, EndpointKind};
use crate::scenario::{
    FlowSpec, IpProtocol, MAX_CONNECTIONS, PacketSpec, Scenario, ScenarioError, ServiceType,
    did_you_mean,
};
use serde_saphyr::Spanned;

/// What `kpath` says about an address it does not send to or from.
const UNICAST_ONLY: &str = "kpath models unicast; broadcast/multicast delivery is not modelled yet";

/// Why `ip` is not a unicast address in this scenario's cluster, if it is not.
fn not_unicast(s: &Scenario, ip: std::net::Ipv4Addr) -> Option<String> {
    if ip.is_unspecified() {
        return Some("0.0.0.0, the unspecified address".to_string());
    }
    if ip.is_broadcast() {
        return Some("the limited broadcast address".to_string());
    }
    if ip.is_multicast() {
        return Some("a multicast address (224.0.0.0/4)".to_string());
    }
    if ip == std::net::Ipv4Addr::new(127, 255, 255, 255) {
        return Some("the broadcast address of lo's 127.0.0.0/8".to_string());
    }
    let u = s.cluster.underlay.cidr.value;
    if u.prefix < 31 && ip == u.broadcast() {
        return Some(format!("the broadcast address of the underlay {u}"));
    }
    s.cluster.nodes.iter().find_map(|n| {
        let net = n.pod_cidr.value.network();
        (net.prefix < 31 && ip == net.broadcast()).then(|| {
            format!(
                "the broadcast address of node `{}`'s pod network {net}",
                n.name.value
            )
        })
    })
}

pub(super) fn check_packet(c: &Checker, p: &PacketSpec) -> Result<(), ScenarioError> {
    let from = check_endpoint(c, &p.from)?;
    let to = check_endpoint(c, &p.to)?;
    if let EndpointKind::Ip(ip) = from.kind
        && let Some(what) = not_unicast(c.s, ip)
    {
        return Err(c
            .err_at(&p.from, format!("{ip} is {what}: it cannot send"))
            .with_hint(format!("{UNICAST_ONLY}; send from a pod or a node")));
    }
    if let EndpointKind::Ip(ip) = to.kind
        && let Some(what) = not_unicast(c.s, ip)
    {
        return Err(c
            .err_at(&p.to, format!("{ip} is {what}: not a unicast destination"))
            .with_hint(UNICAST_ONLY));
    }
    if matches!(from.kind, EndpointKind::Service(_) | EndpointKind::Dns(_)) {
        return Err(c
            .err_at(
                &p.from,
                "a packet is sent by a pod, a node or an internet host",
            )
            .with_hint("name the sender: pod/NS/NAME, node/NAME, host/NAME, or one of their IPs"));
    }
    if let EndpointKind::Ip(ip) = from.kind {
        let owned =
            c.s.pods
                .iter()
                .any(|x| x.ip.as_ref().is_some_and(|i| i.value == ip))
                || c.s.cluster.nodes.iter().any(|n| n.ip.value == ip);
        if !owned {
            return Err(c.err_at(&p.from, format!("no pod or node in the scenario has the address {ip}"))
                .with_hint("a packet is sent from a pod or node: name it (pod/NS/NAME, node/NAME) or give one of their IPs"));
        }
    }
    match p.protocol {
        IpProtocol::Icmp => {
            for (e, s) in [(&from, &p.from), (&to, &p.to)] {
                if e.port.is_some() || e.port_name.is_some() {
                    return Err(c
                        .err_at(s, "ICMP has no ports")
                        .with_hint("drop the `:PORT`, or use protocol tcp or udp"));
                }
            }
        }
        IpProtocol::Tcp | IpProtocol::Udp if to.port.is_none() && to.port_name.is_none() => {
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
        && p.protocol != IpProtocol::Tcp
    {
        return Err(c.err_at(f, "flags are TCP flags, but this packet is not TCP"));
    }
    if let Some(size) = &p.size {
        // The packet must be one IPv4 datagram when it is sent; the kernel fragments it to
        // each link's MTU from there (VXLAN encapsulates the fragments).
        let (header, what) = match p.protocol {
            IpProtocol::Icmp => (8, "the 8-byte ICMP header"),
            IpProtocol::Udp => (8, "the 8-byte UDP header"),
            // tcp: the scenario's protocols are tcp, udp and icmp.
            _ => (
                40,
                "up to 40 bytes of TCP header (a SYN carries 20 bytes of options)",
            ),
        };
        let max = 65535 - 20 - header;
        if usize::from(size.value) > max {
            return Err(c
                .err_at(
                    size,
                    format!(
                        "payload size {} does not fit in one IPv4 datagram",
                        size.value
                    ),
                )
                .with_hint(format!(
                    "use at most {max} bytes: the payload, {what} and the IPv4 header (20) must fit IPv4's 65535 (as with ping -s, whose largest is 65507)"
                )));
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

pub(super) fn check_flow(c: &Checker, f: &FlowSpec) -> Result<(), ScenarioError> {
    if let Some(n) = &f.connections
        && !(1..=MAX_CONNECTIONS).contains(&n.value)
    {
        return Err(c
            .err_at(n, format!("{} connections", n.value))
            .with_hint(format!(
                "a flow repeats 1 to {} connections",
                MAX_CONNECTIONS
            )));
    }
    let from = check_endpoint(c, &f.from)?;
    let to = check_endpoint(c, &f.to)?;
    if matches!(from.kind, EndpointKind::Service(_) | EndpointKind::Dns(_)) {
        return Err(c
            .err_at(
                &f.from,
                "a flow starts at a pod, a node or an internet host",
            )
            .with_hint("name the client: pod/NS/NAME, node/NAME, host/NAME, or one of their IPs"));
    }
    match f.protocol {
        IpProtocol::Icmp if to.port.is_some() || to.port_name.is_some() => Err(c
            .err_at(&f.to, "ICMP has no ports")
            .with_hint("drop the `:PORT`")),
        IpProtocol::Tcp | IpProtocol::Udp if to.port.is_none() && to.port_name.is_none() => Err(c
            .err_at(
                &f.to,
                format!("a {} flow needs a destination port", f.protocol.name()),
            )
            .with_hint(format!("write `{}:PORT`", f.to.value))),
        _ => Ok(()),
    }
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
        EndpointKind::Service(key) => check_service_endpoint(c, s, &e, key)?,
        EndpointKind::Host(n) => {
            if c.s.host(n).is_none() {
                let known: Vec<&str> =
                    c.s.internet
                        .iter()
                        .flat_map(|i| &i.hosts)
                        .map(|h| h.name.value.as_str())
                        .collect();
                let hint = match did_you_mean(n, known.iter().copied()) {
                    Some(m) => format!("did you mean `host/{m}`? hosts: {}", known.join(", ")),
                    None if known.is_empty() => {
                        "the scenario has no internet hosts; add them under `internet: hosts:`"
                            .to_string()
                    }
                    None => format!("hosts: {}", known.join(", ")),
                };
                return Err(c
                    .err_at(s, format!("unknown internet host `{n}`"))
                    .with_hint(hint));
            }
        }
        // Resolved in the trace, as a pod's resolver would (an unknown name is an answer too).
        EndpointKind::Ip(_) | EndpointKind::Dns(_) => {}
    }
    Ok(e)
}

fn check_service_endpoint(
    c: &Checker,
    s: &Spanned<String>,
    e: &Endpoint,
    key: &str,
) -> Result<(), ScenarioError> {
    let Some(svc) = c.s.service(key) else {
        let known: Vec<String> = c.s.services.iter().map(|x| x.key()).collect();
        let hint = match did_you_mean(key, known.iter().map(String::as_str)) {
            Some(m) => format!("did you mean `service/{m}`? Services: {}", known.join(", ")),
            None if known.is_empty() => {
                "the scenario has no Services; add them under `services:`".to_string()
            }
            None => format!("Services: {}", known.join(", ")),
        };
        return Err(c
            .err_at(s, format!("unknown Service `{key}`"))
            .with_hint(hint));
    };
    let dns = format!("{}.{}.svc.cluster.local", svc.name.value, svc.namespace);
    if svc.kind == ServiceType::ExternalName {
        return Err(c
            .err_at(
                s,
                format!("Service `{key}` is an ExternalName: it has no ClusterIP"),
            )
            .with_hint(format!(
                "address it by its DNS name, `{dns}`, to follow the CNAME"
            )));
    }
    if svc.is_headless() {
        return Err(c
            .err_at(
                s,
                format!("Service `{key}` is headless: it has no ClusterIP"),
            )
            .with_hint(format!(
                "address it by its DNS name, `{dns}`: it resolves to the pods"
            )));
    }
    let ports: Vec<String> = svc
        .ports
        .iter()
        .map(|p| match &p.name {
            Some(n) => format!("{n} ({})", p.port.value),
            None => p.port.value.to_string(),
        })
        .collect();
    let found = match (&e.port_name, e.port) {
        (Some(n), _) => svc.ports.iter().any(|p| p.name.as_deref() == Some(n)),
        (None, Some(n)) => svc.ports.iter().any(|p| p.port.value == n),
        (None, None) => {
            return Err(c
                .err_at(s, format!("which port of Service `{key}`?"))
                .with_hint(format!(
                    "write `service/{key}:PORT`; ports: {}",
                    ports.join(", ")
                )));
        }
    };
    if !found {
        return Err(c
            .err_at(s, format!("Service `{key}` has no such port"))
            .with_hint(format!("ports: {}", ports.join(", "))));
    }
    Ok(())
}
