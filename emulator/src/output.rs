//! Everything the `lambda-emulator` program prints, in one place (SPEC EMU-3, EMU-5): the
//! children's lines behind `[app] ` / `[extension] `, the emulator's own behind `[emulator] `,
//! and Lambda's `REPORT` lines; each written whole (lines of different sources never
//! interleave) and kept in a bounded window of recent lines, so that the inspector can show the
//! lines printed while an invocation ran.
//!
//! The window is process-wide, like the terminal it mirrors.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::clock::epoch_ms_now;

/// Lines kept for the inspector; older ones are dropped.
pub const RECENT_LINES: usize = 20_000;

/// Who printed a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The app's stdout or stderr.
    App,
    /// The extension's (the adapter's) stdout or stderr.
    Extension,
    /// The emulator itself.
    Emulator,
    /// Lambda's platform lines (`REPORT`).
    Platform,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::App => "app",
            Origin::Extension => "extension",
            Origin::Emulator => "emulator",
            Origin::Platform => "platform",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Origin::App => "[app] ",
            Origin::Extension => "[extension] ",
            Origin::Emulator => "[emulator] ",
            Origin::Platform => "",
        }
    }
}

/// Where a line goes on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    Stderr,
}

/// One printed line, without its prefix and line end.
#[derive(Debug, Clone)]
pub struct Line {
    pub origin: Origin,
    pub text: String,
    pub at: Instant,
    pub epoch_ms: u64,
}

fn recent() -> &'static Mutex<VecDeque<Line>> {
    static RECENT: OnceLock<Mutex<VecDeque<Line>>> = OnceLock::new();
    RECENT.get_or_init(|| Mutex::new(VecDeque::with_capacity(1024)))
}

/// Prints `text` behind `origin`'s prefix and keeps it. A closed terminal loses the line
/// instead of failing.
pub fn print(origin: Origin, sink: Sink, text: &str) {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let mut out = String::with_capacity(origin.prefix().len() + text.len() + 1);
    out.push_str(origin.prefix());
    out.push_str(text);
    out.push('\n');
    let _ = match sink {
        Sink::Stdout => std::io::stdout().lock().write_all(out.as_bytes()),
        Sink::Stderr => std::io::stderr().lock().write_all(out.as_bytes()),
    };
    let mut recent = recent()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Stamped under the lock, so the window stays in time order.
    let line = Line {
        origin,
        text: text.to_owned(),
        at: Instant::now(),
        epoch_ms: epoch_ms_now(),
    };
    if recent.len() == RECENT_LINES {
        recent.pop_front();
    }
    recent.push_back(line);
}

/// The kept lines printed from `from` to `to`, at most `limit` (the first ones).
pub fn lines_between(from: Instant, to: Instant, limit: usize) -> Vec<Line> {
    let recent = recent()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Lines are in time order: skip the older ones from the back's point of view.
    let start = recent.partition_point(|line| line.at < from);
    recent
        .range(start..)
        .take_while(|line| line.at <= to)
        .take(limit)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_in_order_and_found_by_time() {
        let before = Instant::now();
        print(Origin::App, Sink::Stdout, "first line of the window test\n");
        print(
            Origin::Extension,
            Sink::Stderr,
            "second line of the window test",
        );
        let after = Instant::now();
        let lines: Vec<_> = lines_between(before, after, 100)
            .into_iter()
            .filter(|line| line.text.ends_with("of the window test"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].origin, Origin::App);
        assert_eq!(lines[0].text, "first line of the window test");
        assert_eq!(lines[1].origin.name(), "extension");
        assert!(lines_between(after, after, 100)
            .iter()
            .all(|line| !line.text.ends_with("of the window test")));
    }
}
