//! The ipvsadm-save reader, with the same round trip as iptables_save: what kpath prints
//! must load and print the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(ipvs) = kpath_sim::ipvs::parse::parse_ipvsadm_save("fuzz", text) else {
        return;
    };
    let saved = kpath_sim::ipvs::print::save(&ipvs);
    let again = match kpath_sim::ipvs::parse::parse_ipvsadm_save("saved", &saved) {
        Ok(i) => i,
        Err(e) => {
            panic!("kpath's own ipvsadm-save output does not load:\n{e}\n--- output:\n{saved}")
        }
    };
    assert_eq!(
        saved,
        kpath_sim::ipvs::print::save(&again),
        "printing is not a fixed point of reading"
    );
});
