//! `kpath generate`: a cluster of a chosen size as a scenario (`kpath_sim::scale`), or one
//! node's dump of it, as iptables-save, ipset save or ipvsadm-save print it.

use crate::args::DumpFormat;
use crate::failure::{Failure, Output, usage};
use kpath_sim::cluster::ProxyMode;
use kpath_sim::k8s::{build_world, kube_proxy};
use kpath_sim::scale::{Size, scenario_yaml};

/// `--proxy-mode`: one mode kpath models.
pub fn mode(text: &str) -> Result<ProxyMode, Failure> {
    kube_proxy::parse_mode(text).ok_or_else(|| {
        let names: Vec<&str> = kube_proxy::MODES
            .iter()
            .map(|m| kube_proxy::controller(*m).name())
            .collect();
        usage(format!(
            "--proxy-mode: unknown kube-proxy mode `{text}`\n  = hint: one of {}",
            names.join(", ")
        ))
    })
}

/// `kpath generate`.
pub fn command(size: Size, dump: Option<DumpFormat>) -> Result<Output, Failure> {
    let yaml = scenario_yaml(&size).map_err(usage)?;
    let Some(dump) = dump else {
        return Ok(Output::Text(yaml));
    };
    // The dump is node-1's, from the same scenario loaded and built as any other.
    let s = kpath_sim::load_scenario_str("generated.yaml", &yaml)?;
    let w = build_world(s.model(), s.seed)?;
    let Some(node) = w.netns.iter().find(|n| n.name == "node-1") else {
        return Err(usage("the generated cluster has no node-1".into()));
    };
    Ok(Output::Text(match dump {
        DumpFormat::IptablesSave => node.netfilter.save(),
        DumpFormat::IpsetSave => node.ipsets.iter().map(|s| s.save()).collect(),
        DumpFormat::IpvsadmSave => node
            .ipvs
            .as_ref()
            .map(kpath_sim::ipvs::print::save)
            .unwrap_or_default(),
    }))
}
