//! The world: every namespace of the simulated cluster plus the one seeded RNG.

use super::link::{IfIndex, Link, LinkRef, NsId};
use super::netns::Netns;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use std::sync::Arc;

/// All state a walk reads and changes. Walks take a clone, so one packet's ARP and FDB
/// learning never leaks into the next packet's trace unless a flow asks for it.
#[derive(Clone, Debug)]
pub struct World {
    /// Shared between copies of the world, and copied on first write ([`World::ns_mut`]):
    /// a walk starts from a copy of the world and changes only the namespaces it enters
    /// (their conntrack, neighbours, FDB, IPVS and `-m recent` state), so only those are
    /// copied, not every namespace of a cluster of thousands of nodes.
    pub netns: Vec<Arc<Netns>>,
    /// Namespace name -> id, for [`World::ns_by_name`] (a cluster of 5,000 nodes has
    /// 10,000 namespaces, and the controllers look up each node's by name).
    by_name: Arc<rustc_hash::FxHashMap<String, NsId>>,
    pub seed: u64,
    /// The kernel's per-boot flow-hash secret (`hashrnd` in `net/core/flow_dissector.c`),
    /// drawn from the seed: it decides VXLAN source ports.
    pub flow_hash_secret: u32,
    pub(crate) rng: ChaCha8Rng,
    /// Simulated seconds since boot (for `-m recent --seconds`); flows advance it.
    pub now: u64,
    /// Walks say why each rule they met did not match (`NfStep::passed`), for text traces
    /// whose drops explain themselves. Off unless asked: putting each miss in words costs
    /// about a fifth of a walk.
    pub why_not: bool,
    /// Name lookups are walked as DNS packets to the cluster DNS Service and back (on by
    /// default); off, each lookup is one step that states the answers.
    pub dns_packets: bool,
}

impl World {
    pub fn new(seed: u64) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let flow_hash_secret = rng.next_u32();
        World {
            netns: Vec::new(),
            by_name: Default::default(),
            seed,
            flow_hash_secret,
            rng,
            now: 0,
            why_not: false,
            dns_packets: true,
        }
    }

    /// The UDP ports of the world's VXLAN devices, sorted: what a capture decodes as VXLAN.
    pub fn vxlan_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = (self.netns.iter().flat_map(|n| &n.links))
            .filter_map(|l| match &l.kind {
                super::LinkKind::Vxlan(v) => Some(v.dstport),
                _ => None,
            })
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The single source of randomness (ports, IP IDs, probabilities later).
    pub fn next_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    /// A number in `lo..=hi`.
    pub fn range_u16(&mut self, lo: u16, hi: u16) -> u16 {
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        lo + (self.next_u32() % span) as u16
    }

    pub fn add_netns(&mut self, build: impl FnOnce(NsId) -> Netns) -> NsId {
        let id = NsId(self.netns.len());
        let ns = build(id);
        Arc::make_mut(&mut self.by_name)
            .entry(ns.name.clone())
            .or_insert(id);
        self.netns.push(Arc::new(ns));
        id
    }

    pub fn ns(&self, id: NsId) -> &Netns {
        &self.netns[id.0]
    }

    /// The namespace to change: this copy of the world gets its own copy of it first if it
    /// still shares it.
    pub fn ns_mut(&mut self, id: NsId) -> &mut Netns {
        Arc::make_mut(&mut self.netns[id.0])
    }

    pub fn ns_by_name(&self, name: &str) -> Option<&Netns> {
        let id = self.by_name.get(name)?;
        self.netns
            .get(id.0)
            .map(|n| &**n)
            .filter(|n| n.name == name)
    }

    pub fn link(&self, r: LinkRef) -> Option<&Link> {
        self.netns.get(r.ns.0).and_then(|n| n.link(r.ifindex))
    }

    /// Create a veth pair (or a cable, with `cable`), one end in each namespace.
    pub fn connect(
        &mut self,
        a: (NsId, Link),
        b: (NsId, Link),
        make: fn(LinkRef) -> super::LinkKind,
    ) -> (IfIndex, IfIndex) {
        let ia = self.ns_mut(a.0).add_link(a.1);
        let ib = self.ns_mut(b.0).add_link(b.1);
        let (ra, rb) = (
            LinkRef {
                ns: a.0,
                ifindex: ia,
            },
            LinkRef {
                ns: b.0,
                ifindex: ib,
            },
        );
        if let Some(l) = self.ns_mut(a.0).link_mut(ia) {
            l.kind = make(rb);
        }
        if let Some(l) = self.ns_mut(b.0).link_mut(ib) {
            l.kind = make(ra);
        }
        (ia, ib)
    }
}
