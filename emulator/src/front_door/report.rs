//! The one line Lambda logs at the end of every invocation, in the emulator's short form:
//! `REPORT RequestId: <id>\tDuration: 12.34 ms\tStatus: success`.

use std::fmt;
use std::io::Write;
use std::time::Duration;

/// How an invocation ended, as the REPORT line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// The function returned a result (whatever its HTTP status).
    Success,
    /// The function reported an error, its streamed response failed, or its result was refused.
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
    pub status: ReportStatus,
}

impl Report {
    /// Prints the line to stderr, where Lambda's platform lines go in the emulator (a closed
    /// stderr loses the line rather than failing the invocation).
    pub fn print(&self) {
        let _ = writeln!(std::io::stderr().lock(), "{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "REPORT RequestId: {}\tDuration: {:.2} ms\tStatus: {}",
            self.request_id,
            self.duration.as_secs_f64() * 1000.0,
            self.status.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_format() {
        let report = Report {
            request_id: "8f5e1a2b-0000-4000-8000-000000000001".to_owned(),
            duration: Duration::from_micros(12_340),
            status: ReportStatus::Timeout,
        };
        assert_eq!(
            report.to_string(),
            "REPORT RequestId: 8f5e1a2b-0000-4000-8000-000000000001\tDuration: 12.34 ms\tStatus: timeout"
        );
    }
}
