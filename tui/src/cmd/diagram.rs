//! `kpath diagram`: a packet's or a flow's journey as a picture, Mermaid or SVG.

use crate::args::DiagramFormat;
use crate::cmd::walk::{load_and_walk, world};
use crate::failure::{Failure, Output};
use kpath_sim::render::diagram::{journey, mermaid, svg};
use kpath_sim::run::Walked;
use std::path::PathBuf;

/// `kpath diagram`.
pub fn command(
    scenario: PathBuf,
    packet: Option<String>,
    flow: Option<String>,
    format: DiagramFormat,
    output: Option<PathBuf>,
    args: &crate::args::WorldArgs,
) -> Result<Output, Failure> {
    let (s, walked) = load_and_walk(&scenario, packet.as_deref(), flow.as_deref(), args)?;
    let Some(w) = walked.first() else {
        return Err(crate::failure::usage(
            "give --packet NAME or --flow NAME".into(),
        ));
    };
    let text = match (format, w) {
        (DiagramFormat::Mermaid, Walked::Packet(t)) => mermaid::render(&journey::of_trace(t)),
        (DiagramFormat::Mermaid, Walked::Flow(f)) => mermaid::render(&journey::of_flow(f)),
        (DiagramFormat::Svg, _) => {
            // The topology before the walk: the world the packet was sent into.
            let world = world(&s, args)?;
            let (title, traces) = match w {
                Walked::Packet(t) => (
                    format!("{}: packet {}", t.scenario, t.packet),
                    vec![(t, false)],
                ),
                Walked::Flow(f) => (
                    format!("{}: flow {}", f.scenario, f.flow),
                    f.packets
                        .iter()
                        .map(|p| (&p.trace, p.side != "client"))
                        .collect(),
                ),
            };
            svg::render(&world, &title, &traces)
        }
    };
    match output {
        None => Ok(Output::Text(text)),
        Some(path) => {
            std::fs::write(&path, &text).map_err(|e| Failure {
                message: format!("error: cannot write {}: {e}", path.display()),
                status: 1,
            })?;
            Ok(Output::Written(format!("wrote {}", path.display())))
        }
    }
}
