//! A scenario's packets and flows with every name resolved before the walk: which namespace
//! sends, from which address and port, who owns the socket, and where the packet goes (a
//! pod, node, host or Service named, or a DNS name looked up as the sender's resolver would
//! look it up). The engine walks what this gives it and never reads the scenario.

use crate::cluster::Cluster;
use crate::net::{NsId, NsKind, SocketOwner, World};
use crate::scenario::{Endpoint, EndpointKind, IpProtocol, Scenario, TcpFlag};
use crate::wire::{Ipv4Addr, TcpFlags};

/// Why a packet or flow could not be resolved. Scenario validation rules these out for
/// loaded files; they remain for names given on the command line and worlds built by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("no packet named `{name}`; the scenario has: {}", known.join(", "))]
    UnknownPacket { name: String, known: Vec<String> },
    #[error("packet `{packet}`: {message}")]
    BadEndpoint { packet: String, message: String },
}

/// Who sends.
#[derive(Clone, Debug)]
pub struct Sender {
    /// The namespace the program runs in.
    pub ns: NsId,
    /// Who it is, in words (`container nginx`, `a client program`).
    pub words: String,
    /// The address the socket is bound to, when the sender names one.
    pub bound: Option<Ipv4Addr>,
    /// The source port, when the sender names one (else the kernel picks an ephemeral one).
    pub port: Option<u16>,
    /// Who owns the socket (`ss` shows it; flows register it).
    pub owner: SocketOwner,
}

/// Where the packet goes.
#[derive(Clone, Debug)]
pub struct Target {
    /// For a DNS name: the lookup the sender's resolver makes first.
    pub lookup: Option<NameLookup>,
    /// The address and port (for a name, its first address); Err with the reason when the
    /// name does not resolve.
    pub addr: Result<(Ipv4Addr, Option<u16>), String>,
}

/// A DNS name to look up before sending: CoreDNS's replies to each question, and where the
/// resolver sends the questions.
#[derive(Clone, Debug)]
pub struct NameLookup {
    pub name: String,
    pub lookup: crate::k8s::dns::Lookup,
    /// The cluster DNS Service's address and port, which the questions are walked to; Err:
    /// why the lookup is not walked as packets, stated as an assumption.
    pub server: Result<(Ipv4Addr, u16), String>,
}

/// The transport a program sends with: what kpath's senders speak (validation refuses
/// packets and flows of other protocols).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    /// ping: a raw ICMP socket's echo request.
    Icmp,
    Udp,
    Tcp,
}

impl Transport {
    fn of(p: IpProtocol) -> Result<Transport, String> {
        match p {
            IpProtocol::Icmp => Ok(Transport::Icmp),
            IpProtocol::Udp => Ok(Transport::Udp),
            IpProtocol::Tcp => Ok(Transport::Tcp),
            IpProtocol::Sctp | IpProtocol::Other(_) => {
                Err(format!("kpath sends tcp, udp and icmp packets, not {p}"))
            }
        }
    }

    /// The IP protocol number's name, as sockets and conntrack know it.
    pub fn ip_protocol(self) -> IpProtocol {
        match self {
            Transport::Icmp => IpProtocol::Icmp,
            Transport::Udp => IpProtocol::Udp,
            Transport::Tcp => IpProtocol::Tcp,
        }
    }
}

/// A packet of the scenario, resolved.
#[derive(Clone, Debug)]
pub struct ResolvedPacket {
    pub name: String,
    /// The scenario's title, for the trace.
    pub scenario: String,
    pub from: Sender,
    pub to: Target,
    pub protocol: Transport,
    /// Payload bytes (ping's data, a UDP datagram's, a TCP segment's).
    pub size: Option<u16>,
    /// The sending socket's path MTU discovery mode (the scenario's `df:`).
    pub pmtudisc: crate::net::Pmtudisc,
    pub ttl: Option<u8>,
    /// The TCP flags asked for; None: a connect(), which sends a SYN.
    pub flags: Option<TcpFlags>,
}

/// A flow of the scenario, resolved.
#[derive(Clone, Debug)]
pub struct ResolvedFlow {
    pub name: String,
    pub scenario: String,
    pub from: Sender,
    pub to: Target,
    pub protocol: Transport,
    /// Request and response sizes in bytes.
    pub request: u16,
    pub response: u16,
    /// TCP: close the connection (FIN, FIN, ACK) after the exchange.
    pub close: bool,
    /// How many connections, one after another.
    pub connections: u16,
}

/// Resolve packet `name` of the scenario.
pub fn packet(s: &Scenario, world: &World, name: &str) -> Result<ResolvedPacket, ResolveError> {
    let p = s.packet(name).ok_or_else(|| ResolveError::UnknownPacket {
        name: name.to_string(),
        known: s.packets.iter().map(|p| p.name.value.clone()).collect(),
    })?;
    let (from, to) = ends(s.model(), world, name, &p.from.value, &p.to.value)?;
    Ok(ResolvedPacket {
        name: name.to_string(),
        scenario: s.title().to_string(),
        from,
        to,
        protocol: Transport::of(p.protocol).map_err(|m| bad(name, m))?,
        size: p.size.as_ref().map(|s| s.value),
        pmtudisc: crate::net::Pmtudisc::from_df(p.df),
        ttl: p.ttl,
        flags: p.flags.as_ref().map(|f| tcp_flags(&f.value)),
    })
}

/// Resolve flow `name` of the scenario.
pub fn flow(s: &Scenario, world: &World, name: &str) -> Result<ResolvedFlow, ResolveError> {
    let f = s.flow(name).ok_or_else(|| ResolveError::UnknownPacket {
        name: name.to_string(),
        known: s.flows.iter().map(|f| f.name.value.clone()).collect(),
    })?;
    let (from, to) = ends(s.model(), world, name, &f.from.value, &f.to.value)?;
    Ok(ResolvedFlow {
        name: name.to_string(),
        scenario: s.title().to_string(),
        from,
        to,
        protocol: Transport::of(f.protocol).map_err(|m| bad(name, m))?,
        request: f.request,
        response: f.response,
        close: f.close,
        connections: f.connections(),
    })
}

/// Both ends of a packet or flow, `from` and `to` as the scenario writes them.
fn ends(
    c: &Cluster,
    world: &World,
    name: &str,
    from: &str,
    to: &str,
) -> Result<(Sender, Target), ResolveError> {
    let bad = |message: String| bad(name, message);
    let f: Endpoint = from.parse().map_err(bad)?;
    let t: Endpoint = to.parse().map_err(bad)?;
    let ns = source_ns(c, world, &f).ok_or_else(|| bad(format!("`{from}` is not in the world")))?;
    let sender = Sender {
        ns,
        words: sender_words(&f),
        bound: match f.kind {
            EndpointKind::Ip(ip) => Some(ip),
            _ => None,
        },
        port: f.port,
        owner: owner(c, &f),
    };
    let target = target(c, world, ns, &t).ok_or_else(|| bad(format!("`{to}` has no address")))?;
    Ok((sender, target))
}

fn bad(name: &str, message: String) -> ResolveError {
    ResolveError::BadEndpoint {
        packet: name.to_string(),
        message,
    }
}

/// The namespace that sends: a pod's, a node's, a host's, or whoever holds an address.
fn source_ns(c: &Cluster, world: &World, e: &Endpoint) -> Option<NsId> {
    let name = match &e.kind {
        // A hostNetwork pod's processes run in its node's namespace.
        EndpointKind::Pod { key, .. } => c.pod(key).map_or_else(|| key.clone(), |p| p.netns()),
        EndpointKind::Node(n) | EndpointKind::Host(n) => n.clone(),
        EndpointKind::Ip(ip) => {
            // A pod's address belongs to the pod; anything else to whoever holds it.
            if let Some(p) = c.pods.iter().find(|p| p.ip == *ip && !p.host_network) {
                p.key()
            } else {
                return world.netns.iter().find(|n| n.is_local(*ip)).map(|n| n.id);
            }
        }
        EndpointKind::Service(_) | EndpointKind::Dns(_) => return None,
    };
    world.ns_by_name(&name).map(|n| n.id)
}

/// Where `to` points: an address and maybe a port. A DNS name is looked up as the sender's
/// resolver would (its search path from the sender pod's namespace); None: the endpoint has
/// no address at all (never for a valid scenario).
fn target(c: &Cluster, world: &World, ns: NsId, to: &Endpoint) -> Option<Target> {
    let port = to.port;
    let found = |a: Option<(Ipv4Addr, Option<u16>)>| {
        a.map(|a| Target {
            lookup: None,
            addr: Ok(a),
        })
    };
    match &to.kind {
        EndpointKind::Pod { key, .. } => found(c.pod(key).map(|p| (p.ip, port))),
        EndpointKind::Node(n) => found(c.node(n).map(|n| (n.ip, port))),
        EndpointKind::Ip(ip) => found(Some((*ip, port))),
        EndpointKind::Host(h) => found(c.host(h).map(|h| (h.ip, port))),
        EndpointKind::Service(key) => found(c.service(key).and_then(|svc| {
            let sp = svc.ports.iter().find(|p| match (&to.port_name, port) {
                (Some(n), _) => p.name.as_deref() == Some(n),
                (None, Some(n)) => p.port == n,
                (None, None) => false,
            })?;
            Some((svc.cluster_ip()?, Some(sp.port)))
        })),
        EndpointKind::Dns(name) => {
            let (pod_ns, server) = match &world.ns(ns).kind {
                NsKind::Pod { namespace, .. } => {
                    (namespace.clone(), crate::k8s::dns::server(c))
                }
                _ => (
                    "default".to_string(),
                    Err("the sender is not in a pod: its resolver is its host's own, which kpath does not model, so it is assumed to answer as the cluster DNS would for a pod in namespace default".to_string()),
                ),
            };
            let lookup = crate::k8s::dns::resolve(c, name, &pod_ns);
            let addr = match lookup.addrs.first() {
                Some(ip) => Ok((*ip, port)),
                None => Err(format!(
                    "`{name}` does not resolve: {}",
                    match lookup.queries.last() {
                        Some(q) if q.reply.is_nxdomain() => "every query got NXDOMAIN".to_string(),
                        Some(q) => format!("{} has no address ({})", q.name, q.reply),
                        None => "no query was sent".to_string(),
                    }
                )),
            };
            Some(Target {
                lookup: Some(NameLookup {
                    name: name.clone(),
                    lookup,
                    server,
                }),
                addr,
            })
        }
    }
}

/// Who sends, in words.
fn sender_words(from: &Endpoint) -> String {
    match &from.kind {
        EndpointKind::Pod {
            container: Some(c), ..
        } => format!("container {c}"),
        EndpointKind::Pod { .. } => "a container".to_string(),
        EndpointKind::Host(_) => "a client program".to_string(),
        _ => "a process".to_string(),
    }
}

/// Who owns the sender's socket: the container named, or the pod's first.
fn owner(c: &Cluster, from: &Endpoint) -> SocketOwner {
    match &from.kind {
        EndpointKind::Pod { key, container } => {
            let pod = c.pod(key);
            let first = pod
                .and_then(|p| p.containers.first())
                .map(|c| c.name.clone());
            SocketOwner::Container {
                container: container.clone().or(first).unwrap_or_else(|| "app".into()),
                host_pod: pod.filter(|p| p.host_network).map(|p| p.key()),
            }
        }
        EndpointKind::Host(h) => SocketOwner::Host { host: h.clone() },
        _ => SocketOwner::Host {
            host: "the node".into(),
        },
    }
}

fn tcp_flags(flags: &[TcpFlag]) -> TcpFlags {
    TcpFlags(flags.iter().fold(0, |acc, f| {
        acc | match f {
            TcpFlag::Fin => TcpFlags::FIN,
            TcpFlag::Syn => TcpFlags::SYN,
            TcpFlag::Rst => TcpFlags::RST,
            TcpFlag::Psh => TcpFlags::PSH,
            TcpFlag::Ack => TcpFlags::ACK,
            TcpFlag::Urg => TcpFlags::URG,
        }
    }))
}
