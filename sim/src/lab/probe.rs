//! What the lab sends: for each packet and each flow of a scenario, what the lab's sender
//! does to make the real kernel send the same packets, and kpath's outcomes to compare
//! them with.

use super::send::{self, FlowPlan, SendPlan, ServePlan};
use crate::net::{Pmtudisc, World};
use crate::resolve::ResolveError;
use crate::scenario::{IpProtocol, Scenario};
use crate::trace::{FlowTrace, Trace};

/// How a packet is sent: the part of a `packets:` or `flows:` entry the sender needs.
pub struct SendSpec {
    pub protocol: IpProtocol,
    pub size: Option<u16>,
    /// The scenario's `df:` (None: the socket's default, IP_PMTUDISC_WANT).
    pub df: Option<bool>,
    pub ttl: Option<u8>,
}

/// What the lab checks: a scenario packet, or a flow, with every outcome kpath finds for
/// it, and what the lab's sender and servers do to make the kernel send the same.
pub struct Item {
    /// `packet` or `flow`.
    pub kind: &'static str,
    pub name: String,
    pub how: SendSpec,
    /// The packet's outcomes, or each flow outcome's first packet.
    pub outcomes: Vec<Trace>,
    /// A flow's outcomes, every packet of each (empty for a packet).
    pub flows: Vec<FlowTrace>,
    /// What the sender does; None when kpath sent nothing (a name that did not resolve).
    pub plan: Option<SendPlan>,
    /// What the servers answer meanwhile.
    pub serve: ServePlan,
}

pub fn items(s: &Scenario, w: &World, only: Option<&str>) -> Result<Vec<Item>, ResolveError> {
    let mut out = Vec::new();
    for p in s
        .packets
        .iter()
        .filter(|p| only.is_none_or(|o| o == p.name.value))
    {
        let outcomes: Vec<Trace> = crate::run::packet_outcomes(s, w, &p.name.value)?
            .into_iter()
            .map(|o| o.result)
            .collect();
        let how = SendSpec {
            protocol: p.protocol,
            size: p.size.as_ref().map(|s| s.value),
            df: p.df,
            ttl: p.ttl,
        };
        let plan = outcomes
            .first()
            .and_then(|t| send::plan(t, Pmtudisc::from_df(p.df), None));
        out.push(Item {
            kind: "packet",
            name: p.name.value.clone(),
            how,
            outcomes,
            flows: Vec::new(),
            plan,
            serve: ServePlan::default(),
        });
    }
    for f in s
        .flows
        .iter()
        .filter(|f| only.is_none_or(|o| o == f.name.value))
    {
        let flows: Vec<FlowTrace> = crate::run::flow_outcomes(s, w, &f.name.value)?
            .into_iter()
            .map(|o| o.result)
            .collect();
        let firsts: Vec<Trace> = flows
            .iter()
            .filter_map(|o| o.packets.first().map(|p| p.trace.clone()))
            .collect();
        let how = SendSpec {
            protocol: f.protocol,
            size: None,
            df: None,
            ttl: None,
        };
        // The engine's flow model: a UDP request and response carry at least one byte.
        let udp = f.protocol == IpProtocol::Udp;
        let least = |n: u16| usize::from(if udp { n.max(1) } else { n });
        let flow = FlowPlan {
            request: least(f.request),
            response: least(f.response),
            close: f.close,
        };
        let plan = firsts
            .first()
            .and_then(|t| send::plan(t, Pmtudisc::Want, Some(flow)))
            .map(|mut p| {
                // The sender sends what the scenario says, not a TTL of its own.
                p.ttl = None;
                let ports = flows
                    .first()
                    .map(send::connection_ports)
                    .unwrap_or_default();
                p.again = ports.into_iter().skip(1).collect();
                p
            });
        out.push(Item {
            kind: "flow",
            name: f.name.value.clone(),
            how,
            outcomes: firsts,
            flows,
            plan,
            serve: ServePlan {
                request: flow.request,
                response: flow.response,
            },
        });
    }
    Ok(out)
}
