//! The datapath walk. A packet is handed from kernel stage to kernel stage, the way the
//! kernel's functions call each other, and every stage records a `Step` named after the
//! function it stands for. The walk is a loop over `Next` (not recursion), so a forwarding
//! loop ends in TTL exceeded or, as a last guard, the step cap.

mod bridge;
pub mod choices;
mod dev;
mod icmp;
mod ip;
mod local;
mod neigh;
mod nf;
mod send;
mod skb;
mod vxlan;

pub use send::EngineError;
pub use skb::Skb;
pub use vxlan::{flow_hash, udp_flow_src_port};

use crate::net::{IfIndex, NsId, Route, World};
use crate::scenario::Scenario;
use crate::trace::{Disposition, DispositionKind, NfStep, Step, StepKind, Trace};
use crate::wire::Mac;

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
}

/// One walk over a world: the world it changes and the steps it records.
pub struct Walk<'w> {
    world: &'w mut World,
    steps: Vec<Step>,
    choices: choices::Choices,
}

/// Trace the scenario's packet `name` through a fresh copy of `world`.
pub fn run_packet(s: &Scenario, world: &World, name: &str) -> Result<Trace, EngineError> {
    let spec = s.packet(name).ok_or_else(|| EngineError::UnknownPacket {
        name: name.to_string(),
        known: s.packets.iter().map(|p| p.name.value.clone()).collect(),
    })?;
    let mut w = world.clone();
    let mut walk = Walk {
        world: &mut w,
        steps: Vec::new(),
        choices: choices::Choices::default(),
    };
    let (sent, first) = walk.send(s, spec)?;
    let disposition = match walk.run(first) {
        End::Fate(d) => d,
        End::ArpResolved(_) => walk.fate_here(
            None,
            DispositionKind::Dropped,
            "the walk ended in an ARP exchange",
        ),
    };
    Ok(Trace {
        scenario: s.title().to_string(),
        packet: name.to_string(),
        seed: world.seed,
        sent,
        steps: walk.steps,
        disposition,
    })
}

impl Walk<'_> {
    /// Drive a packet until it ends. ARP sub-walks call this again for their own frame.
    fn run(&mut self, mut next: Next) -> End {
        loop {
            if self.steps.len() >= STEP_CAP {
                let d = self.fate_here(
                    None,
                    DispositionKind::Loop,
                    &format!("the walk passed {STEP_CAP} steps without ending: a forwarding loop"),
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
            socket,
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
        Next::End(End::Fate(self.fate(skb, dev, kind, reason)))
    }

    fn nf_step(&mut self, skb: &Skb, dev: Option<IfIndex>, nf: NfStep, note: String) {
        let step = self.record(skb, dev, "ipt_do_table", StepKind::Netfilter, note);
        step.hook = Some(nf.hook);
        step.nf = Some(nf);
    }
}
