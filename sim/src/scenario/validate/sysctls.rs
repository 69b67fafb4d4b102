//! What a node sets on its devices: `sysctls:` (the cluster's and each node's: names kpath
//! models, values `sysctl -w` would take) and `linkMTU:`, each for devices the node has.

use super::Checker;
use crate::net::sysctl::{KNOWN, Key, Sysctls as Values};
use crate::scenario::{FlannelBackend, ProxyMode, ScenarioError, Sysctls, did_you_mean};

/// The devices every node has, whose `net.ipv4.conf.DEV.*` a scenario may set (the veths
/// are named after their pods' IDs, so they are not named here).
fn node_devices(c: &Checker) -> Vec<String> {
    let mut d: Vec<String> = ["lo", "eth0", "cni0"].map(String::from).into();
    if c.s.cluster.cni.backend == FlannelBackend::Vxlan {
        let vni = c.s.cluster.cni.vni.as_ref().map_or(1, |v| v.value);
        d.push(format!("flannel.{vni}"));
    }
    if c.s.kube_proxy.mode.as_ref().map(|m| m.value) == Some(ProxyMode::Ipvs) {
        d.push("kube-ipvs0".into());
    }
    d
}

pub(super) fn check_sysctls(c: &Checker) -> Result<(), ScenarioError> {
    let devices = node_devices(c);
    for n in &c.s.cluster.nodes {
        check_link_mtu(c, &n.link_mtu, &devices)?;
    }
    let maps =
        std::iter::once(&c.s.cluster.sysctls).chain(c.s.cluster.nodes.iter().map(|n| &n.sysctls));
    for m in maps {
        check_map(c, m, &devices)?;
    }
    Ok(())
}

fn check_map(c: &Checker, m: &Sysctls, devices: &[String]) -> Result<(), ScenarioError> {
    let mut scratch = Values::default();
    for (k, v) in &m.0 {
        let key = Key::parse(&k.value).map_err(|why| {
            let hint = match did_you_mean(&k.value, KNOWN.iter().copied()) {
                Some(m) => format!("did you mean `{m}`? kpath models: {}", KNOWN.join(", ")),
                None => format!("kpath models: {}", KNOWN.join(", ")),
            };
            c.err_at(k, why).with_hint(hint)
        })?;
        if let Some(dev) = key.device()
            && !devices.iter().any(|d| *d == dev)
        {
            let hint = format!(
                "the node's devices: {} (a device's dots may be written as sysctl writes them, `/`: flannel/1)",
                devices.join(", ")
            );
            return Err(c
                .err_at(
                    k,
                    format!(
                        "`{}` names device {dev}, which the nodes do not have",
                        k.value
                    ),
                )
                .with_hint(hint));
        }
        scratch
            .set(&key, &v.value.text())
            .map_err(|why| c.err_at(v, format!("{}: {why}", k.value)))?;
    }
    Ok(())
}

/// `linkMTU:`: devices the node has, and an MTU Linux takes (68, IPv4's minimum, to 65535).
fn check_link_mtu(
    c: &Checker,
    m: &crate::scenario::Keyed<u32>,
    devices: &[String],
) -> Result<(), ScenarioError> {
    for (dev, mtu) in &m.0 {
        let name = dev.value.replace('/', ".");
        if !devices.contains(&name) {
            return Err(c
                .err_at(dev, format!("the nodes have no device `{}`", dev.value))
                .with_hint(format!("the node's devices: {}", devices.join(", "))));
        }
        if !(68..=65535).contains(&mtu.value) {
            return Err(c
                .err_at(
                    mtu,
                    format!("MTU {} for {} is out of range", mtu.value, dev.value),
                )
                .with_hint("Linux takes 68 (IPv4's minimum) to 65535"));
        }
    }
    Ok(())
}
