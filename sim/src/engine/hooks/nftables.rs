//! nf_tables' base chains as hook functions (`nft_do_chain_ipv4`, `nft_do_chain_inet`):
//! every base chain of an `ip` or `inet` table registers at its hook and priority
//! (`nf_tables_register_hook`), beside iptables' tables, conntrack and IPVS, and walks its
//! rules for every packet (`nft_do_chain`, in `netfilter/nftables/eval.rs`). A `nat` chain
//! is not a plain hook: `nft_chain_nat` hands it to NAT (`nf_nat_ipv4_register_fn`), which
//! asks it for a binding only for a connection's first packet (`nat.rs`).

use super::super::nf_hook::{NfHookFn, NfHookOps, NfHookState, NfVerdict, Registrant};
use super::super::{Skb, Walk};
use crate::net::{IfIndex, Netns};
use crate::netfilter::nftables::eval::{DynamicSets, Final, Outcome, Packet, walk_chain};
use crate::netfilter::nftables::ruleset::{ChainType, NftHook};
use crate::netfilter::nftables::{self, Family as NftFamily};
use crate::netfilter::rule::CtState;
use crate::netfilter::{Family, Hook, RuleRef, RuleTable, Verdict};
use crate::trace::{DispositionKind, NfStep};

pub(super) struct NfTables;

/// `nft_do_chain_ipv4` for the base chain the registration's `private` names.
struct NftDoChain;

/// A base chain's place in the namespace's ruleset, packed into `nf_hook_ops.priv`.
fn private(table: usize, chain: usize) -> usize {
    (table << 24) | chain
}

fn unpack(private: usize) -> (usize, usize) {
    (private >> 24, private & 0xFF_FFFF)
}

/// The IPv4 hook a base chain of an `ip` or `inet` table is called at (`ingress` is the
/// netdev hook, which kpath does not model).
fn ipv4_hook(t: &nftables::Table, hook: NftHook) -> Option<Hook> {
    if !matches!(t.family, NftFamily::Ip | NftFamily::Inet) {
        return None;
    }
    Some(match hook {
        NftHook::Prerouting => Hook::Prerouting,
        NftHook::Input => Hook::Input,
        NftHook::Forward => Hook::Forward,
        NftHook::Output => Hook::Output,
        NftHook::Postrouting => Hook::Postrouting,
        NftHook::Ingress => return None,
    })
}

/// The base chains of `kind` hooked at `hook`, with their priority and place.
fn base_chains(
    ns: &Netns,
    kind: fn(ChainType) -> bool,
) -> impl Iterator<Item = (Hook, i32, usize, usize)> + '_ {
    ns.netfilter
        .nft
        .tables
        .iter()
        .enumerate()
        .flat_map(move |(ti, t)| {
            t.chains.iter().enumerate().filter_map(move |(ci, c)| {
                let b = c.base.as_ref()?;
                Some((ipv4_hook(t, b.hook)?, b.priority, ti, ci, b.kind))
            })
        })
        .filter(move |c| kind(c.4))
        .map(|(h, p, ti, ci, _)| (h, p, ti, ci))
}

/// The nat chains NAT asks at `hook`, lowest priority first: `nf_nat_register_fn` keeps
/// them in a hook-entry list (`nf_hook_entries_insert_raw`), where of equal priorities the
/// one added last comes first.
pub(super) fn nat_chains(ns: &Netns, hook: Hook) -> Vec<(i32, usize)> {
    let mut v: Vec<(i32, usize)> = base_chains(ns, |k| k == ChainType::Nat)
        .filter(|c| c.0 == hook)
        .map(|(_, p, ti, ci)| (p, private(ti, ci)))
        .collect();
    v.reverse();
    v.sort_by_key(|c| c.0);
    v
}

/// Does the namespace have an nf_tables nat chain (which loads NAT's hooks)?
pub(super) fn has_nat_chains(ns: &Netns) -> bool {
    base_chains(ns, |k| k == ChainType::Nat).next().is_some()
}

impl Registrant for NfTables {
    fn register(&self, ns: &Netns, ops: &mut Vec<NfHookOps>) {
        for (hooknum, priority, ti, ci) in base_chains(ns, |k| k != ChainType::Nat) {
            let name = match ns.netfilter.nft.tables[ti].family {
                NftFamily::Inet => "nft_do_chain_inet",
                _ => "nft_do_chain_ipv4",
            };
            ops.push(NfHookOps {
                pf: Family::Ipv4,
                hooknum,
                priority,
                name,
                hook: &NftDoChain,
                private: private(ti, ci),
            });
        }
    }
}

impl NfHookFn for NftDoChain {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict {
        let (iif, oif) = (state.indev, state.outdev);
        let Some(w) = walk.nft_walk(skb, state.hook, state.private, iif, oif) else {
            return NfVerdict::Accept;
        };
        walk.record_nft(skb, &w, state.priority, iif, oif);
        walk.nft_apply(skb, &w);
        match &w.outcome.verdict {
            Final::Accept => NfVerdict::Accept,
            Final::Drop => NfVerdict::Drop(walk.nft_fate(skb, &w, oif.or(iif), false)),
            Final::Reject(_) => {
                if let Some(with) = w.reject_with() {
                    walk.reject(skb, &with);
                }
                NfVerdict::Drop(walk.nft_fate(skb, &w, oif.or(iif), true))
            }
        }
    }
}

/// One base chain's walk for a packet: where, and the way it went.
pub(super) struct NftWalk {
    pub table: RuleTable,
    pub hook: Hook,
    pub outcome: Outcome,
    /// Each hit's rule as nft prints it, and its comment.
    rules: Vec<(String, Option<String>)>,
}

impl NftWalk {
    fn reject_with(&self) -> Option<String> {
        match self.outcome.hits.last().map(|h| &h.action) {
            Some(crate::netfilter::eval::HitAction::Reject(w)) => Some(w.clone()),
            _ => None,
        }
    }
}

/// conntrack's word for the packet, as `ct state` reads it.
fn ct_word(state: Option<CtState>) -> &'static str {
    match state {
        None | Some(CtState::Untracked) => "untracked",
        Some(CtState::Invalid) => "invalid",
        Some(CtState::New) => "new",
        Some(CtState::Established | CtState::Snat | CtState::Dnat) => "established",
        Some(CtState::Related) => "related",
    }
}

impl Walk<'_> {
    /// Walk the base chain `private` names for the packet: one outcome, drawn (or forced)
    /// among all the chain's outcomes by their probabilities, as `numgen random` draws.
    /// The dynamic sets the walk wrote are updated.
    pub(super) fn nft_walk(
        &mut self,
        skb: &Skb,
        hook: Hook,
        private: usize,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) -> Option<NftWalk> {
        let (ti, ci) = unpack(private);
        let ip = skb.ipv4()?;
        let ns = self.world.ns(skb.ns);
        // The ruleset is shared and never changed by a walk; hold it apart from the world.
        let nf = std::sync::Arc::clone(&ns.netfilter);
        let table = nf.nft.tables.get(ti)?;
        let chain = table.chains.get(ci)?;
        let key = format!("{} {}", table.family, table.name);
        let now = self.world.now;
        let name = |d: Option<IfIndex>| d.map(|d| ns.dev_name(d));
        let ports = ip.l4_ports();
        let conn = skb
            .ct
            .and_then(|r| ns.conntrack.as_ref()?.get(r.id).map(|c| (r, c)));
        let ct_status = conn.map_or_else(Vec::new, |(_, c)| {
            [
                (c.seen_reply, "seen-reply"),
                (c.assured, "assured"),
                (c.confirmed, "confirmed"),
                (c.snat(), "snat"),
                (c.dnat(), "dnat"),
            ]
            .into_iter()
            .filter_map(|(on, w)| on.then_some(w))
            .collect()
        });
        let pkt = Packet {
            src: ip.src,
            dst: ip.dst,
            proto: ip.protocol(),
            sport: ports.map(|p| p.0),
            dport: ports.map(|p| p.1),
            mark: skb.mark,
            iifname: name(iif),
            oifname: name(oif),
            ct_state: ct_word(skb.ct.map(|r| r.state)),
            ct_status,
            ct_mark: conn.map_or(0, |(_, c)| c.mark),
            ct_reply: conn.is_some_and(|(r, _)| r.dir == crate::netfilter::conntrack::Dir::Reply),
            local: ns
                .routes
                .iter()
                .filter(|r| {
                    r.table == crate::net::RouteTable::Local
                        && r.rtype == crate::net::RouteType::Local
                })
                .map(|r| r.dst.addr)
                .collect(),
            redirect_addr: match iif {
                Some(d) => ns.primary_addr(d),
                None => Some(crate::wire::Ipv4Addr::LOCALHOST),
            },
        };
        // The dynamic sets' live elements: those within their set's timeout.
        let mut sets = DynamicSets::new();
        if let Some(state) = ns.xt.nft_sets.get(&key) {
            for (set, keys) in state {
                let timeout = table.set(set).and_then(|s| s.timeout);
                let live = keys
                    .iter()
                    .filter(|(_, t)| timeout.is_none_or(|to| now.saturating_sub(*t) <= to))
                    .map(|(k, _)| k.clone());
                sets.insert(set.clone(), live.collect());
            }
        }
        let mut outcomes = walk_chain(table, &chain.name, &pkt, &sets);
        let pick = if outcomes.len() > 1 {
            let options: Vec<f64> = outcomes.iter().map(|o| o.probability).collect();
            let labels: Vec<String> = outcomes.iter().map(outcome_words).collect();
            // numgen random: `reciprocal_scale(get_random_u32(), mod)`; one draw over the
            // outcomes' probabilities picks the same way.
            let r = f64::from(self.world.next_u32()) / 4_294_967_296.0;
            let mut acc = 0.0;
            let drawn = options
                .iter()
                .position(|p| {
                    acc += p;
                    r < acc
                })
                .unwrap_or(options.len() - 1);
            let what = format!(
                "{} {key} {}: numgen random",
                self.world.ns(skb.ns).name,
                chain.name
            );
            self.choices.pick(options, labels, drawn, what)
        } else {
            0
        };
        if pick >= outcomes.len() {
            return None;
        }
        let outcome = outcomes.swap_remove(pick);
        let rules = outcome
            .hits
            .iter()
            .map(|h| {
                let r = (h.position > 0)
                    .then(|| table.chain(&h.chain))
                    .flatten()
                    .and_then(|c| c.rules.get(h.position - 1));
                match r {
                    Some(r) => (nftables::print::rule(r), r.comment.clone()),
                    None => (String::new(), None),
                }
            })
            .collect();
        let w = NftWalk {
            table: RuleTable::Nftables {
                family: table.family,
                name: table.name.as_str().into(),
            },
            hook,
            outcome,
            rules,
        };
        if !w.outcome.updates.is_empty() {
            let ns = std::sync::Arc::make_mut(&mut self.world.netns[skb.ns.0]);
            let state = ns.xt.nft_sets.entry(key).or_default();
            for (set, k) in &w.outcome.updates {
                let keys = state.entry(set.clone()).or_default();
                keys.retain(|(have, _)| have != k);
                keys.push((k.clone(), now));
            }
        }
        Some(w)
    }

    /// What a walk changed besides its verdict: the packet's mark, the connection's mark,
    /// and `notrack` (`nft_notrack_eval`: only a packet conntrack has not seen yet, so
    /// only in a chain before conntrack's -200).
    pub(super) fn nft_apply(&mut self, skb: &mut Skb, w: &NftWalk) {
        skb.mark = w.outcome.mark;
        if w.outcome.notrack && skb.ct.is_none() {
            skb.ct = Some(crate::netfilter::conntrack::CtRef {
                id: u32::MAX,
                dir: crate::netfilter::conntrack::Dir::Original,
                state: CtState::Untracked,
            });
        }
        if let (Some(m), Some(r)) = (w.outcome.ct_mark, skb.ct)
            && let Some(c) = self
                .world
                .ns_mut(skb.ns)
                .conntrack
                .as_mut()
                .and_then(|t| t.get_mut(r.id))
        {
            c.mark = m;
        }
    }

    /// One step per rule that acted, as nft monitor trace reports them.
    pub(super) fn record_nft(
        &mut self,
        skb: &Skb,
        w: &NftWalk,
        prio: i32,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) {
        let name = |d: Option<IfIndex>| d.map(|d| self.world.ns(skb.ns).dev_name(d));
        let (iif_n, oif_n) = (name(iif), name(oif));
        let hits = &w.outcome.hits;
        let last = hits.len().saturating_sub(1);
        for (i, (h, (text, comment))) in hits.iter().zip(&w.rules).enumerate() {
            let verdict = (i == last).then_some(match w.outcome.verdict {
                Final::Accept => Verdict::Accept,
                _ => Verdict::Drop,
            });
            let mut what =
                super::rule_note(w.table.name(), &h.chain, h.position, prio, None, &h.action);
            if let Some(e) = &h.element {
                what.push_str(&format!(" (element {e})"));
            }
            let nf = NfStep {
                hook: w.hook,
                rule: RuleRef {
                    table: w.table.clone(),
                    chain: h.chain.clone(),
                    position: h.position,
                    text: text.clone(),
                    comment: comment.clone(),
                },
                action: h.action.clone(),
                verdict,
                iif: iif_n.clone(),
                oif: oif_n.clone(),
                mark: h.mark,
                mark_before: if i == 0 { skb.mark } else { hits[i - 1].mark },
                evaluated: if i == last { w.outcome.evaluated } else { 0 },
                reasons: None,
                element: h.element.clone(),
            };
            self.nf_step(skb, oif.or(iif), nf, what);
        }
    }

    /// The end of the walk when a rule dropped or rejected the packet: name the rule.
    pub(super) fn nft_fate(
        &self,
        skb: &Skb,
        w: &NftWalk,
        dev: Option<IfIndex>,
        rejected: bool,
    ) -> crate::trace::Disposition {
        let t = w.table.name();
        let by = match (w.outcome.hits.last(), w.rules.last()) {
            (Some(h), _) if h.position == 0 => format!("the policy of {t} {}", h.chain),
            (Some(h), Some((text, _))) => {
                format!("{t} {} rule {}: {text}", h.chain, h.position)
            }
            _ => format!("the {t} table"),
        };
        let (kind, what) = if rejected {
            (DispositionKind::Rejected, "rejected")
        } else {
            (DispositionKind::Dropped, "dropped")
        };
        self.fate(skb, dev, kind, format!("{what} by {by}"))
    }
}

/// An outcome in a few words, to label a random choice: where NAT sends the packet, or
/// its verdict.
fn outcome_words(o: &Outcome) -> String {
    use crate::netfilter::eval::NatAction;
    match (&o.nat, &o.verdict) {
        (Some(NatAction::Dnat { to, .. }), _) => format!("dnat to {to}"),
        (Some(NatAction::Snat { to, .. }), _) => format!("snat to {to}"),
        (Some(NatAction::Masquerade { .. }), _) => "masquerade".into(),
        (None, Final::Accept) => "accept".into(),
        (None, Final::Drop) => "drop".into(),
        (None, Final::Reject(_)) => "reject".into(),
    }
}
