//! Reading `nft monitor trace` output, and comparing the kernel's rule-by-rule path of a
//! packet with kpath's.
//!
//! A line looks like `trace id 2c75ce6b ip nat KUBE-SERVICES rule meta l4proto tcp ...
//! jump KUBE-SVC-X (verdict jump KUBE-SVC-X)`, `trace id ... ip mangle PREROUTING policy
//! accept` or `trace id ... ip raw PREROUTING packet: iif "cni0" ... ip id 43791 ...`.

use crate::netfilter::eval::HitAction;
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
}

fn matches_probe(p: &str, probe: &Probe) -> bool {
    let src_ok = field(p, "ip saddr").and_then(|s| s.parse::<Ipv4Addr>().ok()) == Some(probe.src);
    let dst_ok = field(p, "ip daddr")
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
        .is_some_and(|d| probe.dsts.contains(&d));
    let proto_ok = match probe.proto {
        "tcp" => p.contains("tcp flags == syn"),
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

/// The kernel's rule events for the traced packet (by IP id) and, if it was encapsulated,
/// for the outer VXLAN packet that carried it (the first UDP 8472 packet the namespace saw
/// after it; the outer IP id then finds it on the receiving node too). `tunnels` names
/// the VXLAN devices (`flannel.1`). `files` are the
/// monitor outputs per namespace, in the world's order.
pub fn kernel_paths(
    files: &[(String, Vec<Event>)],
    probe: &Probe,
    tunnels: &[&str],
) -> Vec<(String, Vec<PathEvent>)> {
    // The inner packet's IP id.
    let inner = files
        .iter()
        .flat_map(|(_, e)| e)
        .find_map(|e| match &e.kind {
            EventKind::Packet(p) if e.family == "ip" && matches_probe(p, probe) => identity(p),
            _ => None,
        });
    let Some(inner) = inner else {
        return Vec::new();
    };
    let is_inner = |p: Option<&str>| {
        p.is_some_and(|p| identity(p).as_ref() == Some(&inner) && !p.contains("udp dport 8472"))
    };
    // The outer VXLAN packet: in the namespace that routed the inner packet out of a
    // tunnel device, the first 8472 packet after the inner packet's last event there.
    let mut outer_id: Option<String> = None;
    for (_, evs) in files {
        let evs = with_packets(evs);
        let out_tunnel = |p: &str| tunnels.iter().any(|t| p.contains(&format!("oif \"{t}\"")));
        if !evs
            .iter()
            .any(|(_, p)| is_inner(*p) && p.is_some_and(out_tunnel))
        {
            continue;
        }
        let Some(last) = evs.iter().rposition(|(_, p)| is_inner(*p)) else {
            continue;
        };
        if let Some(id) = evs[last..].iter().find_map(|(e, _)| match &e.kind {
            EventKind::Packet(p) if e.family == "ip" && p.contains("udp dport 8472") => identity(p),
            _ => None,
        }) {
            outer_id = Some(id);
            break;
        }
    }
    let is_outer = |p: Option<&str>| {
        p.is_some_and(|p| {
            outer_id.is_some() && identity(p) == outer_id && p.contains("udp dport 8472")
        })
    };
    let mut out = Vec::new();
    for (ns, evs) in files {
        let path: Vec<PathEvent> = with_packets(evs)
            .into_iter()
            .filter(|(e, p)| {
                e.family == "ip" && e.table != "kpath_trace" && (is_inner(*p) || is_outer(*p))
            })
            .filter_map(|(e, _)| match &e.kind {
                EventKind::Rule { text, verdict } => Some((
                    e.table.clone(),
                    e.chain.clone(),
                    kernel_verdict(text, verdict),
                )),
                // `policy accept meta mark 0x00004000`: the mark is the packet's, not the verdict.
                EventKind::Policy(v) => Some((
                    e.table.clone(),
                    e.chain.clone(),
                    format!("policy {}", v.split_whitespace().next().unwrap_or("")),
                )),
                EventKind::Packet(_) => None,
            })
            .collect();
        if !path.is_empty() {
            out.push((ns.clone(), path));
        }
    }
    out
}

fn kernel_verdict(text: &str, verdict: &str) -> String {
    if text.contains(" reject") || verdict == "drop" {
        return "drop".into();
    }
    verdict.to_string()
}

/// kpath's rule events for the traced packet, per namespace, in the same normalized form:
/// NAT targets accept, REJECT drops (as nft reports them).
pub fn kpath_paths(steps: &[Step], ns_order: &[String]) -> Vec<(String, Vec<PathEvent>)> {
    let mut out = Vec::new();
    for ns in ns_order {
        let path: Vec<PathEvent> = steps
            .iter()
            .filter(|s| s.role == Role::Packet && &s.netns == ns)
            .filter_map(|s| s.nf.as_ref())
            .map(|n| {
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
            })
            .collect();
        if !path.is_empty() {
            out.push((ns.clone(), path));
        }
    }
    out
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
        let probe = Probe {
            src: "10.244.1.2".parse().unwrap(),
            dsts: vec!["10.96.0.21".parse().unwrap()],
            proto: "tcp",
        };
        let paths = kernel_paths(&[("node-1".into(), ev)], &probe, &["flannel.1"]);
        assert_eq!(paths.len(), 1);
        let p: Vec<String> = paths[0]
            .1
            .iter()
            .map(|(t, c, v)| format!("{t} {c} {v}"))
            .collect();
        assert_eq!(
            p,
            [
                "mangle PREROUTING policy accept",
                "nat PREROUTING jump KUBE-SERVICES",
                "nat KUBE-SEP-OMSCSLT2QVD43DLH accept"
            ]
        );
    }

    /// Seen on kernel 6.18: the FIN of the same connection reused the SYN's trace id.
    #[test]
    fn a_reused_trace_id_does_not_merge_two_packets() {
        let text = r#"trace id 101e88f5 ip mangle PREROUTING packet: iif "cni0" ip saddr 10.244.1.2 ip daddr 10.96.0.21 ip id 60580 ip length 60 tcp sport 43486 tcp dport 80 tcp flags == syn
trace id 101e88f5 ip mangle PREROUTING policy accept
trace id 101e88f5 ip mangle PREROUTING packet: iif "cni0" ip saddr 10.244.1.2 ip daddr 10.96.0.21 ip id 60582 ip length 52 tcp sport 43486 tcp dport 80 tcp flags == 0x11
trace id 101e88f5 ip mangle PREROUTING policy accept
trace id 101e88f5 ip filter FORWARD packet: iif "cni0" oif "cni0" ip saddr 10.244.1.2 ip daddr 10.244.1.3 ip id 60582 tcp flags == 0x11
trace id 101e88f5 ip filter FORWARD rule ct state related,established counter accept (verdict accept)
"#;
        let probe = Probe {
            src: "10.244.1.2".parse().unwrap(),
            dsts: vec!["10.96.0.21".parse().unwrap()],
            proto: "tcp",
        };
        let paths = kernel_paths(&[("node-1".into(), parse(text))], &probe, &["flannel.1"]);
        assert_eq!(
            paths[0].1,
            [(
                "mangle".to_string(),
                "PREROUTING".to_string(),
                "policy accept".to_string()
            )]
        );
    }
}
