//! What the emulator learns from the adapter's log lines (SPEC EMU-1, EMU-3, RDY-7): its last
//! readiness line (quoted when init fails), what made the app ready and any warning during init
//! (repeated on the emulator's "function ready" line), and which answers were the adapter's own
//! (`… answering 502 Bad Gateway request_id="…"`), so that the REPORT line does not call them a
//! success.
//!
//! Both of the adapter's log formats are read: text (`LEVEL message field="…"`) and JSON
//! (`AWS_LAMBDA_LOG_FORMAT=JSON`, one object a line with `level`, `message`, `request_id`).

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::watched::first_found;

/// Adapter answers remembered, for invocations whose REPORT is still to come.
const REMEMBERED_ANSWERS: usize = 1000;
/// Warnings remembered from init.
const REMEMBERED_WARNINGS: usize = 8;

/// An answer the adapter made up itself (ERR-1, ERR-2, RSP-7, LIF-9) instead of the app's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterAnswer {
    pub status: u16,
    /// `Adapter.AppUnreachable`, `Adapter.AppTimeout`, …
    pub error_type: String,
}

impl AdapterAnswer {
    /// The app went away mid-request: the one that a crash of the app looks like.
    pub fn app_went_away(&self) -> bool {
        matches!(
            self.error_type.as_str(),
            "Adapter.AppUnreachable" | "Adapter.AppResponseError"
        )
    }
}

#[derive(Debug, Default)]
struct Seen {
    last_readiness: Option<String>,
    ready_because: Option<String>,
    ready: bool,
    init_warnings: Vec<String>,
    last_line: Option<String>,
    answers: VecDeque<(String, AdapterAnswer)>,
}

/// The adapter's log as read so far; fed one line at a time by [`AdapterLog::observe`].
#[derive(Debug)]
pub struct AdapterLog {
    seen: watch::Sender<Seen>,
}

impl Default for AdapterLog {
    fn default() -> Self {
        AdapterLog {
            seen: watch::Sender::new(Seen::default()),
        }
    }
}

impl AdapterLog {
    /// Reads one line of the adapter's output.
    pub fn observe(&self, line: &str) {
        let Some(parsed) = parse(line) else {
            return;
        };
        self.seen.send_modify(|seen| {
            seen.last_line = Some(parsed.message.clone());
            let message = parsed.message.as_str();
            if message.starts_with("app is not ready")
                || message.starts_with("the app was not ready")
                || message.starts_with("app is ready")
            {
                seen.last_readiness = Some(message.to_owned());
            }
            if let Some(because) = message
                .strip_prefix("app is ready after ")
                .and_then(|rest| rest.split_once(" ("))
                .and_then(|(_, because)| because.strip_suffix(')'))
            {
                seen.ready_because = Some(because.to_owned());
                seen.ready = true;
            }
            if parsed.level == Some("WARN")
                && !seen.ready
                && seen.init_warnings.len() < REMEMBERED_WARNINGS
            {
                seen.init_warnings.push(message.to_owned());
            }
            if let (Some(request_id), Some(answer)) = (&parsed.request_id, own_answer(message)) {
                if seen.answers.len() == REMEMBERED_ANSWERS {
                    seen.answers.pop_front();
                }
                seen.answers.push_back((request_id.clone(), answer));
            }
        });
    }

    /// The last line about the app's readiness (`app is not ready after 4.0s (last: …): …`).
    pub fn last_readiness(&self) -> Option<String> {
        self.seen.borrow().last_readiness.clone()
    }

    /// The adapter's last line of any kind.
    pub fn last_line(&self) -> Option<String> {
        self.seen.borrow().last_line.clone()
    }

    /// What made the app ready (`GET /healthz → 404`), once it is.
    pub fn ready_because(&self) -> Option<String> {
        self.seen.borrow().ready_because.clone()
    }

    /// What made the app ready, waiting up to `wait` for the adapter to say it.
    pub async fn wait_ready_because(&self, wait: Duration) -> Option<String> {
        first_found(&self.seen, wait, |seen| seen.ready_because.clone()).await
    }

    /// The warnings the adapter logged before the app was ready.
    pub fn init_warnings(&self) -> Vec<String> {
        self.seen.borrow().init_warnings.clone()
    }

    /// The adapter's own answer to invocation `request_id`, if it logged one within `wait`.
    pub async fn answer(&self, request_id: &str, wait: Duration) -> Option<AdapterAnswer> {
        first_found(&self.seen, wait, |seen| {
            seen.answers
                .iter()
                .rev()
                .find(|(id, _)| id == request_id)
                .map(|(_, answer)| answer.clone())
        })
        .await
    }
}

/// One log line: its level, its message without fields, the `request_id` field.
#[derive(Debug, PartialEq, Eq)]
struct Parsed<'l> {
    level: Option<&'l str>,
    message: String,
    request_id: Option<String>,
}

const LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

fn parse(line: &str) -> Option<Parsed<'static>> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    if line.starts_with('{') {
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) {
            let level = object
                .get("level")
                .and_then(Value::as_str)
                .and_then(|level| {
                    LEVELS
                        .into_iter()
                        .find(|known| level.eq_ignore_ascii_case(known))
                });
            let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
            return Some(Parsed {
                level,
                message: text("message").unwrap_or_else(|| line.to_owned()),
                request_id: text("request_id"),
            });
        }
    }
    let (level, rest) = match line.split_once(' ') {
        Some((first, rest)) if LEVELS.contains(&first) => (
            LEVELS.into_iter().find(|known| *known == first),
            rest.trim_start(),
        ),
        _ => (None, line),
    };
    let (message, request_id) = match rest.rfind(" request_id=\"") {
        Some(at) => {
            let value = &rest[at + " request_id=\"".len()..];
            let value = value.split('"').next().unwrap_or_default();
            (rest[..at].to_owned(), Some(value.to_owned()))
        }
        None => (rest.to_owned(), None),
    };
    Some(Parsed {
        level,
        message,
        request_id,
    })
}

/// `Adapter.AppTimeout: …; answering 504 Gateway Timeout` → 504, `Adapter.AppTimeout`.
fn own_answer(message: &str) -> Option<AdapterAnswer> {
    let status = message
        .rsplit_once("answering ")?
        .1
        .get(..3)?
        .parse::<u16>()
        .ok()?;
    let error_type = message
        .split_once(':')
        .map(|(kind, _)| kind)
        .filter(|kind| kind.starts_with("Adapter.") && !kind.contains(' '))
        .unwrap_or("Adapter.Error")
        .to_owned();
    Some(AdapterAnswer { status, error_type })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emu1_readiness_lines_are_kept() {
        let log = AdapterLog::default();
        log.observe(" INFO app is not ready after 2.0s (last: http://127.0.0.1:8080/: cannot connect: Connection refused (os error 111)): is the app listening on 8000? set AWS_LWA_PORT=8000");
        assert_eq!(
            log.last_readiness().unwrap(),
            "app is not ready after 2.0s (last: http://127.0.0.1:8080/: cannot connect: Connection refused (os error 111)): is the app listening on 8000? set AWS_LWA_PORT=8000"
        );
        log.observe(" WARN the readiness path /healthz (AWS_LWA_READINESS_CHECK_PATH) answers 404, which counts as ready");
        log.observe(" INFO app is ready after 377 ms (GET /healthz → 404)");
        log.observe(" WARN a warning after init");
        assert_eq!(log.ready_because().unwrap(), "GET /healthz → 404");
        assert_eq!(
            log.init_warnings(),
            ["the readiness path /healthz (AWS_LWA_READINESS_CHECK_PATH) answers 404, which counts as ready"]
        );
        assert_eq!(log.last_line().unwrap(), "a warning after init");
    }

    #[tokio::test]
    async fn emu3_the_adapters_own_answers_are_found_in_both_formats() {
        let log = AdapterLog::default();
        log.observe("ERROR Adapter.AppUnreachable: the app at 127.0.0.1:8080 did not answer: connection closed before message completed; answering 502 Bad Gateway request_id=\"r-1\"");
        log.observe(r#"{"level":"ERROR","message":"Adapter.AppTimeout: the app did not answer within 2898 ms; answering 504 Gateway Timeout","request_id":"r-2"}"#);
        log.observe("ERROR something else request_id=\"r-3\"");
        let wait = Duration::from_millis(10);
        let first = log.answer("r-1", wait).await.unwrap();
        assert_eq!(first.status, 502);
        assert_eq!(first.error_type, "Adapter.AppUnreachable");
        assert!(first.app_went_away());
        let second = log.answer("r-2", wait).await.unwrap();
        assert_eq!(
            (second.status, second.error_type.as_str()),
            (504, "Adapter.AppTimeout")
        );
        assert!(!second.app_went_away());
        assert_eq!(log.answer("r-3", wait).await, None);
    }

    #[test]
    fn lines_without_a_level_are_messages() {
        assert_eq!(
            parse("plain words"),
            Some(Parsed {
                level: None,
                message: "plain words".into(),
                request_id: None
            })
        );
        assert_eq!(parse("   "), None);
    }
}
