//! The `mh` scheduler: Maglev hashing as `net/netfilter/ipvs/ip_vs_mh.c` implements it.
//!
//! Every real server gets a preference list over a prime-sized lookup table (an offset and a
//! skip from two keyed hashes of its address and port); the servers take turns claiming
//! their next free preferred slot until the table is full. A new connection's source
//! address (and, with `mh-port`, source port) is hashed into the table.
//!
//! Nothing here is random: `generate_hash_secret` gives every service the same two
//! constant keys, so the table depends only on the real servers (list order, address, port,
//! `last_weight`) and this module rebuilds it exactly, on demand. The hash is the kernel's
//! `hsiphash` on a 64-bit little-endian machine (x86-64, arm64), where it is SipHash-1-3
//! (`lib/siphash.c`, `BITS_PER_LONG == 64`); 32-bit kernels use HalfSipHash and would pick
//! differently.

use super::RealServer;
use std::net::Ipv4Addr;

/// `CONFIG_IP_VS_MH_TAB_INDEX` (Kconfig default 12).
pub const TAB_INDEX: usize = 12;
/// The table sizes the index chooses from (`primes[]`).
const PRIMES: [usize; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];
/// `IP_VS_MH_TAB_SIZE = primes[CONFIG_IP_VS_MH_TAB_INDEX - 8]`: 4093 slots.
pub const TAB_SIZE: usize = PRIMES[TAB_INDEX - 8];
/// `IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX / 2`: weights over/gcd above 2^6 are
/// shifted down (`ip_vs_mh_shift_weight`).
const TAB_BITS: u32 = (TAB_INDEX / 2) as u32;

/// `generate_hash_secret`: fixed keys (`hsiphash_key_t`, two `unsigned long`s), the same
/// for every service and boot. hash1 places a server's first preference and hashes
/// sources; hash2 gives its skip.
pub const HASH1: [u64; 2] = [2_654_435_761, 2_654_435_761];
pub const HASH2: [u64; 2] = [2_654_446_892, 2_654_446_892];

/// `IP_VS_SVC_F_SCHED1` / `IP_VS_SVC_F_SCHED2` as ip_vs_mh.c reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `mh-fallback` (`IP_VS_SVC_F_SCHED_MH_FALLBACK`): past an unavailable server, probe on.
    pub fallback: bool,
    /// `mh-port` (`IP_VS_SVC_F_SCHED_MH_PORT`): hash the source port too.
    pub port: bool,
}

impl Flags {
    /// What kube-proxy sets for `--ipvs-scheduler=mh`: `FlagSourceHash` (0x10 =
    /// `IP_VS_SVC_F_SCHED2`, "mh-port") on every virtual service, never the fallback.
    pub const KUBE_PROXY: Flags = Flags {
        fallback: false,
        port: true,
    };
}

fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-c-d over `data` (`lib/siphash.c`: PREAMBLE, the 8-byte blocks, the tail with
/// the length in the top byte, POSTAMBLE).
fn siphash(data: &[u8], key: &[u64; 2], c: usize, d: usize) -> u64 {
    let mut v = [
        0x736f_6d65_7073_6575 ^ key[0],
        0x646f_7261_6e64_6f6d ^ key[1],
        0x6c79_6765_6e65_7261 ^ key[0],
        0x7465_6462_7974_6573 ^ key[1],
    ];
    let blocks = data.chunks_exact(8);
    let tail = blocks.remainder();
    for block in blocks {
        // Little-endian, as the kernel reads the block (chunks_exact: always 8 bytes).
        let m = block
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        v[3] ^= m;
        (0..c).for_each(|_| sipround(&mut v));
        v[0] ^= m;
    }
    let mut b = (data.len() as u64) << 56;
    for (i, byte) in tail.iter().enumerate() {
        b |= u64::from(*byte) << (8 * i);
    }
    v[3] ^= b;
    (0..c).for_each(|_| sipround(&mut v));
    v[0] ^= b;
    v[2] ^= 0xff;
    (0..d).for_each(|_| sipround(&mut v));
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// `hsiphash` on 64-bit kernels: SipHash-1-3 truncated to 32 bits (HSIPROUND = SIPROUND,
/// HPOSTAMBLE's one round then three).
pub fn hsiphash(data: &[u8], key: &[u64; 2]) -> u32 {
    siphash(data, key, 1, 3) as u32
}

/// `ip_vs_mh_hashkey`: `hsiphash` of the host-order u32 `offset + ntohs(port) +
/// ntohl(addr)` (its four bytes in memory: little-endian).
pub fn hashkey(addr: Ipv4Addr, port: u16, key: &[u64; 2], offset: u32) -> u32 {
    let v = offset
        .wrapping_add(u32::from(port))
        .wrapping_add(u32::from(addr));
    hsiphash(&v.to_le_bytes(), key)
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `fls`: the 1-based position of the highest set bit, 0 for 0.
fn fls(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// The lookup table `ip_vs_mh_reassign` leaves after any add, delete or edit of a real
/// server: for each of the `TAB_SIZE` slots, the index (list order) of its real server.
/// None: no server has a non-zero `last_weight` (`s->gcd < 1`), so `ip_vs_mh_reset`
/// emptied every slot.
///
/// Built from `last_weight`, not `weight`: a server quiesced to weight 0 keeps its slots
/// (lookups landing there find it unavailable) while one added with weight 0 gets none.
/// (The kernel refuses to rebuild for more than `TAB_SIZE` servers; kpath does not model
/// services that large.)
pub fn table(dests: &[RealServer]) -> Option<Vec<usize>> {
    // ip_vs_mh_gcd_weight, ip_vs_mh_shift_weight.
    let g = dests
        .iter()
        .map(|d| d.last_weight)
        .filter(|w| *w > 0)
        .fold(0, gcd);
    if g < 1 {
        return None;
    }
    let mw = dests.iter().map(|d| d.last_weight).max().unwrap_or(0) / g;
    let rshift = fls(mw).saturating_sub(TAB_BITS);

    // ip_vs_mh_permutate: each server's first choice, stride and claims per turn.
    struct Setup {
        skip: usize,
        perm: usize,
        turns: u32,
    }
    let mut setup: Vec<Setup> = dests
        .iter()
        .map(|d| {
            let h1 = hashkey(d.addr, d.port, &HASH1, 0) as usize;
            let h2 = hashkey(d.addr, d.port, &HASH2, 0) as usize;
            let lw = d.last_weight;
            let turns = (lw / g) >> rshift;
            Setup {
                skip: h2 % (TAB_SIZE - 1) + 1,
                perm: h1 % TAB_SIZE,
                turns: if turns != 0 {
                    turns
                } else {
                    u32::from(lw != 0)
                },
            }
        })
        .collect();

    // ip_vs_mh_populate: round robin over the list, each server claiming `turns` slots in
    // a row, each claim its next preferred slot that is still free.
    let mut taken = vec![false; TAB_SIZE];
    let mut lookup = vec![0usize; TAB_SIZE];
    let (mut i, mut n, mut dt_count) = (0usize, 0usize, 0u32);
    loop {
        let ds = &mut setup[i];
        if ds.turns < 1 {
            i = (i + 1) % dests.len();
            continue;
        }
        while taken[ds.perm] {
            ds.perm += ds.skip;
            if ds.perm >= TAB_SIZE {
                ds.perm -= TAB_SIZE;
            }
        }
        taken[ds.perm] = true;
        lookup[ds.perm] = i;
        n += 1;
        if n == TAB_SIZE {
            return Some(lookup);
        }
        dt_count += 1;
        if dt_count >= ds.turns {
            dt_count = 0;
            i = (i + 1) % dests.len();
        }
    }
}

/// `ip_vs_mh_get` / `ip_vs_mh_get_fallback` over a table from [`table`]: the real server
/// for a new connection from `addr` (`port`: the source port, or 0 without `mh-port`).
/// None: the slot is empty, or its server unavailable (weight 0) and no fallback found one.
pub fn lookup(
    dests: &[RealServer],
    table: Option<&[usize]>,
    addr: Ipv4Addr,
    port: u16,
    fallback: bool,
) -> Option<usize> {
    let table = table?;
    let available = |i: usize| dests[i].weight > 0;
    let ihash = hashkey(addr, port, &HASH1, 0) as usize % TAB_SIZE;
    let first = table[ihash];
    if available(first) {
        return Some(first);
    }
    if !fallback {
        return None;
    }
    // Around the table from ihash, rehashing with each offset (slots are never empty
    // here: a table exists only when every slot is filled).
    (0..TAB_SIZE)
        .map(|offset| {
            let roffset = ((offset + ihash) % TAB_SIZE) as u32;
            table[hashkey(addr, port, &HASH1, roffset) as usize % TAB_SIZE]
        })
        .find(|&d| available(d))
}

/// `ip_vs_mh_schedule`: the table as the kernel holds it for these servers, then the
/// lookup for source `src`:`sport`.
pub fn schedule(dests: &[RealServer], flags: Flags, src: Ipv4Addr, sport: u16) -> Option<usize> {
    let port = if flags.port { sport } else { 0 };
    lookup(dests, table(dests).as_deref(), src, port, flags.fallback)
}

#[cfg(test)]
mod tests {
    use super::super::{RealServer, Scheduler, VirtualService};
    use super::*;

    /// The key of lib/siphash_kunit.c (and the SipHash reference vectors).
    const TEST_KEY: [u64; 2] = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];

    fn input(len: usize) -> Vec<u8> {
        (0..len as u8).collect()
    }

    #[test]
    fn siphash_matches_the_kernel_self_test_vectors() {
        // test_vectors_siphash[len] (SipHash-2-4 of the bytes 0, 1, .., len-1).
        for (len, want) in [
            (0, 0x726f_db47_dd0e_0e31),
            (1, 0x74f8_39c5_93dc_67fd),
            (4, 0xcf27_94e0_2771_87b7),
            (7, 0xab02_00f5_8b01_d137),
            (8, 0x93f5_f579_9a93_2462),
            (15, 0xa129_ca61_49be_45e5),
            (63, 0x958a_324c_eb06_4572),
        ] {
            assert_eq!(siphash(&input(len), &TEST_KEY, 2, 4), want, "len {len}");
        }
        // test_vectors_hsiphash[len] for BITS_PER_LONG == 64 (SipHash-1-3, 32 bits); len 4
        // is exactly ip_vs_mh_hashkey's shape (hsiphash_1u32(0x03020100)).
        for (len, want) in [
            (0, 0x050f_c4dc),
            (3, 0xe7dd_f7fb),
            (4, 0x88d3_8328),
            (8, 0x8d29_9a8e),
            (16, 0x7d90_8b66),
            (63, 0xb7bb_b3a8),
        ] {
            assert_eq!(hsiphash(&input(len), &TEST_KEY), want, "len {len}");
        }
    }

    fn server(last_octet: u8, weight: u32) -> RealServer {
        let mut d = RealServer::masq(Ipv4Addr::new(10, 244, 0, last_octet), 8080);
        d.weight = weight;
        d.last_weight = weight;
        d
    }

    fn counts(t: &[usize], n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &d in t {
            c[d] += 1;
        }
        c
    }

    #[test]
    fn the_table_has_4093_slots_every_one_holding_a_server() {
        assert_eq!(TAB_SIZE, 4093);
        let dests = [server(1, 1), server(2, 1), server(3, 1)];
        let t = table(&dests).unwrap();
        assert_eq!(t.len(), 4093);
        // Equal weights claim one slot per turn, so the shares differ by at most one, the
        // list head taking the odd slot (4093 = 3 * 1364 + 1).
        assert_eq!(counts(&t, 3), [1365, 1364, 1364]);
    }

    #[test]
    fn weights_set_how_many_slots_a_server_claims_per_turn() {
        // Weight 2 claims two in a row per round of three claims: 4093 = 1364 rounds + 1.
        let t = table(&[server(1, 2), server(2, 1)]).unwrap();
        assert_eq!(counts(&t, 2), [2729, 1364]);
        // Weights are divided by their gcd first: 200/100 is 2/1.
        assert_eq!(table(&[server(1, 200), server(2, 100)]), Some(t));
        // Above 2^TAB_BITS the ratio is shifted down (ip_vs_mh_shift_weight): 128/1 has
        // fls(128) = 8, rshift 2, so turns 32 and 1 (1 >> 2 is 0, but a non-zero weight
        // still gets one). 4093 = 124 rounds of 33 + 1.
        let t = table(&[server(1, 128), server(2, 1)]).unwrap();
        assert_eq!(counts(&t, 2), [124 * 32 + 1, 124]);
    }

    #[test]
    fn weight_zero_servers_claim_nothing_and_all_zero_means_no_table() {
        let t = table(&[server(1, 1), server(2, 0), server(3, 1)]).unwrap();
        assert_eq!(counts(&t, 3), [2047, 0, 2046]);
        assert_eq!(table(&[server(1, 0), server(2, 0)]), None);
        assert_eq!(table(&[]), None);
        let dests = [server(1, 0), server(2, 0)];
        for f in [
            Flags::KUBE_PROXY,
            Flags {
                fallback: true,
                port: true,
            },
        ] {
            assert_eq!(
                schedule(&dests, f, Ipv4Addr::new(10, 244, 1, 5), 40000),
                None
            );
        }
    }

    #[test]
    fn the_same_source_always_picks_the_same_server_and_mh_port_spreads_one_address() {
        let dests = [server(1, 1), server(2, 1), server(3, 1)];
        let src = Ipv4Addr::new(10, 244, 1, 5);
        let f = Flags::KUBE_PROXY;
        // Vectors from the kernel's ip_vs_mh.c and siphash.c functions built as C outside
        // kpath (whose whole tables also matched for weights 1,1,1 / 3,1,2,7 / 128,1,5).
        let slot = |p| hashkey(src, p, &HASH1, 0) as usize % TAB_SIZE;
        assert_eq!((slot(40000), slot(40001), slot(40004)), (1451, 3587, 581));
        let pick = schedule(&dests, f, src, 40000);
        assert_eq!(pick, Some(2));
        assert_eq!(schedule(&dests, f, src, 40001), Some(0));
        assert_eq!(schedule(&dests, f, src, 40004), Some(1));
        assert!((0..5).all(|_| schedule(&dests, f, src, 40000) == pick));
        // With mh-port one client's connections spread over the servers...
        let picks: std::collections::BTreeSet<_> = (40000..40030)
            .map(|p| schedule(&dests, f, src, p).unwrap())
            .collect();
        assert_eq!(picks.len(), 3);
        // ...without it the port is ignored (hashed as 0).
        let no_port = Flags::default();
        let want = schedule(&dests, no_port, src, 0);
        assert!((40000..40030).all(|p| schedule(&dests, no_port, src, p) == want));
        // The port only adds to the address: src:1 hashes as the next address with port 0.
        assert_eq!(
            hashkey(src, 1, &HASH1, 0),
            hashkey(Ipv4Addr::new(10, 244, 1, 6), 0, &HASH1, 0)
        );
    }

    #[test]
    fn removing_a_server_moves_its_slots_and_barely_any_other() {
        // Maglev's minimal disruption: 5 servers, the middle one deleted.
        let all: Vec<_> = (1..=5).map(|i| server(i, 1)).collect();
        let before = table(&all).unwrap();
        let mut rest = all.clone();
        rest.remove(2);
        let after = table(&rest).unwrap();
        // Map the old indices onto the shorter list.
        let renumber = |d: usize| if d > 2 { d - 1 } else { d };
        let (mut orphaned, mut moved) = (0, 0);
        for (b, a) in before.iter().zip(&after) {
            if *b == 2 {
                orphaned += 1;
            } else if renumber(*b) != *a {
                moved += 1;
            }
        }
        assert_eq!(orphaned, 819);
        // Of the 3274 slots the other four held, fewer than 2% change hands (mod-N
        // hashing would move about three quarters of them).
        assert!(moved * 50 < 4093 - orphaned, "{moved} slots moved");
        // Adding it back restores the table exactly (it is a function of the list).
        assert_eq!(table(&all).unwrap(), before);
    }

    #[test]
    fn a_quiesced_server_keeps_its_slots_so_its_sources_find_nothing_without_fallback() {
        let mut s = VirtualService::new(
            crate::wire::IpProtocol::Tcp,
            Ipv4Addr::new(10, 96, 0, 20),
            80,
            Scheduler::by_name("mh").unwrap(),
        );
        for i in (1..=3).rev() {
            s.add_dest(RealServer::masq(Ipv4Addr::new(10, 244, 0, i), 8080));
        }
        let before = table(&s.dests).unwrap();
        // kube-proxy's graceful termination: weight 0, last_weight stays 1.
        s.set_weight(1, 0);
        assert_eq!((s.dests[1].weight, s.dests[1].last_weight), (0, 1));
        assert_eq!(table(&s.dests).unwrap(), before);
        let src = Ipv4Addr::new(10, 244, 1, 5);
        let port = (1..u16::MAX)
            .find(|p| before[hashkey(src, *p, &HASH1, 0) as usize % TAB_SIZE] == 1)
            .unwrap();
        assert_eq!(
            s.schedule(src, port),
            None,
            "its slot's server is unavailable"
        );
        // With mh-fallback the probe moves on to an available server.
        let f = Flags {
            fallback: true,
            port: true,
        };
        assert!(matches!(schedule(&s.dests, f, src, port), Some(0 | 2)));
        // A source whose slot belongs to another server is untouched.
        let other = (1..u16::MAX)
            .find(|p| before[hashkey(src, *p, &HASH1, 0) as usize % TAB_SIZE] == 2)
            .unwrap();
        assert_eq!(s.schedule(src, other), Some(2));
    }
}
