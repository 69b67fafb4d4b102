//! The reader and printer against what nft itself wrote: kube-proxy v1.33's
//! TestOverallNFTablesRules transaction (tests/fixtures/nft/*.nft, as knftables writes it)
//! and the `nft list ruleset` nft 1.0.6 printed after loading it into a namespace
//! (*.list).

use super::expr::*;
use super::*;

const TXN: &str = include_str!("../../../../tests/fixtures/nft/kube-proxy-v1.33-overall.nft");
const LIST: &str = include_str!("../../../../tests/fixtures/nft/kube-proxy-v1.33-overall.list");

fn read(src: &str) -> Ruleset {
    parse("t.nft", src).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn knftables_transactions_and_nfts_listing_read_as_one_ruleset() {
    let txn = read(TXN);
    let list = read(LIST);
    let t = &txn.tables[0];
    assert_eq!((t.family, t.name.as_str()), (Family::Ip, "kube-proxy"));
    assert_eq!(t.chains.len(), list.tables[0].chains.len());
    assert_eq!(txn.unordered(), list.unordered());
}

#[test]
fn printing_a_parsed_ruleset_reads_back_the_same() {
    for src in [TXN, LIST] {
        let rs = read(src);
        let printed = list_ruleset(&rs);
        assert_eq!(
            read(&printed).unordered(),
            rs.clone().unordered(),
            "{printed}"
        );
        // And printing is stable.
        assert_eq!(list_ruleset(&read(&printed)), printed);
    }
}

#[test]
fn chains_and_rules_print_as_nft_list_ruleset_does() {
    let printed = list_ruleset(&read(TXN));
    // Every chain line nft printed (element lists aside, which nft wraps and orders by
    // hash) is printed the same.
    let elements =
        |l: &str| l.trim_start().starts_with("elements = ") || l.starts_with("\t\t\t     ");
    let mine: Vec<&str> = printed.lines().filter(|l| !elements(l)).collect();
    let nfts: Vec<&str> = LIST.lines().filter(|l| !elements(l)).collect();
    assert_eq!(mine, nfts);
    // Element lines wrap as nft wraps them (their order is the kernel's hash order).
    let shape = |text: &str| -> Vec<usize> {
        text.lines()
            .filter(|l| elements(l))
            .map(|l| l.matches(", ").count() + l.matches(" : ").count())
            .collect()
    };
    assert_eq!(shape(&printed), shape(LIST));
}

#[test]
fn base_chains_keep_their_hooks_and_priorities() {
    let rs = read(LIST);
    let t = &rs.tables[0];
    let base = |n: &str| t.chain(n).unwrap().base.clone().unwrap();
    assert_eq!(
        (
            base("filter-prerouting").hook,
            base("filter-prerouting").priority
        ),
        (ruleset::NftHook::Prerouting, -110)
    );
    assert_eq!(base("filter-output-post-dnat").priority, -90);
    assert_eq!(base("nat-postrouting").priority, 100);
    assert_eq!(base("nat-output").priority, -100);
    assert_eq!(
        print::priority(Family::Ip, ruleset::NftHook::Prerouting, -110),
        "dstnat - 10"
    );
    assert_eq!(
        print::priority(Family::Ip, ruleset::NftHook::Output, -100),
        "-100"
    );
    assert_eq!(
        print::priority(Family::Ip, ruleset::NftHook::Postrouting, 100),
        "srcnat"
    );
}

#[test]
fn expressions_are_normalised_as_nft_lists_them() {
    let rs = read(
        "add table ip t\nadd chain ip t c\nadd rule ip t c mark set mark or 0x4000\nadd rule ip t c mark and 0x4000 == 0 return\nadd rule ip t c ip daddr { 172.30.0.0/16 } drop\nadd rule ip t c ct state established,related accept\n",
    );
    let c = rs.tables[0].chain("c").unwrap();
    let lines: Vec<String> = c.rules.iter().map(print::rule).collect();
    assert_eq!(
        lines,
        [
            "meta mark set meta mark | 0x00004000",
            "meta mark & 0x00004000 == 0x00000000 return",
            "ip daddr 172.30.0.0/16 drop",
            "ct state established,related accept",
        ]
    );
    let txn = read(TXN);
    let Stmt::Vmap { key, map } = &txn.tables[0].chain("services").unwrap().rules[0].exprs[0]
    else {
        panic!("services begins with the service-ips lookup");
    };
    assert_eq!(print::expr(key), "ip daddr . meta l4proto . th dport");
    assert_eq!(map, &Rhs::Named("service-ips".into()));
}

#[test]
fn what_kpath_does_not_model_is_refused_by_name_with_its_place() {
    let e = parse(
        "f.nft",
        "add table ip t\nadd chain ip t c\nadd rule ip t c ip6 saddr ::1 drop\n",
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (3, 17));
    assert!(e.message.contains("`ip6`"), "{e}");
    assert!(
        e.hint.as_deref().unwrap_or("").contains("numgen random"),
        "{e}"
    );
    let e = parse(
        "f.nft",
        "add table ip t\nadd chain ip t c\nadd rule ip t c queue num 1\n",
    )
    .unwrap_err();
    assert!(
        e.message.contains("`queue`") && (e.line, e.column) == (3, 17),
        "{e}"
    );
    let e = parse("f.nft", "add rule ip t c accept\n").unwrap_err();
    assert!(e.message.contains("table ip t does not exist"), "{e}");
    let e = parse(
        "f.nft",
        "add table ip t\nadd chain ip t c { type filter hook prerouting priority sideways ; }\n",
    )
    .unwrap_err();
    assert!(
        e.message.contains("`sideways` is not a priority") && e.line == 2,
        "{e}"
    );
    let e = parse("f.nft", "add table ip t\nadd set ip t s { type ipv4_addr ; }\nadd element ip t s { 10.0.0.1 10.0.0.2 }\n").unwrap_err();
    assert!(
        e.message.contains("expected `,` or `}`") && (e.line, e.column) == (3, 31),
        "{e}"
    );
}

proptest::proptest! {
    /// Whatever the input, the reader answers or refuses; it never panics.
    #[test]
    fn any_input_is_read_or_refused(src in "(add |table |chain |rule |set |ip |t |c |\\{ |\\} |; |, |\\. |: |@s |==|!= |-1|0x4|é|\"|#|\n|[a-z0-9./:-]{1,6} ){0,40}") {
        let _ = parse("p.nft", &src);
    }

    /// Lines cut from the real listing are read or refused, never a panic, and what is
    /// read prints and reads back the same.
    #[test]
    fn cut_listings_round_trip(start in 0usize..227, len in 0usize..227) {
        let lines: Vec<&str> = LIST.lines().collect();
        let end = (start + len).min(lines.len());
        let src = lines[start.min(end)..end].join("\n");
        if let Ok(rs) = parse("p.nft", &src) {
            let printed = list_ruleset(&rs);
            let again = parse("p.nft", &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
            proptest::prop_assert_eq!(list_ruleset(&again), printed);
        }
    }
}
