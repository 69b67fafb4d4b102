//! The kubectl dump reader (`import::kubectl`: YAML, JSON or several documents -> API
//! objects -> a scenario, validated): a dump that imports must build into a world, and the
//! scenario `kpath import` writes of it must load again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(s) = kpath_sim::import::kubectl::scenario("dump.yaml", text, &Default::default())
    else {
        return;
    };
    if let Err(e) = kpath_sim::k8s::build_world(s.model(), 0) {
        panic!("an imported dump failed to build its world:\n{e}");
    }
    let written = kpath_sim::import::write::scenario(&s, "dump.yaml");
    if let Err(e) = kpath_sim::load_scenario_str("written.yaml", &written) {
        panic!("the scenario written of an imported dump does not load:\n{e}\n{written}");
    }
});
