//! How long the TUI takes to draw one frame at 200x60 for a long trace (every packet of
//! the ingress lesson's flows joined into one trace of 500+ steps), the current step in the
//! middle of it. A frame must take well under 16 ms (60 frames per second).

use criterion::{Criterion, criterion_group, criterion_main};
use kpath::tui::app::{App, Track};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;

fn long_trace_frame(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ingress.yaml");
    let s = kpath_sim::load_scenario(&path).expect("the shipped scenario loads");
    let w = kpath_sim::k8s::build_world(s.model(), s.seed).expect("the world builds");
    let tracks = kpath::tui::tracks(&s, &w, None).expect("traces");
    // One trace holding every step of every packet, renumbered.
    let mut long = tracks[0].trace.clone();
    long.steps.clear();
    while long.steps.len() < 500 {
        for t in &tracks {
            for st in &t.trace.steps {
                let mut st = st.clone();
                st.index = long.steps.len() + 1;
                long.steps.push(st);
            }
        }
    }
    let n = long.steps.len();
    let mut app = App::new(
        s,
        w,
        vec![Track {
            label: "all packets".into(),
            trace: long,
            seeded: true,
            group: 0,
        }],
    );
    app.step = n / 2;
    app.focus_change();
    let mut term = Terminal::new(TestBackend::new(200, 60)).expect("a test terminal");
    c.bench_function(&format!("tui frame 200x60, {n}-step trace"), |b| {
        b.iter(|| term.draw(|f| kpath::tui::view::draw(f, &app)).map(|_| ()))
    });
}

criterion_group!(benches, long_trace_frame);
criterion_main!(benches);
