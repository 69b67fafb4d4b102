//! The step list: the whole trace, the current step highlighted, each step coloured by
//! its kind.

use super::{App, kind_color};
use kpath_sim::trace::{Role, Step};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// A kube-proxy chain name with its 16-character hash cut to 4 (`KUBE-SEP-BHMT…`): the
/// hash tells chains apart, and 4 characters of it are enough to on one screen.
fn short_chain(name: &str) -> String {
    match name.rsplit_once('-') {
        Some((kind, hash))
            if name.starts_with("KUBE-")
                && hash.len() == 16
                && hash
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) =>
        {
            format!("{kind}-{}…", &hash[..4])
        }
        _ => name.to_string(),
    }
}

/// What a step did, in a few words, for its row; `narrow` shortens chain names and
/// actions so that a row of a 80-column terminal still says what happened.
fn summary(s: &Step, narrow: bool) -> String {
    match &s.nf {
        Some(n) => {
            let action = n.action.describe();
            let action = action.trim_start_matches("verdict ");
            let (chain, action) = if narrow {
                let a = action
                    .replacen("dnat to ", "dnat ", 1)
                    .replacen("snat to ", "snat ", 1);
                let a = a.split_whitespace().map(short_chain).collect::<Vec<_>>();
                (short_chain(&n.rule.chain), a.join(" "))
            } else {
                (n.rule.chain.clone(), action.to_string())
            };
            let what = if n.rule.is_policy() {
                format!("policy {}", action.trim_start_matches("policy "))
            } else {
                format!("#{} {action}", n.rule.position)
            };
            format!("{} {chain} {what}", n.rule.table.name())
        }
        None => s.func.to_string(),
    }
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let block = Block::default().borders(Borders::ALL).title(" steps ");
    let inner = block.inner(area);
    let vis = app.visible_steps();
    let rows = usize::from(inner.height);
    let cur = vis.iter().position(|&i| i == app.step).unwrap_or(0);
    // Keep the current step in view, a third of the way down when possible.
    let first = cur
        .saturating_sub(rows / 3)
        .min(vis.len().saturating_sub(rows));
    app.list_area.set((inner, first));
    let t = app.trace();
    // Below 50 columns (an 80-column terminal) the place column goes: the line under the
    // panes says where each step is, and the row keeps room for what it did.
    let narrow = inner.width < 50;
    let place_w = if narrow { 0 } else { 17 };
    let lines: Vec<Line> = vis
        .iter()
        .skip(first)
        .take(rows)
        .enumerate()
        .map(|(row, &i)| {
            let s = &t.steps[i];
            let here = i == app.step;
            let visited = i < app.step;
            let mut style = Style::default().fg(kind_color(s.kind));
            if !visited && !here {
                style = style.add_modifier(Modifier::DIM);
            }
            if here {
                style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            }
            // The place only where it changes, to leave room for what happened.
            let prev = i.checked_sub(1).map(|p| &t.steps[p]);
            let same = row > 0 && prev.is_some_and(|p| p.netns == s.netns && p.device == s.device);
            let place = if same {
                String::new()
            } else {
                let ns = s.netns.rsplit('/').next().unwrap_or("");
                match &s.device {
                    Some(d) => format!("{ns} {d}"),
                    None => ns.to_string(),
                }
            };
            let place: String = place.chars().take(place_w).collect();
            // The text trace's markers: a = ARP for this packet, r = an answer sent back.
            let mark = match s.role {
                Role::Packet => ' ',
                Role::ArpRequest | Role::ArpReply => 'a',
                Role::Response => 'r',
                Role::Dns => 'd',
            };
            Line::from(vec![
                Span::styled(format!("{:>3}{mark} ", s.index), style),
                Span::styled(
                    if narrow {
                        summary(s, true)
                    } else {
                        format!("{place:<17} {}", summary(s, false))
                    },
                    style,
                ),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
