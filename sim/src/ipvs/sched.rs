//! The IPVS schedulers kube-proxy users pick from (`--ipvs-scheduler`), as the kernel
//! implements them; each returns the index of the chosen real server in list order.

use super::{RealServer, Scheduler};
use std::net::Ipv4Addr;

/// A real server the scheduler may pick: weight above 0 (kube-proxy never sets the
/// overload thresholds, so `IP_VS_DEST_F_OVERLOAD` never applies).
fn available(d: &RealServer) -> bool {
    d.weight > 0
}

/// The scheduler's pick for a new connection from `src`:`sport` (only `mh` with `mh-port`
/// reads the port; kube-proxy sets no `sh-port`).
pub fn schedule(
    s: &mut Scheduler,
    dests: &[RealServer],
    src: Ipv4Addr,
    sport: u16,
) -> Option<usize> {
    match s {
        Scheduler::Rr { last } => rr(last, dests),
        Scheduler::Wrr(mark) => mark.schedule(dests),
        Scheduler::Lc => lc(dests),
        Scheduler::Sh => sh(dests, src),
        Scheduler::Mh(flags) => super::mh::schedule(dests, *flags, src, sport),
    }
}

/// `ip_vs_rr_schedule`: from after the last pick, around the list once, the first
/// available server.
fn rr(last: &mut Option<usize>, dests: &[RealServer]) -> Option<usize> {
    let n = dests.len();
    let start = last.map_or(0, |l| l + 1);
    let pick = (0..n)
        .map(|i| (start + i) % n)
        .find(|&i| available(&dests[i]))?;
    *last = Some(pick);
    Some(pick)
}

/// `ip_vs_lc_schedule`: the first server with the least `ip_vs_dest_conn_overhead`
/// (active << 8) + inactive; ties keep the earlier one.
fn lc(dests: &[RealServer]) -> Option<usize> {
    let overhead = |d: &RealServer| (u64::from(d.active) << 8) + u64::from(d.inactive);
    let mut best: Option<usize> = None;
    for (i, d) in dests.iter().enumerate().filter(|(_, d)| available(d)) {
        if best.is_none_or(|b| overhead(d) < overhead(&dests[b])) {
            best = Some(i);
        }
    }
    best
}

/// `hash_32(v, bits)`: multiply by GOLDEN_RATIO_32 and keep the top bits.
fn hash_32(v: u32, bits: u32) -> u32 {
    v.wrapping_mul(0x61C8_8647) >> (32 - bits)
}

/// `ip_vs_sh_hashkey` with port 0 (kube-proxy sets no sh-port flag): the source
/// address's bucket among 256.
pub fn sh_bucket(src: Ipv4Addr) -> usize {
    (hash_32(u32::from(src), 8) & 255) as usize
}

/// `ip_vs_sh_schedule` over the table `ip_vs_sh_reassign` builds: buckets 0..255 take the
/// servers in list order, each for `weight` buckets in a row (weight 0 still one).
fn sh(dests: &[RealServer], src: Ipv4Addr) -> Option<usize> {
    if dests.is_empty() {
        return None;
    }
    let bucket = sh_bucket(src);
    let (mut d, mut count) = (0usize, 0u32);
    let mut table = [0usize; 256];
    for slot in table.iter_mut() {
        *slot = d;
        count += 1;
        if count >= dests[d].weight {
            d = (d + 1) % dests.len();
            count = 0;
        }
    }
    let pick = table[bucket];
    available(&dests[pick]).then_some(pick)
}

/// `struct ip_vs_wrr_mark`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WrrMark {
    /// The last pick (None: the list head).
    cl: Option<usize>,
    /// Current weight, max weight minus (gcd - 1), and the gcd of the weights.
    cw: i64,
    mw: i64,
    di: i64,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl WrrMark {
    /// `ip_vs_wrr_dest_changed`: back to the head, gcd and max weight recomputed.
    pub fn dest_changed(&mut self, dests: &[RealServer]) {
        self.cl = None;
        let weights = dests.iter().map(|d| d.weight).filter(|w| *w > 0);
        let di = i64::from(weights.clone().fold(0, gcd).max(1));
        let maxw = i64::from(weights.max().unwrap_or(0));
        self.di = di;
        self.mw = maxw - (di - 1);
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if di > 1 {
            self.cw = (self.cw / di) * di + 1;
        }
    }

    /// Stand on server `i`, as if it had just been picked (an enumerated outcome).
    pub fn stand_on(&mut self, i: usize) {
        self.cl = Some(i);
    }

    /// `ip_vs_wrr_schedule`.
    fn schedule(&mut self, dests: &[RealServer]) -> Option<usize> {
        if self.mw <= 0 || dests.is_empty() {
            return None;
        }
        let n = dests.len();
        // Positions run over the list with the head as the slot before index 0.
        let mut pos = self.cl;
        let mut last_pass = false;
        loop {
            let next = match pos {
                None => Some(0),
                Some(i) if i + 1 < n => Some(i + 1),
                Some(_) => None,
            };
            match next {
                Some(i) => {
                    pos = Some(i);
                    if available(&dests[i]) && i64::from(dests[i].weight) >= self.cw {
                        self.cl = Some(i);
                        return Some(i);
                    }
                }
                None => {
                    // A lap ended: lower the bar.
                    pos = None;
                    self.cw -= self.di;
                    if self.cw <= 0 {
                        self.cw = self.mw;
                        if last_pass {
                            self.cl = None;
                            return None;
                        }
                    }
                    last_pass = self.cw <= self.di;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RealServer, Scheduler, VirtualService};
    use super::*;

    fn svc(sched: &str, weights: &[u32]) -> VirtualService {
        let mut s = VirtualService::new(
            crate::wire::IpProtocol::Tcp,
            "10.96.0.20".parse().unwrap(),
            80,
            Scheduler::by_name(sched).unwrap(),
        );
        // Added in reverse so the list reads 10.244.0.1, 10.244.0.2, ... (head insertion).
        for (i, w) in weights.iter().enumerate().rev() {
            let mut d = RealServer::masq(Ipv4Addr::new(10, 244, 0, i as u8 + 1), 8080);
            d.weight = *w;
            s.add_dest(d);
        }
        s
    }

    fn picks(s: &mut VirtualService, n: usize) -> Vec<usize> {
        (0..n)
            .map(|_| s.schedule("10.244.9.9".parse().unwrap(), 40000).unwrap())
            .collect()
    }

    #[test]
    fn new_real_servers_go_to_the_head_of_the_list() {
        let mut s = VirtualService::new(
            crate::wire::IpProtocol::Tcp,
            "10.96.0.20".parse().unwrap(),
            80,
            Scheduler::by_name("rr").unwrap(),
        );
        s.add_dest(RealServer::masq("10.244.1.5".parse().unwrap(), 8080));
        s.add_dest(RealServer::masq("10.244.2.7".parse().unwrap(), 8080));
        assert_eq!(s.dests[0].addr.to_string(), "10.244.2.7");
    }

    #[test]
    fn rr_walks_the_list_and_skips_weight_zero() {
        let mut s = svc("rr", &[1, 1, 1]);
        assert_eq!(picks(&mut s, 5), [0, 1, 2, 0, 1]);
        let mut s = svc("rr", &[1, 0, 1]);
        assert_eq!(picks(&mut s, 4), [0, 2, 0, 2]);
    }

    #[test]
    fn wrr_is_rr_with_equal_weights_and_proportional_otherwise() {
        let mut s = svc("wrr", &[1, 1, 1]);
        assert_eq!(picks(&mut s, 6), [0, 1, 2, 0, 1, 2]);
        // Weights 3 and 1, the weight-1 server added first: its add left cw at 1, and
        // ip_vs_wrr_dest_changed keeps a cw that is not above the new max - so the first
        // lap lets both through, then the heavy server takes three in every four.
        let mut s = svc("wrr", &[3, 1]);
        assert_eq!(picks(&mut s, 10), [0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn lc_prefers_fewest_connections_weighing_active_ones_256_times() {
        let mut s = svc("lc", &[1, 1]);
        s.dests[0].active = 1;
        s.dests[1].inactive = 255;
        assert_eq!(s.schedule("10.244.9.9".parse().unwrap(), 40000), Some(1));
        s.dests[1].inactive = 256;
        assert_eq!(
            s.schedule("10.244.9.9".parse().unwrap(), 40000),
            Some(0),
            "ties keep the first"
        );
    }

    #[test]
    fn sh_hashes_the_source_into_256_buckets() {
        // Vectors from docs/design/ipvs.md (hash_32 with GOLDEN_RATIO_32).
        assert_eq!(sh_bucket("10.244.1.5".parse().unwrap()), 115);
        assert_eq!(sh_bucket("10.244.2.7".parse().unwrap()), 255);
        assert_eq!(sh_bucket("203.0.113.7".parse().unwrap()), 124);
        let mut s = svc("sh", &[1, 1]);
        // Two weight-1 servers: bucket b -> list[b % 2]; the same source always lands there.
        assert_eq!(s.schedule("10.244.1.5".parse().unwrap(), 40000), Some(1));
        assert_eq!(s.schedule("10.244.1.5".parse().unwrap(), 40000), Some(1));
        assert_eq!(s.schedule("203.0.113.7".parse().unwrap(), 40000), Some(0));
    }
}
