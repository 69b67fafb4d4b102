//! The iptables-save reader and printer: real dumps round-trip byte for byte, and every
//! bad line is an error that names it.

use crate::netfilter::eval::*;
use crate::netfilter::rule::*;
use crate::netfilter::why::Reasons;
use crate::netfilter::*;
use crate::wire::{Ipv4, L4, Tcp, TcpFlags};
use std::net::Ipv4Addr;

/// A kube-proxy + flannel node, in the text iptables-save (1.8, nf_tables) prints.
pub const NODE_DUMP: &str = r#"*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-A - [0:0]
:KUBE-SEP-B - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-WEB - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-A -s 10.244.1.5/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-A -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-B -s 10.244.2.5/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-B -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.2.5:8080
-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-WEB
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-WEB ! -s 10.244.0.0/16 -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-WEB -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A
-A KUBE-SVC-WEB -m comment --comment "default/web:http -> 10.244.2.5:8080" -j KUBE-SEP-B
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"#;

struct Env {
    draws: Vec<bool>,
    local: Vec<Ipv4Addr>,
}

impl RuleEnv for Env {
    fn addr_type(&self, ip: Ipv4Addr) -> AddrType {
        if self.local.contains(&ip) {
            AddrType::Local
        } else {
            AddrType::Unicast
        }
    }
    fn in_set(&self, _: &str, _: &[bool], _: &PacketMeta) -> Option<bool> {
        None
    }
    fn recent(&mut self, _: &Recent, _: Ipv4Addr) -> bool {
        false
    }
    fn random(&mut self, _: u32) -> bool {
        self.draws.remove(0)
    }
    fn nth(&mut self, _: &str, _: u32, _: u32) -> bool {
        false
    }
}

fn syn(src: &str, dst: &str, dport: u16) -> Ipv4 {
    Ipv4 {
        tos: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        ttl: 64,
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        payload: L4::Tcp(Tcp {
            sport: 40000,
            dport,
            seq: 1,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            options: vec![],
            payload: vec![],
        }),
    }
}

#[test]
fn a_real_dump_round_trips_byte_for_byte() {
    let nf = parse_iptables_save("node.rules", NODE_DUMP).unwrap();
    assert_eq!(nf.save(), NODE_DUMP);
}

#[test]
fn kube_proxy_spellings_print_as_iptables_save_does() {
    // kube-proxy writes these; iptables-save prints them differently.
    let src = "*nat\n:POSTROUTING ACCEPT [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n\
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n\
-A POSTROUTING -j MARK --xor-mark 0x4000\n\
-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-X\n\
-A KUBE-SVC-X -m statistic --mode random --probability 0.3333333333 -j ACCEPT\n\
-A KUBE-SVC-X -m comment --comment simple -p tcp --dport 80 -j ACCEPT\nCOMMIT\n";
    let out = parse_iptables_save("x", src).unwrap().save();
    assert!(
        out.contains("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"),
        "{out}"
    );
    assert!(
        out.contains("-A POSTROUTING -j MARK --set-xmark 0x4000/0x0\n"),
        "{out}"
    );
    assert!(out.contains("-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport 80 -j KUBE-SVC-X\n"), "{out}");
    assert!(
        out.contains("--probability 0.33333333349 "),
        "kernel rounding, printed %.11f: {out}"
    );
    assert!(
        out.contains(
            "-A KUBE-SVC-X -p tcp -m comment --comment simple -m tcp --dport 80 -j ACCEPT\n"
        ),
        "{out}"
    );
}

#[test]
fn ipvs_matches_print_as_libxt_ipvs_saves_them() {
    // Vectors from iptables' extensions/libipt_ipvs.t, and kube-proxy's KUBE-IPVS-OUT-FILTER
    // rule as it writes it (`--vproto tcp` before `--vaddr`).
    let src = "*filter\n:OUTPUT ACCEPT [0:0]\n\
-A OUTPUT -m ipvs --vaddr 1.2.3.4\n\
-A OUTPUT -m ipvs ! --vaddr 1.2.3.4/255.255.255.0\n\
-A OUTPUT -m ipvs --vproto 6 --vaddr 1.2.3.4/16 --vport 22 --vdir ORIGINAL --vmethod GATE\n\
-A OUTPUT -m ipvs ! --ipvs\n\
-A OUTPUT -s 203.0.113.50 -m ipvs --vaddr 203.0.113.50 --vproto tcp --vport 443 -j DROP\nCOMMIT\n";
    let out = parse_iptables_save("x", src).unwrap().save();
    for want in [
        "-A OUTPUT -m ipvs --vaddr 1.2.3.4\n",
        "-A OUTPUT -m ipvs ! --vaddr 1.2.3.4/24\n",
        "-A OUTPUT -m ipvs --vproto 6 --vaddr 1.2.3.4/16 --vport 22 --vdir ORIGINAL --vmethod GATE\n",
        "-A OUTPUT -m ipvs ! --ipvs\n",
        "-A OUTPUT -s 203.0.113.50/32 -m ipvs --vproto 6 --vaddr 203.0.113.50 --vport 443 -j DROP\n",
    ] {
        assert!(out.contains(want), "{want}in:\n{out}");
    }
    let e = parse_iptables_save(
        "x",
        "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m ipvs --vdir BOTH\nCOMMIT\n",
    )
    .unwrap_err();
    assert!(e.message.contains("not a direction"), "{e}");
    assert_eq!((e.line, e.column), (3, 26), "{e}");
}

#[test]
fn probabilities_are_stored_as_the_kernel_stores_them() {
    for (p, printed) in [
        (0.5, "0.50000000000"),
        (1.0 / 3.0, "0.33333333349"),
        (0.25, "0.25000000000"),
        (0.2, "0.20000000019"),
    ] {
        let stored = Statistic::encode_probability((p * 1e10f64).round() / 1e10);
        assert_eq!(format!("{:.11}", Statistic::probability(stored)), printed);
    }
}

#[test]
fn walks_services_first_match_jump_return_and_policy() {
    let nf = parse_iptables_save("node.rules", NODE_DUMP).unwrap();
    let nat = nf.table(TableKind::Nat).unwrap();
    let ip = syn("10.244.1.2", "10.96.0.20", 80);
    let meta = PacketMeta {
        ip: &ip,
        iif: Some("cni0"),
        oif: None,
        physin: None,
        physout: None,
        mark: 0,
        ct: None,
        ipvs_property: false,
        ipvs_vs: None,
    };
    // First endpoint's statistic rule declines, so the last (unconditional) one is used.
    let mut env = Env {
        draws: vec![false],
        local: vec![],
    };
    let w = walk_table(nat, Hook::Prerouting, &meta, &mut env);
    let path: Vec<String> = w
        .hits
        .iter()
        .map(|h| format!("{}:{} {}", h.chain, h.position, h.action.describe()))
        .collect();
    assert_eq!(
        path,
        [
            "PREROUTING:1 verdict jump KUBE-SERVICES",
            "KUBE-SERVICES:1 verdict jump KUBE-SVC-WEB",
            "KUBE-SVC-WEB:3 verdict jump KUBE-SEP-B",
            "KUBE-SEP-B:2 dnat to 10.244.2.5:8080"
        ]
    );
    assert_eq!(
        w.nat,
        Some(NatAction::Dnat {
            to: "10.244.2.5:8080".into(),
            addr: "10.244.2.5".parse().unwrap(),
            port: Some(8080)
        })
    );
    // From outside the cluster CIDR: marked for masquerade, then the first endpoint.
    let ip = syn("172.31.0.99", "10.96.0.20", 80);
    let meta = PacketMeta { ip: &ip, ..meta };
    let w = walk_table(
        nat,
        Hook::Prerouting,
        &meta,
        &mut Env {
            draws: vec![true],
            local: vec![],
        },
    );
    assert_eq!(w.mark, 0x4000);
    assert!(w.hits.iter().any(|h| h.chain == "KUBE-MARK-MASQ"));
    // Not a Service and not local: runs off KUBE-SERVICES back to PREROUTING, policy ACCEPT.
    let ip = syn("10.244.1.2", "10.244.2.9", 80);
    let meta = PacketMeta { ip: &ip, ..meta };
    let w = walk_table(
        nat,
        Hook::Prerouting,
        &meta,
        &mut Env {
            draws: vec![],
            local: vec![],
        },
    );
    assert_eq!(
        (w.verdict.clone(), w.nat.clone()),
        (eval::Final::Accept, None)
    );
    assert_eq!(
        w.hits.last().map(|h| h.action.clone()),
        Some(HitAction::Policy(Verdict::Accept))
    );
    // POSTROUTING: unmarked returns, marked is masqueraded with the mark cleared.
    let w = walk_table(
        nat,
        Hook::Postrouting,
        &PacketMeta {
            mark: 0x4000,
            ..meta.clone()
        },
        &mut Env {
            draws: vec![],
            local: vec![],
        },
    );
    assert_eq!(
        w.nat,
        Some(NatAction::Masquerade {
            random_fully: true,
            to_ports: None
        })
    );
    assert_eq!(w.mark, 0);
    let w = walk_table(
        nat,
        Hook::Postrouting,
        &meta,
        &mut Env {
            draws: vec![],
            local: vec![],
        },
    );
    assert_eq!(w.nat, None);
}

fn err(src: &str) -> crate::diag::InputError {
    parse_iptables_save("bad.rules", src).expect_err("must be refused")
}

#[test]
fn bad_dumps_are_refused_with_their_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 80 --frob 1 -j ACCEPT\nCOMMIT\n",
            3,
            "unknown option `--frob`",
        ),
        (
            "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\n",
            3,
            "has no COMMIT",
        ),
        (
            "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j KUBE-NOPE\nCOMMIT\n",
            3,
            "jump to chain `KUBE-NOPE`",
        ),
        (
            "*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A PREROUTING -j A\n-A A -j B\n-A B -j A\nCOMMIT\n",
            7,
            "jump loop",
        ),
        (
            "*nat\n:PREROUTING ACCEPT [0:0]\n-A KUBE-SVC-X -j ACCEPT\nCOMMIT\n",
            3,
            "chain `KUBE-SVC-X` is not declared",
        ),
        (
            "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s 10.0.0.300 -j ACCEPT\nCOMMIT\n",
            3,
            "not an IPv4 address",
        ),
        (
            "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m comment --comment \"open\n",
            3,
            "unterminated",
        ),
        ("*mangel\nCOMMIT\n", 1, "unknown table `mangel`"),
        ("-A PREROUTING -j ACCEPT\n", 1, "outside a table"),
        (
            "*nat\n:KUBE-X ACCEPT [0:0]\nCOMMIT\n",
            2,
            "cannot have a policy",
        ),
        ("\u{0}\u{1}garbage\n", 1, "outside a table"),
    ];
    for (src, line, msg) in cases {
        let e = err(src);
        assert_eq!(e.line, *line, "{src:?}: {e}");
        assert!(e.message.contains(msg), "{src:?}: {}", e.message);
    }
}

#[test]
fn a_drop_says_why_each_rule_before_it_in_its_chain_did_not_match() {
    let dump = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:FW - [0:0]\n\
-A FORWARD -j FW\n\
-A FORWARD -s 10.0.0.0/8 -p udp -j ACCEPT\n\
-A FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT\n\
-A FORWARD -d 192.168.0.0/16 -j DROP\n\
-A FW -m conntrack --ctstate ESTABLISHED -j ACCEPT\n\
COMMIT\n";
    struct Why(Env);
    impl RuleEnv for Why {
        fn why_not(&self) -> bool {
            true
        }
        fn addr_type(&self, ip: Ipv4Addr) -> AddrType {
            self.0.addr_type(ip)
        }
        fn in_set(&self, n: &str, d: &[bool], m: &PacketMeta) -> Option<bool> {
            self.0.in_set(n, d, m)
        }
        fn recent(&mut self, r: &Recent, a: Ipv4Addr) -> bool {
            self.0.recent(r, a)
        }
        fn random(&mut self, s: u32) -> bool {
            self.0.random(s)
        }
        fn nth(&mut self, k: &str, e: u32, p: u32) -> bool {
            self.0.nth(k, e, p)
        }
    }
    let nf = parse_iptables_save("fw.rules", dump).unwrap();
    let filter = nf.table(TableKind::Filter).unwrap();
    let ip = syn("10.1.2.3", "192.168.7.7", 443);
    let meta = PacketMeta {
        ip: &ip,
        iif: Some("eth0"),
        oif: Some("eth1"),
        physin: None,
        physout: None,
        mark: 0,
        ct: None,
        ipvs_property: false,
        ipvs_vs: None,
    };
    let env = || Env {
        draws: vec![],
        local: vec![],
    };
    let w = walk_table(filter, Hook::Forward, &meta, &mut Why(env()));
    let drop = w.hits.last().unwrap();
    assert_eq!((drop.chain.as_str(), drop.position), ("FORWARD", 4));
    // FW's miss ended with FW (it returned); the jump to FW took no rule before it.
    assert_eq!(
        Reasons::of(&drop.reasons).passed,
        [
            "#2 -p udp: protocol is tcp",
            "#3 -m mark --mark 0x4000/0x4000: mark 0x0 & 0x4000 is 0x0",
        ]
    );
    assert!(Reasons::of(&w.hits[0].reasons).passed.is_empty());
    // Not asked: the walk is the same, and says nothing of the rules that missed.
    let quiet = walk_table(filter, Hook::Forward, &meta, &mut env());
    assert!(quiet.hits.iter().all(|h| h.reasons.is_none()));
    assert_eq!(quiet.verdict, w.verdict);
    // A source outside the rule's network fails at `-s`, and the fate is the policy's.
    let ip = syn("172.16.0.1", "10.9.9.9", 53);
    let w = walk_table(
        filter,
        Hook::Forward,
        &PacketMeta { ip: &ip, ..meta },
        &mut Why(env()),
    );
    let policy = w.hits.last().unwrap();
    assert_eq!(policy.position, 0);
    assert_eq!(
        Reasons::of(&policy.reasons).passed,
        [
            "#2 -s 10.0.0.0/8: source 172.16.0.1 is outside",
            "#3 -m mark --mark 0x4000/0x4000: mark 0x0 & 0x4000 is 0x0",
            "#4 -d 192.168.0.0/16: destination 10.9.9.9 is outside",
        ]
    );
}

/// kube-router v2.11.1's filter table as iptables-save printed it in the lab
/// (docs/design/kube-router-netpol.md 1.8): NFLOG with `-m limit`, physdev, ipset matches,
/// marks and comments holding quotes read and print back byte for byte.
#[test]
fn kube_routers_table_round_trips_byte_for_byte() {
    let text = include_str!("../../k8s/testdata/kube-router-v2.11.1-filter.rules");
    let nf = parse_iptables_save("kube-router.rules", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nf.save(), text);
    // The rate, burst and group as written, and defaults left out as iptables-save does.
    let src = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m limit --limit 10/minute --limit-burst 5 -j NFLOG --nflog-group 0 --nflog-prefix \"p\"\nCOMMIT\n";
    let out = parse_iptables_save("x", src).unwrap().save();
    assert!(
        out.contains("-A INPUT -m limit --limit 10/min -j NFLOG --nflog-prefix p\n"),
        "{out}"
    );
}

/// Two blocks of one table: iptables-restore commits each, so the second replaces the first
/// (a dump concatenated from two saves reads as the kernel would keep it).
#[test]
fn a_table_given_twice_keeps_the_second() {
    let src = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j RETURN\nCOMMIT\n";
    let nf = parse_iptables_save("x", src).unwrap();
    assert_eq!(nf.tables.len(), 2);
    let out = nf.save();
    assert!(out.contains("-A OUTPUT -j RETURN\n"), "{out}");
    assert!(!out.contains("-A PREROUTING -j ACCEPT"), "{out}");
}

/// Protocols by their /etc/protocols names, printed back as iptables-save prints them
/// (Calico's IP-in-IP rule: `-p 4` is saved as `-p ipencap`).
#[test]
fn protocols_read_and_print_by_their_etc_protocols_names() {
    let src = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p 4 -j ACCEPT\n-A INPUT -p gre -j ACCEPT\n-A INPUT -p ESP -j ACCEPT\n-A INPUT -p 253 -j ACCEPT\nCOMMIT\n";
    let out = parse_iptables_save("x", src).unwrap().save();
    for l in [
        "-A INPUT -p ipencap -j ACCEPT\n",
        "-A INPUT -p gre -j ACCEPT\n",
        "-A INPUT -p esp -j ACCEPT\n",
        "-A INPUT -p 253 -j ACCEPT\n",
    ] {
        assert!(out.contains(l), "{l}: {out}");
    }
}

/// `-m iprange` and `-m length` as libxt_iprange and libxt_length save them, and as the
/// kernel matches them.
#[test]
fn iprange_and_length_read_print_and_match() {
    let src = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m iprange ! --src-range 10.0.0.1-10.0.0.9 --dst-range 10.0.1.0-10.0.1.255 -j DROP\n-A INPUT -m length ! --length 0:60 -j ACCEPT\n-A INPUT -m length --length 40 -j RETURN\nCOMMIT\n";
    let nf = parse_iptables_save("x", src).unwrap();
    let out = nf.save();
    for l in [
        "-A INPUT -m iprange ! --src-range 10.0.0.1-10.0.0.9 --dst-range 10.0.1.0-10.0.1.255 -j DROP\n",
        "-A INPUT -m length ! --length 0:60 -j ACCEPT\n",
        "-A INPUT -m length --length 40 -j RETURN\n",
    ] {
        assert!(out.contains(l), "{l}: {out}");
    }
    let hit = |ip: &Ipv4| {
        let t = nf.table(TableKind::Filter).unwrap();
        let meta = PacketMeta {
            ip,
            iif: Some("eth0"),
            oif: None,
            physin: None,
            physout: None,
            mark: 0,
            ct: None,
            ipvs_property: false,
            ipvs_vs: None,
        };
        let mut env = Env {
            draws: vec![],
            local: vec![],
        };
        walk_table(t, Hook::Input, &meta, &mut env)
            .hits
            .first()
            .map(|h| h.position)
    };
    // A 40-byte SYN from outside the source range to inside the destination range: DROP.
    assert_eq!(hit(&syn("10.0.0.20", "10.0.1.5", 80)), Some(1));
    // From inside the source range: rule 1 does not match; 40 bytes is within 0:60, so
    // rule 2 (negated) does not either; rule 3 does.
    assert_eq!(hit(&syn("10.0.0.5", "10.0.1.5", 80)), Some(3));
}

#[test]
fn pkttype_and_notrack_read_print_and_match_as_the_kernel_does() {
    let dump = "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -m udp --dport 53 -j CT --notrack\n-A PREROUTING -p udp -m udp --dport 54 -j NOTRACK\n-A PREROUTING -j CT --zone 1\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m pkttype --pkt-type broadcast -j DROP\n-A INPUT -m pkttype ! --pkt-type unicast -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n";
    let nf = parse_iptables_save("n.rules", dump).unwrap();
    assert_eq!(nf.save(), dump);
    let raw = &nf.tables[0].chains()[0].rules;
    assert_eq!(raw[0].target, Target::Notrack { ct: true });
    assert_eq!(raw[1].target, Target::Notrack { ct: false });
    // CT with other options is still what kpath does not model.
    assert!(matches!(raw[2].target, Target::Unknown(_)));
    let filter = &nf.tables[1];
    let walk = |dst: &str| {
        let ip = syn("10.0.0.2", dst, 80);
        let meta = PacketMeta {
            ip: &ip,
            iif: Some("eth0"),
            oif: None,
            physin: None,
            physout: None,
            mark: 0,
            ct: None,
            ipvs_property: false,
            ipvs_vs: None,
        };
        let mut env = Env {
            draws: vec![],
            local: vec![],
        };
        walk_table(filter, Hook::Input, &meta, &mut env).verdict
    };
    assert_eq!(walk("255.255.255.255"), Final::Drop);
    assert!(matches!(walk("224.0.0.251"), Final::Reject { .. }));
    assert_eq!(walk("10.0.0.1"), Final::Accept);
}

#[test]
fn redirect_and_owner_print_as_iptables_save_does() {
    let dump = "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp -m owner ! --uid-owner 1337 -j REDIRECT --to-ports 15001\n-A OUTPUT -m owner --socket-exists --gid-owner 100-200 -j REDIRECT --to-ports 8000-8010 --random\nCOMMIT\n";
    let nf = parse_iptables_save("n.rules", dump).unwrap();
    assert_eq!(nf.save(), dump);
    let e =
        err("*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m owner --uid-owner istio -j RETURN\nCOMMIT\n");
    assert_eq!((e.line, e.column), (3, 32));
    assert!(e.message.contains("`istio` is not a uid or gid"), "{e}");
}

#[test]
fn connmark_reads_every_spelling_and_prints_as_iptables_save_does() {
    let written = "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --set-mark 0x4/0xf\n-A PREROUTING -j CONNMARK --save-mark --mask 0xff\n-A PREROUTING -j CONNMARK --restore-mark\n-A PREROUTING -m connmark ! --mark 0x1/0x1 -j RETURN\nCOMMIT\n";
    let saved = "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --set-xmark 0x4/0xf\n-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff\n-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff\n-A PREROUTING -m connmark ! --mark 0x1/0x1 -j RETURN\nCOMMIT\n";
    assert_eq!(
        parse_iptables_save("n.rules", written).unwrap().save(),
        saved
    );
    assert_eq!(parse_iptables_save("n.rules", saved).unwrap().save(), saved);
}

#[test]
fn the_kernels_own_save_of_the_newer_extensions_reads_back_byte_for_byte() {
    // What iptables-save printed after iptables-restore loaded CONNMARK, connmark, pkttype,
    // TCPMSS, CT --notrack, NOTRACK, rpfilter, owner and REDIRECT rules (tests/fixtures).
    let text = include_str!("../../../../tests/fixtures/extensions-kernel-save.rules");
    let dump: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let nf = parse_iptables_save("k.rules", &dump).unwrap();
    assert_eq!(nf.save(), dump);
}
