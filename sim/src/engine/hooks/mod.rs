//! The modules that register netfilter hook functions (see `nf_hook.rs`), one file each,
//! in the order they register: conntrack, the iptables tables, NAT, IPVS, br_netfilter.
//! To add a rule engine, write its registrant here and list it in [`REGISTRANTS`].

mod br_netfilter;
mod conntrack;
mod iptables;
mod ipvs;
mod nat;

use super::nf_hook::Registrant;

/// Every registrant, in registration order (which decides between equal priorities).
pub(super) const REGISTRANTS: &[&dyn Registrant] = &[
    &conntrack::NfConntrack,
    &iptables::Iptables,
    &nat::NfNat,
    &ipvs::IpVs,
    &br_netfilter::BrNetfilter,
];
