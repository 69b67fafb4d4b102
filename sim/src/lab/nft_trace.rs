//! Reading `nft monitor trace` output, and comparing the kernel's rule-by-rule path of a
//! packet with kpath's.
//!
//! A line looks like `trace id 2c75ce6b ip nat KUBE-SERVICES rule meta l4proto tcp ...
//! jump KUBE-SVC-X (verdict jump KUBE-SVC-X)`, `trace id ... ip mangle PREROUTING policy
//! accept` or `trace id ... ip raw PREROUTING packet: iif "cni0" ... ip id 43791 ...`.

use crate::netfilter::eval::HitAction;
use crate::netfilter::nftables::Ruleset;
use crate::trace::{Role, Step};
use std::net::Ipv4Addr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The packet's headers, printed when a chain is entered.
    Packet(String),
    /// A rule matched; the verdict as nft names it (`jump X`, `continue`, `accept`, ...).
    Rule {
        text: String,
        verdict: String,
    },
    Policy(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub family: String,
    pub table: String,
    pub chain: String,
    pub kind: EventKind,
}

/// Parse the monitor's output; lines that are not trace events are skipped.
pub fn parse(text: &str) -> Vec<Event> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some(rest) = line.strip_prefix("trace id ") else {
            continue;
        };
        let mut w = rest.splitn(5, ' ');
        let (Some(id), Some(family), Some(table), Some(chain), Some(tail)) =
            (w.next(), w.next(), w.next(), w.next(), w.next())
        else {
            continue;
        };
        let kind = if let Some(p) = tail.strip_prefix("packet: ") {
            EventKind::Packet(p.to_string())
        } else if let Some(p) = tail.strip_prefix("policy ") {
            EventKind::Policy(p.trim().to_string())
        } else if let Some(r) = tail.strip_prefix("rule ") {
            let (text, verdict) = match r.rfind(" (verdict ") {
                Some(i) => (
                    r[..i].to_string(),
                    r[i + 10..].trim_end().trim_end_matches(')').to_string(),
                ),
                None => (r.to_string(), String::new()),
            };
            EventKind::Rule { text, verdict }
        } else {
            continue;
        };
        out.push(Event {
            id: id.to_string(),
            family: family.to_string(),
            table: table.to_string(),
            chain: chain.to_string(),
            kind,
        });
    }
    out
}

/// A field of a `packet:` line (`ip id 43791` -> field(.., "ip id") = "43791").
pub fn field<'a>(packet: &'a str, name: &str) -> Option<&'a str> {
    let i = packet.find(&format!("{name} "))?;
    packet[i + name.len() + 1..].split_whitespace().next()
}

/// What identifies the traced packet in the kernel's output.
#[derive(Clone, Debug)]
pub struct Probe {
    pub src: Ipv4Addr,
    /// Its destination, as sent and after any DNAT.
    pub dsts: Vec<Ipv4Addr>,
    /// `tcp`, `udp` or `icmp`.
    pub proto: &'static str,
    /// A TCP segment's flags (a SYN, unless the scenario asks for others).
    pub tcp_flags: u8,
}

fn matches_probe(p: &str, probe: &Probe) -> bool {
    let src_ok = field(p, "ip saddr").and_then(|s| s.parse::<Ipv4Addr>().ok()) == Some(probe.src);
    let dst_ok = field(p, "ip daddr")
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
        .is_some_and(|d| probe.dsts.contains(&d));
    let proto_ok = match probe.proto {
        "tcp" => tcp_flags(p) == Some(probe.tcp_flags),
        "udp" => p.contains("udp dport"),
        _ => p.contains("icmp type echo-request"),
    };
    src_ok && dst_ok && proto_ok
}

/// What tells one packet from another in the monitor's output, through NAT: the IP id
/// alone does not (echo requests, SYN-ACKs and DF UDP from unconnected sockets all carry
/// id 0), so add the length and the one L4 field that neither NAT nor the hop changes
/// (TCP flags, the ICMP type and sequence, the UDP source port).
fn identity(p: &str) -> Option<String> {
    let l4 = if let Some(f) = field(p, "tcp flags ==") {
        format!("tcp {f}")
    } else if let Some(t) = field(p, "icmp type") {
        format!("icmp {t} {}", field(p, "icmp sequence").unwrap_or(""))
    } else if let Some(sp) = field(p, "udp sport") {
        format!("udp {sp}")
    } else {
        field(p, "ip protocol").unwrap_or("?").to_string()
    };
    Some(format!(
        "{} {} {l4}",
        field(p, "ip id")?,
        field(p, "ip length").unwrap_or("?")
    ))
}

/// One row of a path: table, chain and what happened, normalized so kernel and kpath compare.
pub type PathEvent = (String, String, String);

/// Each event with the `packet:` line it belongs to. The kernel prints that line when a
/// packet enters a base chain, and trace ids are derived from the skb's address
/// (`nft_trace_init`), so a later packet of the same connection can reuse an id: an event
/// belongs to the last packet line printed under its id, not to the id.
fn with_packets(evs: &[Event]) -> Vec<(&Event, Option<&str>)> {
    let mut current: Vec<(&str, &str)> = Vec::new();
    evs.iter()
        .map(|e| {
            if let EventKind::Packet(p) = &e.kind {
                match current.iter_mut().find(|(id, _)| *id == e.id) {
                    Some(c) => c.1 = p.as_str(),
                    None => current.push((e.id.as_str(), p.as_str())),
                }
            }
            (
                e,
                current.iter().find(|(id, _)| *id == e.id).map(|(_, p)| *p),
            )
        })
        .collect()
}

fn kernel_verdict(text: &str, verdict: &str) -> String {
    if text.contains(" reject") || verdict == "drop" {
        return "drop".into();
    }
    verdict.to_string()
}

/// What tells packets apart when kpath's and the kernel's are put side by side: VXLAN or
/// not, the protocol and the one L4 field that says what the packet is (TCP flags, the
/// ICMP type), the IP length, and whether the namespace sent it. Never the addresses or
/// ports, which NAT (and `--random-fully`) may choose differently on each side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sig {
    pub outer: bool,
    pub proto: String,
    pub detail: String,
    pub len: usize,
    /// Sent from this namespace (its path begins at OUTPUT), not received or forwarded.
    pub local: bool,
}

impl std::fmt::Display for Sig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = if self.outer { "vxlan" } else { &self.proto };
        if self.detail.is_empty() {
            write!(f, "{p} {}", self.len)?;
        } else {
            write!(f, "{p} {} {}", self.detail, self.len)?;
        }
        if self.local {
            f.write_str(" out")?;
        }
        Ok(())
    }
}

/// One packet's pass through one namespace's netfilter: what it was and the events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visit {
    pub sig: Sig,
    pub events: Vec<PathEvent>,
    /// The kernel's: its `packet:` line (identity, direction); kpath's: empty.
    pub line: String,
}

/// TCP flag bits as the kernel's `tcp flags == ...` prints them (`syn`, `syn | ack`,
/// `0x11`).
fn tcp_flags(p: &str) -> Option<u8> {
    let i = p.find("tcp flags == ")?;
    let mut bits = 0u8;
    let mut any = false;
    for tok in p[i + 13..].split_whitespace() {
        let bit = match tok {
            "|" => continue,
            "fin" => 0x01,
            "syn" => 0x02,
            "rst" => 0x04,
            "psh" => 0x08,
            "ack" => 0x10,
            "urg" => 0x20,
            "ecn" => 0x40,
            "cwr" => 0x80,
            t => match t
                .strip_prefix("0x")
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => b,
                None => break,
            },
        };
        bits |= bit;
        any = true;
    }
    any.then_some(bits)
}

/// TCP flags as tcpdump writes them (`S.`, `F.`), on both sides.
fn flags_word(bits: u8) -> String {
    crate::wire::TcpFlags(bits).to_string()
}

/// A kernel packet line's signature; `vxlan_ports` tell outer VXLAN packets.
fn line_sig(p: &str, vxlan_ports: &[u16]) -> Sig {
    let len = field(p, "ip length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let dport = field(p, "udp dport").and_then(|d| d.parse::<u16>().ok());
    let (proto, detail) = if let Some(bits) = tcp_flags(p) {
        ("tcp", flags_word(bits))
    } else if let Some(t) = field(p, "icmp type") {
        ("icmp", t.to_string())
    } else if dport.is_some() {
        ("udp", String::new())
    } else {
        (field(p, "ip protocol").unwrap_or("ip"), String::new())
    };
    Sig {
        outer: dport.is_some_and(|d| vxlan_ports.contains(&d)),
        proto: proto.to_string(),
        detail,
        len,
        local: false,
    }
}

/// Is this packet line a sent VXLAN packet (no input device but the tunnel), which belongs
/// to the packet before it, rather than a received one, which belongs to the packet it
/// carries, after it?
fn sent_outer(p: &str, tunnels: &[&str]) -> bool {
    match field(p, "iif") {
        None => true,
        Some(i) => tunnels.iter().any(|t| i.trim_matches('"') == *t),
    }
}

/// The kernel's visits in one namespace, in order. Multicast and broadcast packets (IGMP
/// reports the kernel sends on its own) are left out; events of the lab's own tracing
/// table are not events. A visit may have no events left (a fragment queued before any
/// table saw it): it still places the VXLAN packets around it.
pub fn kernel_visits(evs: &[Event], vxlan_ports: &[u16], nft: &Ruleset) -> Vec<Visit> {
    // Each identity's open visit: its index and how far along the hooks it is. The monitor
    // interleaves packets that different CPUs handle at once, so a visit is not a run of
    // consecutive events: an event joins its identity's open visit unless it comes earlier
    // in the hook order than where that visit is (a new pass of the same packet).
    let mut out: Vec<Visit> = Vec::new();
    let mut open: Vec<(Option<String>, usize, (u8, i32))> = Vec::new();
    for (e, p) in with_packets(evs) {
        if e.family != "ip" {
            continue;
        }
        let Some(p) = p else { continue };
        let multicast = field(p, "ip daddr")
            .and_then(|d| d.parse::<Ipv4Addr>().ok())
            .is_some_and(|d| d.is_multicast() || d.is_broadcast());
        if multicast {
            continue;
        }
        let key = identity(p);
        let rank = hook_rank(&e.table, &e.chain, nft);
        let slot = open.iter().position(|(k, _, _)| *k == key);
        let joined = match (slot, rank) {
            (Some(o), Some(r)) if r < open[o].2 => None,
            (Some(o), _) => Some(o),
            (None, _) => None,
        };
        let o = match joined {
            Some(o) => o,
            None => {
                out.push(Visit {
                    sig: line_sig(p, vxlan_ports),
                    events: Vec::new(),
                    line: p.to_string(),
                });
                let entry = (key, out.len() - 1, (0, i32::MIN));
                match slot {
                    Some(o) => {
                        open[o] = entry;
                        o
                    }
                    None => {
                        open.push(entry);
                        open.len() - 1
                    }
                }
            }
        };
        if let Some(r) = rank {
            open[o].2 = r;
        }
        if e.table == "kpath_trace" {
            continue;
        }
        let ev = match &e.kind {
            EventKind::Rule { text, verdict } => (
                e.table.clone(),
                e.chain.clone(),
                kernel_verdict(text, verdict),
            ),
            EventKind::Policy(v) => (
                e.table.clone(),
                e.chain.clone(),
                format!("policy {}", v.split_whitespace().next().unwrap_or("")),
            ),
            EventKind::Packet(_) => continue,
        };
        out[open[o].1].events.push(ev);
    }
    out.into_iter().map(located).collect()
}

/// Where a base chain stands in a packet's pass through a namespace: the hook (PREROUTING
/// and OUTPUT begin one; INPUT and FORWARD follow; POSTROUTING ends it), then the table's
/// priority there. None for a chain that is not a base chain (a jump target) and for the
/// lab's own tracing table, which sees fragments before they are put together. An
/// nf_tables chain of the namespace's ruleset (`nft`) is ranked by its own hook and
/// priority.
fn hook_rank(table: &str, chain: &str, nft: &Ruleset) -> Option<(u8, i32)> {
    if let Some(b) = nft
        .tables
        .iter()
        .find(|t| t.name == table)
        .and_then(|t| t.chain(chain))
        .and_then(|c| c.base.as_ref())
    {
        use crate::netfilter::nftables::ruleset::NftHook;
        let hook = match b.hook {
            NftHook::Prerouting | NftHook::Output | NftHook::Ingress => 0,
            NftHook::Input | NftHook::Forward => 1,
            NftHook::Postrouting => 2,
        };
        return Some((hook, b.priority));
    }
    let hook = match chain {
        "PREROUTING" | "OUTPUT" => 0,
        "INPUT" | "FORWARD" => 1,
        "POSTROUTING" => 2,
        _ => return None,
    };
    let prio = match (table, chain) {
        ("raw", _) => -300,
        ("mangle", _) => -150,
        ("nat", "PREROUTING" | "OUTPUT") => -100,
        ("nat", _) => 100,
        ("filter", _) => 0,
        _ => return None,
    };
    Some((hook, prio))
}

/// Mark a visit whose path begins at OUTPUT as sent from the namespace.
fn located(mut v: Visit) -> Visit {
    v.sig.local = v.events.first().is_some_and(|(_, c, _)| c == "OUTPUT");
    v
}

/// The kernel's visits of one packet and of what carried it: the visits whose identity is
/// `item`'s (the packet, its fragments, the datagram they make; NAT keeps the IP id), and
/// the VXLAN packets around them (a sent one belongs to the visit before it, a received
/// one to the visit after it).
pub fn item_visits(visits: &[Visit], item: &str, tunnels: &[&str]) -> Vec<Visit> {
    let is_item = |v: &Visit| !v.sig.outer && same_packet(&v.line, item);
    let mut keep = Vec::new();
    for (i, v) in visits.iter().enumerate() {
        let mine = if v.sig.outer {
            let owner = if sent_outer(&v.line, tunnels) {
                visits[..i].iter().rev().find(|w| !w.sig.outer)
            } else {
                visits[i + 1..].iter().find(|w| !w.sig.outer)
            };
            owner.is_some_and(is_item)
        } else {
            is_item(v)
        };
        if mine {
            keep.push(v.clone());
        }
    }
    keep
}

/// Is the packet line the probed packet, or a piece or the whole of it? With an IP id,
/// the id says so (a fragment's length and L4 bytes are not the datagram's); without one
/// (id 0: DF packets of some sockets), the full identity.
fn same_packet(line: &str, item: &str) -> bool {
    match field(line, "ip id") {
        Some("0") | None => identity(line).as_deref() == Some(item),
        Some(id) => item.split_whitespace().next() == Some(id),
    }
}

/// The identity of the first packet line that matches the probe, outside the lab's own
/// tracing table (whose chains see fragments before they are put together).
pub fn probed_identity(files: &[(String, Vec<Event>)], probe: &Probe) -> Option<String> {
    files
        .iter()
        .flat_map(|(_, e)| e)
        .find_map(|e| match &e.kind {
            EventKind::Packet(p)
                if e.family == "ip" && e.table != "kpath_trace" && matches_probe(p, probe) =>
            {
                identity(p)
            }
            _ => None,
        })
}

/// kpath's signature of a packet (as [`line_sig`] reads the kernel's).
pub fn frame_sig(f: &crate::wire::Frame) -> Option<Sig> {
    use crate::wire::{IcmpMessage, L3, L4, UdpPayload};
    let L3::Ipv4(ip) = &f.payload else {
        return None;
    };
    let (outer, proto, detail) = match &ip.payload {
        L4::Tcp(t) => (false, "tcp", flags_word(t.flags.0)),
        L4::Udp(u) => (
            matches!(u.payload, UdpPayload::Vxlan(_)),
            "udp",
            String::new(),
        ),
        L4::Icmp(i) => {
            let t = match i.msg {
                IcmpMessage::EchoRequest { .. } => "echo-request",
                IcmpMessage::EchoReply { .. } => "echo-reply",
                IcmpMessage::DestUnreachable { .. } => "destination-unreachable",
                IcmpMessage::TimeExceeded { .. } => "time-exceeded",
                IcmpMessage::Redirect { .. } => "redirect",
            };
            (false, "icmp", t.to_string())
        }
        L4::Fragment(fr) => (false, fr.protocol.name(), String::new()),
    };
    Some(Sig {
        outer,
        proto: proto.to_string(),
        detail,
        len: ip.total_len(),
        local: false,
    })
}

/// One kpath netfilter step in the normalized form the kernel's events take: NAT targets
/// accept, REJECT drops (as nft reports them).
fn kpath_event(n: &crate::trace::NfStep) -> PathEvent {
    let v = match &n.action {
        HitAction::Nat(_) => "accept".to_string(),
        HitAction::Reject(_) => "drop".to_string(),
        a => {
            let words = a.describe();
            match words.strip_prefix("verdict ") {
                Some(v) => v.to_string(),
                None => words,
            }
        }
    };
    (n.rule.table.name().to_string(), n.rule.chain.clone(), v)
}

/// kpath's visits in namespace `ns`, in order, over the steps of one or more walks (a
/// flow's packets one after another): consecutive netfilter steps of one packet (its IP
/// id, which NAT keeps) make one visit. Only the traced packets' steps count: not a name
/// lookup's (the lab's sender is given the address) nor an answer kpath records but does
/// not walk.
pub fn kpath_visits<'a>(steps: impl IntoIterator<Item = &'a Step>, ns: &str) -> Vec<Visit> {
    let mut out: Vec<(u16, Visit)> = Vec::new();
    for s in steps {
        if s.role != Role::Packet || s.netns != ns {
            continue;
        }
        let Some(n) = &s.nf else { continue };
        let crate::wire::L3::Ipv4(ip) = &s.packet.payload else {
            continue;
        };
        let Some(sig) = frame_sig(&s.packet) else {
            continue;
        };
        if out
            .last()
            .is_none_or(|(id, v)| *id != ip.ident || v.sig.outer != sig.outer)
        {
            out.push((
                ip.ident,
                Visit {
                    sig,
                    events: Vec::new(),
                    line: String::new(),
                },
            ));
        }
        if let Some((_, v)) = out.last_mut() {
            v.events.push(kpath_event(n));
        }
    }
    out.into_iter().map(|(_, v)| located(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"trace id fa072fbf bridge btrace pre packet: iif "veth2" ip saddr 10.244.1.2 ip daddr 10.96.0.21 ip id 43791 ip protocol tcp tcp dport 80 tcp flags == syn
trace id fa072fbf ip kpath_trace pre rule meta nftrace set 1 (verdict continue)
trace id fa072fbf ip mangle PREROUTING packet: iif "cni0" ip saddr 10.244.1.2 ip daddr 10.96.0.21 ip id 43791 ip length 60 tcp sport 39884 tcp dport 80 tcp flags == syn
trace id fa072fbf ip mangle PREROUTING policy accept 
trace id fa072fbf ip nat PREROUTING rule  counter packets 0 bytes 0 jump KUBE-SERVICES (verdict jump KUBE-SERVICES)
trace id fa072fbf ip nat KUBE-SEP-OMSCSLT2QVD43DLH rule meta l4proto tcp   counter packets 0 bytes 0 dnat to 10.244.1.3:80 (verdict accept)
trace id 11111111 ip mangle PREROUTING packet: iif "cni0" ip saddr 10.244.1.9 ip daddr 10.96.0.21 ip id 5 tcp flags == syn
trace id 11111111 ip mangle PREROUTING policy accept 
"#;

    fn probe(dst: &str) -> Probe {
        Probe {
            src: "10.244.1.2".parse().unwrap(),
            dsts: vec![dst.parse().unwrap()],
            proto: "tcp",
            tcp_flags: crate::wire::TcpFlags::SYN,
        }
    }

    fn rows(v: &Visit) -> Vec<String> {
        v.events
            .iter()
            .map(|(t, c, x)| format!("{t} {c} {x}"))
            .collect()
    }

    #[test]
    fn parses_events_and_selects_the_probed_packet() {
        let ev = parse(SAMPLE);
        assert_eq!(ev.len(), 8);
        assert_eq!(
            ev[4].kind,
            EventKind::Rule {
                text: " counter packets 0 bytes 0 jump KUBE-SERVICES".into(),
                verdict: "jump KUBE-SERVICES".into()
            }
        );
        let files = [("node-1".to_string(), ev.clone())];
        let id = probed_identity(&files, &probe("10.96.0.21")).unwrap();
        let visits = kernel_visits(&ev, &[8472], &Ruleset::default());
        let seen = visits.iter().filter(|v| !v.events.is_empty()).count();
        assert_eq!(seen, 2, "the probed SYN and another host's");
        let mine: Vec<Visit> = item_visits(&visits, &id, &["flannel.1"])
            .into_iter()
            .filter(|v| !v.events.is_empty())
            .collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(
            rows(&mine[0]),
            [
                "mangle PREROUTING policy accept",
                "nat PREROUTING jump KUBE-SERVICES",
                "nat KUBE-SEP-OMSCSLT2QVD43DLH accept"
            ]
        );
        assert_eq!(mine[0].sig.to_string(), "tcp S 60");
    }

    /// Seen on kernel 6.18: the FIN of the same connection reused the SYN's trace id.
    #[test]
    fn a_reused_trace_id_does_not_merge_two_packets() {
        let text = r#"trace id 101e88f5 ip mangle PREROUTING packet: iif "cni0" ip saddr 10.244.1.2 ip daddr 10.96.0.21 ip id 60580 ip length 60 tcp sport 43486 tcp dport 80 tcp flags == syn
trace id 101e88f5 ip mangle PREROUTING policy accept
trace id 101e88f5 ip mangle PREROUTING packet: iif "cni0" ip saddr 10.244.1.2 ip daddr 10.96.0.21 ip id 60582 ip length 52 tcp sport 43486 tcp dport 80 tcp flags == 0x11
trace id 101e88f5 ip mangle PREROUTING policy accept
trace id 101e88f5 ip filter FORWARD packet: iif "cni0" oif "cni0" ip saddr 10.244.1.2 ip daddr 10.244.1.3 ip id 60582 ip length 52 tcp flags == 0x11
trace id 101e88f5 ip filter FORWARD rule ct state related,established counter accept (verdict accept)
"#;
        let ev = parse(text);
        let files = [("node-1".to_string(), ev.clone())];
        let id = probed_identity(&files, &probe("10.96.0.21")).unwrap();
        let visits = kernel_visits(&ev, &[8472], &Ruleset::default());
        assert_eq!(visits.len(), 2);
        assert_eq!(visits[1].sig.detail, "F.");
        let mine = item_visits(&visits, &id, &[]);
        assert_eq!(rows(&mine[0]), ["mangle PREROUTING policy accept"]);
    }

    /// Two CPUs' packets interleave in the monitor's output; each keeps its own events.
    #[test]
    fn interleaved_packets_stay_apart_and_a_second_pass_is_a_new_visit() {
        let text = r#"trace id 1 ip mangle PREROUTING packet: iif "cni0" ip saddr 10.244.1.2 ip daddr 10.244.2.2 ip id 7 ip length 52 tcp flags == fin | ack
trace id 2 ip mangle PREROUTING packet: iif "flannel.1" ip saddr 10.244.2.2 ip daddr 10.244.1.2 ip id 9 ip length 52 tcp flags == 0x11
trace id 1 ip mangle PREROUTING policy accept
trace id 2 ip mangle PREROUTING policy accept
trace id 1 ip filter FORWARD rule accept (verdict accept)
trace id 2 ip filter FORWARD rule accept (verdict accept)
trace id 1 ip mangle POSTROUTING policy accept
trace id 3 ip mangle PREROUTING packet: iif "cni0" ip saddr 10.244.1.2 ip daddr 10.244.2.2 ip id 7 ip length 52 tcp flags == fin | ack
trace id 3 ip mangle PREROUTING policy accept
"#;
        let v = kernel_visits(&parse(text), &[8472], &Ruleset::default());
        assert_eq!(v.len(), 3, "{v:#?}");
        assert_eq!(
            rows(&v[0]),
            [
                "mangle PREROUTING policy accept",
                "filter FORWARD accept",
                "mangle POSTROUTING policy accept"
            ]
        );
        assert_eq!(rows(&v[1]).len(), 2);
        assert_eq!(rows(&v[2]), ["mangle PREROUTING policy accept"]);
        assert!(v.iter().all(|x| x.sig.detail == "F."));
    }

    #[test]
    fn vxlan_packets_belong_to_the_packet_they_carry() {
        // node-1 sends the SYN out of flannel.1, then the VXLAN packet carrying it; the
        // reply's VXLAN packet comes in before the reply itself.
        let text = r#"trace id 1 ip mangle FORWARD packet: iif "cni0" oif "flannel.1" ip saddr 10.244.1.2 ip daddr 10.244.2.2 ip id 7 ip length 60 tcp flags == syn
trace id 1 ip mangle FORWARD policy accept
trace id 2 ip mangle OUTPUT packet: oif "eth0" ip saddr 172.31.0.11 ip daddr 172.31.0.12 ip id 100 ip length 110 udp sport 40000 udp dport 8472
trace id 2 ip mangle OUTPUT policy accept
trace id 3 ip mangle PREROUTING packet: iif "eth0" ip saddr 172.31.0.12 ip daddr 172.31.0.11 ip id 200 ip length 110 udp sport 40000 udp dport 8472
trace id 3 ip mangle PREROUTING policy accept
trace id 4 ip mangle PREROUTING packet: iif "flannel.1" ip saddr 10.244.2.2 ip daddr 10.244.1.2 ip id 0 ip length 60 tcp flags == syn | ack
trace id 4 ip mangle PREROUTING policy accept
"#;
        let ev = parse(text);
        let v = kernel_visits(&ev, &[8472], &Ruleset::default());
        assert_eq!(v.len(), 4);
        assert!(v[1].sig.outer && v[1].sig.local && !v[2].sig.local);
        let id = probed_identity(&[("n".into(), ev)], &probe("10.244.2.2")).unwrap();
        let mine = item_visits(&v, &id, &["flannel.1"]);
        let sigs: Vec<String> = mine.iter().map(|m| m.sig.to_string()).collect();
        assert_eq!(sigs, ["tcp S 60", "vxlan 110 out"]);
    }
}
