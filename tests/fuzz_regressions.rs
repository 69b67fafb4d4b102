//! Inputs the cargo-fuzz targets (fuzz/, README "Fuzzing") found, minimised, fed through the
//! public API. Each test names the target that found its input and asserts the answer kpath
//! now gives: a located error with a hint, or a dump that reads back the same.

use kpath_sim::ipvs::{self, parse::parse_ipvsadm_save};
use kpath_sim::netfilter::ipset::parse_ipsets;

/// `ipset`: an `ipset list` block whose `Name:` is empty loaded as a set named "", which
/// printed as `create  hash:ip ...` - a set named `hash:ip` on reading back. A set name is one
/// word; the list reader now says so where the name should be.
#[test]
fn ipset_list_with_an_empty_name_is_refused_where_the_name_is() {
    // `cargo fuzz tmin ipset` output, byte for byte.
    let e = parse_ipsets("sets.txt", "Name:\nType:hash:ip").unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("sets.txt", 1, 6),
        "{e}"
    );
    assert_eq!(e.message, "`Name:` names no set", "{e}");
    assert!(
        e.hint.as_deref().is_some_and(|h| h.contains("Name: SET")),
        "{e}"
    );
}

/// `ipset`: the unminimised input had a name with a space in it (`KUBE-CLUSTER-IPe KUBrK`),
/// which printed as a `create` line whose set type is `KUBrK`.
#[test]
fn ipset_list_with_a_spaced_name_is_refused_where_the_name_is() {
    let src = "Name: KUBE-CLUSTER-IPe KUBrK\nType: hash:ip,port\nMembers:\n10.96.0.10,udp:53\n";
    let e = parse_ipsets("sets.txt", src).unwrap_err();
    assert_eq!((e.line, e.column), (1, 7), "{e}");
    assert_eq!(
        e.message, "`KUBE-CLUSTER-IPe KUBrK` is not a set name: a set name is one word",
        "{e}"
    );
    // One-word names still load, and print as `ipset save` does.
    let ok = src.replace("KUBE-CLUSTER-IPe KUBrK", "KUBE-CLUSTER-IP");
    let sets = parse_ipsets("sets.txt", &ok).unwrap();
    assert_eq!(
        sets.iter().map(|s| s.save()).collect::<String>(),
        "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\n\
         add KUBE-CLUSTER-IP 10.96.0.10,udp:53\n"
    );
}

/// `ipvsadm_save`: three real servers spread round the address circle (1.2.2.1 < 90.4.2.0 <
/// 208.2.2.5 < 1.2.2.1 in ipvsadm's wrapping comparison) have no order, and the printed list
/// rotated on every save/read round trip (`ip_vs_add_dest` reverses the file's order). The
/// printer now cuts the circle at the widest gap: one order whatever the input order.
#[test]
fn ipvsadm_save_of_servers_round_the_address_circle_is_a_fixed_point() {
    // `cargo fuzz tmin ipvsadm_save` output, byte for byte (no ports on `-r`, no `-m -w`).
    let src = "-A -t 10.244.1.0:31771 -s rr\n\
               -a -t 10.244.1.0:31771 -r 1.2.2.1\n\
               -a -t 10.244.1.0:31771 -r 90.4.2.0\n\
               -a -t 10.244.1.0:31771 -r 208.2.2.5\n";
    let saved = ipvs::print::save(&parse_ipvsadm_save("fuzz", src).unwrap());
    // The widest gap is the one before 208.2.2.5, so the list starts there.
    let order: Vec<&str> = saved
        .lines()
        .filter_map(|l| l.split(" -r ").nth(1))
        .map(|r| r.split(':').next().unwrap_or(r))
        .collect();
    assert_eq!(order, ["208.2.2.5", "1.2.2.1", "90.4.2.0"], "{saved}");
    let again = ipvs::print::save(&parse_ipvsadm_save("saved", &saved).unwrap());
    assert_eq!(saved, again);
    // Every input order gives the same text.
    let lines: Vec<&str> = src.lines().collect();
    for perm in [[1, 3, 2], [2, 1, 3], [2, 3, 1], [3, 1, 2], [3, 2, 1]] {
        let mut text = format!("{}\n", lines[0]);
        for i in perm {
            text.push_str(lines[i]);
            text.push('\n');
        }
        let out = ipvs::print::save(&parse_ipvsadm_save("perm", &text).unwrap());
        assert_eq!(out, saved, "input order {perm:?}");
    }
}

/// The cut keeps ipvsadm's own order wherever that is an order: 172.31.0.11 before 10.96.0.1
/// (2^31 or more apart, they compare "backwards"), both services and real servers.
#[test]
fn ipvsadm_save_keeps_ipvsadms_wrapping_order_when_it_is_an_order() {
    let src = "-A -t 10.96.0.1:443 -s rr\n\
               -a -t 10.96.0.1:443 -r 10.244.1.5:8080 -m -w 1\n\
               -a -t 10.96.0.1:443 -r 172.31.0.10:6443 -m -w 1\n\
               -A -t 172.31.0.11:30080 -s rr\n";
    let saved = ipvs::print::save(&parse_ipvsadm_save("f", src).unwrap());
    assert_eq!(
        saved,
        "-A -t 172.31.0.11:30080 -s rr\n\
         -A -t 10.96.0.1:443 -s rr\n\
         -a -t 10.96.0.1:443 -r 172.31.0.10:6443 -m -w 1\n\
         -a -t 10.96.0.1:443 -r 10.244.1.5:8080 -m -w 1\n"
    );
}
