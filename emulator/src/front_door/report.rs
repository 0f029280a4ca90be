//! The two lines the emulator prints for every request (SPEC EMU-3):
//!
//! - Lambda's `REPORT` line, with its fields in Lambda's order and a true `Status`:
//!   `REPORT RequestId: <id>\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t`
//!   `Max Memory Used: 41 MB\tInit Duration: 180.21 ms\tStatus: success`, and
//!   `\tStatus: error\tError Type: Adapter.AppTimeout` when the function, or the adapter in its
//!   place, failed. `Init Duration` (or, with SnapStart, `Restore Duration`) is on an
//!   environment's first invocation only; as for container images and custom runtimes, the
//!   billed duration then includes it.
//! - An access line: `[emulator] 127.0.0.1 "GET /echo?x=1" 200 function-url buffered 3.21 ms
//!   RequestId: <id>`: who asked, for what, the status the client got, the source and whether the
//!   answer was streamed.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::environment::StartUp;
use crate::output::{self, Origin, Sink};

/// How an invocation ended, as the REPORT line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// The function returned a result of the app's (whatever its HTTP status).
    Success,
    /// The function reported an error, its streamed response failed, its result was refused, the
    /// adapter answered in the app's place (its own 502/504), or a process exited.
    Error,
    /// The function did not finish within its timeout.
    Timeout,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Success => "success",
            ReportStatus::Error => "error",
            ReportStatus::Timeout => "timeout",
        }
    }
}

/// One invocation's REPORT line; `Display` formats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub request_id: String,
    pub duration: Duration,
    pub memory_size_mb: u32,
    /// `None` where `/proc` cannot be read: the field is left out.
    pub max_memory_used_mb: Option<u64>,
    /// On an environment's first invocation.
    pub start_up: Option<StartUp>,
    pub status: ReportStatus,
    pub error_type: Option<String>,
}

impl Report {
    /// Whole milliseconds, rounded up, of the invocation and any start-up before it.
    pub fn billed_ms(&self) -> u128 {
        let start_up = match self.start_up {
            Some(StartUp::Init(init) | StartUp::Restore(init)) => init,
            None => Duration::ZERO,
        };
        (self.duration + start_up).as_micros().div_ceil(1000)
    }

    /// Prints the line to stderr, where Lambda's platform lines go in the emulator.
    pub fn print(&self) {
        output::print(Origin::Platform, Sink::Stderr, &self.to_string());
    }
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "REPORT RequestId: {}\tDuration: {}\tBilled Duration: {} ms\tMemory Size: {} MB",
            self.request_id,
            milliseconds(self.duration),
            self.billed_ms(),
            self.memory_size_mb
        )?;
        if let Some(used) = self.max_memory_used_mb {
            write!(f, "\tMax Memory Used: {used} MB")?;
        }
        match self.start_up {
            Some(StartUp::Init(init)) => write!(f, "\tInit Duration: {}", milliseconds(init))?,
            Some(StartUp::Restore(restore)) => {
                write!(f, "\tRestore Duration: {}", milliseconds(restore))?
            }
            None => {}
        }
        write!(f, "\tStatus: {}", self.status.as_str())?;
        if let Some(error_type) = &self.error_type {
            write!(f, "\tError Type: {error_type}")?;
        }
        Ok(())
    }
}

/// How the client got its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In one piece.
    Buffered,
    /// Relayed chunk by chunk as the function streamed it.
    Streamed,
    /// The function was not invoked (its environment could not serve).
    NotInvoked,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Buffered => "buffered",
            Delivery::Streamed => "streamed",
            Delivery::NotInvoked => "not-invoked",
        }
    }
}

/// One request's access line; `Display` formats it (without the `[emulator] ` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLine {
    pub client: IpAddr,
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// The status the client got.
    pub status: u16,
    /// The front door's source (`function-url`, …), or `raw:<kind>` for the Invoke API.
    pub source: String,
    pub delivery: Delivery,
    pub duration: Duration,
    pub request_id: String,
}

impl AccessLine {
    pub fn print(&self) {
        output::print(Origin::Emulator, Sink::Stderr, &self.to_string());
    }
}

impl fmt::Display for AccessLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} \"{} {}\" {} {} {} {} RequestId: {}",
            self.client,
            self.method,
            self.target.escape_debug(),
            self.status,
            self.source,
            self.delivery.as_str(),
            milliseconds(self.duration),
            self.request_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emu3_report_line_like_lambdas() {
        let report = Report {
            request_id: "8f5e1a2b-0000-4000-8000-000000000001".to_owned(),
            duration: Duration::from_micros(12_340),
            memory_size_mb: 128,
            max_memory_used_mb: Some(41),
            start_up: Some(StartUp::Init(Duration::from_micros(180_210))),
            status: ReportStatus::Success,
            error_type: None,
        };
        assert_eq!(
            report.to_string(),
            "REPORT RequestId: 8f5e1a2b-0000-4000-8000-000000000001\tDuration: 12.34 ms\tBilled Duration: 193 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 41 MB\tInit Duration: 180.21 ms\tStatus: success"
        );
        let warm = Report {
            start_up: None,
            max_memory_used_mb: None,
            status: ReportStatus::Error,
            error_type: Some("Adapter.AppTimeout".to_owned()),
            ..report.clone()
        };
        assert_eq!(
            warm.to_string(),
            "REPORT RequestId: 8f5e1a2b-0000-4000-8000-000000000001\tDuration: 12.34 ms\tBilled Duration: 13 ms\t\
             Memory Size: 128 MB\tStatus: error\tError Type: Adapter.AppTimeout"
        );
        let restored = Report {
            start_up: Some(StartUp::Restore(Duration::from_millis(3))),
            ..report
        };
        assert!(restored
            .to_string()
            .contains("\tRestore Duration: 3.00 ms\t"));
        assert_eq!(restored.billed_ms(), 16);
    }

    #[test]
    fn emu3_access_line() {
        let line = AccessLine {
            client: IpAddr::from([127, 0, 0, 1]),
            method: "GET".into(),
            target: "/echo?x=\"1\"".into(),
            status: 200,
            source: "function-url".into(),
            delivery: Delivery::Streamed,
            duration: Duration::from_micros(3_210),
            request_id: "r-1".into(),
        };
        assert_eq!(
            line.to_string(),
            "127.0.0.1 \"GET /echo?x=\\\"1\\\"\" 200 function-url streamed 3.21 ms RequestId: r-1"
        );
    }
}
