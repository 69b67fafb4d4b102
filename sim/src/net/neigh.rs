//! The neighbour (ARP) table (`net/core/neighbour.c`, `net/ipv4/arp.c`).

use super::Entries;
use super::link::IfIndex;
use crate::wire::{Ipv4Addr, Mac};

/// NUD states as `ip neigh` prints them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NudState {
    Permanent,
    Reachable,
    Stale,
    Failed,
}

impl NudState {
    pub fn name(&self) -> &'static str {
        match self {
            NudState::Permanent => "PERMANENT",
            NudState::Reachable => "REACHABLE",
            NudState::Stale => "STALE",
            NudState::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neigh {
    pub ip: Ipv4Addr,
    pub dev: IfIndex,
    pub lladdr: Option<Mac>,
    pub state: NudState,
}

/// Find the usable entry for `ip` on `dev` (FAILED entries are not usable).
pub fn lookup<'a, N>(table: N, dev: IfIndex, ip: Ipv4Addr) -> Option<&'a Neigh>
where
    N: IntoIterator<Item = &'a Neigh>,
{
    table
        .into_iter()
        .find(|n| n.dev == dev && n.ip == ip && n.lladdr.is_some() && n.state != NudState::Failed)
}

/// `neigh_update`: create or refresh an entry; permanent entries are left alone.
pub fn update(table: &mut Entries<Neigh>, dev: IfIndex, ip: Ipv4Addr, mac: Mac, state: NudState) {
    let same = |n: &&Neigh| n.dev == dev && n.ip == ip;
    match table.iter().find(same) {
        Some(n) if n.state == NudState::Permanent => {}
        Some(_) => {
            if let Some(n) = table.make_mut().iter_mut().find(|n| same(&&**n)) {
                n.lladdr = Some(mac);
                n.state = state;
            }
        }
        None => table.push(Neigh {
            ip,
            dev,
            lladdr: Some(mac),
            state,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_entries_are_not_usable_even_with_an_old_address() {
        let ip: Ipv4Addr = "10.244.1.1".parse().unwrap();
        let mac = Mac([2, 0, 0, 0, 0, 1]);
        let mut table: Entries<Neigh> = vec![Neigh {
            ip,
            dev: 2,
            lladdr: Some(mac),
            state: NudState::Failed,
        }]
        .into();
        assert!(lookup(&table, 2, ip).is_none());
        update(&mut table, 2, ip, mac, NudState::Reachable);
        assert_eq!(
            lookup(&table, 2, ip).map(|n| n.state),
            Some(NudState::Reachable)
        );
        table.make_mut()[0].lladdr = None;
        assert!(lookup(&table, 2, ip).is_none());
    }
}
