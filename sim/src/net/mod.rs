//! The Linux objects the datapath walks through. A `World` is every namespace of a
//! cluster, as the controllers in `k8s` programmed them.

pub mod entries;
pub mod ipfrag;
pub mod iproute2;
pub mod link;
pub mod neigh;
pub mod netns;
pub mod route;
pub mod sysctl;
mod world;

pub use entries::Entries;
pub use link::{Bridge, FdbEntry, IfIndex, Link, LinkKind, LinkRef, NsId, Vxlan, VxlanFdb};
pub use neigh::{Neigh, NudState};
pub use netns::{IpvsUnknown, Netns, NsKind, Pmtudisc, Socket, SocketOwner, Unknowns};
pub use route::{Route, RouteProto, RouteTable, RouteType, Scope};
pub use sysctl::Sysctls;
pub use world::World;
