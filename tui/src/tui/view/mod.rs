//! Drawing: one function per pane, all reading the [`App`]; nothing here changes state
//! except remembering where the step list was drawn (for mouse clicks).

mod detail;
mod packet;
mod steps;
mod topology;

use super::app::{App, KIND_KEYS, KINDS, Overlay, PROTO_KEYS, PROTOS};
use kpath_sim::trace::StepKind;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// The smallest terminal the layout is made for.
pub const MIN: (u16, u16) = (80, 24);

/// The colour of a step kind, shared by the step list and the legend.
pub fn kind_color(k: StepKind) -> Color {
    match k {
        StepKind::Link => Color::Gray,
        StepKind::Bridge => Color::Cyan,
        StepKind::Routing => Color::Blue,
        StepKind::Netfilter => Color::Yellow,
        StepKind::Conntrack => Color::Magenta,
        StepKind::Nat => Color::LightMagenta,
        StepKind::Ipvs => Color::LightYellow,
        StepKind::Neighbour => Color::DarkGray,
        StepKind::Encap | StepKind::Decap => Color::LightBlue,
        StepKind::Socket => Color::White,
        StepKind::Delivery => Color::Green,
        StepKind::Drop => Color::Red,
        StepKind::Icmp => Color::LightRed,
    }
}

pub fn kind_name(k: StepKind) -> &'static str {
    match k {
        StepKind::Link => "link",
        StepKind::Bridge => "bridge",
        StepKind::Routing => "routing",
        StepKind::Netfilter => "netfilter",
        StepKind::Conntrack => "conntrack",
        StepKind::Nat => "NAT",
        StepKind::Ipvs => "IPVS",
        StepKind::Neighbour => "neighbour",
        StepKind::Encap => "encapsulation",
        StepKind::Decap => "decapsulation",
        StepKind::Socket => "socket",
        StepKind::Delivery => "delivery",
        StepKind::Drop => "drop",
        StepKind::Icmp => "ICMP/RST",
    }
}

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN.0 || area.height < MIN.1 {
        let msg = format!(
            "kpath needs a terminal of at least {}x{}; this one is {}x{}.\nEnlarge it, or press q to quit.",
            MIN.0, MIN.1, area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let topo_h = topology::height(app, area.height);
    let [title, topo, body, explain, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(topo_h),
        Constraint::Min(8),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    title_bar(f, app, title);
    topology::draw(f, app, topo);
    // Below 100 columns the step list takes the larger share: its rows are what a learner
    // reads first, and the packet's fields fit a narrow pane.
    let list_share = if area.width < 100 { 60 } else { 42 };
    let [list, right] = Layout::horizontal([
        Constraint::Percentage(list_share),
        Constraint::Percentage(100 - list_share),
    ])
    .areas(body);
    steps::draw(f, app, list);
    let [pkt, det] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
    packet::draw(f, app, pkt);
    detail::draw(f, app, det);
    explanation(f, app, explain);
    key_line(f, app, keys);
    match app.overlay {
        Overlay::Help => help(f, area),
        Overlay::Filter => filter(f, app, area),
        Overlay::Tracks => tracks(f, app, area),
        Overlay::Send => send(f, app, area),
        Overlay::None => {}
    }
}

fn title_bar(f: &mut Frame, app: &App, area: Rect) {
    let t = app.trace();
    let vis = app.visible_steps();
    let pos = vis.iter().position(|&i| i == app.step).map_or(0, |p| p + 1);
    let play = if app.playing {
        format!("  ▶ playing ({} ms/step)", app.speed_ms)
    } else {
        String::new()
    };
    let filtered = if app.hidden.is_empty() {
        String::new()
    } else {
        format!(" ({} kinds hidden)", app.hidden.len())
    };
    let line = Line::from(vec![
        Span::styled(" kpath ", Style::default().add_modifier(Modifier::REVERSED)),
        Span::raw(format!(" {} ", t.scenario)),
        Span::styled(
            format!(
                "[{}/{}] {}",
                app.track + 1,
                app.tracks.len(),
                app.tracks[app.track].label
            ),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  step {pos}/{}{filtered}{play}", vis.len())),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

fn explanation(f: &mut Frame, app: &App, area: Rect) {
    let text = match app.current() {
        Some(s) => {
            let at = match &s.device {
                Some(d) => format!("{} {d}", s.netns),
                None => s.netns.clone(),
            };
            format!("{} {} — {}", at, s.func, s.note)
        }
        None => String::new(),
    };
    let mut lines = vec![Line::from(text)];
    if app.step + 1 == app.trace().steps.len() || app.current().is_none() {
        let d = &app.trace().disposition;
        lines = vec![
            lines.remove(0),
            Line::styled(
                format!(
                    "=> {} at {}: {}",
                    d.kind.name().to_uppercase(),
                    d.netns,
                    d.reason
                ),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ];
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

fn key_line(f: &mut Frame, app: &App, area: Rect) {
    let text = if app.typing {
        format!(" search: {}▏  (Enter: find, Esc: cancel)", app.query)
    } else if !app.message.is_empty() {
        format!(" {}", app.message)
    } else {
        " ←/→ step  Home/End  p play  [ ] hook  { } node  / search  t packets  f filter  ? help  q quit"
            .to_string()
    };
    f.render_widget(
        Paragraph::new(text).style(Style::default().add_modifier(Modifier::DIM)),
        area,
    );
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Every key, for `?`.
pub const HELP: [(&str, &str); 20] = [
    ("→ l space", "next step"),
    ("← h", "previous step"),
    ("Home g / End G", "first / last step"),
    ("p", "play / pause"),
    ("+ / -", "play faster / slower"),
    ("] / [", "next / previous netfilter hook"),
    ("} / {", "next / previous namespace (node, pod)"),
    ("/", "search steps (device, function, rule, note)"),
    ("n / N", "next / previous match"),
    (
        "Tab / Shift-Tab",
        "next / previous packet, outcome or flow packet",
    ),
    ("t", "list of packets and outcomes to follow"),
    ("s", "send a new packet: from, to, protocol"),
    ("f", "filter by step kind or protocol"),
    (
        "↓ j / ↑ k",
        "select a header field (its bytes light up in hex)",
    ),
    ("x", "hex dump instead of rules / routes / conntrack"),
    ("click", "select a step in the list"),
    ("Esc", "close an overlay, stop playing"),
    ("?", "this help"),
    ("q", "quit"),
    ("Ctrl-C", "quit"),
];

fn help(f: &mut Frame, area: Rect) {
    let r = centered(area, 70, HELP.len() as u16 + 4);
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {k:<18}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    overlay(f, r, " keys — Esc closes ", lines);
}

/// The send form: from, to and protocol, the field being edited marked, and the last
/// error (an unknown pod, a port missing) under it.
fn send(f: &mut Frame, app: &App, area: Rect) {
    let Some(form) = &app.form else { return };
    let r = centered(area, 74, 9);
    let field = |i: usize, name: &str, value: String| {
        let style = if form.field == i {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        Line::from(vec![
            Span::raw(format!(" {name:<9}")),
            Span::styled(format!("{value}▏"), style),
        ])
    };
    let proto = crate::tui::send::PROTOCOLS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i == form.protocol {
                format!("[{p}]")
            } else {
                format!(" {p} ")
            }
        })
        .collect::<String>();
    let lines = vec![
        field(0, "from", form.from.clone()),
        field(1, "to", form.to.clone()),
        field(2, "protocol", proto),
        Line::raw(""),
        Line::styled(
            " pod/NS/NAME, node/NAME, host/NAME, service/NS/NAME:PORT, IP[:PORT]",
            Style::default().add_modifier(Modifier::DIM),
        ),
        Line::styled(
            format!(" {}", app.message),
            Style::default().fg(Color::LightRed),
        ),
    ];
    overlay(
        f,
        r,
        " send a packet — Tab next field, Enter send, Esc close ",
        lines,
    );
}

/// A bordered box drawn over whatever is under it.
fn overlay(f: &mut Frame, r: Rect, title: &str, lines: Vec<Line>) {
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        r,
    );
}

fn filter(f: &mut Frame, app: &App, area: Rect) {
    let r = centered(area, 44, (KINDS.len() + 2) as u16 + 4);
    let mark = |on: bool| if on { 'x' } else { ' ' };
    let mut lines: Vec<Line> = KINDS
        .iter()
        .zip(KIND_KEYS)
        .map(|(k, c)| {
            let on = !app.hidden.contains(k);
            Line::from(vec![
                Span::raw(format!(" {c}  [{}] ", mark(on))),
                Span::styled(kind_name(*k), Style::default().fg(kind_color(*k))),
            ])
        })
        .collect();
    // The protocols, two to a line: the overlay fits 24 rows.
    let protos: Vec<String> = PROTOS
        .iter()
        .zip(PROTO_KEYS)
        .map(|(p, c)| format!(" {c}  [{}] {p:<6}", mark(!app.hidden_protos.contains(p))))
        .collect();
    for pair in protos.chunks(3) {
        lines.push(Line::raw(pair.concat()));
    }
    overlay(
        f,
        r,
        " show steps by kind, by protocol — key toggles ",
        lines,
    );
}

fn tracks(f: &mut Frame, app: &App, area: Rect) {
    let h = (app.tracks.len() as u16 + 2).min(area.height - 2);
    let r = centered(area, 72, h);
    let first = app.track.saturating_sub(usize::from(h.saturating_sub(3)));
    let lines: Vec<Line> = app
        .tracks
        .iter()
        .enumerate()
        .skip(first)
        .map(|(i, t)| {
            let d = &t.trace.disposition;
            let text = format!(" {:<40} {} at {}", t.label, d.kind.name(), d.netns);
            if i == app.track {
                Line::styled(text, Style::default().add_modifier(Modifier::REVERSED))
            } else {
                Line::raw(text)
            }
        })
        .collect();
    overlay(f, r, " follow which packet — ↑/↓, Enter ", lines);
}
