//! The TUI's state: which trace is followed, which step is shown, what is filtered, and the
//! keys that change them. Everything here is about viewing; the traces come from
//! `kpath_sim` whole, before the first frame.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kpath_sim::net::World;
use kpath_sim::scenario::Scenario;
use kpath_sim::topology::Topology;
use kpath_sim::trace::{Step, StepKind, Trace};

pub use super::tracks::Track;

/// The step kinds, in the order the filter overlay lists them (keys 1-9, 0, a, b, c).
pub const KINDS: [StepKind; 13] = [
    StepKind::Link,
    StepKind::Bridge,
    StepKind::Routing,
    StepKind::Netfilter,
    StepKind::Conntrack,
    StepKind::Nat,
    StepKind::Neighbour,
    StepKind::Encap,
    StepKind::Decap,
    StepKind::Socket,
    StepKind::Delivery,
    StepKind::Drop,
    StepKind::Icmp,
];
/// The filter overlay's key for each of [`KINDS`].
pub const KIND_KEYS: [char; 13] = [
    '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', 'a', 'b', 'c',
];

/// The protocols a step's packet can be, for the filter by protocol (an ARP frame, a VXLAN
/// frame whatever it carries, or the IPv4 packet's protocol), and their keys.
pub const PROTOS: [&str; 5] = ["ARP", "ICMP", "TCP", "UDP", "VXLAN"];
pub const PROTO_KEYS: [char; 5] = ['A', 'I', 'T', 'U', 'V'];

/// Which of [`PROTOS`] a step's packet is.
pub fn proto_of(s: &Step) -> &'static str {
    use kpath_sim::wire::{L3, L4, UdpPayload};
    match &s.packet.payload {
        L3::Arp(_) => "ARP",
        L3::Ipv4(ip) => match &ip.payload {
            L4::Udp(u) if matches!(u.payload, UdpPayload::Vxlan(_)) => "VXLAN",
            L4::Udp(_) => "UDP",
            L4::Tcp(_) => "TCP",
            L4::Icmp(_) => "ICMP",
            // A fragment counts as the protocol it is a piece of.
            L4::Fragment(f) => match f.protocol {
                kpath_sim::wire::IpProtocol::Tcp => "TCP",
                kpath_sim::wire::IpProtocol::Udp => "UDP",
                _ => "ICMP",
            },
        },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Filter,
    Tracks,
    /// The send form (`s`): a new packet.
    Send,
}

pub struct App {
    pub scenario: Scenario,
    pub world: World,
    /// What the topology pane draws, read from the world once.
    pub topology: Topology,
    pub tracks: Vec<Track>,
    pub track: usize,
    /// Index into the current trace's steps.
    pub step: usize,
    pub playing: bool,
    /// Milliseconds between steps while playing.
    pub speed_ms: u64,
    pub hidden: Vec<StepKind>,
    /// Protocols hidden by the filter ([`PROTOS`]).
    pub hidden_protos: Vec<&'static str>,
    pub overlay: Overlay,
    /// Typing a search (after `/`).
    pub typing: bool,
    pub query: String,
    /// The selected header field in the packet pane (its bytes are highlighted in hex).
    pub field: usize,
    /// Show the hex dump in the detail pane even at a rule, conntrack or routing step.
    pub force_hex: bool,
    /// A one-line message (search misses, ...).
    pub message: String,
    pub quit: bool,
    /// The send form, while it is open.
    pub form: Option<super::send::Form>,
    /// Where the step list was last drawn (its inner area) and the first visible entry
    /// there, for mouse clicks.
    pub list_area: std::cell::Cell<(ratatui::layout::Rect, usize)>,
}

impl App {
    pub fn new(scenario: Scenario, world: World, tracks: Vec<Track>) -> App {
        App {
            scenario,
            topology: Topology::of(&world),
            world,
            tracks,
            track: 0,
            step: 0,
            playing: false,
            speed_ms: 400,
            hidden: Vec::new(),
            hidden_protos: Vec::new(),
            overlay: Overlay::None,
            typing: false,
            query: String::new(),
            field: 0,
            force_hex: false,
            message: String::new(),
            quit: false,
            form: None,
            list_area: std::cell::Cell::new((ratatui::layout::Rect::default(), 0)),
        }
    }

    pub fn trace(&self) -> &Trace {
        &self.tracks[self.track].trace
    }

    pub fn current(&self) -> Option<&Step> {
        self.trace().steps.get(self.step)
    }

    /// The step before the current one (None at the first), for before -> after.
    pub fn previous(&self) -> Option<&Step> {
        self.step
            .checked_sub(1)
            .and_then(|i| self.trace().steps.get(i))
    }

    pub fn visible(&self, s: &Step) -> bool {
        !self.hidden.contains(&s.kind) && !self.hidden_protos.contains(&proto_of(s))
    }

    /// Indices of the steps the filter lets through.
    pub fn visible_steps(&self) -> Vec<usize> {
        let t = self.trace();
        (0..t.steps.len())
            .filter(|&i| self.visible(&t.steps[i]))
            .collect()
    }

    fn goto_where(&mut self, forward: bool, pred: impl Fn(&App, usize) -> bool) -> bool {
        let n = self.trace().steps.len();
        let found = if forward {
            (self.step + 1..n).find(|&i| self.visible(&self.trace().steps[i]) && pred(self, i))
        } else {
            (0..self.step)
                .rev()
                .find(|&i| self.visible(&self.trace().steps[i]) && pred(self, i))
        };
        if let Some(i) = found {
            self.step = i;
            self.focus_change();
        }
        found.is_some()
    }

    /// The packet before this step: the previous step about the same packet (the same
    /// role), or the packet as sent.
    pub fn packet_before(&self) -> Option<&kpath_sim::wire::Frame> {
        let t = self.trace();
        let s = self.current()?;
        t.steps[..self.step]
            .iter()
            .rev()
            .find(|p| p.role == s.role)
            .map(|p| &p.packet)
            .or(t
                .sent
                .as_ref()
                .filter(|_| s.role == kpath_sim::trace::Role::Packet))
    }

    /// Select the first header field this step changed (or the first field), so the
    /// packet pane and the hex dump open on what happened.
    pub fn focus_change(&mut self) {
        self.field = 0;
        let (Some(s), Some(b)) = (self.current(), self.packet_before()) else {
            return;
        };
        let changed = kpath_sim::wire::fields::changes(b, &s.packet);
        let fs = kpath_sim::wire::fields::fields(&s.packet);
        if let Some(i) = fs.iter().position(|f| {
            changed
                .iter()
                .any(|c| c.layer == f.layer && c.name == f.name && !f.name.contains("checksum"))
        }) {
            self.field = i;
        }
    }

    pub fn step_forward(&mut self) -> bool {
        self.goto_where(true, |_, _| true)
    }

    pub fn step_back(&mut self) -> bool {
        self.goto_where(false, |_, _| true)
    }

    pub fn first(&mut self) {
        self.step = 0;
        self.focus_change();
        if !self.current().is_some_and(|s| self.visible(s)) {
            self.step_forward();
        }
    }

    pub fn last(&mut self) {
        self.step = self.trace().steps.len().saturating_sub(1);
        self.focus_change();
        if !self.current().is_some_and(|s| self.visible(s)) {
            self.step_back();
        }
    }

    /// The first netfilter step of a hook's run: no netfilter step of the same hook and
    /// namespace since the packet last left that hook.
    fn hook_start(&self, i: usize) -> bool {
        let steps = &self.trace().steps;
        let s = &steps[i];
        s.kind == StepKind::Netfilter
            && !steps[..i]
                .iter()
                .rev()
                .take_while(|p| p.netns == s.netns && p.hook == s.hook)
                .any(|p| p.kind == StepKind::Netfilter)
    }

    /// A step in another namespace than the one before it.
    fn ns_start(&self, i: usize) -> bool {
        let steps = &self.trace().steps;
        i > 0 && steps[i - 1].netns != steps[i].netns
    }

    fn matches_query(&self, i: usize) -> bool {
        let q = self.query.to_lowercase();
        let s = &self.trace().steps[i];
        let mut hay = format!(
            "{} {} {} {}",
            s.netns,
            s.device.as_deref().unwrap_or(""),
            s.func,
            s.note
        );
        if let Some(n) = &s.nf {
            hay.push_str(&format!(
                " {} {} {} {}",
                n.rule.chain,
                n.rule.text,
                n.action.describe(),
                n.rule.comment.as_deref().unwrap_or("")
            ));
        }
        !q.is_empty() && hay.to_lowercase().contains(&q)
    }

    /// Send what the form holds: checked as `--from/--to` (`scenario::adhoc`), walked in
    /// every outcome, added as tracks, the seeded outcome followed. An error stays on the
    /// form's message line.
    fn send_form(&mut self) {
        let Some(form) = self.form.clone() else {
            return;
        };
        let ask = kpath_sim::scenario::adhoc::Adhoc {
            from: form.from.trim(),
            to: form.to.trim(),
            protocol: super::send::PROTOCOLS[form.protocol],
            flow: false,
        };
        let mut scenario = self.scenario.clone();
        let name = match kpath_sim::scenario::adhoc::add(&mut scenario, &ask) {
            Ok(name) => name,
            Err(e) => {
                self.message = e.replace('\n', " ");
                return;
            }
        };
        let new = match super::tracks::tracks(&scenario, &self.world, Some(&name)) {
            Ok(new) if !new.is_empty() => new,
            Ok(_) => {
                self.message = format!("{name}: nothing to follow");
                return;
            }
            Err(e) => {
                self.message = e.to_string();
                return;
            }
        };
        let first = self.tracks.len();
        let group = self.tracks.iter().map(|t| t.group + 1).max().unwrap_or(0);
        self.tracks.extend(new.into_iter().map(|mut t| {
            t.group += group;
            t
        }));
        self.scenario = scenario;
        self.form = None;
        self.overlay = Overlay::None;
        let start = (first..self.tracks.len())
            .find(|&i| self.tracks[i].seeded)
            .unwrap_or(first);
        self.set_track(start);
        self.message = format!("sent {name}");
    }

    pub fn set_track(&mut self, i: usize) {
        self.track = i.min(self.tracks.len().saturating_sub(1));
        self.first();
    }

    /// One tick of play: advance; at the end of a flow's packet, on to its next packet;
    /// stop at the end of the packet or flow.
    pub fn tick(&mut self) {
        if !self.playing || self.step_forward() {
            return;
        }
        let next = self.track + 1;
        if self
            .tracks
            .get(next)
            .is_some_and(|t| t.group == self.tracks[self.track].group)
        {
            self.set_track(next);
        } else {
            self.playing = false;
        }
    }

    /// The next (or previous) visible step matching the query, wrapping around once.
    fn search(&mut self, forward: bool) {
        if self.query.is_empty() {
            return;
        }
        let n = self.trace().steps.len();
        let order: Vec<usize> = if forward {
            (self.step + 1..n).chain(0..=self.step).collect()
        } else {
            (0..self.step).rev().chain((self.step..n).rev()).collect()
        };
        let hit = order
            .into_iter()
            .find(|&i| self.visible(&self.trace().steps[i]) && self.matches_query(i));
        match hit {
            Some(i) => {
                self.step = i;
                self.focus_change();
            }
            None => self.message = format!("no step matches `{}`", self.query),
        }
    }

    /// Apply one key.
    pub fn key(&mut self, k: KeyEvent) {
        self.message.clear();
        if self.typing {
            match k.code {
                KeyCode::Enter => {
                    self.typing = false;
                    self.search(true);
                }
                KeyCode::Esc => {
                    self.typing = false;
                    self.query.clear();
                }
                KeyCode::Backspace => {
                    self.query.pop();
                }
                KeyCode::Char(c) => self.query.push(c),
                _ => {}
            }
            return;
        }
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return;
        }
        match self.overlay {
            Overlay::Help => {
                if matches!(
                    k.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
                ) {
                    self.overlay = Overlay::None;
                }
                return;
            }
            Overlay::Send => {
                let action = self.form.as_mut().map(|f| f.key(k));
                match action {
                    Some(super::send::Action::Edit) => {}
                    Some(super::send::Action::Send) => self.send_form(),
                    _ => {
                        self.form = None;
                        self.overlay = Overlay::None;
                    }
                }
                return;
            }
            Overlay::Filter => {
                match k.code {
                    KeyCode::Esc | KeyCode::Char('f') => self.overlay = Overlay::None,
                    KeyCode::Char(c) => {
                        let toggled = if let Some(i) = KIND_KEYS.iter().position(|k| *k == c) {
                            toggle(&mut self.hidden, KINDS[i]);
                            true
                        } else if let Some(i) = PROTO_KEYS.iter().position(|k| *k == c) {
                            toggle(&mut self.hidden_protos, PROTOS[i]);
                            true
                        } else {
                            false
                        };
                        // The current step hidden: on to the next shown one (or back).
                        if toggled
                            && !self.current().is_some_and(|s| self.visible(s))
                            && !self.step_forward()
                        {
                            self.step_back();
                        }
                    }
                    _ => {}
                }
                return;
            }
            Overlay::Tracks => {
                match k.code {
                    KeyCode::Esc | KeyCode::Char('t') => self.overlay = Overlay::None,
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.set_track(self.track.saturating_sub(1))
                    }
                    KeyCode::Down | KeyCode::Char('j') => self.set_track(self.track + 1),
                    KeyCode::Enter => self.overlay = Overlay::None,
                    _ => {}
                }
                return;
            }
            Overlay::None => {}
        }
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.overlay = Overlay::Help,
            KeyCode::Char('f') => self.overlay = Overlay::Filter,
            KeyCode::Char('t') => self.overlay = Overlay::Tracks,
            KeyCode::Char('s') => {
                // From the current trace's pod, when it starts in one.
                let from = self
                    .trace()
                    .steps
                    .first()
                    .filter(|s| s.netns.contains('/'))
                    .map(|s| format!("pod/{}", s.netns));
                self.form = Some(super::send::Form::starting_from(from));
                self.overlay = Overlay::Send;
            }
            KeyCode::Esc => self.playing = false,
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => {
                self.step_forward();
            }
            KeyCode::Left | KeyCode::Char('h') => {
                self.step_back();
            }
            KeyCode::Home | KeyCode::Char('g') => self.first(),
            KeyCode::End | KeyCode::Char('G') => self.last(),
            KeyCode::Char('p') => self.playing = !self.playing,
            KeyCode::Char('+') | KeyCode::Char('=') => self.speed_ms = (self.speed_ms / 2).max(25),
            KeyCode::Char('-') => self.speed_ms = (self.speed_ms * 2).min(3200),
            KeyCode::Char(']') => {
                self.goto_where(true, App::hook_start);
            }
            KeyCode::Char('[') => {
                self.goto_where(false, App::hook_start);
            }
            KeyCode::Char('}') => {
                self.goto_where(true, App::ns_start);
            }
            KeyCode::Char('{') => {
                self.goto_where(false, App::ns_start);
            }
            KeyCode::Char('/') => {
                self.typing = true;
                self.query.clear();
            }
            KeyCode::Char('n') => self.search(true),
            KeyCode::Char('N') => self.search(false),
            KeyCode::Tab => self.set_track((self.track + 1) % self.tracks.len().max(1)),
            KeyCode::BackTab => {
                let n = self.tracks.len().max(1);
                self.set_track((self.track + n - 1) % n)
            }
            KeyCode::Down | KeyCode::Char('j') => self.field += 1,
            KeyCode::Up | KeyCode::Char('k') => self.field = self.field.saturating_sub(1),
            KeyCode::Char('x') => self.force_hex = !self.force_hex,
            _ => {}
        }
    }

    /// A click at (col, row) of the terminal: select the step listed there.
    pub fn click(&mut self, col: u16, row: u16) {
        let (area, first) = self.list_area.get();
        if !area.contains(ratatui::layout::Position::new(col, row)) {
            return;
        }
        let vis = self.visible_steps();
        if let Some(&i) = vis.get(first + usize::from(row - area.y)) {
            self.step = i;
            self.focus_change();
        }
    }
}

/// Hide `x` if shown, show it if hidden.
fn toggle<T: PartialEq>(hidden: &mut Vec<T>, x: T) {
    match hidden.iter().position(|h| *h == x) {
        Some(p) => {
            hidden.remove(p);
        }
        None => hidden.push(x),
    }
}
