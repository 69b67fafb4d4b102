//! A running cluster as `kubectl get nodes,namespaces,pods,services,endpointslices,
//! networkpolicies -A -o yaml` prints it (or `-o json`, or several documents), made a
//! scenario. The dump holds the objects; what the node agents were started with is not
//! in it and is read from where clusters keep it when the dump has it (flannel's
//! annotations on each Node and its `kube-flannel-cfg` ConfigMap, kube-proxy's
//! `kube-proxy` ConfigMap, the ServiceCIDR object), and otherwise assumed and said.

use super::convert::{self, Src};
use super::objects::Object;
use super::{Notes, documents, plain};
use crate::cluster::{FlannelBackend, PolicyEnforcer, ProxyMode};
use crate::diag::InputError;
use crate::scenario::{self, Scenario};
use crate::wire::Ipv4Net;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

/// What the person running the import says the dump cannot.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// flannel's Network (the cluster's pod network).
    pub pod_cidr: Option<Ipv4Net>,
    /// kube-apiserver's `--service-cluster-ip-range`.
    pub service_cidr: Option<Ipv4Net>,
    pub proxy_mode: Option<ProxyMode>,
}

/// The objects of a dump, by kind, in the order written; a later object of the same
/// kind and name replaces an earlier one, as `kubectl apply` would.
#[derive(Default)]
pub struct Sorted {
    pub nodes: Vec<Object>,
    pub namespaces: Vec<Object>,
    pub pods: Vec<Object>,
    pub services: Vec<Object>,
    pub endpoint_slices: Vec<Object>,
    pub network_policies: Vec<Object>,
    pub config_maps: Vec<Object>,
    pub service_cidrs: Vec<Object>,
    /// Deployment, ReplicaSet, StatefulSet, DaemonSet.
    pub workloads: Vec<Object>,
    /// Kinds kpath does not read, with how many objects of each.
    pub unknown: BTreeMap<String, usize>,
}

impl Sorted {
    pub fn new(src: &Src, objects: Vec<Object>) -> Result<Sorted, InputError> {
        let mut s = Sorted::default();
        let mut seen: std::collections::HashMap<(String, String), usize> = Default::default();
        for o in objects {
            let list = match o.kind() {
                "Node" => &mut s.nodes,
                "Namespace" => &mut s.namespaces,
                "Pod" => &mut s.pods,
                "Service" => &mut s.services,
                "EndpointSlice" => &mut s.endpoint_slices,
                "NetworkPolicy" => &mut s.network_policies,
                "ConfigMap" => &mut s.config_maps,
                "ServiceCIDR" => &mut s.service_cidrs,
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => &mut s.workloads,
                "" => {
                    let n = src.name(&o)?;
                    return Err(src
                        .err(n, format!("object `{}` has no kind", n.value))
                        .with_hint(
                            "every object says what it is: `kind: Pod`, `kind: Service`, ...",
                        ));
                }
                other => {
                    *s.unknown.entry(other.to_string()).or_default() += 1;
                    continue;
                }
            };
            src.name(&o)?;
            // Same kind, namespace and name: the later one takes the earlier one's place
            // (found by hash: a dump may hold tens of thousands of pods).
            let id = (o.kind().to_string(), o.key());
            match seen.get(&id) {
                Some(&i) => list[i] = o,
                None => {
                    seen.insert(id, list.len());
                    list.push(o);
                }
            }
        }
        Ok(s)
    }

    fn config_map(&self, name: &str) -> Option<&Object> {
        self.config_maps.iter().find(|c| c.name() == name)
    }
}

/// The scenario a dump describes. `file` names the dump in errors and `text` is its text.
pub fn scenario(file: &str, text: &str, opts: &Options) -> Result<Scenario, InputError> {
    let mut notes = Notes::default();
    let s = unvalidated(file, text, opts, &mut notes)?;
    scenario::finish(s, file, text)
}

/// The scenario of a dump before it is validated (manifests may be applied to it first).
pub fn unvalidated(
    file: &str,
    text: &str,
    opts: &Options,
    notes: &mut Notes,
) -> Result<Scenario, InputError> {
    let src = Src { file, text };
    let sorted = Sorted::new(&src, documents::read(file, text)?)?;
    let mut s = Scenario::new(cluster(&src, &sorted, opts, notes)?);
    s.kube_proxy = kube_proxy(&sorted, opts, notes);
    s.internet = Some(gateway(&s.cluster, notes));
    s.name = Some(format!("imported from {file}"));
    if !sorted.workloads.is_empty() {
        notes.left_out(format!(
            "{} workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet): a dump's pods are read instead",
            sorted.workloads.len()
        ));
    }
    objects_into(&src, &sorted, &mut s, notes)?;
    // Grouped by namespace, as `kubectl get -A` lists them (the order stays the dump's
    // within one).
    s.pods.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    for (kind, n) in &sorted.unknown {
        notes.not_modelled(format!(
            "{n} {kind} object{}: kpath does not read this kind",
            if *n == 1 { "" } else { "s" }
        ));
    }
    s.assumptions = std::mem::take(notes).lines();
    Ok(s)
}

/// Pods, Services, hand-written slices, namespaces and policies into `s`. Pods on nodes
/// the scenario does not have are left out with a note.
pub fn objects_into(
    src: &Src,
    sorted: &Sorted,
    s: &mut Scenario,
    notes: &mut Notes,
) -> Result<(), InputError> {
    for o in &sorted.namespaces {
        s.namespaces.push(convert::namespace(src, o)?);
    }
    for o in &sorted.pods {
        if let Some(p) = convert::pod(src, o, notes)? {
            if s.node(&p.node.value).is_none() {
                notes.left_out(format!(
                    "pod {} runs on node {}, which is not in the cluster",
                    p.key(),
                    p.node.value
                ));
                continue;
            }
            s.pods.push(p);
        }
    }
    for o in &sorted.services {
        if let Some(svc) = convert::service(src, o, notes)? {
            s.services.push(svc);
        }
    }
    listeners_from_services(s, notes);
    for o in &sorted.endpoint_slices {
        let managed = o
            .metadata
            .labels
            .get(convert::MANAGED_BY)
            .map(String::as_str)
            == Some(convert::CONTROLLER);
        if let Some(e) = convert::endpoint_slice(src, o, notes)? {
            match s.service(&format!("{}/{}", e.namespace, e.service.value)) {
                None => notes.left_out(format!(
                    "EndpointSlice {}/{}: its Service {} is not in the cluster",
                    e.namespace, e.name.value, e.service.value
                )),
                // The controller's slices of a Service with a selector are derived from
                // the pods again, as the controller would (the API server writes the
                // `kubernetes` Service's, which has none, under the same label).
                Some(svc) if managed && !svc.selector.is_empty() => {}
                Some(_) => s.endpoint_slices.push(e),
            }
        }
    }
    for o in &sorted.network_policies {
        s.network_policies.push(convert::network_policy(src, o)?);
    }
    if !s.network_policies.is_empty() && s.cluster.cni.policy.is_none() {
        notes.assumed("no NetworkPolicy controller found (kube-router's pods): flannel enforces no policy, so packets walk as if there were none; `kpath policy` still shows what the policies say".to_string());
    }
    Ok(())
}

/// A pod whose containers declare no port (`kubectl create deployment` writes none) still
/// runs a server: where a Service selects it, kpath takes it to listen on the Service's
/// numeric targetPorts, and says so. (A declared port is only documentation to Kubernetes;
/// kpath needs it to know a socket is there.)
/// A port a pod is taken to listen on: number, protocol, and the Service that sends there.
type Listener = (u16, crate::wire::IpProtocol, String);

fn listeners_from_services(s: &mut Scenario, notes: &mut Notes) {
    // The Services by their selector's first label (namespace, key, value): a pod looks up
    // only those its own labels can match, so the work grows with pods + Services.
    let mut by_label: HashMap<(&str, &str, &str), Vec<usize>> = HashMap::new();
    for (i, svc) in s.services.iter().enumerate() {
        if let Some((k, v)) = svc.selector.iter().next() {
            by_label
                .entry((svc.namespace.as_str(), k.as_str(), v.as_str()))
                .or_default()
                .push(i);
        }
    }
    let mut found: Vec<(usize, Vec<Listener>)> = Vec::new();
    for (i, p) in s.pods.iter().enumerate() {
        if p.containers.is_empty() || p.containers.iter().any(|c| !c.ports.is_empty()) {
            continue;
        }
        let mut candidates: Vec<usize> = p
            .labels
            .iter()
            .filter_map(|(k, v)| by_label.get(&(p.namespace.as_str(), k.as_str(), v.as_str())))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut ports: Vec<Listener> = Vec::new();
        for svc in candidates.iter().map(|c| &s.services[*c]) {
            if !svc.selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)) {
                continue;
            }
            for sp in &svc.ports {
                let n = match sp.target_port.as_ref().map(|t| &t.value) {
                    Some(crate::cluster::TargetPort::Number(n)) => *n,
                    Some(crate::cluster::TargetPort::Name(_)) => continue,
                    None => sp.port.value,
                };
                if !ports.iter().any(|(m, pr, _)| *m == n && *pr == sp.protocol) {
                    ports.push((n, sp.protocol, svc.key()));
                }
            }
        }
        if !ports.is_empty() {
            found.push((i, ports));
        }
    }
    for (i, ports) in found {
        let key = s.pods[i].key();
        let pod = &mut s.pods[i];
        for (n, protocol, svc) in ports {
            notes.assumed(format!("pod {key} listens on {n}/{} (its containers declare no port; Service {svc} sends there)", protocol.name()));
            pod.containers[0].ports.push(scenario::ContainerPort {
                container_port: plain(n),
                protocol,
                name: None,
            });
        }
    }
}

const FLANNEL: &str = "flannel.alpha.coreos.com/";

/// The CNI plugins kpath recognises by their agents' pods, when flannel is not there.
const OTHER_CNIS: [(&str, &str); 6] = [
    ("calico-node", "Calico"),
    ("cilium", "Cilium"),
    ("weave-net", "Weave Net"),
    ("antrea-agent", "Antrea"),
    ("kube-ovn", "Kube-OVN"),
    ("canal", "Canal"),
];

/// flannel's net-conf.json (its ConfigMap `kube-flannel-cfg`).
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct NetConf {
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    backend: Option<NetConfBackend>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct NetConfBackend {
    #[serde(default, rename = "Type")]
    kind: Option<String>,
    #[serde(default, rename = "VNI")]
    vni: Option<u32>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    direct_routing: Option<bool>,
}

fn cluster(
    src: &Src,
    d: &Sorted,
    opts: &Options,
    notes: &mut Notes,
) -> Result<scenario::Cluster, InputError> {
    let net_conf: NetConf = d
        .config_map("kube-flannel-cfg")
        .and_then(|c| c.data("net-conf.json"))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let mut nodes = Vec::new();
    let mut backend_types: Vec<String> = Vec::new();
    let mut vni = net_conf.backend.as_ref().and_then(|b| b.vni);
    for o in &d.nodes {
        let name = src.name(o)?;
        let addrs = &o.status.addresses;
        let ip = ["InternalIP", "ExternalIP"].iter().find_map(|k| {
            addrs
                .iter()
                .filter(|a| a.kind == *k)
                .find_map(|a| a.address.parse::<Ipv4Addr>().ok())
        });
        let Some(ip) = ip else {
            notes.left_out(format!("node {} has no IPv4 InternalIP", name.value));
            continue;
        };
        let cidr = o
            .spec
            .pod_cidr
            .iter()
            .map(|c| c.value.as_str())
            .chain(o.spec.pod_cidrs.iter().map(String::as_str))
            .find_map(|c| c.parse::<Ipv4Net>().ok());
        let Some(pod_cidr) = cidr else {
            notes.left_out(format!("node {} has no IPv4 podCIDR (flannel gives it no subnet; its pods are left out too)", name.value));
            continue;
        };
        let ann = &o.metadata.annotations;
        if let Some(t) = ann.get(&format!("{FLANNEL}backend-type")) {
            backend_types.push(t.clone());
        }
        let backend_data = ann
            .get(&format!("{FLANNEL}backend-data"))
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
        if let Some(n) = backend_data
            .as_ref()
            .and_then(|v| v.get("VNI"))
            .and_then(serde_json::Value::as_u64)
        {
            vni = Some(n as u32);
        }
        let vtep_mac = backend_data
            .as_ref()
            .and_then(|v| v.get("VtepMAC"))
            .and_then(serde_json::Value::as_str)
            .and_then(|m| m.parse::<crate::wire::Mac>().ok())
            .map(plain);
        if let Some(public) = ann.get(&format!("{FLANNEL}public-ip"))
            && public != &ip.to_string()
        {
            notes.assumed(format!("node {}: flannel's public-ip {public} differs from its InternalIP {ip}; kpath gives a node one address, {ip}", name.value));
        }
        nodes.push(scenario::Node {
            name: name.clone(),
            ip: plain(ip),
            pod_cidr: o
                .spec
                .pod_cidr
                .as_ref()
                .map_or_else(|| plain(pod_cidr), |c| super::like(pod_cidr, c)),
            sysctls: Default::default(),
            mtu: None,
            link_mtu: Default::default(),
            labels: o.metadata.labels.clone(),
            taints: (o.spec.taints.iter())
                .map(|t| scenario::Taint {
                    key: t.key.clone(),
                    value: t.value.clone(),
                    effect: plain(t.effect.clone()),
                })
                .collect(),
            unschedulable: o.spec.unschedulable,
            vtep_mac,
        });
    }
    if nodes.is_empty() {
        return Err(InputError::whole_file(src.file, "the dump has no node kpath can use (an IPv4 InternalIP and podCIDR)")
            .with_hint("dump the nodes too: kubectl get nodes,namespaces,pods,services,endpointslices,networkpolicies -A -o yaml"));
    }
    // The CNI: flannel's annotations or ConfigMap, or another plugin's agents.
    let flannel = !backend_types.is_empty() || net_conf.network.is_some();
    if !flannel {
        let other = OTHER_CNIS
            .iter()
            .find(|(prefix, _)| d.pods.iter().any(|p| p.name().starts_with(prefix)));
        match other {
            Some((prefix, name)) => notes.not_modelled(format!("the CNI is {name} (its {prefix} pods run), not flannel: kpath builds flannel's network instead, so paths between nodes are flannel's")),
            None => notes.assumed("no node carries flannel's annotations: the CNI is taken to be flannel".to_string()),
        }
    }
    let backend_name = backend_types
        .first()
        .cloned()
        .or_else(|| net_conf.backend.as_ref().and_then(|b| b.kind.clone()));
    let backend = match backend_name.as_deref() {
        Some("host-gw") => FlannelBackend::HostGw,
        Some("vxlan") => FlannelBackend::Vxlan,
        None => {
            notes.assumed("flannel's backend is vxlan (no node says)".to_string());
            FlannelBackend::Vxlan
        }
        Some(other) => {
            notes.not_modelled(format!(
                "flannel's {other} backend: kpath models vxlan and host-gw, and builds vxlan"
            ));
            FlannelBackend::Vxlan
        }
    };
    let policy = d
        .pods
        .iter()
        .any(|p| p.name().starts_with("kube-router"))
        .then_some(PolicyEnforcer::KubeRouter);
    let node_cidrs: Vec<Ipv4Net> = nodes.iter().map(|n| n.pod_cidr.value).collect();
    let pod_cidr = match (
        opts.pod_cidr,
        net_conf.network.as_deref().and_then(|n| n.parse().ok()),
    ) {
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => {
            let c = widen(&node_cidrs, 16);
            notes.assumed(format!("the pod network is {c} (no kube-flannel-cfg ConfigMap in the dump; it covers every node's podCIDR; --pod-cidr says otherwise)"));
            c
        }
    };
    let underlay = widen(
        &nodes
            .iter()
            .map(|n| Ipv4Net::new(n.ip.value, 32))
            .collect::<Vec<_>>(),
        24,
    );
    notes.assumed(format!(
        "the nodes share one L2 segment, {underlay}, with MTU 1500"
    ));
    let service_cidr = service_cidr(d, opts, pod_cidr, underlay, notes);
    let vxlan = backend == FlannelBackend::Vxlan;
    let b = net_conf.backend.as_ref();
    Ok(scenario::Cluster {
        pod_cidr: plain(pod_cidr),
        service_cidr: plain(service_cidr),
        cni: scenario::Cni {
            plugin: crate::cluster::CniPlugin::Flannel,
            backend,
            mtu: None,
            bridge_nf_call_iptables: true,
            hairpin_mode: true,
            vni: vni.filter(|_| vxlan).map(plain),
            port: b.and_then(|b| b.port).filter(|_| vxlan).map(plain),
            direct_routing: b
                .and_then(|b| b.direct_routing)
                .filter(|_| vxlan)
                .map(plain),
            policy: policy.map(plain),
        },
        underlay: scenario::Underlay {
            cidr: plain(underlay),
            mtu: plain(1500),
        },
        nodes,
        sysctls: Default::default(),
    })
}

/// A node has a default route, which a dump does not show: kpath gives the nodes a
/// gateway on the underlay (its first address no node holds), so a packet for an address
/// outside the cluster is routed and meets the FORWARD rules (a Service without endpoints
/// is REJECTed there, not unroutable), and says so.
fn gateway(c: &scenario::Cluster, notes: &mut Notes) -> scenario::Internet {
    let net = c.underlay.cidr.value;
    let taken = |ip: Ipv4Addr| c.nodes.iter().any(|n| n.ip.value == ip);
    let ip = (1..net.size().saturating_sub(1))
        .map(|i| net.nth(i))
        .find(|ip| !taken(*ip));
    let ip = ip.unwrap_or_else(|| net.nth(1));
    // TEST-NET-3: a placeholder for the address the cluster's traffic leaves with.
    let public = Ipv4Addr::new(203, 0, 113, 1);
    notes.assumed(format!("the nodes' default route is via {ip} (the dump holds no routes); beyond it, the internet leaves from {public}, a placeholder"));
    scenario::Internet {
        gateway: scenario::Gateway {
            ip: plain(ip),
            public_ip: plain(public),
            masquerade: true,
        },
        hosts: Vec::new(),
        load_balancer_node: None,
    }
}

/// The smallest network holding every one of `nets`, no narrower than `/max`.
fn widen(nets: &[Ipv4Net], max: u8) -> Ipv4Net {
    let first = nets.first().map_or(0, |n| u32::from(n.addr));
    let mut prefix = max;
    for n in nets {
        let differ = first ^ u32::from(n.addr);
        prefix = prefix.min(differ.leading_zeros() as u8).min(n.prefix);
    }
    Ipv4Net::new(Ipv4Addr::from(first), prefix).network()
}

/// The service CIDR: given, or the ServiceCIDR object's, or found from the `kubernetes`
/// Service (the API server takes the range's first address for it): the widest range,
/// from /12 (kubeadm's 10.96.0.0/12) to /24, that starts just below it and holds every
/// ClusterIP.
fn service_cidr(
    d: &Sorted,
    opts: &Options,
    pods: Ipv4Net,
    underlay: Ipv4Net,
    notes: &mut Notes,
) -> Ipv4Net {
    if let Some(c) = opts.service_cidr {
        return c;
    }
    let from_object = d
        .service_cidrs
        .iter()
        .flat_map(|o| &o.spec.cidrs)
        .find_map(|c| c.value.parse::<Ipv4Net>().ok());
    if let Some(c) = from_object {
        return c;
    }
    let ips: Vec<Ipv4Addr> = d
        .services
        .iter()
        .filter_map(|s| s.spec.cluster_ip.as_ref()?.value.parse().ok())
        .collect();
    let api = d
        .services
        .iter()
        .find(|s| s.key() == "default/kubernetes")
        .and_then(|s| s.spec.cluster_ip.as_ref()?.value.parse::<Ipv4Addr>().ok());
    let start = api.map(|a| Ipv4Addr::from(u32::from(a).wrapping_sub(1)));
    let fits = |n: Ipv4Net| {
        ips.iter().all(|ip| n.contains(*ip)) && !n.overlaps(&pods) && !n.overlaps(&underlay)
    };
    let found = start.and_then(|s| {
        (12..=24)
            .map(|p| Ipv4Net::new(s, p))
            .find(|n| n.network().addr == s && fits(*n))
    });
    let c = found.unwrap_or_else(|| {
        let d = Ipv4Net::new(Ipv4Addr::new(10, 96, 0, 0), 12);
        if ips.is_empty() || fits(d) {
            d
        } else {
            widen(
                &ips.iter().map(|i| Ipv4Net::new(*i, 32)).collect::<Vec<_>>(),
                16,
            )
        }
    });
    notes.assumed(format!("the service CIDR is {c} (the dump has no ServiceCIDR object; found from the ClusterIPs; --service-cidr says otherwise)"));
    c
}

/// kube-proxy's configuration: its ConfigMap's `config.conf` when the dump has it.
fn kube_proxy(d: &Sorted, opts: &Options, notes: &mut Notes) -> scenario::KubeProxy {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Conf {
        #[serde(default)]
        mode: Option<String>,
        #[serde(default, rename = "clusterCIDR")]
        cluster_cidr: Option<String>,
        #[serde(default)]
        ipvs: Option<Ipvs>,
    }
    #[derive(serde::Deserialize, Default)]
    struct Ipvs {
        #[serde(default)]
        scheduler: Option<String>,
    }
    let conf: Option<Conf> = d
        .config_maps
        .iter()
        .find(|c| c.key() == "kube-system/kube-proxy")
        .and_then(|c| c.data("config.conf"))
        .and_then(|t| serde_saphyr::from_str(t).ok());
    let mut kp = scenario::KubeProxy::default();
    let mode = match (
        opts.proxy_mode,
        conf.as_ref().and_then(|c| c.mode.as_deref()),
    ) {
        (Some(m), _) => m,
        (None, Some("ipvs")) => ProxyMode::Ipvs,
        (None, Some("nftables")) => ProxyMode::Nftables,
        (None, Some("" | "iptables")) => ProxyMode::Iptables,
        (None, Some(other)) => {
            notes.not_modelled(format!(
                "kube-proxy's mode `{other}`: iptables mode is built instead"
            ));
            ProxyMode::Iptables
        }
        (None, None) => {
            notes.assumed("kube-proxy runs in iptables mode (no kube-system/kube-proxy ConfigMap in the dump; --proxy-mode says otherwise)".to_string());
            ProxyMode::Iptables
        }
    };
    kp.mode = Some(plain(mode));
    if let Some(c) = conf {
        kp.cluster_cidr = c
            .cluster_cidr
            .and_then(|c| c.split(',').find_map(|c| c.parse().ok()));
        if mode == ProxyMode::Ipvs
            && let Some(s) = c.ipvs.and_then(|i| i.scheduler).filter(|s| !s.is_empty())
        {
            kp.ipvs = Some(plain(scenario::IpvsConfig {
                scheduler: Some(plain(s)),
            }));
        }
    }
    kp
}
