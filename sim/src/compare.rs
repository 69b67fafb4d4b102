//! One scenario under each kube-proxy mode, packet by packet: how each packet ended, which
//! kernel function changed its addresses and at which hook (nat at PREROUTING in iptables
//! mode; IPVS at LOCAL_IN in IPVS mode), how many rules the walks looked at, and which
//! endpoints the random or round-robin picks can reach. `render::compare` prints it.

use crate::k8s::kube_proxy::controller;
use crate::resolve::ResolveError;
use crate::run::{flow_outcomes, packet_outcomes, run_flow, run_packet};
use crate::scenario::{ProxyMode, Scenario};
use crate::trace::{DispositionKind, Role, StepKind, Trace};
use crate::wire::{Frame, Ipv4, L3, L4};
use serde::Serialize;

/// A packet (or a flow's first packet) walked in one mode.
#[derive(Clone, Debug, Serialize)]
pub struct ModeRun {
    pub mode: &'static str,
    /// `delivered at default/web-b`; for a flow, whether it completed.
    pub fate: String,
    /// `10.244.1.2:40219 -> 10.244.2.4:8080` as it arrived, for a delivered packet.
    pub arrival: Option<String>,
    /// Every step that rewrote the packet's addresses, in order:
    /// `node-1 PREROUTING nf_nat_packet: 10.96.0.10:53 -> 10.244.1.3:53`.
    pub translations: Vec<String>,
    /// Where the destination was first rewritten: `node-1 PREROUTING nf_nat_packet`.
    pub dnat_at: Option<String>,
    /// Rules that matched (steps of the trace) and rules looked at (matched or not).
    pub rules_matched: usize,
    pub rules_evaluated: usize,
    pub steps: usize,
    /// TTL on arrival.
    pub ttl: Option<u8>,
    /// Where the outcomes end (`pod/default/web-a`) with their probability, most likely
    /// first.
    pub endpoints: Vec<(String, f64)>,
}

/// One packet or flow in every mode asked for.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub name: String,
    pub flow: bool,
    pub runs: Vec<ModeRun>,
}

impl Comparison {
    /// Do all modes reach the same set of endpoints?
    pub fn same_endpoints(&self) -> bool {
        let set = |r: &ModeRun| {
            let mut v: Vec<String> = r.endpoints.iter().map(|(e, _)| e.clone()).collect();
            v.sort();
            v.dedup();
            v
        };
        self.runs.windows(2).all(|w| set(&w[0]) == set(&w[1]))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{0}")]
    Input(#[from] crate::diag::InputError),
    #[error("{0}")]
    Engine(#[from] ResolveError),
    #[error("no flow named `{name}`; the scenario has: {}", known.join(", "))]
    UnknownFlow { name: String, known: Vec<String> },
}

/// The scenario with kube-proxy in `mode`, every other setting kept.
pub fn with_mode(s: &Scenario, mode: ProxyMode) -> Scenario {
    s.clone().with_model(|c| c.kube_proxy.mode = mode)
}

/// Walk `packets` and `flows` of `s` once per mode (with `seed`), and every outcome of each.
pub fn compare(
    s: &Scenario,
    modes: &[ProxyMode],
    seed: u64,
    packets: &[String],
    flows: &[String],
) -> Result<Vec<Comparison>, CompareError> {
    let worlds = modes
        .iter()
        .map(|m| {
            let sm = with_mode(s, *m);
            let w = crate::k8s::build_world(sm.model(), seed)?;
            Ok((*m, sm, w))
        })
        .collect::<Result<Vec<_>, CompareError>>()?;
    let mut out = Vec::new();
    for p in packets {
        let mut runs = Vec::new();
        for (m, sm, w) in &worlds {
            let t = run_packet(sm, w, p)?;
            let endpoints = packet_outcomes(sm, w, p)?
                .iter()
                .map(|o| (end_of(&o.result), o.probability))
                .collect();
            runs.push(run(*m, &t, fate(&t), endpoints));
        }
        out.push(Comparison {
            name: p.clone(),
            flow: false,
            runs,
        });
    }
    for f in flows {
        if s.flows.iter().all(|x| &x.name.value != f) {
            return Err(CompareError::UnknownFlow {
                name: f.clone(),
                known: s.flows.iter().map(|x| x.name.value.clone()).collect(),
            });
        }
        let mut runs = Vec::new();
        for (m, sm, w) in &worlds {
            let ft = run_flow(sm, w, f)?;
            let Some(first) = ft.packets.first() else {
                continue;
            };
            let endpoints = flow_outcomes(sm, w, f)?
                .iter()
                .filter_map(|o| {
                    o.result
                        .packets
                        .first()
                        .map(|p| (end_of(&p.trace), o.probability))
                })
                .collect();
            let fate = if ft.completed {
                "completed".to_string()
            } else {
                format!("failed: {}", fate(&first.trace))
            };
            runs.push(run(*m, &first.trace, fate, endpoints));
        }
        out.push(Comparison {
            name: f.clone(),
            flow: true,
            runs,
        });
    }
    Ok(out)
}

fn fate(t: &Trace) -> String {
    format!("{} at {}", t.disposition.kind.name(), t.disposition.netns)
}

/// Where a walk ended, as a scenario names places: the pod or node it reached.
fn end_of(t: &Trace) -> String {
    let d = &t.disposition;
    let place = if d.netns.contains('/') {
        format!("pod/{}", d.netns)
    } else {
        format!("node/{}", d.netns)
    };
    if d.kind == DispositionKind::Delivered {
        place
    } else {
        format!("{} at {place}", d.kind.name())
    }
}

fn ipv4(f: &Frame) -> Option<&Ipv4> {
    match &f.payload {
        L3::Ipv4(ip) => Some(ip),
        L3::Arp(_) => None,
    }
}

fn ends(ip: &Ipv4) -> (String, String) {
    let (sp, dp) = ip.l4_ports().unzip();
    let f = |a: std::net::Ipv4Addr, p: Option<u16>| match p {
        Some(p) => format!("{a}:{p}"),
        None => a.to_string(),
    };
    (f(ip.src, sp), f(ip.dst, dp))
}

fn run(mode: ProxyMode, t: &Trace, fate: String, outcomes: Vec<(String, f64)>) -> ModeRun {
    // Outcomes that end at the same place add up.
    let mut endpoints: Vec<(String, f64)> = Vec::new();
    for (e, p) in outcomes {
        match endpoints.iter_mut().find(|(x, _)| *x == e) {
            Some(slot) => slot.1 += p,
            None => endpoints.push((e, p)),
        }
    }
    let mut translations = Vec::new();
    let mut dnat_at = None;
    let mut before: Option<&Ipv4> = t.sent.as_ref().and_then(ipv4);
    for s in t.steps.iter().filter(|s| s.role == Role::Packet) {
        let Some(now) = ipv4(&s.packet) else { continue };
        if matches!(s.kind, StepKind::Nat | StepKind::Ipvs)
            && let Some(b) = before
            && ends(b) != ends(now)
        {
            let hook = s
                .hook
                .map(|h| format!(" {}", h.chain()))
                .unwrap_or_default();
            let place = format!("{}{hook} {}", s.netns, s.func);
            let ((bs, bd), (ns, nd)) = (ends(b), ends(now));
            let what = if bd != nd {
                format!("destination {bd} -> {nd}")
            } else {
                format!("source {bs} -> {ns}")
            };
            if bd != nd && dnat_at.is_none() {
                dnat_at = Some(place.clone());
            }
            translations.push(format!("{place}: {what}"));
        }
        // Encapsulation wraps the packet; keep comparing the packet itself.
        if !matches!(now.payload, L4::Udp(ref u) if matches!(u.payload, crate::wire::UdpPayload::Vxlan(_)))
        {
            before = Some(now);
        }
    }
    let nf = || t.steps.iter().filter_map(|s| s.nf.as_ref());
    let last = t.arrival().and_then(|s| ipv4(&s.packet));
    let delivered = t.disposition.kind == DispositionKind::Delivered;
    endpoints.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ModeRun {
        mode: controller(mode).name(),
        fate,
        arrival: last.filter(|_| delivered).map(|ip| {
            let (s, d) = ends(ip);
            format!("{s} -> {d}")
        }),
        translations,
        dnat_at,
        rules_matched: nf().filter(|n| !n.rule.is_policy()).count(),
        rules_evaluated: nf().map(|n| n.evaluated).sum(),
        steps: t.steps.len(),
        ttl: last.filter(|_| delivered).map(|ip| ip.ttl),
        endpoints,
    }
}
