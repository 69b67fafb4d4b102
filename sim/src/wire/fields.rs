//! A frame as a dissector shows it: layers of named fields, each with its value and the
//! bytes it occupies in the emitted frame, so a viewer can list the headers, say what a
//! step changed, and highlight a field's bytes in a hex dump.

use super::{Frame, IcmpMessage, L3, L4, UdpPayload};
use std::ops::Range;

/// One header field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// `Ethernet`, `IPv4`, `TCP`, `UDP`, `ICMP`, `ARP`, `VXLAN`; encapsulated layers are
    /// prefixed `inner `.
    pub layer: String,
    pub name: &'static str,
    pub value: String,
    /// The field's bytes in `frame.emit()`.
    pub range: Range<usize>,
}

/// A field whose value a step changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub layer: String,
    pub name: &'static str,
    /// None when the field did not exist before (a header was added).
    pub before: Option<String>,
    /// None when the field is gone (a header was removed).
    pub after: Option<String>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .unwrap_or(0)
}

/// Every field of `f`, outermost layer first.
pub fn fields(f: &Frame) -> Vec<Field> {
    let bytes = f.emit();
    let mut out = Vec::new();
    frame_fields(f, &bytes, 0, "", &mut out);
    out
}

fn frame_fields(f: &Frame, b: &[u8], at: usize, prefix: &str, out: &mut Vec<Field>) {
    let mut push = |layer: &str, name: &'static str, value: String, r: Range<usize>| {
        out.push(Field {
            layer: format!("{prefix}{layer}"),
            name,
            value,
            range: at + r.start..at + r.end,
        })
    };
    push("Ethernet", "dst", f.dst.to_string(), 0..6);
    push("Ethernet", "src", f.src.to_string(), 6..12);
    push(
        "Ethernet",
        "type",
        format!("0x{:04x}", be16(b, at + 12)),
        12..14,
    );
    match &f.payload {
        L3::Arp(a) => {
            push("ARP", "op", format!("{:?}", a.op).to_lowercase(), 20..22);
            push("ARP", "sender MAC", a.sender_mac.to_string(), 22..28);
            push("ARP", "sender IP", a.sender_ip.to_string(), 28..32);
            push("ARP", "target MAC", a.target_mac.to_string(), 32..38);
            push("ARP", "target IP", a.target_ip.to_string(), 38..42);
        }
        L3::Ipv4(ip) => {
            let flags = match (ip.dont_frag, ip.more_frags) {
                (true, true) => "DF MF".to_string(),
                (true, false) => "DF".to_string(),
                (false, true) => "MF".to_string(),
                (false, false) => "none".to_string(),
            };
            push("IPv4", "tos", format!("0x{:02x}", ip.tos), 15..16);
            push("IPv4", "total length", be16(b, at + 16).to_string(), 16..18);
            push("IPv4", "id", ip.ident.to_string(), 18..20);
            push("IPv4", "flags", flags, 20..22);
            if ip.is_fragment() {
                push(
                    "IPv4",
                    "fragment offset",
                    format!("{} bytes", ip.frag_offset_bytes()),
                    20..22,
                );
            }
            push("IPv4", "ttl", ip.ttl.to_string(), 22..23);
            push(
                "IPv4",
                "protocol",
                ip.protocol().number().to_string(),
                23..24,
            );
            push(
                "IPv4",
                "checksum",
                format!("0x{:04x}", be16(b, at + 24)),
                24..26,
            );
            push("IPv4", "src", ip.src.to_string(), 26..30);
            push("IPv4", "dst", ip.dst.to_string(), 30..34);
            match &ip.payload {
                L4::Fragment(fr) => {
                    let end = 34 + fr.data.len();
                    push(
                        "Fragment",
                        "data",
                        format!(
                            "{} bytes of the {} message, from byte {}",
                            fr.data.len(),
                            fr.protocol.name().to_uppercase(),
                            ip.frag_offset_bytes()
                        ),
                        34..end,
                    );
                }
                L4::Tcp(t) => {
                    push("TCP", "src port", t.sport.to_string(), 34..36);
                    push("TCP", "dst port", t.dport.to_string(), 36..38);
                    push("TCP", "seq", t.seq.to_string(), 38..42);
                    push("TCP", "ack", t.ack.to_string(), 42..46);
                    push("TCP", "flags", t.flags.to_string(), 47..48);
                    push("TCP", "window", t.window.to_string(), 48..50);
                    push(
                        "TCP",
                        "checksum",
                        format!("0x{:04x}", be16(b, at + 50)),
                        50..52,
                    );
                }
                L4::Udp(u) => {
                    push("UDP", "src port", u.sport.to_string(), 34..36);
                    push("UDP", "dst port", u.dport.to_string(), 36..38);
                    push("UDP", "length", be16(b, at + 38).to_string(), 38..40);
                    push(
                        "UDP",
                        "checksum",
                        format!("0x{:04x}", be16(b, at + 40)),
                        40..42,
                    );
                    match &u.payload {
                        UdpPayload::Vxlan(v) => {
                            push("VXLAN", "flags", "0x08 (VNI valid)".into(), 42..43);
                            push("VXLAN", "vni", v.vni.to_string(), 46..49);
                            frame_fields(&v.inner, b, at + 50, "inner ", out);
                        }
                        UdpPayload::Dns(d) => dns_fields(d, &mut push),
                        UdpPayload::Data(_) => {}
                    }
                }
                L4::Icmp(i) => {
                    push(
                        "ICMP",
                        "type",
                        b.get(at + 34).copied().unwrap_or(0).to_string(),
                        34..35,
                    );
                    push(
                        "ICMP",
                        "code",
                        b.get(at + 35).copied().unwrap_or(0).to_string(),
                        35..36,
                    );
                    push(
                        "ICMP",
                        "checksum",
                        format!("0x{:04x}", be16(b, at + 36)),
                        36..38,
                    );
                    match i.msg {
                        IcmpMessage::EchoRequest { ident, seq }
                        | IcmpMessage::EchoReply { ident, seq } => {
                            push("ICMP", "id", ident.to_string(), 38..40);
                            push("ICMP", "seq", seq.to_string(), 40..42);
                        }
                        IcmpMessage::DestUnreachable { next_hop_mtu, .. } if next_hop_mtu > 0 => {
                            push("ICMP", "next-hop MTU", next_hop_mtu.to_string(), 40..42);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// A DNS message's header and sections, each section one field (the message starts at
/// byte 42: after Ethernet, IPv4 and UDP).
fn dns_fields(
    d: &super::dns::Dns,
    push: &mut impl FnMut(&str, &'static str, String, Range<usize>),
) {
    use super::dns::{self, RData};
    const AT: usize = 42;
    push("DNS", "id", d.id.to_string(), AT..AT + 2);
    let mut flags: Vec<&str> = Vec::new();
    for (bit, name) in [
        (dns::FLAG_QR, "response"),
        (dns::FLAG_AA, "authoritative"),
        (dns::FLAG_TC, "truncated"),
        (dns::FLAG_RD, "recursion desired"),
        (dns::FLAG_RA, "recursion available"),
    ] {
        if d.flags & bit != 0 {
            flags.push(name);
        }
    }
    let rcode = match d.rcode() {
        0 => String::new(),
        3 => ", NXDOMAIN".into(),
        r => format!(", rcode {r}"),
    };
    push(
        "DNS",
        "flags",
        format!("0x{:04x} ({}{rcode})", d.flags, flags.join(", ")),
        AT + 2..AT + 4,
    );
    let header = AT + dns::DNS_HEADER_LEN;
    let qlen: usize = d.questions.iter().map(|q| q.name.len() + 2 + 4).sum();
    let questions: Vec<String> = d
        .questions
        .iter()
        .map(|q| format!("{}? {}", dns::type_name(q.qtype), q.name))
        .collect();
    push(
        "DNS",
        "question",
        questions.join(", "),
        header..header + qlen,
    );
    if d.is_response() {
        let answers: Vec<String> = d
            .answers
            .iter()
            .map(|r| match &r.data {
                RData::A(ip) => format!("{} A {ip}", r.name),
                RData::Cname(n) => format!("{} CNAME {n}", r.name),
                other => format!("{} {}", r.name, dns::type_name(other.rtype())),
            })
            .collect();
        let end = AT + d.len();
        let value = if answers.is_empty() {
            "none".to_string()
        } else {
            answers.join(", ")
        };
        push("DNS", "answers", value, header + qlen..end);
    }
}

/// How many VXLAN headers deep the innermost frame sits.
fn depth(fs: &[Field]) -> usize {
    fs.iter()
        .map(|f| f.layer.matches("inner ").count())
        .max()
        .unwrap_or(0)
}

/// What changed from `before` to `after`, field by field, in `after`'s order, then the
/// fields that disappeared. Layers are matched through encapsulation: when a step wraps
/// the frame in VXLAN, the old headers are compared with the new inner ones and the outer
/// headers are new; when it unwraps, the old outer headers are removed.
pub fn changes(before: &Frame, after: &Frame) -> Vec<Change> {
    let (a, b) = (fields(before), fields(after));
    let (da, db) = (depth(&a), depth(&b));
    // `before`'s layer names as `after` would call them (None: the layer is gone).
    let rename = |layer: &str| -> Option<String> {
        if db >= da {
            Some(format!("{}{layer}", "inner ".repeat(db - da)))
        } else {
            let strip = "inner ".repeat(da - db);
            layer.strip_prefix(strip.as_str()).map(str::to_string)
        }
    };
    let old: Vec<(Option<String>, &Field)> = a.iter().map(|f| (rename(&f.layer), f)).collect();
    let find = |f: &Field| {
        old.iter()
            .find(|(l, o)| l.as_deref() == Some(f.layer.as_str()) && o.name == f.name)
            .map(|(_, o)| *o)
    };
    let mut out: Vec<Change> = b
        .iter()
        .filter_map(|f| match find(f) {
            Some(o) if o.value == f.value => None,
            o => Some(Change {
                layer: f.layer.clone(),
                name: f.name,
                before: o.map(|o| o.value.clone()),
                after: Some(f.value.clone()),
            }),
        })
        .collect();
    out.extend(
        old.iter()
            .filter(|(l, o)| {
                !b.iter()
                    .any(|f| l.as_deref() == Some(f.layer.as_str()) && f.name == o.name)
            })
            .map(|(_, o)| Change {
                layer: o.layer.clone(),
                name: o.name,
                before: Some(o.value.clone()),
                after: None,
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures::{ip, ipv4_of, syn_frame, vxlan};

    fn field<'a>(fs: &'a [Field], layer: &str, name: &str) -> &'a Field {
        fs.iter()
            .find(|f| f.layer == layer && f.name == name)
            .unwrap_or_else(|| panic!("{layer} {name} in {fs:#?}"))
    }

    #[test]
    fn every_field_points_at_its_own_bytes_through_encapsulation() {
        let f = vxlan(syn_frame());
        let bytes = f.emit();
        let fs = fields(&f);
        let at = |l: &str, n: &str| bytes[field(&fs, l, n).range.clone()].to_vec();
        let outer = match &f.payload {
            L3::Ipv4(i) => i.clone(),
            L3::Arp(_) => unreachable!(),
        };
        assert_eq!(at("IPv4", "ttl"), [outer.ttl]);
        assert_eq!(at("IPv4", "src"), outer.src.octets());
        assert_eq!(at("UDP", "dst port"), 8472u16.to_be_bytes());
        assert_eq!(field(&fs, "VXLAN", "vni").value, "1");
        let mut inner = syn_frame();
        let i = ipv4_of(&mut inner);
        assert_eq!(at("inner IPv4", "src"), i.src.octets());
        assert_eq!(at("inner IPv4", "dst"), i.dst.octets());
        assert_eq!(at("inner TCP", "dst port"), 80u16.to_be_bytes());
        assert_eq!(field(&fs, "inner IPv4", "ttl").value, i.ttl.to_string());
    }

    #[test]
    fn changes_name_what_dnat_and_encapsulation_did() {
        let before = syn_frame();
        let mut after = before.clone();
        ipv4_of(&mut after).dst = ip("10.244.2.5");
        let c = changes(&before, &after);
        let names: Vec<(&str, &str)> = c.iter().map(|c| (c.layer.as_str(), c.name)).collect();
        assert_eq!(
            names,
            [("IPv4", "checksum"), ("IPv4", "dst"), ("TCP", "checksum")]
        );
        assert_eq!(c[1].after.as_deref(), Some("10.244.2.5"));
        // Encapsulation: the old headers are the new inner ones, unchanged; the outer
        // headers are new.
        let wrapped = vxlan(before.clone());
        let c = changes(&before, &wrapped);
        assert!(c.iter().any(|c| c.layer == "VXLAN" && c.before.is_none()));
        assert!(
            c.iter()
                .any(|c| c.layer == "IPv4" && c.name == "dst" && c.before.is_none())
        );
        assert!(!c.iter().any(|c| c.layer.starts_with("inner ")), "{c:#?}");
        // Decapsulation: the outer headers are removed, the inner ones become the frame.
        let c = changes(&wrapped, &before);
        assert!(c.iter().all(|c| c.after.is_none()), "{c:#?}");
        assert!(c.iter().any(|c| c.layer == "VXLAN"));
    }
}
