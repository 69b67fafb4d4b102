//! The topology: nodes as boxes holding their pods and devices, the underlay and the
//! internet below them; where the packet is now in reverse video, where it has been in
//! green, and the VXLAN tunnel named while the packet is encapsulated.

use super::App;
use kpath_sim::net::{LinkKind, NsKind};
use kpath_sim::wire::{L3, L4, UdpPayload};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};

/// One row inside a node box: what it shows and which (netns, device) it stands for.
struct Item {
    text: String,
    netns: String,
    device: Option<String>,
}

fn node_items(app: &App, node: &str) -> Vec<Item> {
    let mut items: Vec<Item> = app
        .scenario
        .pods
        .iter()
        .filter(|p| p.node.value == node)
        .map(|p| Item {
            text: format!("pod {} {}", p.name.value, p.ip.value),
            netns: p.key(),
            device: None,
        })
        .collect();
    if let Some(ns) = app.world.ns_by_name(node) {
        for l in &ns.links {
            // kube-ipvs0 carries no packet, but holds every Service address in IPVS mode.
            let text = match l.kind {
                LinkKind::Dummy => format!("{} ({} VIPs)", l.name, l.addrs.len()),
                _ => l.name.clone(),
            };
            if matches!(
                l.kind,
                LinkKind::Bridge(_)
                    | LinkKind::Vxlan(_)
                    | LinkKind::Ethernet { .. }
                    | LinkKind::Dummy
            ) {
                items.push(Item {
                    text,
                    netns: node.to_string(),
                    device: Some(l.name.clone()),
                });
            }
        }
    }
    items
}

/// Rows the topology takes in a terminal `total` rows high.
pub fn height(app: &App, total: u16) -> u16 {
    let most = app
        .scenario
        .cluster
        .nodes
        .iter()
        .map(|n| node_items(app, &n.name.value).len())
        .max()
        .unwrap_or(0) as u16;
    (most + 3).clamp(5, total.saturating_sub(17).max(5))
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = app.trace();
    let upto = (app.step + 1).min(t.steps.len());
    let visited = |ns: &str, dev: Option<&str>| {
        t.steps[..upto]
            .iter()
            .any(|s| s.netns == ns && (dev.is_none() || s.device.as_deref() == dev))
    };
    let cur = app.current();
    let is_here = |ns: &str, dev: Option<&str>| {
        cur.is_some_and(|s| s.netns == ns && (dev.is_none() || s.device.as_deref() == dev))
    };
    let style_of = |ns: &str, dev: Option<&str>| {
        if is_here(ns, dev) {
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else if visited(ns, dev) {
            Style::default().fg(Color::Green)
        } else {
            Style::default()
        }
    };
    let nodes = &app.scenario.cluster.nodes;
    let [boxes, below] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let cols = Layout::horizontal(vec![
        Constraint::Ratio(1, nodes.len().max(1) as u32);
        nodes.len()
    ])
    .split(boxes);
    for (n, r) in nodes.iter().zip(cols.iter()) {
        let name = &n.name.value;
        let rows = usize::from(r.height.saturating_sub(2));
        let items = node_items(app, name);
        let mut lines: Vec<Line> = items
            .iter()
            .take(rows)
            .map(|i| Line::styled(i.text.clone(), style_of(&i.netns, i.device.as_deref())))
            .collect();
        if items.len() > rows && rows > 0 {
            lines.pop();
            lines.push(Line::raw(format!("+{} more", items.len() - rows + 1)));
        }
        let border = if is_here(name, None) || items.iter().any(|i| is_here(&i.netns, None)) {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        let title = format!(" {name} {} ", n.ip.value);
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
    // The underlay, the internet, and the tunnel when the packet is inside one.
    let mut parts: Vec<(String, Style)> = Vec::new();
    for ns in &app.world.netns {
        let label = match &ns.kind {
            NsKind::Switch => Some(format!(
                "underlay {}",
                app.scenario.cluster.underlay.cidr.value
            )),
            NsKind::Router => Some("gateway".to_string()),
            NsKind::Host { host } => Some(format!("internet: {host}")),
            _ => None,
        };
        if let Some(l) = label {
            parts.push((l, style_of(&ns.name, None)));
        }
    }
    if let Some(tunnel) = cur.and_then(|s| vxlan_of(&s.packet)) {
        parts.push((
            tunnel,
            Style::default()
                .fg(Color::LightBlue)
                .add_modifier(Modifier::BOLD),
        ));
    }
    let spans: Vec<ratatui::text::Span> = parts
        .into_iter()
        .flat_map(|(t, st)| {
            [
                ratatui::text::Span::styled(t, st),
                ratatui::text::Span::raw("  "),
            ]
        })
        .collect();
    f.render_widget(Paragraph::new(Line::from(spans)), below);
}

/// "VXLAN vni 1: 172.31.0.11 -> 172.31.0.12" while the packet is encapsulated.
fn vxlan_of(f: &kpath_sim::wire::Frame) -> Option<String> {
    let L3::Ipv4(ip) = &f.payload else {
        return None;
    };
    let L4::Udp(u) = &ip.payload else { return None };
    let UdpPayload::Vxlan(v) = &u.payload else {
        return None;
    };
    Some(format!(
        "══ VXLAN vni {}: {} -> {} ══",
        v.vni, ip.src, ip.dst
    ))
}
