//! Checks a parsed scenario for what YAML types cannot say: unique names, addresses inside
//! their networks, references that resolve. The first problem is returned, located.

use super::endpoint::{ENDPOINT_FORMS, Endpoint, EndpointKind};
use super::{IpProtocol, PacketSpec, Scenario};
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

    /// Where `key: value` is written nearest to line `near` (for fields read without a
    /// location, like a pod's `namespace`).
    fn find_key_value(&self, key: &str, value: &str, near: usize) -> Option<(usize, usize)> {
        let pat = format!("{key}:");
        let mut best: Option<(usize, usize)> = None;
        for (i, line) in self.src.lines().enumerate() {
            let mut from = 0;
            while let Some(k) = line[from..].find(&pat) {
                let after = from + k + pat.len();
                let rest = &line[after..];
                let trimmed = rest.trim_start_matches([' ', '\'', '"']);
                let col = line.len() - trimmed.len();
                let whole_value = trimmed.strip_prefix(value).is_some_and(|after| {
                    after
                        .chars()
                        .next()
                        .is_none_or(|ch| !(ch.is_alphanumeric() || "-._/".contains(ch)))
                });
                let at_key_start =
                    from + k == 0 || !line.as_bytes()[from + k - 1].is_ascii_alphanumeric();
                if at_key_start && whole_value {
                    let here = (i + 1, line[..col].chars().count() + 1);
                    if best.is_none_or(|b| b.0.abs_diff(near) > here.0.abs_diff(near)) {
                        best = Some(here);
                    }
                }
                from = after;
            }
        }
        best
    }
}

/// What `kpath` says about an address it does not send to or from.
const UNICAST_ONLY: &str = "kpath models unicast; broadcast/multicast delivery is not modelled yet";

/// VXLAN's cost on the wire: outer IPv4 20, UDP 8, VXLAN 8 and the inner Ethernet header 14.
const ENCAP_OVERHEAD: usize = 50;

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

/// A DNS-1123 label (RFC 1123, as Kubernetes checks it): lowercase letters, digits and
/// '-', starting and ending with a letter or digit. The length is checked by the caller.
fn is_dns_label(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.chars().all(|c| ok(c) || c == '-')
        && s.chars().next().is_some_and(ok)
        && s.chars().last().is_some_and(ok)
}

/// A DNS-1123 subdomain: dot-separated DNS-1123 labels.
fn is_dns_subdomain(s: &str) -> bool {
    s.split('.').all(is_dns_label)
}

const LABEL_RULE: &str = "a DNS-1123 label, as Kubernetes requires: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
const SUBDOMAIN_RULE: &str = "a DNS-1123 subdomain, as Kubernetes requires: lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit, at most 253 characters";

/// The problem with `name` as a DNS-1123 label, if any.
fn label_problem(what: &str, name: &str) -> Option<String> {
    if name.chars().count() > 63 {
        Some(format!(
            "{what} `{}` is longer than 63 characters ({})",
            shorten(name),
            name.chars().count()
        ))
    } else if !is_dns_label(name) {
        Some(format!("{what} `{name}` is not a DNS-1123 label"))
    } else {
        None
    }
}

/// A long name cut for a message.
fn shorten(name: &str) -> String {
    if name.chars().count() <= 70 {
        name.to_string()
    } else {
        format!("{}...", name.chars().take(60).collect::<String>())
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
        if let Some(e) = &p.expect {
            check_expect(&c, e)?;
        }
    }
    check_services(&c)?;
    check_internet(&c)?;
    let mut flows: Vec<&str> = Vec::new();
    for f in &s.flows {
        if flows.contains(&f.name.value.as_str()) || names.contains(&f.name.value.as_str()) {
            return Err(c
                .err_at(&f.name, format!("`{}` is defined twice", f.name.value))
                .with_hint("packet and flow names must be unique within a scenario"));
        }
        flows.push(&f.name.value);
        check_flow(&c, f)?;
        if let Some(e) = &f.expect {
            if let Some(o) = &e.outcomes {
                check_outcome_list(&c, o)?;
            }
            for ex in e.each.values() {
                check_expect(&c, ex)?;
            }
        }
    }
    Ok(())
}

fn check_flow(c: &Checker, f: &super::FlowSpec) -> Result<(), ScenarioError> {
    if let Some(n) = &f.connections
        && !(1..=super::MAX_CONNECTIONS).contains(&n.value)
    {
        return Err(c
            .err_at(n, format!("{} connections", n.value))
            .with_hint(format!(
                "a flow repeats 1 to {} connections",
                super::MAX_CONNECTIONS
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
        != super::ProxyMode::Ipvs
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

/// Services: unique names, ClusterIPs inside the service CIDR and unique, ports that make
/// sense for the type (NodePorts in kube-apiserver's default range, unique).
fn check_services(c: &Checker) -> Result<(), ScenarioError> {
    use super::ServiceType;
    let s = c.s;
    check_ipvs_config(c)?;
    let scidr = s.cluster.service_cidr.value;
    let mut node_ports: Vec<(u16, &str)> = Vec::new();
    for (i, svc) in s.services.iter().enumerate() {
        let key = svc.key();
        if s.services[..i].iter().any(|o| o.key() == key) {
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
            if let Some(o) = s.services[..i].iter().find(|o| o.cluster_ip() == Some(ip)) {
                return Err(c.err_at(
                    cip,
                    format!("ClusterIP {ip} is already Service `{}`'s", o.key()),
                ));
            }
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
                    if let Some((_, other)) = node_ports.iter().find(|(n, _)| *n == np.value) {
                        return Err(c.err_at(
                            np,
                            format!("nodePort {} is already used by Service `{other}`", np.value),
                        ));
                    }
                    node_ports.push((np.value, s.services[i].name.value.as_str()));
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

/// The internet: the gateway on the underlay, hosts with unique names and public addresses.
fn check_internet(c: &Checker) -> Result<(), ScenarioError> {
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
            }
        }
    }
    Ok(())
}

fn check_packet(c: &Checker, p: &PacketSpec) -> Result<(), ScenarioError> {
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
        let owned = c.s.pods.iter().any(|x| x.ip.value == ip)
            || c.s.cluster.nodes.iter().any(|n| n.ip.value == ip);
        if !owned {
            return Err(c.err_at(&p.from, format!("no pod or node in the scenario has the address {ip}"))
                .with_hint("a packet is sent from a pod or node: name it (pod/NS/NAME, node/NAME) or give one of their IPs"));
        }
    }
    match p.protocol {
        IpProtocol::Icmp => {
            for (e, s) in [(&from, &p.from), (&to, &p.to)] {
                if e.port.is_some() {
                    return Err(c
                        .err_at(s, "ICMP has no ports")
                        .with_hint("drop the `:PORT`, or use protocol tcp or udp"));
                }
            }
        }
        IpProtocol::Tcp | IpProtocol::Udp if to.port.is_none() => {
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
        // The packet must still be one IPv4 datagram after flannel wraps it in VXLAN.
        let (header, what) = match p.protocol {
            IpProtocol::Icmp => (8, "the 8-byte ICMP header"),
            IpProtocol::Udp => (8, "the 8-byte UDP header"),
            // tcp: the scenario's protocols are tcp, udp and icmp.
            _ => (
                40,
                "up to 40 bytes of TCP header (a SYN carries 20 bytes of options)",
            ),
        };
        let max = 65535 - ENCAP_OVERHEAD - 20 - header;
        if usize::from(size.value) > max {
            return Err(c
                .err_at(
                    size,
                    format!(
                        "payload size {} does not fit in an IPv4 datagram once encapsulated",
                        size.value
                    ),
                )
                .with_hint(format!(
                    "use at most {max} bytes: the payload, {what}, the IPv4 header (20) and {ENCAP_OVERHEAD} bytes of VXLAN encapsulation (outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14) must fit IPv4's 65535"
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
    if svc.kind == super::ServiceType::ExternalName {
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

const DISPOSITIONS: [&str; 12] = [
    "delivered",
    "no-route",
    "no-listener",
    "ttl-exceeded",
    "neighbour-unreachable",
    "dropped",
    "rejected",
    "fragmentation-needed",
    "message-too-long",
    "loop",
    "no-such-name",
    "no such name",
];

fn check_disposition_name(c: &Checker, at: &Spanned<String>, v: &str) -> Result<(), ScenarioError> {
    let v = v.to_lowercase().replace('_', "-");
    if DISPOSITIONS.contains(&v.as_str()) {
        return Ok(());
    }
    let known = &DISPOSITIONS[..11];
    let hint = match did_you_mean(&v, known.iter().copied()) {
        Some(m) => format!("did you mean `{m}`? dispositions: {}", known.join(", ")),
        None => format!("dispositions: {}", known.join(", ")),
    };
    Err(c
        .err_at(at, format!("`{v}` is not a disposition"))
        .with_hint(hint))
}

fn check_addr(c: &Checker, v: &Spanned<String>) -> Result<(), ScenarioError> {
    let (a, p) = v
        .value
        .rsplit_once(':')
        .map(|(a, p)| (a, Some(p)))
        .unwrap_or((v.value.as_str(), None));
    let ok = a.parse::<std::net::Ipv4Addr>().is_ok() && p.is_none_or(|p| p.parse::<u16>().is_ok());
    if ok {
        Ok(())
    } else {
        Err(c
            .err_at(v, format!("`{}` is not IP[:PORT]", v.value))
            .with_hint("write an address like 10.244.2.5 or 10.244.2.5:80"))
    }
}

/// An `expect:` block: names that mean something, addresses that parse.
fn check_expect(c: &Checker, e: &super::expect::Expect) -> Result<(), ScenarioError> {
    if let Some(d) = &e.disposition {
        check_disposition_name(c, d, &d.value)?;
    }
    if let Some(a) = &e.at
        && a.value.parse::<Endpoint>().is_err()
        && !c.s.pods.iter().any(|p| p.key() == a.value)
    {
        return Err(c
            .err_at(a, format!("`{}` names no place", a.value))
            .with_hint("pod/NS/NAME[:PORT], node/NAME, host/NAME or a namespace name"));
    }
    for v in [&e.destination, &e.source].into_iter().flatten() {
        check_addr(c, v)?;
    }
    for m in e.steps.iter().chain(&e.not_steps) {
        if let Some(r) = &m.value.role
            && !["packet", "arp", "response", "any"].contains(&r.as_str())
        {
            return Err(c
                .err_at(m, format!("`{r}` is not a step role"))
                .with_hint("packet (the default), arp, response or any"));
        }
        if let Some(h) = &m.value.hook
            && !["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"].contains(&h.as_str())
        {
            return Err(c
                .err_at(m, format!("`{h}` is not a netfilter hook"))
                .with_hint("PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING"));
        }
        if let Some(t) = &m.value.table
            && !["raw", "mangle", "nat", "filter"].contains(&t.as_str())
        {
            return Err(c
                .err_at(m, format!("`{t}` is not an iptables table"))
                .with_hint("raw, mangle, nat or filter"));
        }
        if m.value == super::expect::StepMatch::default() {
            return Err(c.err_at(m, "this step matches every step").with_hint("give at least one of netns, device, func, hook, table, chain, rule, comment, action, note"));
        }
    }
    for m in &e.conntrack {
        if !["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]
            .contains(&m.value.state.to_uppercase().as_str())
        {
            return Err(c
                .err_at(m, format!("`{}` is not a conntrack state", m.value.state))
                .with_hint("NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED"));
        }
    }
    if let Some(o) = &e.outcomes {
        check_outcome_list(c, o)?;
    }
    Ok(())
}

fn check_outcome_list(
    c: &Checker,
    o: &Spanned<Vec<super::expect::OutcomeMatch>>,
) -> Result<(), ScenarioError> {
    let total: f64 = o.value.iter().map(|x| x.probability).sum();
    if o.value.is_empty() || (total - 1.0).abs() > 0.001 {
        return Err(c
            .err_at(
                o,
                format!("the outcomes' probabilities add up to {total:.4}, not 1"),
            )
            .with_hint("list every outcome, each with its probability to 4 decimals"));
    }
    for x in &o.value {
        if let Some(d) = &x.disposition {
            let v = d.to_lowercase().replace('_', "-");
            if !DISPOSITIONS.contains(&v.as_str()) {
                return Err(c
                    .err_at(o, format!("`{d}` is not a disposition"))
                    .with_hint(DISPOSITIONS[..11].join(", ")));
            }
        }
    }
    Ok(())
}
