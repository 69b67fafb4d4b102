//! The scenario loader (YAML -> serde -> validation), and behind it the controllers and the
//! engine: every scenario that loads is built into a world and each of its packets walked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(s) = kpath_sim::load_scenario_str("fuzz.yaml", text) else {
        return;
    };
    // A scenario that validates must build: build_world fails only on a controller bug.
    let world = match kpath_sim::k8s::build_world(s.model(), s.seed) {
        Ok(w) => w,
        Err(e) => panic!("a valid scenario failed to build its world:\n{e}"),
    };
    for p in &s.packets {
        // Walks are bounded by the engine's step cap; an error is a located answer, fine.
        let _ = kpath_sim::run_packet(&s, &world, &p.name.value);
    }
});
