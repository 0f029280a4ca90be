//! The Extensions API (`/2020-01-01/extension/...`): registration, the `event/next` long poll, and
//! init/exit error reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::model::{epoch_ms_in, ErrorOrigin, Registration};
use super::state::{Shared, State};
use super::wire::{accepted, error_reply, header_str, json_reply, read_body, BodyRead, Reply};
use crate::ids::uuid_like;

pub(crate) const NAME_HEADER: &str = "lambda-extension-name";
pub(crate) const IDENTIFIER_HEADER: &str = "lambda-extension-identifier";
pub(crate) const ACCEPT_FEATURE_HEADER: &str = "lambda-extension-accept-feature";
pub(crate) const ERROR_TYPE_HEADER: &str = "lambda-extension-function-error-type";
pub(crate) const EVENT_IDENTIFIER_HEADER: &str = "lambda-extension-event-identifier";

/// Register and error bodies are small JSON documents.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long extensions get to finish after SHUTDOWN (Lambda gives 2 s with external extensions).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// `POST /2020-01-01/extension/register`
pub(crate) async fn register(shared: &Shared, request: Request<Incoming>) -> Reply {
    let (parts, body) = request.into_parts();
    let name = header_str(&parts.headers, NAME_HEADER)
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        return error_reply(
            StatusCode::FORBIDDEN,
            "Extension.InvalidExtensionName",
            "the Lambda-Extension-Name header is missing or empty",
        );
    }
    let body = match read_body(body, MAX_BODY_BYTES).await {
        BodyRead::Complete(body) => body,
        BodyRead::TooLarge { .. } | BodyRead::Broken => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                "InvalidRequestFormat",
                "unreadable register body",
            )
        }
    };
    let events = match parse_events(&body) {
        Ok(events) => events,
        Err(message) => {
            return error_reply(StatusCode::BAD_REQUEST, "InvalidRequestFormat", &message)
        }
    };

    let wants_account_id = header_str(&parts.headers, ACCEPT_FEATURE_HEADER)
        .is_some_and(|features| features.split(',').any(|f| f.trim() == "accountId"));
    let registration = Registration {
        id: uuid_like(),
        name,
        events,
        headers: parts.headers,
        at: Instant::now(),
    };
    let id = registration.id.clone();
    shared.update(|state| state.extensions.push(new_extension(registration)));

    let function = &shared.function;
    let mut body = json!({
        "functionName": function.function_name,
        "functionVersion": function.function_version,
        "handler": function.handler,
    });
    if wants_account_id {
        body["accountId"] = json!(function.account_id);
    }
    let mut reply = json_reply(StatusCode::OK, &body);
    if let Ok(id) = HeaderValue::from_str(&id) {
        reply.headers_mut().insert(IDENTIFIER_HEADER, id);
    }
    reply
}

fn new_extension(registration: Registration) -> super::state::Extension {
    super::state::Extension {
        registration,
        pending_events: Default::default(),
        next_calls: 0,
        parked: false,
        shutdown_sent: false,
    }
}

/// `{"events": [...]}`; an empty body subscribes to nothing.
fn parse_events(body: &[u8]) -> Result<Vec<String>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let document: Value =
        serde_json::from_slice(body).map_err(|err| format!("register body is not JSON: {err}"))?;
    match document.get("events") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(events)) => events
            .iter()
            .map(|event| {
                event
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("event {event} is not a string"))
            })
            .collect(),
        Some(other) => Err(format!("`events` must be an array, got {other}")),
    }
}

fn invalid_extension_id() -> Reply {
    error_reply(
        StatusCode::FORBIDDEN,
        "Extension.InvalidExtensionId",
        "the Lambda-Extension-Identifier header is missing or unknown",
    )
}

/// `GET /2020-01-01/extension/event/next`: blocks until an event the extension subscribed to.
pub(crate) async fn next_event(shared: Arc<Shared>, request: Request<Incoming>) -> Reply {
    let Some(id) = header_str(request.headers(), IDENTIFIER_HEADER).map(str::to_owned) else {
        return invalid_extension_id();
    };
    let known = shared.update(|state| match state.extension_mut(&id) {
        Some(extension) => {
            extension.next_calls += 1;
            extension.parked = true;
            true
        }
        None => false,
    });
    if !known {
        return invalid_extension_id();
    }
    let _parked = Parked {
        shared: shared.clone(),
        id: id.clone(),
    };

    let event = shared.take(|state| take_event(state, &id)).await;
    let mut reply = json_reply(StatusCode::OK, &event);
    if let Ok(event_id) = HeaderValue::from_str(&uuid_like()) {
        reply
            .headers_mut()
            .insert(EVENT_IDENTIFIER_HEADER, event_id);
    }
    reply
}

fn take_event(state: &mut State, id: &str) -> Option<Value> {
    let shutdown_reason = state.shutdown_reason.clone();
    let extension = state.extension_mut(id)?;
    if let Some(event) = extension.pending_events.pop_front() {
        return Some(event);
    }
    let reason = shutdown_reason?;
    if extension.shutdown_sent || !extension.registration.subscribes_to("SHUTDOWN") {
        return None;
    }
    extension.shutdown_sent = true;
    Some(json!({
        "eventType": "SHUTDOWN",
        "shutdownReason": reason,
        "deadlineMs": epoch_ms_in(SHUTDOWN_GRACE),
    }))
}

/// Clears the extension's `parked` flag when its `event/next` ends, however it ends.
struct Parked {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.shared.update(|state| {
            if let Some(extension) = state.extension_mut(&self.id) {
                extension.parked = false;
            }
        });
    }
}

/// `POST /2020-01-01/extension/init/error` and `/exit/error`.
pub(crate) async fn report_error(
    shared: &Shared,
    origin: ErrorOrigin,
    request: Request<Incoming>,
) -> Reply {
    let (parts, body) = request.into_parts();
    let id = header_str(&parts.headers, IDENTIFIER_HEADER).unwrap_or_default();
    let Some(name) = shared.read(|state| {
        state
            .extensions
            .iter()
            .find(|extension| extension.registration.id == id)
            .map(|extension| extension.registration.name.clone())
    }) else {
        return invalid_extension_id();
    };
    let body = match read_body(body, MAX_BODY_BYTES).await {
        BodyRead::Complete(body) => body,
        BodyRead::TooLarge { .. } => {
            return error_reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "error body too large",
            )
        }
        BodyRead::Broken => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                "InvalidRequestFormat",
                "error body broken",
            )
        }
    };
    shared.record_error(origin, Some(name), ERROR_TYPE_HEADER, parts.headers, body);
    accepted()
}
