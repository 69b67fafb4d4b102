//! The step list: the whole trace, the current step highlighted, each step coloured by
//! its kind.

use super::{App, kind_color};
use kpath_sim::trace::{Role, Step};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// What a step did, in a few words, for its row.
fn summary(s: &Step) -> String {
    match &s.nf {
        Some(n) => {
            let action = n.action.describe();
            let what = if n.rule.is_policy() {
                action
            } else {
                format!(
                    "#{} {}",
                    n.rule.position,
                    action.trim_start_matches("verdict ")
                )
            };
            format!("{} {} {what}", n.rule.table.name(), n.rule.chain)
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
            let place: String = place.chars().take(17).collect();
            // The text trace's markers: a = ARP for this packet, r = an answer sent back.
            let mark = match s.role {
                Role::Packet => ' ',
                Role::ArpRequest | Role::ArpReply => 'a',
                Role::Response => 'r',
            };
            Line::from(vec![
                Span::styled(format!("{:>3}{mark} ", s.index), style),
                Span::styled(format!("{place:<17} {}", summary(s)), style),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
