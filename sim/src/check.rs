//! Checking `expect:` blocks against traces. Everything is compared on the structured trace
//! (steps, packets, dispositions), never on rendered text. A failure says where the
//! expectation is written, what was expected, what happened and, for step paths, where the
//! trace left the expected path, with a few steps of context.

use crate::engine::Outcome;
use crate::net::World;
use crate::run;
use crate::scenario::expect::{CtMatch, Expect, FlowExpect, OutcomeMatch, RuleRef, StepMatch};
use crate::scenario::{Endpoint, EndpointKind, Scenario};
use crate::trace::PacketView;
use crate::trace::{FlowTrace, Role, Step, Trace};
use serde_saphyr::{Location, Spanned};

/// One expectation that did not hold.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Mismatch {
    /// Where the expectation is written (1-based; 0 when unknown).
    pub line: usize,
    pub column: usize,
    pub expected: String,
    pub got: String,
    /// For step paths: the steps around the place the trace left the expected path.
    pub context: Vec<String>,
}

/// The result of one packet's or flow's expectations.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CaseResult {
    /// `packet` or `flow`.
    pub kind: &'static str,
    pub name: String,
    /// No `expect:` block: nothing was checked.
    pub skipped: bool,
    pub mismatches: Vec<Mismatch>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        !self.skipped && self.mismatches.is_empty()
    }
}

impl Mismatch {
    /// The mismatch as a report prints it: `FILE:LINE:COL: expected ...`, what happened, and
    /// the steps around the place the trace left the expected path.
    pub fn lines(&self, file: &str) -> Vec<String> {
        let place = if self.line > 0 {
            format!("{file}:{}:{}: ", self.line, self.column)
        } else {
            format!("{file}: ")
        };
        let mut v = vec![
            format!("{place}expected {}", self.expected),
            format!("  got: {}", self.got),
        ];
        // A truth table's context names itself; a step path's is introduced.
        if !self.context.is_empty() && !self.context[0].starts_with("observed") {
            v.push("  where the trace leaves the expected path:".into());
            v.extend(self.context.iter().map(|c| format!("    {c}")));
        }
        v
    }
}

/// How a reported case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One case of `kpath test`'s report: a packet's or flow's expectations, a golden trace,
/// or a scenario that failed to load. `render::test_report` prints a list of them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Case {
    pub file: String,
    /// `packet NAME`, `flow NAME`, `golden NAME`, or `load`.
    pub name: String,
    pub status: Status,
    /// What failed, in lines.
    pub details: Vec<String>,
}

impl Case {
    /// A packet's or flow's expectations checked in scenario `file`.
    pub fn of(file: &str, r: CaseResult) -> Case {
        let status = if r.skipped {
            Status::Skip
        } else if r.passed() {
            Status::Pass
        } else {
            Status::Fail
        };
        let mut details: Vec<String> = r.mismatches.iter().flat_map(|m| m.lines(file)).collect();
        if r.skipped {
            details.push("no `expect:` block".into());
        }
        Case {
            file: file.to_string(),
            name: format!("{} {}", r.kind, r.name),
            status,
            details,
        }
    }

    /// A case that failed for one reason.
    pub fn failed(file: &str, name: &str, why: String) -> Case {
        Case {
            file: file.to_string(),
            name: name.to_string(),
            status: Status::Fail,
            details: vec![why],
        }
    }
}

/// Whether any case failed: `kpath test`'s exit status.
pub fn any_failed(cases: &[Case]) -> bool {
    cases.iter().any(|c| c.status == Status::Fail)
}

fn at<T>(s: &Spanned<T>) -> (usize, usize) {
    loc(&s.referenced)
}

fn loc(l: &Location) -> (usize, usize) {
    if *l == Location::UNKNOWN {
        (0, 0)
    } else {
        (l.line() as usize, l.column() as usize)
    }
}

fn miss<T>(out: &mut Vec<Mismatch>, s: &Spanned<T>, expected: String, got: String) {
    let (line, column) = at(s);
    out.push(Mismatch {
        line,
        column,
        expected,
        got,
        context: Vec::new(),
    });
}

fn addr_port(v: &PacketView, src: bool) -> (String, Option<u16>) {
    if src {
        (v.src.clone(), v.sport)
    } else {
        (v.dst.clone(), v.dport)
    }
}

/// Does `IP[:PORT]` (expected) match the address and port seen?
fn addr_matches(expected: &str, ip: &str, port: Option<u16>) -> bool {
    match expected.rsplit_once(':') {
        Some((a, p)) => a == ip && p.parse::<u16>().ok() == port,
        None => expected == ip,
    }
}

fn show(ip: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{ip}:{p}"),
        None => ip.to_string(),
    }
}

/// The namespace (and port) an `at:` value names.
fn place(at: &str) -> (String, Option<u16>) {
    match at.parse::<Endpoint>() {
        Ok(Endpoint {
            kind: EndpointKind::Pod { key, .. },
            port,
            ..
        }) => (key, port),
        Ok(Endpoint {
            kind: EndpointKind::Node(n) | EndpointKind::Host(n),
            port,
            ..
        }) => (n, port),
        _ => (at.to_string(), None),
    }
}

/// One step in the few words a failure shows.
pub fn step_line(s: &Step) -> String {
    let dev = s
        .device
        .as_deref()
        .map(|d| format!(" {d}"))
        .unwrap_or_default();
    let nf =
        s.nf.as_ref()
            .map(|n| {
                format!(
                    " {} {} #{} {}",
                    n.rule.table.name(),
                    n.rule.chain,
                    n.rule.position,
                    n.action.describe()
                )
            })
            .unwrap_or_default();
    format!("step {}: {}{dev} {}{nf}", s.index, s.netns, s.func)
}

fn role_ok(m: &StepMatch, s: &Step) -> bool {
    match m.role.as_deref().unwrap_or("packet") {
        "any" => true,
        "arp" => matches!(s.role, Role::ArpRequest | Role::ArpReply),
        "response" => s.role == Role::Response,
        "dns" => s.role == Role::Dns,
        _ => s.role == Role::Packet,
    }
}

/// Does step `s` match every field given in `m`?
pub fn step_matches(m: &StepMatch, s: &Step) -> bool {
    let eq =
        |want: &Option<String>, got: Option<&str>| want.as_deref().is_none_or(|w| got == Some(w));
    let sub = |want: &Option<String>, got: Option<&str>| {
        want.as_deref()
            .is_none_or(|w| got.is_some_and(|g| g.contains(w)))
    };
    let nf = s.nf.as_ref();
    role_ok(m, s)
        && eq(&m.netns, Some(&s.netns))
        && eq(&m.device, s.device.as_deref())
        && eq(&m.func, Some(s.func))
        && eq(&m.hook, s.hook.map(|h| h.chain()))
        && eq(&m.table, nf.map(|n| n.rule.table.name()))
        && eq(&m.chain, nf.map(|n| n.rule.chain.as_str()))
        && sub(&m.rule, nf.map(|n| n.rule.text.as_str()))
        && eq(&m.comment, nf.and_then(|n| n.rule.comment.as_deref()))
        && sub(&m.action, nf.map(|n| n.action.describe()).as_deref())
        && sub(&m.note, Some(&s.note))
}

fn describe(m: &StepMatch) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("netns", &m.netns),
        ("device", &m.device),
        ("func", &m.func),
        ("hook", &m.hook),
        ("table", &m.table),
        ("chain", &m.chain),
        ("rule", &m.rule),
        ("comment", &m.comment),
        ("action", &m.action),
        ("note", &m.note),
        ("role", &m.role),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}: {v}"));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// Check a packet's trace against its expectations.
pub fn check_trace(e: &Expect, t: &Trace, out: &mut Vec<Mismatch>) {
    let d = &t.disposition;
    if let Some(want) = &e.disposition {
        let w = want.value.to_lowercase().replace('_', "-");
        if w != d.kind.key() {
            miss(
                out,
                want,
                format!("disposition {w}"),
                format!("{} at {}: {}", d.kind.key(), d.netns, d.reason),
            );
        }
    }
    let arrived = t.arrival().map(|s| PacketView::of(&s.packet));
    if let Some(want) = &e.at {
        let (ns, port) = place(&want.value);
        let got_port = arrived.as_ref().and_then(|v| v.dport);
        // A hostNetwork pod is where its socket is, in its node's namespace.
        let here = ns == d.netns || d.pod.as_deref() == Some(ns.as_str());
        if !here || port.is_some_and(|p| Some(p) != got_port) {
            miss(
                out,
                want,
                format!("to end at {}", want.value),
                format!(
                    "ended at {} {}",
                    d.netns,
                    got_port.map(|p| format!("port {p}")).unwrap_or_default()
                ),
            );
        }
    }
    if let Some(want) = &e.reason
        && !d.reason.contains(&want.value)
    {
        miss(
            out,
            want,
            format!("a reason containing `{}`", want.value),
            d.reason.clone(),
        );
    }
    if let Some(want) = &e.by {
        check_by(want, t, out);
    }
    if let Some(v) = &arrived {
        for (want, src, what) in [
            (&e.destination, false, "destination"),
            (&e.source, true, "source"),
        ] {
            if let Some(w) = want {
                let (ip, port) = addr_port(v, src);
                if !addr_matches(&w.value, &ip, port) {
                    miss(
                        out,
                        w,
                        format!("{what} {} on arrival", w.value),
                        show(&ip, port),
                    );
                }
            }
        }
        if let Some(want) = &e.masqueraded {
            let sent = t.sent.as_ref().map(PacketView::of);
            let changed = sent
                .as_ref()
                .is_some_and(|s| (s.src.as_str(), s.sport) != (v.src.as_str(), v.sport));
            if changed != want.value {
                let from = sent.map(|s| show(&s.src, s.sport)).unwrap_or_default();
                miss(
                    out,
                    want,
                    format!("masqueraded: {}", want.value),
                    format!("sent from {from}, arrived from {}", show(&v.src, v.sport)),
                );
            }
        }
        if let Some(want) = &e.ttl
            && v.ttl != Some(want.value)
        {
            miss(
                out,
                want,
                format!("TTL {} on arrival", want.value),
                format!("TTL {}", v.ttl.map(|t| t.to_string()).unwrap_or("-".into())),
            );
        }
        if let Some(want) = &e.length
            && v.len != want.value
        {
            miss(
                out,
                want,
                format!("length {} on arrival", want.value),
                format!("length {}", v.len),
            );
        }
    }
    if let Some(want) = &e.encapsulation {
        let w = &want.value;
        let found = t
            .steps
            .iter()
            .filter(|s| s.role == Role::Packet)
            .filter_map(|s| PacketView::of(&s.packet).outer)
            .any(|o| {
                w.vni.is_none_or(|x| x == o.vni)
                    && w.udp_port.is_none_or(|x| x == o.udp_dport)
                    && w.outer_src.as_deref().is_none_or(|x| x == o.src)
                    && w.outer_dst.as_deref().is_none_or(|x| x == o.dst)
            });
        if !found {
            let seen: Vec<String> = t
                .steps
                .iter()
                .filter_map(|s| PacketView::of(&s.packet).outer)
                .map(|o| {
                    format!(
                        "vni {} {}:{} -> {}:{}",
                        o.vni, o.src, o.udp_sport, o.dst, o.udp_dport
                    )
                })
                .collect();
            miss(
                out,
                want,
                format!("VXLAN encapsulation {w:?}"),
                if seen.is_empty() {
                    "never encapsulated".into()
                } else {
                    seen[0].clone()
                },
            );
        }
    }
    check_path(&e.steps, t, out);
    for m in &e.not_steps {
        if let Some(s) = t.steps.iter().find(|s| step_matches(&m.value, s)) {
            miss(
                out,
                m,
                format!("no step like {}", describe(&m.value)),
                step_line(s),
            );
        }
    }
    check_conntrack(&e.conntrack, t, out);
}

/// The rule that dropped or rejected the packet.
fn check_by(want: &Spanned<RuleRef>, t: &Trace, out: &mut Vec<Mismatch>) {
    let w = &want.value;
    let last = t
        .steps
        .iter()
        .rev()
        // The step whose rule ended the walk: a DROP or REJECT verdict (an ACCEPT decides
        // nothing about a packet that was refused later, by IPVS say).
        .find(|s| {
            s.nf.as_ref()
                .is_some_and(|n| n.verdict == Some(crate::netfilter::Verdict::Drop))
        });
    let Some(n) = last.and_then(|s| s.nf.as_ref()).map(|n| &n.rule) else {
        miss(
            out,
            want,
            format!("to be decided by a rule {w:?}"),
            format!("no rule decided: {}", t.disposition.reason),
        );
        return;
    };
    let ok = w.table.as_deref().is_none_or(|x| x == n.table.name())
        && w.chain.as_deref().is_none_or(|x| x == n.chain)
        && w.rule.is_none_or(|x| x == n.position)
        && w.comment
            .as_deref()
            .is_none_or(|x| n.comment.as_deref() == Some(x));
    if !ok {
        let comment = n
            .comment
            .as_deref()
            .map(|c| format!(" \"{c}\""))
            .unwrap_or_default();
        miss(
            out,
            want,
            format!("decided by {w:?}"),
            format!(
                "{} {} rule {}{comment}",
                n.table.name(),
                n.chain,
                n.position
            ),
        );
    }
}

/// Ordered steps: each expected step must come after the previous one.
fn check_path(path: &[Spanned<StepMatch>], t: &Trace, out: &mut Vec<Mismatch>) {
    let mut from = 0;
    let mut last_ok: Option<usize> = None;
    for m in path {
        match t.steps[from..]
            .iter()
            .position(|s| step_matches(&m.value, s))
        {
            Some(i) => {
                last_ok = Some(from + i);
                from += i + 1;
            }
            None => {
                // Where the trace left the path: just after the last matched step.
                let around = last_ok.map(|i| i + 1).unwrap_or(0);
                let lo = around.saturating_sub(2);
                let hi = (around + 4).min(t.steps.len());
                let context = t.steps[lo..hi].iter().map(step_line).collect();
                let (line, column) = at(m);
                let after = last_ok
                    .map(|i| format!(" after {}", step_line(&t.steps[i])))
                    .unwrap_or_default();
                let also = t
                    .steps
                    .iter()
                    .position(|s| step_matches(&m.value, s))
                    .map(|i| format!(" (it appears earlier, as {})", step_line(&t.steps[i])))
                    .unwrap_or_default();
                out.push(Mismatch {
                    line,
                    column,
                    expected: format!("a step like {}{after}", describe(&m.value)),
                    got: format!("no such step{also}"),
                    context,
                });
                return;
            }
        }
    }
}

fn check_conntrack(want: &[Spanned<CtMatch>], t: &Trace, out: &mut Vec<Mismatch>) {
    let lookups: Vec<&Step> = t
        .steps
        .iter()
        .filter(|s| s.ct_state.is_some() && s.role == Role::Packet)
        .collect();
    let mut from = 0;
    for m in want {
        let found = lookups[from..].iter().position(|s| {
            m.value.netns.as_deref().is_none_or(|n| n == s.netns)
                && s.ct_state
                    .is_some_and(|st| st.name().eq_ignore_ascii_case(&m.value.state))
        });
        match found {
            Some(i) => from += i + 1,
            None => {
                let seen: Vec<String> = lookups
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {}",
                            s.netns,
                            s.ct_state.map(|c| c.name()).unwrap_or("-")
                        )
                    })
                    .collect();
                miss(
                    out,
                    m,
                    format!(
                        "conntrack state {} in {}",
                        m.value.state,
                        m.value.netns.as_deref().unwrap_or("any namespace")
                    ),
                    format!("lookups: {}", seen.join(", ")),
                );
                return;
            }
        }
    }
}

/// Compare enumerated outcomes with the expected set.
fn check_outcomes<T>(
    want: &Spanned<Vec<OutcomeMatch>>,
    got: &[Outcome<T>],
    view: impl Fn(&T) -> (String, String, String),
    out: &mut Vec<Mismatch>,
) {
    let seen: Vec<(String, String, String, f64)> = got
        .iter()
        .map(|o| {
            let (d, at, dest) = view(&o.result);
            (d, at, dest, o.probability)
        })
        .collect();
    let fmt = |v: &[(String, String, String, f64)]| {
        v.iter()
            .map(|(d, a, x, p)| format!("{d} at {a} -> {x} ({p:.4})"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut unmatched: Vec<bool> = vec![true; seen.len()];
    for w in &want.value {
        let hit = seen.iter().enumerate().find(|(i, (d, a, x, p))| {
            unmatched[*i]
                && w.disposition
                    .as_deref()
                    .is_none_or(|wd| wd.to_lowercase().replace('_', "-") == *d)
                && w.at.as_deref().is_none_or(|wa| place(wa).0 == *a)
                && w.destination
                    .as_deref()
                    .is_none_or(|wx| wx == x || x.starts_with(&format!("{wx}:")))
                && (p - w.probability).abs() < 0.00005
        });
        match hit {
            Some((i, _)) => unmatched[i] = false,
            None => {
                miss(
                    out,
                    want,
                    format!("an outcome {w:?}"),
                    format!("outcomes: {}", fmt(&seen)),
                );
                return;
            }
        }
    }
    if unmatched.iter().any(|u| *u) {
        miss(
            out,
            want,
            format!("exactly {} outcomes", want.value.len()),
            format!("outcomes: {}", fmt(&seen)),
        );
    }
}

/// How an outcome of a packet ended: (disposition, namespace, destination on arrival).
fn packet_view(t: &Trace) -> (String, String, String) {
    let dest = t
        .arrival()
        .map(|s| PacketView::of(&s.packet))
        .map(|v| show(&v.dst, v.dport))
        .unwrap_or_default();
    // A delivery to a hostNetwork pod is at the pod (its node's namespace holds it).
    let d = &t.disposition;
    let at = d.pod.as_deref().unwrap_or(&d.netns).to_string();
    (d.kind.key(), at, dest)
}

/// Run a packet and check its expectations.
pub fn check_packet(s: &Scenario, world: &World, name: &str) -> CaseResult {
    let mut r = CaseResult {
        kind: "packet",
        name: name.to_string(),
        skipped: false,
        mismatches: Vec::new(),
    };
    let Some(e) = s.packet(name).and_then(|p| p.expect.as_ref()) else {
        r.skipped = true;
        return r;
    };
    match run::run_packet(s, world, name) {
        Ok(t) => check_trace(e, &t, &mut r.mismatches),
        Err(err) => r.mismatches.push(Mismatch {
            line: 0,
            column: 0,
            expected: "the packet to run".into(),
            got: err.to_string(),
            context: Vec::new(),
        }),
    }
    if let Some(want) = &e.outcomes {
        match run::packet_outcomes(s, world, name) {
            Ok(o) => check_outcomes(want, &o, packet_view, &mut r.mismatches),
            Err(err) => miss(&mut r.mismatches, want, "outcomes".into(), err.to_string()),
        }
    }
    r
}

/// Run a flow and check its expectations.
pub fn check_flow(s: &Scenario, world: &World, name: &str) -> CaseResult {
    let mut r = CaseResult {
        kind: "flow",
        name: name.to_string(),
        skipped: false,
        mismatches: Vec::new(),
    };
    let Some(e) = s.flow(name).and_then(|f| f.expect.as_ref()) else {
        r.skipped = true;
        return r;
    };
    match run::run_flow(s, world, name) {
        Ok(f) => check_flow_trace(e, &f, &mut r.mismatches),
        Err(err) => r.mismatches.push(Mismatch {
            line: 0,
            column: 0,
            expected: "the flow to run".into(),
            got: err.to_string(),
            context: Vec::new(),
        }),
    }
    if let Some(want) = &e.outcomes {
        match run::flow_outcomes(s, world, name) {
            Ok(o) => check_outcomes(
                want,
                &o,
                |f: &FlowTrace| {
                    f.packets
                        .first()
                        .map(|p| packet_view(&p.trace))
                        .unwrap_or_default()
                },
                &mut r.mismatches,
            ),
            Err(err) => miss(&mut r.mismatches, want, "outcomes".into(), err.to_string()),
        }
    }
    r
}

fn check_flow_trace(e: &FlowExpect, f: &FlowTrace, out: &mut Vec<Mismatch>) {
    if let Some(want) = &e.completed
        && f.completed != want.value
    {
        miss(
            out,
            want,
            format!("completed: {}", want.value),
            format!("completed: {} ({})", f.completed, f.summary),
        );
    }
    let labels: Vec<&str> = f.packets.iter().map(|p| p.label.as_str()).collect();
    if let Some(want) = &e.packets
        && want
            .value
            .iter()
            .map(String::as_str)
            .ne(labels.iter().copied())
    {
        miss(
            out,
            want,
            format!("packets {:?}", want.value),
            format!("packets {labels:?}"),
        );
    }
    if let Some(want) = &e.original_tuple {
        // What the client sent to: the first packet's destination as sent.
        let target = f
            .packets
            .first()
            .and_then(|p| p.trace.sent.as_ref())
            .map(PacketView::of)
            .map(|v| (v.dst, v.dport));
        let mut bad = None;
        for p in f.packets.iter().filter(|p| p.side == "server") {
            if let (Some(v), Some((ip, port))) = (
                p.trace.arrival().map(|s| PacketView::of(&s.packet)),
                &target,
            ) && (&v.src, v.sport) != (ip, *port)
            {
                bad = Some(format!(
                    "{} arrived from {}, but the client sent to {}",
                    p.label,
                    show(&v.src, v.sport),
                    show(ip, *port)
                ));
                break;
            }
        }
        if bad.is_some() == want.value {
            miss(
                out,
                want,
                format!("originalTuple: {}", want.value),
                bad.unwrap_or_else(|| {
                    "every reply came from the address the client sent to".into()
                }),
            );
        }
    }
    for (label, exp) in &e.each {
        match f.packets.iter().find(|p| &p.label == label) {
            Some(p) => check_trace(exp, &p.trace, out),
            None => out.push(Mismatch {
                line: 0,
                column: 0,
                expected: format!("a packet labelled `{label}`"),
                got: format!("packets {labels:?}"),
                context: Vec::new(),
            }),
        }
    }
}

/// `expect: reachability:`: each truth table against the policies (the API's semantics)
/// and, where a controller enforces them, against the walk of each connection's first
/// packet. One case per table.
pub fn check_reachability(s: &Scenario, world: &World) -> Vec<CaseResult> {
    use crate::policy::{Party, Probe, decide};
    use crate::scenario::network_policy::{port_spec, table};
    let Some(e) = &s.expect else {
        return Vec::new();
    };
    let c = s.model();
    let enforced = c.network.cni.policy.is_some();
    let mut with_probes = s.clone();
    let mut out = Vec::new();
    for spec in &e.reachability {
        let (Some((port, proto)), Ok((cols, rows))) = (
            port_spec(&spec.value.port.value),
            table(&spec.value.matrix.value),
        ) else {
            continue; // refused when the scenario loaded
        };
        let words = format!("{port}/{}", proto.name().to_uppercase());
        let mut r = CaseResult {
            kind: "reachability",
            name: words.clone(),
            skipped: false,
            mismatches: Vec::new(),
        };
        let mut observed = vec![format!("-\t{}", cols.join("\t"))];
        for (from, cells) in &rows {
            let mut line = from.clone();
            for (to, want) in cols.iter().zip(cells) {
                let (Some(a), Some(b)) = (c.pod(from), c.pod(to)) else {
                    continue;
                };
                let api = decide(
                    c,
                    &Probe {
                        from: Party::Pod(a),
                        to: Party::Pod(b),
                        port,
                        protocol: proto,
                    },
                )
                .allowed();
                let walked = enforced.then(|| {
                    let ask = crate::scenario::adhoc::Adhoc {
                        from: &format!("pod/{from}"),
                        to: &format!("pod/{to}:{port}"),
                        protocol: proto.name(),
                        flow: false,
                    };
                    crate::scenario::adhoc::add(&mut with_probes, &ask)
                        .ok()
                        .and_then(|name| run::run_packet(&with_probes, world, &name).ok())
                        .map(|t| {
                            !matches!(
                                t.disposition.kind,
                                crate::trace::DispositionKind::Rejected
                                    | crate::trace::DispositionKind::Dropped
                            )
                        })
                });
                let got = walked.flatten().unwrap_or(api);
                let cell = |a: bool| if a { "." } else { "X" };
                line.push('\t');
                line.push_str(cell(got));
                if got != *want || api != *want {
                    line.push('!');
                    let how = match walked.flatten() {
                        Some(w) if w != api => format!(
                            "the walk {} it, the policies {} it",
                            if w { "allows" } else { "blocks" },
                            if api { "allow" } else { "block" }
                        ),
                        _ if api => "the policies allow it".into(),
                        _ => "the policies block it".into(),
                    };
                    let m = &spec.value.matrix;
                    r.mismatches.push(Mismatch {
                        line: m.referenced.line() as usize,
                        column: m.referenced.column() as usize,
                        expected: format!("{from} -> {to} on {words}: {}", cell(*want)),
                        got: how,
                        context: Vec::new(),
                    });
                }
            }
            observed.push(line);
        }
        if let Some(last) = r.mismatches.last_mut() {
            last.context
                .push("observed (! where it differs from the expectation):".into());
            last.context.extend(observed);
        }
        out.push(r);
    }
    out
}
