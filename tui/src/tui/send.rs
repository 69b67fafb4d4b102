//! The send form (`s`): a packet the scenario does not define, from any pod, node or host
//! to any address, like Packet Tracer's simple PDU. It is read and checked as
//! `kpath trace --from --to` reads it (`scenario::adhoc`), walked in every outcome, and
//! followed as new tracks.

use super::app::{App, Overlay};
use crossterm::event::{KeyCode, KeyEvent};
use kpath_sim::scenario::adhoc::{self, Adhoc};

pub const PROTOCOLS: [&str; 3] = ["tcp", "udp", "icmp"];

/// What the form holds while it is open.
#[derive(Clone, Debug, Default)]
pub struct Form {
    pub from: String,
    pub to: String,
    /// Index into [`PROTOCOLS`].
    pub protocol: usize,
    /// The field being edited: 0 from, 1 to, 2 protocol.
    pub field: usize,
}

impl Form {
    /// A form starting from where the current trace starts, when that is a pod.
    pub fn for_app(app: &App) -> Form {
        let from = app
            .trace()
            .steps
            .first()
            .filter(|s| s.netns.contains('/'))
            .map(|s| format!("pod/{}", s.netns))
            .unwrap_or_default();
        Form {
            from,
            field: usize::from(!app.trace().steps.is_empty()),
            ..Form::default()
        }
    }
}

/// Apply one key to the open form.
pub fn key(app: &mut App, k: KeyEvent) {
    let Some(form) = app.form.as_mut() else {
        app.overlay = Overlay::None;
        return;
    };
    match k.code {
        KeyCode::Esc => {
            app.form = None;
            app.overlay = Overlay::None;
        }
        KeyCode::Tab | KeyCode::Down => form.field = (form.field + 1) % 3,
        KeyCode::BackTab | KeyCode::Up => form.field = (form.field + 2) % 3,
        KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') if form.field == 2 => {
            let step = if k.code == KeyCode::Left { 2 } else { 1 };
            form.protocol = (form.protocol + step) % PROTOCOLS.len();
        }
        KeyCode::Backspace => {
            match form.field {
                0 => form.from.pop(),
                1 => form.to.pop(),
                _ => None,
            };
        }
        KeyCode::Char(c) => match form.field {
            0 => form.from.push(c),
            1 => form.to.push(c),
            _ => {}
        },
        KeyCode::Enter => send(app),
        _ => {}
    }
}

/// Check the form as the command line's --from/--to, walk every outcome of the packet, and
/// follow its first outcome; an error stays on the form's message line.
fn send(app: &mut App) {
    let Some(form) = app.form.clone() else { return };
    let ask = Adhoc {
        from: form.from.trim(),
        to: form.to.trim(),
        protocol: PROTOCOLS[form.protocol],
        flow: false,
    };
    let mut scenario = app.scenario.clone();
    let name = match adhoc::add(&mut scenario, &ask) {
        Ok(name) => name,
        Err(e) => {
            app.message = e.replace('\n', " ");
            return;
        }
    };
    match super::tracks(&scenario, &app.world, Some(&name)) {
        Ok(new) if !new.is_empty() => {
            let first = app.tracks.len();
            let group = app.tracks.iter().map(|t| t.group + 1).max().unwrap_or(0);
            app.tracks.extend(new.into_iter().map(|mut t| {
                t.group += group;
                t
            }));
            app.scenario = scenario;
            app.form = None;
            app.overlay = Overlay::None;
            let start = (first..app.tracks.len())
                .find(|&i| app.tracks[i].seeded)
                .unwrap_or(first);
            app.set_track(start);
            app.message = format!("sent {name}");
        }
        Ok(_) => app.message = format!("{name}: nothing to follow"),
        Err(e) => app.message = e.to_string(),
    }
}
