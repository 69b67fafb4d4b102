//! The netfilter hook interface (`include/linux/netfilter.h`) and `nf_hook_slow`.
//!
//! A kernel module that wants to see packets registers hook functions in a namespace
//! (`nf_register_net_hooks`), each at a family, a hook and a priority. At a hook the kernel
//! calls every function registered there, lowest priority first, and the first one that
//! does not accept decides: it drops the packet, steals it (sends it on itself) or stops
//! the hook early. Here the registrants are the modules under `hooks/` (conntrack, the
//! iptables tables, NAT, IPVS, br_netfilter): each one registers in a namespace what the
//! namespace has loaded, and the walk runs whatever is registered. A new rule engine is
//! one more registrant, listed in `hooks/mod.rs`; this file and the walk stay as they are.

use super::{Next, Skb, Walk};
use crate::net::{IfIndex, Netns, NsId};
use crate::netfilter::{Family, Hook};
use crate::trace::Disposition;
use std::rc::Rc;

/// What a hook function returns (`NF_ACCEPT`, `NF_DROP`, `NF_STOLEN`, `NF_STOP`).
pub(super) enum NfVerdict {
    /// Let the next function see the packet.
    Accept,
    /// The packet ends here, for this reason (the function recorded why, and any ICMP
    /// error or RST it sent).
    Drop(Disposition),
    /// The function took the packet and sends it on itself: this is where it goes.
    Stolen(Next),
    /// Accept, and skip the functions after this one (`ip_sabotage_in`).
    Stop,
}

/// What a hook function is told besides the packet (`struct nf_hook_state`).
#[derive(Clone, Copy, Debug)]
pub(super) struct NfHookState {
    pub hook: Hook,
    pub priority: i32,
    /// The input and output devices the hook was called with (either may be none).
    pub indev: Option<IfIndex>,
    pub outdev: Option<IfIndex>,
    /// What the registrant gave itself to find its data (`nf_hook_ops.priv`): a table's
    /// index in the namespace, say.
    pub private: usize,
}

/// A hook function (`nf_hookfn`).
pub(super) trait NfHookFn: Sync {
    fn hook(&self, walk: &mut Walk, skb: &mut Skb, state: &NfHookState) -> NfVerdict;
}

/// One registration (`struct nf_hook_ops`).
#[derive(Clone, Copy)]
pub(super) struct NfHookOps {
    pub pf: Family,
    pub hooknum: Hook,
    pub priority: i32,
    /// The kernel function's name (`ipt_do_table`, `ip_vs_in_hook`, ...).
    pub name: &'static str,
    pub hook: &'static dyn NfHookFn,
    pub private: usize,
}

/// A module that registers hook functions in a namespace, given what the namespace has
/// loaded (its tables, conntrack, IPVS services, bridges).
pub(super) trait Registrant: Sync {
    fn register(&self, ns: &Netns, ops: &mut Vec<NfHookOps>);
}

/// Every hook function registered in a namespace, in the order `nf_hook_slow` calls them:
/// by family and hook, then priority; of equal priorities the one registered last runs
/// first, as `nf_hook_entries_grow` inserts a new entry before the first whose priority
/// is not lower (`reg->priority > orig_ops[i]->priority` passes only strictly lower ones).
pub(super) fn registry(ns: &Netns, registrants: &[&dyn Registrant]) -> Rc<[NfHookOps]> {
    let mut ops = Vec::new();
    for r in registrants {
        r.register(ns, &mut ops);
    }
    ops.reverse();
    ops.sort_by_key(|o| (o.pf, o.hooknum, o.priority));
    ops.into()
}

/// One function registered in a namespace, for showing the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RegisteredHook {
    pub family: Family,
    pub hook: Hook,
    pub priority: i32,
    /// The kernel function (`ipv4_conntrack_in`, `ipt_do_table`, `ip_vs_in_hook`, ...).
    pub function: &'static str,
}

impl From<&NfHookOps> for RegisteredHook {
    fn from(o: &NfHookOps) -> RegisteredHook {
        RegisteredHook {
            family: o.pf,
            hook: o.hooknum,
            priority: o.priority,
            function: o.name,
        }
    }
}

/// The registries of the namespaces a walk has entered, built on first use from the
/// registrants the walk was given.
pub(super) struct Registries {
    registrants: &'static [&'static dyn Registrant],
    by_ns: Vec<Option<Rc<[NfHookOps]>>>,
}

impl Registries {
    pub(super) fn new(registrants: &'static [&'static dyn Registrant]) -> Registries {
        Registries {
            registrants,
            by_ns: Vec::new(),
        }
    }

    fn get(&mut self, ns: &Netns, id: NsId) -> Rc<[NfHookOps]> {
        if self.by_ns.len() <= id.0 {
            self.by_ns.resize(id.0 + 1, None);
        }
        let registrants = self.registrants;
        self.by_ns[id.0]
            .get_or_insert_with(|| registry(ns, registrants))
            .clone()
    }
}

impl Walk<'_> {
    /// `nf_hook_slow`: run every function registered at (`pf`, `hook`) in the packet's
    /// namespace. Err: a function took the packet, and this is what happens to it instead
    /// (the end of the walk, or where it was sent on).
    pub(super) fn nf_hook(
        &mut self,
        pf: Family,
        hook: Hook,
        skb: &mut Skb,
        indev: Option<IfIndex>,
        outdev: Option<IfIndex>,
    ) -> Result<(), Box<Next>> {
        let ops = self.registries.get(self.world.ns(skb.ns), skb.ns);
        for op in ops.iter().filter(|o| o.pf == pf && o.hooknum == hook) {
            let state = NfHookState {
                hook,
                priority: op.priority,
                indev,
                outdev,
                private: op.private,
            };
            match op.hook.hook(self, skb, &state) {
                NfVerdict::Accept => {}
                NfVerdict::Stop => break,
                NfVerdict::Drop(d) => return Err(Box::new(Next::End(super::End::Fate(d)))),
                NfVerdict::Stolen(next) => return Err(Box::new(next)),
            }
        }
        Ok(())
    }
}
