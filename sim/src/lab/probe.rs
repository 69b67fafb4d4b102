//! What the lab sends: for each packet of a scenario (and the first packet of each flow),
//! the command that makes the real kernel send the same packet, and kpath's outcomes to
//! compare it with.

use crate::net::World;
use crate::resolve::ResolveError;
use crate::scenario::{IpProtocol, Scenario};
use crate::trace::PacketView;
use crate::trace::Trace;

/// How a packet is sent: the part of a `packets:` or `flows:` entry the sender needs.
pub struct SendSpec {
    pub protocol: IpProtocol,
    pub size: Option<u16>,
    /// The scenario's `df:` (None: the socket's default, IP_PMTUDISC_WANT).
    pub df: Option<bool>,
    pub ttl: Option<u8>,
}

/// What the lab checks: a scenario packet, or the first packet of a flow, with every
/// outcome kpath finds for it.
pub struct Item {
    /// `packet` or `flow`.
    pub kind: &'static str,
    pub name: String,
    pub how: SendSpec,
    pub outcomes: Vec<Trace>,
}

pub fn items(s: &Scenario, w: &World, only: Option<&str>) -> Result<Vec<Item>, ResolveError> {
    let mut out = Vec::new();
    for p in s
        .packets
        .iter()
        .filter(|p| only.is_none_or(|o| o == p.name.value))
    {
        let outcomes = crate::run::packet_outcomes(s, w, &p.name.value)?;
        let how = SendSpec {
            protocol: p.protocol,
            size: p.size.as_ref().map(|s| s.value),
            df: p.df,
            ttl: p.ttl,
        };
        out.push(Item {
            kind: "packet",
            name: p.name.value.clone(),
            how,
            outcomes: outcomes.into_iter().map(|o| o.result).collect(),
        });
    }
    for f in s
        .flows
        .iter()
        .filter(|f| only.is_none_or(|o| o == f.name.value))
    {
        let outcomes = crate::run::flow_outcomes(s, w, &f.name.value)?;
        let firsts = outcomes
            .into_iter()
            .filter_map(|o| o.result.packets.into_iter().next().map(|p| p.trace))
            .collect();
        let how = SendSpec {
            protocol: f.protocol,
            size: None,
            df: None,
            ttl: None,
        };
        out.push(Item {
            kind: "flow",
            name: f.name.value.clone(),
            how,
            outcomes: firsts,
        });
    }
    Ok(out)
}

/// The command that makes the kernel send the packet, from the namespace it leaves.
pub fn command(how: &SendSpec, t: &Trace) -> Option<(String, Vec<String>)> {
    let v = PacketView::of(t.sent.as_ref()?);
    let ns = t.steps.first()?.netns.clone();
    let dst = v.dst.clone();
    let argv: Vec<String> = match how.protocol {
        IpProtocol::Icmp => {
            let size = how.size.unwrap_or(56).to_string();
            let mut a = vec![
                "ping",
                "-n",
                "-c1",
                "-W2",
                "-s",
                &size,
                "-M",
                match how.df {
                    None => "want",
                    Some(true) => "do",
                    Some(false) => "dont",
                },
            ];
            let ttl = how.ttl.map(|t| t.to_string());
            if let Some(t) = &ttl {
                a.extend(["-t", t]);
            }
            a.push(&dst);
            a.into_iter().map(String::from).collect()
        }
        // -v: nc says "Connection refused" only when verbose.
        IpProtocol::Tcp => vec![
            "nc".into(),
            "-v".into(),
            "-z".into(),
            "-n".into(),
            "-w2".into(),
            dst,
            v.dport?.to_string(),
        ],
        // nc's UDP probe races the ICMP error; a connected socket's second write fails
        // with ECONNREFUSED exactly when the port unreachable came back (udp_err).
        // The datagram carries as many bytes as kpath's (IP length - 28).
        IpProtocol::Udp => {
            let payload = v.len.saturating_sub(28);
            let send = format!("printf '%*s' {payload} '' >&3");
            vec![
                "bash".into(),
                "-c".into(),
                format!(
                    "exec 3<>/dev/udp/{dst}/{} && {send} && sleep 0.5 && {send}",
                    v.dport?
                ),
            ]
        }
        IpProtocol::Sctp | IpProtocol::Other(_) => return None,
    };
    Some((ns, argv))
}
