//! A trace: every step the kernel took with one packet, and how its journey ended.
//! The renderers in `crate::render` turn a trace into bytes; they never decide anything.

mod view;

pub use view::{OuterView, PacketView};

use crate::netfilter::eval::HitAction;
use crate::netfilter::{Hook, RuleRef, Verdict};
use crate::wire::Frame;
use serde::Serialize;

/// What kind of kernel stage a step stands for (the TUI colours by it; filters use it).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A socket hands the packet to the stack, or the stack hands it to a socket.
    Socket,
    /// A frame crosses a device (veth, NIC, loopback).
    Link,
    /// Bridge processing: FDB learning, lookup, forwarding, flooding.
    Bridge,
    /// Routing decisions and IP-layer processing (TTL, MTU).
    Routing,
    /// A netfilter hook and the table chain walked there.
    Netfilter,
    /// Connection tracking: lookup, new entries, confirmation.
    Conntrack,
    /// Address translation applied to the packet.
    Nat,
    /// IPVS: a virtual service schedules a real server, or translates a packet of one of
    /// its connections.
    Ipvs,
    /// ARP and the neighbour table.
    Neighbour,
    /// VXLAN encapsulation.
    Encap,
    /// VXLAN decapsulation.
    Decap,
    /// The packet reached its destination socket.
    Delivery,
    /// The packet was dropped or refused.
    Drop,
    /// An ICMP error or TCP reset generated in answer.
    Icmp,
}

/// Which packet a step is about: the traced packet, or one the kernel sent because of it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Packet,
    ArpRequest,
    ArpReply,
    /// An ICMP error or a TCP RST sent back to the source.
    Response,
    /// The resolver's DNS query, or CoreDNS's answer, sent before the packet (its name
    /// had to be looked up).
    Dns,
}

/// The netfilter part of a step: hook, table, chain and verdict, with the devices iptables
/// matched on (`-i`/`-o`; for bridged frames that is the bridge, not the port).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NfStep {
    pub hook: Hook,
    /// The rule (or policy) that touched the packet: table, chain, position, text.
    #[serde(flatten)]
    pub rule: RuleRef,
    /// What the rule did. Traces print it in nft monitor trace's words (`verdict jump
    /// KUBE-SVC-...`, `dnat to 10.244.2.5:8080`, `policy accept`).
    #[serde(serialize_with = "action_words")]
    pub action: HitAction,
    /// The final verdict when this step ended the table's walk.
    pub verdict: Option<Verdict>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// The packet mark after the rule.
    pub mark: u32,
    /// The packet mark before the rule (the text trace shows a change: `mark 0x0 ->
    /// 0x4000`; JSON steps carry each step's `mark`, so it is not repeated there).
    #[serde(skip)]
    pub mark_before: u32,
    /// Why the rule acted and why the rules before it did not (text only: JSON steps
    /// carry the rule).
    #[serde(skip)]
    pub reasons: Option<Box<crate::netfilter::why::Reasons>>,
    /// On the step that ended a table's walk: how many rules the walk looked at, matched
    /// or not - the cost of the walk (`kpath compare` adds them up).
    #[serde(skip_serializing_if = "is_zero")]
    pub evaluated: usize,
    /// The set or map element an nf_tables rule's lookup found
    /// (`172.30.0.41 . tcp . 80 : goto service-...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
}

fn action_words<S: serde::Serializer>(a: &HitAction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.describe())
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// 1-based position in the trace.
    pub index: usize,
    pub netns: String,
    pub device: Option<String>,
    /// The kernel function this step stands for (`br_handle_frame`, `ip_forward`, ...).
    pub func: &'static str,
    pub kind: StepKind,
    pub role: Role,
    /// The netfilter hook this step belongs to, if any.
    pub hook: Option<Hook>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nf: Option<NfStep>,
    /// For conntrack steps: the entry as `conntrack -L` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<String>,
    /// For conntrack lookups: the state conntrack gave the packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ct_state: Option<crate::netfilter::rule::CtState>,
    /// For IPVS steps: the connection (client, virtual service, real server) at work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipvs: Option<crate::ipvs::conn::IpvsConn>,
    /// What happened and why, in plain words.
    pub note: String,
    /// The packet as it is after this step.
    #[serde(skip)]
    pub packet: Frame,
    /// Set when the packet crossed a link at this step: the pcap interface it is captured on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DispositionKind {
    /// Reached a socket (or the kernel's ICMP echo responder).
    Delivered,
    /// No route to the destination (`ip_route_input`/`ip_route_output` failed).
    NoRoute,
    /// Reached the host but nothing listens on the port: TCP RST or ICMP port unreachable.
    NoListener,
    /// TTL ran out in `ip_forward`: ICMP time exceeded.
    TtlExceeded,
    /// ARP got no answer: the next hop does not exist on the link.
    NeighbourUnreachable,
    /// Dropped by a device, a rule or a missing table entry.
    Dropped,
    /// Refused by a REJECT rule: an ICMP error or TCP RST goes back.
    Rejected,
    /// The destination name did not resolve (NXDOMAIN).
    NoSuchName,
    /// The resolver's DNS query or its answer was lost on the way: getaddrinfo fails
    /// (EAI_AGAIN, "Temporary failure in name resolution") and nothing is sent.
    DnsFailed,
    /// Too big for the next link with DF set: ICMP fragmentation needed sent back.
    FragmentationNeeded,
    /// The sender's own stack refused it: larger than the route MTU with DF set (EMSGSIZE).
    MessageTooLong,
    /// The walk did not end: a forwarding loop caught by the step cap.
    Loop,
    /// Sent out of a device whose far side is not modelled (a node rebuilt from its dumps):
    /// the packet left the model.
    Transmitted,
    /// The walk reached state its input does not hold (say, a node's IPVS table that was not
    /// given), so kpath cannot tell what happens next.
    Undetermined,
}

impl DispositionKind {
    /// The name scenario expectations use (`no-route`, `ttl-exceeded`, ...).
    pub fn key(&self) -> String {
        self.name().to_lowercase().replace(' ', "-")
    }

    pub fn name(&self) -> &'static str {
        match self {
            DispositionKind::Delivered => "delivered",
            DispositionKind::NoRoute => "no route",
            DispositionKind::NoListener => "no listener",
            DispositionKind::TtlExceeded => "TTL exceeded",
            DispositionKind::NeighbourUnreachable => "neighbour unreachable",
            DispositionKind::Dropped => "dropped",
            DispositionKind::Rejected => "rejected",
            DispositionKind::NoSuchName => "no such name",
            DispositionKind::DnsFailed => "DNS failed",
            DispositionKind::FragmentationNeeded => "fragmentation needed",
            DispositionKind::MessageTooLong => "message too long",
            DispositionKind::Loop => "loop",
            DispositionKind::Transmitted => "transmitted",
            DispositionKind::Undetermined => "undetermined",
        }
    }
}

/// How a walk ended, naming what decided it.
#[derive(Clone, Debug, Serialize)]
pub struct Disposition {
    pub kind: DispositionKind,
    pub netns: String,
    pub device: Option<String>,
    /// The route, rule, socket or missing entry that decided, in words.
    pub reason: String,
    /// For deliveries: the socket (`tcp 0.0.0.0:80 (container nginx)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<Box<str>>,
    /// For deliveries to a hostNetwork pod's socket: the pod (`namespace/name`), whose
    /// processes run in the node's namespace `netns`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Box<str>>,
    /// When a NetworkPolicy controller's rule dropped or rejected the packet: the policies
    /// that isolate its ends and why none allowed it, in the API's words.
    /// (Boxed: a walk's result is moved around a lot, and most have none.)
    #[serde(skip_serializing_if = "Option::is_none")]
    #[allow(clippy::box_collection)]
    pub policy: Option<Box<String>>,
}

/// One packet's journey.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub scenario: String,
    pub packet: String,
    pub seed: u64,
    /// The packet as its sender built it, before any step touched it (None when it was
    /// never built: its destination name did not resolve).
    #[serde(skip)]
    pub sent: Option<Frame>,
    pub steps: Vec<Step>,
    pub disposition: Disposition,
}

impl Trace {
    /// The traced packet's last step: the packet as it arrived, or as it was when it
    /// ended. An answer the kernel sent (an ICMP error, a RST) comes after the step that
    /// decided it, so it may be the trace's last step, but it is not the packet.
    pub fn arrival(&self) -> Option<&Step> {
        self.steps.iter().rev().find(|s| s.role == Role::Packet)
    }
}

impl Trace {
    /// Steps about the traced packet itself (not ARP or responses it caused).
    pub fn packet_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.role == Role::Packet)
    }
}

/// One packet of a flow.
#[derive(Clone, Debug, Serialize)]
pub struct FlowPacket {
    /// `SYN`, `SYN-ACK`, `request`, `RST`, ...
    pub label: String,
    /// Which side sent it: `client`, `server`, or `kernel` for a RST or ICMP error.
    pub side: &'static str,
    pub trace: Trace,
}

/// A whole flow: every packet of a connection or exchange, replies included.
#[derive(Clone, Debug, Serialize)]
pub struct FlowTrace {
    pub scenario: String,
    pub flow: String,
    pub seed: u64,
    pub packets: Vec<FlowPacket>,
    /// True when every planned packet reached its socket.
    pub completed: bool,
    pub summary: String,
}
