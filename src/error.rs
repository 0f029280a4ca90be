//! The adapter's errors: its own kinds, each with the readable `errorType` that Lambda reports for
//! it (SPEC RSP-5, EVT-8, ERR-1, ERR-4), the published crate's `Error` alias (SHP-2), and how an
//! error from a library is described in a log line.
//!
//! Errors from the request path end up in the Runtime API's `/error` endpoint, and from there in the
//! caller's response and in CloudWatch. Their type must say what went wrong in the user's terms
//! (`Adapter.AppUnreachable`), never a Rust type path.

use std::error::Error as StdError;
use std::fmt;

use lambda_runtime::Diagnostic;

/// Any error, boxed: the error type of the published crate's API.
pub use lambda_http::Error;

/// What kind of failure an [`AdapterError`] is; decides the reported `errorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The Lambda event could not be turned into an HTTP request (EVT-8).
    InvalidEvent,
    /// The app answered with a status listed in `AWS_LWA_ERROR_STATUS_CODES` (RSP-5).
    ErrorStatus,
    /// The app could not be reached or dropped the connection before answering (ERR-1).
    AppUnreachable,
    /// The app did not answer before the invocation's deadline (ERR-2).
    AppTimeout,
    /// The app did not become ready in time (RDY-6).
    AppNotReady,
    /// The app's response body failed while it was being read.
    AppResponse,
    /// The app's response is over Lambda's payload limit (RSP-7).
    ResponseTooLarge,
    /// Configuration that makes the adapter unusable (CFG-20).
    ConfigInvalid,
    /// A SnapStart hook of the app failed (LIF-8).
    SnapStartHook,
    /// An invocation asked for a SnapStart hook's path (LIF-9).
    HookForbidden,
    /// The adapter stopped (SIGTERM) before the invocation's stream ended (LIF-5).
    ShuttingDown,
    /// Anything else that went wrong inside the adapter.
    Internal,
}

impl ErrorKind {
    /// The `errorType` string reported to Lambda.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidEvent => "Adapter.InvalidEvent",
            ErrorKind::ErrorStatus => "Adapter.ErrorStatus",
            ErrorKind::AppUnreachable => "Adapter.AppUnreachable",
            ErrorKind::AppTimeout => "Adapter.AppTimeout",
            ErrorKind::AppNotReady => "Adapter.AppNotReady",
            ErrorKind::AppResponse => "Adapter.AppResponseError",
            ErrorKind::ResponseTooLarge => "Adapter.ResponseTooLarge",
            ErrorKind::ConfigInvalid => "Adapter.ConfigInvalid",
            ErrorKind::SnapStartHook => "Adapter.SnapStartHookFailed",
            ErrorKind::HookForbidden => "Adapter.HookForbidden",
            ErrorKind::ShuttingDown => "Adapter.ShuttingDown",
            ErrorKind::Internal => "Adapter.InternalError",
        }
    }
}

/// An error raised by the adapter, with a readable kind and a message that names its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterError {
    kind: ErrorKind,
    message: String,
}

impl AdapterError {
    /// Creates an error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AdapterError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn invalid_event(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidEvent, message)
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Finds the adapter error behind a boxed error, or describes a foreign one as internal.
    pub(crate) fn from_boxed(err: Error) -> Self {
        match err.downcast::<AdapterError>() {
            Ok(err) => *err,
            Err(other) => AdapterError::new(ErrorKind::Internal, other.to_string()),
        }
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.error_type(), self.message)
    }
}

impl std::error::Error for AdapterError {}

/// An error with its chain of causes, e.g. `client error (Connect): tcp connect error: Connection refused`.
pub(crate) fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl From<AdapterError> for Diagnostic {
    fn from(err: AdapterError) -> Diagnostic {
        Diagnostic {
            error_type: err.kind.error_type().to_string(),
            error_message: err.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_type_is_readable() {
        // covers RSP-5 (readable errorType)
        let d: Diagnostic = AdapterError::new(ErrorKind::ErrorStatus, "status 502").into();
        assert_eq!(d.error_type, "Adapter.ErrorStatus");
        assert_eq!(d.error_message, "status 502");
    }

    #[test]
    fn boxed_errors_keep_their_kind() {
        let boxed: Error = Box::new(AdapterError::invalid_event("bad base64"));
        assert_eq!(
            AdapterError::from_boxed(boxed).kind(),
            ErrorKind::InvalidEvent
        );
        let foreign: Error = "boom".into();
        assert_eq!(
            AdapterError::from_boxed(foreign).kind(),
            ErrorKind::Internal
        );
    }
}
