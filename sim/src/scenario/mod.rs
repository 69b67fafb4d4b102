//! The scenario file: a cluster described the way a person thinks of it, plus the packets
//! to send. Parsed with serde + serde-saphyr into typed structs (unknown keys are errors),
//! then validated with every error pointing at its file:line:column.
//!
//! The schema is documented with an annotated example in docs/scenario.md. Keys follow
//! Kubernetes' camelCase so later issues can add `services`, `kubeProxy`, `flows` and
//! `expect` blocks beside these without breaking existing files.

pub mod adhoc;
mod endpoint;
pub mod endpoint_slice;
pub mod expect;
mod lint;
mod model;
pub mod network_policy;
mod validate;
mod yaml_errors;

pub use crate::diag::{InputError as ScenarioError, did_you_mean};
pub use endpoint::{Endpoint, EndpointKind};

pub use crate::cluster::{
    CniPlugin, FlannelBackend, ProxyMode, ServiceType, SessionAffinity, TargetPort, TrafficPolicy,
};
pub use crate::wire::IpProtocol;
use crate::wire::Ipv4Net;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Scenario files larger than this are refused before parsing.
pub const MAX_SCENARIO_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    /// A short title; defaults to the file name.
    #[serde(default)]
    pub name: Option<String>,
    /// What the scenario teaches, in a few lines.
    #[serde(default)]
    pub description: Option<String>,
    /// The seed of the world's RNG (ports, IP IDs, flow hashes). `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    pub cluster: Cluster,
    #[serde(default)]
    pub pods: Vec<Pod>,
    #[serde(default)]
    pub services: Vec<Service>,
    /// EndpointSlices written by hand, for Services without a selector.
    #[serde(default)]
    pub endpoint_slices: Vec<endpoint_slice::EndpointSliceSpec>,
    /// Namespaces with their labels (for NetworkPolicy namespaceSelectors).
    #[serde(default)]
    pub namespaces: Vec<network_policy::NamespaceSpec>,
    /// NetworkPolicies (networking.k8s.io/v1).
    #[serde(default)]
    pub network_policies: Vec<network_policy::NetworkPolicySpec>,
    /// Expectations about the whole cluster: the reachability matrix between pods.
    #[serde(default)]
    pub expect: Option<network_policy::ClusterExpect>,
    /// kube-proxy's configuration; iptables mode with its defaults when left out.
    #[serde(default)]
    pub kube_proxy: KubeProxy,
    /// A gateway to the internet and hosts out there.
    #[serde(default)]
    pub internet: Option<Internet>,
    #[serde(default)]
    pub packets: Vec<PacketSpec>,
    /// Connections and exchanges: every packet of them, replies included.
    #[serde(default)]
    pub flows: Vec<FlowSpec>,
    /// Manifests applied to the cluster before anything is sent, as `kubectl apply -f`
    /// would (files or folders, relative to this file): `kpath trace FILE -f` does the same.
    #[serde(default)]
    pub manifests: Vec<Spanned<String>>,
    /// Where the file came from (set by the loader, not read from YAML).
    #[serde(skip)]
    pub file: String,
    /// What loaded but looks unintended (set by the loader): a selector matching no pod.
    #[serde(skip)]
    pub warnings: Vec<crate::diag::InputError>,
    /// What kpath assumed where its input did not say (set by an importer: a kubectl dump
    /// holds no pod network or kube-proxy mode).
    #[serde(skip)]
    pub assumptions: Vec<String>,
    /// The cluster the file describes (made by the loader once the file is valid).
    #[serde(skip)]
    model: std::sync::OnceLock<crate::cluster::Cluster>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    /// The cluster-wide pod network (flannel's `Network`), e.g. 10.244.0.0/16.
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Spanned<Ipv4Net>,
    /// kube-apiserver's `--service-cluster-ip-range`, e.g. 10.96.0.0/12.
    #[serde(rename = "serviceCIDR")]
    pub service_cidr: Spanned<Ipv4Net>,
    pub cni: Cni,
    pub underlay: Underlay,
    pub nodes: Vec<Node>,
    /// Sysctls every node runs with, beyond what kube-proxy and the CNI plugin set
    /// (`net.ipv4.conf.all.rp_filter: 2`); a node's own `sysctls:` win.
    #[serde(default)]
    pub sysctls: Sysctls,
}

/// A map of names to values in the order written, each kept with its place in the file.
#[derive(Debug, Clone)]
pub struct Keyed<V>(pub Vec<(Spanned<String>, Spanned<V>)>);

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed(Vec::new())
    }
}

/// `sysctl` settings: name to value.
pub type Sysctls = Keyed<SysctlValue>;

/// A sysctl's value: a number or a string (`"32768 60999"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SysctlValue {
    Number(i64),
    Text(String),
}

impl SysctlValue {
    pub fn text(&self) -> String {
        match self {
            SysctlValue::Number(n) => n.to_string(),
            SysctlValue::Text(t) => t.clone(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Keyed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Keyed<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of names to values (net.ipv4.conf.all.rp_filter: 1, eth0: 9000)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Keyed<T>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry()? {
                    out.push((k, v));
                }
                Ok(Keyed(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cni {
    pub plugin: CniPlugin,
    pub backend: FlannelBackend,
    /// The pod interface MTU. Defaults to what flannel computes: the underlay MTU minus the
    /// backend's overhead (50 for VXLAN, 0 for host-gw).
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
    /// `net.bridge.bridge-nf-call-iptables` on every node (kube-proxy wants 1).
    #[serde(default = "yes")]
    pub bridge_nf_call_iptables: bool,
    /// The bridge plugin's `hairpinMode` (flannel's CNI config sets it).
    #[serde(default = "yes")]
    pub hairpin_mode: bool,
    /// flannel's `Backend.VNI` (vxlan only, default 1); the device is `flannel.<VNI>`.
    #[serde(default)]
    pub vni: Option<Spanned<u32>>,
    /// flannel's `Backend.Port` (vxlan only): the VXLAN UDP port; unset or 0 is the
    /// kernel's default, 8472.
    #[serde(default)]
    pub port: Option<Spanned<u16>>,
    /// flannel's `Backend.DirectRouting` (vxlan only): a node on the same subnet is routed
    /// to directly, as host-gw does; VXLAN carries only what must cross a router.
    #[serde(default)]
    pub direct_routing: Option<Spanned<bool>>,
    /// The NetworkPolicy controller beside flannel: `kube-router`. Left out, policies are
    /// not enforced (flannel does not).
    #[serde(default)]
    pub policy: Option<Spanned<crate::cluster::PolicyEnforcer>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Underlay {
    /// The L2 segment all nodes' eth0 sit on, e.g. 172.31.0.0/24.
    pub cidr: Spanned<Ipv4Net>,
    #[serde(default = "default_mtu")]
    pub mtu: Spanned<u32>,
}

fn default_mtu() -> Spanned<u32> {
    Spanned::new(
        1500,
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Node {
    pub name: Spanned<String>,
    /// The node's address on the underlay (eth0).
    pub ip: Spanned<Ipv4Addr>,
    /// The node's slice of the pod network (`spec.podCIDR`), e.g. 10.244.1.0/24.
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Spanned<Ipv4Net>,
    /// Sysctls this node runs with, beyond the cluster's `sysctls:`.
    #[serde(default)]
    pub sysctls: Sysctls,
    /// This node's NIC MTU (eth0), when it differs from the underlay's; flannel derives
    /// the node's tunnel and pod MTU from it.
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
    /// MTUs set on this node's devices by hand after the CNI built them (`ip link set DEV
    /// mtu N`): `{flannel.1: 1400, cni0: 1400}`. Nothing derives from them.
    #[serde(default, rename = "linkMTU")]
    pub link_mtu: Keyed<u32>,
    /// The node's labels (`metadata.labels`), for manifests' nodeSelector;
    /// `kubernetes.io/hostname` is the node's name unless given.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `spec.taints`: the scheduler keeps a manifest's pod off the node unless it tolerates
    /// each NoSchedule and NoExecute taint.
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (`kubectl cordon`): no new pods but a DaemonSet's.
    #[serde(default)]
    pub unschedulable: bool,
    /// flannel's VtepMAC (its `backend-data` annotation): flannel.1's MAC, which the other
    /// nodes' FDB and neighbour entries name. Without it kpath derives one from the IP.
    #[serde(default, rename = "vtepMAC")]
    pub vtep_mac: Option<Spanned<crate::wire::Mac>>,
}

/// A node taint (`spec.taints[]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: String,
    /// NoSchedule, PreferNoSchedule or NoExecute.
    pub effect: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Pod {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub name: Spanned<String>,
    pub node: Spanned<String>,
    /// `status.podIP`: from the node's podCIDR; a hostNetwork pod's is its node's IP, so
    /// it may be left out.
    #[serde(default)]
    pub ip: Option<Spanned<Ipv4Addr>>,
    /// `spec.hostNetwork`: the pod runs in its node's network namespace (no veth, no pod
    /// address; its containers listen on the node's addresses).
    #[serde(default)]
    pub host_network: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Readiness: only ready pods are Service endpoints.
    #[serde(default = "yes")]
    pub ready: bool,
    /// The pod is being deleted (it has a deletionTimestamp) and runs out its grace
    /// period: its endpoint is not ready, but serving while it passes readiness.
    #[serde(default)]
    pub terminating: bool,
    #[serde(default)]
    pub containers: Vec<Container>,
}

fn default_namespace() -> String {
    "default".to_string()
}

impl Pod {
    /// `namespace/name`, the way kpath names a pod everywhere.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name.value)
    }
}

/// A Service, as `kubectl get svc -o yaml` would show its spec (flattened: the keys of
/// `spec` sit directly on the entry, plus `loadBalancerIP` for the status' ingress IP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub name: Spanned<String>,
    #[serde(default, rename = "type")]
    pub kind: ServiceType,
    /// The virtual IP, inside serviceCIDR; `None` for a headless Service. Required except
    /// for ExternalName.
    #[serde(default, rename = "clusterIP")]
    pub cluster_ip: Option<Spanned<String>>,
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    #[serde(default, rename = "externalIPs")]
    pub external_ips: Vec<Spanned<Ipv4Addr>>,
    /// The load balancer's address (`status.loadBalancer.ingress[0].ip`).
    #[serde(default, rename = "loadBalancerIP")]
    pub load_balancer_ip: Option<Spanned<Ipv4Addr>>,
    #[serde(default)]
    pub load_balancer_source_ranges: Vec<Spanned<Ipv4Net>>,
    #[serde(default)]
    pub external_traffic_policy: TrafficPolicy,
    #[serde(default)]
    pub internal_traffic_policy: TrafficPolicy,
    #[serde(default)]
    pub session_affinity: SessionAffinity,
    /// `sessionAffinityConfig.clientIP.timeoutSeconds` (default 10800).
    #[serde(default = "default_affinity_timeout")]
    pub session_affinity_timeout: u32,
    /// For ExternalName Services: the DNS name the Service is a CNAME for.
    #[serde(default)]
    pub external_name: Option<String>,
    /// For a LoadBalancer with externalTrafficPolicy Local: the health check node port.
    #[serde(default)]
    pub health_check_node_port: Option<u16>,
}

fn default_affinity_timeout() -> u32 {
    10800
}

impl Service {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name.value)
    }

    /// The ClusterIP, or None for headless and ExternalName Services.
    pub fn cluster_ip(&self) -> Option<Ipv4Addr> {
        self.cluster_ip.as_ref().and_then(|c| c.value.parse().ok())
    }

    pub fn is_headless(&self) -> bool {
        self.cluster_ip.as_ref().is_some_and(|c| c.value == "None")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServicePort {
    /// Required when the Service has more than one port.
    #[serde(default)]
    pub name: Option<String>,
    pub port: Spanned<u16>,
    /// A number, or the name of a container port; defaults to `port`.
    #[serde(default)]
    pub target_port: Option<Spanned<TargetPort>>,
    #[serde(default)]
    pub protocol: IpProtocol,
    /// NodePort and LoadBalancer Services: the port on every node (30000-32767).
    #[serde(default)]
    pub node_port: Option<Spanned<u16>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeProxy {
    /// `iptables` (the default) or `ipvs`.
    #[serde(default)]
    pub mode: Option<Spanned<ProxyMode>>,
    /// IPVS mode's settings (KubeProxyConfiguration's `ipvs:` block).
    #[serde(default)]
    pub ipvs: Option<Spanned<IpvsConfig>>,
    /// `--cluster-cidr`: traffic from outside it is masqueraded to ClusterIPs. Defaults to
    /// the cluster's podCIDR.
    #[serde(default, rename = "clusterCIDR")]
    pub cluster_cidr: Option<Ipv4Net>,
    /// `--masquerade-all`.
    #[serde(default)]
    pub masquerade_all: bool,
    /// iptables >= 1.6.2 supports `MASQUERADE --random-fully`, and kube-proxy then uses it.
    #[serde(default = "yes")]
    pub random_fully: bool,
    /// The kernel's nfnetlink_acct is available, so kube-proxy adds its nfacct counters
    /// (`-m nfacct`) to the INVALID drop rule and to localhost NodePort rules.
    #[serde(default)]
    pub nfacct: bool,
    /// `--iptables-localhost-nodeports` (default true): NodePorts answer on 127.0.0.1 too,
    /// for which kube-proxy sets net.ipv4.conf.all.route_localnet=1 (iptables mode).
    #[serde(default = "yes")]
    pub localhost_node_ports: bool,
    /// `--nodeport-addresses`: the node addresses NodePorts answer on, as CIDRs or
    /// `primary` (the node's InternalIP); empty (the default): every local address.
    #[serde(default)]
    pub node_port_addresses: Vec<Spanned<String>>,
}

impl Default for KubeProxy {
    fn default() -> Self {
        KubeProxy {
            mode: None,
            ipvs: None,
            cluster_cidr: None,
            masquerade_all: false,
            random_fully: true,
            nfacct: false,
            localhost_node_ports: true,
            node_port_addresses: Vec::new(),
        }
    }
}

/// `ipvs:` in kube-proxy's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IpvsConfig {
    /// `--ipvs-scheduler`: rr (kube-proxy's default), wrr, lc, sh or mh.
    #[serde(default)]
    pub scheduler: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub image: Option<String>,
    /// The ports a process in this container listens on (on every pod address).
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerPort {
    pub container_port: Spanned<u16>,
    #[serde(default)]
    pub protocol: IpProtocol,
    #[serde(default)]
    pub name: Option<String>,
}

/// The world outside the cluster: a router on the underlay and hosts behind it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Internet {
    pub gateway: Gateway,
    #[serde(default)]
    pub hosts: Vec<ExternalHost>,
    /// The node a LoadBalancer's traffic is steered to (a passthrough load balancer such as
    /// MetalLB in L2 mode, or a cloud LB that keeps the destination IP). Default: the first
    /// node.
    #[serde(default)]
    pub load_balancer_node: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Gateway {
    /// Its address on the underlay; every node's default route points at it.
    pub ip: Spanned<Ipv4Addr>,
    /// Its address towards the internet.
    #[serde(rename = "publicIP")]
    pub public_ip: Spanned<Ipv4Addr>,
    /// Source-NAT the underlay's private addresses to `publicIP` on the way out (a cloud
    /// NAT gateway). Default true.
    #[serde(default = "yes")]
    pub masquerade: bool,
}

/// A host on the internet, reached through the gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalHost {
    pub name: Spanned<String>,
    pub ip: Spanned<Ipv4Addr>,
    /// The host's name in public DNS (what an ExternalName Service points at).
    #[serde(default)]
    pub dns_name: Option<String>,
    /// Ports a server on the host listens on.
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
}

/// A connection (TCP) or an exchange (UDP request and response, ICMP echo and reply):
/// `kpath trace FILE --flow NAME` walks every packet of it, replies included.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FlowSpec {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub protocol: IpProtocol,
    /// Payload bytes the client sends after the handshake (TCP) or in its datagram (UDP).
    #[serde(default)]
    pub request: u16,
    /// Payload bytes the server answers with.
    #[serde(default)]
    pub response: u16,
    /// TCP: close the connection with FIN, FIN, ACK after the exchange. Default true.
    #[serde(default = "yes")]
    pub close: bool,
    /// What must happen: checked by `kpath test`.
    #[serde(default)]
    pub expect: Option<expect::FlowExpect>,
    /// How many times the client repeats the exchange, each time from a new source port,
    /// in the same world (conntrack, `-m recent` lists and ARP caches carry over: this is
    /// how session affinity shows). Default 1.
    #[serde(default)]
    pub connections: Option<Spanned<u16>>,
}

/// The most connections a flow may repeat: each one is a full walk, and `--all-outcomes`
/// multiplies their choices.
pub const MAX_CONNECTIONS: u16 = 16;

impl FlowSpec {
    pub fn connections(&self) -> u16 {
        self.connections.as_ref().map_or(1, |c| c.value)
    }
}

/// A named packet to send: `kpath trace FILE --packet NAME`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PacketSpec {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `pod/NS/NAME[:PORT]`, `node/NAME`, or `IP[:PORT]`.
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub protocol: IpProtocol,
    /// Payload bytes: ICMP echo data (ping's `-s`, 56 by default), TCP or UDP payload
    /// (0 by default).
    #[serde(default)]
    pub size: Option<Spanned<u16>>,
    /// The socket's path MTU discovery (`IP_MTU_DISCOVER`): unset is the kernel's default,
    /// IP_PMTUDISC_WANT (DF on what fits the route's MTU; a larger datagram is sent without
    /// DF, in fragments); true is `ping -M do` (DF always: a larger one fails with
    /// EMSGSIZE); false is `ping -M dont` (no DF).
    #[serde(default)]
    pub df: Option<bool>,
    /// IP TTL on send; defaults to the source's net.ipv4.ip_default_ttl (64).
    #[serde(default)]
    pub ttl: Option<u8>,
    /// TCP flags, e.g. [SYN] (the default) or [ACK, PSH].
    #[serde(default)]
    pub flags: Option<Spanned<Vec<TcpFlag>>>,
    /// What must happen: checked by `kpath test`.
    #[serde(default)]
    pub expect: Option<expect::Expect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TcpFlag {
    Syn,
    Ack,
    Fin,
    Rst,
    Psh,
    Urg,
}

impl Scenario {
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.file)
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.cluster.nodes.iter().find(|n| n.name.value == name)
    }

    pub fn pod(&self, key: &str) -> Option<&Pod> {
        self.pods.iter().find(|p| p.key() == key)
    }

    pub fn service(&self, key: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.key() == key)
    }

    pub fn flow(&self, name: &str) -> Option<&FlowSpec> {
        self.flows.iter().find(|f| f.name.value == name)
    }

    pub fn host(&self, name: &str) -> Option<&ExternalHost> {
        self.internet
            .as_ref()?
            .hosts
            .iter()
            .find(|h| h.name.value == name)
    }

    pub fn packet(&self, name: &str) -> Option<&PacketSpec> {
        self.packets.iter().find(|p| p.name.value == name)
    }

    /// The cluster the scenario describes, as Kubernetes objects: what the controllers
    /// and the resolver read.
    pub fn model(&self) -> &crate::cluster::Cluster {
        self.model.get_or_init(|| model::cluster(self))
    }

    /// The scenario with its cluster changed by `f` (`kpath compare` switches the
    /// kube-proxy mode this way).
    pub fn with_model(mut self, f: impl FnOnce(&mut crate::cluster::Cluster)) -> Scenario {
        let mut c = self.model().clone();
        f(&mut c);
        self.model = std::sync::OnceLock::from(c);
        self
    }
}

impl Scenario {
    /// A scenario with this cluster and nothing else in it, for an importer to fill.
    pub fn new(cluster: Cluster) -> Scenario {
        Scenario {
            name: None,
            description: None,
            seed: 0,
            cluster,
            pods: Vec::new(),
            services: Vec::new(),
            endpoint_slices: Vec::new(),
            namespaces: Vec::new(),
            network_policies: Vec::new(),
            expect: None,
            kube_proxy: KubeProxy::default(),
            internet: None,
            packets: Vec::new(),
            flows: Vec::new(),
            manifests: Vec::new(),
            file: String::new(),
            warnings: Vec::new(),
            assumptions: Vec::new(),
            model: std::sync::OnceLock::new(),
        }
    }
}

/// Validate a scenario an importer built (from a kubectl dump or manifests), as a file's is;
/// `src` is the text its places point into.
pub fn finish(mut s: Scenario, file: &str, src: &str) -> Result<Scenario, ScenarioError> {
    s.file = file.to_string();
    validate::check(&s, src)?;
    s.warnings = lint::warnings(&s, src);
    s.model();
    Ok(s)
}

/// Read and validate a scenario file, or a kubectl dump of a cluster (Kubernetes objects,
/// which `import::kubectl` makes a scenario of).
pub fn load_scenario(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
    let (file, src) = read_text(path, "scenario")?;
    if crate::import::documents::looks_like_objects(&src) {
        return crate::import::kubectl::scenario(&file, &src, &Default::default());
    }
    if src.contains("\nmanifests:") || src.starts_with("manifests:") {
        return crate::import::manifests::load_text(path, &file, &src, &[]);
    }
    if src.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::whole_file(
            &file,
            format!(
                "the file is {} bytes; scenarios are limited to {} bytes",
                src.len(),
                MAX_SCENARIO_BYTES
            ),
        )
        .with_hint("is this really a scenario? a pasted dump belongs in its own file"));
    }
    load_scenario_str(&file, &src)
}

/// A file's text, with its name for errors: refused when larger than a dump may be, or
/// not UTF-8 (located at the first byte that is not).
pub fn read_text(path: &std::path::Path, what: &str) -> Result<(String, String), ScenarioError> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path)
        .map_err(|e| ScenarioError::whole_file(&file, format!("cannot read the {what}: {e}")))?;
    let max = crate::import::documents::MAX_DUMP_BYTES;
    if meta.len() > max {
        return Err(ScenarioError::whole_file(
            &file,
            format!("the file is {} bytes; kpath reads up to {max}", meta.len()),
        )
        .with_hint(
            "give kpath the objects of the namespaces that matter (kubectl get ... -n NS)",
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| ScenarioError::whole_file(&file, format!("cannot read the {what}: {e}")))?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok((file, s)),
        Err(e) => {
            // Point at the first byte that is not UTF-8, in a lossy copy of the text.
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let before = String::from_utf8_lossy(&bytes[..at]);
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let lossy = String::from_utf8_lossy(&bytes);
            Err(ScenarioError::at(
                &file,
                &lossy,
                line,
                col,
                format!("byte 0x{:02x} (offset {at}) is not UTF-8 text", bytes[at]),
            )
            .with_hint("scenarios are UTF-8 YAML; was the file saved in another encoding?"))
        }
    }
}

/// Parse scenario text without validating it (manifests are applied to it first).
pub fn parse(file: &str, src: &str) -> Result<Scenario, ScenarioError> {
    // The YAML reader's default budget (250,000 nodes) stops a cluster of about 30,000
    // pods; the budget kpath sets grows with the file size it accepts instead (a YAML node
    // takes at least two bytes), and aliases stay capped, which is what stops YAML bombs.
    let opts = serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_nodes: MAX_SCENARIO_BYTES as usize / 2,
            max_events: MAX_SCENARIO_BYTES as usize,
        },
    };
    let mut s: Scenario =
        serde_saphyr::from_str_with_options(src, opts).map_err(|e| yaml_error(file, src, e))?;
    s.file = file.to_string();
    Ok(s)
}

/// Parse and validate scenario text; `file` names it in errors.
pub fn load_scenario_str(file: &str, src: &str) -> Result<Scenario, ScenarioError> {
    let s = parse(file, src)?;
    // Manifests are found relative to the scenario's file, which text alone has not.
    if let Some(m) = s.manifests.first() {
        let l = m.referenced;
        return Err(ScenarioError::at(
            file,
            src,
            l.line() as usize,
            l.column() as usize,
            "`manifests:` names files relative to the scenario, and this text has no file",
        )
        .with_hint(
            "load the scenario from its file (kpath trace FILE), or apply the manifests with -f",
        ));
    }
    finish(s, file, src)
}

/// A YAML reader's error, located, in kpath's words with a hint where one helps.
pub(crate) fn yaml_error(file: &str, src: &str, e: serde_saphyr::Error) -> ScenarioError {
    let (line, col) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((0, 0));
    let msg = strip_location(&e.to_string());
    // The scanner reports a tab at the scalar it was reading; point at the tab itself.
    let (line, col) = if msg.contains("found a tab") {
        first_tab_from(src, line).unwrap_or((line, col))
    } else {
        (line, col)
    };
    let (msg, hint) = yaml_errors::explain(&msg, &token_at(src, line, col));
    let err = if line == 0 {
        ScenarioError::whole_file(file, msg)
    } else {
        ScenarioError::at(file, src, line, col, msg)
    };
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// NetworkPolicies to try on `base` before anyone applies them (`kpath policy --with`):
/// a file of their own holding `networkPolicies: [...]` as a scenario writes them,
/// validated with its own places. One named as a policy of `base` replaces it, as `kubectl
/// apply` would; the others are added.
pub fn with_policies(base: Scenario, file: &str, src: &str) -> Result<Scenario, ScenarioError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct PolicyFile {
        network_policies: Vec<network_policy::NetworkPolicySpec>,
    }
    let extra: PolicyFile = serde_saphyr::from_str(src).map_err(|e| yaml_error(file, src, e))?;
    let mut alone = base.clone();
    alone.file = file.to_string();
    alone.network_policies = extra.network_policies;
    validate::check_policies_alone(&alone, src)?;
    let added = network_policy::network_policies(&alone);
    Ok(base.with_model(|c| {
        for p in added {
            c.network_policies
                .retain(|q| (&q.namespace, &q.name) != (&p.namespace, &p.name));
            c.network_policies.push(p);
        }
    }))
}

/// serde-saphyr appends " at line L column C" to messages; we show the place ourselves.
fn strip_location(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg);
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_string(),
        None => first.to_string(),
    }
}

/// The first tab at or after 1-based `line`, as (line, column).
fn first_tab_from(src: &str, line: usize) -> Option<(usize, usize)> {
    src.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .find_map(|(i, l)| l.find('\t').map(|c| (i + 1, l[..c].chars().count() + 1)))
}

/// The word at a 1-based line and column (up to a space, comma or closing bracket).
fn token_at(src: &str, line: usize, col: usize) -> String {
    src.lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .chars()
        .skip(col.saturating_sub(1))
        .take_while(|c| !matches!(c, ' ' | ',' | '}' | ']' | '#'))
        .take(64)
        .collect()
}
