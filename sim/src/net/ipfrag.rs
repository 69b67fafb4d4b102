//! A namespace's IPv4 reassembly queues (`net->ipv4.fqdir`, net/ipv4/ip_fragment.c): the
//! fragments that arrived, waiting for the rest of their datagram.

use crate::wire::{Ipv4, Ipv4Addr};
use std::collections::BTreeMap;

/// Who is reassembling (`enum ip_defrag_users`): conntrack's defragmentation before
/// PREROUTING or OUTPUT, or local delivery. Each keeps its own queues, so a datagram
/// conntrack put together once is not queued again for local delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DefragUser {
    /// `IP_DEFRAG_CONNTRACK_IN`: nf_defrag_ipv4 at PREROUTING.
    ConntrackIn,
    /// `IP_DEFRAG_CONNTRACK_OUT`: nf_defrag_ipv4 at OUTPUT.
    ConntrackOut,
    /// `IP_DEFRAG_LOCAL_DELIVER`: `ip_local_deliver`.
    LocalDeliver,
}

/// A queue's key, as `ip4_frag_init` builds it: user, addresses, protocol and IP ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FragKey {
    pub user: DefragUser,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ident: u16,
}

impl FragKey {
    pub fn of(user: DefragUser, ip: &Ipv4) -> FragKey {
        FragKey {
            user,
            src: ip.src,
            dst: ip.dst,
            protocol: ip.protocol().number(),
            ident: ip.ident,
        }
    }
}

/// The queues, in key order (so nothing about them depends on hashing).
#[derive(Clone, Debug, Default)]
pub struct FragQueues {
    queues: BTreeMap<FragKey, Vec<Ipv4>>,
}

impl FragQueues {
    /// Queue `piece`; the pieces now held for its datagram. An exact duplicate of a piece
    /// already held is not queued twice (`inet_frag_queue_insert`'s IPFRAG_DUP).
    pub fn add(&mut self, key: FragKey, piece: Ipv4) -> &[Ipv4] {
        let q = self.queues.entry(key).or_default();
        if !q.contains(&piece) {
            q.push(piece);
        }
        q
    }

    /// Forget a queue: its datagram was put together, or the queue was discarded.
    pub fn remove(&mut self, key: &FragKey) {
        self.queues.remove(key);
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}
