//! kpath prints a ruleset the way iptables-save prints it after iptables-restore loaded
//! it (libxt's parse and print functions; each expected line checked with iptables 1.8.9
//! in a network namespace), and refuses what iptables-restore refuses.

use kpath_sim::netfilter::parse_iptables_save;

fn saved(rule: &str) -> String {
    let text = format!("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING {rule}\nCOMMIT\n");
    let nf = parse_iptables_save("rules", &text).unwrap_or_else(|e| panic!("{e}"));
    let out = nf.save();
    out.lines()
        .find(|l| l.starts_with("-A PREROUTING"))
        .unwrap_or_else(|| panic!("{out}"))
        .trim_start_matches("-A PREROUTING ")
        .to_string()
}

/// The error for one rule in mangle PREROUTING.
fn refused(rule: &str) -> String {
    refused_in(
        "mangle",
        ":PREROUTING ACCEPT [0:0]\n",
        &format!("-A PREROUTING {rule}\n"),
    )
}

#[test]
fn set_mark_with_a_mask_becomes_set_xmark_over_value_or_mask() {
    // mark_tg_parse: --set-mark V/M stores mask V|M.
    assert_eq!(
        saved("-j MARK --set-mark 0x1/0x2"),
        "-j MARK --set-xmark 0x1/0x3"
    );
    assert_eq!(
        saved("-j MARK --set-mark 0x4000"),
        "-j MARK --set-xmark 0x4000/0xffffffff"
    );
}

#[test]
fn tcp_flags_all_is_printed_flag_by_flag() {
    assert_eq!(
        saved("-p tcp -m tcp --tcp-flags ALL SYN -j ACCEPT"),
        "-p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG SYN -j ACCEPT"
    );
}

/// As iptables 1.8.9 (nf_tables) saves them, checked with iptables-restore/-save.
#[test]
fn nth_is_saved_with_its_packet() {
    assert_eq!(
        saved("-m statistic --mode nth --every 3 --packet 0 -j ACCEPT"),
        "-m statistic --mode nth --every 3 --packet 0 -j ACCEPT"
    );
}

#[test]
fn statistic_without_its_numbers_is_refused_with_the_place() {
    let e = refused("-m statistic --mode random -j ACCEPT");
    assert!(
        e.contains("needs --probability") && e.contains("rules:3:"),
        "{e}"
    );
    let e = refused("-m statistic --mode nth --every 0 -j ACCEPT");
    assert!(e.contains("needs --every"), "{e}");
    let e = refused("-m statistic --mode nth --every 2 --packet 2 -j ACCEPT");
    assert!(e.contains("--packet 2 is not below --every 2"), "{e}");
}

/// iptables-restore: "multiple -p flags not allowed" (checked with iptables 1.8.9).
#[test]
fn a_selector_given_twice_is_refused() {
    for rule in [
        "-p tcp -p udp -j ACCEPT",
        "-s 10.0.0.0/8 -s 11.0.0.0/8 -j ACCEPT",
        "-i eth0 -i eth1 -j ACCEPT",
    ] {
        let e = refused(rule);
        assert!(
            e.contains("multiple") && e.contains("flags not allowed"),
            "{e}"
        );
    }
}

fn refused_in(table: &str, chains: &str, rules: &str) -> String {
    let text = format!("*{table}\n{chains}{rules}COMMIT\n");
    match parse_iptables_save("rules", &text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Each case was refused by iptables-restore 1.8.9 in a network namespace
/// ("RULE_APPEND failed (Invalid argument)", or the nat table's DROP message); the last one
/// it accepted.
#[test]
fn targets_in_the_wrong_table_or_hook_are_refused() {
    let e = refused_in(
        "filter",
        ":INPUT ACCEPT [0:0]\n",
        "-A INPUT -p tcp -j DNAT --to-destination 1.2.3.4:80\n",
    );
    assert!(
        e.contains("DNAT target is only valid in the nat table, not filter"),
        "{e}"
    );
    let e = refused_in(
        "nat",
        ":PREROUTING ACCEPT [0:0]\n",
        "-A PREROUTING -j REJECT\n",
    );
    assert!(e.contains("REJECT target cannot run at PREROUTING"), "{e}");
    // Through a user chain: the hook that reaches it counts.
    let e = refused_in(
        "nat",
        ":PREROUTING ACCEPT [0:0]\n:X - [0:0]\n",
        "-A PREROUTING -j X\n-A X -j MASQUERADE\n",
    );
    assert!(
        e.contains("MASQUERADE target cannot run at PREROUTING (chain `X`"),
        "{e}"
    );
    assert!(e.contains("rules:5:"), "the MASQUERADE rule's line: {e}");
    let e = refused_in(
        "nat",
        ":PREROUTING ACCEPT [0:0]\n",
        "-A PREROUTING -j DROP\n",
    );
    assert!(e.contains("not intended for filtering"), "{e}");
    // A REJECT in a chain nothing reaches yet is fine.
    parse_iptables_save(
        "rules",
        "*filter\n:INPUT ACCEPT [0:0]\n:Y - [0:0]\n-A Y -j REJECT\nCOMMIT\n",
    )
    .unwrap();
}
