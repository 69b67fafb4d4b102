//! The send form (`s`): a packet the scenario does not define, from any pod, node or host
//! to any address, like Packet Tracer's simple PDU. The form only holds what is typed;
//! the app reads it as `kpath trace --from --to` reads its options (`scenario::adhoc`) and
//! follows every outcome as new tracks.

use crossterm::event::{KeyCode, KeyEvent};

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

/// What a key asks of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The form changed (or not): keep it open.
    Edit,
    Close,
    Send,
}

impl Form {
    /// A form sending from `from` (the current trace's pod), on the `to` field; empty and
    /// on `from` when there is none.
    pub fn starting_from(from: Option<String>) -> Form {
        Form {
            field: usize::from(from.is_some()),
            from: from.unwrap_or_default(),
            ..Form::default()
        }
    }

    /// Apply one key.
    pub fn key(&mut self, k: KeyEvent) -> Action {
        match k.code {
            KeyCode::Esc => return Action::Close,
            KeyCode::Enter => return Action::Send,
            KeyCode::Tab | KeyCode::Down => self.field = (self.field + 1) % 3,
            KeyCode::BackTab | KeyCode::Up => self.field = (self.field + 2) % 3,
            KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') if self.field == 2 => {
                let step = if k.code == KeyCode::Left { 2 } else { 1 };
                self.protocol = (self.protocol + step) % PROTOCOLS.len();
            }
            KeyCode::Backspace => {
                match self.field {
                    0 => self.from.pop(),
                    1 => self.to.pop(),
                    _ => None,
                };
            }
            KeyCode::Char(c) => match self.field {
                0 => self.from.push(c),
                1 => self.to.push(c),
                _ => {}
            },
            _ => {}
        }
        Action::Edit
    }
}
