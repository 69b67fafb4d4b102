//! DNS messages (RFC 1035 4.1): what a pod's stub resolver asks and what CoreDNS answers.
//!
//! Names are written uncompressed, as both ends write them: glibc's `res_nmkquery` never
//! compresses a query, and CoreDNS (through miekg/dns `Msg.Truncate`) compresses a reply only
//! when it would not fit the client's 512 bytes. Parsing follows compression pointers, so a
//! captured reply from any server reads.

use super::{Ipv4Addr, WireError};

pub const DNS_PORT: u16 = 53;
pub const DNS_HEADER_LEN: usize = 12;
pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const CLASS_IN: u16 = 1;

/// Header flag bits (RFC 1035 4.1.1).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;
pub const RCODE_NXDOMAIN: u16 = 3;

/// RFC 1035 2.3.4: a label is at most 63 bytes, a name at most 255.
const MAX_LABEL: usize = 63;
/// Compression pointers followed before a name is refused as a loop.
const MAX_POINTERS: usize = 64;

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Dns {
    pub id: u16,
    /// QR, opcode, AA, TC, RD, RA, Z, AD, CD and the rcode, as on the wire.
    pub flags: u16,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

/// A question: a name (without the root's trailing dot), its type and class.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Record {
    pub name: String,
    pub class: u16,
    pub ttl: u32,
    pub data: RData,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RData {
    A(Ipv4Addr),
    Cname(String),
    Soa(Soa),
    /// Any other type, kept as its bytes.
    Other {
        rtype: u16,
        data: Vec<u8>,
    },
}

/// RFC 1035 3.3.13.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

impl RData {
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => TYPE_A,
            RData::Cname(_) => TYPE_CNAME,
            RData::Soa(_) => TYPE_SOA,
            RData::Other { rtype, .. } => *rtype,
        }
    }

    fn len(&self) -> usize {
        match self {
            RData::A(_) => 4,
            RData::Cname(n) => name_len(n),
            RData::Soa(s) => name_len(&s.mname) + name_len(&s.rname) + 20,
            RData::Other { data, .. } => data.len(),
        }
    }
}

impl Dns {
    /// A stub resolver's query for one name (RD set: "recursion desired").
    pub fn query(id: u16, name: &str, qtype: u16) -> Dns {
        Dns {
            id,
            flags: FLAG_RD,
            questions: vec![Question {
                name: name.trim_end_matches('.').to_string(),
                qtype,
                qclass: CLASS_IN,
            }],
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }

    pub fn is_response(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    pub fn rcode(&self) -> u16 {
        self.flags & 0x000f
    }

    /// The addresses of the answer's A records, in the answer's order.
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        addresses(&self.answers)
    }

    /// Length on the wire.
    #[allow(clippy::len_without_is_empty)] // a message has a header
    pub fn len(&self) -> usize {
        DNS_HEADER_LEN
            + self
                .questions
                .iter()
                .map(|q| name_len(&q.name) + 4)
                .sum::<usize>()
            + self
                .answers
                .iter()
                .chain(&self.authority)
                .chain(&self.additional)
                .map(|r| name_len(&r.name) + 10 + r.data.len())
                .sum::<usize>()
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0; self.len()];
        self.emit_into(&mut b);
        b
    }

    /// Write the message into `buf`, exactly [`Dns::len`] bytes long.
    pub(super) fn emit_into(&self, buf: &mut [u8]) {
        let mut w = Writer { buf, at: 0 };
        w.u16(self.id);
        w.u16(self.flags);
        for n in [
            self.questions.len(),
            self.answers.len(),
            self.authority.len(),
            self.additional.len(),
        ] {
            w.u16(n as u16);
        }
        for q in &self.questions {
            w.name(&q.name);
            w.u16(q.qtype);
            w.u16(q.qclass);
        }
        for r in self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
        {
            w.name(&r.name);
            w.u16(r.data.rtype());
            w.u16(r.class);
            w.u32(r.ttl);
            w.u16(r.data.len() as u16);
            match &r.data {
                RData::A(ip) => w.bytes(&ip.octets()),
                RData::Cname(n) => w.name(n),
                RData::Soa(s) => {
                    w.name(&s.mname);
                    w.name(&s.rname);
                    for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                        w.u32(v);
                    }
                }
                RData::Other { data, .. } => w.bytes(data),
            }
        }
    }

    /// Parse a whole DNS message; bytes left over are an error.
    pub fn parse(b: &[u8]) -> Result<Dns, WireError> {
        let mut r = Reader { b, at: 0 };
        let id = r.u16()?;
        let flags = r.u16()?;
        let (qd, an, ns, ar) = (r.u16()?, r.u16()?, r.u16()?, r.u16()?);
        let mut questions = Vec::new();
        for _ in 0..qd {
            let name = r.name()?;
            questions.push(Question {
                name,
                qtype: r.u16()?,
                qclass: r.u16()?,
            });
        }
        let mut records =
            |n: u16| -> Result<Vec<Record>, WireError> { (0..n).map(|_| r.record()).collect() };
        let answers = records(an)?;
        let authority = records(ns)?;
        let additional = records(ar)?;
        if r.at != b.len() {
            return Err(WireError::Unsupported {
                layer: "dns",
                what: "trailing bytes",
                value: (b.len() - r.at) as u32,
            });
        }
        Ok(Dns {
            id,
            flags,
            questions,
            answers,
            authority,
            additional,
        })
    }
}

/// The addresses of the A records among `records`, in order.
pub fn addresses(records: &[Record]) -> Vec<Ipv4Addr> {
    records
        .iter()
        .filter_map(|r| match r.data {
            RData::A(ip) => Some(ip),
            _ => None,
        })
        .collect()
}

/// An uncompressed name's length: each label with its length byte, then the root's 0.
fn name_len(name: &str) -> usize {
    labels(name).map(|l| 1 + l.len()).sum::<usize>() + 1
}

/// A name's labels, each cut to the 63 bytes a label can hold (validation refuses longer
/// names before they get here; the cut keeps emit total).
fn labels(name: &str) -> impl Iterator<Item = &[u8]> {
    name.trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .map(|l| &l.as_bytes()[..l.len().min(MAX_LABEL)])
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    fn name(&mut self, name: &str) {
        for l in labels(name) {
            self.bytes(&[l.len() as u8]);
            self.bytes(l);
        }
        self.bytes(&[0]);
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or(WireError::Truncated {
                layer: "dns",
                have: self.b.len(),
                need: self.at + n,
            })?;
        self.at += n;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A name at the cursor, following compression pointers (RFC 1035 4.1.4).
    fn name(&mut self) -> Result<String, WireError> {
        let mut out: Vec<String> = Vec::new();
        let mut pos = self.at;
        let mut resume: Option<usize> = None;
        let mut jumps = 0;
        loop {
            let len = *self.b.get(pos).ok_or(WireError::Truncated {
                layer: "dns",
                have: self.b.len(),
                need: pos + 1,
            })? as usize;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    pos += 1;
                    break;
                }
                0x00 => {
                    let label = self
                        .b
                        .get(pos + 1..pos + 1 + len)
                        .ok_or(WireError::Truncated {
                            layer: "dns",
                            have: self.b.len(),
                            need: pos + 1 + len,
                        })?;
                    out.push(String::from_utf8_lossy(label).into_owned());
                    pos += 1 + len;
                }
                0xc0 => {
                    let lo = *self.b.get(pos + 1).ok_or(WireError::Truncated {
                        layer: "dns",
                        have: self.b.len(),
                        need: pos + 2,
                    })? as usize;
                    jumps += 1;
                    if jumps > MAX_POINTERS {
                        return Err(WireError::Unsupported {
                            layer: "dns",
                            what: "compression pointer loop",
                            value: pos as u32,
                        });
                    }
                    resume.get_or_insert(pos + 2);
                    pos = ((len & 0x3f) << 8) | lo;
                }
                _ => {
                    return Err(WireError::Unsupported {
                        layer: "dns",
                        what: "label type",
                        value: len as u32,
                    });
                }
            }
        }
        self.at = resume.unwrap_or(pos);
        Ok(out.join("."))
    }

    fn record(&mut self) -> Result<Record, WireError> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = usize::from(self.u16()?);
        let end = self.at + len;
        let data = match rtype {
            TYPE_A if len == 4 => {
                let o = self.take(4)?;
                RData::A(Ipv4Addr::new(o[0], o[1], o[2], o[3]))
            }
            TYPE_CNAME => RData::Cname(self.name()?),
            TYPE_SOA => RData::Soa(Soa {
                mname: self.name()?,
                rname: self.name()?,
                serial: self.u32()?,
                refresh: self.u32()?,
                retry: self.u32()?,
                expire: self.u32()?,
                minimum: self.u32()?,
            }),
            _ => RData::Other {
                rtype,
                data: self.take(len)?.to_vec(),
            },
        };
        if self.at != end {
            return Err(WireError::Unsupported {
                layer: "dns",
                what: "rdata length",
                value: len as u32,
            });
        }
        Ok(Record {
            name,
            class,
            ttl,
            data,
        })
    }
}

/// A record type's mnemonic, as tcpdump prints it.
pub fn type_name(t: u16) -> String {
    match t {
        TYPE_A => "A".into(),
        TYPE_CNAME => "CNAME".into(),
        TYPE_SOA => "SOA".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        12 => "PTR".into(),
        other => format!("Type{other}"),
    }
}

/// tcpdump's names for response codes (`ns_rcode`).
fn rcode_name(r: u16) -> Option<&'static str> {
    match r {
        0 => None,
        1 => Some("FormErr"),
        2 => Some("ServFail"),
        3 => Some("NXDomain"),
        4 => Some("NotImp"),
        5 => Some("Refused"),
        _ => Some("Rcode?"),
    }
}

/// tcpdump's one-line form (print-domain.c): a query `4660+ A? web.default.svc.cluster.local.
/// (47)`; a reply `4660*- 1/0/0 A 10.96.0.20 (63)`, with `*` for an authoritative answer,
/// `-` when recursion is not available, and the rcode (`NXDomain`) after the id.
impl std::fmt::Display for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.id)?;
        if self.is_response() {
            if let Some(r) = rcode_name(self.rcode()) {
                write!(f, " {r}")?;
            }
            let flag = |bit: u16, on: &'static str, off: &'static str| {
                if self.flags & bit != 0 { on } else { off }
            };
            write!(
                f,
                "{}{}{} {}/{}/{}",
                flag(FLAG_AA, "*", ""),
                flag(FLAG_RA, "", "-"),
                flag(FLAG_TC, "|", ""),
                self.answers.len(),
                self.authority.len(),
                self.additional.len()
            )?;
            for (i, r) in self.answers.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                match &r.data {
                    RData::A(ip) => write!(f, "{sep}A {ip}")?,
                    RData::Cname(n) => write!(f, "{sep}CNAME {n}.")?,
                    other => write!(f, "{sep}{}", type_name(other.rtype()))?,
                }
            }
        } else {
            if self.flags & FLAG_RD != 0 {
                f.write_str("+")?;
            }
            if self.questions.len() != 1 {
                write!(f, " [{}q]", self.questions.len())?;
            }
            for q in &self.questions {
                write!(f, " {}? {}.", type_name(q.qtype), q.name)?;
            }
        }
        write!(f, " ({})", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply() -> Dns {
        Dns {
            id: 4660,
            flags: FLAG_QR | FLAG_AA | FLAG_RD,
            questions: vec![Question {
                name: "db.shop.svc.cluster.local".into(),
                qtype: TYPE_A,
                qclass: CLASS_IN,
            }],
            answers: vec![
                Record {
                    name: "db.shop.svc.cluster.local".into(),
                    class: CLASS_IN,
                    ttl: 30,
                    data: RData::Cname("db.example.com".into()),
                },
                Record {
                    name: "db.example.com".into(),
                    class: CLASS_IN,
                    ttl: 30,
                    data: RData::A(Ipv4Addr::new(203, 0, 113, 20)),
                },
            ],
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }

    fn bytes(d: &Dns) -> Vec<u8> {
        let mut b = vec![0; d.len()];
        d.emit_into(&mut b);
        b
    }

    #[test]
    fn a_query_is_what_glibc_sends() {
        // 12-byte header, 3web7default3svc7cluster5local0 (31 bytes), type and class.
        let q = Dns::query(0x1234, "web.default.svc.cluster.local", TYPE_A);
        let b = bytes(&q);
        assert_eq!(b.len(), 12 + 31 + 4);
        assert_eq!(&b[..12], &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[12..16], b"\x03web");
        assert_eq!(&b[b.len() - 5..], &[0, 0, 1, 0, 1]);
        assert_eq!(
            q.to_string(),
            "4660+ A? web.default.svc.cluster.local. (47)"
        );
    }

    #[test]
    fn replies_read_back_and_print_as_tcpdump_does() {
        let r = reply();
        assert_eq!(Dns::parse(&bytes(&r)).unwrap(), r);
        assert_eq!(
            r.to_string(),
            "4660*- 2/0/0 CNAME db.example.com., A 203.0.113.20 (126)"
        );
        let mut nx = Dns::query(7, "x.cluster.local", TYPE_A);
        nx.flags = FLAG_QR | FLAG_AA | FLAG_RD | RCODE_NXDOMAIN;
        nx.authority.push(Record {
            name: "cluster.local".into(),
            class: CLASS_IN,
            ttl: 30,
            data: RData::Soa(Soa {
                mname: "ns.dns.cluster.local".into(),
                rname: "hostmaster.cluster.local".into(),
                serial: 1,
                refresh: 7200,
                retry: 1800,
                expire: 86400,
                minimum: 30,
            }),
        });
        assert_eq!(Dns::parse(&bytes(&nx)).unwrap(), nx);
        assert!(nx.to_string().starts_with("7 NXDomain*- 0/1/0 ("));
    }

    #[test]
    fn compressed_names_are_followed() {
        // The question's name at offset 12, the answer's name a pointer to it (0xc00c).
        let q = Dns::query(1, "a.example", TYPE_A);
        let mut b = bytes(&q);
        b[2] |= 0x80; // QR
        b[7] = 1; // ANCOUNT
        b.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        let d = Dns::parse(&b).unwrap();
        assert_eq!(d.answers[0].name, "a.example");
        assert_eq!(d.addresses(), vec![Ipv4Addr::new(192, 0, 2, 1)]);
        // A pointer to itself is a loop, not a hang.
        let mut looped = b.clone();
        looped[12] = 0xc0;
        looped[13] = 0x0c;
        assert!(Dns::parse(&looped).is_err());
    }

    #[test]
    fn truncated_messages_are_errors_not_panics() {
        let b = bytes(&reply());
        for n in 0..b.len() {
            assert!(Dns::parse(&b[..n]).is_err(), "{n} bytes parsed");
        }
    }
}
