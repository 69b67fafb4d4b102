//! The iptables-save reader and printer agree: any ruleset built from the matches and
//! targets kube-proxy and flannel use prints to text that reads back to the same ruleset
//! (printing is a fixed point), and no input - valid, mangled or random - makes the reader
//! panic.

use kpath_sim::netfilter::parse_iptables_save;
use proptest::prelude::*;

fn net() -> impl Strategy<Value = String> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, p)| {
        let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
        format!("{}/{p}", std::net::Ipv4Addr::from(a & mask))
    })
}

/// The per-rule selectors iptables allows once each (-s, -d, -i, -o, -p with its ports),
/// then any number of match modules.
fn matches() -> impl Strategy<Value = String> {
    let proto = prop_oneof![
        (1u16..=65535).prop_map(|p| format!("-p tcp -m tcp --dport {p}")),
        (1u16..=65535).prop_map(|p| format!("-p udp -m udp --sport {p}")),
    ];
    let module = prop_oneof![
        "[a-z0-9/:. -]{0,30}".prop_map(|c| format!("-m comment --comment \"{c}\"")),
        (any::<u32>(), any::<u32>()).prop_map(|(v, m)| format!("-m mark --mark 0x{v:x}/0x{m:x}")),
        prop::sample::select(vec![
            "NEW",
            "ESTABLISHED",
            "RELATED,ESTABLISHED",
            "INVALID",
            "DNAT"
        ])
        .prop_map(|s| format!("-m conntrack --ctstate {s}")),
        (1u32..=999)
            .prop_map(|p| format!("-m statistic --mode random --probability 0.{p:03}00000000")),
        prop::sample::select(vec!["LOCAL", "UNICAST", "BROADCAST"])
            .prop_map(|t| format!("-m addrtype --dst-type {t}")),
    ];
    (
        prop::option::of(net().prop_map(|n| format!("-s {n}"))),
        prop::option::of(net().prop_map(|n| format!("! -d {n}"))),
        prop::option::of("[a-z][a-z0-9.]{0,8}".prop_map(|i| format!("-i {i}"))),
        prop::option::of("[a-z][a-z0-9.]{0,8}".prop_map(|i| format!("! -o {i}"))),
        prop::option::of(proto),
        prop::collection::vec(module, 0..3),
    )
        .prop_map(|(s, d, i, o, p, ms)| {
            let mut parts: Vec<String> = [s, d, i, o].into_iter().flatten().collect();
            // DNAT needs a protocol with ports: default to tcp when none was drawn.
            parts.push(p.unwrap_or_else(|| "-p tcp".into()));
            parts.extend(ms);
            parts.join(" ")
        })
}

/// A target; jumps go to user chains `lo..chains` only (later chains), so nothing loops.
fn target(nat: bool, lo: usize, chains: usize) -> BoxedStrategy<String> {
    let jump = if lo < chains {
        (lo..chains).prop_map(|c| format!("-j CH{c}")).boxed()
    } else {
        Just("-j RETURN".to_string()).boxed()
    };
    let mut options = vec![
        Just("-j ACCEPT".to_string()).boxed(),
        Just("-j RETURN".to_string()).boxed(),
        Just(String::new()).boxed(),
        jump,
        (any::<u32>(), any::<u32>())
            .prop_map(|(v, m)| format!("-j MARK --set-xmark 0x{v:x}/0x{m:x}"))
            .boxed(),
    ];
    if nat {
        options.push(
            (any::<u32>(), 1u16..=65535)
                .prop_map(|(a, p)| {
                    format!(
                        "-j DNAT --to-destination {}:{p}",
                        std::net::Ipv4Addr::from(a)
                    )
                })
                .boxed(),
        );
    } else {
        options.push(Just("-j DROP".to_string()).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

/// A table with user chains CH0..CHn, rules in them and in the built-in OUTPUT chain
/// (so only targets valid at OUTPUT: DNAT yes, MASQUERADE no).
fn table() -> impl Strategy<Value = String> {
    (any::<bool>(), 1usize..4).prop_flat_map(|(nat, chains)| {
        // `chain` None: the built-in OUTPUT chain, which may jump into any user chain.
        let rule = move |chain: Option<usize>| {
            let lo = chain.map_or(0, |c| c + 1);
            (matches(), target(nat, lo, chains)).prop_map(move |(ms, t)| {
                let name = chain.map_or("OUTPUT".to_string(), |c| format!("CH{c}"));
                format!("-A {name} {ms} {t}")
            })
        };
        let per_chain: Vec<_> = (0..chains)
            .map(|c| prop::collection::vec(rule(Some(c)), 0..4))
            .collect();
        (
            Just(nat),
            Just(chains),
            per_chain,
            prop::collection::vec(rule(None), 0..3),
        )
            .prop_map(|(nat, chains, bodies, builtin)| {
                let mut t = String::from(if nat {
                    "*nat\n:OUTPUT ACCEPT [0:0]\n"
                } else {
                    "*filter\n:OUTPUT ACCEPT [0:0]\n"
                });
                for c in 0..chains {
                    t.push_str(&format!(":CH{c} - [0:0]\n"));
                }
                for r in builtin.iter().chain(bodies.iter().flatten()) {
                    t.push_str(r);
                    t.push('\n');
                }
                t.push_str("COMMIT\n");
                t
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn printing_is_a_fixed_point_of_reading(text in table()) {
        // Every generated ruleset is one iptables-restore accepts: kpath must read it.
        let nf = parse_iptables_save("gen.rules", &text)
            .unwrap_or_else(|e| panic!("a valid ruleset was refused: {e}\n{text}"));
        let once = nf.save();
        let again = parse_iptables_save("saved.rules", &once)
            .unwrap_or_else(|e| panic!("kpath cannot read what it printed: {e}\n{once}"));
        prop_assert_eq!(&again.save(), &once);
    }

    #[test]
    fn mangled_dumps_are_refused_or_read_never_a_panic(
        text in table(),
        cut in any::<prop::sample::Index>(),
        junk in "[ -~\n]{0,20}",
    ) {
        let at = cut.index(text.len().max(1)).min(text.len());
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let mangled = format!("{}{junk}{}", &text[..at], &text[at..]);
        let _ = parse_iptables_save("mangled.rules", &mangled);
    }

    #[test]
    fn random_text_is_refused_or_read_never_a_panic(text in "[*:!A-Za-z0-9 ./\"\n-]{0,300}") {
        let _ = parse_iptables_save("random.rules", &text);
    }
}
