//! The detail pane: at a netfilter step the chain being walked with the rule that matched
//! highlighted in its context; at a conntrack step the connections seen so far; at a
//! routing step the routing table with the route `fib_lookup` picks; at an IPVS step the
//! node's `ipvsadm -Ln` with the virtual service and its chosen real server; elsewhere (or with
//! `x`) the packet's bytes with the selected field's bytes highlighted.

use super::App;
use super::packet::selected;
use kpath_sim::net::iproute2::route_line;
use kpath_sim::net::route::lookup;
use kpath_sim::trace::StepKind;
use kpath_sim::wire::L3;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

/// A bordered pane whose lines wrap, scrolled so line `focus` sits mid-pane.
fn pane(f: &mut Frame, area: Rect, title: String, lines: Vec<Line>, focus: usize) {
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    let (rows, width) = (usize::from(inner.height), usize::from(inner.width.max(1)));
    // Rows each line takes once wrapped.
    let heights: Vec<usize> = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(width))
        .collect();
    let at: usize = heights.iter().take(focus).sum();
    let total: usize = heights.iter().sum();
    let scroll = at.saturating_sub(rows / 2).min(total.saturating_sub(rows));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0)),
        area,
    );
}

/// A rule's row: lit where it acted, dim where the walk passed it by, plain after.
fn rule_style(row: usize, position: usize) -> Style {
    if row == position {
        hi()
    } else if row < position {
        Style::default().add_modifier(Modifier::DIM)
    } else {
        Style::default()
    }
}

/// The chain's own row (its policy): lit when the policy decided, dim otherwise.
fn policy_style(position: usize) -> Style {
    if position == 0 {
        hi()
    } else {
        Style::default().add_modifier(Modifier::DIM)
    }
}

fn hi() -> Style {
    Style::default()
        .fg(Color::Yellow)
        .add_modifier(Modifier::REVERSED | Modifier::BOLD)
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let Some(s) = app.current() else { return };
    if !app.force_hex {
        match s.kind {
            StepKind::Netfilter => {
                if let Some(n) = &s.nf {
                    return chain(f, app, area, &s.netns, n);
                }
            }
            StepKind::Conntrack => return conntrack(f, app, area),
            StepKind::Routing => return routes(f, app, area),
            StepKind::Ipvs => return ipvs(f, app, area),
            _ => {}
        }
    }
    hex(f, app, area);
}

fn chain(f: &mut Frame, app: &App, area: Rect, ns: &str, step: &kpath_sim::trace::NfStep) {
    let n = &step.rule;
    if let kpath_sim::netfilter::RuleTable::Nftables { .. } = n.table {
        return nft_chain(f, app, area, ns, step);
    }
    let table = app
        .world
        .ns_by_name(ns)
        .zip(n.table.iptables())
        .and_then(|(ns, kind)| ns.netfilter.table(kind))
        .and_then(|t| t.chain(&n.chain));
    let Some(c) = table else {
        return pane(
            f,
            area,
            format!(" {} {} ", n.table.name(), n.chain),
            Vec::new(),
            0,
        );
    };
    let policy = c
        .policy
        .map(|p| format!("{p:?}").to_uppercase())
        .unwrap_or("-".into());
    let mut lines = vec![Line::styled(
        format!(":{} {policy}", c.name),
        policy_style(n.position),
    )];
    for (i, r) in c.rules.iter().enumerate() {
        // The chain is in the title: each rule without its `-A CHAIN`.
        let text = format!("{:>3} {}", i + 1, r.spec().trim());
        lines.push(Line::styled(text, rule_style(i + 1, n.position)));
    }
    let title = format!(
        " {} table, {} chain — {} ",
        n.table.name(),
        n.chain,
        step.action.describe()
    );
    pane(f, area, title, lines, n.position);
}

/// An nf_tables chain as `nft list chain` prints it, the rule that acted highlighted and,
/// under it, the set or map element its lookup found (the map may hold thousands: the one
/// found is shown, with how many others there are).
fn nft_chain(f: &mut Frame, app: &App, area: Rect, ns: &str, step: &kpath_sim::trace::NfStep) {
    use kpath_sim::netfilter::nftables::print;
    let n = &step.rule;
    let table = app.world.ns_by_name(ns).and_then(|ns| {
        ns.netfilter
            .nft
            .tables
            .iter()
            .find(|t| t.name == n.table.name())
    });
    let Some((t, c)) = table.and_then(|t| Some((t, t.chain(&n.chain)?))) else {
        return pane(
            f,
            area,
            format!(" {} {} ", n.table.name(), n.chain),
            Vec::new(),
            0,
        );
    };
    let mut lines = Vec::new();
    if let Some(b) = &c.base {
        let policy = if b.accept { "accept" } else { "drop" };
        lines.push(Line::styled(
            format!(
                "type {} hook {} priority {}; policy {policy};",
                b.kind.name(),
                b.hook.name(),
                print::priority(t.family, b.hook, b.priority)
            ),
            policy_style(n.position),
        ));
    }
    let mut focus = 0;
    for (i, r) in c.rules.iter().enumerate() {
        let text = format!("{:>3} {}", i + 1, print::rule(r));
        lines.push(Line::styled(text, rule_style(i + 1, n.position)));
        if i + 1 != n.position {
            continue;
        }
        focus = lines.len() - 1;
        if let Some(e) = &step.element {
            // The set the rule looks in: its last `@name`.
            let set = print::rule(r)
                .split_whitespace()
                .filter_map(|w| w.strip_prefix('@'))
                .next_back()
                .map(str::to_string);
            let others = set
                .as_deref()
                .and_then(|name| t.set(name))
                .map(|s| s.elements.len().saturating_sub(1))
                .unwrap_or(0);
            let name = set.map(|s| format!("@{s} ")).unwrap_or_default();
            let rest = if others > 0 {
                format!(" ... and {others} other elements")
            } else {
                String::new()
            };
            lines.push(Line::from(vec![
                Span::raw(format!("      {name}element ")),
                Span::styled(e.clone(), hi()),
                Span::styled(rest, Style::default().add_modifier(Modifier::DIM)),
            ]));
        }
    }
    let title = format!(
        " table {} {}, chain {} — {} ",
        match &n.table {
            kpath_sim::netfilter::RuleTable::Nftables { family, .. } => family.name(),
            _ => "ip",
        },
        n.table.name(),
        n.chain,
        step.action.describe()
    );
    pane(f, area, title, lines, focus);
}

fn conntrack(f: &mut Frame, app: &App, area: Rect) {
    let t = app.trace();
    let Some(s) = app.current() else { return };
    // The entries this walk has touched in this namespace, latest state of each line.
    let mut seen: Vec<&str> = Vec::new();
    for p in t.steps[..=app.step].iter().filter(|p| p.netns == s.netns) {
        if let Some(c) = &p.conntrack
            && !seen.contains(&c.as_str())
        {
            seen.push(c);
        }
    }
    let cur = s.conntrack.as_deref();
    let focus = seen.iter().position(|l| Some(*l) == cur).unwrap_or(0);
    let mut lines: Vec<Line> = seen
        .iter()
        .map(|l| {
            if Some(*l) == cur {
                Line::styled(l.to_string(), hi())
            } else {
                Line::raw(l.to_string())
            }
        })
        .collect();
    if let Some(st) = s.ct_state {
        lines.insert(
            0,
            Line::raw(format!("state of this packet: {st:?}").to_uppercase()),
        );
    }
    pane(
        f,
        area,
        format!(" conntrack -L ({}) ", s.netns),
        lines,
        focus + 1,
    );
}

/// `ipvsadm -Ln` of the step's node: the virtual service at work and the real server its
/// connection goes to highlighted, the connection itself on top.
fn ipvs(f: &mut Frame, app: &App, area: Rect) {
    let Some(s) = app.current() else { return };
    let table = app.world.ns_by_name(&s.netns).and_then(|n| n.ipvs.as_ref());
    let (Some(c), Some(table)) = (&s.ipvs, table) else {
        return hex(f, app, area);
    };
    let proto = c.proto.name().to_uppercase();
    let vs = format!("{proto}  {}:{} ", c.vaddr, c.vport);
    let rs = format!("-> {}:{} ", c.daddr, c.dport);
    let mut lines = Vec::new();
    let (mut inside, mut focus) = (false, 0);
    for l in kpath_sim::ipvs::print::list(table)
        .lines()
        .map(str::trim_end)
    {
        if !l.starts_with(' ') {
            inside = l.starts_with(&vs);
        }
        let lit = inside && (!l.starts_with(' ') || l.trim_start().starts_with(&rs));
        if lit && focus == 0 {
            focus = lines.len();
        }
        lines.push(if lit {
            Line::styled(l.to_string(), hi())
        } else {
            Line::raw(l.to_string())
        });
    }
    let title = format!(" ipvsadm -Ln ({}) — connection {} ", s.netns, c.text());
    pane(f, area, title, lines, focus);
}

fn routes(f: &mut Frame, app: &App, area: Rect) {
    let Some(s) = app.current() else { return };
    let Some(ns) = app.world.ns_by_name(&s.netns) else {
        return;
    };
    let dst = match &s.packet.payload {
        L3::Ipv4(ip) => Some(ip.dst),
        L3::Arp(a) => Some(a.target_ip),
    };
    let chosen = dst.and_then(|d| lookup(&ns.routes, d));
    let mut routes: Vec<_> = ns.routes.iter().collect();
    routes.sort_by_key(|r| {
        (
            r.table as u8,
            u32::from(r.dst.network().addr),
            std::cmp::Reverse(r.dst.prefix),
        )
    });
    let mut focus = 0;
    let lines: Vec<Line> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let text = format!(
                "{:<6} {}",
                format!("{:?}", r.table).to_lowercase(),
                route_line(ns, r)
            );
            if chosen.is_some_and(|c| std::ptr::eq(c, *r)) {
                focus = i;
                Line::styled(text, hi())
            } else {
                Line::raw(text)
            }
        })
        .collect();
    let title = match dst {
        Some(d) => format!(" ip route ({}) — lookup {d} ", s.netns),
        None => format!(" ip route ({}) ", s.netns),
    };
    pane(f, area, title, lines, focus);
}

fn hex(f: &mut Frame, app: &App, area: Rect) {
    let Some(s) = app.current() else { return };
    // No bytes before a packet exists, and none of an Ethernet header it does not have yet
    // (the packet pane shows neither).
    if kpath_sim::render::text::packet_lines(&s.packet).is_empty() {
        return;
    }
    let l2 = if super::packet::has_l2(&s.packet) {
        0
    } else {
        14
    };
    let bytes = s.packet.emit().split_off(l2);
    let (fs, sel) = selected(app).unwrap_or_default();
    let range = fs
        .get(sel)
        .map(|f| f.range.start.saturating_sub(l2)..f.range.end.saturating_sub(l2))
        .unwrap_or(0..0);
    // 16 bytes a row (as tcpdump -X), 8 where the pane is too narrow for 16.
    let per_row = if area.width >= 58 { 16 } else { 8 };
    let mut lines = Vec::new();
    for (row, chunk) in bytes.chunks(per_row).enumerate() {
        let mut spans = vec![Span::styled(
            format!("{:04x}  ", row * per_row),
            Style::default().add_modifier(Modifier::DIM),
        )];
        for (i, b) in chunk.iter().enumerate() {
            let at = row * per_row + i;
            let style = if range.contains(&at) {
                hi()
            } else {
                Style::default()
            };
            spans.push(Span::styled(format!("{b:02x}"), style));
            spans.push(Span::raw(if i == 7 { "  " } else { " " }));
        }
        lines.push(Line::from(spans));
    }
    let title = match fs.get(sel) {
        Some(fd) => format!(
            " bytes — {} {} at {}..{} ",
            fd.layer, fd.name, range.start, range.end
        ),
        None => " bytes ".to_string(),
    };
    pane(f, area, title, lines, range.start / per_row);
}
