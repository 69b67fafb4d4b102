//! Running a netfilter hook (`nf_hook_slow`): every table registered at the hook, in
//! priority order, each walking its built-in chain.

use super::{Next, Skb, Walk};
use crate::net::IfIndex;
use crate::netfilter::{Hook, Verdict};
use crate::trace::{DispositionKind, NfStep};

impl Walk<'_> {
    /// Run `hook` for `skb` with the given input/output devices; the first DROP ends it.
    pub(super) fn nf_hook(
        &mut self,
        skb: &Skb,
        hook: Hook,
        iif: Option<IfIndex>,
        oif: Option<IfIndex>,
    ) -> Verdict {
        let verdicts: Vec<_> = self
            .world
            .ns(skb.ns)
            .netfilter
            .at(hook)
            .into_iter()
            .map(|(prio, t)| (prio, t.walk(hook)))
            .collect();
        let (iif_name, oif_name) = (
            iif.map(|d| self.dev_name(skb.ns, d)),
            oif.map(|d| self.dev_name(skb.ns, d)),
        );
        let dev = oif.or(iif);
        for (prio, cv) in verdicts {
            let how = if cv.by_policy {
                "no rule matched: policy"
            } else {
                "rule"
            };
            let note = format!(
                "{} {} (priority {prio}): {how} {:?}",
                cv.table.name(),
                cv.chain,
                cv.verdict
            )
            .replace("Accept", "ACCEPT")
            .replace("Drop", "DROP");
            let verdict = cv.verdict;
            self.nf_step(
                skb,
                dev,
                NfStep {
                    hook,
                    table: cv.table,
                    chain: cv.chain,
                    verdict,
                    by_policy: cv.by_policy,
                    iif: iif_name.clone(),
                    oif: oif_name.clone(),
                },
                note,
            );
            if verdict == Verdict::Drop {
                return Verdict::Drop;
            }
        }
        Verdict::Accept
    }

    /// End the walk after a hook dropped the packet; the last step names the table and chain.
    pub(super) fn nf_drop(&mut self, skb: &Skb, hook: Hook, dev: IfIndex) -> Next {
        let by = self
            .steps
            .last()
            .and_then(|s| s.nf.as_ref())
            .map(|n| format!("{} {}", n.table.name(), n.chain))
            .unwrap_or_else(|| hook.chain().to_string());
        super::Next::End(super::End::Fate(self.fate(
            skb,
            Some(dev),
            DispositionKind::Dropped,
            format!("dropped by netfilter: {by}"),
        )))
    }
}
