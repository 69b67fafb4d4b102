//! The iptables-save reader. A dump that loads is printed and read again: what kpath
//! prints must load, and printing it again must give the same text (a fixed point).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(nf) = kpath_sim::netfilter::parse_iptables_save("fuzz", text) else {
        return;
    };
    let saved = nf.save();
    let again = match kpath_sim::netfilter::parse_iptables_save("saved", &saved) {
        Ok(nf) => nf,
        Err(e) => {
            panic!("kpath's own iptables-save output does not load:\n{e}\n--- output:\n{saved}")
        }
    };
    assert_eq!(
        saved,
        again.save(),
        "printing is not a fixed point of reading"
    );
});
