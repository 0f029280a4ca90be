//! The inspector (SPEC EMU-5): a local web page that lists every invocation live and shows, for
//! the one clicked, the event as sent, the function's response (the prelude and body of a
//! stream; base64 bodies decoded when they are text) and the lines the app, the adapter and the
//! emulator printed meanwhile. No peer shows a developer what went in and out of the function.
//!
//! [`Inspector`] keeps the history: the last [`HISTORY`] invocations, each captured body cut at
//! [`BODY_LIMIT`] with a note, and all captured bytes within [`MEMORY_BUDGET`] (older records
//! lose their bodies first). [`server`] serves the page (plain HTML, CSS and JavaScript compiled
//! into the program: no build step, no CDN), a JSON API and a server-sent-events stream of
//! changes. The page shows secrets (authorization headers, cookies), so the server listens on
//! 127.0.0.1 only and answers only requests addressed to a loopback name.
//!
//! With several invocations in flight at once, the log lines of one are those printed while it
//! ran, which may include lines of the others.

pub mod server;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use crate::control_plane::InvocationResult;
use crate::output::Line;

/// Invocations kept.
pub const HISTORY: usize = 200;
/// Bytes kept of each captured body (event, result, streamed body).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Captured bytes kept over the whole history; past it, the oldest records' bodies are dropped.
pub const MEMORY_BUDGET: usize = 128 * 1024 * 1024;
/// Log lines kept per invocation.
pub const LOG_LINES: usize = 2000;
/// Changes buffered for a slow page; one that falls behind reloads the list.
const CHANGES_BUFFERED: usize = 256;

/// What a new invocation is, as the list shows it.
#[derive(Debug, Clone)]
pub struct Started {
    pub client: String,
    pub method: String,
    pub target: String,
    pub source: String,
    pub event: bytes::Bytes,
    pub time_epoch_ms: u64,
    pub arrived: Instant,
}

/// How an invocation ended, for its record.
#[derive(Debug, Clone)]
pub struct Finished {
    pub request_id: String,
    pub environment: Option<u64>,
    /// The status the client got.
    pub status: u16,
    pub delivery: &'static str,
    pub report_status: Option<&'static str>,
    pub error_type: Option<String>,
    pub duration_ms: Option<f64>,
    /// `("init" | "restore", milliseconds)` on an environment's first invocation.
    pub start_up: Option<(&'static str, f64)>,
    pub report_line: Option<String>,
    pub response: Value,
}

struct Record {
    id: u64,
    started: Started,
    finished: Option<Finished>,
    logs: Vec<Value>,
    /// Bytes of captured bodies held by this record.
    captured: usize,
    event: Value,
}

impl Record {
    fn summary(&self) -> Value {
        let mut summary = json!({
            "id": self.id,
            "time": self.started.time_epoch_ms,
            "client": self.started.client,
            "method": self.started.method,
            "target": self.started.target,
            "source": self.started.source,
            "state": if self.finished.is_some() { "done" } else { "running" },
        });
        if let Some(finished) = &self.finished {
            let fields = json!({
                "requestId": finished.request_id,
                "environment": finished.environment,
                "status": finished.status,
                "delivery": finished.delivery,
                "reportStatus": finished.report_status,
                "errorType": finished.error_type,
                "durationMs": finished.duration_ms,
                "startUp": finished.start_up.map(|(kind, ms)| json!({"kind": kind, "ms": ms})),
            });
            if let (Value::Object(summary), Value::Object(fields)) = (&mut summary, fields) {
                summary.extend(fields);
            }
        }
        summary
    }

    fn detail(&self) -> Value {
        let mut detail = self.summary();
        if let Value::Object(detail) = &mut detail {
            detail.insert("event".into(), self.event.clone());
            detail.insert(
                "response".into(),
                self.finished
                    .as_ref()
                    .map_or(Value::Null, |finished| finished.response.clone()),
            );
            detail.insert(
                "report".into(),
                self.finished
                    .as_ref()
                    .and_then(|finished| finished.report_line.clone())
                    .map_or(Value::Null, Value::String),
            );
            detail.insert("logs".into(), Value::Array(self.logs.clone()));
        }
        detail
    }

    /// Replaces every captured body with a note (to stay within [`MEMORY_BUDGET`]).
    fn drop_bodies(&mut self) {
        let note =
            json!({"dropped": "the inspector dropped this body to stay within its memory budget"});
        self.event = note.clone();
        if let Some(finished) = &mut self.finished {
            finished.response = note;
        }
        self.captured = 0;
    }
}

struct History {
    records: VecDeque<Record>,
    next_id: u64,
    captured: usize,
}

/// The invocations seen so far; shared by the front door (which records) and the server.
pub struct Inspector {
    history: Mutex<History>,
    changes: broadcast::Sender<Value>,
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector").finish_non_exhaustive()
    }
}

impl Default for Inspector {
    fn default() -> Self {
        Inspector {
            history: Mutex::new(History {
                records: VecDeque::new(),
                next_id: 1,
                captured: 0,
            }),
            changes: broadcast::Sender::new(CHANGES_BUFFERED),
        }
    }
}

impl Inspector {
    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a new invocation; its id.
    pub fn started(&self, started: Started) -> u64 {
        let event = capture(&started.event);
        let captured = captured_size(&event);
        let (id, summary) = {
            let mut history = self.history();
            let id = history.next_id;
            history.next_id += 1;
            history.records.push_back(Record {
                id,
                started,
                finished: None,
                logs: Vec::new(),
                captured,
                event,
            });
            history.captured += captured;
            while history.records.len() > HISTORY {
                if let Some(old) = history.records.pop_front() {
                    history.captured = history.captured.saturating_sub(old.captured);
                }
            }
            enforce_budget(&mut history);
            let summary = history.records.back().map(Record::summary);
            (id, summary)
        };
        if let Some(summary) = summary {
            let _ = self.changes.send(summary);
        }
        id
    }

    /// Records how invocation `id` ended.
    pub fn finished(&self, id: u64, finished: Finished) {
        let captured = captured_size(&finished.response);
        self.update(id, |record, history_captured| {
            record.finished = Some(finished);
            record.captured += captured;
            *history_captured += captured;
        });
    }

    /// Adds the lines printed while invocation `id` ran.
    pub fn logs(&self, id: u64, lines: &[Line], started: Instant) {
        let logs: Vec<Value> = lines
            .iter()
            .take(LOG_LINES)
            .map(|line| {
                json!({
                    "origin": line.origin.name(),
                    "text": line.text,
                    "time": line.epoch_ms,
                    "offsetMs": line.at.saturating_duration_since(started).as_secs_f64() * 1000.0,
                })
            })
            .collect();
        self.update(id, |record, _| record.logs = logs);
    }

    fn update(&self, id: u64, change: impl FnOnce(&mut Record, &mut usize)) {
        let summary = {
            let mut history = self.history();
            let History {
                records, captured, ..
            } = &mut *history;
            let Some(record) = records.iter_mut().find(|record| record.id == id) else {
                return;
            };
            change(record, captured);
            let summary = record.summary();
            enforce_budget(&mut history);
            summary
        };
        let _ = self.changes.send(summary);
    }

    /// Every record's summary, newest first.
    pub fn list(&self) -> Value {
        let history = self.history();
        Value::Array(history.records.iter().rev().map(Record::summary).collect())
    }

    /// One record in full.
    pub fn detail(&self, id: u64) -> Option<Value> {
        let history = self.history();
        history
            .records
            .iter()
            .find(|record| record.id == id)
            .map(Record::detail)
    }

    /// Summaries of records as they start and change.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.changes.subscribe()
    }
}

fn enforce_budget(history: &mut History) {
    let mut index = 0;
    while history.captured > MEMORY_BUDGET && index + 1 < history.records.len() {
        let record = &mut history.records[index];
        history.captured = history.captured.saturating_sub(record.captured);
        record.drop_bodies();
        index += 1;
    }
}

/// The bytes a captured value holds (its strings).
fn captured_size(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items.iter().map(captured_size).sum(),
        Value::Object(map) => map.values().map(captured_size).sum(),
        _ => 0,
    }
}

/// Bytes as the page shows them: `{"text": …}` when they are UTF-8 (of the kept part), else
/// `{"base64": …}`; `size` is the whole length, `cut` says the rest was not kept.
pub fn capture(bytes: &[u8]) -> Value {
    let kept = &bytes[..bytes.len().min(BODY_LIMIT)];
    let cut = kept.len() < bytes.len();
    // A cut may fall inside a character: up to 3 bytes of it are left off.
    let text = (0..=3.min(kept.len()))
        .find_map(|trim| std::str::from_utf8(&kept[..kept.len() - trim]).ok())
        .filter(|text| !text.is_empty() || kept.is_empty());
    let mut captured = Map::new();
    match text {
        Some(text) => captured.insert("text".into(), Value::String(text.to_owned())),
        None => captured.insert(
            "base64".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(kept)),
        ),
    };
    captured.insert("size".into(), json!(bytes.len()));
    if cut {
        captured.insert(
            "note".into(),
            json!(format!("cut at {} of {} bytes", BODY_LIMIT, bytes.len())),
        );
    }
    Value::Object(captured)
}

/// The function's result as the page shows it: the Lambda payload, and the HTTP body in it
/// decoded (base64 bodies shown as text when they are text); a stream's prelude and body.
pub fn response_view(result: &InvocationResult) -> Value {
    match result {
        InvocationResult::Response { body, .. } => {
            let mut view = json!({"kind": "buffered", "payload": capture(body)});
            if let Some(decoded) = decoded_body(body) {
                view["body"] = decoded;
            }
            view
        }
        InvocationResult::Streamed(streamed) => json!({
            "kind": "streamed",
            "prelude": streamed.prelude,
            "body": capture(&streamed.body),
            "completed": streamed.completed,
            "errorType": streamed.error_type,
        }),
        InvocationResult::Error {
            error_type, body, ..
        } => json!({
            "kind": "error",
            "errorType": error_type,
            "payload": capture(body.to_string().as_bytes()),
        }),
        InvocationResult::Rejected { .. } => json!({
            "kind": "rejected",
            "description": result.describe(),
        }),
    }
}

/// The HTTP body inside a buffered HTTP result (`body`, decoded when `isBase64Encoded`).
fn decoded_body(payload: &[u8]) -> Option<Value> {
    let document: Value = serde_json::from_slice(payload).ok()?;
    let body = document.get("body")?.as_str()?;
    let base64 = document
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !base64 {
        return Some(capture(body.as_bytes()));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let mut view = capture(&decoded);
    view["decodedFromBase64"] = Value::Bool(true);
    Some(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn started(target: &str, event: &[u8]) -> Started {
        Started {
            client: "127.0.0.1".into(),
            method: "GET".into(),
            target: target.into(),
            source: "function-url".into(),
            event: Bytes::copy_from_slice(event),
            time_epoch_ms: 1,
            arrived: Instant::now(),
        }
    }

    fn finished(status: u16, response: Value) -> Finished {
        Finished {
            request_id: "r".into(),
            environment: Some(1),
            status,
            delivery: "buffered",
            report_status: Some("success"),
            error_type: None,
            duration_ms: Some(1.5),
            start_up: Some(("init", 100.0)),
            report_line: Some("REPORT RequestId: r".into()),
            response,
        }
    }

    #[test]
    fn emu5_history_is_bounded_and_newest_first() {
        let inspector = Inspector::default();
        let mut changes = inspector.subscribe();
        for n in 0..HISTORY + 5 {
            inspector.started(started(&format!("/{n}"), b"{}"));
        }
        let list = inspector.list();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), HISTORY);
        assert_eq!(list[0]["target"], format!("/{}", HISTORY + 4));
        assert_eq!(list[HISTORY - 1]["target"], "/5");
        assert!(inspector.detail(1).is_none(), "the oldest are gone");
        assert_eq!(changes.try_recv().unwrap()["state"], "running");
    }

    #[test]
    fn emu5_a_record_has_event_response_and_logs() {
        let inspector = Inspector::default();
        let id = inspector.started(started("/echo", br#"{"rawPath":"/echo"}"#));
        let result = InvocationResult::Response {
            body: Bytes::from_static(
                br#"{"statusCode":200,"body":"aGVsbG8=","isBase64Encoded":true}"#,
            ),
            headers: Default::default(),
        };
        inspector.finished(id, finished(200, response_view(&result)));
        let detail = inspector.detail(id).unwrap();
        assert_eq!(detail["state"], "done");
        assert_eq!(detail["status"], 200);
        assert_eq!(detail["event"]["text"], r#"{"rawPath":"/echo"}"#);
        assert_eq!(detail["response"]["kind"], "buffered");
        assert_eq!(detail["response"]["body"]["text"], "hello");
        assert_eq!(detail["response"]["body"]["decodedFromBase64"], true);
        assert_eq!(detail["startUp"]["kind"], "init");
        assert_eq!(detail["report"], "REPORT RequestId: r");
    }

    #[test]
    fn emu5_bodies_are_cut_at_the_limit_with_a_note() {
        let big = vec![b'a'; BODY_LIMIT + 10];
        let captured = capture(&big);
        assert_eq!(captured["text"].as_str().unwrap().len(), BODY_LIMIT);
        assert_eq!(captured["size"], BODY_LIMIT + 10);
        assert!(captured["note"].as_str().unwrap().starts_with("cut at "));
        // A cut inside a character keeps the text whole.
        let mut accented = vec![b'a'; BODY_LIMIT - 1];
        accented.extend_from_slice("é".as_bytes());
        assert_eq!(
            capture(&accented)["text"].as_str().unwrap().len(),
            BODY_LIMIT - 1
        );
        let binary = capture(&[0xff, 0xfe, 0x00]);
        assert_eq!(binary["base64"], "//4A");
        assert!(binary.get("note").is_none());
    }

    #[test]
    fn emu5_streams_show_prelude_and_body() {
        let streamed = crate::control_plane::StreamedResponse {
            headers: Default::default(),
            prelude: json!({"statusCode": 200}),
            body: Bytes::from_static(b"data: 1\n\n"),
            chunks: Vec::new(),
            error_type: None,
            error_body: None,
            trailers: None,
            completed: true,
        };
        let view = response_view(&InvocationResult::Streamed(streamed));
        assert_eq!(view["kind"], "streamed");
        assert_eq!(view["prelude"]["statusCode"], 200);
        assert_eq!(view["body"]["text"], "data: 1\n\n");
    }

    #[test]
    fn emu5_memory_budget_drops_the_oldest_bodies() {
        let inspector = Inspector::default();
        let big = vec![b'x'; BODY_LIMIT];
        let count = MEMORY_BUDGET / BODY_LIMIT + 3;
        for _ in 0..count {
            inspector.started(started("/big", &big));
        }
        let first = inspector.detail(1).unwrap();
        assert!(first["event"]["dropped"].is_string(), "{}", first["event"]);
        let last = inspector.detail(count as u64).unwrap();
        assert_eq!(last["event"]["size"], BODY_LIMIT);
    }
}
