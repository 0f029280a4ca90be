//! The front door's I/O (SPEC PKG-6, EMU-1 … EMU-3): each HTTP request becomes one invocation in
//! the function's current [`Environment`], and the invocation's end becomes the HTTP response,
//! an access line and a REPORT line.
//!
//! - A request waits for the environment's init (EMU-1: at most until `--init-timeout` has
//!   passed; a failed or unfinished init is a `502` quoting why), then for one of `concurrency`
//!   slots; the function's timeout starts when the slot is taken, and becomes the invocation's
//!   deadline. Past it the client gets a `504` (or, mid-stream, a cut-off body).
//! - A process of the environment that exits during the invocation (EMU-2) is a `502` with
//!   `Runtime.ExitError`; so is the adapter's own `502` for an app that went away, once the app
//!   is seen to have exited. The next request gets a fresh environment.
//! - A streamed result is relayed as it arrives: status and headers from the prelude, then every
//!   chunk as soon as the control plane has it. A stream that ends with error trailers (or
//!   breaks) ends the client's response abruptly, and the error is logged.
//! - `POST /2015-03-31/functions/{name}/invocations` is Lambda's Invoke API: the body is the
//!   event, the result is the body of a `200`; a function error adds
//!   `X-Amz-Function-Error: Unhandled`.
//! - EMU-3: the REPORT's status is true: an answer the adapter made up in the app's place (its
//!   log says `answering 502`) is an error, with the adapter's error type.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::report::{AccessLine, Delivery, Report, ReportStatus};
use super::request::{to_event, Front, IncomingRequest};
use super::response::{
    from_result, function_error, prelude_head, timed_out, timeout_error, HttpReply, PreludeScanner,
    MAX_PRELUDE_BYTES,
};
use super::EventSource;
use crate::clock::epoch_ms_now;
use crate::control_plane::{
    epoch_ms_in, ChunkReceiver, InvocationHandle, InvocationResult, InvokeOptions,
    StreamedResponse, MAX_BUFFERED_RESPONSE_BYTES,
};
use crate::environment::{Environment, Function, StartUp, Unusable};
use crate::ids::uuid_like;
use crate::inspector::{self, Inspector};
use crate::output;
use crate::samples;
use crate::server::{BoxError, ChannelBody, HttpServer, PeerAddr, ResponseBody};

/// Lambda's limit for a synchronous invocation's request payload.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// Streamed chunks buffered for a slow client before the relay waits for it.
const RELAY_BUFFER_CHUNKS: usize = 64;
/// The header that carries Lambda's request id on every front-door response.
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
/// How long to wait for the adapter's log line about an answer of its own: it is written before
/// the answer is posted, but read from a pipe.
const ADAPTER_LINE_WAIT: Duration = Duration::from_millis(150);
/// How long after the adapter's "the app did not answer" the app may take to be seen exiting,
/// for the answer to count as a crash (EMU-2): long when the app is already seen dying, short
/// when it still runs (an app that merely dropped a connection pays this much).
const CRASH_GRACE: Duration = Duration::from_millis(500);
const CRASH_GRACE_WHILE_RUNNING: Duration = Duration::from_millis(40);
/// How long after an invocation the inspector still takes lines for it: an app's own log line
/// about a request often comes just after its answer.
const LOG_GRACE: Duration = Duration::from_millis(150);

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
    /// `Memory Size` on the REPORT line (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub memory_size_mb: u32,
}

/// The running front door; dropping it stops the server.
#[derive(Debug)]
pub struct FrontDoor {
    server: HttpServer,
}

impl FrontDoor {
    /// Serves on `addr`, invoking `function`.
    pub async fn bind(
        addr: SocketAddr,
        config: FrontDoorConfig,
        function: Arc<Function>,
        inspector: Option<Arc<Inspector>>,
    ) -> io::Result<FrontDoor> {
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            config,
            function,
            permits,
            port,
            inspector,
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
    function: Arc<Function>,
    permits: Arc<Semaphore>,
    /// The port clients reach the front door on (`x-forwarded-port`).
    port: u16,
    inspector: Option<Arc<Inspector>>,
}

/// An invocation's entry in the inspector.
type Entry = Option<(Arc<Inspector>, u64)>;

/// `/2015-03-31/functions/{name}/invocations`, Lambda's Invoke API (any function name).
fn is_invoke_path(path: &str) -> bool {
    path.strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// What a client asked for, as the access line shows it.
#[derive(Debug, Clone)]
pub struct Call {
    pub client: IpAddr,
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// The front door's source, or `raw:<kind>` for the Invoke API.
    pub source: String,
    /// The event as sent to the function.
    pub event: Bytes,
    /// The Invoke API (answers in its shape), not an HTTP request.
    pub raw: bool,
    pub arrived: Instant,
    pub time_epoch_ms: u64,
}

impl Shared {
    async fn handle(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        let peer = request
            .extensions()
            .get::<PeerAddr>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |peer| peer.0.ip());
        let arrived = Instant::now();
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
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |target| target.as_str().to_owned());
        if raw_invoke {
            // Lambda's Invoke without a payload sends `{}`.
            let event = if body.iter().all(u8::is_ascii_whitespace) {
                Bytes::from_static(b"{}")
            } else {
                body
            };
            let kind = serde_json::from_slice::<Value>(&event)
                .map_or("event", |event| samples::kind_of(&event));
            let call = Call {
                client: peer,
                method: parts.method.to_string(),
                target,
                source: format!("raw:{kind}"),
                event,
                raw: true,
                arrived,
                time_epoch_ms: epoch_ms_now(),
            };
            self.invoke(call, None).await
        } else {
            let request = IncomingRequest::from_parts(
                &parts,
                body,
                peer,
                self.port,
                uuid_like(),
                epoch_ms_now(),
            );
            let event = to_event(self.config.source, &request, &self.config.front);
            let call = Call {
                client: peer,
                method: parts.method.to_string(),
                target,
                source: self.config.source.to_string(),
                event: Bytes::from(event.to_string()),
                raw: false,
                arrived,
                time_epoch_ms: request.time_epoch_ms,
            };
            self.invoke(call, Some(request.trace_id)).await
        }
    }

    /// Invokes the function with the call's event, once a slot is free and the environment is
    /// ready, and answers.
    async fn invoke(&self, call: Call, trace_id: Option<String>) -> Response<ResponseBody> {
        let entry = self.inspector.as_ref().map(|inspector| {
            let id = inspector.started(inspected(&call));
            (inspector.clone(), id)
        });
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return self.not_invoked(call, unavailable(), entry);
        };
        let environment = match self.function.environment().await {
            Ok(environment) => environment,
            Err(unusable) => return self.not_invoked(call, unusable, entry),
        };
        if let Err(unusable) = environment.usable().await {
            return self.not_invoked(call, unusable, entry);
        }
        let started = Instant::now();
        let options = InvokeOptions {
            deadline_ms: Some(epoch_ms_in(self.config.timeout)),
            trace_id: trace_id.map(|root| format!("{root};Sampled=0")),
            ..InvokeOptions::default()
        };
        let handle = environment
            .control_plane()
            .invoke_with(call.event.clone(), options);
        let invocation = Invocation {
            handle,
            environment,
            call,
            source: self.config.source,
            memory_size_mb: self.config.memory_size_mb,
            started,
            deadline: started + self.config.timeout,
            timeout: self.config.timeout,
            permit: Some(permit),
            answered: OnceLock::new(),
            entry,
            ended: false,
        };
        if invocation.call.raw {
            invocation.raw().await
        } else {
            invocation.http().await
        }
    }

    /// EMU-1: the environment cannot serve (its init failed or has not finished in time, a
    /// process exited): a `502` (or the Invoke API's error) saying why, and the access line.
    fn not_invoked(&self, call: Call, unusable: Unusable, entry: Entry) -> Response<ResponseBody> {
        let request_id = uuid_like();
        let document = json!({
            "errorType": unusable.error_type,
            "errorMessage": unusable.message,
        });
        let reply = if call.raw {
            unhandled(&document)
        } else {
            HttpReply::json(StatusCode::BAD_GATEWAY, &document)
        };
        AccessLine {
            client: call.client,
            method: call.method.clone(),
            target: call.target.clone(),
            status: reply.status.as_u16(),
            source: call.source.clone(),
            delivery: Delivery::NotInvoked,
            duration: call.arrived.elapsed(),
            request_id: request_id.clone(),
        }
        .print();
        if let Some((inspector, id)) = entry {
            inspector.finished(
                id,
                inspector::Finished {
                    request_id: request_id.clone(),
                    environment: None,
                    status: reply.status.as_u16(),
                    delivery: Delivery::NotInvoked.as_str(),
                    report_status: None,
                    error_type: Some(unusable.error_type.clone()),
                    duration_ms: None,
                    start_up: None,
                    report_line: None,
                    response: json!({
                        "kind": "not-invoked",
                        "errorType": unusable.error_type,
                        "message": unusable.message,
                    }),
                },
            );
            tokio::spawn(inspect_logs(
                inspector,
                id,
                call.arrived,
                request_id.clone(),
            ));
        }
        let mut response = reply.into_response();
        if let Ok(id) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
        response
    }
}

/// The call as the inspector lists it: an HTTP event sent to the Invoke API by its own method
/// and path, any other event by its kind.
fn inspected(call: &Call) -> inspector::Started {
    let (method, target) = if call.raw {
        serde_json::from_slice::<Value>(&call.event)
            .ok()
            .and_then(|event| samples::http_target(&event))
            .unwrap_or_else(|| {
                (
                    "EVENT".to_owned(),
                    call.source.trim_start_matches("raw:").to_owned(),
                )
            })
    } else {
        (call.method.clone(), call.target.clone())
    };
    inspector::Started {
        client: call.client.to_string(),
        method,
        target,
        source: call.source.clone(),
        event: call.event.clone(),
        time_epoch_ms: call.time_epoch_ms,
        arrived: call.arrived,
    }
}

/// Gives the inspector the lines printed while the call ran, once late ones had their chance,
/// leaving out those that name another invocation (its access and REPORT lines, the adapter's
/// lines about it).
async fn inspect_logs(inspector: Arc<Inspector>, id: u64, arrived: Instant, request_id: String) {
    tokio::time::sleep(LOG_GRACE).await;
    let mut lines = output::lines_between(arrived, Instant::now(), inspector::LOG_LINES);
    lines.retain(|line| !names_another_invocation(&line.text, &request_id));
    inspector.logs(id, &lines, arrived);
}

/// Whether a log line names an invocation (`RequestId: <id>`, `request_id="<id>"`) other than
/// `request_id`.
fn names_another_invocation(line: &str, request_id: &str) -> bool {
    ["RequestId: ", "request_id=\"", "\"request_id\":\""]
        .iter()
        .filter_map(|marker| line.split_once(marker))
        .any(|(_, rest)| !rest.starts_with(request_id))
}

fn unavailable() -> Unusable {
    Unusable {
        error_type: "Emulator.NoSlot".to_owned(),
        message: "no invocation slot is available".to_owned(),
    }
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
    environment: Arc<Environment>,
    call: Call,
    source: EventSource,
    memory_size_mb: u32,
    started: Instant,
    deadline: Instant,
    timeout: Duration,
    permit: Option<OwnedSemaphorePermit>,
    /// When the function's answer was complete: the end of the REPORT's Duration.
    answered: OnceLock<Instant>,
    entry: Entry,
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
            environment: self.environment.clone(),
            call: self.call.clone(),
            source: self.source,
            memory_size_mb: self.memory_size_mb,
            started: self.started,
            deadline: self.deadline,
            timeout: self.timeout,
            permit: self.permit.take(),
            answered: self.answered.clone(),
            entry: self.entry.take(),
            // A follower dropped unfinished (the runtime shutting down) must not spawn another.
            ended: true,
        };
        runtime.spawn(async move {
            let outcome = match follower.result().await {
                Ended::Result(result) => Outcome {
                    status: 0,
                    delivery: Delivery::Buffered,
                    report: status_of(&result),
                    error_type: error_type_of(&result),
                    view: None,
                },
                Ended::TimedOut => Outcome::timed_out(0, follower.timeout),
                Ended::Crashed(unusable) => Outcome::crashed(0, &unusable),
            };
            follower.finish(outcome);
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

/// The error type a result names, for the REPORT line.
fn error_type_of(result: &InvocationResult) -> Option<String> {
    match result {
        InvocationResult::Error { error_type, .. } => Some(error_type.clone()),
        InvocationResult::Streamed(streamed) => streamed.error_type.clone(),
        InvocationResult::Rejected { .. } => Some(
            rejection_error(result)["errorType"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        InvocationResult::Response { .. } => None,
    }
    .filter(|error_type| !error_type.is_empty())
}

/// What happened next to an invocation.
enum Step {
    /// A streamed chunk.
    Chunk(Bytes),
    /// The invocation has ended (and every chunk was received).
    End,
    TimedOut,
    /// Its environment ended first (EMU-2).
    Crashed(Unusable),
}

/// How an invocation ended, for the caller of [`Invocation::result`].
enum Ended {
    Result(Box<InvocationResult>),
    TimedOut,
    Crashed(Unusable),
}

/// What the access and REPORT lines say about an invocation.
#[derive(Debug, Clone)]
struct Outcome {
    /// The status the client got; 0 when it went away first.
    status: u16,
    delivery: Delivery,
    report: ReportStatus,
    error_type: Option<String>,
    /// What the inspector shows as the response, when not the function's result.
    view: Option<Value>,
}

impl Outcome {
    fn buffered(status: u16, report: ReportStatus, error_type: Option<String>) -> Outcome {
        Outcome {
            status,
            delivery: Delivery::Buffered,
            report,
            error_type,
            view: None,
        }
    }

    fn timed_out(status: u16, timeout: Duration) -> Outcome {
        Outcome {
            status,
            delivery: Delivery::Buffered,
            report: ReportStatus::Timeout,
            error_type: None,
            view: Some(json!({
                "kind": "timeout",
                "errorType": "Sandbox.Timedout",
                "message": format!("the function did not answer within its timeout ({:.2} s)", timeout.as_secs_f64()),
            })),
        }
    }

    fn crashed(status: u16, unusable: &Unusable) -> Outcome {
        Outcome {
            status,
            delivery: Delivery::Buffered,
            report: ReportStatus::Error,
            error_type: Some(unusable.error_type.clone()),
            view: Some(json!({
                "kind": "crashed",
                "errorType": unusable.error_type,
                "message": unusable.message,
            })),
        }
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

    /// The next chunk, the end, the deadline, or the environment's end, whichever comes first.
    async fn next(&self, chunks: &mut ChunkReceiver) -> Step {
        tokio::select! {
            biased;
            chunk = chunks.recv(self.remaining()) => match chunk {
                Ok(Some((_, chunk))) => Step::Chunk(chunk),
                Ok(None) => {
                    let _ = self.answered.set(Instant::now());
                    Step::End
                }
                Err(_) => Step::TimedOut,
            },
            unusable = self.environment.wait_ended() => Step::Crashed(unusable),
        }
    }

    /// The whole result, the deadline, or the environment's end, whichever comes first.
    async fn result(&self) -> Ended {
        tokio::select! {
            biased;
            result = self.handle.result(self.remaining()) => match result {
                Ok(result) => {
                    let _ = self.answered.set(Instant::now());
                    Ended::Result(Box::new(result))
                }
                Err(_) => Ended::TimedOut,
            },
            unusable = self.environment.wait_ended() => Ended::Crashed(unusable),
        }
    }

    /// EMU-2: the adapter answered 502 because the app went away; if the app is seen exiting
    /// just after, the environment crashed, and that is what the client is told.
    async fn crashed_instead(&self, status: u16) -> Option<Unusable> {
        if status != StatusCode::BAD_GATEWAY.as_u16() {
            return None;
        }
        if let Some(unusable) = self.environment.ended() {
            return Some(unusable);
        }
        let answer = self
            .environment
            .adapter()
            .answer(self.request_id(), ADAPTER_LINE_WAIT)
            .await?;
        if !answer.app_went_away() {
            return None;
        }
        let grace = if self.environment.app_seems_alive() {
            CRASH_GRACE_WHILE_RUNNING
        } else {
            CRASH_GRACE
        };
        tokio::time::timeout(grace, self.environment.wait_ended())
            .await
            .ok()
    }

    /// Prints the access and REPORT lines (in the background: the adapter's line about an
    /// answer of its own may still be on its way) and lets the control plane drop the record.
    fn finish(mut self, outcome: Outcome) {
        self.ended = true;
        drop(self.permit.take());
        let duration = self.answered.get().map_or_else(
            || self.started.elapsed(),
            |answered| *answered - self.started,
        );
        let handle = self.handle.clone();
        let environment = self.environment.clone();
        let call = self.call.clone();
        let memory_size_mb = self.memory_size_mb;
        let entry = self.entry.take();
        tokio::spawn(async move {
            let mut outcome = outcome;
            let adapters_own = matches!(outcome.status, 502 | 504) || outcome.status == 0;
            if outcome.report == ReportStatus::Success && adapters_own {
                if let Some(answer) = environment
                    .adapter()
                    .answer(handle.request_id(), ADAPTER_LINE_WAIT)
                    .await
                {
                    outcome.report = ReportStatus::Error;
                    outcome.error_type = Some(answer.error_type);
                }
            }
            let access = AccessLine {
                client: call.client,
                method: call.method.clone(),
                target: call.target.clone(),
                status: outcome.status,
                source: call.source.clone(),
                delivery: outcome.delivery,
                duration: call.arrived.elapsed(),
                request_id: handle.request_id().to_owned(),
            };
            let report = Report {
                request_id: handle.request_id().to_owned(),
                duration,
                memory_size_mb,
                max_memory_used_mb: environment.max_memory_used_mb(),
                start_up: environment.take_start_up(),
                status: outcome.report,
                error_type: outcome.error_type.clone(),
            };
            // Recorded before it is printed, so that whoever reads the lines finds the record.
            if let Some((inspector, id)) = &entry {
                let response = outcome
                    .view
                    .clone()
                    .or_else(|| {
                        handle
                            .try_result()
                            .map(|result| inspector::response_view(&result))
                    })
                    .unwrap_or(Value::Null);
                inspector.finished(
                    *id,
                    inspector::Finished {
                        request_id: handle.request_id().to_owned(),
                        environment: Some(environment.number()),
                        status: outcome.status,
                        delivery: outcome.delivery.as_str(),
                        report_status: Some(outcome.report.as_str()),
                        error_type: outcome.error_type,
                        duration_ms: Some(duration.as_secs_f64() * 1000.0),
                        start_up: report.start_up.map(|start_up| match start_up {
                            StartUp::Init(init) => ("init", init.as_secs_f64() * 1000.0),
                            StartUp::Restore(restore) => {
                                ("restore", restore.as_secs_f64() * 1000.0)
                            }
                        }),
                        report_line: Some(report.to_string()),
                        response,
                    },
                );
            }
            handle.forget();
            access.print();
            report.print();
            if let Some((inspector, id)) = entry {
                inspect_logs(inspector, id, call.arrived, handle.request_id().to_owned()).await;
            }
        });
    }

    fn with_request_id(&self, mut response: Response<ResponseBody>) -> Response<ResponseBody> {
        if let Ok(id) = HeaderValue::from_str(self.request_id()) {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
        response
    }

    /// An error document as the client gets it: a `status` response with the JSON, or, from the
    /// Invoke API, a `200` marked `X-Amz-Function-Error: Unhandled`.
    fn error_reply(&self, status: StatusCode, document: &Value) -> HttpReply {
        if self.call.raw {
            unhandled(document)
        } else {
            HttpReply::json(status, document)
        }
    }

    fn timed_out(self) -> Response<ResponseBody> {
        let reply = if self.call.raw {
            unhandled(&timeout_error(
                self.request_id(),
                self.timeout.as_secs_f64(),
            ))
        } else {
            timed_out(self.request_id(), self.timeout.as_secs_f64())
        };
        let status = reply.status.as_u16();
        let response = self.with_request_id(reply.into_response());
        let timeout = self.timeout;
        self.finish(Outcome::timed_out(status, timeout));
        response
    }

    /// EMU-2: a process of the environment exited during the invocation.
    fn crashed(self, unusable: Unusable) -> Response<ResponseBody> {
        let document = json!({
            "errorType": unusable.error_type,
            "errorMessage": format!("RequestId: {} Error: {}", self.request_id(), unusable.message),
        });
        let reply = self.error_reply(StatusCode::BAD_GATEWAY, &document);
        let status = reply.status.as_u16();
        let response = self.with_request_id(reply.into_response());
        self.finish(Outcome::crashed(status, &unusable));
        response
    }

    /// An HTTP request's invocation: buffered, or relayed as it streams.
    async fn http(self) -> Response<ResponseBody> {
        let mut chunks = self.handle.chunks();
        match self.next(&mut chunks).await {
            Step::TimedOut => self.timed_out(),
            Step::Crashed(unusable) => self.crashed(unusable),
            Step::End => self.buffered().await,
            Step::Chunk(first) => self.stream(chunks, first).await,
        }
    }

    /// The Invoke API's invocation: the result as it is.
    async fn raw(self) -> Response<ResponseBody> {
        let result = match self.result().await {
            Ended::TimedOut => return self.timed_out(),
            Ended::Crashed(unusable) => return self.crashed(unusable),
            Ended::Result(result) => *result,
        };
        let http_status = match &result {
            InvocationResult::Response { body, .. } => serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|document| document.get("statusCode").and_then(Value::as_u64))
                .and_then(|status| u16::try_from(status).ok()),
            _ => None,
        };
        if let Some(unusable) = match http_status {
            Some(status) => self.crashed_instead(status).await,
            None => None,
        } {
            return self.crashed(unusable);
        }
        let (reply, report) = raw_reply(&result);
        let mut response = self.with_request_id(reply.into_response());
        response.headers_mut().insert(
            "x-amz-executed-version",
            HeaderValue::from_static("$LATEST"),
        );
        // An HTTP event's answer counts by its own status (the adapter's 502/504 are errors).
        let status = http_status.unwrap_or(200);
        self.finish(Outcome::buffered(status, report, error_type_of(&result)));
        response
    }

    /// The response for an invocation that ended without streaming a single chunk.
    async fn buffered(self) -> Response<ResponseBody> {
        let Some(result) = self.handle.try_result() else {
            say!("invocation {} ended without a result", self.request_id());
            let reply = HttpReply::json(
                StatusCode::BAD_GATEWAY,
                &json!({"message": "Internal Server Error"}),
            );
            let response = self.with_request_id(reply.into_response());
            self.finish(Outcome::buffered(502, ReportStatus::Error, None));
            return response;
        };
        let (reply, report) = match &result {
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
        if report == ReportStatus::Success {
            if let Some(unusable) = self.crashed_instead(reply.status.as_u16()).await {
                return self.crashed(unusable);
            }
        }
        let status = reply.status.as_u16();
        let response = self.with_request_id(reply.into_response());
        self.finish(Outcome::buffered(status, report, error_type_of(&result)));
        response
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
            match self.next(&mut chunks).await {
                Step::Chunk(chunk) => scanned = scanner.push(&chunk),
                Step::End => return self.buffered().await,
                Step::TimedOut => return self.timed_out(),
                Step::Crashed(unusable) => return self.crashed(unusable),
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
        if let Some(unusable) = self.crashed_instead(status.as_u16()).await {
            return self.crashed(unusable);
        }
        let (sender, receiver) = mpsc::channel(RELAY_BUFFER_CHUNKS);
        let mut response = Response::new(ChannelBody::new(receiver).boxed());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        let response = self.with_request_id(response);
        tokio::spawn(self.relay(chunks, rest, Some(sender), status.as_u16()));
        response
    }

    /// Answers `502` now, and follows the stream to its end in the background for the REPORT.
    fn abandon(self, chunks: ChunkReceiver) -> Response<ResponseBody> {
        let reply = HttpReply::json(
            StatusCode::BAD_GATEWAY,
            &json!({"message": "Internal Server Error"}),
        );
        let response = self.with_request_id(reply.into_response());
        tokio::spawn(self.relay(chunks, Bytes::new(), None, 502));
        response
    }

    /// Forwards every chunk to the client as it arrives; at the end, checks how the stream
    /// ended, cuts the client's response off if it failed, and reports.
    async fn relay(
        self,
        mut chunks: ChunkReceiver,
        rest: Bytes,
        mut client: Option<ClientSender>,
        status: u16,
    ) {
        let streamed = client.is_some();
        forward(&mut client, rest).await;
        let (report, error_type) = loop {
            match self.next(&mut chunks).await {
                Step::Chunk(chunk) => forward(&mut client, chunk).await,
                Step::End => break self.stream_ended(&mut client).await,
                Step::TimedOut => {
                    say!(
                        "invocation {} timed out after {:.2} s while streaming; the response is cut off",
                        self.request_id(),
                        self.timeout.as_secs_f64()
                    );
                    cut_off(&mut client, "the function timed out").await;
                    break (ReportStatus::Timeout, None);
                }
                Step::Crashed(unusable) => {
                    say!(
                        "invocation {}: {unusable} while streaming; the response is cut off",
                        self.request_id()
                    );
                    cut_off(&mut client, "the function's environment ended").await;
                    break (ReportStatus::Error, Some(unusable.error_type));
                }
            }
        };
        let delivery = if streamed {
            Delivery::Streamed
        } else {
            Delivery::Buffered
        };
        self.finish(Outcome {
            status,
            delivery,
            report,
            error_type,
            view: None,
        });
    }

    async fn stream_ended(
        &self,
        client: &mut Option<ClientSender>,
    ) -> (ReportStatus, Option<String>) {
        let Some(InvocationResult::Streamed(streamed)) = self.handle.try_result() else {
            return (ReportStatus::Success, None);
        };
        if streamed.failed() {
            say!(
                "invocation {}: the streamed response ended with an error ({}): {}; the response is cut off",
                self.request_id(),
                streamed.error_type.as_deref().unwrap_or_default(),
                stream_error(&streamed)
            );
            cut_off(client, "the function's streamed response failed").await;
            (ReportStatus::Error, streamed.error_type.clone())
        } else if !streamed.completed {
            say!(
                "invocation {}: the runtime's streamed response broke off; the response is cut off",
                self.request_id()
            );
            cut_off(client, "the function's streamed response broke off").await;
            (ReportStatus::Error, None)
        } else {
            (ReportStatus::Success, None)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emu5_lines_of_other_invocations_are_told_apart() {
        let mine = "8f5e1a2b-0000-4000-8000-000000000001";
        for other in [
            "REPORT RequestId: 11111111-0000-4000-8000-000000000002\tDuration: 1.00 ms",
            "127.0.0.1 \"GET /\" 200 function-url buffered 1.00 ms RequestId: 22222222",
            "ERROR Adapter.AppTimeout: late; answering 504 request_id=\"33333333\"",
            r#"{"level":"ERROR","message":"x","request_id":"44444444"}"#,
        ] {
            assert!(names_another_invocation(other, mine), "{other}");
        }
        for own_or_none in [
            format!("REPORT RequestId: {mine}\tDuration: 1.00 ms"),
            format!("ERROR x request_id=\"{mine}\""),
            "an app's own line".to_owned(),
        ] {
            assert!(
                !names_another_invocation(&own_or_none, mine),
                "{own_or_none}"
            );
        }
    }

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
