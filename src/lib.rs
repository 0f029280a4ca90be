//! Run ordinary HTTP web apps on AWS Lambda (SPEC SHP-2: the published crate's API).
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
//!
//! The adapter's newer options are set on its [`Settings`]:
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Duration;
//! use lambda_web_adapter::{Adapter, AdapterOptions};
//!
//! # fn main() -> Result<(), lambda_web_adapter::Error> {
//! let variables = HashMap::from([("AWS_LWA_PORT", "3000")]);
//! let settings = AdapterOptions::from_lookup(|name| variables.get(name).map(|v| v.to_string()))
//!     .into_settings()?
//!     .with_pool_idle_timeout(Duration::ZERO);
//! let adapter = Adapter::from_settings(settings);
//! # Ok(()) }
//! ```

#[doc(hidden)]
pub mod bench_support;
mod body;
mod client;
mod config;
mod error;
mod event;
mod extension;
mod invocation;
mod logging;
mod payload;
mod readiness;
mod request;
mod response;
mod runtime;
mod runtime_api;
mod snapstart;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::Response;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use lambda_http::{Body, Request};
use tower::{Service, ServiceBuilder};
use tower_http::compression::CompressionLayer;

#[doc(hidden)]
pub use config::usage;
pub use config::{AdapterOptions, LambdaInvokeMode, ParsedOptions, Protocol, Settings};
pub use error::{AdapterError, Error, ErrorKind};
pub use extension::report_init_error;
pub use lambda_http::tracing;
pub use logging::LogSettings;
#[doc(hidden)]
pub use runtime::termination_signal;

use client::AppClient;
use config::Initialization;
use invocation::EventHandler;
use readiness::ReadinessCheck;
use snapstart::{HookPaths, SnapStart};

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
    readiness: Arc<ReadinessCheck>,
    settings: Arc<Settings>,
    ready: Arc<AtomicBool>,
    _published_type_parameters: PhantomData<fn() -> (C, B)>,
}

impl<C, B> Clone for Adapter<C, B> {
    fn clone(&self) -> Self {
        Adapter {
            client: self.client.clone(),
            readiness: self.readiness.clone(),
            settings: self.settings.clone(),
            ready: self.ready.clone(),
            _published_type_parameters: PhantomData,
        }
    }
}

impl Adapter<HttpConnector, Body> {
    /// Checks the options and creates the adapter; the adapter's own options and Lambda's
    /// variables are read from the environment. Fails, naming the option and its variable, when a
    /// value cannot be used (a port `abc`, a host with spaces, no healthy status).
    pub fn new(options: &AdapterOptions) -> Result<Adapter<HttpConnector, Body>, Error> {
        let checked = ParsedOptions::for_options_from_environment(options);
        for warning in &checked.warnings {
            tracing::warn!("{warning}");
        }
        Ok(Adapter::from_settings(checked.into_settings()?))
    }

    /// Creates the adapter from checked settings (see [`AdapterOptions::from_lookup`]).
    pub fn from_settings(settings: Settings) -> Adapter<HttpConnector, Body> {
        let client = AppClient::new(settings.app.to_string(), settings.pool_idle_timeout);
        let readiness = ReadinessCheck::new(&settings, &client);
        Adapter {
            client,
            readiness: Arc::new(readiness),
            settings: Arc::new(settings),
            ready: Arc::new(AtomicBool::new(false)),
            _published_type_parameters: PhantomData,
        }
    }

    /// Registers with the Lambda Extensions API in a spawned task, named after this executable,
    /// and keeps that task parked on `event/next`. Exits the process with status 1 if Lambda
    /// refuses the registration. Must be called inside a tokio runtime.
    pub fn register_default_extension(&self) {
        extension::spawn_registration(self.settings.runtime_api.clone());
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
    /// the readiness check timeout, with the last status or error seen.
    pub async fn wait_for_app(&mut self) -> Result<(), AdapterError> {
        let timeout = self.settings.readiness_timeout;
        let initialization = self.settings.initialization;
        let async_init = self.settings.async_init && initialization == Initialization::OnDemand;
        if self.settings.async_init && !async_init {
            // LIF-10: these inits are not bound by the 10 s on-demand window.
            tracing::info!(
                "AWS_LWA_ASYNC_INIT is ignored: a {initialization} init must finish with the app ready"
            );
        }
        let limit = match (async_init, timeout) {
            (true, Some(timeout)) => Some(timeout.min(ASYNC_INIT_LIMIT)),
            (true, None) => Some(ASYNC_INIT_LIMIT),
            (false, timeout) => timeout,
        };
        match self.readiness.wait(limit).await {
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
        let settings = self.settings.clone();
        let streaming = settings.invoke_mode == LambdaInvokeMode::ResponseStream;
        let snapstart = SnapStart::new(&settings, &self.client, &self.readiness);
        let hooks = HookPaths::new(&settings);
        if settings.compression {
            let service = ServiceBuilder::new()
                .layer(CompressionLayer::new())
                .service(self);
            let handler = EventHandler::new(service, false, hooks);
            runtime::run(handler, &settings, snapstart).await
        } else {
            let handler = EventHandler::new(self, streaming, hooks);
            runtime::run(handler, &settings, snapstart).await
        }
    }

    /// Prepares the process environment; call it before starting the tokio runtime. Defaults
    /// `AWS_LAMBDA_RUNTIME_API` to `127.0.0.1:9001` (CFG-15), which the extension registration
    /// reads. (`AWS_LWA_LAMBDA_RUNTIME_API_PROXY` needs no preparation: the settings carry it, for
    /// the invocation loop only.)
    pub fn apply_runtime_proxy_config() {
        config::default_runtime_api_variable();
    }

    /// Forwards one request to the app (EVT-*), waiting for readiness first if async init left
    /// the app unready, and failing the invocation on a configured error status (RSP-5).
    async fn forward(self, request: Request) -> Result<Response<Incoming>, AdapterError> {
        if !self.ready.load(Ordering::Acquire) {
            let _ = self.readiness.wait(None).await;
            self.ready.store(true, Ordering::Release);
        }
        let app_request = self.settings.rules.to_app_request(request)?;
        let response = self.client.forward(app_request).await?;

        let status = response.status();
        match &self.settings.error_status_codes {
            Some(codes) if codes.contains(&status.as_u16()) => {
                let body = body::read_all(response.into_body())
                    .await
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
