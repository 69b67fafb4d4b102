//! IPVS (`net/netfilter/ipvs/`): virtual services, their real servers and the schedulers
//! that pick one, as kube-proxy's IPVS mode programs them. The facts and their sources are
//! in docs/design/ipvs.md.
//!
//! This is the table and its decisions; the hooks that consult it (`ip_vs_in_hook` at
//! LOCAL_IN, `ip_vs_out_hook` at FORWARD) belong to the engine.

pub mod conn;
pub mod mh;
pub mod parse;
pub mod print;
pub mod sched;

use crate::wire::IpProtocol;
use std::net::Ipv4Addr;

/// How a real server is reached (`IP_VS_CONN_F_FWD_MASK`); kube-proxy uses Masq only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Forward {
    Masq,
    Local,
    Tunnel,
    Route,
}

impl Forward {
    pub fn is_masq(&self) -> bool {
        matches!(self, Forward::Masq)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Local => "Local",
            Forward::Tunnel => "Tunnel",
            Forward::Route => "Route",
        }
    }
}

/// A real server (`struct ip_vs_dest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServer {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub weight: u32,
    /// The latest non-zero weight (`dest->last_weight`, kept by `__ip_vs_update_dest`): `mh`
    /// builds its table from it, so a server quiesced to weight 0 keeps its slots.
    pub last_weight: u32,
    pub forward: Forward,
    /// Connections in ESTABLISHED (TCP) - `lc` weighs these 256 times the inactive ones.
    pub active: u32,
    pub inactive: u32,
}

impl RealServer {
    pub fn masq(addr: Ipv4Addr, port: u16) -> RealServer {
        RealServer {
            addr,
            port,
            weight: 1,
            last_weight: 1,
            forward: Forward::Masq,
            active: 0,
            inactive: 0,
        }
    }
}

/// The scheduler of a virtual service (`ipvsadm -s`), with its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheduler {
    /// Round robin: the index of the last pick (None: the list head, nothing picked yet).
    Rr { last: Option<usize> },
    /// Weighted round robin: the kernel's mark (`struct ip_vs_wrr_mark`).
    Wrr(sched::WrrMark),
    /// Least connections.
    Lc,
    /// Source hashing over 256 buckets.
    Sh,
    /// Maglev hashing over 4093 slots, with the service's scheduler flags. Stateless: the
    /// kernel's table is a function of the real servers, rebuilt by `mh::table`.
    Mh(mh::Flags),
}

impl Scheduler {
    pub fn name(&self) -> &'static str {
        match self {
            Scheduler::Rr { .. } => "rr",
            Scheduler::Wrr(_) => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Sh => "sh",
            Scheduler::Mh(_) => "mh",
        }
    }

    /// Round robin's position, moved to server `i` as if it had just picked it (when an
    /// enumeration of outcomes chose `i`). Hash and count based schedulers have none.
    pub fn stand_on(&mut self, i: usize) {
        match self {
            Scheduler::Rr { last } => *last = Some(i),
            Scheduler::Wrr(mark) => mark.stand_on(i),
            Scheduler::Lc | Scheduler::Sh | Scheduler::Mh(_) => {}
        }
    }

    /// The schedulers kpath models, by ipvsadm name.
    pub const NAMES: &'static [&'static str] = &["rr", "wrr", "lc", "sh", "mh"];

    /// A fresh scheduler by its ipvsadm name, or None for one kpath does not model. `mh`
    /// comes with the flags kube-proxy gives its services (`mh-port`).
    pub fn by_name(name: &str) -> Option<Scheduler> {
        Some(match name {
            "rr" => Scheduler::Rr { last: None },
            "wrr" => Scheduler::Wrr(sched::WrrMark::default()),
            "lc" => Scheduler::Lc,
            "sh" => Scheduler::Sh,
            "mh" => Scheduler::Mh(mh::Flags::KUBE_PROXY),
            _ => return None,
        })
    }
}

/// A virtual service (`struct ip_vs_service`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualService {
    /// TCP, UDP or SCTP.
    pub proto: IpProtocol,
    pub addr: Ipv4Addr,
    pub port: u16,
    pub scheduler: Scheduler,
    /// `-p SECONDS`: persistence (kube-proxy's ClientIP session affinity).
    pub persistent: Option<u32>,
    /// In the kernel's list order: new real servers go to the head
    /// (`list_add_rcu(&dest->n_list, &svc->destinations)`), so the reverse of the order
    /// they were added in.
    pub dests: Vec<RealServer>,
}

impl VirtualService {
    pub fn new(
        proto: IpProtocol,
        addr: Ipv4Addr,
        port: u16,
        scheduler: Scheduler,
    ) -> VirtualService {
        VirtualService {
            proto,
            addr,
            port,
            scheduler,
            persistent: None,
            dests: Vec::new(),
        }
    }

    /// `ip_vs_add_dest`: the new real server goes to the head of the list, its
    /// `last_weight` set to its weight whatever it is.
    pub fn add_dest(&mut self, mut d: RealServer) {
        d.last_weight = d.weight;
        self.dests.insert(0, d);
        if let Scheduler::Wrr(m) = &mut self.scheduler {
            m.dest_changed(&self.dests);
        }
    }

    /// `ip_vs_edit_dest` with a new weight (kube-proxy's graceful termination sets 0):
    /// `last_weight` follows only a non-zero weight.
    pub fn set_weight(&mut self, i: usize, weight: u32) {
        let d = &mut self.dests[i];
        if weight != 0 {
            d.last_weight = weight;
        }
        d.weight = weight;
        if let Scheduler::Wrr(m) = &mut self.scheduler {
            m.dest_changed(&self.dests);
        }
    }

    /// Pick a real server for a new connection from `src`:`sport` (the scheduler's
    /// `schedule`), advancing the scheduler's state. None: no destination available.
    pub fn schedule(&mut self, src: Ipv4Addr, sport: u16) -> Option<usize> {
        sched::schedule(&mut self.scheduler, &self.dests, src, sport)
    }
}

/// A namespace's IPVS: its virtual services and the connections through them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ipvs {
    pub services: Vec<VirtualService>,
    pub conns: conn::Conns,
}

impl Ipvs {
    /// `__ip_vs_service_find`: the service for a packet's protocol, destination and port.
    pub fn find(&self, proto: IpProtocol, addr: Ipv4Addr, port: u16) -> Option<usize> {
        self.services
            .iter()
            .position(|s| s.proto == proto && s.addr == addr && s.port == port)
    }
}
