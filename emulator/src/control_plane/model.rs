//! The control plane's vocabulary: what a test asks for (an invocation and its options), and what it
//! observes (registrations, reported errors, invocation results, streamed chunks).

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

/// Lambda's limit for a buffered (non-streamed) invocation response: 6 MB.
pub const MAX_BUFFERED_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// How far in the future [`InvokeOptions::default`] puts the deadline.
pub const DEFAULT_INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The 8 NUL bytes that end the JSON prelude of a streamed HTTP-integration response.
pub const PRELUDE_DELIMITER: [u8; 8] = [0; 8];

/// The function the control plane pretends to run; echoed to extensions on registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    pub function_name: String,
    pub function_version: String,
    pub handler: String,
    pub account_id: String,
    pub region: String,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        FunctionConfig {
            function_name: "test".to_owned(),
            function_version: "$LATEST".to_owned(),
            handler: "bootstrap".to_owned(),
            account_id: "123456789012".to_owned(),
            region: "us-east-1".to_owned(),
        }
    }
}

impl FunctionConfig {
    /// `arn:aws:lambda:{region}:{account}:function:{name}`: the default invoked-function ARN.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }
}

/// Per-invocation settings. Build with struct-update syntax:
/// `InvokeOptions { tenant_id: Some("t1".into()), ..Default::default() }`.
///
/// Every `Lambda-Runtime-*` header is sent only when its value is non-empty, so `Some(String::new())`
/// is the way to leave out a header whose field otherwise has a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOptions {
    /// `None`: a fresh UUID-shaped id.
    pub request_id: Option<String>,
    /// Epoch milliseconds; `None`: no `Lambda-Runtime-Deadline-Ms` header at all.
    /// The default is now + [`DEFAULT_INVOCATION_TIMEOUT`], taken when the options are built.
    pub deadline_ms: Option<u64>,
    /// `None`: the control plane's function ARN.
    pub invoked_function_arn: Option<String>,
    pub trace_id: Option<String>,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub tenant_id: Option<String>,
    /// Answer the runtime's `response` post with this status instead of accepting it (a refused
    /// post); the invocation then ends as [`InvocationResult::Rejected`].
    pub reject_response: Option<u16>,
}

impl Default for InvokeOptions {
    fn default() -> Self {
        InvokeOptions {
            request_id: None,
            deadline_ms: Some(epoch_ms_in(DEFAULT_INVOCATION_TIMEOUT)),
            invoked_function_arn: None,
            trace_id: None,
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            reject_response: None,
        }
    }
}

/// Milliseconds since the Unix epoch, `from_now` ahead of the wall clock.
pub fn epoch_ms_in(from_now: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from((now + from_now).as_millis()).unwrap_or(u64::MAX)
}

/// One `POST /2020-01-01/extension/register`.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The `Lambda-Extension-Identifier` handed back.
    pub id: String,
    /// The `Lambda-Extension-Name` header.
    pub name: String,
    /// The `events` of the request body (`INVOKE`, `SHUTDOWN`).
    pub events: Vec<String>,
    /// All request headers.
    pub headers: HeaderMap,
    pub at: Instant,
}

impl Registration {
    pub fn subscribes_to(&self, event: &str) -> bool {
        self.events.iter().any(|subscribed| subscribed == event)
    }
}

/// Which endpoint an error report came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOrigin {
    /// `POST /2020-01-01/extension/init/error`
    ExtensionInit,
    /// `POST /2020-01-01/extension/exit/error`
    ExtensionExit,
    /// `POST /2018-06-01/runtime/init/error`
    RuntimeInit,
    /// `POST /2018-06-01/runtime/restore/error` (SnapStart)
    RuntimeRestore,
}

impl ErrorOrigin {
    pub fn is_init(self) -> bool {
        matches!(self, ErrorOrigin::ExtensionInit | ErrorOrigin::RuntimeInit)
    }
}

/// An error reported outside an invocation (init or exit).
#[derive(Debug, Clone)]
pub struct ReportedError {
    pub origin: ErrorOrigin,
    /// The reporting extension's name (extension endpoints only).
    pub extension: Option<String>,
    /// `Lambda-Extension-Function-Error-Type` or `Lambda-Runtime-Function-Error-Type`; empty if absent.
    pub error_type: String,
    pub body: Bytes,
    pub headers: HeaderMap,
    pub at: Instant,
}

impl ReportedError {
    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One body chunk of a streamed response, stamped when it arrived.
pub type Chunk = (Instant, Bytes);

/// A response posted with `Lambda-Runtime-Function-Response-Mode: streaming`.
#[derive(Debug, Clone)]
pub struct StreamedResponse {
    /// Request headers of the `response` post.
    pub headers: HeaderMap,
    /// The JSON before the 8 NUL bytes; `Null` when there was no delimiter, a string when the bytes
    /// before it were not JSON.
    pub prelude: Value,
    /// Everything after the delimiter (everything, when there was none).
    pub body: Bytes,
    /// The raw chunks as they arrived, prelude included.
    pub chunks: Vec<Chunk>,
    /// Trailer `Lambda-Runtime-Function-Error-Type`.
    pub error_type: Option<String>,
    /// Trailer `Lambda-Runtime-Function-Error-Body` (base64, as sent).
    pub error_body: Option<String>,
    /// All trailers, when any were sent.
    pub trailers: Option<HeaderMap>,
    /// The body ended properly (final chunk received), as opposed to a connection that broke.
    pub completed: bool,
}

impl StreamedResponse {
    /// Splits a raw streamed body into prelude and body at the first [`PRELUDE_DELIMITER`].
    pub fn split_prelude(raw: &[u8]) -> (Value, Bytes) {
        let found = raw
            .windows(PRELUDE_DELIMITER.len())
            .position(|window| window == PRELUDE_DELIMITER);
        match found {
            None => (Value::Null, Bytes::copy_from_slice(raw)),
            Some(at) => {
                let head = &raw[..at];
                let prelude = serde_json::from_slice(head)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(head).into_owned()));
                let body = Bytes::copy_from_slice(&raw[at + PRELUDE_DELIMITER.len()..]);
                (prelude, body)
            }
        }
    }

    /// `statusCode` of the prelude.
    pub fn status(&self) -> Option<u16> {
        self.prelude
            .get("statusCode")
            .and_then(Value::as_u64)
            .and_then(|status| u16::try_from(status).ok())
    }

    /// The stream signalled a failure through its trailers.
    pub fn failed(&self) -> bool {
        self.error_type.is_some()
    }
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum InvocationResult {
    /// A buffered `response` post (accepted with 202).
    Response { body: Bytes, headers: HeaderMap },
    /// A streamed `response` post.
    Streamed(StreamedResponse),
    /// An `error` post.
    Error {
        /// The `Lambda-Runtime-Function-Error-Type` header; empty if absent.
        error_type: String,
        /// The body as JSON; a JSON string of the raw text when it was not JSON.
        body: Value,
        headers: HeaderMap,
    },
    /// The control plane refused the `response` post (413 over the size limit, or an injected
    /// status from [`InvokeOptions::reject_response`]).
    Rejected {
        status: u16,
        error_type: String,
        /// Bytes received in the refused body.
        received: usize,
    },
}

impl InvocationResult {
    /// The buffered response body parsed as JSON.
    pub fn json(&self) -> Result<Value, UnexpectedResult> {
        match self {
            InvocationResult::Response { body, .. } => {
                serde_json::from_slice(body).map_err(|err| {
                    UnexpectedResult(format!(
                        "response body is not JSON ({err}): {}",
                        String::from_utf8_lossy(body)
                    ))
                })
            }
            other => Err(UnexpectedResult(format!(
                "expected a buffered response, got {}",
                other.describe()
            ))),
        }
    }

    /// The streamed response, if the invocation was answered with one.
    pub fn streamed(&self) -> Result<&StreamedResponse, UnexpectedResult> {
        match self {
            InvocationResult::Streamed(streamed) => Ok(streamed),
            other => Err(UnexpectedResult(format!(
                "expected a streamed response, got {}",
                other.describe()
            ))),
        }
    }

    /// `(error_type, body)` of an `error` post.
    pub fn error(&self) -> Result<(&str, &Value), UnexpectedResult> {
        match self {
            InvocationResult::Error {
                error_type, body, ..
            } => Ok((error_type, body)),
            other => Err(UnexpectedResult(format!(
                "expected an invocation error, got {}",
                other.describe()
            ))),
        }
    }

    /// The response body bytes (buffered body, or streamed body after the prelude).
    pub fn body_bytes(&self) -> Option<&Bytes> {
        match self {
            InvocationResult::Response { body, .. } => Some(body),
            InvocationResult::Streamed(streamed) => Some(&streamed.body),
            _ => None,
        }
    }

    /// Request headers of the post that ended the invocation.
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            InvocationResult::Response { headers, .. }
            | InvocationResult::Error { headers, .. } => Some(headers),
            InvocationResult::Streamed(streamed) => Some(&streamed.headers),
            InvocationResult::Rejected { .. } => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, InvocationResult::Error { .. })
    }

    /// A one-line summary for assertion messages.
    pub fn describe(&self) -> String {
        match self {
            InvocationResult::Response { body, .. } => format!(
                "buffered response ({} bytes): {}",
                body.len(),
                preview(body)
            ),
            InvocationResult::Streamed(streamed) => format!(
                "streamed response (prelude {}, {} body bytes, completed: {}, error trailer: {:?})",
                streamed.prelude,
                streamed.body.len(),
                streamed.completed,
                streamed.error_type
            ),
            InvocationResult::Error {
                error_type, body, ..
            } => format!("error {error_type:?}: {body}"),
            InvocationResult::Rejected {
                status,
                error_type,
                received,
            } => format!("rejected with {status} {error_type} after {received} bytes"),
        }
    }
}

fn preview(body: &[u8]) -> String {
    const LIMIT: usize = 512;
    let text = String::from_utf8_lossy(&body[..body.len().min(LIMIT)]).into_owned();
    if body.len() > LIMIT {
        format!("{text}…")
    } else {
        text
    }
}

/// The invocation did not end the way the caller expected; the message says how it did end.
#[derive(Clone, PartialEq, Eq)]
pub struct UnexpectedResult(pub String);

impl fmt::Debug for UnexpectedResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for UnexpectedResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnexpectedResult {}

/// A wait ran out of time.
#[derive(Clone, PartialEq, Eq)]
pub struct Timeout {
    /// What was being waited for.
    pub waiting_for: String,
    pub after: Duration,
}

impl Timeout {
    pub(crate) fn new(waiting_for: impl Into<String>, after: Duration) -> Self {
        Timeout {
            waiting_for: waiting_for.into(),
            after,
        }
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {}",
            self.after, self.waiting_for
        )
    }
}

impl std::error::Error for Timeout {}
