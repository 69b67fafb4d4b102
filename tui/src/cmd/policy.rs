//! `kpath policy`: the reachability matrix between a scenario's pods under its
//! NetworkPolicies, per port, as Kubernetes' e2e netpol suite prints its truth tables; with
//! `--with FILE`, the matrix with more policies and what they change.

use crate::args::Format;
use crate::cmd::shared::load_with;
use crate::failure::{Failure, Output, usage};
use kpath_sim::policy::{Matrix, matrix};
use kpath_sim::render::policy as render;
use kpath_sim::wire::IpProtocol;
use std::path::PathBuf;

pub fn command(
    scenario: PathBuf,
    ports: Vec<String>,
    with: Option<PathBuf>,
    format: Format,
    manifests: &[PathBuf],
) -> Result<Output, Failure> {
    let s = load_with(&scenario, manifests)?;
    let mut wanted = Vec::new();
    for p in &ports {
        wanted.push(parse_port(p)?);
    }
    if wanted.is_empty() {
        wanted = declared_ports(s.model());
    }
    let before: Vec<Matrix> = wanted
        .iter()
        .map(|(port, proto)| matrix(s.model(), *port, *proto))
        .collect();
    let Some(with) = with else {
        return Ok(Output::Text(match format {
            Format::Json => render::json(&before, &[]),
            Format::Text => {
                before
                    .iter()
                    .map(|m| render::text(&s.file, m))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + enforcement(s.model())
            }
        }));
    };
    let name = with.display().to_string();
    let src = std::fs::read_to_string(&with)
        .map_err(|e| usage(format!("--with {name}: cannot read it: {e}")))?;
    let tried = kpath_sim::scenario::with_policies(s.clone(), &name, &src)?;
    let after: Vec<Matrix> = wanted
        .iter()
        .map(|(port, proto)| matrix(tried.model(), *port, *proto))
        .collect();
    let changes: Vec<Vec<render::Change>> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| render::changes(tried.model(), b, a))
        .collect();
    Ok(Output::Text(match format {
        Format::Json => render::json(&after, &changes.concat()),
        Format::Text => {
            after
                .iter()
                .zip(&changes)
                .map(|(m, c)| {
                    format!(
                        "{}{}",
                        render::text(&format!("{} with {name}", s.file), m),
                        render::changes_text(&name, m, c)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
                + enforcement(tried.model())
        }
    }))
}

/// Who enforces the matrix: it is the API's answer; kube-router's rules (which the walk
/// follows) enforce it, flannel alone does not.
fn enforcement(c: &kpath_sim::cluster::Cluster) -> &'static str {
    match c.network.cni.policy {
        Some(kpath_sim::cluster::PolicyEnforcer::KubeRouter) => {
            "note: this is what the NetworkPolicies say (the API's semantics); kube-router's rules enforce them in `kpath trace` (it also lets ICMP echo, destination unreachable and time exceeded through, whatever the policies say)\n"
        }
        None => {
            "note: this is what the NetworkPolicies say (the API's semantics); flannel alone does not enforce them, so `kpath trace` still delivers what is marked X here (add `policy: kube-router` to `cni:`)\n"
        }
    }
}

/// `80`, `80/tcp`, `53/UDP`, `9000/sctp`.
fn parse_port(text: &str) -> Result<(u16, IpProtocol), Failure> {
    let (num, proto) = text.split_once('/').unwrap_or((text, "tcp"));
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" => IpProtocol::Tcp,
        "udp" => IpProtocol::Udp,
        "sctp" => IpProtocol::Sctp,
        other => {
            return Err(usage(format!(
                "--port {text}: `{other}` is not a protocol a NetworkPolicy names\n  = hint: tcp, udp or sctp, e.g. --port 53/udp"
            )));
        }
    };
    let port = num.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
        usage(format!(
            "--port {text}: `{num}` is not a port (1-65535)\n  = hint: give PORT[/PROTOCOL], e.g. --port 80/tcp"
        ))
    })?;
    Ok((port, proto))
}

/// With no --port: every port the pods' containers declare (by protocol, then number), or
/// 80/TCP when none does.
fn declared_ports(c: &kpath_sim::cluster::Cluster) -> Vec<(u16, IpProtocol)> {
    let mut v: Vec<(u16, IpProtocol)> = c
        .pods
        .iter()
        .filter(|p| !p.host_network)
        .flat_map(|p| p.ports().map(|c| (c.container_port, c.protocol)))
        .collect();
    v.sort_by_key(|(port, proto)| (proto.number(), *port));
    v.dedup();
    if v.is_empty() {
        v.push((80, IpProtocol::Tcp));
    }
    v
}
