//! The datapath walk. A packet is handed from kernel stage to kernel stage, the way the
//! kernel's functions call each other, and every stage records a `Step` named after the
//! function it stands for. The walk is a loop over `Next` (not recursion), so a forwarding
//! loop ends in TTL exceeded or, as a last guard, the step cap.

mod bridge;
pub mod choices;
mod dev;
mod flow;
mod hooks;
mod icmp;
mod ip;
mod ip_fragment;
mod local;
mod neigh;
mod nf_hook;
mod resolver;
mod send;
mod skb;
mod vxlan;

pub use flow::{flow_outcomes, walk_flow};
pub use hooks::registered_hooks;
pub use nf_hook::RegisteredHook;
pub use send::{TCP_FILL, UDP_FILL, ping_data};
pub use skb::Skb;
pub use vxlan::{VxlanOuter, encapsulate, flow_hash, udp_flow_src_port};

use crate::net::{IfIndex, NsId, Route, World};
use crate::resolve::ResolvedPacket;
use crate::trace::{Disposition, DispositionKind, NfStep, Role, Step, StepKind, Trace};
use crate::wire::Mac;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// A walk that takes more steps than this is reported as a loop.
pub const STEP_CAP: usize = 10_000;

/// What the kernel does with the packet next.
enum Next {
    /// `dev_queue_xmit` on `skb.dev`.
    Xmit(Skb),
    /// `__netif_receive_skb` on `skb.dev`.
    Rx(Skb),
    /// `ip_rcv` on `skb.dev`.
    IpRcv(Skb),
    /// `__ip_local_out`: the OUTPUT hook of a locally generated packet, then `ip_output`.
    LocalOut(Skb, Route),
    /// `ip_forward`.
    Forward(Skb, Route),
    /// `ip_output`: POSTROUTING, then `ip_finish_output`.
    Output(Skb, Route),
    /// `ip_local_deliver`.
    LocalDeliver(Skb),
    End(End),
}

/// How a (sub-)walk ended.
enum End {
    Fate(Disposition),
    /// The ARP reply reached the asker: the neighbour's MAC.
    ArpResolved(Mac),
    /// The fragment joined a reassembly queue that still waits for others (where, in words).
    Queued(String),
}

/// An ARP request in flight: who asked (namespace and device) and for which address.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct ArpAsk {
    ns: NsId,
    dev: IfIndex,
    target: crate::wire::Ipv4Addr,
}

/// One walk over a world: the world it changes and the steps it records.
pub struct Walk<'w> {
    world: &'w mut World,
    steps: Vec<Step>,
    choices: choices::Choices,
    /// The ARP requests being walked, innermost last: only a reply to the innermost one,
    /// arriving where it was asked, completes a resolution.
    arp_asks: Vec<ArpAsk>,
    /// A walk that takes more steps than this is reported as a loop (`STEP_CAP`).
    step_cap: usize,
    /// The netfilter hook functions registered in each namespace the walk entered.
    registries: nf_hook::Registries,
    /// The route nat OUTPUT gave a local packet when it changed its destination
    /// (`ip_route_me_harder`'s `skb_dst_set`), taken by `__ip_local_out` after the hook.
    rerouted: Option<crate::net::Route>,
    /// Fragments of the traced datagram that ended before a reassembly queue, in words.
    lost_fragments: Vec<String>,
}

/// The seed of one packet's randomness: the world's seed mixed with the packet's name, so a
/// packet's ports, IDs and sequence numbers are its own, and stay the same when other
/// packets are added to the scenario.
pub fn packet_seed(world_seed: u64, packet: &str) -> u64 {
    world_seed ^ crate::k8s::fnv1a(packet)
}

/// Trace a resolved packet through a fresh copy of `world`.
pub fn walk_packet(world: &World, p: &ResolvedPacket) -> Trace {
    packet_once(world, p, STEP_CAP, choices::Choices::default()).0
}

/// One walk of packet `p` with the given (possibly forced) random choices.
fn packet_once(
    world: &World,
    p: &ResolvedPacket,
    step_cap: usize,
    choices: choices::Choices,
) -> (Trace, choices::Choices) {
    let mut w = world.clone();
    // Every packet starts from a copy of the same world; without a reseed every packet
    // would draw the same source port, ISN and IP ID. (The flow-hash secret stays the
    // world's: it is per boot, not per packet.)
    w.rng = ChaCha8Rng::seed_from_u64(packet_seed(world.seed, &p.name));
    let mut walk = Walk::new(&mut w, choices, step_cap);
    let (sent, first) = walk.send(p);
    let disposition = walk.finish(first);
    let choices = std::mem::take(&mut walk.choices);
    (
        Trace {
            scenario: p.scenario.clone(),
            packet: p.name.clone(),
            seed: world.seed,
            sent,
            steps: walk.steps,
            disposition,
        },
        choices,
    )
}

/// One possible fate of a packet or flow, with the probability of the random choices
/// (kube-proxy's `-m statistic` rules) that lead to it.
#[derive(Clone, Debug)]
pub struct Outcome<T> {
    pub probability: f64,
    pub choices: Vec<choices::Choice>,
    pub result: T,
}

/// The most outcomes one enumeration walks; past it the list is cut short and its
/// probabilities add up to less than 1 (see [`explored`]).
pub const MAX_OUTCOMES: usize = 4096;

/// The most steps one enumeration keeps, all outcomes together: a flow of 16 connections to
/// a Service of 3 endpoints has 3^16 outcomes of ~17,000 steps each, which would fill any
/// memory long before [`MAX_OUTCOMES`]. Past this the list is cut short the same way.
pub const MAX_ENUMERATED_STEPS: usize = 250_000;

/// How much of the probability the outcomes cover: 1 when every outcome was enumerated,
/// less when [`MAX_OUTCOMES`] cut the enumeration short.
pub fn explored<T>(outcomes: &[Outcome<T>]) -> f64 {
    outcomes.iter().map(|o| o.probability).sum()
}

/// Every possible outcome of `run`, found by replaying it with forced choices
/// (depth-first), most probable first.
pub fn enumerate<T>(
    mut run: impl FnMut(choices::Choices) -> (T, choices::Choices),
    steps: impl Fn(&T) -> usize,
) -> Vec<Outcome<T>> {
    let mut out = Vec::new();
    let mut kept = 0usize;
    let mut todo: Vec<Vec<usize>> = vec![Vec::new()];
    while let Some(forced) = todo.pop() {
        let (result, c) = run(choices::Choices {
            forced,
            log: Vec::new(),
            enumerate: true,
        });
        let mut alts = c.alternatives();
        alts.reverse();
        todo.extend(alts);
        kept += steps(&result);
        out.push(Outcome {
            probability: c.probability(),
            choices: c.log,
            result,
        });
        if out.len() >= MAX_OUTCOMES || kept >= MAX_ENUMERATED_STEPS {
            break;
        }
    }
    out.sort_by(|a, b| {
        b.probability
            .partial_cmp(&a.probability)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// A packet put into a world directly, not named by a scenario: rules-only mode asks about a
/// node rebuilt from its dumps this way.
#[derive(Clone, Debug)]
pub struct Injection {
    /// What the trace calls the packet.
    pub name: String,
    pub origin: Origin,
    /// The packet as it arrives or as its program sends it.
    pub packet: crate::wire::Ipv4,
}

/// Where an injected packet starts.
#[derive(Clone, Copy, Debug)]
pub enum Origin {
    /// It arrives on device `dev` of namespace `ns`, from the wire (`__netif_receive_skb`).
    Arrives { ns: NsId, dev: IfIndex },
    /// A frame from MAC `src` to MAC `dst` arrives on `dev`: on a node rebuilt from its
    /// dumps, a pod's frame for its gateway on a bridge port, or another node's VXLAN packet
    /// for this node's NIC.
    ArrivesFrame {
        ns: NsId,
        dev: IfIndex,
        src: crate::wire::Mac,
        dst: crate::wire::Mac,
    },
    /// A program in namespace `ns` sends it from its (local) source address
    /// (`ip_route_output_key`, then `__ip_local_out`).
    Sent { ns: NsId },
}

/// One walk of an injected packet through a fresh copy of `world`.
pub fn injected_once(
    world: &World,
    inj: &Injection,
    choices: choices::Choices,
) -> (Trace, choices::Choices) {
    let mut w = world.clone();
    w.rng = ChaCha8Rng::seed_from_u64(packet_seed(world.seed, &inj.name));
    let mut walk = Walk::new(&mut w, choices, STEP_CAP);
    let (sent, first) = walk.inject(inj);
    let disposition = walk.finish(first);
    let choices = std::mem::take(&mut walk.choices);
    let trace = Trace {
        scenario: String::new(),
        packet: inj.name.clone(),
        seed: world.seed,
        sent: Some(sent),
        steps: walk.steps,
        disposition,
    };
    (trace, choices)
}

/// Every possible outcome of an injected packet, most probable first.
pub fn injected_outcomes(world: &World, inj: &Injection) -> Vec<Outcome<Trace>> {
    enumerate(|c| injected_once(world, inj, c), |t| t.steps.len())
}

/// Every possible outcome of a resolved packet, most probable first.
pub fn packet_outcomes(world: &World, p: &ResolvedPacket) -> Vec<Outcome<Trace>> {
    enumerate(|c| packet_once(world, p, STEP_CAP, c), |t| t.steps.len())
}

impl<'w> Walk<'w> {
    fn new(world: &'w mut World, choices: choices::Choices, step_cap: usize) -> Walk<'w> {
        Walk {
            world,
            // A cross-node packet takes about 130 steps; growing from empty copies them often.
            steps: Vec::with_capacity(256),
            choices,
            arp_asks: Vec::new(),
            step_cap,
            registries: nf_hook::Registries::new(hooks::REGISTRANTS),
            rerouted: None,
            lost_fragments: Vec::new(),
        }
    }

    /// Run the walk from `first` to its end.
    fn finish(&mut self, first: Next) -> Disposition {
        match self.run(first) {
            End::Fate(d) => d,
            End::ArpResolved(_) => self.fate_here(
                None,
                DispositionKind::Dropped,
                "the walk ended in an ARP exchange",
            ),
            End::Queued(queued) => self.never_reassembled(&queued),
        }
    }
}

impl Walk<'_> {
    /// Drive a packet until it ends. ARP sub-walks call this again for their own frame.
    fn run(&mut self, mut next: Next) -> End {
        loop {
            if self.steps.len() >= self.step_cap {
                let d = self.fate_here(
                    None,
                    DispositionKind::Loop,
                    &format!(
                        "the walk passed {} steps without ending: a forwarding loop",
                        self.step_cap
                    ),
                );
                return End::Fate(d);
            }
            next = match next {
                Next::Xmit(skb) => self.dev_queue_xmit(skb),
                Next::Rx(skb) => self.netif_receive_skb(skb),
                Next::IpRcv(skb) => self.ip_rcv(skb),
                Next::LocalOut(skb, rt) => self.ip_local_out(skb, rt),
                Next::Forward(skb, rt) => self.ip_forward(skb, rt),
                Next::Output(skb, rt) => self.ip_output(skb, rt),
                Next::LocalDeliver(skb) => self.ip_local_deliver(skb),
                Next::End(end) => return end,
            }
        }
    }

    fn ns_name(&self, ns: NsId) -> String {
        self.world.ns(ns).name.clone()
    }

    fn dev_name(&self, ns: NsId, dev: IfIndex) -> String {
        self.world.ns(ns).dev_name(dev)
    }

    /// Record a step for `skb` at device `dev` (None: no particular device).
    fn record(
        &mut self,
        skb: &Skb,
        dev: Option<IfIndex>,
        func: &'static str,
        kind: StepKind,
        note: impl Into<String>,
    ) -> &mut Step {
        let step = Step {
            index: self.steps.len() + 1,
            netns: self.ns_name(skb.ns),
            device: dev.map(|d| self.dev_name(skb.ns, d)),
            func,
            kind,
            role: skb.role,
            hook: None,
            nf: None,
            conntrack: None,
            ipvs: None,
            ct_state: None,
            note: note.into(),
            packet: skb.frame.clone(),
            wire: None,
        };
        self.steps.push(step);
        let last = self.steps.len() - 1;
        &mut self.steps[last]
    }

    /// End the walk at `skb`'s namespace and device.
    fn fate(
        &self,
        skb: &Skb,
        dev: Option<IfIndex>,
        kind: DispositionKind,
        reason: impl Into<String>,
    ) -> Disposition {
        Disposition {
            kind,
            netns: self.ns_name(skb.ns),
            device: dev.map(|d| self.dev_name(skb.ns, d)),
            reason: reason.into(),
            socket: None,
            pod: None,
            policy: None,
        }
    }

    /// End the walk where the last step was.
    fn fate_here(
        &self,
        socket: Option<String>,
        kind: DispositionKind,
        reason: &str,
    ) -> Disposition {
        let last = self.steps.last();
        Disposition {
            kind,
            netns: last.map(|s| s.netns.clone()).unwrap_or_default(),
            device: last.and_then(|s| s.device.clone()),
            reason: reason.to_string(),
            socket: socket.map(Into::into),
            pod: None,
            policy: None,
        }
    }

    /// Record a terminal step and end the walk with `kind`.
    fn drop_here(
        &mut self,
        skb: &Skb,
        dev: Option<IfIndex>,
        func: &'static str,
        kind: DispositionKind,
        reason: String,
    ) -> Next {
        self.record(skb, dev, func, StepKind::Drop, reason.clone());
        self.cause_before_effects();
        Next::End(End::Fate(self.fate(skb, dev, kind, reason)))
    }

    /// The step just recorded decided a fate whose answer (an ICMP error, a RST) was
    /// recorded while it was being decided: put the decision first, as the kernel runs it
    /// (`ip_forward` finds the MTU too small, then calls `icmp_send`; `tcp_v4_rcv` finds no
    /// socket, then `tcp_v4_send_reset`), and number the steps in that order.
    fn cause_before_effects(&mut self) {
        let Some(last) = self.steps.len().checked_sub(1) else {
            return;
        };
        let answers = self.steps[..last]
            .iter()
            .rev()
            .take_while(|s| {
                s.role == Role::Response && matches!(s.func, "icmp_send" | "tcp_v4_send_reset")
            })
            .count();
        if answers == 0 {
            return;
        }
        let from = last - answers;
        self.steps[from..].rotate_right(1);
        for (i, s) in self.steps.iter_mut().enumerate().skip(from) {
            s.index = i + 1;
        }
    }

    fn nf_step(&mut self, skb: &Skb, dev: Option<IfIndex>, nf: NfStep, note: String) {
        let func = nf.rule.table.walker();
        let step = self.record(skb, dev, func, StepKind::Netfilter, note);
        step.hook = Some(nf.hook);
        step.nf = Some(nf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cross_node_ping() -> (World, ResolvedPacket) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/pod-to-pod-cross-node.yaml");
        let s = crate::scenario::load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
        let w = crate::k8s::build_world(s.model(), 0).unwrap_or_else(|e| panic!("{e}"));
        let p = crate::resolve::packet(&s, &w, "ping").unwrap_or_else(|e| panic!("{e}"));
        (w, p)
    }

    #[test]
    fn the_step_cap_inside_an_arp_exchange_ends_the_walk_as_a_loop() {
        let (w, p) = cross_node_ping();
        let full = walk_packet(&w, &p);
        // The client's ARP for its gateway starts at step 4; stop the walk inside it.
        assert_eq!(full.steps[3].func, "arp_solicit");
        let t = packet_once(&w, &p, 6, choices::Choices::default()).0;
        assert!(t.steps.len() < full.steps.len());
        assert_eq!(
            t.disposition.kind,
            DispositionKind::Loop,
            "{}",
            t.disposition.reason
        );
        assert!(t.steps.iter().all(|s| s.func != "neigh_invalidate"));
    }

    #[test]
    fn packet_seeds_differ_by_name_and_follow_the_world_seed() {
        assert_ne!(packet_seed(0, "ping"), packet_seed(0, "ping2"));
        assert_ne!(packet_seed(0, "ping"), packet_seed(1, "ping"));
        assert_eq!(packet_seed(7, "syn"), packet_seed(7, "syn"));
    }
}
