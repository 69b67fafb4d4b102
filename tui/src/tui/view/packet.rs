//! The packet pane: the headers as layers (outer and inner for VXLAN), each field the step
//! changed shown before -> after, and the selected field marked (its bytes light up in the
//! hex dump).

use super::App;
use kpath_sim::trace::{Role, Step};
use kpath_sim::wire::fields::{Change, Field, changes, fields};
use ratatui::Frame as TermFrame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// The fields of the current step's packet and the index of the selected one.
pub fn selected(app: &App) -> Option<(Vec<Field>, usize)> {
    let s = app.current()?;
    let mut fs = fields(&s.packet);
    if !has_l2(&s.packet) {
        fs.retain(|f| f.layer != fs_first_layer(&s.packet));
    }
    let i = app.field.min(fs.len().saturating_sub(1));
    Some((fs, i))
}

/// Has the frame an Ethernet header yet? Until the neighbour layer fills them, a
/// locally sent packet's MAC addresses are zero: it has no layer 2 to show.
pub fn has_l2(f: &kpath_sim::wire::Frame) -> bool {
    !(f.src == kpath_sim::wire::Mac::ZERO && f.dst == kpath_sim::wire::Mac::ZERO)
}

/// The name of the frame's first (Ethernet) layer, as `fields` names it.
fn fs_first_layer(f: &kpath_sim::wire::Frame) -> String {
    fields(f)
        .first()
        .map(|x| x.layer.clone())
        .unwrap_or_default()
}

fn role_name(s: &Step) -> &'static str {
    match s.role {
        Role::Packet => "packet",
        Role::ArpRequest => "ARP request",
        Role::ArpReply => "ARP reply",
        Role::Response => "response (ICMP error / RST)",
        Role::Dns => "DNS lookup",
    }
}

pub fn draw(f: &mut TermFrame, app: &App, area: Rect) {
    let Some(s) = app.current() else {
        f.render_widget(
            Block::default().borders(Borders::ALL).title(" packet "),
            area,
        );
        return;
    };
    // No invented headers: a step before any packet exists (the resolver) shows none,
    // and a packet that has no layer 2 yet (before neighbour resolution) no Ethernet.
    if kpath_sim::render::text::packet_lines(&s.packet).is_empty() {
        f.render_widget(
            Paragraph::new(format!(
                "no packet at this step: {} happens before any packet is sent",
                s.func
            ))
            .block(Block::default().borders(Borders::ALL).title(" packet ")),
            area,
        );
        return;
    }
    let Some((fs, sel)) = selected(app) else {
        return;
    };
    let changed: Vec<Change> = app
        .packet_before()
        .map(|b| changes(b, &s.packet))
        .unwrap_or_default();
    let changed_here = |fd: &Field| {
        changed
            .iter()
            .find(|c| c.layer == fd.layer && c.name == fd.name)
    };
    let mut lines: Vec<Line> = Vec::new();
    let mut sel_line = 0;
    let mut layer = "";
    for (i, fd) in fs.iter().enumerate() {
        if fd.layer != layer {
            layer = &fd.layer;
            lines.push(Line::styled(
                fd.layer.clone(),
                Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ));
        }
        let mark = if i == sel { "▸" } else { " " };
        let mut spans = vec![Span::raw(format!("{mark} {:<13}", fd.name))];
        match changed_here(fd) {
            Some(c) => {
                let old = c.before.clone().unwrap_or_else(|| "(new)".into());
                spans.push(Span::styled(old, Style::default().fg(Color::DarkGray)));
                spans.push(Span::raw(" -> "));
                spans.push(Span::styled(
                    fd.value.clone(),
                    Style::default()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::BOLD),
                ));
            }
            None => spans.push(Span::raw(fd.value.clone())),
        }
        let mut line = Line::from(spans);
        if i == sel {
            sel_line = lines.len();
            line = line.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    // Headers the step removed (decapsulation).
    for c in changed.iter().filter(|c| c.after.is_none()) {
        lines.push(Line::styled(
            format!(
                "  {} {}: {} -> (removed)",
                c.layer,
                c.name,
                c.before.clone().unwrap_or_default()
            ),
            Style::default().fg(Color::DarkGray),
        ));
    }
    let title = format!(
        " {} ({} bytes), {} field(s) changed — {} {} ",
        role_name(s),
        s.packet.emit().len() - if has_l2(&s.packet) { 0 } else { 14 },
        changed.len(),
        fs[sel].layer,
        fs[sel].name
    );
    let block = Block::default().borders(Borders::ALL).title(title);
    let rows = usize::from(block.inner(area).height);
    let scroll = sel_line
        .saturating_sub(rows / 2)
        .min(lines.len().saturating_sub(rows));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll as u16, 0)),
        area,
    );
}
