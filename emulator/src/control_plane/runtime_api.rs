//! The Runtime API (`/2018-06-01/runtime/...`): handing out invocations on `next`, and receiving
//! buffered, streamed and error answers for them.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

use super::model::{ErrorOrigin, InvocationResult, StreamedResponse, MAX_BUFFERED_RESPONSE_BYTES};
use super::state::{NextReply, Phase, Shared, State};
use super::wire::{accepted, error_reply, header_str, read_body, BodyRead, Reply};
use crate::server::full_body;

pub(crate) const REQUEST_ID_HEADER: &str = "lambda-runtime-aws-request-id";
pub(crate) const DEADLINE_HEADER: &str = "lambda-runtime-deadline-ms";
pub(crate) const FUNCTION_ARN_HEADER: &str = "lambda-runtime-invoked-function-arn";
pub(crate) const TRACE_ID_HEADER: &str = "lambda-runtime-trace-id";
pub(crate) const CLIENT_CONTEXT_HEADER: &str = "lambda-runtime-client-context";
pub(crate) const COGNITO_IDENTITY_HEADER: &str = "lambda-runtime-cognito-identity";
pub(crate) const TENANT_ID_HEADER: &str = "lambda-runtime-aws-tenant-id";
pub(crate) const FUNCTION_ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";
pub(crate) const FUNCTION_ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";
pub(crate) const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";

/// Error bodies (`error`, `init/error`) share the buffered response limit.
const MAX_ERROR_BODY_BYTES: usize = MAX_BUFFERED_RESPONSE_BYTES;

/// `GET /2018-06-01/runtime/invocation/next`: blocks until an invocation is queued.
pub(crate) async fn next_invocation(shared: Arc<Shared>) -> Reply {
    let _outstanding = OutstandingNext::enter(shared.clone());
    let reply = shared.take(hand_out).await;
    match reply {
        HandedOut::Invocation { event, headers } => {
            let mut reply = Response::new(full_body(event));
            for (name, value) in headers {
                reply.headers_mut().append(name, value);
            }
            reply.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            reply
        }
        HandedOut::Failure { status, body } => {
            let mut reply = Response::new(full_body(body));
            *reply.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            reply
        }
    }
}

enum HandedOut {
    Invocation {
        event: Bytes,
        headers: Vec<(&'static str, HeaderValue)>,
    },
    Failure {
        status: u16,
        body: Bytes,
    },
}

fn hand_out(state: &mut State) -> Option<HandedOut> {
    loop {
        match state.runtime_queue.pop_front()? {
            NextReply::Failure { status, body } => {
                return Some(HandedOut::Failure { status, body })
            }
            NextReply::Invocation { key } => {
                let Some(invocation) = state.invocations.get_mut(&key) else {
                    continue;
                };
                invocation.phase = Phase::Delivered;
                invocation.delivered_at = Some(Instant::now());
                return Some(HandedOut::Invocation {
                    event: invocation.event.clone(),
                    headers: invocation.next_headers.clone(),
                });
            }
        }
    }
}

/// `GET /2018-06-01/runtime/restore/next` (SnapStart): a runtime calls it after init and before
/// its first `next`; Lambda takes the snapshot while it waits and answers it in the restored
/// environment. Here it is answered once the control plane is "restored"
/// ([`crate::control_plane::ControlPlane::restore`]), at once unless the control plane holds it.
pub(crate) async fn restore_next(shared: Arc<Shared>) -> Reply {
    shared.update(|state| state.restore_calls += 1);
    shared.take(|state| state.restored.then_some(())).await;
    let mut reply = Response::new(full_body(Bytes::new()));
    *reply.status_mut() = StatusCode::OK;
    reply
}

/// Counts a `next` call as outstanding for as long as it is being served.
struct OutstandingNext {
    shared: Arc<Shared>,
}

impl OutstandingNext {
    fn enter(shared: Arc<Shared>) -> Self {
        shared.update(|state| {
            state.next_calls_total += 1;
            state.next_outstanding += 1;
            state.next_outstanding_max = state.next_outstanding_max.max(state.next_outstanding);
        });
        OutstandingNext { shared }
    }
}

impl Drop for OutstandingNext {
    fn drop(&mut self) {
        self.shared
            .update(|state| state.next_outstanding = state.next_outstanding.saturating_sub(1));
    }
}

fn invalid_request_id() -> Reply {
    error_reply(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

/// Marks the invocation as being answered, if it is waiting for an answer. Returns the injected
/// rejection status, if any.
fn claim(shared: &Shared, key: &str) -> Result<Option<u16>, ()> {
    shared.update(|state| match state.invocations.get_mut(key) {
        Some(invocation) if invocation.phase == Phase::Delivered => {
            invocation.phase = Phase::Answering;
            Ok(invocation.reject_response)
        }
        _ => Err(()),
    })
}

fn finish(shared: &Shared, key: &str, result: InvocationResult) {
    shared.update(|state| {
        let forgotten = match state.invocations.get_mut(key) {
            Some(invocation) => {
                invocation.phase = Phase::Done;
                invocation.result = Some(result);
                invocation.forgotten
            }
            None => false,
        };
        if forgotten {
            state.invocations.remove(key);
        }
    });
}

/// The answer never fully arrived: the runtime may try again.
fn release(shared: &Shared, key: &str) {
    shared.update(|state| {
        if let Some(invocation) = state.invocations.get_mut(key) {
            invocation.phase = Phase::Delivered;
            invocation.chunks.clear();
        }
    });
}

/// `POST /2018-06-01/runtime/invocation/{id}/response`
pub(crate) async fn post_response(shared: &Shared, key: &str, request: Request<Incoming>) -> Reply {
    let Ok(rejection) = claim(shared, key) else {
        return invalid_request_id();
    };
    let (parts, body) = request.into_parts();
    if let Some(status) = rejection {
        return reject(shared, key, body, status).await;
    }
    let streaming = header_str(&parts.headers, RESPONSE_MODE_HEADER)
        .is_some_and(|mode| mode.eq_ignore_ascii_case("streaming"));
    if streaming {
        receive_stream(shared, key, parts, body).await;
        return accepted();
    }
    end_with_body(shared, key, body, MAX_BUFFERED_RESPONSE_BYTES, |body| {
        InvocationResult::Response {
            body,
            headers: parts.headers,
        }
    })
    .await
}

/// Ends invocation `key` with what `result` makes of its complete body. A body over `limit`
/// ends it as rejected (413, as Lambda does); a broken one leaves it open for another try.
async fn end_with_body(
    shared: &Shared,
    key: &str,
    body: Incoming,
    limit: usize,
    result: impl FnOnce(Bytes) -> InvocationResult,
) -> Reply {
    match read_body(body, limit).await {
        BodyRead::Complete(body) => {
            finish(shared, key, result(body));
            accepted()
        }
        BodyRead::TooLarge { received } => {
            finish(shared, key, too_large(received));
            payload_too_large()
        }
        BodyRead::Broken => {
            release(shared, key);
            invalid_body()
        }
    }
}

fn too_large(received: usize) -> InvocationResult {
    InvocationResult::Rejected {
        status: StatusCode::PAYLOAD_TOO_LARGE.as_u16(),
        error_type: "RequestEntityTooLarge".to_owned(),
        received,
    }
}

fn payload_too_large() -> Reply {
    error_reply(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({MAX_BUFFERED_RESPONSE_BYTES} bytes)."),
    )
}

fn invalid_body() -> Reply {
    error_reply(
        StatusCode::BAD_REQUEST,
        "InvalidRequestFormat",
        "the request body ended before it was complete",
    )
}

/// An injected refusal: drain the body so the client reads the status, not a reset.
async fn reject(shared: &Shared, key: &str, body: Incoming, status: u16) -> Reply {
    let received = match read_body(body, 0).await {
        BodyRead::Complete(body) => body.len(),
        BodyRead::TooLarge { received } => received,
        BodyRead::Broken => 0,
    };
    let error_type = "Emulator.InjectedRejection";
    finish(
        shared,
        key,
        InvocationResult::Rejected {
            status,
            error_type: error_type.to_owned(),
            received,
        },
    );
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_reply(status, error_type, "response refused by the test")
}

/// Reads a streamed response frame by frame, publishing each chunk as it arrives.
async fn receive_stream(shared: &Shared, key: &str, parts: Parts, mut body: Incoming) {
    let mut trailers: Option<HeaderMap> = None;
    let completed = loop {
        match body.frame().await {
            None => break true,
            Some(Err(_)) => break false,
            Some(Ok(frame)) => {
                let arrived = Instant::now();
                match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) => shared.update(|state| {
                        if let Some(invocation) = state.invocations.get_mut(key) {
                            invocation.chunks.push((arrived, data));
                        }
                    }),
                    Err(frame) => {
                        if let Ok(received) = frame.into_trailers() {
                            trailers.get_or_insert_with(HeaderMap::new).extend(received);
                        }
                    }
                }
            }
        }
    };

    let chunks = shared.read(|state| {
        state
            .invocations
            .get(key)
            .map(|invocation| invocation.chunks.clone())
            .unwrap_or_default()
    });
    let mut raw = BytesMut::new();
    for (_, chunk) in &chunks {
        raw.extend_from_slice(chunk);
    }
    let (prelude, body) = StreamedResponse::split_prelude(&raw);
    let trailer = |name: &str| {
        trailers
            .as_ref()
            .and_then(|trailers| header_str(trailers, name))
            .map(str::to_owned)
    };
    let streamed = StreamedResponse {
        error_type: trailer(FUNCTION_ERROR_TYPE_HEADER),
        error_body: trailer(FUNCTION_ERROR_BODY_TRAILER),
        headers: parts.headers,
        prelude,
        body,
        chunks,
        trailers,
        completed,
    };
    finish(shared, key, InvocationResult::Streamed(streamed));
}

/// `POST /2018-06-01/runtime/invocation/{id}/error`
pub(crate) async fn post_error(shared: &Shared, key: &str, request: Request<Incoming>) -> Reply {
    if claim(shared, key).is_err() {
        return invalid_request_id();
    }
    let (parts, body) = request.into_parts();
    end_with_body(shared, key, body, MAX_ERROR_BODY_BYTES, |body| {
        InvocationResult::Error {
            error_type: header_str(&parts.headers, FUNCTION_ERROR_TYPE_HEADER)
                .unwrap_or_default()
                .to_owned(),
            body: json_or_text(&body),
            headers: parts.headers,
        }
    })
    .await
}

/// `POST /2018-06-01/runtime/init/error`
/// `POST /2018-06-01/runtime/init/error` or, after a SnapStart restore, `restore/error`.
pub(crate) async fn post_init_error(
    shared: &Shared,
    origin: ErrorOrigin,
    request: Request<Incoming>,
) -> Reply {
    let (parts, body) = request.into_parts();
    let body = match read_body(body, MAX_ERROR_BODY_BYTES).await {
        BodyRead::Complete(body) => body,
        BodyRead::TooLarge { .. } => return payload_too_large(),
        BodyRead::Broken => return invalid_body(),
    };
    shared.record_error(
        origin,
        None,
        FUNCTION_ERROR_TYPE_HEADER,
        parts.headers,
        body,
    );
    accepted()
}

fn json_or_text(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}
