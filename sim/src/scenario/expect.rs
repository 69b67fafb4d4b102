//! `expect:` blocks: what a packet or a flow must do, checked by `kpath test` on the
//! structured trace (never on rendered text). Every key is optional; only what is written
//! is checked.

use serde::Deserialize;
use serde_saphyr::Spanned;

/// The expectations of a packet (and of each packet of a flow, under `flow.expect.packets`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    /// How the walk ends: delivered, dropped, rejected, no-route, no-listener,
    /// ttl-exceeded, neighbour-unreachable, fragmentation-needed, message-too-long, loop,
    /// no-such-name, dns-failed.
    #[serde(default)]
    pub disposition: Option<Spanned<String>>,
    /// Where it ends: `pod/NS/NAME[:PORT]`, `node/NAME`, `host/NAME`, or a namespace name.
    /// For a delivery with a port, the port it was delivered to.
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// For a drop or a reject: the rule that did it.
    #[serde(default)]
    pub by: Option<Spanned<RuleRef>>,
    /// A substring of the disposition's reason.
    #[serde(default)]
    pub reason: Option<Spanned<String>>,
    /// `IP[:PORT]` the packet is addressed to when it arrives (after DNAT).
    #[serde(default)]
    pub destination: Option<Spanned<String>>,
    /// `IP[:PORT]` it comes from when it arrives (after SNAT/MASQUERADE).
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// Whether its source changed on the way (SNAT or MASQUERADE).
    #[serde(default)]
    pub masqueraded: Option<Spanned<bool>>,
    /// TTL on arrival.
    #[serde(default)]
    pub ttl: Option<Spanned<u8>>,
    /// IP total length on arrival.
    #[serde(default)]
    pub length: Option<Spanned<usize>>,
    /// It was VXLAN-encapsulated on the way, with these outer headers.
    #[serde(default)]
    pub encapsulation: Option<Spanned<Encap>>,
    /// Steps that must appear, in this order (other steps may come between).
    #[serde(default)]
    pub steps: Vec<Spanned<StepMatch>>,
    /// Steps that must not appear anywhere.
    #[serde(default)]
    pub not_steps: Vec<Spanned<StepMatch>>,
    /// Conntrack's view at its lookups, in order: `{netns: node-1, state: NEW}`.
    #[serde(default)]
    pub conntrack: Vec<Spanned<CtMatch>>,
    /// With every random choice enumerated: the set of outcomes and their probabilities.
    #[serde(default)]
    pub outcomes: Option<Spanned<Vec<OutcomeMatch>>>,
}

/// A netfilter rule, by table and chain and either its position or its comment.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleRef {
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub chain: Option<String>,
    /// 1-based position in the chain; 0 for the chain's policy.
    #[serde(default)]
    pub rule: Option<usize>,
    /// The rule's `-m comment`, exactly.
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Encap {
    #[serde(default)]
    pub vni: Option<u32>,
    #[serde(default)]
    pub udp_port: Option<u16>,
    #[serde(default)]
    pub outer_src: Option<String>,
    #[serde(default)]
    pub outer_dst: Option<String>,
}

/// A step, by any of its fields; every given field must match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StepMatch {
    #[serde(default)]
    pub netns: Option<String>,
    #[serde(default)]
    pub device: Option<String>,
    /// The kernel function (`br_nf_pre_routing`, `vxlan_xmit`, ...).
    #[serde(default)]
    pub func: Option<String>,
    /// PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING.
    #[serde(default)]
    pub hook: Option<String>,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub chain: Option<String>,
    /// A substring of the rule as iptables-save prints it.
    #[serde(default)]
    pub rule: Option<String>,
    /// The rule's comment, exactly.
    #[serde(default)]
    pub comment: Option<String>,
    /// A substring of what the rule did (`jump KUBE-SVC-`, `dnat to 10.244.2.5:80`,
    /// `policy accept`).
    #[serde(default)]
    pub action: Option<String>,
    /// A substring of the step's note.
    #[serde(default)]
    pub note: Option<String>,
    /// Whose step: `packet` (the default), `arp`, `response`, `dns` (the lookup before
    /// the packet), or `any`.
    #[serde(default)]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CtMatch {
    #[serde(default)]
    pub netns: Option<String>,
    /// NEW, ESTABLISHED, RELATED, INVALID.
    pub state: String,
}

/// One expected outcome of `--all-outcomes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutcomeMatch {
    #[serde(default)]
    pub disposition: Option<String>,
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub destination: Option<String>,
    /// The probability, to 4 decimals (0.3333).
    pub probability: f64,
}

/// The expectations of a flow.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FlowExpect {
    /// Every planned packet reached its socket.
    #[serde(default)]
    pub completed: Option<Spanned<bool>>,
    /// The labels of the packets walked, in order (`[SYN, SYN-ACK, RST]`).
    #[serde(default)]
    pub packets: Option<Spanned<Vec<String>>>,
    /// Each reply reaches the client from the address and port it sent to (conntrack
    /// restored the original tuple).
    #[serde(default)]
    pub original_tuple: Option<Spanned<bool>>,
    /// Expectations for single packets of the flow, by label.
    #[serde(default)]
    pub each: std::collections::BTreeMap<String, Expect>,
    /// With every random choice enumerated: the outcomes (`at` = where the first packet was
    /// delivered) and their probabilities.
    #[serde(default)]
    pub outcomes: Option<Spanned<Vec<OutcomeMatch>>>,
}
