//! Configuration: one path from variables to the settings everything else runs on (SPEC CFG-1 …
//! CFG-21, CFG-14/15, LIF-4, LIF-7, SHP-2).
//!
//! ```text
//! lookup (the environment, or a map) ──read──▶ AdapterOptions + the adapter's own options
//!                                               + Lambda's environment, and warnings
//!                                      ──check──▶ Settings, or errors
//! ```
//!
//! *Read* turns each variable's text into a typed value: an unknown value with an obvious meaning,
//! or a deprecated name, gives one warning and goes on. *Check* applies every rule that can make the
//! adapter unusable, once, whether the options came from the environment or from code; each error
//! names the variable and the value. This module (and `main.rs`) are the only readers of the process
//! environment; everything else receives a [`Settings`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery};
use http::HeaderName;
use lambda_runtime::Config as FunctionConfig;

use crate::error::{AdapterError, ErrorKind};
use crate::request::{BasePath, ForwardRules};

/// How the adapter checks that the app is ready (CFG-5).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Protocol {
    /// `GET` the readiness path and look at the status code.
    #[default]
    Http,
    /// A TCP connect to the readiness port is enough.
    Tcp,
}

const PROTOCOLS: [(&str, Protocol); 2] = [("http", Protocol::Http), ("tcp", Protocol::Tcp)];

impl From<&str> for Protocol {
    /// Any case of `http` or `tcp`; anything else is `Http`.
    fn from(value: &str) -> Self {
        word(value, &PROTOCOLS).unwrap_or_default()
    }
}

/// How responses go back to Lambda (CFG-11).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum LambdaInvokeMode {
    /// The whole response is collected, then returned as one JSON document.
    #[default]
    Buffered,
    /// The response is streamed to the Runtime API as the app produces it.
    ResponseStream,
}

const INVOKE_MODES: [(&str, LambdaInvokeMode); 2] = [
    ("buffered", LambdaInvokeMode::Buffered),
    ("response_stream", LambdaInvokeMode::ResponseStream),
];

impl From<&str> for LambdaInvokeMode {
    /// Any case of `buffered` or `response_stream`; anything else is `Buffered`.
    fn from(value: &str) -> Self {
        word(value, &INVOKE_MODES).unwrap_or_default()
    }
}

/// The value of `text` among `words`, in any case.
fn word<T: Copy>(text: &str, words: &[(&str, T)]) -> Option<T> {
    words
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(text))
        .map(|(_, value)| *value)
}

/// The app's healthy status codes when nothing is configured: `100-499`.
const DEFAULT_HEALTHY_STATUS: &str = "100-499";
/// The published crate's default for the deprecated `readiness_check_min_unhealthy_status`.
const DEFAULT_MIN_UNHEALTHY_STATUS: u16 = 500;
/// The default of `AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS`.
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// CFG-15: the Runtime API when `AWS_LAMBDA_RUNTIME_API` is unset.
const DEFAULT_RUNTIME_API: &str = "127.0.0.1:9001";

/// Configuration of the adapter, with exactly the fields of the published crate (SHP-2), so that a
/// struct literal naming all of them compiles. `AdapterOptions::default()` reads the environment
/// variables listed in the README; a struct literal with `..Default::default()` overrides some of
/// them in code. The adapter's newer options are not fields here: see [`Settings`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterOptions {
    /// Host the app listens on (`AWS_LWA_HOST`, default `127.0.0.1`).
    pub host: String,
    /// Port the app listens on (`AWS_LWA_PORT`, then `PORT`, default `8080`).
    pub port: String,
    /// Port of the readiness check (`AWS_LWA_READINESS_CHECK_PORT`, default: the app port).
    pub readiness_check_port: String,
    /// Path of the HTTP readiness check (`AWS_LWA_READINESS_CHECK_PATH`, default `/`).
    pub readiness_check_path: String,
    /// `Http` or `Tcp` readiness check (`AWS_LWA_READINESS_CHECK_PROTOCOL`).
    pub readiness_check_protocol: Protocol,
    /// Statuses below this are healthy. Used only when `readiness_check_healthy_status` is left at
    /// its default.
    #[deprecated(since = "1.0.0", note = "use readiness_check_healthy_status")]
    pub readiness_check_min_unhealthy_status: u16,
    /// Status codes that mean "ready" (`AWS_LWA_READINESS_CHECK_HEALTHY_STATUS`, default `100-499`).
    pub readiness_check_healthy_status: Vec<u16>,
    /// A path prefix removed from every request path (`AWS_LWA_REMOVE_BASE_PATH`).
    pub base_path: Option<String>,
    /// Where non-HTTP events are posted (`AWS_LWA_PASS_THROUGH_PATH`, default `/events`).
    pub pass_through_path: String,
    /// Let Lambda's init finish before the app is ready (`AWS_LWA_ASYNC_INIT`).
    pub async_init: bool,
    /// Compress buffered responses with gzip or br (`AWS_LWA_ENABLE_COMPRESSION`).
    pub compression: bool,
    /// Buffered or streamed responses (`AWS_LWA_INVOKE_MODE`).
    pub invoke_mode: LambdaInvokeMode,
    /// A header whose value is moved to `authorization` (`AWS_LWA_AUTHORIZATION_SOURCE`).
    pub authorization_source: Option<String>,
    /// App statuses that fail the invocation (`AWS_LWA_ERROR_STATUS_CODES`).
    pub error_status_codes: Option<Vec<u16>>,
}

impl Default for AdapterOptions {
    /// Reads the process environment. Warnings and errors are logged; an unusable value is kept
    /// as it was given so that [`crate::Adapter::new`] rejects it.
    fn default() -> Self {
        let parsed = AdapterOptions::from_lookup(environment);
        parsed.log();
        parsed.options
    }
}

impl AdapterOptions {
    /// Reads and checks the configuration from `lookup`, a function from a variable's name to its
    /// value.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use lambda_web_adapter::AdapterOptions;
    ///
    /// let vars = HashMap::from([("AWS_LWA_PORT", "3000")]);
    /// let parsed = AdapterOptions::from_lookup(|name| vars.get(name).map(|v| v.to_string()));
    /// assert_eq!(parsed.options.port, "3000");
    /// assert!(parsed.errors.is_empty());
    /// ```
    pub fn from_lookup<F>(lookup: F) -> ParsedOptions
    where
        F: Fn(&str) -> Option<String>,
    {
        let mut read = Reader::new(lookup);
        let options = read.options();
        let own = read.own_options();
        let lambda = read.lambda();
        ParsedOptions::checked(options, own, lambda, read.origins, read.warnings)
    }
}

/// PKG-7: every variable the adapter reads, its default, and what it does; `--help` prints them.
#[rustfmt::skip]
const VARIABLES: [(&str, &str, &str); 24] = [
    ("AWS_LWA_PORT", "8080", "port your app listens on (falls back to PORT)"),
    ("AWS_LWA_HOST", "127.0.0.1", "host your app listens on"),
    ("AWS_LWA_READINESS_CHECK_PORT", "the app port", "port of the readiness check"),
    ("AWS_LWA_READINESS_CHECK_PATH", "/", "path of the HTTP readiness check"),
    ("AWS_LWA_READINESS_CHECK_PROTOCOL", "http", "http (GET the path) or tcp (connect)"),
    ("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "100-499", "statuses that mean ready, e.g. 200-399,404"),
    ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "none", "fail init when the app is not ready by then"),
    ("AWS_LWA_ASYNC_INIT", "false", "let init end after 9.8 s; the first invocation waits for the app"),
    ("AWS_LWA_REMOVE_BASE_PATH", "none", "a path prefix removed from every request, e.g. /prod"),
    ("AWS_LWA_PASS_THROUGH_PATH", "/events", "where non-HTTP events (SQS, SNS, S3, ...) are posted"),
    ("AWS_LWA_ENABLE_COMPRESSION", "false", "gzip or br for buffered responses"),
    ("AWS_LWA_INVOKE_MODE", "buffered", "buffered or response_stream"),
    ("AWS_LWA_AUTHORIZATION_SOURCE", "none", "a header whose value is moved to authorization"),
    ("AWS_LWA_ERROR_STATUS_CODES", "none", "app statuses that fail the invocation, e.g. 500,502-504"),
    ("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "4", "how long an idle app connection is kept; 0: none"),
    ("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "none", "host:port of a Runtime API proxy (invocations only)"),
    ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", "none", "POSTed to the app before a SnapStart snapshot"),
    ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "none", "POSTed to the app after a SnapStart restore"),
    ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001", "set by Lambda: the Runtime API"),
    ("AWS_LAMBDA_MAX_CONCURRENCY", "1", "set by Lambda Managed Instances: invocations at once"),
    ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand", "set by Lambda: snap-start runs the SnapStart hooks"),
    ("AWS_LAMBDA_LOG_LEVEL", "INFO", "DEBUG, INFO, WARN or ERROR (falls back to RUST_LOG)"),
    ("AWS_LAMBDA_LOG_FORMAT", "TEXT", "JSON: one JSON object per log line"),
    ("AWS_LAMBDA_FUNCTION_NAME", "lambda-adapter", "set by Lambda (also _MEMORY_SIZE, _VERSION)"),
];

/// PKG-7: what `lambda-adapter --help` prints: what it is, how Lambda starts it, every variable.
pub fn usage() -> String {
    let mut text = format!(
        "lambda-adapter {}: run an ordinary HTTP web app on AWS Lambda, unchanged.\n\
         \n\
         A Lambda extension: Lambda starts it next to your app, it waits until the app answers on its\n\
         port, then turns every invocation (API Gateway, ALB, Function URL, VPC Lattice) into an HTTP\n\
         request to the app, and the app's response into Lambda's. Other events are posted as JSON.\n\
         You do not run it yourself; install it one of two ways:\n\
         \n  \
         image:  COPY --from=<lambda-adapter image> /lambda-adapter /opt/extensions/lambda-adapter\n  \
         layer:  attach the lambda-adapter layer and set AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap\n\
         \n\
         Environment variables (default, then what it does):\n",
        env!("CARGO_PKG_VERSION")
    );
    for (name, default, what) in VARIABLES {
        text.push_str(&format!("  {name:<41} {default:<15} {what}\n"));
    }
    text.push_str(
        "\nOptions: -h, --help (this text), -V, --version.\n\
         More: the README of the lambda-adapter repository (Install, Configuration, Troubleshooting);\n\
         locally, run your app behind the adapter with the lambda-emulator that comes with it.\n",
    );
    text
}

/// The process environment as a lookup: what [`AdapterOptions::default`] and [`crate::Adapter::new`]
/// read.
fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// CFG-15: sets `AWS_LAMBDA_RUNTIME_API` to its default when it is unset, because the
/// `lambda-extension` crate reads it from the environment (and panics without it). Call it before
/// any other thread exists.
pub(crate) fn default_runtime_api_variable() {
    if environment("AWS_LAMBDA_RUNTIME_API").is_none_or(|v| v.trim().is_empty()) {
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", DEFAULT_RUNTIME_API);
    }
}

/// The outcome of reading configuration: the options, what was wrong with the input, and the
/// checked [`Settings`] when nothing made the adapter unusable.
#[derive(Clone, Debug)]
pub struct ParsedOptions {
    /// The options, with defaults where a value was missing or unknown.
    pub options: AdapterOptions,
    /// One line per value that was unknown or deprecated; start-up goes on.
    pub warnings: Vec<String>,
    /// One line per value that makes the adapter unusable; start-up must stop.
    pub errors: Vec<String>,
    settings: Option<Settings>,
    runtime_api: String,
}

impl ParsedOptions {
    fn checked(
        options: AdapterOptions,
        own: OwnOptions,
        lambda: LambdaEnvironment,
        origins: Vec<Origin>,
        mut warnings: Vec<String>,
    ) -> ParsedOptions {
        let runtime_api = lambda.runtime_api.clone();
        let mut check = Checker {
            origins,
            warnings: Vec::new(),
            errors: Vec::new(),
        };
        let settings = check.settings(&options, own, lambda);
        warnings.append(&mut check.warnings);
        ParsedOptions {
            options,
            warnings,
            settings: settings.filter(|_| check.errors.is_empty()),
            errors: check.errors,
            runtime_api,
        }
    }

    /// Checks `options` given in code, with the adapter's own options and Lambda's variables read
    /// from `lookup`. Only the warnings of the check are kept: the options' own were given when
    /// they were read.
    pub(crate) fn for_options<F>(options: &AdapterOptions, lookup: F) -> ParsedOptions
    where
        F: Fn(&str) -> Option<String>,
    {
        let mut read = Reader::new(lookup);
        let own = read.own_options();
        let lambda = read.lambda();
        ParsedOptions::checked(options.clone(), own, lambda, Vec::new(), Vec::new())
    }

    /// Like [`ParsedOptions::for_options`], from the process environment.
    pub(crate) fn for_options_from_environment(options: &AdapterOptions) -> ParsedOptions {
        ParsedOptions::for_options(options, environment)
    }

    /// Logs the warnings and errors through `tracing`.
    pub fn log(&self) {
        for warning in &self.warnings {
            tracing::warn!("{warning}");
        }
        for error in &self.errors {
            tracing::error!("{error}");
        }
    }

    /// The checked settings; `None` when [`ParsedOptions::errors`] is not empty.
    pub fn settings(&self) -> Option<&Settings> {
        self.settings.as_ref()
    }

    /// The checked settings, or the errors as one `Adapter.ConfigInvalid` error.
    pub fn into_settings(self) -> Result<Settings, AdapterError> {
        self.settings
            .ok_or_else(|| AdapterError::new(ErrorKind::ConfigInvalid, self.errors.join("; ")))
    }

    /// `host:port` of the Runtime API that the extension registers with (never the proxy of
    /// CFG-14): where an init error is reported even when the configuration is unusable.
    pub fn runtime_api(&self) -> &str {
        &self.runtime_api
    }
}

/// The adapter's options beyond the published [`AdapterOptions`] (CFG-21); SHP-2 keeps them out of
/// its fields.
#[derive(Clone, Debug)]
struct OwnOptions {
    readiness_check_timeout: Option<Duration>,
    pool_idle_timeout: Duration,
    before_checkpoint_hook: Option<String>,
    after_restore_hook: Option<String>,
}

/// What Lambda tells the function about itself (PROTOCOL.md, "Environment the adapter sees").
#[derive(Clone, Debug)]
struct LambdaEnvironment {
    runtime_api: String,
    runtime_api_proxy: Option<Found>,
    concurrency: usize,
    function: FunctionConfig,
    initialization: Initialization,
}

/// How Lambda initialises this environment (`AWS_LAMBDA_INITIALIZATION_TYPE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Initialization {
    /// `on-demand`, or anything not listed here.
    #[default]
    OnDemand,
    /// `provisioned-concurrency`.
    ProvisionedConcurrency,
    /// `snap-start`: the initialised environment is snapshotted and restored later.
    SnapStart,
}

impl fmt::Display for Initialization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Initialization::OnDemand => "on-demand",
            Initialization::ProvisionedConcurrency => "provisioned-concurrency",
            Initialization::SnapStart => "snap-start",
        })
    }
}

/// Everything the adapter runs on, once every rule of the configuration is checked. Made by
/// [`AdapterOptions::from_lookup`] (then [`ParsedOptions::into_settings`]) or by
/// [`crate::Adapter::new`]; the adapter's own options are set with the `with_` methods.
#[derive(Clone, Debug)]
pub struct Settings {
    pub(crate) app: Authority,
    pub(crate) readiness_authority: String,
    pub(crate) readiness_protocol: Protocol,
    pub(crate) readiness_path: PathAndQuery,
    pub(crate) healthy_status: Vec<u16>,
    pub(crate) readiness_timeout: Option<Duration>,
    pub(crate) async_init: bool,
    pub(crate) rules: ForwardRules,
    pub(crate) compression: bool,
    pub(crate) invoke_mode: LambdaInvokeMode,
    pub(crate) error_status_codes: Option<Vec<u16>>,
    pub(crate) pool_idle_timeout: Duration,
    /// The Runtime API the extension registers with.
    pub(crate) runtime_api: String,
    /// The Runtime API of the invocation loop: the proxy's when one is configured (CFG-14).
    pub(crate) loop_api: String,
    pub(crate) concurrency: usize,
    pub(crate) function: Arc<FunctionConfig>,
    pub(crate) initialization: Initialization,
    /// LIF-8: the app's SnapStart hooks (`AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH`,
    /// `AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH`).
    pub(crate) before_checkpoint_hook: Option<PathAndQuery>,
    pub(crate) after_restore_hook: Option<PathAndQuery>,
}

impl Settings {
    /// Give up waiting for the app after `timeout` (`AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS`,
    /// RDY-6); `None` waits as long as Lambda lets it.
    pub fn with_readiness_check_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.readiness_timeout = timeout.filter(|timeout| !timeout.is_zero());
        self
    }

    /// How long an unused connection to the app stays open for reuse
    /// (`AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS`, default 4 s); zero opens a connection per request.
    pub fn with_pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many invocations are served at once (`AWS_LAMBDA_MAX_CONCURRENCY`, LIF-4).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }
}

// ---------------------------------------------------------------------------------------------
// Read: variables → typed values, with a warning for each value that is unknown or deprecated

/// Where a checked value was read: `found`, for the option whose variable is called `canonical`.
#[derive(Clone, Debug)]
struct Origin {
    canonical: &'static str,
    found: Found,
}

/// A variable's value together with the name it was found under.
#[derive(Clone, Debug)]
struct Found {
    name: &'static str,
    value: String,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.value)
    }
}

struct Reader<F> {
    lookup: F,
    warnings: Vec<String>,
    /// The variables the checked options were read from, so that errors name what the user set
    /// (`PORT="x"`).
    origins: Vec<Origin>,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    fn new(lookup: F) -> Self {
        Reader {
            lookup,
            warnings: Vec::new(),
            origins: Vec::new(),
        }
    }

    /// A variable's value; an empty value counts as unset.
    fn get(&self, name: &'static str) -> Option<Found> {
        let value = (self.lookup)(name)?;
        let value = value.trim();
        (!value.is_empty()).then(|| Found {
            name,
            value: value.to_string(),
        })
    }

    /// `name`, else the deprecated `old` name with a warning that names its replacement.
    fn get_or_deprecated(&mut self, name: &'static str, old: &'static str) -> Option<Found> {
        if let Some(found) = self.get(name) {
            return Some(found);
        }
        let found = self.get(old)?;
        self.warnings.push(format!(
            "{old} is deprecated and will be removed: use {name} instead"
        ));
        Some(found)
    }

    /// A value that [`Checker`] checks: its text, remembered under `canonical` for the messages.
    fn checked_text(&mut self, canonical: &'static str, found: Option<Found>) -> Option<String> {
        let found = found?;
        let value = found.value.clone();
        self.origins.push(Origin { canonical, found });
        Some(value)
    }

    fn bool(&mut self, found: Option<Found>) -> bool {
        let Some(found) = found else { return false };
        word(&found.value, &[("true", true), ("false", false)]).unwrap_or_else(|| {
            self.warnings
                .push(format!("{found} is not `true` or `false`: using false"));
            false
        })
    }

    /// A URL path: a missing leading `/` is added with a warning.
    fn path(&mut self, canonical: &'static str, found: Option<Found>, default: &str) -> String {
        let Some(mut found) = found else {
            return default.to_string();
        };
        if !found.value.starts_with('/') {
            self.warnings.push(format!(
                "{found} does not start with `/`: using /{}",
                found.value
            ));
            found.value.insert(0, '/');
        }
        self.checked_text(canonical, Some(found))
            .unwrap_or_else(|| default.to_string())
    }

    #[allow(deprecated)] // the published struct's deprecated field is set like every other
    fn options(&mut self) -> AdapterOptions {
        let host = self.get_or_deprecated("AWS_LWA_HOST", "HOST");
        let host = self
            .checked_text("AWS_LWA_HOST", host)
            .unwrap_or_else(|| "127.0.0.1".to_string());
        let port = self.get("AWS_LWA_PORT").or_else(|| self.get("PORT"));
        let port = self
            .checked_text("AWS_LWA_PORT", port)
            .unwrap_or_else(|| "8080".to_string());
        let readiness_port =
            self.get_or_deprecated("AWS_LWA_READINESS_CHECK_PORT", "READINESS_CHECK_PORT");
        let readiness_check_port = self
            .checked_text("AWS_LWA_READINESS_CHECK_PORT", readiness_port)
            .unwrap_or_else(|| port.clone());
        let readiness_path =
            self.get_or_deprecated("AWS_LWA_READINESS_CHECK_PATH", "READINESS_CHECK_PATH");
        let readiness_check_path = self.path("AWS_LWA_READINESS_CHECK_PATH", readiness_path, "/");

        let readiness_check_protocol = match self.get_or_deprecated(
            "AWS_LWA_READINESS_CHECK_PROTOCOL",
            "READINESS_CHECK_PROTOCOL",
        ) {
            Some(found) => word(&found.value, &PROTOCOLS).unwrap_or_else(|| {
                self.warnings
                    .push(format!("{found} is not `http` or `tcp`: using http"));
                Protocol::Http
            }),
            None => Protocol::Http,
        };

        let (readiness_check_healthy_status, readiness_check_min_unhealthy_status) =
            self.healthy_status();

        let base_path = self
            .get_or_deprecated("AWS_LWA_REMOVE_BASE_PATH", "REMOVE_BASE_PATH")
            .map(|found| found.value);
        let pass_through = self.get("AWS_LWA_PASS_THROUGH_PATH");
        let pass_through_path = self.path("AWS_LWA_PASS_THROUGH_PATH", pass_through, "/events");
        let async_init = self.get_or_deprecated("AWS_LWA_ASYNC_INIT", "ASYNC_INIT");
        let async_init = self.bool(async_init);
        let compression = self.get("AWS_LWA_ENABLE_COMPRESSION");
        let compression = self.bool(compression);

        let invoke_mode = match self.get("AWS_LWA_INVOKE_MODE") {
            Some(found) => word(&found.value, &INVOKE_MODES).unwrap_or_else(|| {
                self.warnings.push(format!(
                    "{found} is not `buffered` or `response_stream`: using buffered"
                ));
                LambdaInvokeMode::Buffered
            }),
            None => LambdaInvokeMode::Buffered,
        };

        let authorization_source = self.get("AWS_LWA_AUTHORIZATION_SOURCE");
        let authorization_source =
            self.checked_text("AWS_LWA_AUTHORIZATION_SOURCE", authorization_source);

        let error_status_codes = self.get("AWS_LWA_ERROR_STATUS_CODES").and_then(|found| {
            let (codes, invalid) = parse_status_list(&found.value);
            if !invalid.is_empty() {
                self.warnings.push(format!(
                    "{found}: ignoring invalid entries {}",
                    invalid.join(", ")
                ));
            }
            (!codes.is_empty()).then_some(codes)
        });

        AdapterOptions {
            host,
            port,
            readiness_check_port,
            readiness_check_path,
            readiness_check_protocol,
            readiness_check_min_unhealthy_status,
            readiness_check_healthy_status,
            base_path,
            pass_through_path,
            async_init,
            compression,
            invoke_mode,
            authorization_source,
            error_status_codes,
        }
    }

    /// CFG-6: the healthy list as given (entries that are not codes or ranges warned about), else
    /// the one the deprecated minimum unhealthy status stands for.
    fn healthy_status(&mut self) -> (Vec<u16>, u16) {
        let min_var = self.get("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS");
        let min_unhealthy = min_var
            .as_ref()
            .and_then(|found| match found.value.parse::<u16>() {
                Ok(n) if (101..=600).contains(&n) => Some(n),
                _ => {
                    self.warnings.push(format!(
                        "{found} is not a status code between 101 and 600: ignoring it"
                    ));
                    None
                }
            });
        let min = min_unhealthy.unwrap_or(DEFAULT_MIN_UNHEALTHY_STATUS);

        if let Some(found) = self.get("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS") {
            let (codes, invalid) = parse_status_list(&found.value);
            if !codes.is_empty() && !invalid.is_empty() {
                self.warnings.push(format!(
                    "{found}: ignoring invalid entries {}",
                    invalid.join(", ")
                ));
            }
            // An empty list is for the check to refuse, naming this text.
            self.checked_text("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", Some(found));
            return (codes, min);
        }
        if let Some(n) = min_unhealthy {
            self.warnings.push(format!(
                "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS is deprecated: use AWS_LWA_READINESS_CHECK_HEALTHY_STATUS=100-{}",
                n - 1
            ));
        }
        (healthy_statuses(&default_healthy_status(), min), min)
    }

    fn own_options(&mut self) -> OwnOptions {
        let readiness_check_timeout = self
            .seconds(
                "AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS",
                "waiting as long as Lambda allows",
            )
            .filter(|timeout| !timeout.is_zero());
        let pool_idle_timeout = self
            .seconds("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "using 4")
            .unwrap_or(DEFAULT_POOL_IDLE_TIMEOUT);
        let before = self.get("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH");
        let before_checkpoint_hook = before
            .map(|found| self.path("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", Some(found), "/"));
        let after = self.get("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH");
        let after_restore_hook =
            after.map(|found| self.path("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", Some(found), "/"));
        OwnOptions {
            readiness_check_timeout,
            pool_idle_timeout,
            before_checkpoint_hook,
            after_restore_hook,
        }
    }

    /// A duration in seconds (`2`, `0.5`); anything else warns and gives `None`.
    fn seconds(&mut self, name: &'static str, fallback: &str) -> Option<Duration> {
        let found = self.get(name)?;
        match found.value.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && (0.0..=86_400.0).contains(&seconds) => {
                Some(Duration::from_secs_f64(seconds))
            }
            _ => {
                self.warnings
                    .push(format!("{found} is not a number of seconds: {fallback}"));
                None
            }
        }
    }

    /// LIF-4, LIF-7, CFG-14, CFG-15: what Lambda sets, with defaults for simple emulators.
    fn lambda(&mut self) -> LambdaEnvironment {
        let text = |found: Option<Found>| found.map(|found| found.value);
        let concurrency = match self.get("AWS_LAMBDA_MAX_CONCURRENCY") {
            None => 1,
            Some(found) => found
                .value
                .parse::<usize>()
                .map(|n| n.max(1))
                .unwrap_or_else(|_| {
                    self.warnings.push(format!(
                        "{found} is not a number: serving one invocation at a time"
                    ));
                    1
                }),
        };
        let function = FunctionConfig {
            function_name: text(self.get("AWS_LAMBDA_FUNCTION_NAME"))
                .unwrap_or_else(|| "lambda-adapter".to_string()),
            memory: text(self.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
                .and_then(|m| m.parse().ok())
                .unwrap_or(128),
            version: text(self.get("AWS_LAMBDA_FUNCTION_VERSION"))
                .unwrap_or_else(|| "$LATEST".to_string()),
            log_stream: text(self.get("AWS_LAMBDA_LOG_STREAM_NAME")).unwrap_or_default(),
            log_group: text(self.get("AWS_LAMBDA_LOG_GROUP_NAME")).unwrap_or_default(),
        };
        let initialization = match text(self.get("AWS_LAMBDA_INITIALIZATION_TYPE")).as_deref() {
            Some("snap-start") => Initialization::SnapStart,
            Some("provisioned-concurrency") => Initialization::ProvisionedConcurrency,
            _ => Initialization::OnDemand,
        };
        LambdaEnvironment {
            runtime_api: text(self.get("AWS_LAMBDA_RUNTIME_API"))
                .unwrap_or_else(|| DEFAULT_RUNTIME_API.to_string()),
            runtime_api_proxy: self.get("AWS_LWA_LAMBDA_RUNTIME_API_PROXY"),
            concurrency,
            function,
            initialization,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Check: every rule that can make the adapter unusable, once

struct Checker {
    origins: Vec<Origin>,
    warnings: Vec<String>,
    errors: Vec<String>,
}

impl Checker {
    /// The value's origin for a message: `NAME="text"` when it was read from the variable `NAME`
    /// (whose canonical name is `canonical`), else the options field that holds it.
    fn origin(&self, canonical: &'static str, field: &str, value: &str) -> String {
        match self.read_from(canonical) {
            Some(found) => found.to_string(),
            None => format!("AdapterOptions::{field} {value:?} ({canonical})"),
        }
    }

    /// The variable the option named `canonical` was read from, if it was.
    fn read_from(&self, canonical: &'static str) -> Option<&Found> {
        let origin = self
            .origins
            .iter()
            .find(|origin| origin.canonical == canonical)?;
        Some(&origin.found)
    }

    fn refuse(&mut self, canonical: &'static str, field: &str, value: &str, reason: &str) {
        let origin = self.origin(canonical, field, value);
        self.errors.push(format!("{origin} {reason}"));
    }

    fn port(&mut self, canonical: &'static str, field: &str, value: &str) -> Option<u16> {
        match value.parse::<u16>() {
            Ok(0) | Err(_) => {
                self.refuse(canonical, field, value, "is not a valid port (1-65535)");
                None
            }
            Ok(port) => Some(port),
        }
    }

    fn host(&mut self, value: &str) -> Option<()> {
        let usable = !value.is_empty()
            && !value.contains(['/', '@', '?', '#'])
            && !value.chars().any(char::is_whitespace)
            && Authority::try_from(format!("{value}:1").as_str()).is_ok();
        if !usable {
            let reason = "is not a valid host name or IP address";
            self.refuse("AWS_LWA_HOST", "host", value, reason);
        }
        usable.then_some(())
    }

    fn path(&mut self, canonical: &'static str, field: &str, value: &str) -> Option<PathAndQuery> {
        let path = PathAndQuery::try_from(value)
            .ok()
            .filter(|path| path.as_str().starts_with('/'));
        if path.is_none() {
            self.refuse(canonical, field, value, "is not a valid URL path");
        }
        path
    }

    /// A path that may be unset: `Some(None)` when it is, `None` when it is refused.
    fn optional_path(
        &mut self,
        canonical: &'static str,
        field: &str,
        value: Option<&str>,
    ) -> Option<Option<PathAndQuery>> {
        match value {
            None => Some(None),
            Some(value) => self.path(canonical, field, value).map(Some),
        }
    }

    /// CFG-6: the healthy set, which must hold a status.
    fn healthy_status(&mut self, options: &AdapterOptions) -> Option<Vec<u16>> {
        #[allow(deprecated)] // the published struct's deprecated field still counts
        let min = options.readiness_check_min_unhealthy_status;
        let codes = healthy_statuses(&options.readiness_check_healthy_status, min);
        if codes.is_empty() {
            let canonical = "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS";
            let origin = match self.read_from(canonical) {
                Some(found) => found.to_string(),
                None => format!("AdapterOptions::readiness_check_healthy_status ({canonical})"),
            };
            self.errors.push(format!(
                "{origin} contains no valid status code or range (expected e.g. 200-399,404)"
            ));
            return None;
        }
        Some(codes)
    }

    /// CFG-12: a name that is not a header name moves nothing (a warning, not an error).
    fn authorization_source(&mut self, name: Option<&str>) -> Option<HeaderName> {
        let name = name?;
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) => Some(name),
            Err(_) => {
                let origin =
                    self.origin("AWS_LWA_AUTHORIZATION_SOURCE", "authorization_source", name);
                self.warnings.push(format!(
                    "{origin} is not a valid header name: no header is moved to authorization"
                ));
                None
            }
        }
    }

    /// CFG-14: a `host:port` address.
    fn address(&mut self, found: &Found) -> Option<String> {
        let usable = !found.value.contains(char::is_whitespace)
            && Authority::try_from(found.value.as_str())
                .is_ok_and(|authority| authority.port_u16().is_some());
        if !usable {
            self.errors
                .push(format!("{found} is not a host:port address"));
        }
        usable.then(|| found.value.clone())
    }

    fn settings(
        &mut self,
        options: &AdapterOptions,
        own: OwnOptions,
        lambda: LambdaEnvironment,
    ) -> Option<Settings> {
        let host = self.host(&options.host);
        let port = self.port("AWS_LWA_PORT", "port", &options.port);
        // The default readiness port is the app's: one value, refused once.
        let readiness_port = if options.readiness_check_port == options.port {
            port
        } else {
            self.port(
                "AWS_LWA_READINESS_CHECK_PORT",
                "readiness_check_port",
                &options.readiness_check_port,
            )
        };
        let readiness_path = self.path(
            "AWS_LWA_READINESS_CHECK_PATH",
            "readiness_check_path",
            &options.readiness_check_path,
        );
        let pass_through_path = self.path(
            "AWS_LWA_PASS_THROUGH_PATH",
            "pass_through_path",
            &options.pass_through_path,
        );
        let healthy_status = self.healthy_status(options);
        let before_checkpoint_hook = self.optional_path(
            "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH",
            "before_checkpoint_hook",
            own.before_checkpoint_hook.as_deref(),
        );
        let after_restore_hook = self.optional_path(
            "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH",
            "after_restore_hook",
            own.after_restore_hook.as_deref(),
        );
        let authorization_source =
            self.authorization_source(options.authorization_source.as_deref());
        let loop_api = match &lambda.runtime_api_proxy {
            Some(proxy) => self.address(proxy),
            None => Some(lambda.runtime_api.clone()),
        };

        let compression = options.compression && options.invoke_mode == LambdaInvokeMode::Buffered;
        if options.compression && !compression {
            self.warnings.push(
                "AWS_LWA_ENABLE_COMPRESSION is ignored: responses are not compressed in response_stream mode"
                    .to_string(),
            );
        }

        let (_, port, readiness_port, readiness_path, pass_through_path, healthy_status, loop_api) = (
            host?,
            port?,
            readiness_port?,
            readiness_path?,
            pass_through_path?,
            healthy_status?,
            loop_api?,
        );
        let (before_checkpoint_hook, after_restore_hook) =
            (before_checkpoint_hook?, after_restore_hook?);
        // The host and port are checked, so this is an authority; the check is for the type.
        let Ok(app) = Authority::try_from(format!("{}:{port}", options.host)) else {
            self.refuse("AWS_LWA_HOST", "host", &options.host, "is not a valid host");
            return None;
        };
        Some(Settings {
            readiness_authority: format!("{}:{readiness_port}", options.host),
            readiness_protocol: options.readiness_check_protocol,
            readiness_path,
            healthy_status,
            readiness_timeout: own.readiness_check_timeout,
            async_init: options.async_init,
            rules: ForwardRules {
                app: app.clone(),
                base_path: options.base_path.as_deref().and_then(BasePath::new),
                pass_through_path,
                authorization_source,
            },
            app,
            compression,
            invoke_mode: options.invoke_mode,
            error_status_codes: options.error_status_codes.clone(),
            pool_idle_timeout: own.pool_idle_timeout,
            runtime_api: lambda.runtime_api,
            loop_api,
            concurrency: lambda.concurrency,
            function: Arc::new(lambda.function),
            initialization: lambda.initialization,
            before_checkpoint_hook,
            after_restore_hook,
        })
    }
}

/// CFG-6: the healthy statuses of a list and the deprecated minimum unhealthy status: the list,
/// unless it is the default and the minimum is not, then `100` to the minimum less one.
fn healthy_statuses(list: &[u16], min_unhealthy: u16) -> Vec<u16> {
    if min_unhealthy != DEFAULT_MIN_UNHEALTHY_STATUS
        && min_unhealthy > 100
        && list == default_healthy_status()
    {
        (100..min_unhealthy).collect()
    } else {
        list.to_vec()
    }
}

fn default_healthy_status() -> Vec<u16> {
    parse_status_list(DEFAULT_HEALTHY_STATUS).0
}

/// Parses `200-399,404`-style lists of status codes and ranges. Returns the codes and the entries
/// that are not valid (codes outside 100-599, reversed ranges, text).
fn parse_status_list(value: &str) -> (Vec<u16>, Vec<String>) {
    let mut codes = Vec::new();
    let mut invalid = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let range = match entry.split_once('-') {
            Some((lo, hi)) => lo
                .trim()
                .parse::<u16>()
                .ok()
                .zip(hi.trim().parse::<u16>().ok()),
            None => entry.parse::<u16>().ok().map(|code| (code, code)),
        };
        match range {
            Some((lo, hi))
                if (100..=599).contains(&lo) && (100..=599).contains(&hi) && lo <= hi =>
            {
                codes.extend(lo..=hi)
            }
            _ => invalid.push(format!("`{entry}`")),
        }
    }
    codes.sort_unstable();
    codes.dedup();
    (codes, invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> ParsedOptions {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AdapterOptions::from_lookup(|name| map.get(name).cloned())
    }

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let parsed = parse(vars);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        parsed.into_settings().unwrap()
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        // covers CFG-1 … CFG-13 defaults, CFG-21
        let parsed = parse(&[]);
        let o = &parsed.options;
        assert_eq!(o.host, "127.0.0.1");
        assert_eq!(o.port, "8080");
        assert_eq!(o.readiness_check_port, "8080");
        assert_eq!(o.readiness_check_path, "/");
        assert_eq!(o.readiness_check_protocol, Protocol::Http);
        assert_eq!(
            o.readiness_check_healthy_status,
            (100..500).collect::<Vec<u16>>()
        );
        assert_eq!(o.base_path, None);
        assert_eq!(o.pass_through_path, "/events");
        assert!(!o.async_init);
        assert!(!o.compression);
        assert_eq!(o.invoke_mode, LambdaInvokeMode::Buffered);
        assert_eq!(o.authorization_source, None);
        assert_eq!(o.error_status_codes, None);
        assert!(parsed.warnings.is_empty() && parsed.errors.is_empty());
        let settings = parsed.into_settings().unwrap();
        assert_eq!(settings.readiness_timeout, None);
        assert_eq!(settings.pool_idle_timeout, Duration::from_secs(4));
        assert_eq!(settings.app.as_str(), "127.0.0.1:8080");
        assert_eq!(settings.healthy_status, (100..500).collect::<Vec<u16>>());
    }

    #[test]
    fn port_falls_back_to_port_without_warning() {
        // covers CFG-1, CFG-3
        let parsed = parse(&[("PORT", "3000")]);
        assert_eq!(parsed.options.port, "3000");
        assert_eq!(parsed.options.readiness_check_port, "3000");
        assert!(parsed.warnings.is_empty());
        let parsed = parse(&[("PORT", "3000"), ("AWS_LWA_PORT", "4000")]);
        assert_eq!(parsed.options.port, "4000");
    }

    #[test]
    fn deprecated_names_work_with_a_warning() {
        // covers CFG-2, CFG-3, CFG-4, CFG-5, CFG-7, CFG-8
        let parsed = parse(&[
            ("HOST", "0.0.0.0"),
            ("READINESS_CHECK_PORT", "9000"),
            ("READINESS_CHECK_PATH", "/health"),
            ("READINESS_CHECK_PROTOCOL", "TCP"),
            ("ASYNC_INIT", "true"),
            ("REMOVE_BASE_PATH", "/prod"),
        ]);
        let o = &parsed.options;
        assert_eq!(o.host, "0.0.0.0");
        assert_eq!(o.readiness_check_port, "9000");
        assert_eq!(o.readiness_check_path, "/health");
        assert_eq!(o.readiness_check_protocol, Protocol::Tcp);
        assert!(o.async_init);
        assert_eq!(o.base_path.as_deref(), Some("/prod"));
        assert_eq!(parsed.warnings.len(), 6, "{:?}", parsed.warnings);
        assert!(parsed
            .warnings
            .iter()
            .any(|w| w.contains("HOST is deprecated") && w.contains("AWS_LWA_HOST")));
    }

    #[test]
    fn new_names_win_over_deprecated_ones() {
        let parsed = parse(&[("HOST", "0.0.0.0"), ("AWS_LWA_HOST", "localhost")]);
        assert_eq!(parsed.options.host, "localhost");
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    #[allow(deprecated)] // the deprecated minimum is what this test is about
    fn healthy_status_lists_and_ranges() {
        // covers CFG-6
        let parsed = parse(&[("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "200-202, 404")]);
        assert_eq!(
            parsed.options.readiness_check_healthy_status,
            vec![200, 201, 202, 404]
        );
        let parsed = parse(&[("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "400")]);
        assert_eq!(
            parsed.options.readiness_check_healthy_status,
            (100..400).collect::<Vec<u16>>()
        );
        assert_eq!(parsed.options.readiness_check_min_unhealthy_status, 400);
        assert_eq!(parsed.warnings.len(), 1);
        // the list wins over the deprecated minimum
        let parsed = parse(&[
            ("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "400"),
            ("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "200"),
        ]);
        assert_eq!(parsed.options.readiness_check_healthy_status, vec![200]);
        // options given in code: the minimum applies when the list is left at its default
        let options = AdapterOptions {
            readiness_check_min_unhealthy_status: 300,
            ..parse(&[]).options
        };
        let checked = ParsedOptions::for_options(&options, |_| None);
        let healthy = checked.into_settings().unwrap().healthy_status;
        assert_eq!(healthy, (100..300).collect::<Vec<u16>>());
    }

    #[test]
    fn healthy_status_that_parses_to_nothing_is_an_error() {
        // covers CFG-20
        let parsed = parse(&[("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "ok, 700")]);
        assert_eq!(parsed.errors.len(), 1);
        assert!(parsed.errors[0].contains("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS"));
        assert!(parsed.errors[0].contains("ok, 700"), "{:?}", parsed.errors);
        let parsed = parse(&[("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "200,abc")]);
        assert!(parsed.errors.is_empty());
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].contains("`abc`"));
    }

    #[test]
    fn unusable_values_are_errors_naming_the_variable() {
        // covers CFG-20
        for (name, value) in [
            ("AWS_LWA_PORT", "abc"),
            ("AWS_LWA_PORT", "70000"),
            ("AWS_LWA_PORT", "0"),
            ("PORT", "x"),
            ("AWS_LWA_READINESS_CHECK_PORT", "-1"),
            ("AWS_LWA_HOST", "my host"),
            ("AWS_LWA_READINESS_CHECK_PATH", "/a b"),
            ("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "my proxy"),
            ("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "127.0.0.1"),
        ] {
            let parsed = parse(&[(name, value)]);
            assert_eq!(
                parsed.errors.len(),
                1,
                "{name}={value}: {:?}",
                parsed.errors
            );
            assert!(parsed.errors[0].contains(name) && parsed.errors[0].contains(value));
            assert!(parsed.settings().is_none());
            let error = parsed.into_settings().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
        }
    }

    #[test]
    fn options_given_in_code_are_checked_by_the_same_rules() {
        // covers CFG-20 (Adapter::new's path)
        let given = |change: &dyn Fn(&mut AdapterOptions)| {
            let mut options = parse(&[]).options;
            change(&mut options);
            ParsedOptions::for_options(&options, |_| None)
        };
        let checked = given(&|o| o.port = "abc".into());
        assert_eq!(
            checked.errors,
            [r#"AdapterOptions::port "abc" (AWS_LWA_PORT) is not a valid port (1-65535)"#]
        );
        let checked = given(&|o| o.readiness_check_path = "health".into());
        assert!(checked.errors[0].contains("readiness_check_path"));
        let checked = given(&|o| o.readiness_check_healthy_status = Vec::new());
        assert!(checked.errors[0].contains("readiness_check_healthy_status"));
        let checked = given(&|o| o.authorization_source = Some("bad header".into()));
        assert!(checked.errors.is_empty());
        assert!(checked.warnings[0].contains("authorization_source"));
        let checked = given(&|o| {
            o.compression = true;
            o.invoke_mode = LambdaInvokeMode::ResponseStream;
        });
        assert!(checked.warnings[0].contains("AWS_LWA_ENABLE_COMPRESSION is ignored"));
        assert!(!checked.settings().unwrap().compression);
    }

    #[test]
    fn unknown_values_warn_and_use_the_default() {
        // covers CFG-20 warnings, CFG-5, CFG-7, CFG-10, CFG-11
        for (name, value) in [
            ("AWS_LWA_INVOKE_MODE", "streamx"),
            ("AWS_LWA_READINESS_CHECK_PROTOCOL", "grpc"),
            ("AWS_LWA_ASYNC_INIT", "yes"),
            ("AWS_LWA_ENABLE_COMPRESSION", "on"),
            ("AWS_LWA_AUTHORIZATION_SOURCE", "bad header"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "many"),
        ] {
            let parsed = parse(&[(name, value)]);
            assert!(parsed.errors.is_empty());
            assert_eq!(parsed.warnings.len(), 1, "{name}");
            assert!(parsed.warnings[0].contains(name) && parsed.warnings[0].contains(value));
        }
        assert_eq!(
            parse(&[("AWS_LWA_INVOKE_MODE", "streamx")])
                .options
                .invoke_mode,
            LambdaInvokeMode::Buffered
        );
    }

    #[test]
    fn invoke_mode_and_booleans_ignore_case() {
        // covers CFG-10, CFG-11
        let parsed = parse(&[
            ("AWS_LWA_INVOKE_MODE", "RESPONSE_STREAM"),
            ("AWS_LWA_ENABLE_COMPRESSION", "TRUE"),
        ]);
        assert_eq!(parsed.options.invoke_mode, LambdaInvokeMode::ResponseStream);
        assert!(parsed.options.compression);
        assert_eq!(
            LambdaInvokeMode::from("Response_Stream"),
            LambdaInvokeMode::ResponseStream
        );
        assert_eq!(Protocol::from("TCP"), Protocol::Tcp);
        assert_eq!(Protocol::from("grpc"), Protocol::Http);
    }

    #[test]
    fn error_status_codes_and_other_paths() {
        // covers CFG-9, CFG-12, CFG-13
        let parsed = parse(&[
            ("AWS_LWA_ERROR_STATUS_CODES", "500,502-504"),
            ("AWS_LWA_PASS_THROUGH_PATH", "sqs"),
            ("AWS_LWA_AUTHORIZATION_SOURCE", "X-Api-Auth"),
        ]);
        assert_eq!(
            parsed.options.error_status_codes,
            Some(vec![500, 502, 503, 504])
        );
        assert_eq!(parsed.options.pass_through_path, "/sqs");
        assert_eq!(
            parsed.options.authorization_source.as_deref(),
            Some("X-Api-Auth")
        );
        assert_eq!(parsed.warnings.len(), 1);
    }

    #[test]
    fn timeouts_in_seconds() {
        // covers CFG-21
        let checked = settings(&[
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "2.5"),
            ("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "0"),
        ]);
        assert_eq!(checked.readiness_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(checked.pool_idle_timeout, Duration::ZERO);
        let parsed = parse(&[("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "soon")]);
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].contains("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS"));
        let checked = parsed.into_settings().unwrap();
        assert_eq!(checked.pool_idle_timeout, Duration::from_secs(4));
        // The same options, set in code.
        let checked = checked
            .with_pool_idle_timeout(Duration::from_secs(9))
            .with_readiness_check_timeout(Some(Duration::ZERO));
        assert_eq!(checked.pool_idle_timeout, Duration::from_secs(9));
        assert_eq!(
            checked.readiness_timeout, None,
            "zero waits as long as Lambda allows"
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let parsed = parse(&[("AWS_LWA_PORT", ""), ("AWS_LWA_INVOKE_MODE", " ")]);
        assert_eq!(parsed.options.port, "8080");
        assert!(parsed.warnings.is_empty() && parsed.errors.is_empty());
    }

    #[test]
    fn lambda_environment_with_defaults() {
        // covers CFG-14, CFG-15, LIF-4, LIF-7
        let checked = settings(&[]);
        assert_eq!(checked.runtime_api, "127.0.0.1:9001");
        assert_eq!(checked.loop_api, "127.0.0.1:9001");
        assert_eq!(checked.concurrency(), 1);
        assert_eq!(checked.function.function_name, "lambda-adapter");
        assert_eq!(checked.function.memory, 128);
        assert_eq!(checked.function.version, "$LATEST");
        assert_eq!(checked.initialization, Initialization::OnDemand);
        let checked = settings(&[
            ("AWS_LAMBDA_RUNTIME_API", "10.0.0.1:9001"),
            ("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "127.0.0.1:9009"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"),
        ]);
        assert_eq!(
            checked.runtime_api, "10.0.0.1:9001",
            "registration never uses the proxy"
        );
        assert_eq!(checked.loop_api, "127.0.0.1:9009");
        assert_eq!(checked.concurrency(), 8);
        assert_eq!(checked.initialization, Initialization::SnapStart);
        assert_eq!(
            settings(&[("AWS_LAMBDA_MAX_CONCURRENCY", "0")]).concurrency(),
            1
        );
        let parsed = parse(&[("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "x y")]);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.runtime_api(), "127.0.0.1:9001");
    }

    #[test]
    fn help_names_every_variable_the_adapter_reads() {
        // covers PKG-7: the help's list and the variables read are the same
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let _ = AdapterOptions::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_string());
            None
        });
        let asked = asked.into_inner();
        let listed: Vec<&str> = VARIABLES.iter().map(|(name, _, _)| *name).collect();
        // Read by the logging set-up, not here.
        let logging = ["AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_LOG_FORMAT"];
        for name in &listed {
            assert!(
                asked.contains(*name) || logging.contains(name),
                "{name} is not read"
            );
        }
        // Older names and Lambda's own function details, named in the lines of their new names.
        let unlisted = [
            "PORT",
            "HOST",
            "READINESS_CHECK_PORT",
            "READINESS_CHECK_PATH",
            "READINESS_CHECK_PROTOCOL",
            "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS",
            "ASYNC_INIT",
            "REMOVE_BASE_PATH",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_LAMBDA_LOG_GROUP_NAME",
        ];
        for name in &asked {
            assert!(
                listed.contains(&name.as_str()) || unlisted.contains(&name.as_str()),
                "{name} is read but not in --help"
            );
        }
        assert!(usage().contains("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"));
    }
}
