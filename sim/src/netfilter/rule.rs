//! One iptables rule: its matches and its target, as the kernel's xtables modules see them,
//! and printed exactly as iptables-save (iptables 1.8) prints them.

use crate::wire::{IpProtocol, Ipv4Net};
use std::fmt::{self, Write};
use std::net::Ipv4Addr;

/// A port or a port range (`80`, `30000:32767`), inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub fn contains(&self, p: u16) -> bool {
        (self.lo..=self.hi).contains(&p)
    }

    /// As a NAT target's `--to-ports` writes it: `P` or `P-Q` (a match writes `P:Q`).
    pub fn nat_text(&self) -> String {
        if self.lo == self.hi {
            self.lo.to_string()
        } else {
            format!("{}-{}", self.lo, self.hi)
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}:{}", self.lo, self.hi)
        }
    }
}

/// `-p` as iptables-save prints it: the name, or the number, and `all` for 0.
pub fn proto_text(p: IpProtocol) -> String {
    match p.number() {
        0 => "all".into(),
        n => protocol_name(n).map_or_else(|| n.to_string(), str::to_string),
    }
}

/// `/etc/protocols` as Debian's netbase ships it: iptables-save prints a protocol by the
/// name `getprotobynumber` gives (`-p 4` as `-p ipencap`), and reads these names back.
pub const PROTOCOLS: [(u8, &str); 49] = [
    (1, "icmp"),
    (2, "igmp"),
    (3, "ggp"),
    (4, "ipencap"),
    (5, "st"),
    (6, "tcp"),
    (8, "egp"),
    (9, "igp"),
    (12, "pup"),
    (17, "udp"),
    (20, "hmp"),
    (22, "xns-idp"),
    (27, "rdp"),
    (29, "iso-tp4"),
    (33, "dccp"),
    (36, "xtp"),
    (37, "ddp"),
    (38, "idpr-cmtp"),
    (41, "ipv6"),
    (43, "ipv6-route"),
    (44, "ipv6-frag"),
    (45, "idrp"),
    (46, "rsvp"),
    (47, "gre"),
    (50, "esp"),
    (51, "ah"),
    (57, "skip"),
    (58, "ipv6-icmp"),
    (59, "ipv6-nonxt"),
    (60, "ipv6-opts"),
    (73, "rspf"),
    (81, "vmtp"),
    (88, "eigrp"),
    (89, "ospf"),
    (93, "ax.25"),
    (94, "ipip"),
    (97, "etherip"),
    (98, "encap"),
    (103, "pim"),
    (108, "ipcomp"),
    (112, "vrrp"),
    (115, "l2tp"),
    (124, "isis"),
    (132, "sctp"),
    (133, "fc"),
    (135, "mobility-header"),
    (136, "udplite"),
    (137, "mpls-in-ip"),
    (143, "ethernet"),
];

/// The `/etc/protocols` name of a protocol number.
pub fn protocol_name(n: u8) -> Option<&'static str> {
    PROTOCOLS
        .iter()
        .find(|(k, _)| *k == n)
        .map(|(_, name)| *name)
}

/// `-m addrtype` types (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AddrType {
    Unspec,
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

impl AddrType {
    pub const ALL: [AddrType; 9] = [
        AddrType::Unspec,
        AddrType::Unicast,
        AddrType::Local,
        AddrType::Broadcast,
        AddrType::Anycast,
        AddrType::Multicast,
        AddrType::Blackhole,
        AddrType::Unreachable,
        AddrType::Prohibit,
    ];
    pub fn name(&self) -> &'static str {
        match self {
            AddrType::Unspec => "UNSPEC",
            AddrType::Unicast => "UNICAST",
            AddrType::Local => "LOCAL",
            AddrType::Broadcast => "BROADCAST",
            AddrType::Anycast => "ANYCAST",
            AddrType::Multicast => "MULTICAST",
            AddrType::Blackhole => "BLACKHOLE",
            AddrType::Unreachable => "UNREACHABLE",
            AddrType::Prohibit => "PROHIBIT",
        }
    }
}

/// Conntrack states as `--ctstate` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CtState {
    Invalid,
    New,
    Established,
    Related,
    Untracked,
    Snat,
    Dnat,
}

impl CtState {
    /// In the order libxt_conntrack prints them.
    pub const ALL: [CtState; 7] = [
        CtState::Invalid,
        CtState::New,
        CtState::Related,
        CtState::Established,
        CtState::Untracked,
        CtState::Snat,
        CtState::Dnat,
    ];
    pub fn name(&self) -> &'static str {
        match self {
            CtState::Invalid => "INVALID",
            CtState::New => "NEW",
            CtState::Established => "ESTABLISHED",
            CtState::Related => "RELATED",
            CtState::Untracked => "UNTRACKED",
            CtState::Snat => "SNAT",
            CtState::Dnat => "DNAT",
        }
    }
}

/// `-m ipvs` options (libxt_ipvs), each `(value, negated)`. Any option but `--ipvs` alone
/// implies `--ipvs`: the packet must have been handled by IPVS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpvsMatch {
    /// `[!] --ipvs`: `skb->ipvs_property`.
    pub property: Option<bool>,
    pub vproto: Option<(IpProtocol, bool)>,
    pub vaddr: Option<(crate::wire::Ipv4Net, bool)>,
    pub vport: Option<(u16, bool)>,
    /// `--vdir ORIGINAL` (false) or `REPLY` (true).
    pub vdir: Option<bool>,
    /// `--vmethod GATE|IPIP|MASQ`.
    pub vmethod: Option<(String, bool)>,
}

/// `-m recent` commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecentCmd {
    Set,
    Rcheck,
    Update,
    Remove,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recent {
    pub cmd: RecentCmd,
    pub name: String,
    pub seconds: Option<u32>,
    pub reap: bool,
    pub hitcount: Option<u32>,
    pub mask: Ipv4Addr,
    /// `--rsource` (true, the default) or `--rdest`.
    pub source: bool,
    pub neg: bool,
}

/// One `-m` module with its options (or a base match such as `-s`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    Comment(String),
    Tcp {
        sport: Option<(PortRange, bool)>,
        dport: Option<(PortRange, bool)>,
        /// `--tcp-flags MASK COMP` (`--syn` is FIN,SYN,RST,ACK SYN).
        flags: Option<(u8, u8, bool)>,
    },
    Udp {
        sport: Option<(PortRange, bool)>,
        dport: Option<(PortRange, bool)>,
    },
    /// `-m sctp --sport/--dport` (kube-router writes it for SCTP policy ports). kpath walks
    /// no SCTP packets, so it matches none of the packets it walks.
    Sctp {
        sport: Option<(PortRange, bool)>,
        dport: Option<(PortRange, bool)>,
    },
    Icmp {
        icmp_type: u8,
        code: Option<u8>,
        neg: bool,
    },
    Multiport {
        /// `--sports`, `--dports` or `--ports`.
        kind: MultiportKind,
        ports: Vec<PortRange>,
        neg: bool,
    },
    Mark {
        value: u32,
        mask: u32,
        neg: bool,
    },
    // The larger modules are boxed: a node's dump holds hundreds of thousands of matches,
    // most of them comments and ports, and each takes the size of the largest variant.
    AddrType(Box<AddrTypeMatch>),
    Statistic(Statistic),
    Conntrack(Box<ConntrackMatch>),
    /// The older `-m state --state`.
    State {
        states: Vec<CtState>,
        neg: bool,
    },
    Recent(Box<Recent>),
    Set(Box<SetMatch>),
    /// `-m nfacct --nfacct-name NAME`: counts into an accounting object; always matches.
    Nfacct(String),
    /// `-m ipvs` (xt_ipvs): the IPVS connection the packet belongs to.
    Ipvs(Box<IpvsMatch>),
    Physdev(Box<PhysdevMatch>),
    /// `-m iprange --src-range A-B --dst-range A-B` (xt_iprange), each invertible.
    IpRange(Box<IpRangeMatch>),
    /// `-m length --length N[:M]` (xt_length): the IP datagram's total length.
    Length {
        lo: u16,
        hi: u16,
        neg: bool,
    },
    /// `-m limit --limit N/UNIT --limit-burst B` (xt_limit): a token bucket whose state
    /// nobody dumps; kpath takes the packet as under its rate (it matches).
    Limit(Box<Limit>),
    /// `-m pkttype --pkt-type TYPE` (xt_pkttype): the link-layer class of the packet, read
    /// from its destination (kpath's frames are addressed as their IP destination is).
    PktType {
        kind: PktType,
        neg: bool,
    },
    /// `-m connmark [!] --mark V[/M]` (xt_connmark): the connection's mark; a packet
    /// without a connection matches nothing.
    Connmark {
        value: u32,
        mask: u32,
        neg: bool,
    },
    /// `-m owner` (xt_owner): the sending socket's owner, only for the node's own packets.
    Owner(Box<OwnerMatch>),
    /// `-m rpfilter` (ipt_rpfilter): is the source routed back by the device the packet
    /// came in on? Calico drops what fails it (`--validmark --invert -j DROP`).
    Rpfilter(Rpfilter),
    /// A module kpath does not model (`-m socket`, `-m hashlimit ...`), kept as written so
    /// the rest of the ruleset is still read: a packet that reaches it is taken as not
    /// matching, and the answer says so (`--strict` refuses the dump instead).
    Unknown(Box<Unknown>),
}

/// What `-j CONNMARK` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnmarkOp {
    SetXmark { value: u32, mask: u32 },
    Save { nfmask: u32, ctmask: u32 },
    Restore { nfmask: u32, ctmask: u32 },
}

/// `-m owner`'s criteria, each with its `!`: `--socket-exists`, `--uid-owner A[-B]`,
/// `--gid-owner A[-B]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerMatch {
    pub socket_exists: Option<bool>,
    pub uid: Option<(u32, u32, bool)>,
    pub gid: Option<(u32, u32, bool)>,
}

/// `-m rpfilter`'s flags (XT_RPFILTER_*), in the order libxt_rpfilter prints them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rpfilter {
    /// `--loose`: any route back will do, by whichever device.
    pub loose: bool,
    /// `--validmark`: the reverse lookup uses the packet's mark (fwmark rules).
    pub validmark: bool,
    /// `--accept-local`: a source that is one of the node's addresses passes.
    pub accept_local: bool,
    /// `--invert`: match the packets that fail.
    pub invert: bool,
}

/// xt_pkttype's classes, as libxt_pkttype names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PktType {
    /// PACKET_HOST (`unicast` or `host`).
    Unicast,
    Broadcast,
    Multicast,
    /// PACKET_OTHERHOST: a frame for another host's MAC, which kpath's links never deliver.
    OtherHost,
}

impl PktType {
    pub fn parse(s: &str) -> Option<PktType> {
        Some(match s {
            "unicast" | "host" => PktType::Unicast,
            "broadcast" => PktType::Broadcast,
            "multicast" => PktType::Multicast,
            "otherhost" => PktType::OtherHost,
            _ => return None,
        })
    }

    /// As iptables-save prints it.
    pub fn name(self) -> &'static str {
        match self {
            PktType::Unicast => "unicast",
            PktType::Broadcast => "broadcast",
            PktType::Multicast => "multicast",
            PktType::OtherHost => "otherhost",
        }
    }
}

/// A match module or target kpath does not model, as written (its words after `-m NAME` or
/// `-j NAME`, `!` included), with where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    pub name: String,
    pub args: Vec<String>,
    pub line: usize,
    pub col: usize,
}

impl Unknown {
    /// ` NAME ARG...` as written.
    pub fn words(&self) -> String {
        let mut s = format!(" {}", self.name);
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// `-m iprange`: an inclusive address range for the source and/or the destination, and
/// whether each is negated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpRangeMatch {
    pub src: Option<(Ipv4Addr, Ipv4Addr, bool)>,
    pub dst: Option<(Ipv4Addr, Ipv4Addr, bool)>,
}

/// `-m limit`: `--limit COUNT/UNIT` (libxt_limit's default 3/hour) and `--limit-burst`
/// (default 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    /// `sec`, `min`, `hour` or `day`, as iptables-save prints the unit.
    pub unit: &'static str,
    pub burst: u32,
}

/// `-m addrtype`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrTypeMatch {
    pub src: Option<(Vec<AddrType>, bool)>,
    pub dst: Option<(Vec<AddrType>, bool)>,
    pub limit_iface_in: bool,
    pub limit_iface_out: bool,
}

/// `-m conntrack`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConntrackMatch {
    pub ctstate: Option<(Vec<CtState>, bool)>,
    pub ctorigdst: Option<(Ipv4Net, bool)>,
    pub ctorigdstport: Option<(PortRange, bool)>,
}

/// `-m set --match-set NAME DIRS`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetMatch {
    pub name: String,
    /// `src`/`dst` per dimension (`dst,dst`).
    pub dirs: Vec<bool>,
    pub neg: bool,
}

/// `-m physdev` (bridge ports, for br_netfilter's bridged frames).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhysdevMatch {
    pub physdev_in: Option<(String, bool)>,
    pub physdev_out: Option<(String, bool)>,
    pub is_in: Option<bool>,
    pub is_out: Option<bool>,
    pub is_bridged: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MultiportKind {
    Sports,
    Dports,
    Ports,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    /// `--mode random --probability P`, P stored as the kernel stores it: round(P * 2^31).
    Random { probability: u32, neg: bool },
    /// `--mode nth --every N --packet P`.
    Nth { every: u32, packet: u32, neg: bool },
}

impl Statistic {
    /// xt_statistic's userspace: `lround(0x80000000 * prob)`.
    pub fn encode_probability(p: f64) -> u32 {
        (p * 2147483648.0).round().clamp(0.0, u32::MAX as f64) as u32
    }
    pub fn probability(stored: u32) -> f64 {
        f64::from(stored) / 2147483648.0
    }
}

/// What a rule does when it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// No `-j`: the rule only counts.
    None,
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
    Reject {
        with: String,
    },
    Dnat {
        to: NatRange,
        random: bool,
        persistent: bool,
    },
    Snat {
        to: NatRange,
        random: bool,
        random_fully: bool,
        persistent: bool,
    },
    Masquerade {
        to_ports: Option<PortRange>,
        random: bool,
        random_fully: bool,
    },
    /// `--set-xmark value/mask`: mark = (mark & ~mask) ^ value. `--set-mark`, `--or-mark`,
    /// `--and-mark` and `--xor-mark` are written this way by iptables-save.
    Mark {
        value: u32,
        mask: u32,
    },
    Log {
        prefix: Option<String>,
        level: Option<u8>,
    },
    /// `-j NFLOG` (xt_NFLOG): the packet goes to a netlink log group; it never decides.
    Nflog(Box<Nflog>),
    Trace,
    /// `-j REDIRECT [--to-ports P[-Q]] [--random]` (nat PREROUTING/OUTPUT): DNAT to the
    /// node itself - the incoming device's first address (127.0.0.1 for the node's own
    /// packets), the port changed to --to-ports (nf_nat_redirect_ipv4).
    Redirect {
        to_ports: Option<PortRange>,
        random: bool,
    },
    /// `-j CONNMARK` (xt_CONNMARK), as iptables-save prints it: `--set-xmark V/M` (ctmark =
    /// (ctmark & ~M) ^ V), `--save-mark` (ctmark = (ctmark & ~ctmask) ^ (mark & nfmask)) or
    /// `--restore-mark` (mark = (mark & ~nfmask) ^ (ctmark & ctmask)).
    Connmark(ConnmarkOp),
    /// `-j TCPMSS --set-mss N` or `--clamp-mss-to-pmtu` (None): lower a SYN's MSS option
    /// (netfilter/tcpmss.rs); it never decides.
    Tcpmss {
        mss: Option<u16>,
    },
    /// `-j CT --notrack` (xt_CT, raw table) or the older `-j NOTRACK`: the packet gets the
    /// untracked template, so conntrack leaves it alone (no entry, no NAT) and it matches
    /// `--ctstate UNTRACKED`. `ct` says which way it was written.
    Notrack {
        ct: bool,
    },
    /// A target kpath does not model (`-j TPROXY ...`), kept as written: a packet that
    /// reaches it goes on as if it did nothing, and the answer says so.
    Unknown(Box<Unknown>),
}

/// NFLOG's options, as libxt_NFLOG saves them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nflog {
    pub prefix: Option<String>,
    pub group: u16,
    /// `--nflog-size N` (true) or the older `--nflog-range N` (false).
    pub size: Option<(bool, u32)>,
    pub threshold: Option<u16>,
}

/// `--to-destination 10.0.0.1[-10.0.0.9][:80[-90]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatRange {
    pub lo: Ipv4Addr,
    pub hi: Ipv4Addr,
    pub ports: Option<PortRange>,
}

impl fmt::Display for NatRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.lo)?;
        if self.hi != self.lo {
            write!(f, "-{}", self.hi)?;
        }
        if let Some(p) = self.ports {
            if p.lo == p.hi {
                write!(f, ":{}", p.lo)?;
            } else {
                write!(f, ":{}-{}", p.lo, p.hi)?;
            }
        }
        Ok(())
    }
}

/// A rule of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub src: Option<(Ipv4Net, bool)>,
    pub dst: Option<(Ipv4Net, bool)>,
    /// Boxed, as most rules have none (a rule is 48 bytes smaller for it).
    pub in_iface: Option<Box<(String, bool)>>,
    pub out_iface: Option<Box<(String, bool)>>,
    /// `-p`; protocol 0 is `all`.
    pub proto: Option<(IpProtocol, bool)>,
    pub matches: Vec<Match>,
    pub target: Target,
    /// The rule's text, printed once when a walk first hits it ([`Rule::text`]).
    pub text: TextCache,
}

/// A rule's `-A CHAIN ...` text, kept once made: a trace names every rule it hits by its
/// text, and the same rule is hit by every walk (and shared by every node of a cluster).
/// It is not part of the rule: copies start without it, and it never makes rules unequal.
#[derive(Default)]
pub struct TextCache(std::sync::OnceLock<Box<(Box<str>, Box<str>)>>);

impl Clone for TextCache {
    fn clone(&self) -> Self {
        TextCache::default()
    }
}

impl PartialEq for TextCache {
    fn eq(&self, _: &TextCache) -> bool {
        true
    }
}

impl Eq for TextCache {}

impl fmt::Debug for TextCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TextCache")
    }
}

impl Rule {
    pub fn new(target: Target) -> Rule {
        Rule {
            src: None,
            dst: None,
            in_iface: None,
            out_iface: None,
            proto: None,
            matches: Vec::new(),
            target,
            text: TextCache::default(),
        }
    }

    /// The rule's `-m comment`, if any.
    pub fn comment(&self) -> Option<&str> {
        self.matches.iter().find_map(|m| match m {
            Match::Comment(c) => Some(c.as_str()),
            _ => None,
        })
    }
}

/// `xtables_save_string`: bare when only `[A-Za-z0-9_-]`, else double-quoted with `"`, `\`
/// and `'` escaped.
pub fn save_string(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn neg(n: bool) -> &'static str {
    if n { " !" } else { "" }
}

fn net_text(n: &Ipv4Net) -> String {
    format!("{}/{}", n.network().addr, n.prefix)
}

/// `print_mark`: `0xV`, or `0xV/0xM` when the mask is not all ones.
fn mark_mask(value: u32, mask: u32) -> String {
    if mask == u32::MAX {
        hex(value)
    } else {
        format!("{}/{}", hex(value), hex(mask))
    }
}

fn hex(v: u32) -> String {
    format!("{v:#x}")
}

fn types(t: &[AddrType]) -> String {
    t.iter().map(|t| t.name()).collect::<Vec<_>>().join(",")
}

fn states(s: &[CtState]) -> String {
    CtState::ALL
        .iter()
        .filter(|x| s.contains(x))
        .map(|x| x.name())
        .collect::<Vec<_>>()
        .join(",")
}

const TCP_FLAG_NAMES: [(u8, &str); 6] = [
    (0x01, "FIN"),
    (0x02, "SYN"),
    (0x04, "RST"),
    (0x08, "PSH"),
    (0x10, "ACK"),
    (0x20, "URG"),
];

/// As libxt_tcp's print_tcpf: flag by flag (so `ALL` reads back as
/// FIN,SYN,RST,PSH,ACK,URG), NONE for none.
fn tcp_flags(v: u8) -> String {
    if v == 0 {
        return "NONE".into();
    }
    TCP_FLAG_NAMES
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Display for Match {
    /// The module as iptables-save prints it, with a leading space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        match self {
            Match::Comment(c) => {
                let _ = write!(s, " -m comment --comment {}", save_string(c));
            }
            Match::Tcp {
                sport,
                dport,
                flags,
            } => {
                s.push_str(" -m tcp");
                if let Some((p, n)) = sport {
                    let _ = write!(s, "{} --sport {p}", neg(*n));
                }
                if let Some((p, n)) = dport {
                    let _ = write!(s, "{} --dport {p}", neg(*n));
                }
                if let Some((mask, comp, n)) = flags {
                    let _ = write!(
                        s,
                        "{} --tcp-flags {} {}",
                        neg(*n),
                        tcp_flags(*mask),
                        tcp_flags(*comp)
                    );
                }
            }
            Match::Sctp { sport, dport } => {
                s.push_str(" -m sctp");
                if let Some((p, n)) = sport {
                    let _ = write!(s, "{} --sport {p}", neg(*n));
                }
                if let Some((p, n)) = dport {
                    let _ = write!(s, "{} --dport {p}", neg(*n));
                }
            }
            Match::Udp { sport, dport } => {
                s.push_str(" -m udp");
                if let Some((p, n)) = sport {
                    let _ = write!(s, "{} --sport {p}", neg(*n));
                }
                if let Some((p, n)) = dport {
                    let _ = write!(s, "{} --dport {p}", neg(*n));
                }
            }
            Match::Icmp {
                icmp_type,
                code,
                neg: n,
            } => {
                let _ = write!(s, " -m icmp{} --icmp-type {icmp_type}", neg(*n));
                if let Some(c) = code {
                    let _ = write!(s, "/{c}");
                }
            }
            Match::Multiport {
                kind,
                ports,
                neg: n,
            } => {
                let opt = match kind {
                    MultiportKind::Sports => "--sports",
                    MultiportKind::Dports => "--dports",
                    MultiportKind::Ports => "--ports",
                };
                let list = ports
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                let _ = write!(s, " -m multiport{} {opt} {list}", neg(*n));
            }
            Match::Mark {
                value,
                mask,
                neg: n,
            } => {
                let _ = write!(s, " -m mark{} --mark {}", neg(*n), mark_mask(*value, *mask));
            }
            Match::AddrType(m) => {
                let AddrTypeMatch {
                    src,
                    dst,
                    limit_iface_in,
                    limit_iface_out,
                } = &**m;
                s.push_str(" -m addrtype");
                if let Some((t, n)) = src {
                    let _ = write!(s, "{} --src-type {}", neg(*n), types(t));
                }
                if let Some((t, n)) = dst {
                    let _ = write!(s, "{} --dst-type {}", neg(*n), types(t));
                }
                if *limit_iface_in {
                    s.push_str(" --limit-iface-in");
                }
                if *limit_iface_out {
                    s.push_str(" --limit-iface-out");
                }
            }
            Match::Statistic(Statistic::Random {
                probability,
                neg: n,
            }) => {
                let _ = write!(
                    s,
                    " -m statistic --mode random{} --probability {:.11}",
                    neg(*n),
                    Statistic::probability(*probability)
                );
            }
            Match::Statistic(Statistic::Nth {
                every,
                packet,
                neg: n,
            }) => {
                // iptables 1.8.9 prints --packet even when it is 0 (checked on a real node).
                let _ = write!(
                    s,
                    " -m statistic --mode nth{} --every {every} --packet {packet}",
                    neg(*n)
                );
            }
            Match::Conntrack(m) => {
                let ConntrackMatch {
                    ctstate,
                    ctorigdst,
                    ctorigdstport,
                } = &**m;
                s.push_str(" -m conntrack");
                if let Some((st, n)) = ctstate {
                    let _ = write!(s, "{} --ctstate {}", neg(*n), states(st));
                }
                if let Some((d, n)) = ctorigdst {
                    let _ = write!(s, "{} --ctorigdst {}", neg(*n), net_text(d));
                }
                if let Some((p, n)) = ctorigdstport {
                    let _ = write!(s, "{} --ctorigdstport {p}", neg(*n));
                }
            }
            Match::State { states: st, neg: n } => {
                let _ = write!(s, " -m state{} --state {}", neg(*n), states(st));
            }
            Match::Recent(r) => {
                s.push_str(" -m recent");
                s.push_str(neg(r.neg));
                s.push_str(match r.cmd {
                    RecentCmd::Set => " --set",
                    RecentCmd::Rcheck => " --rcheck",
                    RecentCmd::Update => " --update",
                    RecentCmd::Remove => " --remove",
                });
                if let Some(sec) = r.seconds {
                    let _ = write!(s, " --seconds {sec}");
                }
                if r.reap {
                    s.push_str(" --reap");
                }
                if let Some(h) = r.hitcount {
                    let _ = write!(s, " --hitcount {h}");
                }
                let _ = write!(s, " --name {} --mask {}", r.name, r.mask);
                s.push_str(if r.source { " --rsource" } else { " --rdest" });
            }
            Match::Set(m) => {
                let SetMatch { name, dirs, neg: n } = &**m;
                let d = dirs
                    .iter()
                    .map(|d| if *d { "src" } else { "dst" })
                    .collect::<Vec<_>>()
                    .join(",");
                let _ = write!(s, " -m set{} --match-set {name} {d}", neg(*n));
            }
            Match::Ipvs(m) => {
                // ipvs_mt_dump: --ipvs only when it is the only option.
                s.push_str(" -m ipvs");
                let only = m.vproto.is_none()
                    && m.vaddr.is_none()
                    && m.vport.is_none()
                    && m.vdir.is_none()
                    && m.vmethod.is_none();
                if let (Some(n), true) = (m.property, only) {
                    let _ = write!(s, "{} --ipvs", neg(n));
                }
                if let Some((p, n)) = m.vproto {
                    let _ = write!(s, "{} --vproto {}", neg(n), p.number());
                }
                if let Some((a, n)) = &m.vaddr {
                    // The address as given (XTTYPE_HOSTMASK keeps host bits); no mask for /32.
                    let a = if a.prefix == 32 {
                        a.addr.to_string()
                    } else {
                        format!("{}/{}", a.addr, a.prefix)
                    };
                    let _ = write!(s, "{} --vaddr {a}", neg(*n));
                }
                if let Some((p, n)) = m.vport {
                    let _ = write!(s, "{} --vport {p}", neg(n));
                }
                if let Some(reply) = m.vdir {
                    s.push_str(if reply {
                        " --vdir REPLY"
                    } else {
                        " --vdir ORIGINAL"
                    });
                }
                if let Some((v, n)) = &m.vmethod {
                    let _ = write!(s, "{} --vmethod {v}", neg(*n));
                }
            }
            Match::IpRange(m) => {
                // iprange_mt4_save: the source range, then the destination range.
                s.push_str(" -m iprange");
                if let Some((a, b, n)) = m.src {
                    let _ = write!(s, "{} --src-range {a}-{b}", neg(n));
                }
                if let Some((a, b, n)) = m.dst {
                    let _ = write!(s, "{} --dst-range {a}-{b}", neg(n));
                }
            }
            Match::Length { lo, hi, neg: n } => {
                let _ = write!(s, " -m length{} --length {lo}", neg(*n));
                if hi != lo {
                    let _ = write!(s, ":{hi}");
                }
            }
            Match::Unknown(u) => {
                let _ = write!(s, " -m{}", u.words());
            }
            Match::Connmark {
                value,
                mask,
                neg: n,
            } => {
                // connmark_mt_save prints the mark as mark_mt_save does.
                let _ = write!(
                    s,
                    " -m connmark{} --mark {}",
                    neg(*n),
                    mark_mask(*value, *mask)
                );
            }
            Match::Owner(o) => {
                // owner_mt_save: socket-exists, uid-owner, gid-owner.
                s.push_str(" -m owner");
                if let Some(n) = o.socket_exists {
                    let _ = write!(s, "{} --socket-exists", neg(n));
                }
                for (flag, v) in [("--uid-owner", o.uid), ("--gid-owner", o.gid)] {
                    if let Some((a, b, n)) = v {
                        let _ = write!(s, "{} {flag} {a}", neg(n));
                        if b != a {
                            let _ = write!(s, "-{b}");
                        }
                    }
                }
            }
            Match::PktType { kind, neg: n } => {
                let _ = write!(s, " -m pkttype{} --pkt-type {}", neg(*n), kind.name());
            }
            Match::Rpfilter(r) => {
                s.push_str(" -m rpfilter");
                for (on, flag) in [
                    (r.loose, " --loose"),
                    (r.validmark, " --validmark"),
                    (r.accept_local, " --accept-local"),
                    (r.invert, " --invert"),
                ] {
                    if on {
                        s.push_str(flag);
                    }
                }
            }
            Match::Limit(l) => {
                let _ = write!(s, " -m limit --limit {}/{}", l.count, l.unit);
                if l.burst != 5 {
                    let _ = write!(s, " --limit-burst {}", l.burst);
                }
            }
            Match::Nfacct(name) => {
                // libxt_nfacct prints " --nfacct-name " then xtables_save_string's own space.
                let _ = write!(s, " -m nfacct --nfacct-name  {}", save_string(name));
            }
            Match::Physdev(m) => {
                let PhysdevMatch {
                    physdev_in,
                    physdev_out,
                    is_in,
                    is_out,
                    is_bridged,
                } = &**m;
                s.push_str(" -m physdev");
                if let Some((d, n)) = physdev_in {
                    let _ = write!(s, "{} --physdev-in {d}", neg(*n));
                }
                if let Some((d, n)) = physdev_out {
                    let _ = write!(s, "{} --physdev-out {d}", neg(*n));
                }
                for (flag, name) in [
                    (is_in, "--physdev-is-in"),
                    (is_out, "--physdev-is-out"),
                    (is_bridged, "--physdev-is-bridged"),
                ] {
                    if let Some(n) = flag {
                        let _ = write!(s, "{} {name}", neg(*n));
                    }
                }
            }
        }
        f.write_str(&s)
    }
}

impl fmt::Display for Target {
    /// `-j TARGET options` with a leading space, or nothing for a counting rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::None => Ok(()),
            Target::Accept => f.write_str(" -j ACCEPT"),
            Target::Drop => f.write_str(" -j DROP"),
            Target::Return => f.write_str(" -j RETURN"),
            Target::Trace => f.write_str(" -j TRACE"),
            Target::Jump(c) => write!(f, " -j {c}"),
            Target::Goto(c) => write!(f, " -g {c}"),
            Target::Reject { with } => write!(f, " -j REJECT --reject-with {with}"),
            Target::Dnat {
                to,
                random,
                persistent,
            } => {
                write!(f, " -j DNAT --to-destination {to}")?;
                if *random {
                    f.write_str(" --random")?;
                }
                if *persistent {
                    f.write_str(" --persistent")?;
                }
                Ok(())
            }
            Target::Snat {
                to,
                random,
                random_fully,
                persistent,
            } => {
                write!(f, " -j SNAT --to-source {to}")?;
                if *random {
                    f.write_str(" --random")?;
                }
                if *random_fully {
                    f.write_str(" --random-fully")?;
                }
                if *persistent {
                    f.write_str(" --persistent")?;
                }
                Ok(())
            }
            Target::Masquerade {
                to_ports,
                random,
                random_fully,
            } => {
                f.write_str(" -j MASQUERADE")?;
                if let Some(p) = to_ports {
                    write!(f, " --to-ports {}", p.nat_text())?;
                }
                if *random {
                    f.write_str(" --random")?;
                }
                if *random_fully {
                    f.write_str(" --random-fully")?;
                }
                Ok(())
            }
            Target::Mark { value, mask } => {
                write!(f, " -j MARK --set-xmark {}/{}", hex(*value), hex(*mask))
            }
            Target::Nflog(n) => {
                // nflog_print: prefix, group (when not 0), size or range, threshold.
                f.write_str(" -j NFLOG")?;
                if let Some(p) = &n.prefix {
                    write!(f, " --nflog-prefix {}", save_string(p))?;
                }
                if n.group != 0 {
                    write!(f, " --nflog-group {}", n.group)?;
                }
                match n.size {
                    Some((true, v)) => write!(f, " --nflog-size {v}")?,
                    Some((false, v)) => write!(f, " --nflog-range {v}")?,
                    None => {}
                }
                if let Some(t) = n.threshold {
                    write!(f, " --nflog-threshold {t}")?;
                }
                Ok(())
            }
            Target::Unknown(u) => write!(f, " -j{}", u.words()),
            Target::Redirect { to_ports, random } => {
                f.write_str(" -j REDIRECT")?;
                if let Some(p) = to_ports {
                    write!(f, " --to-ports {}", p.nat_text())?;
                }
                if *random {
                    f.write_str(" --random")?;
                }
                Ok(())
            }
            Target::Connmark(op) => match op {
                ConnmarkOp::SetXmark { value, mask } => {
                    write!(f, " -j CONNMARK --set-xmark {}/{}", hex(*value), hex(*mask))
                }
                ConnmarkOp::Save { nfmask, ctmask } => write!(
                    f,
                    " -j CONNMARK --save-mark --nfmask {} --ctmask {}",
                    hex(*nfmask),
                    hex(*ctmask)
                ),
                ConnmarkOp::Restore { nfmask, ctmask } => write!(
                    f,
                    " -j CONNMARK --restore-mark --nfmask {} --ctmask {}",
                    hex(*nfmask),
                    hex(*ctmask)
                ),
            },
            Target::Tcpmss { mss: Some(m) } => write!(f, " -j TCPMSS --set-mss {m}"),
            Target::Tcpmss { mss: None } => f.write_str(" -j TCPMSS --clamp-mss-to-pmtu"),
            Target::Notrack { ct: true } => f.write_str(" -j CT --notrack"),
            Target::Notrack { ct: false } => f.write_str(" -j NOTRACK"),
            Target::Log { prefix, level } => {
                f.write_str(" -j LOG")?;
                if let Some(p) = prefix {
                    write!(f, " --log-prefix {}", save_string(p))?;
                }
                if let Some(l) = level {
                    write!(f, " --log-level {l}")?;
                }
                Ok(())
            }
        }
    }
}

impl Rule {
    /// The rule's text after `-A CHAIN`, exactly as iptables-save prints it: `-s -d -i -o
    /// -p` first, then the modules in the order they were given, then the target.
    /// `-A CHAIN spec`, as iptables-save prints the rule in chain `chain`; made once.
    pub fn text(&self, chain: &str) -> std::borrow::Cow<'_, str> {
        let (c, text) = self
            .text
            .0
            .get_or_init(|| Box::new((chain.into(), format!("-A {chain} {}", self.spec()).into())))
            .as_ref();
        if **c == *chain {
            std::borrow::Cow::Borrowed(text)
        } else {
            // The same rule in another chain (only tables built by hand share rules so).
            std::borrow::Cow::Owned(format!("-A {chain} {}", self.spec()))
        }
    }

    pub fn spec(&self) -> String {
        let mut s = String::new();
        if let Some((n, inv)) = &self.src {
            let _ = write!(s, "{} -s {}", neg(*inv), net_text(n));
        }
        if let Some((n, inv)) = &self.dst {
            let _ = write!(s, "{} -d {}", neg(*inv), net_text(n));
        }
        if let Some((i, inv)) = self.in_iface.as_deref() {
            let _ = write!(s, "{} -i {i}", neg(*inv));
        }
        if let Some((o, inv)) = self.out_iface.as_deref() {
            let _ = write!(s, "{} -o {o}", neg(*inv));
        }
        if let Some((p, inv)) = &self.proto {
            let _ = write!(s, "{} -p {}", neg(*inv), proto_text(*p));
        }
        for m in &self.matches {
            let _ = write!(s, "{m}");
        }
        let _ = write!(s, "{}", self.target);
        s.trim_start().to_string()
    }
}
