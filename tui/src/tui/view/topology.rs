//! The topology pane: lays out and styles what `kpath_sim::topology` says. Nodes as boxes
//! holding their pods and devices, the underlay, gateway and internet below them; where the
//! packet is now in reverse video, where it has been in green, and the VXLAN tunnel named
//! while the packet is encapsulated.

use super::App;
use kpath_sim::topology::{Mark, Place, Position};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// Rows the topology takes in a terminal `total` rows high.
pub fn height(app: &App, total: u16) -> u16 {
    let most = app.topology.most_items() as u16;
    (most + 3).clamp(5, total.saturating_sub(17).max(5))
}

fn style_of(pos: &Position, p: &Place) -> Style {
    match pos.mark(p) {
        Mark::Here => Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::REVERSED | Modifier::BOLD),
        Mark::Been => Style::default().fg(Color::Green),
        Mark::Not => Style::default(),
    }
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let topo = &app.topology;
    let pos = topo.position(app.trace(), app.step);
    let nodes = &topo.nodes;
    let [boxes, below] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let cols = Layout::horizontal(vec![
        Constraint::Ratio(1, nodes.len().max(1) as u32);
        nodes.len()
    ])
    .split(boxes);
    for (n, r) in nodes.iter().zip(cols.iter()) {
        let rows = usize::from(r.height.saturating_sub(2));
        let mut lines: Vec<Line> = n
            .items
            .iter()
            .take(rows)
            .map(|i| Line::styled(i.label.clone(), style_of(&pos, &i.place)))
            .collect();
        if n.items.len() > rows && rows > 0 {
            lines.pop();
            lines.push(Line::raw(format!("+{} more", n.items.len() - rows + 1)));
        }
        let border = if pos.in_node(n) {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        let title = match n.ip {
            Some(ip) => format!(" {} {ip} ", n.name),
            None => format!(" {} ", n.name),
        };
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(border)
                    .title(title),
            ),
            *r,
        );
    }
    // The underlay, the gateway, the internet, and the tunnel when the packet is inside one.
    let mut parts: Vec<(String, Style)> = Vec::new();
    if let Some(u) = &topo.underlay {
        parts.push((u.label.clone(), style_of(&pos, &Place::ns(&u.netns))));
    }
    for h in topo.gateway.iter().chain(&topo.internet) {
        parts.push((h.label.clone(), style_of(&pos, &Place::ns(&h.netns))));
    }
    if let Some(e) = &pos.encap {
        parts.push((
            format!("══ VXLAN vni {}: {} -> {} ══", e.vni, e.src, e.dst),
            Style::default()
                .fg(Color::LightBlue)
                .add_modifier(Modifier::BOLD),
        ));
    }
    let spans: Vec<Span> = parts
        .into_iter()
        .flat_map(|(t, st)| [Span::styled(t, st), Span::raw("  ")])
        .collect();
    f.render_widget(Paragraph::new(Line::from(spans)), below);
}
