//! A device as the controllers create it: up, no addresses, no master, its ifindex given
//! when it is added to a namespace. Below every controller (nodes, flannel, the CNI bridge,
//! kube-proxy's kube-ipvs0, the internet), so none imports another for it.

use crate::net::{Link, LinkKind};
use crate::wire::Mac;

pub(super) fn link(name: &str, kind: LinkKind, mac: Mac, mtu: u32) -> Link {
    Link {
        ifindex: 0,
        name: name.to_string(),
        kind,
        mac,
        mtu,
        addrs: Vec::new(),
        master: None,
        hairpin: false,
        up: true,
    }
}
