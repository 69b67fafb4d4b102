//! Deterministic MAC addresses. The kernel draws most of these at random
//! (`eth_hw_addr_random`); kpath derives them from names and addresses so a trace reads the
//! same on every machine and every run.

use crate::wire::{Ipv4Addr, Mac};

/// FNV-1a: a small, stable hash for names (never for anything a user could attack).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// A locally administered unicast MAC from a name.
pub fn from_name(name: &str) -> Mac {
    let h = fnv1a(name).to_be_bytes();
    Mac([(h[0] & 0xfe) | 0x02, h[1], h[2], h[3], h[4], h[5]])
}

/// `0a:58:` + the IPv4 address: the convention the CNI bridge plugin used for pod and
/// gateway MACs (hwaddr.PrivateMACPrefix), handy because the MAC names its owner.
pub fn cni_mac(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    Mac([0x0a, 0x58, o[0], o[1], o[2], o[3]])
}

/// A node's NIC: `52:54:00` (the QEMU/KVM prefix) + the low three bytes of its IP.
pub fn node_nic_mac(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    Mac([0x52, 0x54, 0x00, o[1], o[2], o[3]])
}

/// The switch port facing a node's NIC: `fe:54:00` + the same bytes, as libvirt names taps.
pub fn switch_port_mac(ip: Ipv4Addr) -> Mac {
    let o = ip.octets();
    Mac([0xfe, 0x54, 0x00, o[1], o[2], o[3]])
}

/// flannel.1's VtepMAC. flanneld lets the kernel pick one when it creates the device and
/// publishes it in the node's `flannel.alpha.coreos.com/backend-data` annotation; kpath
/// derives `0e:00:` + the node IP so every node's VTEP is recognisable in a trace.
pub fn flannel_vtep_mac(node_ip: Ipv4Addr) -> Mac {
    let o = node_ip.octets();
    Mac([0x0e, 0x00, o[0], o[1], o[2], o[3]])
}
