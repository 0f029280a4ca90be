//! A fake Lambda control plane: the Runtime API and the Extensions API served over plain HTTP/1.1
//! on loopback, driven and observed from Rust.
//!
//! It is what a Lambda runtime or external extension talks to at `AWS_LAMBDA_RUNTIME_API`. Tests
//! and the local emulator program (`lambda-emulator`) queue invocations with
//! [`ControlPlane::invoke`] and read how each one ended through its [`InvocationHandle`];
//! registrations, error reports and the number of concurrent `next` calls are recorded and can be
//! waited for. Every wait takes a timeout.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use lambda_emulator::control_plane::ControlPlane;
//!
//! let cp = ControlPlane::start().await?;
//! // Start the runtime with AWS_LAMBDA_RUNTIME_API = cp.addr().to_string(), then:
//! let invocation = cp.invoke(r#"{"hello":"world"}"#);
//! let result = invocation.result(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

mod extensions_api;
mod model;
mod runtime_api;
mod state;
mod wire;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use hyper::body::Incoming;
use serde_json::json;

pub use model::{
    epoch_ms_in, Chunk, ErrorOrigin, FunctionConfig, InvocationResult, InvokeOptions, Registration,
    ReportedError, StreamedResponse, Timeout, UnexpectedResult, DEFAULT_INVOCATION_TIMEOUT,
    MAX_BUFFERED_RESPONSE_BYTES, PRELUDE_DELIMITER,
};

use crate::ids::uuid_like;
use crate::server::{BoxError, HttpServer};
use state::{Invocation, NextReply, Phase, Shared};
use wire::{not_found, Reply};

const EXTENSION_PREFIX: &str = "/2020-01-01/extension";
const RUNTIME_PREFIX: &str = "/2018-06-01/runtime";

/// Where the control plane listens and which function it pretends to run.
#[derive(Debug, Clone)]
pub struct ControlPlaneConfig {
    /// Default `127.0.0.1:0` (an ephemeral loopback port).
    pub bind: SocketAddr,
    pub function: FunctionConfig,
    /// SnapStart: hold `restore/next` until [`ControlPlane::restore`] (the snapshot being taken),
    /// instead of answering it at once. Default `false`.
    pub hold_restore: bool,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        ControlPlaneConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            function: FunctionConfig::default(),
            hold_restore: false,
        }
    }
}

/// A running control plane. Clones share it; it stops (closing every connection, which ends any
/// blocked `next`) when the last clone is dropped.
#[derive(Clone)]
pub struct ControlPlane {
    shared: Arc<Shared>,
    server: Arc<HttpServer>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Starts on an ephemeral 127.0.0.1 port with the default function.
    pub async fn start() -> io::Result<ControlPlane> {
        Self::start_with(ControlPlaneConfig::default()).await
    }

    pub async fn start_with(config: ControlPlaneConfig) -> io::Result<ControlPlane> {
        let shared = Arc::new(Shared::new(config.function));
        shared.update(|state| state.restored = !config.hold_restore);
        let handler_state = shared.clone();
        let server = HttpServer::bind(config.bind, move |request| {
            let shared = handler_state.clone();
            async move { Ok::<_, BoxError>(route(shared, request).await) }
        })
        .await?;
        Ok(ControlPlane {
            shared,
            server: Arc::new(server),
        })
    }

    /// The listening address; `addr().to_string()` is the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn function(&self) -> &FunctionConfig {
        &self.shared.function
    }

    /// Queues an invocation with default options (fresh request id, deadline in 30 s, the
    /// function's ARN).
    pub fn invoke(&self, event: impl Into<Bytes>) -> InvocationHandle {
        self.invoke_with(event, InvokeOptions::default())
    }

    /// Queues an invocation; it is handed to the next `invocation/next` call, and to every
    /// extension subscribed to `INVOKE`.
    pub fn invoke_with(&self, event: impl Into<Bytes>, options: InvokeOptions) -> InvocationHandle {
        let request_id = options.request_id.clone().unwrap_or_else(uuid_like);
        let invoked_function_arn = options
            .invoked_function_arn
            .clone()
            .unwrap_or_else(|| self.shared.function.function_arn());
        let next_headers = next_headers(&request_id, &invoked_function_arn, &options);
        let invocation = Invocation {
            request_id: request_id.clone(),
            event: event.into(),
            next_headers,
            deadline_ms: options.deadline_ms,
            invoked_function_arn,
            trace_id: options.trace_id.clone(),
            reject_response: options.reject_response,
            phase: Phase::Queued,
            forgotten: false,
            delivered_at: None,
            chunks: Vec::new(),
            result: None,
        };
        let key = self.shared.update(|state| {
            // The key is what a runtime puts in the `response` URL; an empty or duplicate id
            // still needs its own slot, under a key no runtime can know.
            let key = if request_id.is_empty() || state.invocations.contains_key(&request_id) {
                format!("unaddressable-{}", uuid_like())
            } else {
                request_id.clone()
            };
            let invoke_event = json!({
                "eventType": "INVOKE",
                "deadlineMs": invocation.deadline_ms,
                "requestId": invocation.request_id,
                "invokedFunctionArn": invocation.invoked_function_arn,
                "tracing": {
                    "type": "X-Amzn-Trace-Id",
                    "value": invocation.trace_id.clone().unwrap_or_default(),
                },
            });
            for extension in &mut state.extensions {
                if extension.registration.subscribes_to("INVOKE") {
                    extension.pending_events.push_back(invoke_event.clone());
                }
            }
            state.invocations.insert(key.clone(), invocation);
            state
                .runtime_queue
                .push_back(NextReply::Invocation { key: key.clone() });
            key
        });
        InvocationHandle {
            shared: self.shared.clone(),
            key,
            request_id,
        }
    }

    /// Makes the next `invocation/next` call answer `status` with `body` instead of an invocation
    /// (queued in order with invocations).
    pub fn inject_next_failure(&self, status: u16, body: impl Into<Bytes>) {
        let body = body.into();
        self.shared.update(|state| {
            state
                .runtime_queue
                .push_back(NextReply::Failure { status, body })
        });
    }

    /// Starts the shutdown phase: extensions subscribed to `SHUTDOWN` get the event on their
    /// `event/next` (reason e.g. `spindown`, `timeout`, `failure`).
    pub fn shutdown(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.shared
            .update(|state| state.shutdown_reason = Some(reason));
    }

    /// All registrations so far, in order.
    pub fn registrations(&self) -> Vec<Registration> {
        self.shared.read(|state| {
            state
                .extensions
                .iter()
                .map(|extension| extension.registration.clone())
                .collect()
        })
    }

    /// The first registration, once there is one.
    pub async fn wait_registered(&self, timeout: Duration) -> Option<Registration> {
        self.shared
            .wait_for(timeout, |state| {
                state
                    .extensions
                    .first()
                    .map(|extension| extension.registration.clone())
            })
            .await
    }

    /// The first extension that has called `event/next`, once one has.
    pub async fn wait_parked(&self, timeout: Duration) -> Option<Registration> {
        self.shared
            .wait_for(timeout, |state| {
                state
                    .extensions
                    .iter()
                    .find(|extension| extension.next_calls > 0)
                    .map(|extension| extension.registration.clone())
            })
            .await
    }

    /// Waits until the extension with this id is blocked in `event/next`.
    pub async fn wait_extension_parked(&self, extension_id: &str, timeout: Duration) -> bool {
        self.shared
            .wait_for(timeout, |state| {
                state
                    .extensions
                    .iter()
                    .any(|extension| extension.registration.id == extension_id && extension.parked)
                    .then_some(())
            })
            .await
            .is_some()
    }

    /// Whether the extension with this id is blocked in `event/next` right now.
    pub fn is_parked(&self, extension_id: &str) -> bool {
        self.shared.read(|state| {
            state
                .extensions
                .iter()
                .any(|extension| extension.registration.id == extension_id && extension.parked)
        })
    }

    /// Every init/exit error reported so far, in order.
    pub fn reported_errors(&self) -> Vec<ReportedError> {
        self.shared.read(|state| state.reported_errors.clone())
    }

    /// The first init error (extension `init/error` or runtime `init/error`; see
    /// [`ReportedError::origin`]).
    pub async fn wait_init_error(&self, timeout: Duration) -> Option<ReportedError> {
        self.wait_reported(timeout, ErrorOrigin::is_init).await
    }

    /// The first extension `exit/error`.
    pub async fn wait_exit_error(&self, timeout: Duration) -> Option<ReportedError> {
        self.wait_reported(timeout, |origin| origin == ErrorOrigin::ExtensionExit)
            .await
    }

    /// The first runtime `restore/error` (SnapStart).
    pub async fn wait_restore_error(&self, timeout: Duration) -> Option<ReportedError> {
        self.wait_reported(timeout, |origin| origin == ErrorOrigin::RuntimeRestore)
            .await
    }

    /// SnapStart: waits until the runtime calls `restore/next`, the moment Lambda takes the
    /// snapshot. `false` after `timeout`.
    pub async fn wait_restore_requested(&self, timeout: Duration) -> bool {
        self.shared
            .wait_for(timeout, |state| (state.restore_calls > 0).then_some(()))
            .await
            .is_some()
    }

    /// SnapStart: `restore/next` calls so far.
    pub fn restore_calls(&self) -> u64 {
        self.shared.read(|state| state.restore_calls)
    }

    /// SnapStart: "restores" the snapshot: held `restore/next` calls are answered, and later ones
    /// at once.
    pub fn restore(&self) {
        self.shared.update(|state| state.restored = true);
    }

    async fn wait_reported(
        &self,
        timeout: Duration,
        wanted: impl Fn(ErrorOrigin) -> bool,
    ) -> Option<ReportedError> {
        self.shared
            .wait_for(timeout, |state| {
                state
                    .reported_errors
                    .iter()
                    .find(|error| wanted(error.origin))
                    .cloned()
            })
            .await
    }

    /// `invocation/next` calls blocked right now.
    pub fn next_calls_outstanding(&self) -> usize {
        self.shared.read(|state| state.next_outstanding)
    }

    /// The most `invocation/next` calls ever outstanding at once.
    pub fn max_next_outstanding(&self) -> usize {
        self.shared.read(|state| state.next_outstanding_max)
    }

    /// `invocation/next` calls received in total.
    pub fn next_calls_total(&self) -> u64 {
        self.shared.read(|state| state.next_calls_total)
    }

    /// Waits until at least `n` `invocation/next` calls are outstanding at once.
    pub async fn wait_next_outstanding(&self, n: usize, timeout: Duration) -> bool {
        self.shared
            .wait_for(timeout, |state| (state.next_outstanding >= n).then_some(()))
            .await
            .is_some()
    }

    /// A handle on an invocation queued earlier, by its request id.
    pub fn invocation(&self, request_id: &str) -> Option<InvocationHandle> {
        self.shared.read(|state| {
            state
                .invocations
                .contains_key(request_id)
                .then(|| InvocationHandle {
                    shared: self.shared.clone(),
                    key: request_id.to_owned(),
                    request_id: request_id.to_owned(),
                })
        })
    }
}

fn next_headers(
    request_id: &str,
    invoked_function_arn: &str,
    options: &InvokeOptions,
) -> Vec<(&'static str, HeaderValue)> {
    use runtime_api::*;
    let deadline = options.deadline_ms.map(|ms| ms.to_string());
    let candidates = [
        (REQUEST_ID_HEADER, Some(request_id)),
        (DEADLINE_HEADER, deadline.as_deref()),
        (FUNCTION_ARN_HEADER, Some(invoked_function_arn)),
        (TRACE_ID_HEADER, options.trace_id.as_deref()),
        (CLIENT_CONTEXT_HEADER, options.client_context.as_deref()),
        (COGNITO_IDENTITY_HEADER, options.cognito_identity.as_deref()),
        (TENANT_ID_HEADER, options.tenant_id.as_deref()),
    ];
    candidates
        .into_iter()
        .filter_map(|(name, value)| {
            let value = value.filter(|value| !value.is_empty())?;
            // A value no header can carry is left out rather than failing the invocation.
            HeaderValue::from_str(value).ok().map(|value| (name, value))
        })
        .collect()
}

async fn route(shared: Arc<Shared>, request: Request<Incoming>) -> Reply {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if let Some(endpoint) = path.strip_prefix(EXTENSION_PREFIX) {
        return match (method, endpoint) {
            (Method::POST, "/register") => extensions_api::register(&shared, request).await,
            (Method::GET, "/event/next") => extensions_api::next_event(shared, request).await,
            (Method::POST, "/init/error") => {
                extensions_api::report_error(&shared, ErrorOrigin::ExtensionInit, request).await
            }
            (Method::POST, "/exit/error") => {
                extensions_api::report_error(&shared, ErrorOrigin::ExtensionExit, request).await
            }
            _ => not_found(),
        };
    }
    if let Some(endpoint) = path.strip_prefix(RUNTIME_PREFIX) {
        return match (method, endpoint) {
            (Method::GET, "/invocation/next") => runtime_api::next_invocation(shared).await,
            (Method::GET, "/restore/next") => runtime_api::restore_next(shared).await,
            (Method::POST, "/init/error") => {
                runtime_api::post_init_error(&shared, ErrorOrigin::RuntimeInit, request).await
            }
            (Method::POST, "/restore/error") => {
                runtime_api::post_init_error(&shared, ErrorOrigin::RuntimeRestore, request).await
            }
            (Method::POST, endpoint) => match parse_invocation_endpoint(endpoint) {
                Some((key, InvocationEndpoint::Response)) => {
                    runtime_api::post_response(&shared, key, request).await
                }
                Some((key, InvocationEndpoint::Error)) => {
                    runtime_api::post_error(&shared, key, request).await
                }
                None => not_found(),
            },
            _ => not_found(),
        };
    }
    not_found()
}

enum InvocationEndpoint {
    Response,
    Error,
}

/// `/invocation/{id}/response` or `/invocation/{id}/error`.
fn parse_invocation_endpoint(endpoint: &str) -> Option<(&str, InvocationEndpoint)> {
    let rest = endpoint.strip_prefix("/invocation/")?;
    let (id, action) = rest.rsplit_once('/')?;
    match action {
        "response" => Some((id, InvocationEndpoint::Response)),
        "error" => Some((id, InvocationEndpoint::Error)),
        _ => None,
    }
}

/// One queued invocation, as seen by the test that queued it.
#[derive(Clone)]
pub struct InvocationHandle {
    shared: Arc<Shared>,
    key: String,
    request_id: String,
}

impl std::fmt::Debug for InvocationHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvocationHandle")
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl InvocationHandle {
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// How the invocation ended, once it has.
    pub async fn result(&self, timeout: Duration) -> Result<InvocationResult, Timeout> {
        self.shared
            .wait_for(timeout, |state| {
                state
                    .invocations
                    .get(&self.key)
                    .and_then(|invocation| invocation.result.clone())
            })
            .await
            .ok_or_else(|| {
                Timeout::new(
                    format!("the result of invocation {}", self.request_id),
                    timeout,
                )
            })
    }

    /// The result if the invocation has already ended.
    pub fn try_result(&self) -> Option<InvocationResult> {
        self.shared.read(|state| {
            state
                .invocations
                .get(&self.key)
                .and_then(|invocation| invocation.result.clone())
        })
    }

    /// When a `next` call picked the invocation up, once one has.
    pub async fn wait_delivered(&self, timeout: Duration) -> Result<Instant, Timeout> {
        self.shared
            .wait_for(timeout, |state| {
                state
                    .invocations
                    .get(&self.key)
                    .and_then(|invocation| invocation.delivered_at)
            })
            .await
            .ok_or_else(|| {
                Timeout::new(
                    format!("a runtime to pick up invocation {}", self.request_id),
                    timeout,
                )
            })
    }

    /// The caller is done with this invocation: its record (event, chunks, result) is dropped now
    /// if it has ended, else as soon as it ends. A late answer is still accepted with `202`, so
    /// the runtime sees nothing unusual; only the record is gone (for long local runs, where
    /// keeping every invocation would grow without bound).
    pub fn forget(&self) {
        self.shared.update(|state| {
            let ended = match state.invocations.get_mut(&self.key) {
                Some(invocation) if invocation.phase == Phase::Done => true,
                Some(invocation) => {
                    invocation.forgotten = true;
                    false
                }
                None => false,
            };
            if ended {
                state.invocations.remove(&self.key);
            }
        });
    }

    /// A live view of the streamed response chunks, from the first one on (earlier chunks are
    /// not missed by subscribing late).
    pub fn chunks(&self) -> ChunkReceiver {
        ChunkReceiver {
            handle: self.clone(),
            next_index: 0,
        }
    }
}

/// Streamed chunks of one invocation, in arrival order; see [`InvocationHandle::chunks`].
#[derive(Debug)]
pub struct ChunkReceiver {
    handle: InvocationHandle,
    next_index: usize,
}

impl ChunkReceiver {
    /// The next chunk with its arrival time; `Ok(None)` once the invocation has ended and every
    /// chunk has been received.
    pub async fn recv(&mut self, timeout: Duration) -> Result<Option<Chunk>, Timeout> {
        let index = self.next_index;
        let key = &self.handle.key;
        let next = self
            .handle
            .shared
            .wait_for(timeout, |state| {
                let invocation = state.invocations.get(key)?;
                match invocation.chunks.get(index) {
                    Some(chunk) => Some(Some(chunk.clone())),
                    None if invocation.phase == Phase::Done => Some(None),
                    None => None,
                }
            })
            .await
            .ok_or_else(|| {
                Timeout::new(
                    format!("chunk #{index} of invocation {}", self.handle.request_id),
                    timeout,
                )
            })?;
        if next.is_some() {
            self.next_index += 1;
        }
        Ok(next)
    }
}
