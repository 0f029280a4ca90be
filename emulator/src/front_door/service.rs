//! The front door's I/O: each HTTP request becomes one invocation on the [`ControlPlane`], and the
//! invocation's end becomes the HTTP response and a REPORT line.
//!
//! - Requests wait until the function's init has finished (the first `next` call), then for one
//!   of `concurrency` slots; the function's timeout starts when the slot is taken, and becomes the
//!   invocation's deadline. Past it the client gets a `504` (or, mid-stream, a cut-off body).
//! - A streamed result is relayed as it arrives: status and headers from the prelude, then every
//!   chunk as soon as the control plane has it. A stream that ends with error trailers (or
//!   breaks) ends the client's response abruptly, and the error is logged.
//! - `POST /2015-03-31/functions/{name}/invocations` is Lambda's Invoke API: the body is the
//!   event, the result is the body of a `200`; a function error adds
//!   `X-Amz-Function-Error: Unhandled`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::report::{Report, ReportStatus};
use super::request::{to_event, Front, IncomingRequest};
use super::response::{
    from_result, function_error, prelude_head, timed_out, timeout_error, HttpReply, PreludeScanner,
    MAX_PRELUDE_BYTES,
};
use super::EventSource;
use crate::clock::epoch_ms_now;
use crate::control_plane::{
    epoch_ms_in, ChunkReceiver, ControlPlane, InvocationHandle, InvocationResult, InvokeOptions,
    StreamedResponse, MAX_BUFFERED_RESPONSE_BYTES,
};
use crate::ids::uuid_like;
use crate::server::{BoxError, ChannelBody, HttpServer, PeerAddr, ResponseBody};

/// Lambda's limit for a synchronous invocation's request payload.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// Streamed chunks buffered for a slow client before the relay waits for it.
const RELAY_BUFFER_CHUNKS: usize = 64;
/// The header that carries Lambda's request id on every front-door response.
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// How the front door behaves.
#[derive(Debug, Clone)]
pub struct FrontDoorConfig {
    pub source: EventSource,
    /// The function timeout: each invocation's deadline is this far from its start.
    pub timeout: Duration,
    /// Invocations in flight at once; later requests wait for a slot.
    pub concurrency: usize,
    /// The region in the events' domain names and ARNs.
    pub front: Front,
}

/// The running front door; dropping it stops the server.
#[derive(Debug)]
pub struct FrontDoor {
    server: HttpServer,
}

impl FrontDoor {
    /// Serves on `addr`. Requests wait until `ready` is `true` (the function's init is over)
    /// before they are invoked.
    pub async fn bind(
        addr: SocketAddr,
        config: FrontDoorConfig,
        control_plane: ControlPlane,
        ready: watch::Receiver<bool>,
    ) -> io::Result<FrontDoor> {
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            config,
            control_plane,
            permits,
            ready,
            port,
        });
        let server = HttpServer::serve(listener, move |request| {
            let shared = shared.clone();
            async move { Ok::<_, BoxError>(shared.handle(request).await) }
        })?;
        Ok(FrontDoor { server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

struct Shared {
    config: FrontDoorConfig,
    control_plane: ControlPlane,
    permits: Arc<Semaphore>,
    ready: watch::Receiver<bool>,
    /// The port clients reach the front door on (`x-forwarded-port`).
    port: u16,
}

/// `/2015-03-31/functions/{name}/invocations`, Lambda's Invoke API (any function name).
fn is_invoke_path(path: &str) -> bool {
    path.strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

impl Shared {
    async fn handle(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        let peer = request
            .extensions()
            .get::<PeerAddr>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |peer| peer.0.ip());
        let raw_invoke = request.method() == Method::POST && is_invoke_path(request.uri().path());
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
                return HttpReply::json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({ "message": "Request Too Long" }),
                )
                .into_response();
            }
            Err(err) => {
                return HttpReply::json(
                    StatusCode::BAD_REQUEST,
                    &json!({ "message": format!("the request body could not be read: {err}") }),
                )
                .into_response();
            }
        };
        if raw_invoke {
            self.raw_invoke(body).await
        } else {
            let request = IncomingRequest::from_parts(
                &parts,
                body,
                peer,
                self.port,
                uuid_like(),
                epoch_ms_now(),
            );
            self.http_invoke(request).await
        }
    }

    /// Queues the event once init is over and a slot is free.
    async fn invoke(&self, event: Bytes, trace_id: Option<String>) -> Option<Invocation> {
        let mut ready = self.ready.clone();
        // A dropped sender means no init signal will come: serve anyway.
        let _ = ready.wait_for(|ready| *ready).await;
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        let started = Instant::now();
        let options = InvokeOptions {
            deadline_ms: Some(epoch_ms_in(self.config.timeout)),
            trace_id: trace_id.map(|root| format!("{root};Sampled=0")),
            ..InvokeOptions::default()
        };
        let handle = self.control_plane.invoke_with(event, options);
        Some(Invocation {
            handle,
            source: self.config.source,
            started,
            deadline: started + self.config.timeout,
            timeout: self.config.timeout,
            permit: Some(permit),
            ended: false,
        })
    }

    async fn http_invoke(&self, request: IncomingRequest) -> Response<ResponseBody> {
        let event = to_event(self.config.source, &request, &self.config.front);
        let trace_id = Some(request.trace_id.clone());
        let Some(invocation) = self.invoke(Bytes::from(event.to_string()), trace_id).await else {
            return unavailable();
        };
        let mut chunks = invocation.handle.chunks();
        match chunks.recv(invocation.remaining()).await {
            Err(_) => invocation.timed_out(),
            Ok(None) => {
                let (reply, status) = invocation.buffered_reply();
                invocation.finish(status);
                reply
            }
            Ok(Some((_, first))) => invocation.stream(chunks, first).await,
        }
    }

    async fn raw_invoke(&self, body: Bytes) -> Response<ResponseBody> {
        // Lambda's Invoke without a payload sends `{}`.
        let event = if body.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            body
        };
        let Some(invocation) = self.invoke(event, None).await else {
            return unavailable();
        };
        let (reply, status) = match invocation.handle.result(invocation.remaining()).await {
            Err(_) => (
                unhandled(&timeout_error(
                    invocation.request_id(),
                    invocation.timeout.as_secs_f64(),
                )),
                ReportStatus::Timeout,
            ),
            Ok(result) => raw_reply(&result),
        };
        let mut response = invocation.with_request_id(reply.into_response());
        response.headers_mut().insert(
            "x-amz-executed-version",
            HeaderValue::from_static("$LATEST"),
        );
        invocation.finish(status);
        response
    }
}

fn unavailable() -> Response<ResponseBody> {
    HttpReply::json(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({ "message": "no invocation slot is available" }),
    )
    .into_response()
}

/// A `200` with `body` as it is.
fn ok_with(body: Bytes, content_type: Option<&'static str>) -> HttpReply {
    let mut headers = http::HeaderMap::new();
    if let Some(content_type) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    HttpReply {
        status: StatusCode::OK,
        headers,
        body,
    }
}

/// The Invoke API's answer for a function error: `200` with the error document.
fn unhandled(error: &Value) -> HttpReply {
    let mut reply = HttpReply::json(StatusCode::OK, error);
    reply.headers.insert(
        HeaderName::from_static("x-amz-function-error"),
        HeaderValue::from_static("Unhandled"),
    );
    reply
}

fn raw_reply(result: &InvocationResult) -> (HttpReply, ReportStatus) {
    match result {
        InvocationResult::Response { body, .. } => (
            ok_with(body.clone(), Some("application/json")),
            ReportStatus::Success,
        ),
        InvocationResult::Streamed(streamed) if streamed.failed() => {
            (unhandled(&stream_error(streamed)), ReportStatus::Error)
        }
        InvocationResult::Streamed(streamed) => {
            // The Invoke API has no framing for a stream: the raw bytes, prelude included.
            let mut raw = BytesMut::new();
            for (_, chunk) in &streamed.chunks {
                raw.extend_from_slice(chunk);
            }
            (ok_with(raw.freeze(), None), ReportStatus::Success)
        }
        InvocationResult::Error { body, .. } => (unhandled(body), ReportStatus::Error),
        InvocationResult::Rejected { .. } => {
            (unhandled(&rejection_error(result)), ReportStatus::Error)
        }
    }
}

/// The error document of a stream that ended with error trailers (the body trailer is base64).
fn stream_error(streamed: &StreamedResponse) -> Value {
    let error_type = streamed.error_type.clone().unwrap_or_default();
    let decoded = streamed.error_body.as_deref().and_then(|body| {
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .ok()
    });
    match decoded.and_then(|body| serde_json::from_slice::<Value>(&body).ok()) {
        Some(document @ Value::Object(_)) => document,
        _ => json!({
            "errorType": error_type,
            "errorMessage": "the function's streamed response failed",
        }),
    }
}

fn rejection_error(result: &InvocationResult) -> Value {
    match result {
        InvocationResult::Rejected {
            status: 413,
            received,
            ..
        } => json!({
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": format!(
                "Response payload size ({received} bytes) exceeded maximum allowed payload size ({MAX_BUFFERED_RESPONSE_BYTES} bytes)."
            ),
        }),
        other => json!({
            "errorType": "Runtime.ResponseRejected",
            "errorMessage": other.describe(),
        }),
    }
}

/// One invocation in flight, holding its concurrency slot until it is finished.
///
/// Dropped before [`Invocation::finish`] (the client went away, the connection closed), it
/// follows the invocation to its end in the background, still holding the slot, so that every
/// invocation gets its REPORT line and the concurrency limit stays true.
struct Invocation {
    handle: InvocationHandle,
    source: EventSource,
    started: Instant,
    deadline: Instant,
    timeout: Duration,
    permit: Option<OwnedSemaphorePermit>,
    /// Reported, or handed to a background follower: nothing left to do on drop.
    ended: bool,
}

impl Drop for Invocation {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let follower = Invocation {
            handle: self.handle.clone(),
            source: self.source,
            started: self.started,
            deadline: self.deadline,
            timeout: self.timeout,
            permit: self.permit.take(),
            // A follower dropped unfinished (the runtime shutting down) must not spawn another.
            ended: true,
        };
        runtime.spawn(async move {
            let status = match follower.handle.result(follower.remaining()).await {
                Ok(result) => status_of(&result),
                Err(_) => ReportStatus::Timeout,
            };
            follower.finish(status);
        });
    }
}

/// How a result shows on the REPORT line.
fn status_of(result: &InvocationResult) -> ReportStatus {
    match result {
        InvocationResult::Response { .. } => ReportStatus::Success,
        InvocationResult::Streamed(streamed) if !streamed.failed() && streamed.completed => {
            ReportStatus::Success
        }
        _ => ReportStatus::Error,
    }
}

type ClientSender = mpsc::Sender<Result<Frame<Bytes>, BoxError>>;

impl Invocation {
    fn request_id(&self) -> &str {
        self.handle.request_id()
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Prints the REPORT line and lets the control plane drop the invocation's record.
    fn finish(mut self, status: ReportStatus) {
        Report {
            request_id: self.request_id().to_owned(),
            duration: self.started.elapsed(),
            status,
        }
        .print();
        self.handle.forget();
        self.ended = true;
    }

    fn with_request_id(&self, mut response: Response<ResponseBody>) -> Response<ResponseBody> {
        if let Ok(id) = HeaderValue::from_str(self.request_id()) {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
        response
    }

    fn timed_out(self) -> Response<ResponseBody> {
        let reply = timed_out(self.request_id(), self.timeout.as_secs_f64());
        let response = self.with_request_id(reply.into_response());
        self.finish(ReportStatus::Timeout);
        response
    }

    /// The response for an invocation that ended without streaming a single chunk.
    fn buffered_reply(&self) -> (Response<ResponseBody>, ReportStatus) {
        let Some(result) = self.handle.try_result() else {
            say!("invocation {} ended without a result", self.request_id());
            let reply = HttpReply::json(
                StatusCode::BAD_GATEWAY,
                &json!({"message": "Internal Server Error"}),
            );
            return (
                self.with_request_id(reply.into_response()),
                ReportStatus::Error,
            );
        };
        let (reply, status) = match &result {
            InvocationResult::Response { body, .. } => match from_result(self.source, body) {
                Ok(reply) => (reply, ReportStatus::Success),
                Err(malformed) => {
                    say!("invocation {}: {malformed}", self.request_id());
                    (malformed.reply(), ReportStatus::Success)
                }
            },
            InvocationResult::Error {
                error_type, body, ..
            } => (function_error(error_type, body), ReportStatus::Error),
            InvocationResult::Streamed(streamed) if streamed.failed() => {
                let error = stream_error(streamed);
                say!(
                    "invocation {}: the streamed response failed: {error}",
                    self.request_id()
                );
                (function_error("", &error), ReportStatus::Error)
            }
            InvocationResult::Streamed(_) => {
                say!(
                    "invocation {}: the streamed response had no prelude",
                    self.request_id()
                );
                let reply = HttpReply::json(
                    StatusCode::BAD_GATEWAY,
                    &json!({"message": "Internal Server Error"}),
                );
                (reply, ReportStatus::Error)
            }
            InvocationResult::Rejected { .. } => {
                let error = rejection_error(&result);
                say!(
                    "invocation {}: the result was refused: {error}",
                    self.request_id()
                );
                (function_error("", &error), ReportStatus::Error)
            }
        };
        (self.with_request_id(reply.into_response()), status)
    }

    /// Reads the prelude, answers with its status and headers, and relays the body.
    async fn stream(self, mut chunks: ChunkReceiver, first: Bytes) -> Response<ResponseBody> {
        let mut scanner = PreludeScanner::default();
        let mut scanned = scanner.push(&first);
        while scanned.is_none() {
            if scanner.buffered() > MAX_PRELUDE_BYTES {
                say!(
                    "invocation {}: no prelude in the first {MAX_PRELUDE_BYTES} bytes of the streamed response",
                    self.request_id()
                );
                return self.abandon(chunks);
            }
            match chunks.recv(self.remaining()).await {
                Ok(Some((_, chunk))) => scanned = scanner.push(&chunk),
                Ok(None) => {
                    let (response, status) = self.buffered_reply();
                    self.finish(status);
                    return response;
                }
                Err(_) => return self.timed_out(),
            }
        }
        let Some((prelude, rest)) = scanned else {
            return self.abandon(chunks);
        };
        let (status, headers) = match prelude.and_then(|prelude| prelude_head(&prelude)) {
            Ok(head) => head,
            Err(malformed) => {
                say!("invocation {}: {malformed}", self.request_id());
                return self.abandon(chunks);
            }
        };
        let (sender, receiver) = mpsc::channel(RELAY_BUFFER_CHUNKS);
        let mut response = Response::new(ChannelBody::new(receiver).boxed());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        let response = self.with_request_id(response);
        tokio::spawn(self.relay(chunks, rest, Some(sender)));
        response
    }

    /// Answers `502` now, and follows the stream to its end in the background for the REPORT.
    fn abandon(self, chunks: ChunkReceiver) -> Response<ResponseBody> {
        let reply = HttpReply::json(
            StatusCode::BAD_GATEWAY,
            &json!({"message": "Internal Server Error"}),
        );
        let response = self.with_request_id(reply.into_response());
        tokio::spawn(self.relay(chunks, Bytes::new(), None));
        response
    }

    /// Forwards every chunk to the client as it arrives; at the end, checks how the stream
    /// ended, cuts the client's response off if it failed, and reports.
    async fn relay(self, mut chunks: ChunkReceiver, rest: Bytes, mut client: Option<ClientSender>) {
        forward(&mut client, rest).await;
        let status = loop {
            match chunks.recv(self.remaining()).await {
                Ok(Some((_, chunk))) => forward(&mut client, chunk).await,
                Ok(None) => break self.stream_ended(&mut client).await,
                Err(_) => {
                    say!(
                        "invocation {} timed out after {:.2} s while streaming; the response is cut off",
                        self.request_id(),
                        self.timeout.as_secs_f64()
                    );
                    cut_off(&mut client, "the function timed out").await;
                    break ReportStatus::Timeout;
                }
            }
        };
        self.finish(status);
    }

    async fn stream_ended(&self, client: &mut Option<ClientSender>) -> ReportStatus {
        let Some(InvocationResult::Streamed(streamed)) = self.handle.try_result() else {
            return ReportStatus::Success;
        };
        if streamed.failed() {
            say!(
                "invocation {}: the streamed response ended with an error ({}): {}; the response is cut off",
                self.request_id(),
                streamed.error_type.as_deref().unwrap_or_default(),
                stream_error(&streamed)
            );
            cut_off(client, "the function's streamed response failed").await;
            ReportStatus::Error
        } else if !streamed.completed {
            say!(
                "invocation {}: the runtime's streamed response broke off; the response is cut off",
                self.request_id()
            );
            cut_off(client, "the function's streamed response broke off").await;
            ReportStatus::Error
        } else {
            ReportStatus::Success
        }
    }
}

/// Sends a chunk to the client; a client that went away stops getting chunks (the stream is
/// still followed to its end).
async fn forward(client: &mut Option<ClientSender>, chunk: Bytes) {
    if chunk.is_empty() {
        return;
    }
    if let Some(sender) = client {
        if sender.send(Ok(Frame::data(chunk))).await.is_err() {
            *client = None;
        }
    }
}

/// Ends the client's response with an error, so the server aborts it instead of finishing it.
async fn cut_off(client: &mut Option<ClientSender>, reason: &str) {
    if let Some(sender) = client.take() {
        let _ = sender.send(Err(reason.to_owned().into())).await;
    }
}

/// A response body fed from a channel by the relay task.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_paths() {
        assert!(is_invoke_path("/2015-03-31/functions/function/invocations"));
        assert!(is_invoke_path("/2015-03-31/functions/my-fn/invocations"));
        assert!(!is_invoke_path("/2015-03-31/functions//invocations"));
        assert!(!is_invoke_path("/2015-03-31/functions/a/b/invocations"));
        assert!(!is_invoke_path("/functions/function/invocations"));
    }

    #[test]
    fn stream_errors_decode_the_body_trailer() {
        let body = base64::engine::general_purpose::STANDARD
            .encode(r#"{"errorType":"Adapter.AppResponse","errorMessage":"reset"}"#);
        let streamed = StreamedResponse {
            headers: Default::default(),
            prelude: Value::Null,
            body: Bytes::new(),
            chunks: Vec::new(),
            error_type: Some("Adapter.AppResponse".into()),
            error_body: Some(body),
            trailers: None,
            completed: true,
        };
        assert_eq!(stream_error(&streamed)["errorMessage"], "reset");
        let garbled = StreamedResponse {
            error_body: Some("%%%".into()),
            ..streamed
        };
        assert_eq!(stream_error(&garbled)["errorType"], "Adapter.AppResponse");
    }

    #[test]
    fn raw_results() {
        let (reply, status) = raw_reply(&InvocationResult::Error {
            error_type: "Function.X".into(),
            body: json!({"errorType": "Function.X", "errorMessage": "no"}),
            headers: Default::default(),
        });
        assert_eq!(status, ReportStatus::Error);
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["x-amz-function-error"], "Unhandled");

        let (reply, status) = raw_reply(&InvocationResult::Response {
            body: Bytes::from_static(b"[1,2]"),
            headers: Default::default(),
        });
        assert_eq!(status, ReportStatus::Success);
        assert_eq!(reply.body, "[1,2]");
        assert!(reply.headers.get("x-amz-function-error").is_none());

        let (reply, _) = raw_reply(&InvocationResult::Rejected {
            status: 413,
            error_type: "RequestEntityTooLarge".into(),
            received: 7,
        });
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["errorType"], "Function.ResponseSizeTooLarge");
    }
}
