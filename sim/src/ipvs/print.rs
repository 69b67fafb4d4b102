//! `ipvsadm -Ln` and `ipvsadm-save -n`, as ipvsadm prints them (`list_all`,
//! `print_service_entry`), sorted as ipvsadm sorts (`ipvs_cmp_services`, `ipvs_cmp_dests`).

use super::{Forward, Ipvs, RealServer, Scheduler, VirtualService};
use crate::wire::IpProtocol;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// ipvsadm compares addresses through `ntohl(a) - ntohl(b)` stored in an int: addresses
/// 2^31 or more apart compare "backwards" (172.31.0.11 before 10.96.0.1).
///
/// That comparison orders points on a circle, not on a line: addresses spread round it
/// (1.0.0.1 < 90.0.0.1 < 208.0.0.1 < 1.0.0.1) have no order at all. ipvsadm's qsort then
/// prints them in an order that depends on the order it got them in, and Rust's sort may
/// panic on such a comparator. So kpath cuts the circle once, at the widest gap between the
/// addresses being sorted, and sorts by the distance from the address after it. When
/// ipvsadm's comparison is an order on the addresses (they fit in half the circle, as in
/// any real cluster) the widest gap is more than half the circle and this is exactly that
/// order; otherwise it is still one total order whatever the input order, so a dump that is
/// printed, read back and printed again comes out the same. (Found by fuzzing
/// `ipvsadm-save`: three real servers at 1.2.2.1, 90.4.2.0 and 208.2.2.5 came out rotated
/// on every round trip.)
fn circle_origin(addrs: impl Iterator<Item = Ipv4Addr>) -> u32 {
    let mut v: Vec<u32> = addrs.map(u32::from).collect();
    v.sort_unstable();
    v.dedup();
    let mut origin = 0;
    let mut widest = 0;
    for (i, &a) in v.iter().enumerate() {
        // The gap before `a`: from the previous address, or round from the last one.
        let prev = if i == 0 { v[v.len() - 1] } else { v[i - 1] };
        let gap = a.wrapping_sub(prev);
        if i == 0 || gap > widest {
            (origin, widest) = (a, gap);
        }
    }
    origin
}

/// An address's place in ipvsadm's order among addresses cut at `origin`.
fn addr_key(a: Ipv4Addr, origin: u32) -> u32 {
    u32::from(a).wrapping_sub(origin)
}

fn sorted(ipvs: &Ipvs) -> Vec<(&VirtualService, Vec<&RealServer>)> {
    let mut svcs: Vec<&VirtualService> = ipvs.services.iter().collect();
    // Services compare by protocol first, so each protocol's addresses are one circle.
    let mut protos: Vec<u8> = svcs.iter().map(|s| s.proto.number()).collect();
    protos.sort_unstable();
    protos.dedup();
    let origins: Vec<(u8, u32)> = protos
        .into_iter()
        .map(|p| {
            let addrs = svcs
                .iter()
                .filter(|s| s.proto.number() == p)
                .map(|s| s.addr);
            (p, circle_origin(addrs))
        })
        .collect();
    let origin = |p: u8| origins.iter().find(|(q, _)| *q == p).map_or(0, |(_, o)| *o);
    svcs.sort_by_key(|s| {
        let p = s.proto.number();
        (p, addr_key(s.addr, origin(p)), s.port)
    });
    svcs.into_iter()
        .map(|s| {
            let mut d: Vec<&RealServer> = s.dests.iter().collect();
            let o = circle_origin(d.iter().map(|d| d.addr));
            d.sort_by_key(|d| (addr_key(d.addr, o), d.port));
            (s, d)
        })
        .collect()
}

fn proto_name(p: IpProtocol) -> &'static str {
    match p {
        IpProtocol::Tcp => "TCP",
        IpProtocol::Udp => "UDP",
        _ => "SCTP",
    }
}

/// `print_sched_flags` (ipvsadm 1.29+): the scheduler flags by their `mh` names,
/// fallback first, comma-separated; None when no `IP_VS_SVC_F_SCHED*` bit is set.
fn sched_flags(s: &Scheduler) -> Option<String> {
    let Scheduler::Mh(f) = s else { return None };
    let names: Vec<&str> = [(f.fallback, "mh-fallback"), (f.port, "mh-port")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    (!names.is_empty()).then(|| names.join(","))
}

/// `ipvsadm -Ln`.
pub fn list(ipvs: &Ipvs) -> String {
    let mut out = String::from(
        "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
    );
    for (s, dests) in sorted(ipvs) {
        let name = format!("{}  {}:{}", proto_name(s.proto), s.addr, s.port);
        let _ = write!(out, "{name} {}", s.scheduler.name());
        if let Some(f) = sched_flags(&s.scheduler) {
            let _ = write!(out, " ({f})");
        }
        if let Some(p) = s.persistent {
            let _ = write!(out, " persistent {p}");
        }
        out.push('\n');
        for d in dests {
            let _ = writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                format!("{}:{}", d.addr, d.port),
                d.forward.name(),
                d.weight,
                d.active,
                d.inactive
            );
        }
    }
    out
}

/// `ipvsadm-save -n`.
pub fn save(ipvs: &Ipvs) -> String {
    let mut out = String::new();
    for (s, dests) in sorted(ipvs) {
        let flag = match s.proto {
            IpProtocol::Tcp => "-t",
            IpProtocol::Udp => "-u",
            _ => "--sctp-service",
        };
        let vs = format!("{flag} {}:{}", s.addr, s.port);
        let _ = write!(out, "-A {vs} -s {}", s.scheduler.name());
        if let Some(p) = s.persistent {
            let _ = write!(out, " -p {p}");
        }
        if let Some(f) = sched_flags(&s.scheduler) {
            let _ = write!(out, " -b {f}");
        }
        out.push('\n');
        for d in dests {
            let fwd = match d.forward {
                Forward::Masq => "-m",
                Forward::Tunnel => "-i",
                Forward::Route | Forward::Local => "-g",
            };
            let _ = writeln!(
                out,
                "-a {vs} -r {}:{} {fwd} -w {}",
                d.addr, d.port, d.weight
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Scheduler, VirtualService};
    use super::*;

    /// docs/design/ipvs.md 1.6/4.1: the worked example's services on node-1.
    fn example() -> Ipvs {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        let rr = || Scheduler::by_name("rr").unwrap();
        let mut web = VirtualService::new(IpProtocol::Tcp, ip("10.96.120.15"), 80, rr());
        web.persistent = Some(10800);
        web.add_dest(RealServer::masq(ip("10.244.2.7"), 8080));
        web.add_dest(RealServer::masq(ip("10.244.1.5"), 8080));
        let mut np = web.clone();
        np.addr = ip("172.31.0.11");
        np.port = 30080;
        let mut k = VirtualService::new(IpProtocol::Tcp, ip("10.96.0.1"), 443, rr());
        k.add_dest(RealServer::masq(ip("172.31.0.10"), 6443));
        let mut dns = VirtualService::new(IpProtocol::Udp, ip("10.96.0.10"), 53, rr());
        dns.add_dest(RealServer::masq(ip("10.244.1.3"), 53));
        Ipvs {
            services: vec![dns, web, k, np],
            ..Ipvs::default()
        }
    }

    #[test]
    fn ipvsadm_ln_sorts_as_ipvsadm_does_and_pads_its_columns() {
        let text = list(&example());
        let want = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  172.31.0.11:30080 rr persistent 10800
  -> 10.244.1.5:8080              Masq    1      0          0         
  -> 10.244.2.7:8080              Masq    1      0          0         
TCP  10.96.0.1:443 rr
  -> 172.31.0.10:6443             Masq    1      0          0         
TCP  10.96.120.15:80 rr persistent 10800
  -> 10.244.1.5:8080              Masq    1      0          0         
  -> 10.244.2.7:8080              Masq    1      0          0         
UDP  10.96.0.10:53 rr
  -> 10.244.1.3:53                Masq    1      0          0         
";
        assert_eq!(text, want);
    }

    #[test]
    fn ipvsadm_save_lists_services_then_their_real_servers() {
        let text = save(&example());
        assert!(text.starts_with(
            "-A -t 172.31.0.11:30080 -s rr -p 10800\n-a -t 172.31.0.11:30080 -r 10.244.1.5:8080 -m -w 1\n"
        ), "{text}");
        assert!(
            text.ends_with(
                "-A -u 10.96.0.10:53 -s rr\n-a -u 10.96.0.10:53 -r 10.244.1.3:53 -m -w 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn mh_services_show_their_scheduler_flags() {
        // print_service_entry: "(flags)" after the scheduler name, before persistence;
        // ipvsadm-save's "-b flags" after "-p".
        let mut ipvs = example();
        for s in &mut ipvs.services {
            s.scheduler = Scheduler::by_name("mh").unwrap();
        }
        let text = list(&ipvs);
        assert!(
            text.contains("\nTCP  172.31.0.11:30080 mh (mh-port) persistent 10800\n"),
            "{text}"
        );
        assert!(
            text.contains("\nUDP  10.96.0.10:53 mh (mh-port)\n"),
            "{text}"
        );
        let text = save(&ipvs);
        assert!(
            text.starts_with("-A -t 172.31.0.11:30080 -s mh -p 10800 -b mh-port\n"),
            "{text}"
        );
        ipvs.services[0].scheduler = Scheduler::Mh(crate::ipvs::mh::Flags {
            fallback: true,
            port: true,
        });
        assert!(
            save(&ipvs).ends_with("-A -u 10.96.0.10:53 -s mh -b mh-fallback,mh-port\n-a -u 10.96.0.10:53 -r 10.244.1.3:53 -m -w 1\n")
        );
    }
}
