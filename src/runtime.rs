//! The invocation loop: Runtime API `next` → event → [`crate::Adapter`] → Lambda response
//! (SPEC LIF-4 … LIF-6, STR-1 … STR-4, ERR-1 … ERR-3, RSP-7).
//!
//! `AWS_LAMBDA_MAX_CONCURRENCY` workers each take an invocation, turn its event into a request
//! ([`crate::event`]), call the adapter service (behind compression when configured), shape the
//! answer for the event's source ([`crate::response`]) and post it: a buffered JSON document, or
//! in streaming mode a prelude followed by the app's body as it arrives. Each invocation runs in
//! its own task, so a bug that panics fails that invocation, never the worker. When the app
//! cannot answer properly, an HTTP client gets a small response of the adapter's own (502, 504).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use lambda_http::{Context, Request};
use lambda_runtime::Config;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::{Service, ServiceExt};

use crate::error::{AdapterError, ErrorKind};
use crate::event::{self, EventSource};
use crate::readiness::describe;
use crate::response;
use crate::runtime_api::{ApiError, Invocation, RuntimeApi};

/// Lambda's limit for a buffered response payload.
pub(crate) const MAX_BUFFERED_RESPONSE: usize = 6 * 1024 * 1024;
/// How often a failing Runtime API call is tried before the adapter gives up (LIF-6).
const API_ATTEMPTS: u32 = 5;
/// The wait after the first failed attempt; it doubles with each further one.
const API_RETRY_DELAY: Duration = Duration::from_millis(50);
/// ERR-2: the time kept back from the invocation's deadline to post a 504 before Lambda ends it.
pub(crate) const DEADLINE_MARGIN: Duration = Duration::from_millis(100);
/// LIF-5: how long in-flight invocations may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// The service the loop drives: the adapter, maybe behind compression.
pub(crate) trait AppService<B>:
    Service<Request, Response = http::Response<B>, Error = crate::Error, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S, B> AppService<B> for S where
    S: Service<Request, Response = http::Response<B>, Error = crate::Error, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// The body of the app's response as the loop reads it.
pub(crate) trait AppBody:
    http_body::Body<Data = Bytes, Error: Into<crate::Error>> + Send + 'static
{
}

impl<B> AppBody for B where
    B: http_body::Body<Data = Bytes, Error: Into<crate::Error>> + Send + 'static
{
}

/// Where the loop runs and how wide.
#[derive(Clone, Debug)]
pub(crate) struct LoopSettings {
    /// `host:port` of the Runtime API (the proxy's when one is configured, CFG-14).
    pub(crate) runtime_api: String,
    /// Invocations served at once (LIF-4).
    pub(crate) concurrency: usize,
    /// The function's configuration, as the Lambda context carries it (LIF-7 defaults).
    pub(crate) function: Arc<Config>,
    /// Under SnapStart the loop first waits for the restore (`restore/next`).
    pub(crate) snap_start: bool,
}

impl LoopSettings {
    /// Reads the settings from `lookup`, a function from a variable's name to its value.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let runtime_api = match get("AWS_LWA_LAMBDA_RUNTIME_API_PROXY") {
            Some(proxy) => {
                crate::config::check_address(&proxy).map_err(|reason| {
                    format!("AWS_LWA_LAMBDA_RUNTIME_API_PROXY={proxy:?} {reason}")
                })?;
                tracing::info!("the invocation loop uses the Runtime API proxy at {proxy}");
                proxy
            }
            None => get("AWS_LAMBDA_RUNTIME_API").unwrap_or_else(|| "127.0.0.1:9001".to_string()),
        };
        let concurrency = match get("AWS_LAMBDA_MAX_CONCURRENCY") {
            None => 1,
            Some(value) => value.parse::<usize>().map(|n| n.max(1)).unwrap_or_else(|_| {
                tracing::warn!(
                    "AWS_LAMBDA_MAX_CONCURRENCY={value:?} is not a number: serving one invocation at a time"
                );
                1
            }),
        };
        let function = Config {
            function_name: get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| "lambda-adapter".to_string()),
            memory: get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .and_then(|m| m.parse().ok())
                .unwrap_or(128),
            version: get("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_else(|| "$LATEST".to_string()),
            log_stream: get("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default(),
            log_group: get("AWS_LAMBDA_LOG_GROUP_NAME").unwrap_or_default(),
        };
        Ok(LoopSettings {
            runtime_api,
            concurrency,
            function: Arc::new(function),
            snap_start: get("AWS_LAMBDA_INITIALIZATION_TYPE").as_deref() == Some("snap-start"),
        })
    }
}

/// What one invocation comes to.
pub(crate) enum Outcome {
    /// A JSON payload for a buffered response.
    Buffered(Bytes),
    /// A streamed response: its JSON prelude, then the app's body.
    Streamed {
        prelude: Bytes,
        body: UnsyncBoxBody<Bytes, crate::Error>,
        /// The response's extensions, kept until the body has been delivered: they return the
        /// app's connection to the pool once it is free.
        extensions: http::Extensions,
    },
    /// The invocation failed.
    Failed(AdapterError),
}

/// The app's answer, as far as it has been read.
enum Reply {
    Buffered(Bytes),
    Streamed(UnsyncBoxBody<Bytes, crate::Error>),
}

/// Handles invocations with the service `S`.
#[derive(Clone)]
pub(crate) struct EventHandler<S> {
    service: S,
    streaming: bool,
}

impl<S> EventHandler<S> {
    pub(crate) fn new(service: S, streaming: bool) -> Self {
        EventHandler { service, streaming }
    }

    async fn handle<B: AppBody>(
        self,
        request_id: &str,
        invocation: Invocation,
        function: Arc<Config>,
        timer: &mut DeadlineTimer,
    ) -> Outcome
    where
        S: AppService<B>,
    {
        match self
            .try_handle(request_id, invocation, function, timer)
            .await
        {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::error!(request_id, "{err}");
                Outcome::Failed(err)
            }
        }
    }

    async fn try_handle<B: AppBody>(
        self,
        request_id: &str,
        invocation: Invocation,
        function: Arc<Config>,
        timer: &mut DeadlineTimer,
    ) -> Result<Outcome, AdapterError>
    where
        S: AppService<B>,
    {
        let context = lambda_context(request_id, &invocation.headers, function)?;
        let deadline = app_deadline(context.deadline, SystemTime::now());
        let (source, mut request) = event::parse(invocation.event)?;
        request.extensions_mut().insert(context);
        // STR-4: a pass-through event's result is JSON, never a stream.
        let streaming = self.streaming && source != EventSource::PassThrough;

        let exchange = async {
            let response = self
                .service
                .oneshot(request)
                .await
                .map_err(AdapterError::from_boxed)?;
            let (parts, body) = response.into_parts();
            if streaming {
                return Ok((
                    parts,
                    Reply::Streamed(body.map_err(Into::into).boxed_unsync()),
                ));
            }
            let body = crate::body::read_all(body).await.map_err(|err| {
                let err: crate::Error = err.into();
                AdapterError::new(
                    ErrorKind::AppResponse,
                    format!(
                        "reading the app's response body failed: {}",
                        describe(err.as_ref())
                    ),
                )
            })?;
            Ok((parts, Reply::Buffered(body)))
        };
        let exchanged = match deadline {
            Some((at, bound)) => timer.bound(at, exchange).await.unwrap_or_else(|| {
                Err(AdapterError::new(
                    ErrorKind::AppTimeout,
                    format!(
                        "the app did not answer within {} ms, the time left before the invocation's deadline",
                        bound.as_millis()
                    ),
                ))
            }),
            None => exchange.await,
        };

        match exchanged {
            Ok((parts, Reply::Streamed(body))) => Ok(Outcome::Streamed {
                prelude: response::stream_prelude(parts.status, &parts.headers),
                body,
                extensions: parts.extensions,
            }),
            Ok((parts, Reply::Buffered(body))) => {
                let payload = response::to_lambda(source, parts.status, &parts.headers, body);
                if payload.len() <= MAX_BUFFERED_RESPONSE {
                    return Ok(Outcome::Buffered(payload));
                }
                let error = AdapterError::new(
                    ErrorKind::ResponseTooLarge,
                    format!(
                        "the app's response is {} bytes as a Lambda payload, over the {MAX_BUFFERED_RESPONSE}-byte \
                         limit of buffered responses; send less, or use AWS_LWA_INVOKE_MODE=response_stream with a \
                         Function URL",
                        payload.len()
                    ),
                );
                substitute(source, false, error, request_id)
            }
            Err(error) => substitute(source, streaming, error, request_id),
        }
    }
}

/// ERR-1, ERR-2, RSP-7: when the app could not answer properly, an HTTP client gets a small,
/// clear response of the adapter's own; other events keep the error, so their source can retry.
fn substitute(
    source: EventSource,
    streaming: bool,
    error: AdapterError,
    request_id: &str,
) -> Result<Outcome, AdapterError> {
    let (status, text) = match error.kind() {
        ErrorKind::AppUnreachable | ErrorKind::AppResponse => (
            StatusCode::BAD_GATEWAY,
            "Bad Gateway: the web app did not give a complete answer (see the function's logs)\n",
        ),
        ErrorKind::AppTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "Gateway Timeout: the web app did not answer before the Lambda deadline\n",
        ),
        ErrorKind::ResponseTooLarge => (
            StatusCode::BAD_GATEWAY,
            "Bad Gateway: the web app's response is larger than Lambda's 6 MB limit (see the function's logs)\n",
        ),
        _ => return Err(error),
    };
    if source == EventSource::PassThrough {
        return Err(error);
    }
    tracing::error!(request_id, "{error}; answering {status}");
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let body = Bytes::from_static(text.as_bytes());
    if streaming {
        return Ok(Outcome::Streamed {
            prelude: response::stream_prelude(status, &headers),
            body: Full::new(body)
                .map_err(|never| match never {})
                .boxed_unsync(),
            extensions: http::Extensions::new(),
        });
    }
    Ok(Outcome::Buffered(response::to_lambda(
        source, status, &headers, body,
    )))
}

/// A worker's ERR-2 timer, re-armed for each invocation rather than created anew.
///
/// Deadlines of successive invocations only move later, and tokio moves a timer later without
/// touching its driver; a new timer earlier than any other wakes the driver (an `eventfd` write and
/// one more `epoll_wait`) on every invocation. A timer left armed past its deadline while the worker
/// waits for `next` at worst wakes the worker once, for nothing.
#[derive(Default)]
struct DeadlineTimer(Option<Pin<Box<tokio::time::Sleep>>>);

impl DeadlineTimer {
    /// `work`'s output, or `None` when `at` comes first.
    async fn bound<F: Future>(&mut self, at: tokio::time::Instant, work: F) -> Option<F::Output> {
        let timer = match &mut self.0 {
            Some(timer) => {
                timer.as_mut().reset(at);
                timer
            }
            None => self.0.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        tokio::select! {
            biased;
            output = work => Some(output),
            () = timer.as_mut() => None,
        }
    }
}

/// ERR-2: when the app's answer is due (the deadline less a margin to post it), with the time
/// that leaves. `None` for a deadline that is absent (0) or already past (clock skew, tests).
fn app_deadline(deadline_ms: u64, now: SystemTime) -> Option<(tokio::time::Instant, Duration)> {
    if deadline_ms == 0 {
        return None;
    }
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(now)
        .ok()
        .filter(|left| !left.is_zero())?;
    let bound = if left > DEADLINE_MARGIN * 2 {
        left - DEADLINE_MARGIN
    } else {
        left / 2
    };
    Some((tokio::time::Instant::now() + bound, bound))
}

/// The Lambda context of an invocation, from the `next` headers: the fields `Context::new` reads,
/// found in one pass over the headers (it looks each name up as a string, seven times), and an
/// absent deadline read as 0, "none", where `Context::new` would panic.
fn lambda_context(
    request_id: &str,
    headers: &HeaderMap,
    function: Arc<Config>,
) -> Result<Context, AdapterError> {
    let [mut deadline, mut arn, mut trace, mut tenant, mut client, mut identity] = [None; 6];
    for (name, value) in headers {
        let slot = match name.as_str() {
            "lambda-runtime-deadline-ms" => &mut deadline,
            "lambda-runtime-invoked-function-arn" => &mut arn,
            "lambda-runtime-trace-id" => &mut trace,
            "lambda-runtime-aws-tenant-id" => &mut tenant,
            "lambda-runtime-client-context" => &mut client,
            "lambda-runtime-cognito-identity" => &mut identity,
            _ => continue,
        };
        // The first of repeated values, as `HeaderMap::get` gives it.
        slot.get_or_insert((name, value));
    }
    let lossy = |(_, value): Found<'_>| String::from_utf8_lossy(value.as_bytes()).into_owned();

    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = match deadline {
        Some(found) => header_text(found)?
            .parse()
            .map_err(|e| invalid_header(found.0, e))?,
        None => 0,
    };
    context.invoked_function_arn = match arn {
        Some(found) => header_text(found)?.to_owned(),
        None => "No header lambda-runtime-invoked-function-arn found.".to_owned(),
    };
    context.xray_trace_id = trace.map(lossy);
    context.tenant_id = tenant.map(lossy);
    context.client_context = header_json(client)?;
    context.identity = header_json(identity)?;
    context.env_config = function;
    Ok(context)
}

/// A header of the `next` answer, found by [`lambda_context`].
type Found<'h> = (&'h HeaderName, &'h HeaderValue);

fn header_text((name, value): Found<'_>) -> Result<&str, AdapterError> {
    value
        .to_str()
        .map_err(|_| invalid_header(name, "not visible ASCII"))
}

/// A header holding JSON; empty is none.
fn header_json<T: serde::de::DeserializeOwned>(
    found: Option<Found<'_>>,
) -> Result<Option<T>, AdapterError> {
    let Some(found) = found else {
        return Ok(None);
    };
    match header_text(found)? {
        "" => Ok(None),
        raw => serde_json::from_str(raw)
            .map(Some)
            .map_err(|e| invalid_header(found.0, e)),
    }
}

fn invalid_header(name: &HeaderName, problem: impl std::fmt::Display) -> AdapterError {
    AdapterError::invalid_event(format!(
        "invalid invocation headers from the Runtime API: {name}: {problem}"
    ))
}

/// Runs the loop until a worker meets a Runtime API failure that does not go away, or the process
/// is asked to stop (LIF-5: then the invocations in flight may finish).
pub(crate) async fn run<S, B>(
    handler: EventHandler<S>,
    settings: LoopSettings,
) -> Result<(), crate::Error>
where
    S: AppService<B>,
    B: AppBody,
{
    let api = RuntimeApi::new(&settings.runtime_api)?;
    if settings.snap_start {
        // The snapshot is taken while this call waits; it returns in the restored environment.
        retry("restore/next", || api.restore_next()).await?;
    }
    let (stop, stopped) = watch::channel(false);
    let mut workers = JoinSet::new();
    for _ in 0..settings.concurrency {
        workers.spawn(worker(
            api.for_worker(),
            handler.clone(),
            settings.function.clone(),
            stopped.clone(),
        ));
    }
    tokio::select! {
        finished = workers.join_next() => return match finished {
            Some(Ok(Err(err))) => Err(err),
            Some(Err(join_error)) => Err(format!("an invocation worker stopped: {join_error}").into()),
            Some(Ok(Ok(()))) | None => Ok(()),
        },
        () = crate::termination_signal() => {}
    }
    tracing::info!("stopping: no new invocations, finishing the ones in flight");
    let _ = stop.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "invocations still in flight after {} ms are abandoned",
            SHUTDOWN_GRACE.as_millis()
        );
    }
    Ok(())
}

async fn worker<S, B>(
    api: RuntimeApi,
    handler: EventHandler<S>,
    function: Arc<Config>,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), crate::Error>
where
    S: AppService<B>,
    B: AppBody,
{
    let mut timer = DeadlineTimer::default();
    loop {
        let mut invocation = tokio::select! {
            biased;
            _ = stopped.wait_for(|stopped| *stopped) => return Ok(()),
            next = retry("next", || api.next()) => next?,
        };
        // No tracing span per invocation: it costs more than the rest of the adapter's own work on
        // a small request; the lines that concern an invocation carry its request id instead.
        let request_id = std::mem::take(&mut invocation.request_id);
        let handling =
            handler
                .clone()
                .handle(&request_id, invocation, function.clone(), &mut timer);
        let outcome = CatchPanic(Box::pin(handling))
            .await
            .unwrap_or_else(|panic| {
                let error = AdapterError::new(
                    ErrorKind::Internal,
                    format!("the adapter failed while handling this invocation: {panic}"),
                );
                tracing::error!(request_id, "{error}");
                Outcome::Failed(error)
            });
        deliver(&api, &request_id, outcome).await?;
    }
}

/// ERR-3: runs an invocation's future on the worker's own task (no hand-over to another thread),
/// turning a panic into an error that fails only that invocation.
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|m| m.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_string());
                Poll::Ready(Err(format!("panicked: {message}")))
            }
        }
    }
}

/// Posts an invocation's outcome. A refusal that concerns only this invocation is logged; a
/// Runtime API that keeps failing ends the loop.
async fn deliver(api: &RuntimeApi, request_id: &str, outcome: Outcome) -> Result<(), crate::Error> {
    let delivered = match outcome {
        Outcome::Buffered(payload) => {
            retry("response", || api.respond(request_id, payload.clone())).await
        }
        Outcome::Streamed {
            prelude,
            body,
            extensions: _until_delivered,
        } => api.respond_streaming(request_id, prelude, body).await,
        Outcome::Failed(error) => retry("error", || api.fail(request_id, &error)).await,
    };
    match delivered {
        Ok(()) => Ok(()),
        Err(err) if err.is_too_large() => {
            let error = AdapterError::new(
                ErrorKind::ResponseTooLarge,
                format!("the Runtime API refused the response: {err}"),
            );
            tracing::error!(request_id, "{error}");
            Ok(retry("error", || api.fail(request_id, &error)).await?)
        }
        Err(err) if !err.is_transient() => {
            tracing::error!(
                request_id,
                "the Runtime API refused the result of this invocation: {err}"
            );
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}

/// LIF-6: a call that fails for want of an answer, a server error or a missing request id is
/// tried again a few times, then given up with one line saying why.
async fn retry<T, F, Fut>(call: &'static str, mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut delay = API_RETRY_DELAY;
    let mut attempts = 1;
    loop {
        let err = match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if !err.is_transient() {
            return Err(err);
        }
        if attempts >= API_ATTEMPTS {
            // Not logged here: the caller ends the loop and says why, once.
            return Err(ApiError::GaveUp {
                call,
                attempts,
                last: Box::new(err),
            });
        }
        tracing::warn!(
            "the Runtime API's {call} failed (attempt {attempts} of {API_ATTEMPTS}): {err}"
        );
        tokio::time::sleep(delay).await;
        delay *= 2;
        attempts += 1;
    }
}

impl From<ApiError> for crate::Error {
    fn from(err: ApiError) -> crate::Error {
        match err {
            ApiError::GaveUp { .. } => err.to_string().into(),
            other => format!("the Runtime API {other}").into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_keeps_a_margin_and_ignores_absent_or_past_deadlines() {
        // covers ERR-2
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ms = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        };
        let (_, bound) = app_deadline(ms(now + Duration::from_secs(3)), now).unwrap();
        assert_eq!(bound, Duration::from_secs(3) - DEADLINE_MARGIN);
        let (_, bound) = app_deadline(ms(now + Duration::from_millis(100)), now).unwrap();
        assert_eq!(bound, Duration::from_millis(50));
        assert!(app_deadline(0, now).is_none());
        assert!(app_deadline(ms(now - Duration::from_secs(1)), now).is_none());
        assert!(app_deadline(ms(now), now).is_none());
    }

    #[test]
    fn lambda_context_reads_the_headers_as_lambda_runtime_does() {
        // covers EVT-4 (the Lambda context the app gets)
        let function = Arc::new(Config {
            function_name: "f".into(),
            memory: 128,
            version: "$LATEST".into(),
            log_stream: "s".into(),
            log_group: "g".into(),
        });
        let headers = |pairs: &[(&str, &[u8])]| {
            let mut map = HeaderMap::new();
            map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            map.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from_static("1700000000000"),
            );
            for (name, value) in pairs {
                let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
                map.append(name, HeaderValue::from_bytes(value).unwrap());
            }
            map
        };
        let arn = (
            "lambda-runtime-invoked-function-arn",
            &b"arn:aws:lambda:eu-west-1:1:function:f"[..],
        );
        let same = [
            headers(&[]),
            headers(&[arn, ("lambda-runtime-trace-id", b"Root=1-a-b;Sampled=1")]),
            headers(&[
                arn,
                ("lambda-runtime-trace-id", b"first"),
                ("lambda-runtime-trace-id", b"second"),
                ("lambda-runtime-aws-tenant-id", b"tenant-\xe9"),
                (
                    "lambda-runtime-client-context",
                    br#"{"client":{"installationId":"i","appTitle":"t","appVersionName":"n","appVersionCode":"c","appPackageName":"p"},"custom":{"k":"v"},"environment":{}}"#,
                ),
                (
                    "lambda-runtime-cognito-identity",
                    br#"{"identity_id":"id","identity_pool_id":"pool"}"#,
                ),
            ]),
            headers(&[("lambda-runtime-client-context", b""), ("lambda-runtime-cognito-identity", b"")]),
        ];
        for headers in &same {
            let ours = lambda_context("req-1", headers, function.clone()).unwrap();
            let theirs = Context::new("req-1", function.clone(), headers).unwrap();
            assert_eq!(ours, theirs, "{headers:?}");
        }
        let mut bad_deadline = headers(&[]);
        bad_deadline.insert(
            "lambda-runtime-deadline-ms",
            HeaderValue::from_static("soon"),
        );
        let refused = [
            bad_deadline,
            headers(&[("lambda-runtime-client-context", b"{not json")]),
            headers(&[("lambda-runtime-cognito-identity", b"[]")]),
            headers(&[("lambda-runtime-invoked-function-arn", b"arn-\xff")]),
        ];
        for headers in &refused {
            assert!(
                lambda_context("req-1", headers, function.clone()).is_err(),
                "{headers:?}"
            );
            assert!(
                Context::new("req-1", function.clone(), headers).is_err(),
                "{headers:?}"
            );
        }
        let mut no_deadline = headers(&[arn]);
        no_deadline.remove("lambda-runtime-deadline-ms");
        let context = lambda_context("req-2", &no_deadline, function.clone()).unwrap();
        assert_eq!(
            (context.deadline, context.request_id.as_str()),
            (0, "req-2")
        );
    }

    #[tokio::test]
    async fn a_panic_fails_only_its_future() {
        // covers ERR-3
        let failed = CatchPanic(Box::pin(async { panic!("boom") })).await;
        assert_eq!(failed.err().as_deref(), Some("panicked: boom"));
        let fine = CatchPanic(Box::pin(async { 7 })).await;
        assert_eq!(fine, Ok(7));
    }

    #[test]
    fn loop_settings_from_the_environment() {
        // covers CFG-14, CFG-15, LIF-4, LIF-7
        let settings = LoopSettings::from_lookup(|_| None).unwrap();
        assert_eq!(settings.runtime_api, "127.0.0.1:9001");
        assert_eq!(settings.concurrency, 1);
        assert_eq!(settings.function.function_name, "lambda-adapter");
        assert_eq!(settings.function.memory, 128);
        assert_eq!(settings.function.version, "$LATEST");
        let settings = LoopSettings::from_lookup(|name| match name {
            "AWS_LAMBDA_RUNTIME_API" => Some("10.0.0.1:9001".into()),
            "AWS_LWA_LAMBDA_RUNTIME_API_PROXY" => Some("127.0.0.1:9009".into()),
            "AWS_LAMBDA_MAX_CONCURRENCY" => Some("8".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(settings.runtime_api, "127.0.0.1:9009");
        assert_eq!(settings.concurrency, 8);
        assert!(LoopSettings::from_lookup(
            |name| (name == "AWS_LWA_LAMBDA_RUNTIME_API_PROXY").then(|| "x y".into())
        )
        .is_err());
    }
}
