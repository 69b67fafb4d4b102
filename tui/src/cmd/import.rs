//! `kpath import kubectl DUMP`: a kubectl dump made a scenario file (sim/src/import), with
//! what was assumed or left out in its header and on stderr.

use crate::args::ProxyModeArg;
use crate::failure::{Failure, Output, usage};
use kpath_sim::cluster::ProxyMode;
use kpath_sim::import::{kubectl, write};
use std::path::PathBuf;

pub fn command(
    dump: PathBuf,
    output: Option<PathBuf>,
    pod_cidr: Option<String>,
    service_cidr: Option<String>,
    proxy_mode: Option<ProxyModeArg>,
) -> Result<Output, Failure> {
    let cidr = |flag: &str, v: Option<String>| match v {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            usage(format!(
                "{flag} {v}: not a CIDR\n  = hint: write ADDRESS/PREFIX, e.g. 10.244.0.0/16"
            ))
        }),
    };
    let opts = kubectl::Options {
        pod_cidr: cidr("--pod-cidr", pod_cidr)?,
        service_cidr: cidr("--service-cidr", service_cidr)?,
        proxy_mode: proxy_mode.map(|m| match m {
            ProxyModeArg::Iptables => ProxyMode::Iptables,
            ProxyModeArg::Ipvs => ProxyMode::Ipvs,
            ProxyModeArg::Nftables => ProxyMode::Nftables,
        }),
    };
    let (file, text) = kpath_sim::scenario::read_text(&dump, "dump")?;
    if !kpath_sim::import::documents::looks_like_objects(&text) {
        return Err(usage(format!(
            "{file} does not hold Kubernetes objects (its first key is not apiVersion, kind or items)\n  = hint: make it with `kubectl get nodes,namespaces,pods,services,endpointslices,networkpolicies -A -o yaml`"
        )));
    }
    let s = kubectl::scenario(&file, &text, &opts)?;
    for a in &s.assumptions {
        eprintln!("note: {a}");
    }
    let yaml = write::scenario(&s, &file);
    match output {
        None => Ok(Output::Text(yaml)),
        Some(o) => {
            std::fs::write(&o, &yaml)
                .map_err(|e| usage(format!("cannot write {}: {e}", o.display())))?;
            Ok(Output::Text(format!(
                "wrote {} ({} nodes, {} pods, {} Services, {} NetworkPolicies)\n",
                o.display(),
                s.cluster.nodes.len(),
                s.pods.len(),
                s.services.len(),
                s.network_policies.len()
            )))
        }
    }
}
