//! Fragmentation on the way out (`ip_fragment` -> `ip_do_fragment`, and br_netfilter's
//! `br_nf_ip_fragment`) and reassembly on the way in (`ip_defrag`, called by conntrack's
//! defragmentation and by `ip_local_deliver`). Every fragment is walked on its own, in
//! the order the kernel sends them: all but the last to their end (a reassembly queue, a
//! drop, the edge of the model), and the last carries the walk on, as the datagram, from
//! wherever it completes its queue.

use super::{End, Next, Skb, Walk};
use crate::net::IfIndex;
use crate::net::LinkKind;
use crate::net::ipfrag::{DefragUser, FragKey};
use crate::trace::{Disposition, DispositionKind, StepKind};
use crate::wire::{Ipv4, L3, Reassembly, reassemble};

impl Walk<'_> {
    /// Cut `skb`'s datagram into pieces of at most `mtu` bytes, record why (as `func`), and
    /// send each with `out`: every piece but the last is walked to its end here, and the
    /// last one's walk is the one that continues.
    pub(super) fn send_fragments(
        &mut self,
        skb: Skb,
        mtu: usize,
        func: &'static str,
        why: String,
        mut out: impl FnMut(&mut Self, Skb) -> Next,
    ) -> Next {
        let Some(ip) = skb.ipv4().cloned() else {
            return out(self, skb);
        };
        let pieces = ip.fragment(mtu);
        if pieces.len() == 1 {
            return out(self, skb);
        }
        let n = pieces.len();
        let data = |p: &Ipv4| p.total_len() - crate::wire::IPV4_HEADER_LEN;
        let layout: Vec<String> = pieces
            .iter()
            .map(|p| {
                let at = p.frag_offset_bytes();
                format!("{at}-{}", at + data(p) - 1)
            })
            .collect();
        self.record(
            &skb,
            Some(skb.dev),
            func,
            StepKind::Routing,
            format!(
                "{why}: cut into {n} fragments of at most {} bytes, IP ID {}, carrying payload bytes {} (every piece but the last a multiple of 8); each is sent on its own, and the last one is followed on from here",
                pieces[0].total_len(),
                ip.ident,
                layout.join(", ")
            ),
        );
        let dev = skb.dev;
        let mut pieces = pieces.into_iter().enumerate();
        let mut last = None;
        for (k, piece) in pieces.by_ref() {
            let mut frag = skb.clone();
            if let L3::Ipv4(slot) = &mut frag.frame.payload {
                *slot = piece;
            }
            frag.frag_max_size = 0;
            if k + 1 == n {
                last = Some(frag);
                break;
            }
            let next = out(self, frag);
            match self.run(next) {
                End::Queued(_) | End::ArpResolved(_) => {}
                End::Fate(d) => self.fragment_lost(k + 1, n, &d),
            }
        }
        match last {
            Some(frag) => out(self, frag),
            None => self.drop_here(
                &skb,
                Some(dev),
                func,
                DispositionKind::Dropped,
                "no fragment left to send".into(),
            ),
        }
    }

    /// Remember a fragment that ended before any reassembly queue (dropped, or gone past the
    /// model's edge), to explain the queue that waits for it.
    fn fragment_lost(&mut self, k: usize, n: usize, d: &Disposition) {
        if matches!(
            d.kind,
            DispositionKind::Delivered | DispositionKind::Transmitted
        ) {
            return;
        }
        let at = match &d.device {
            Some(dev) => format!("{} {dev}", d.netns),
            None => d.netns.clone(),
        };
        self.lost_fragments.push(format!(
            "fragment {k} of {n} ended at {at} ({}): {}",
            d.kind.key(),
            d.reason
        ));
    }

    /// `ip_defrag` for `user`: a whole datagram passes untouched; a fragment joins its
    /// queue. The walk goes on (Ok) only when this piece completes the datagram, which then
    /// replaces it, and `IPCB(skb)->frag_max_size` remembers the largest piece. Otherwise
    /// the piece stays queued (Err: the end of this piece's walk).
    pub(super) fn ip_defrag(
        &mut self,
        skb: &mut Skb,
        user: DefragUser,
        dev: Option<IfIndex>,
    ) -> Result<(), Box<Next>> {
        let Some(ip) = skb.ipv4().filter(|i| i.is_fragment()).cloned() else {
            return Ok(());
        };
        let key = FragKey::of(user, &ip);
        let who = match user {
            DefragUser::ConntrackIn | DefragUser::ConntrackOut => {
                "for conntrack, which needs whole datagrams (nf_ct_ipv4_gather_frags)"
            }
            DefragUser::LocalDeliver => "for local delivery",
        };
        let ns = self.world.ns(skb.ns);
        let vxlan_ports: Vec<u16> = ns
            .links
            .iter()
            .filter_map(|l| match &l.kind {
                LinkKind::Vxlan(v) => Some(v.dstport),
                _ => None,
            })
            .collect();
        let held = self
            .world
            .ns_mut(skb.ns)
            .frags
            .add(key, ip.clone())
            .to_vec();
        let what = format!(
            "fragment {}:{}{} ({} bytes)",
            ip.ident,
            ip.frag_offset_bytes(),
            if ip.more_frags { "+" } else { "" },
            ip.total_len()
        );
        match reassemble(&held, &vxlan_ports) {
            Ok(Reassembly::Incomplete { have }) => {
                let n = held.len();
                let note = format!(
                    "{what}: ip_defrag queues it {who} until its datagram is complete ({n} fragment{} and {have} payload bytes so far)",
                    if n == 1 { "" } else { "s" }
                );
                self.record(skb, dev, "ip_defrag", StepKind::Routing, note);
                Err(Box::new(Next::End(End::Queued(format!(
                    "{what} waits in {}'s reassembly queue",
                    self.ns_name(skb.ns)
                )))))
            }
            Ok(Reassembly::Complete { datagram, max_size }) => {
                self.world.ns_mut(skb.ns).frags.remove(&key);
                let len = datagram.total_len();
                if let L3::Ipv4(slot) = &mut skb.frame.payload {
                    *slot = *datagram;
                }
                skb.frag_max_size = max_size as u16;
                if matches!(user, DefragUser::ConntrackIn | DefragUser::ConntrackOut) {
                    skb.ignore_df = true;
                }
                self.record(skb, dev, "ip_defrag", StepKind::Routing, format!(
                    "{what} completes the datagram: ip_frag_reasm joins its {} fragments into one {len}-byte datagram {who}; its largest fragment, {max_size} bytes, is kept as frag_max_size",
                    held.len()));
                Ok(())
            }
            Ok(Reassembly::Overlap) => {
                self.world.ns_mut(skb.ns).frags.remove(&key);
                Err(Box::new(self.drop_here(skb, dev, "ip_defrag", DispositionKind::Dropped,
                    format!("{what} overlaps a fragment already queued: ip_frag_queue discards the whole queue (IPSTATS_MIB_REASM_OVERLAPS)"))))
            }
            Err(e) => {
                self.world.ns_mut(skb.ns).frags.remove(&key);
                Err(Box::new(self.drop_here(
                    skb,
                    dev,
                    "ip_defrag",
                    DispositionKind::Dropped,
                    format!("{what} completes a datagram that does not parse: {e}"),
                )))
            }
        }
    }

    /// A walk that ended with its last piece queued: the datagram is never put together.
    pub(super) fn never_reassembled(&self, queued: &str) -> Disposition {
        let lost = if self.lost_fragments.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.lost_fragments.join("; "))
        };
        self.fate_here(
            None,
            DispositionKind::Dropped,
            &format!(
                "{queued} for fragments that never come{lost}: after net.ipv4.ipfrag_time (30 s) ip_expire discards the queue, and the datagram is lost"
            ),
        )
    }
}
