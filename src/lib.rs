//! Run ordinary HTTP web apps on AWS Lambda.
//!
//! `lambda-adapter` is a Lambda external extension. It registers with the Extensions API, waits
//! until the web app in the same environment answers its readiness check, then turns every Lambda
//! event (API Gateway REST and HTTP API, ALB, Function URL) into an HTTP request to the app, and
//! the app's response back into the response Lambda expects. Other events (SQS, SNS, S3, …) are
//! posted to the app as JSON.
//!
//! The library keeps the public API of the published `lambda_web_adapter` crate:
//!
//! ```no_run
//! use lambda_web_adapter::{Adapter, AdapterOptions, Error};
//!
//! fn main() -> Result<(), Error> {
//!     Adapter::apply_runtime_proxy_config();
//!     let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//!     runtime.block_on(async {
//!         let options = AdapterOptions::default();
//!         let mut adapter = Adapter::new(&options)?;
//!         adapter.register_default_extension();
//!         adapter.check_init_health().await;
//!         adapter.run().await
//!     })
//! }
//! ```

mod body;
mod client;
mod config;
mod error;
mod event;
mod extension;
#[cfg(test)]
mod fuzz;
mod logging;
mod readiness;
mod request;
mod response;
mod runtime;
mod runtime_api;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderName;
use http::uri::{Authority, PathAndQuery};
use http::Response;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use lambda_http::{Body, Request};
use tower::{Service, ServiceBuilder};
use tower_http::compression::CompressionLayer;

pub use config::{AdapterOptions, LambdaInvokeMode, ParsedOptions, Protocol};
pub use error::{AdapterError, ErrorKind};
pub use extension::report_init_error;
pub use lambda_http::tracing;
pub use lambda_http::Error;
pub use logging::LogSettings;

use client::{AppClient, SendError};
use readiness::{describe, ReadinessCheck};
use request::{BasePath, ForwardRules};
use runtime::{EventHandler, LoopSettings};

/// RDY-4: async init stops waiting here, inside Lambda's 10 s init window.
const ASYNC_INIT_LIMIT: Duration = Duration::from_millis(9_800);

/// The adapter: a [`tower::Service`] that forwards a [`lambda_http::Request`] to the web app and
/// returns the app's response, plus the lifecycle around it (registration, readiness, the
/// Lambda runtime loop).
///
/// The type parameters are those of the published crate and only ever take their defaults;
/// they are kept so that code naming `Adapter<HttpConnector, Body>` compiles unchanged.
pub struct Adapter<C = HttpConnector, B = Body> {
    client: AppClient,
    settings: Arc<Settings>,
    ready: Arc<AtomicBool>,
    _published_type_parameters: PhantomData<fn() -> (C, B)>,
}

impl<C, B> Clone for Adapter<C, B> {
    fn clone(&self) -> Self {
        Adapter {
            client: self.client.clone(),
            settings: self.settings.clone(),
            ready: self.ready.clone(),
            _published_type_parameters: PhantomData,
        }
    }
}

/// Everything an adapter knows once its options are checked.
#[derive(Debug)]
struct Settings {
    readiness: ReadinessCheck,
    readiness_timeout: Option<Duration>,
    async_init: bool,
    rules: ForwardRules,
    compression: bool,
    invoke_mode: LambdaInvokeMode,
    error_status_codes: Option<Vec<u16>>,
}

fn invalid_option(message: String) -> Error {
    Box::new(AdapterError::new(ErrorKind::ConfigInvalid, message))
}

impl Adapter<HttpConnector, Body> {
    /// Checks the options and creates the adapter. Fails, naming the option and its variable,
    /// when a value cannot be used (a port `abc`, a host with spaces, no healthy status).
    pub fn new(options: &AdapterOptions) -> Result<Adapter<HttpConnector, Body>, Error> {
        let port = config::check_port(&options.port).map_err(|reason| {
            invalid_option(format!("port {:?} (AWS_LWA_PORT) {reason}", options.port))
        })?;
        let readiness_port =
            config::check_port(&options.readiness_check_port).map_err(|reason| {
                invalid_option(format!(
                    "readiness check port {:?} (AWS_LWA_READINESS_CHECK_PORT) {reason}",
                    options.readiness_check_port
                ))
            })?;
        config::check_host(&options.host).map_err(|reason| {
            invalid_option(format!("host {:?} (AWS_LWA_HOST) {reason}", options.host))
        })?;
        let app = Authority::try_from(format!("{}:{port}", options.host))
            .map_err(|e| invalid_option(format!("host {:?} (AWS_LWA_HOST): {e}", options.host)))?;
        let readiness_authority = format!("{}:{readiness_port}", options.host);

        // LIF-3: a restored SnapStart snapshot's sockets are dead, so nothing is pooled.
        let snap_start =
            std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").as_deref() == Ok("snap-start");
        let idle_timeout = if snap_start {
            Duration::ZERO
        } else {
            options.pool_idle_timeout
        };
        let client = AppClient::new(app.to_string(), idle_timeout);

        let readiness = match options.readiness_check_protocol {
            Protocol::Tcp => ReadinessCheck::tcp(readiness_authority),
            Protocol::Http => {
                let path = PathAndQuery::try_from(options.readiness_check_path.as_str())
                    .ok()
                    .filter(|path| path.as_str().starts_with('/'))
                    .ok_or_else(|| {
                        invalid_option(format!(
                            "readiness check path {:?} (AWS_LWA_READINESS_CHECK_PATH) is not a URL path",
                            options.readiness_check_path
                        ))
                    })?;
                let probe_client = if readiness_port == port {
                    client.clone()
                } else {
                    AppClient::new(readiness_authority, idle_timeout)
                };
                ReadinessCheck::http(probe_client, path, healthy_status(options)?)
                    .map_err(|e| invalid_option(format!("host (AWS_LWA_HOST): {e}")))?
            }
        };

        let pass_through_path = PathAndQuery::try_from(options.pass_through_path.as_str())
            .map_err(|e| {
                invalid_option(format!(
                    "pass-through path {:?} (AWS_LWA_PASS_THROUGH_PATH): {e}",
                    options.pass_through_path
                ))
            })?;
        let authorization_source = match &options.authorization_source {
            Some(name) => Some(HeaderName::try_from(name.as_str()).map_err(|_| {
                invalid_option(format!(
                    "authorization source {name:?} (AWS_LWA_AUTHORIZATION_SOURCE) is not a valid header name"
                ))
            })?),
            None => None,
        };
        let rules = ForwardRules {
            app,
            base_path: options.base_path.as_deref().and_then(BasePath::new),
            pass_through_path,
            authorization_source,
        };

        let compression = options.compression && options.invoke_mode == LambdaInvokeMode::Buffered;
        if options.compression && !compression {
            tracing::warn!(
                "AWS_LWA_ENABLE_COMPRESSION is ignored: responses are not compressed in response_stream mode"
            );
        }

        Ok(Adapter {
            client,
            settings: Arc::new(Settings {
                readiness,
                readiness_timeout: options.readiness_check_timeout,
                async_init: options.async_init,
                rules,
                compression,
                invoke_mode: options.invoke_mode,
                error_status_codes: options.error_status_codes.clone(),
            }),
            ready: Arc::new(AtomicBool::new(false)),
            _published_type_parameters: PhantomData,
        })
    }

    /// Registers with the Lambda Extensions API in a spawned task, named after this executable,
    /// and keeps that task parked on `event/next`. Exits the process with status 1 if Lambda
    /// refuses the registration. Must be called inside a tokio runtime.
    pub fn register_default_extension(&self) {
        extension::spawn_registration();
    }

    /// Waits until the app is ready. With async init, stops waiting after 9.8 s so Lambda's init
    /// phase ends in time; the first invocation then finishes the wait. A readiness timeout that
    /// passes is logged (see [`Adapter::wait_for_app`] to act on it).
    pub async fn check_init_health(&mut self) {
        if let Err(err) = self.wait_for_app().await {
            tracing::error!("{err}");
        }
    }

    /// Like [`Adapter::check_init_health`], but fails (RDY-6) when the app is not ready within
    /// `readiness_check_timeout`, with the last status or error seen.
    pub async fn wait_for_app(&mut self) -> Result<(), AdapterError> {
        let timeout = self.settings.readiness_timeout;
        let limit = match (self.settings.async_init, timeout) {
            (true, Some(timeout)) => Some(timeout.min(ASYNC_INIT_LIMIT)),
            (true, None) => Some(ASYNC_INIT_LIMIT),
            (false, timeout) => timeout,
        };
        match self.settings.readiness.wait(limit).await {
            Ok(_) => {
                self.ready.store(true, Ordering::Release);
                Ok(())
            }
            Err(not_ready) if timeout.is_some_and(|timeout| not_ready.waited >= timeout) => Err(AdapterError::new(
                ErrorKind::AppNotReady,
                format!(
                    "the app was not ready after {:.1}s (AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS); last: {}",
                    not_ready.waited.as_secs_f64(),
                    not_ready.last
                ),
            )),
            Err(not_ready) => {
                tracing::info!(
                    "app is not ready after {:.1}s (last: {}): init goes on (async init) and the first invocation waits for the app",
                    not_ready.waited.as_secs_f64(),
                    not_ready.last
                );
                Ok(())
            }
        }
    }

    /// Runs the Lambda runtime loop until the process ends: takes invocations from the Runtime
    /// API (or the proxy in `AWS_LWA_LAMBDA_RUNTIME_API_PROXY`), forwards them and returns the
    /// responses, `AWS_LAMBDA_MAX_CONCURRENCY` at a time. Returns an error only when the Runtime
    /// API keeps failing.
    pub async fn run(self) -> Result<(), Error> {
        let settings =
            LoopSettings::from_lookup(|name| std::env::var(name).ok()).map_err(invalid_option)?;
        let streaming = self.settings.invoke_mode == LambdaInvokeMode::ResponseStream;
        if self.settings.compression {
            let service = ServiceBuilder::new()
                .layer(CompressionLayer::new())
                .service(self);
            runtime::run(EventHandler::new(service, false), settings).await
        } else {
            runtime::run(EventHandler::new(self, streaming), settings).await
        }
    }

    /// Prepares the process environment; call it before starting the tokio runtime. Defaults
    /// `AWS_LAMBDA_RUNTIME_API` to `127.0.0.1:9001` (CFG-15), which the extension registration
    /// reads. (`AWS_LWA_LAMBDA_RUNTIME_API_PROXY` needs no preparation: [`Adapter::run`] reads it
    /// and uses it for the invocation loop only.)
    pub fn apply_runtime_proxy_config() {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none_or(|v| v.is_empty()) {
            // Before any other thread exists (the documented call site), so nothing races it.
            std::env::set_var("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        }
    }

    /// Forwards one request to the app (EVT-*), waiting for readiness first if async init left
    /// the app unready, and failing the invocation on a configured error status (RSP-5).
    async fn forward(self, request: Request) -> Result<Response<Incoming>, AdapterError> {
        if !self.ready.load(Ordering::Acquire) {
            let _ = self.settings.readiness.wait(None).await;
            self.ready.store(true, Ordering::Release);
        }
        let app_request = self.settings.rules.to_app_request(request)?;
        let response = self.send(app_request).await?;

        let status = response.status();
        match &self.settings.error_status_codes {
            Some(codes) if codes.contains(&status.as_u16()) => {
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                Err(AdapterError::new(
                    ErrorKind::ErrorStatus,
                    format!(
                        "the app answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    ),
                ))
            }
            _ => Ok(response),
        }
    }

    /// ERR-1: sends the request; a failure the app cannot have seen (no connection, a kept
    /// connection found closed before the request went out, or for an idempotent method a
    /// connection that broke before any answer) is tried once more on a fresh connection.
    async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, AdapterError> {
        let copy = is_idempotent(request.method()).then(|| copy_request(&request));
        let (first, unsent) = match self.client.send(request, false).await {
            Ok(response) => return Ok(response),
            Err(failed) => failed,
        };
        let retry = match unsent {
            Some(request) => request,
            None => match copy {
                Some(copy) if broke_before_answer(&first) => copy,
                _ => return Err(self.unreachable(&first)),
            },
        };
        tracing::debug!("retrying on a fresh connection after: {}", describe(&first));
        self.client
            .send(retry, true)
            .await
            .map_err(|(err, _)| self.unreachable(&err))
    }

    fn unreachable(&self, err: &SendError) -> AdapterError {
        AdapterError::new(
            ErrorKind::AppUnreachable,
            format!(
                "the app at {} did not answer: {}",
                self.settings.rules.app,
                describe(err)
            ),
        )
    }
}

fn is_idempotent(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::OPTIONS
            | http::Method::PUT
            | http::Method::DELETE
            | http::Method::TRACE
    )
}

/// A copy of a request: method, URI, version, headers and (shared) body.
fn copy_request(request: &http::Request<Full<Bytes>>) -> http::Request<Full<Bytes>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// Whether the connection broke (closed, reset) before any answer, rather than the app answering
/// something that is not HTTP or the request failing on its own.
fn broke_before_answer(err: &SendError) -> bool {
    let SendError::Http(err) = err else {
        return true;
    };
    if err.is_canceled() || err.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io_err) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
            if matches!(
                io_err.kind(),
                ConnectionReset | BrokenPipe | ConnectionAborted
            ) {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

/// Resolves when the process is asked to stop (SIGTERM, or SIGINT from a terminal).
#[doc(hidden)]
pub async fn termination_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// The healthy statuses; the deprecated minimum applies when the list was left at its default.
fn healthy_status(options: &AdapterOptions) -> Result<Vec<u16>, Error> {
    let default_list = config::parse_status_list(config::DEFAULT_HEALTHY_STATUS).0;
    let min = options.readiness_check_min_unhealthy_status;
    let codes = if options.readiness_check_healthy_status == default_list
        && min != config::DEFAULT_MIN_UNHEALTHY_STATUS
        && min > 100
    {
        (100..min).collect()
    } else {
        options.readiness_check_healthy_status.clone()
    };
    if codes.is_empty() {
        return Err(invalid_option(
            "the healthy status list (AWS_LWA_READINESS_CHECK_HEALTHY_STATUS) is empty".to_string(),
        ));
    }
    Ok(codes)
}

impl Service<Request> for Adapter<HttpConnector, Body> {
    type Response = Response<Incoming>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let adapter = self.clone();
        Box::pin(async move {
            adapter
                .forward(request)
                .await
                .map_err(|err| Box::new(err) as Error)
        })
    }
}

/// Entry points for the criterion benchmarks in `benches/` only.
///
/// **Not part of the API**: hidden from the docs, unstable, and free to change or disappear in
/// any release. Each function is a thin wrapper over a crate-private step of the invocation path,
/// so that the benchmarks time exactly the code the runtime loop runs.
#[doc(hidden)]
pub mod bench_support {
    use bytes::Bytes;
    use http::uri::{Authority, PathAndQuery};
    use http::{HeaderMap, StatusCode};
    use http_body_util::Full;
    use lambda_http::Context;

    use crate::error::AdapterError;
    use crate::event::{self, EventSource};
    use crate::request::ForwardRules;
    use crate::response;

    /// The event sources whose response shapes differ (a copy of the private `EventSource`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Source {
        RestApi,
        HttpApi,
        Alb { multi_value: bool },
        PassThrough,
    }

    impl From<Source> for EventSource {
        fn from(source: Source) -> Self {
            match source {
                Source::RestApi => EventSource::RestApi,
                Source::HttpApi => EventSource::HttpApi,
                Source::Alb { multi_value } => EventSource::Alb { multi_value },
                Source::PassThrough => EventSource::PassThrough,
            }
        }
    }

    /// The forwarding rules of a default configuration, for an app at `127.0.0.1:{port}`.
    #[derive(Clone, Debug)]
    pub struct Rules(ForwardRules);

    impl Rules {
        pub fn for_port(port: u16) -> Rules {
            Rules(ForwardRules {
                app: Authority::from_maybe_shared(format!("127.0.0.1:{port}"))
                    .unwrap_or_else(|_| Authority::from_static("127.0.0.1:8080")),
                base_path: None,
                pass_through_path: PathAndQuery::from_static("/events"),
                authorization_source: None,
            })
        }
    }

    /// Event JSON → the request sent to the app: `event::parse`, then the Lambda context is
    /// attached (as the runtime loop does), then `ForwardRules::to_app_request`.
    pub fn event_to_app_request(
        rules: &Rules,
        event: Bytes,
        context: Context,
    ) -> Result<http::Request<Full<Bytes>>, AdapterError> {
        let (_, mut request) = event::parse(event)?;
        request.extensions_mut().insert(context);
        rules.0.to_app_request(request)
    }

    /// The app's buffered response → the JSON payload posted to the Runtime API:
    /// `response::to_lambda(..)`.
    pub fn response_to_lambda_json(
        source: Source,
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Bytes {
        response::to_lambda(source.into(), status, headers, body)
    }
}
