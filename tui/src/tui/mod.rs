//! `kpath tui`: step through a packet's journey, forward and back. `sim` computes every
//! trace before the first frame; this module only shows them and turns keys into moves.

pub mod app;
pub mod send;
pub mod tracks;
pub mod view;

use app::App;
use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind, MouseButton, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::time::Duration;
pub use tracks::tracks;

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(std::io::stdout(), DisableMouseCapture, LeaveAlternateScreen);
}

/// Run the UI until the learner quits. The terminal is restored on exit and on panic.
pub fn run(mut app: App) -> std::io::Result<()> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return Err(std::io::Error::other(
            "kpath tui draws on a terminal and standard output is not one; for text use `kpath trace`",
        ));
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    enable_raw_mode()?;
    execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    let result = event_loop(&mut app);
    restore();
    result
}

fn event_loop(app: &mut App) -> std::io::Result<()> {
    let mut term = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    app.first();
    while !app.quit {
        term.draw(|f| view::draw(f, app))?;
        let wait = if app.playing {
            Duration::from_millis(app.speed_ms)
        } else {
            Duration::from_millis(500)
        };
        if event::poll(wait)? {
            match event::read()? {
                Event::Key(k) if k.kind == KeyEventKind::Press => app.key(k),
                Event::Mouse(m) if m.kind == MouseEventKind::Down(MouseButton::Left) => {
                    app.click(m.column, m.row)
                }
                // A resize needs nothing but the redraw at the top of the loop.
                _ => {}
            }
        } else {
            app.tick();
        }
    }
    Ok(())
}
