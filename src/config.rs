//! `AdapterOptions` and how it is read from the `AWS_LWA_*` environment variables (SPEC CFG-1 … CFG-13, CFG-20).
//!
//! Parsing takes an explicit source of variables (a closure), so tests hand it a map and never touch
//! the process environment; `AdapterOptions::default()` passes the real environment through the same
//! code. Every value is checked here: an unknown value with an obvious meaning gives one warning and
//! the default, a value that makes the adapter unusable gives an error naming the variable.

use std::env;
use std::fmt;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery};

/// How the adapter checks that the app is ready (CFG-5).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Protocol {
    /// `GET` the readiness path and look at the status code.
    #[default]
    Http,
    /// A TCP connect to the readiness port is enough.
    Tcp,
}

impl Protocol {
    fn parse(value: &str) -> Option<Protocol> {
        match value.to_ascii_lowercase().as_str() {
            "http" => Some(Protocol::Http),
            "tcp" => Some(Protocol::Tcp),
            _ => None,
        }
    }
}

impl From<&str> for Protocol {
    /// Any case of `http` or `tcp`; anything else is `Http`.
    fn from(value: &str) -> Self {
        Protocol::parse(value).unwrap_or_default()
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

impl LambdaInvokeMode {
    fn parse(value: &str) -> Option<LambdaInvokeMode> {
        match value.to_ascii_lowercase().as_str() {
            "buffered" => Some(LambdaInvokeMode::Buffered),
            "response_stream" => Some(LambdaInvokeMode::ResponseStream),
            _ => None,
        }
    }
}

impl From<&str> for LambdaInvokeMode {
    /// Any case of `buffered` or `response_stream`; anything else is `Buffered`.
    fn from(value: &str) -> Self {
        LambdaInvokeMode::parse(value).unwrap_or_default()
    }
}

/// The app's healthy status codes when nothing is configured: `100-499`.
pub(crate) const DEFAULT_HEALTHY_STATUS: &str = "100-499";
/// The published crate's default for the deprecated `readiness_check_min_unhealthy_status`.
pub(crate) const DEFAULT_MIN_UNHEALTHY_STATUS: u16 = 500;

/// Configuration of the adapter. `AdapterOptions::default()` reads the environment variables listed
/// in the README; a struct literal with `..Default::default()` overrides some of them in code.
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
    /// Deprecated: statuses below this are healthy. Used only when `readiness_check_healthy_status`
    /// is left at its default; prefer `readiness_check_healthy_status`.
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
    /// Give up waiting for the app after this long (`AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS`);
    /// `None` waits as long as Lambda lets it.
    pub readiness_check_timeout: Option<Duration>,
    /// How long an unused connection to the app stays open for reuse
    /// (`AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS`, default 4 s); zero opens a connection per request.
    pub pool_idle_timeout: Duration,
}

/// The default of `AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS`.
pub(crate) const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

impl Default for AdapterOptions {
    /// Reads the process environment. Warnings and errors are logged; an unusable value is kept
    /// as it was given so that [`crate::Adapter::new`] rejects it.
    fn default() -> Self {
        let parsed = AdapterOptions::from_lookup(|name| env::var(name).ok());
        parsed.log();
        parsed.options
    }
}

/// The outcome of reading configuration: the options, plus what was wrong with the input.
#[derive(Clone, Debug)]
pub struct ParsedOptions {
    /// The options, with defaults where a value was missing or unknown.
    pub options: AdapterOptions,
    /// One line per value that was unknown or deprecated; start-up goes on.
    pub warnings: Vec<String>,
    /// One line per value that makes the adapter unusable; start-up must stop.
    pub errors: Vec<String>,
}

impl ParsedOptions {
    /// Logs the warnings and errors through `tracing`.
    pub fn log(&self) {
        for warning in &self.warnings {
            tracing::warn!("{warning}");
        }
        for error in &self.errors {
            tracing::error!("{error}");
        }
    }
}

impl AdapterOptions {
    /// Reads the configuration from `lookup`, a function from a variable's name to its value.
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
        let mut vars = Vars {
            lookup,
            warnings: Vec::new(),
            errors: Vec::new(),
        };
        let options = vars.read_options();
        ParsedOptions {
            options,
            warnings: vars.warnings,
            errors: vars.errors,
        }
    }
}

/// A variable's value together with the name it was found under.
struct Found {
    name: &'static str,
    value: String,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.value)
    }
}

struct Vars<F> {
    lookup: F,
    warnings: Vec<String>,
    errors: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
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

    fn bool(&mut self, found: Option<Found>) -> bool {
        let Some(found) = found else { return false };
        match found.value.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                self.warnings
                    .push(format!("{found} is not `true` or `false`: using false"));
                false
            }
        }
    }

    fn port(&mut self, found: Option<Found>, default: &str) -> String {
        let Some(found) = found else {
            return default.to_string();
        };
        if let Err(reason) = check_port(&found.value) {
            self.errors.push(format!("{found} {reason}"));
        }
        found.value
    }

    fn read_options(&mut self) -> AdapterOptions {
        let host = match self.get_or_deprecated("AWS_LWA_HOST", "HOST") {
            Some(found) => {
                if let Err(reason) = check_host(&found.value) {
                    self.errors.push(format!("{found} {reason}"));
                }
                found.value
            }
            None => "127.0.0.1".to_string(),
        };
        let port_var = self.get("AWS_LWA_PORT").or_else(|| self.get("PORT"));
        let port = self.port(port_var, "8080");
        let readiness_var =
            self.get_or_deprecated("AWS_LWA_READINESS_CHECK_PORT", "READINESS_CHECK_PORT");
        let readiness_check_port = self.port(readiness_var, &port);

        let readiness_check_path =
            match self.get_or_deprecated("AWS_LWA_READINESS_CHECK_PATH", "READINESS_CHECK_PATH") {
                Some(found) => self.path(found),
                None => "/".to_string(),
            };

        let readiness_check_protocol = match self.get_or_deprecated(
            "AWS_LWA_READINESS_CHECK_PROTOCOL",
            "READINESS_CHECK_PROTOCOL",
        ) {
            Some(found) => Protocol::parse(&found.value).unwrap_or_else(|| {
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
        let pass_through_path = match self.get("AWS_LWA_PASS_THROUGH_PATH") {
            Some(found) => self.path(found),
            None => "/events".to_string(),
        };
        let async_init_var = self.get_or_deprecated("AWS_LWA_ASYNC_INIT", "ASYNC_INIT");
        let async_init = self.bool(async_init_var);
        let compression_var = self.get("AWS_LWA_ENABLE_COMPRESSION");
        let compression = self.bool(compression_var);

        let invoke_mode = match self.get("AWS_LWA_INVOKE_MODE") {
            Some(found) => LambdaInvokeMode::parse(&found.value).unwrap_or_else(|| {
                self.warnings.push(format!(
                    "{found} is not `buffered` or `response_stream`: using buffered"
                ));
                LambdaInvokeMode::Buffered
            }),
            None => LambdaInvokeMode::Buffered,
        };

        let authorization_source = self.get("AWS_LWA_AUTHORIZATION_SOURCE").and_then(|found| {
            if http::HeaderName::from_bytes(found.value.as_bytes()).is_ok() {
                Some(found.value)
            } else {
                self.warnings.push(format!(
                    "{found} is not a valid header name: no header is moved to authorization"
                ));
                None
            }
        });

        // CFG-14: used by the invocation loop (see `runtime::LoopSettings`); checked here with the
        // rest so that a bad value stops start-up before anything else happens.
        if let Some(found) = self.get("AWS_LWA_LAMBDA_RUNTIME_API_PROXY") {
            if check_address(&found.value).is_err() {
                self.errors
                    .push(format!("{found} is not a host:port address"));
            }
        }

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

        let readiness_check_timeout = self
            .seconds(
                "AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS",
                "waiting as long as Lambda allows",
            )
            .filter(|timeout| !timeout.is_zero());
        let pool_idle_timeout = self
            .seconds("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "using 4")
            .unwrap_or(DEFAULT_POOL_IDLE_TIMEOUT);

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
            readiness_check_timeout,
            pool_idle_timeout,
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

    /// A URL path: a missing leading `/` is added with a warning, characters that cannot be in
    /// a URL are an error.
    fn path(&mut self, found: Found) -> String {
        let path = if found.value.starts_with('/') {
            found.value.clone()
        } else {
            self.warnings.push(format!(
                "{found} does not start with `/`: using /{}",
                found.value
            ));
            format!("/{}", found.value)
        };
        if PathAndQuery::try_from(path.as_str()).is_err() {
            self.errors.push(format!("{found} is not a valid URL path"));
        }
        path
    }

    /// CFG-6: the healthy set, from the list, else from the deprecated minimum unhealthy status.
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

        if let Some(found) = self.get("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS") {
            let (codes, invalid) = parse_status_list(&found.value);
            if codes.is_empty() {
                self.errors.push(format!(
                    "{found} contains no valid status code or range (expected e.g. 200-399,404)"
                ));
            } else if !invalid.is_empty() {
                self.warnings.push(format!(
                    "{found}: ignoring invalid entries {}",
                    invalid.join(", ")
                ));
            }
            return (codes, min_unhealthy.unwrap_or(DEFAULT_MIN_UNHEALTHY_STATUS));
        }
        match min_unhealthy {
            Some(n) => {
                self.warnings.push(format!(
                    "AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS is deprecated: use AWS_LWA_READINESS_CHECK_HEALTHY_STATUS=100-{}",
                    n - 1
                ));
                ((100..n).collect(), n)
            }
            None => (
                parse_status_list(DEFAULT_HEALTHY_STATUS).0,
                DEFAULT_MIN_UNHEALTHY_STATUS,
            ),
        }
    }
}

/// Parses `200-399,404`-style lists of status codes and ranges. Returns the codes and the entries
/// that are not valid (codes outside 100-599, reversed ranges, text).
pub(crate) fn parse_status_list(value: &str) -> (Vec<u16>, Vec<String>) {
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

/// A TCP port the app can listen on.
pub(crate) fn check_port(value: &str) -> Result<u16, &'static str> {
    match value.parse::<u16>() {
        Ok(0) | Err(_) => Err("is not a valid port (1-65535)"),
        Ok(port) => Ok(port),
    }
}

/// A `host:port` address, as `AWS_LAMBDA_RUNTIME_API` holds.
pub(crate) fn check_address(value: &str) -> Result<(), &'static str> {
    match Authority::try_from(value) {
        Ok(authority) if authority.port_u16().is_some() && !value.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => Err("is not a host:port address"),
    }
}

/// A host name or IP address that can stand in a URL.
pub(crate) fn check_host(value: &str) -> Result<(), &'static str> {
    let usable = !value.is_empty()
        && !value.contains(['/', '@', '?', '#'])
        && !value.chars().any(char::is_whitespace)
        && Authority::try_from(format!("{value}:1").as_str()).is_ok();
    if usable {
        Ok(())
    } else {
        Err("is not a valid host name or IP address")
    }
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

    #[test]
    fn defaults_when_nothing_is_set() {
        // covers CFG-1 … CFG-13 defaults
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
        assert_eq!(o.readiness_check_timeout, None);
        assert_eq!(o.pool_idle_timeout, Duration::from_secs(4));
        assert!(parsed.warnings.is_empty() && parsed.errors.is_empty());
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
    }

    #[test]
    fn healthy_status_that_parses_to_nothing_is_an_error() {
        // covers CFG-20
        let parsed = parse(&[("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "ok, 700")]);
        assert_eq!(parsed.errors.len(), 1);
        assert!(parsed.errors[0].contains("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS"));
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
        }
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
        let parsed = parse(&[
            ("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "2.5"),
            ("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "0"),
        ]);
        assert_eq!(
            parsed.options.readiness_check_timeout,
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parsed.options.pool_idle_timeout, Duration::ZERO);
        let parsed = parse(&[("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "soon")]);
        assert_eq!(parsed.options.pool_idle_timeout, Duration::from_secs(4));
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].contains("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS"));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let parsed = parse(&[("AWS_LWA_PORT", ""), ("AWS_LWA_INVOKE_MODE", " ")]);
        assert_eq!(parsed.options.port, "8080");
        assert!(parsed.warnings.is_empty() && parsed.errors.is_empty());
    }
}
