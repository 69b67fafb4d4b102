//! The ipset reader (`ipset save` and `ipset list`). Sets that load are printed in the
//! save form and read again: that must load and print the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sets) = kpath_sim::netfilter::ipset::parse_ipsets("fuzz", text) else {
        return;
    };
    let saved: String = sets.iter().map(|s| s.save()).collect();
    let again = match kpath_sim::netfilter::ipset::parse_ipsets("saved", &saved) {
        Ok(s) => s,
        Err(e) => panic!("kpath's own ipset save output does not load:\n{e}\n--- output:\n{saved}"),
    };
    let resaved: String = again.iter().map(|s| s.save()).collect();
    assert_eq!(saved, resaved, "printing is not a fixed point of reading");
});
