//! Network devices (`struct net_device`) and the bridge forwarding database.

use crate::wire::Ipv4Net;
use crate::wire::{Ipv4Addr, Mac};
use serde::Serialize;

pub type IfIndex = u32;

/// Index of a network namespace in the world.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct NsId(pub usize);

/// A device in a given namespace: the far end of a veth pair or a cable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LinkRef {
    pub ns: NsId,
    pub ifindex: IfIndex,
}

#[derive(Clone, Debug)]
pub struct Link {
    pub ifindex: IfIndex,
    pub name: String,
    pub kind: LinkKind,
    pub mac: Mac,
    pub mtu: u32,
    /// Interface addresses with their prefix (`10.244.1.1/24`), primary first.
    pub addrs: Vec<Ipv4Net>,
    /// The bridge this device is a port of (`master cni0`).
    pub master: Option<IfIndex>,
    /// Bridge port flag `hairpin on`: frames may leave by the port they came in on.
    pub hairpin: bool,
    /// VXLAN `nolearning` etc. are kept on the kind; this is IFF_UP.
    pub up: bool,
}

#[derive(Clone, Debug)]
pub enum LinkKind {
    Loopback,
    /// One end of a veth pair; `veth_xmit` hands the frame to `peer`.
    Veth {
        peer: LinkRef,
    },
    /// A physical NIC cabled to a switch port (the underlay segment is a switch, modelled
    /// as a learning bridge in its own namespace).
    Ethernet {
        peer: LinkRef,
    },
    Bridge(Bridge),
    Vxlan(Vxlan),
    /// A dummy device (`drivers/net/dummy.c`): frames sent to it vanish. kube-proxy's
    /// kube-ipvs0 is one, kept down, holding every Service address.
    Dummy,
    /// A NIC whose far side is not modelled: the node rebuilt from its dumps sees packets
    /// arrive on it and sends packets out of it, and what it sends leaves the model. It needs
    /// no neighbour (kpath treats it as IFF_NOARP). `name_known` is false when the question
    /// did not name the interface: iptables' `-i`/`-o` then see no name at all.
    Uplink {
        name_known: bool,
    },
}

impl LinkKind {
    /// The word `ip -d link` prints after the link line.
    pub fn type_name(&self) -> &'static str {
        match self {
            LinkKind::Loopback => "loopback",
            LinkKind::Veth { .. } => "veth",
            LinkKind::Ethernet { .. } => "ether",
            LinkKind::Bridge(_) => "bridge",
            LinkKind::Vxlan(_) => "vxlan",
            LinkKind::Dummy => "dummy",
            LinkKind::Uplink { .. } => "uplink",
        }
    }

    /// The device on the other end of the cable, for point-to-point links.
    pub fn peer(&self) -> Option<LinkRef> {
        match self {
            LinkKind::Veth { peer } | LinkKind::Ethernet { peer } => Some(*peer),
            _ => None,
        }
    }
}

/// A Linux bridge (`net/bridge/`). Its FDB maps MACs to ports; local entries are the
/// addresses of the bridge and its ports (`bridge fdb` shows them `permanent`).
#[derive(Clone, Debug, Default)]
pub struct Bridge {
    pub fdb: Vec<FdbEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdbEntry {
    pub mac: Mac,
    /// The port; for the bridge's own address, the bridge's ifindex.
    pub port: IfIndex,
    /// `permanent`: an address of this host (br_fdb_insert with is_local).
    pub local: bool,
}

impl Bridge {
    pub fn lookup(&self, mac: Mac) -> Option<&FdbEntry> {
        self.fdb.iter().find(|e| e.mac == mac)
    }

    /// `br_fdb_update`: learn (or move) a source MAC on the port it arrived on. Returns true
    /// when the table changed. Local entries are never overwritten.
    pub fn learn(&mut self, mac: Mac, port: IfIndex) -> bool {
        match self.fdb.iter_mut().find(|e| e.mac == mac) {
            Some(e) if e.local || e.port == port => false,
            Some(e) => {
                e.port = port;
                true
            }
            None => {
                self.fdb.push(FdbEntry {
                    mac,
                    port,
                    local: false,
                });
                true
            }
        }
    }
}

/// A VXLAN device (`drivers/net/vxlan/`), as flannel creates flannel.1:
/// `vxlan id 1 local <nodeIP> dev eth0 dstport 8472 nolearning`.
#[derive(Clone, Debug)]
pub struct Vxlan {
    pub vni: u32,
    pub dstport: u16,
    pub local: Ipv4Addr,
    /// The underlay device (`dev eth0`).
    pub dev: IfIndex,
    pub learning: bool,
    /// `bridge fdb append <mac> dev flannel.1 dst <ip>`: where to send frames for a MAC.
    pub fdb: super::Entries<VxlanFdb>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanFdb {
    pub mac: Mac,
    pub dst: Ipv4Addr,
}
