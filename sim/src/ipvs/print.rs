//! `ipvsadm -Ln` and `ipvsadm-save -n`, as ipvsadm prints them (`list_all`,
//! `print_service_entry`), sorted as ipvsadm sorts (`ipvs_cmp_services`, `ipvs_cmp_dests`).

use super::{Forward, Ipvs, RealServer, Scheduler, VirtualService};
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// ipvsadm compares addresses through `ntohl(a) - ntohl(b)` stored in an int: addresses
/// 2^31 or more apart compare "backwards" (172.31.0.11 before 10.96.0.1).
fn cmp_addr(a: Ipv4Addr, b: Ipv4Addr) -> Ordering {
    (u32::from(a).wrapping_sub(u32::from(b)) as i32).cmp(&0)
}

fn sorted(ipvs: &Ipvs) -> Vec<(&VirtualService, Vec<&RealServer>)> {
    let mut svcs: Vec<&VirtualService> = ipvs.services.iter().collect();
    svcs.sort_by(|a, b| {
        a.proto
            .cmp(&b.proto)
            .then(cmp_addr(a.addr, b.addr))
            .then(a.port.cmp(&b.port))
    });
    svcs.into_iter()
        .map(|s| {
            let mut d: Vec<&RealServer> = s.dests.iter().collect();
            d.sort_by(|a, b| cmp_addr(a.addr, b.addr).then(a.port.cmp(&b.port)));
            (s, d)
        })
        .collect()
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "TCP",
        17 => "UDP",
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
            6 => "-t",
            17 => "-u",
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
        let mut web = VirtualService::new(6, ip("10.96.120.15"), 80, rr());
        web.persistent = Some(10800);
        web.add_dest(RealServer::masq(ip("10.244.2.7"), 8080));
        web.add_dest(RealServer::masq(ip("10.244.1.5"), 8080));
        let mut np = web.clone();
        np.addr = ip("172.31.0.11");
        np.port = 30080;
        let mut k = VirtualService::new(6, ip("10.96.0.1"), 443, rr());
        k.add_dest(RealServer::masq(ip("172.31.0.10"), 6443));
        let mut dns = VirtualService::new(17, ip("10.96.0.10"), 53, rr());
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
