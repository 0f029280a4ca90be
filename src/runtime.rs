//! The invocation loop: Runtime API `next` → event → [`crate::Adapter`] → Lambda response
//! (SPEC LIF-4, LIF-6, STR-1 … STR-4, RSP-7).
//!
//! `AWS_LAMBDA_MAX_CONCURRENCY` workers each take an invocation, turn its event into a request
//! ([`crate::event`]), call the adapter service (behind compression when configured), shape the
//! answer for the event's source ([`crate::response`]) and post it: a buffered JSON document, or
//! in streaming mode a prelude followed by the app's body as it arrives. Each invocation runs in
//! its own task, so a bug that panics fails that invocation, never the worker.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use lambda_http::{Context, Request};
use lambda_runtime::Config;
use tokio::task::JoinSet;
use tower::{Service, ServiceExt};
use tracing::Instrument;

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
            Some(value) => match value.parse::<usize>() {
                Ok(n) => n.max(1),
                Err(_) => {
                    tracing::warn!("AWS_LAMBDA_MAX_CONCURRENCY={value:?} is not a number: serving one invocation at a time");
                    1
                }
            },
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
    },
    /// The invocation failed.
    Failed(AdapterError),
}

/// Handles invocations with the service `S` (the adapter, maybe behind compression).
#[derive(Clone)]
pub(crate) struct EventHandler<S> {
    service: S,
    streaming: bool,
}

impl<S, B> EventHandler<S>
where
    S: Service<Request, Response = http::Response<B>, Error = crate::Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<crate::Error>,
{
    pub(crate) fn new(service: S, streaming: bool) -> Self {
        EventHandler { service, streaming }
    }

    async fn handle(self, invocation: Invocation, function: Arc<Config>) -> Outcome {
        match self.try_handle(invocation, function).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::error!("{err}");
                Outcome::Failed(err)
            }
        }
    }

    async fn try_handle(
        self,
        invocation: Invocation,
        function: Arc<Config>,
    ) -> Result<Outcome, AdapterError> {
        let context = lambda_context(&invocation, function)?;
        let event = std::str::from_utf8(&invocation.event)
            .map_err(|_| AdapterError::invalid_event("the event is not UTF-8 JSON"))?;
        let (source, mut request) = event::parse(event)?;
        drop(invocation);
        request.extensions_mut().insert(context);

        let response = self
            .service
            .oneshot(request)
            .await
            .map_err(AdapterError::from_boxed)?;
        let (parts, body) = response.into_parts();

        // STR-4: a pass-through event's result is JSON, never a stream.
        if self.streaming && source != EventSource::PassThrough {
            return Ok(Outcome::Streamed {
                prelude: response::stream_prelude(parts.status, &parts.headers),
                body: body.map_err(Into::into).boxed_unsync(),
            });
        }

        let body = body.collect().await.map_err(|err| {
            let err: crate::Error = err.into();
            AdapterError::new(
                ErrorKind::AppResponse,
                format!(
                    "reading the app's response body failed: {}",
                    describe(err.as_ref())
                ),
            )
        })?;
        let payload =
            response::to_lambda(source, parts.status, &parts.headers, body.to_bytes()).to_json();
        if payload.len() > MAX_BUFFERED_RESPONSE {
            return too_large(source, payload.len());
        }
        Ok(Outcome::Buffered(payload))
    }
}

/// RSP-7: a response Lambda would refuse becomes a small, clear one.
fn too_large(source: EventSource, size: usize) -> Result<Outcome, AdapterError> {
    let message = format!(
        "the app's response is {size} bytes as a Lambda payload, over the {MAX_BUFFERED_RESPONSE}-byte limit of buffered responses; \
         send less, or use AWS_LWA_INVOKE_MODE=response_stream with a Function URL"
    );
    tracing::error!("{message}");
    if source == EventSource::PassThrough {
        return Err(AdapterError::new(ErrorKind::ResponseTooLarge, message));
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let payload = response::to_lambda(
        source,
        StatusCode::BAD_GATEWAY,
        &headers,
        Bytes::from(message),
    )
    .to_json();
    Ok(Outcome::Buffered(payload))
}

/// The Lambda context of an invocation, from the `next` headers.
fn lambda_context(invocation: &Invocation, function: Arc<Config>) -> Result<Context, AdapterError> {
    const DEADLINE: &str = "lambda-runtime-deadline-ms";
    let with_deadline;
    let headers = if invocation.headers.contains_key(DEADLINE) {
        &invocation.headers
    } else {
        // lambda_runtime's Context requires the header; an absent deadline is 0, "none".
        with_deadline = {
            let mut headers = invocation.headers.clone();
            headers.insert(DEADLINE, HeaderValue::from_static("0"));
            headers
        };
        &with_deadline
    };
    Context::new(&invocation.request_id, function, headers).map_err(|e| {
        AdapterError::invalid_event(format!(
            "invalid invocation headers from the Runtime API: {e}"
        ))
    })
}

/// Runs the loop until a worker meets a Runtime API failure that does not go away.
pub(crate) async fn run<S, B>(
    handler: EventHandler<S>,
    settings: LoopSettings,
) -> Result<(), crate::Error>
where
    S: Service<Request, Response = http::Response<B>, Error = crate::Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<crate::Error>,
{
    let api = RuntimeApi::new(&settings.runtime_api, settings.concurrency);
    if settings.snap_start {
        // The snapshot is taken while this call waits; it returns in the restored environment.
        retry("restore/next", || api.restore_next()).await?;
    }
    let mut workers = JoinSet::new();
    for _ in 0..settings.concurrency {
        workers.spawn(worker(
            api.clone(),
            handler.clone(),
            settings.function.clone(),
        ));
    }
    match workers.join_next().await {
        Some(Ok(Err(err))) => Err(err),
        Some(Err(join_error)) => Err(format!("an invocation worker stopped: {join_error}").into()),
        Some(Ok(Ok(()))) | None => Ok(()),
    }
}

async fn worker<S, B>(
    api: RuntimeApi,
    handler: EventHandler<S>,
    function: Arc<Config>,
) -> Result<(), crate::Error>
where
    S: Service<Request, Response = http::Response<B>, Error = crate::Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<crate::Error>,
{
    loop {
        let invocation = retry("next", || api.next()).await?;
        let request_id = invocation.request_id.clone();
        let span = tracing::info_span!("invoke", request_id = %request_id);
        let handling = handler
            .clone()
            .handle(invocation, function.clone())
            .instrument(span.clone());
        let outcome = tokio::spawn(handling).await.unwrap_or_else(|failure| {
            let error = AdapterError::new(
                ErrorKind::Internal,
                format!("the adapter failed while handling this invocation: {failure}"),
            );
            tracing::error!(parent: &span, "{error}");
            Outcome::Failed(error)
        });
        deliver(&api, &request_id, outcome).instrument(span).await?;
    }
}

/// Posts an invocation's outcome. A refusal that concerns only this invocation is logged; a
/// Runtime API that keeps failing ends the loop.
async fn deliver(api: &RuntimeApi, request_id: &str, outcome: Outcome) -> Result<(), crate::Error> {
    let delivered = match outcome {
        Outcome::Buffered(payload) => {
            retry("response", || api.respond(request_id, payload.clone())).await
        }
        Outcome::Streamed { prelude, body } => {
            api.respond_streaming(request_id, prelude, body).await
        }
        Outcome::Failed(error) => retry("error", || api.fail(request_id, &error)).await,
    };
    match delivered {
        Ok(()) => Ok(()),
        Err(err) if err.is_too_large() => {
            let error = AdapterError::new(
                ErrorKind::ResponseTooLarge,
                format!("the Runtime API refused the response: {err}"),
            );
            tracing::error!("{error}");
            retry("error", || api.fail(request_id, &error))
                .await
                .map_err(Into::into)
        }
        Err(err @ ApiError::Status { .. }) if !is_server_error(&err) => {
            tracing::error!("the Runtime API refused the result of this invocation: {err}");
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}

fn is_server_error(err: &ApiError) -> bool {
    matches!(err, ApiError::Status { status, .. } if status.is_server_error())
}

/// LIF-6: a call that fails for want of an answer, a server error or a missing request id is
/// tried again a few times, then given up with one line saying why.
async fn retry<T, F, Fut>(call: &str, mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut delay = API_RETRY_DELAY;
    for attempt_number in 1.. {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => {
                let transient = matches!(err, ApiError::Transport(_) | ApiError::MissingRequestId)
                    || is_server_error(&err);
                if !transient || attempt_number >= API_ATTEMPTS {
                    if transient {
                        tracing::error!("the Runtime API's {call} failed {API_ATTEMPTS} times, giving up: {err}");
                    }
                    return Err(err);
                }
                tracing::warn!("the Runtime API's {call} failed (attempt {attempt_number} of {API_ATTEMPTS}): {err}");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    unreachable!("the loop returns")
}

impl From<ApiError> for crate::Error {
    fn from(err: ApiError) -> crate::Error {
        format!("the Runtime API {err}").into()
    }
}
