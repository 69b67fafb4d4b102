//! A journey as a Mermaid sequence diagram (renders on GitHub in a ```mermaid block):
//! namespaces as participants in the order the packet reaches them, each hop an arrow
//! named by the device that sent it and the one that took it, decisions as notes, and the
//! VXLAN stretch in a highlighted region.

use super::journey::{Event, Journey};
use std::fmt::Write;

/// Mermaid reads `;` as a statement's end and `#` as the start of an entity code.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(j: &Journey) -> String {
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(out, "    title {}", escape(&j.title));
    for (i, p) in j.places.iter().enumerate() {
        let _ = writeln!(out, "    participant p{i} as {}", escape(p));
    }
    let last = j.places.len().saturating_sub(1);
    let mut in_tunnel = false;
    for e in &j.events {
        let tunnel = matches!(
            e,
            Event::Hop {
                tunnel: Some(_),
                ..
            }
        );
        let hop = matches!(e, Event::Hop { .. });
        if hop && tunnel != in_tunnel {
            out.push_str(if tunnel {
                "    rect rgb(255, 236, 179)\n"
            } else {
                "    end\n"
            });
            in_tunnel = tunnel;
        }
        match e {
            Event::Hop {
                from,
                to,
                via,
                packet,
                tunnel,
                reply,
            } => {
                let arrow = if *reply { "-->>" } else { "->>" };
                let inside = tunnel
                    .as_ref()
                    .map(|t| format!("<br/>in {t}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    p{from}{arrow}p{to}: {}<br/>{}{}",
                    escape(via),
                    escape(packet),
                    escape(&inside)
                );
            }
            Event::Note { at, text } => {
                let _ = writeln!(out, "    Note over p{at}: {}", escape(text));
            }
            Event::Packet { label } => {
                if in_tunnel {
                    out.push_str("    end\n");
                    in_tunnel = false;
                }
                let _ = writeln!(out, "    Note over p0,p{last}: {}", escape(label));
            }
        }
    }
    if in_tunnel {
        out.push_str("    end\n");
    }
    out
}
