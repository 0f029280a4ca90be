//! Log level and format from Lambda's own logging controls (SPEC CFG-16).
//!
//! `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls) wins, `RUST_LOG` is the
//! fallback, INFO the default. `AWS_LAMBDA_LOG_FORMAT=JSON` switches to one JSON object per line.

use std::str::FromStr;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// How the adapter logs: which events and in which format.
#[derive(Clone, Debug)]
pub struct LogSettings {
    filter: Targets,
    json: bool,
    warnings: Vec<String>,
}

impl LogSettings {
    /// Reads the settings from `lookup`, a function from a variable's name to its value.
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(lookup: F) -> Self {
        let mut warnings = Vec::new();
        let default = Targets::new().with_default(LevelFilter::INFO);
        let filter = if let Some(level) =
            lookup("AWS_LAMBDA_LOG_LEVEL").filter(|v| !v.trim().is_empty())
        {
            match lambda_level(&level) {
                Some(level) => Targets::new().with_default(level),
                None => {
                    warnings.push(format!(
                        "AWS_LAMBDA_LOG_LEVEL={level:?} is not TRACE, DEBUG, INFO, WARN, ERROR or FATAL: using INFO"
                    ));
                    default
                }
            }
        } else if let Some(spec) = lookup("RUST_LOG").filter(|v| !v.trim().is_empty()) {
            Targets::from_str(&spec).unwrap_or_else(|_| {
                warnings.push(format!(
                    "RUST_LOG={spec:?} is not a valid filter: using INFO"
                ));
                default
            })
        } else {
            default
        };
        let json = match lookup("AWS_LAMBDA_LOG_FORMAT") {
            Some(format) if format.eq_ignore_ascii_case("json") => true,
            Some(format) if format.eq_ignore_ascii_case("text") || format.trim().is_empty() => {
                false
            }
            Some(format) => {
                warnings.push(format!(
                    "AWS_LAMBDA_LOG_FORMAT={format:?} is not JSON or TEXT: using TEXT"
                ));
                false
            }
            None => false,
        };
        LogSettings {
            filter,
            json,
            warnings,
        }
    }

    /// Installs the global subscriber (writing to stderr) and logs any problem with the settings.
    /// Does nothing if a subscriber is already installed.
    pub fn init(self) {
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_target(false);
        let installed = if self.json {
            let layer = layer.json().flatten_event(true).with_filter(self.filter);
            tracing_subscriber::registry().with(layer).try_init()
        } else {
            let layer = layer.without_time().with_filter(self.filter);
            tracing_subscriber::registry().with(layer).try_init()
        };
        if installed.is_ok() {
            for warning in &self.warnings {
                tracing::warn!("{warning}");
            }
        }
    }
}

fn lambda_level(level: &str) -> Option<LevelFilter> {
    Some(match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "INFO" => LevelFilter::INFO,
        "WARN" | "WARNING" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        LogSettings::from_lookup(|name| map.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn lambda_level_wins_over_rust_log() {
        // covers CFG-16
        let s = settings(&[("AWS_LAMBDA_LOG_LEVEL", "debug"), ("RUST_LOG", "error")]);
        assert!(s
            .filter
            .would_enable("lambda_web_adapter", &tracing::Level::DEBUG));
        let s = settings(&[("RUST_LOG", "error")]);
        assert!(!s
            .filter
            .would_enable("lambda_web_adapter", &tracing::Level::WARN));
        let s = settings(&[]);
        assert!(s
            .filter
            .would_enable("lambda_web_adapter", &tracing::Level::INFO));
        assert!(!s
            .filter
            .would_enable("lambda_web_adapter", &tracing::Level::DEBUG));
        assert!(!s.json);
    }

    #[test]
    fn json_format_and_bad_values() {
        // covers CFG-16
        assert!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
        let s = settings(&[
            ("AWS_LAMBDA_LOG_FORMAT", "xml"),
            ("AWS_LAMBDA_LOG_LEVEL", "loud"),
        ]);
        assert!(!s.json);
        assert_eq!(s.warnings.len(), 2);
    }
}
