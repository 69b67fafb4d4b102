//! The topology of a world, as a picture of it shows it: the nodes as boxes holding their pods
//! and devices (bridges, VXLAN devices, NICs, kube-ipvs0), the underlay segment, the gateway
//! and the internet hosts below them, the VXLAN tunnels between nodes, and the links joining
//! all of these (veth pairs, cables, a VXLAN device over its NIC). And, for a trace, where the
//! packet stands at a step, where it has been, and whether it is inside a tunnel then.
//!
//! Everything is read from the [`World`](crate::net::World) (its namespaces, their kinds, devices, addresses and
//! peers), not from the scenario, so a node rebuilt from its dumps has a topology too. This is
//! the model the TUI's topology pane lays out, and what diagrams (SVG) will draw: they decide
//! only where and how to draw it.

mod build;
mod position;
#[cfg(test)]
mod tests;

pub use position::{Encap, Mark, Position, encapsulation, path, where_is};

use crate::wire::{Ipv4Addr, Ipv4Net};
use serde::Serialize;

/// A place a packet can stand: a namespace, and the device in it when a step names one.
/// A place without a device stands for the whole namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Place {
    pub netns: String,
    pub device: Option<String>,
}

impl Place {
    /// The whole namespace.
    pub fn ns(netns: &str) -> Place {
        Place {
            netns: netns.to_string(),
            device: None,
        }
    }

    /// One device of a namespace.
    pub fn dev(netns: &str, device: &str) -> Place {
        Place {
            netns: netns.to_string(),
            device: Some(device.to_string()),
        }
    }

    /// Is a packet standing at `at` inside what this place names? The same device, or
    /// anywhere in the namespace when this place names no device.
    pub fn covers(&self, at: &Place) -> bool {
        self.netns == at.netns && (self.device.is_none() || self.device == at.device)
    }
}

/// What a row of a node box is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A pod's namespace, on the node its veth pair leads to.
    Pod,
    /// A Linux bridge (cni0).
    Bridge,
    /// A VXLAN device (flannel.1).
    Vxlan,
    /// A NIC cabled to the underlay (eth0).
    Nic,
    /// A NIC whose far side is not modelled (a node rebuilt from its dumps).
    Uplink,
    /// A dummy device: kube-ipvs0, holding every Service address in IPVS mode.
    Dummy,
}

/// A pod or a device inside a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub kind: ItemKind,
    /// The pod's or the device's name.
    pub name: String,
    /// The words a picture prints for it: `pod client 10.244.1.2`, `cni0`,
    /// `kube-ipvs0 (2 VIPs)`.
    pub label: String,
    /// Where it is: a pod is its whole namespace, a device is itself.
    pub place: Place,
    /// Its addresses (a pod's outside loopback; a dummy's are the virtual services').
    pub addrs: Vec<Ipv4Net>,
}

/// A node: its host namespace with the devices a picture shows, and its pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeBox {
    pub name: String,
    pub netns: String,
    /// The node's address: its NIC's first.
    pub ip: Option<Ipv4Addr>,
    /// Pods first, in the world's order, then the devices in the order they were made.
    pub items: Vec<Item>,
}

impl NodeBox {
    /// Is a packet standing at `at` in this node: in its host namespace or in one of its
    /// pods?
    pub fn holds(&self, at: &Place) -> bool {
        at.netns == self.netns || self.items.iter().any(|i| i.place.netns == at.netns)
    }
}

/// The L2 segment joining the nodes' NICs (a switch in a namespace of its own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Underlay {
    pub netns: String,
    /// The segment's prefix, from the addresses of the NICs cabled to it.
    pub cidr: Option<Ipv4Net>,
    /// `underlay 172.31.0.0/24`.
    pub label: String,
}

/// A namespace outside the cluster: the gateway router, or a host on the internet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Host {
    pub name: String,
    pub netns: String,
    pub ip: Option<Ipv4Addr>,
    /// `gateway`, `internet: example`.
    pub label: String,
}

/// A VXLAN tunnel from one node to another: a node's VXLAN device sends frames for the
/// other node's VTEP to its address (a `bridge fdb ... dst` entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    pub from_node: String,
    pub to_node: String,
    /// The sending VXLAN device (flannel.1).
    pub device: String,
    pub vni: u32,
    pub dstport: u16,
    /// The outer source address (the sending node's) and destination (the other node's).
    pub local: Ipv4Addr,
    pub remote: Ipv4Addr,
}

/// How two places are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    /// A veth pair (a pod's eth0 and its end on the node's bridge; the gateway's link to an
    /// internet host).
    Veth,
    /// A cable: a NIC and its switch port on the underlay.
    Cable,
    /// A VXLAN device sending over its underlay device (`dev eth0`).
    Over,
}

/// A link between two places. An end that is a bridge port is drawn as its bridge, and
/// `via` names the port devices a packet crosses on the way (the host end of a pod's veth,
/// a NIC's switch port), so a step standing there can be shown on the link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    pub a: Place,
    pub b: Place,
    pub kind: LinkType,
    pub via: Vec<Place>,
}

impl Link {
    /// Is a packet standing at `at` on this link's ports (not at its ends)?
    pub fn carries(&self, at: &Place) -> bool {
        self.via.iter().any(|v| v.covers(at))
    }
}

/// Everything a picture of the world shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// The nodes, in the world's order.
    pub nodes: Vec<NodeBox>,
    pub underlay: Option<Underlay>,
    pub gateway: Option<Host>,
    pub internet: Vec<Host>,
    pub tunnels: Vec<Tunnel>,
    pub links: Vec<Link>,
}
