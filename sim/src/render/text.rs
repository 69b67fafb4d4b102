//! The text form of a trace: one line per step (where, kernel function, hook), and the
//! packet's headers on an indented line whenever they change — outer and inner for VXLAN.
//! With `explain`, each step's plain-words note follows, wrapped to 80 columns.

use crate::netfilter::eval::HitAction;
use crate::netfilter::why::Reasons;
use crate::run::Walked;
use crate::trace::{FlowTrace, Role, Step, StepKind, Trace};
use crate::wire::{Frame, L3, L4, UdpPayload};
use std::fmt::Write;

const WIDTH: usize = 80;

pub struct TextOptions {
    /// Print every step's explanation under it.
    pub explain: bool,
    /// At every netfilter step, list the rules of its chain the packet met before it and
    /// why each did not match (a drop or a reject always lists them).
    pub why: bool,
    /// One line per hop or decision ([`in_brief`]) instead of every step.
    pub brief: bool,
}

/// Is step `i` a hop or a decision, shown in the brief form? The packet leaving a
/// namespace, a route taken, a rule that changed the packet or decided its fate, what
/// conntrack, NAT and IPVS decided, the tunnel, and the end. ARP, bridge internals,
/// rules that only jump or return, and policies that accept are left to the full trace.
pub fn in_brief(steps: &[Step], i: usize) -> bool {
    let s = &steps[i];
    if matches!(s.role, Role::ArpRequest | Role::ArpReply) {
        return false;
    }
    // A DNS lookup before the packet: who asked, what NAT and the rules did to it, who
    // answered.
    if s.role == Role::Dns {
        return match s.kind {
            StepKind::Socket
            | StepKind::Nat
            | StepKind::Delivery
            | StepKind::Drop
            | StepKind::Icmp => true,
            StepKind::Netfilter => s.nf.as_ref().is_some_and(|n| {
                matches!(
                    n.action,
                    HitAction::Nat(_) | HitAction::Drop | HitAction::Reject(_)
                )
            }),
            _ => false,
        };
    }
    let leaves = steps.get(i + 1).is_some_and(|n| n.netns != s.netns);
    match s.kind {
        StepKind::Socket | StepKind::Nat | StepKind::Ipvs | StepKind::Encap | StepKind::Decap => {
            true
        }
        StepKind::Delivery | StepKind::Drop | StepKind::Icmp => true,
        StepKind::Link => leaves,
        StepKind::Bridge | StepKind::Neighbour => false,
        StepKind::Routing => {
            matches!(
                s.func,
                "ip_forward"
                    | "ip_local_deliver"
                    | "ip_route_me_harder"
                    | "ip_fragment"
                    | "br_nf_dev_queue_xmit"
            ) || (s.func == "ip_defrag" && !is_fragment(&s.packet))
                || leaves
        }
        // Conntrack's decision for the traced packet's connection; the tunnel's own UDP
        // flow (the outer packet) is the full trace's business.
        StepKind::Conntrack => s.ct_state.is_some() && !encapsulated(&s.packet),
        StepKind::Netfilter => s.nf.as_ref().is_some_and(|n| {
            n.mark != n.mark_before
                || !matches!(
                    n.action,
                    HitAction::Jump(_)
                        | HitAction::Goto(_)
                        | HitAction::Return
                        | HitAction::Continue
                        | HitAction::Policy(crate::netfilter::Verdict::Accept)
                )
        }),
    }
}

/// Is the frame an IPv4 fragment (not yet, or no longer, a whole datagram)?
fn is_fragment(f: &Frame) -> bool {
    matches!(&f.payload, L3::Ipv4(ip) if ip.is_fragment())
}

/// Is the frame a VXLAN packet (the outer one, carrying the traced packet)?
fn encapsulated(f: &Frame) -> bool {
    matches!(&f.payload, L3::Ipv4(ip) if matches!(&ip.payload, L4::Udp(u) if matches!(u.payload, UdpPayload::Vxlan(_))))
}

/// The packet's headers as text lines: `[outer, inner]` for VXLAN, else one line; none
/// for a step that happens before any packet exists (all-zero addresses: the resolver).
pub fn packet_lines(f: &Frame) -> Vec<String> {
    match &f.payload {
        L3::Ipv4(ip) if ip.src.is_unspecified() && ip.dst.is_unspecified() => Vec::new(),
        L3::Arp(_) => vec![f.to_string()],
        L3::Ipv4(ip) => {
            if let L4::Udp(u) = &ip.payload
                && let UdpPayload::Vxlan(v) = &u.payload
            {
                let mut lines = vec![format!(
                    "outer {} > {}: UDP {} > {} VXLAN vni {}, ttl {}, len {}",
                    ip.src,
                    ip.dst,
                    u.sport,
                    u.dport,
                    v.vni,
                    ip.ttl,
                    ip.total_len()
                )];
                lines.extend(
                    packet_lines(&v.inner)
                        .into_iter()
                        .map(|l| format!("inner {l}")),
                );
                return lines;
            }
            vec![ip.to_string()]
        }
    }
}

fn role_mark(r: Role) -> &'static str {
    match r {
        Role::Packet => " ",
        Role::ArpRequest | Role::ArpReply => "a",
        Role::Response => "r",
        Role::Dns => "d",
    }
}

fn step_line(s: &Step) -> String {
    let place = match &s.device {
        Some(d) => format!("{} {d}", s.netns),
        None => s.netns.clone(),
    };
    let detail = match (&s.nf, s.hook) {
        (Some(n), _) if n.rule.is_policy() => {
            format!(" {} {}", n.rule.table.name(), n.rule.chain)
        }
        (Some(n), _) => format!(
            " {} {} #{}",
            n.rule.table.name(),
            n.rule.chain,
            n.rule.position
        ),
        (None, Some(h)) => format!(" {}", h.chain()),
        (None, None) => String::new(),
    };
    format!(
        "{:>3}{} {place:<22} {}{detail}",
        s.index,
        role_mark(s.role),
        s.func
    )
}

/// What a netfilter step did, for the line under it: `-> jump KUBE-SVC-...  "comment"`.
/// With `held`, a rule that matched says why (`--why`), unless it says so already.
fn nf_line(s: &Step, held: bool) -> Option<String> {
    let n = s.nf.as_ref()?;
    let comment = n
        .rule
        .comment
        .as_ref()
        .map(|c| format!("  \"{c}\""))
        .unwrap_or_default();
    // The mark is the heart of kube-proxy's masquerade: show where a rule changes it.
    let mark = if n.mark != n.mark_before {
        format!(", mark {:#x} -> {:#x}", n.mark_before, n.mark)
    } else {
        String::new()
    };
    let reasons = Reasons::of(&n.reasons);
    let why = reasons
        .why
        .as_ref()
        .or(reasons.held.as_ref().filter(|_| held))
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    // A set or map lookup: the element it found (its key; the verdict is the action's).
    let element = n
        .element
        .as_deref()
        .map(|e| format!(" (element {})", e.split(" : ").next().unwrap_or(e)))
        .unwrap_or_default();
    Some(format!(
        "-> {}{element}{why}{mark}{comment}",
        n.action.describe().trim_start_matches("verdict ")
    ))
}

/// The rules the packet met in a netfilter step's chain before the rule that acted, each
/// with the first condition that failed: always under a drop or a reject (the first
/// question a drop raises is why the rules before it did not take the packet), and under
/// every netfilter step with `--why`.
fn why_not(s: &Step, all: bool) -> String {
    let Some(n) =
        s.nf.as_ref()
            .filter(|n| !Reasons::of(&n.reasons).passed.is_empty())
    else {
        return String::new();
    };
    let stopped = matches!(
        n.action,
        HitAction::Drop | HitAction::Reject(_) | HitAction::Policy(crate::netfilter::Verdict::Drop)
    );
    if !all && !stopped {
        return String::new();
    }
    let mut out = wrap(&format!("not matched before it in {}:", n.rule.chain), 7);
    for p in &Reasons::of(&n.reasons).passed {
        out.push_str(&wrap(p, 9));
    }
    out
}

/// What a conntrack or NAT step decided, for the line under it: the connection's state
/// (`-> NEW: no entry matches, ...`) or the translation (`-> DNAT: destination A -> B`).
/// Their notes say exactly that, so the line is the note.
fn state_line(s: &Step) -> Option<String> {
    match s.kind {
        StepKind::Conntrack | StepKind::Nat => Some(format!(
            "-> {}",
            s.note.trim_start_matches("nf_nat_packet: ")
        )),
        _ => None,
    }
}

fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{}{line}", " ".repeat(indent));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{}{line}", " ".repeat(indent));
    }
    out
}

pub fn trace(t: &Trace, opts: &TextOptions) -> String {
    let mut out = String::new();
    out.push_str(&wrap(
        &format!("{}: packet `{}` (seed {})", t.scenario, t.packet, t.seed),
        0,
    ));
    for l in t.sent.iter().flat_map(packet_lines) {
        out.push_str(&wrap(&format!("sends {l}"), 2));
    }
    if opts.brief {
        let _ = writeln!(
            out,
            "  (brief: one line per hop or decision; --full or no --brief: every step)"
        );
    } else {
        let dns = if t.steps.iter().any(|s| s.role == Role::Dns) {
            ", d = DNS lookup before it"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  (a = ARP for this packet, r = response sent back{dns})"
        );
    }
    let mut shown: Vec<String> = Vec::new();
    for (i, s) in t.steps.iter().enumerate() {
        if opts.brief && !in_brief(&t.steps, i) {
            continue;
        }
        let _ = writeln!(out, "{}", step_line(s));
        let said = nf_line(s, opts.why).or_else(|| state_line(s));
        if let Some(l) = &said {
            out.push_str(&wrap(l, 7));
        }
        out.push_str(&why_not(s, opts.why));
        // A netfilter step's note repeats its `->` line, and a conntrack or NAT step's note
        // is its `->` line: explain only what is not said yet.
        if opts.explain && said.is_none() {
            out.push_str(&wrap(&s.note, 7));
        }
        let lines = packet_lines(&s.packet);
        if lines != shown {
            for l in &lines {
                let _ = writeln!(out, "{}", wrap(l, 7).trim_end());
            }
            shown = lines;
        }
    }
    let d = &t.disposition;
    let place = match &d.device {
        Some(dev) => format!("{} {dev}", d.netns),
        None => d.netns.clone(),
    };
    let _ = writeln!(out, "=> {} at {place}", d.kind.name().to_uppercase());
    out.push_str(&wrap(&d.reason, 3));
    if let Some(p) = &d.policy {
        out.push_str(&wrap(p, 3));
    }
    if let Some(sock) = &d.socket {
        out.push_str(&wrap(&format!("socket: {sock}"), 3));
    }
    out
}

/// A flow: each packet's trace under a header naming it, then how the flow ended.
pub fn flow(f: &FlowTrace, opts: &TextOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: flow `{}` (seed {}), {} packets",
        f.scenario,
        f.flow,
        f.seed,
        f.packets.len()
    );
    for (i, p) in f.packets.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n=== packet {} of {}: {} (from the {}) ===",
            i + 1,
            f.packets.len(),
            p.label,
            p.side
        );
        out.push_str(&trace(&p.trace, opts));
    }
    let _ = writeln!(
        out,
        "\n=> FLOW {}",
        if f.completed { "COMPLETED" } else { "FAILED" }
    );
    out.push_str(&wrap(&f.summary, 3));
    out
}

/// A walked packet or flow.
pub fn walked(w: &Walked, opts: &TextOptions) -> String {
    match w {
        Walked::Packet(t) => trace(t, opts),
        Walked::Flow(f) => flow(f, opts),
    }
}

/// Several walks, one after the other, a blank line between.
pub fn walks(ws: &[Walked], opts: &TextOptions) -> String {
    ws.iter()
        .map(|w| walked(w, opts))
        .collect::<Vec<_>>()
        .join("\n")
}
