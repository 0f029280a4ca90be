//! The front door (SPEC PKG-6, EMU-3, EMU-4): a plain HTTP/1.1 server on loopback that plays the
//! AWS service in front of the function (a Function URL, API Gateway, an ALB, VPC Lattice), so
//! that curl and browsers can reach it.
//!
//! Data crosses it in one direction at a time: [`request`] turns an HTTP request into the event
//! the chosen [`EventSource`] would send; [`response`] turns the function's result (buffered
//! JSON, or a streamed prelude and body) back into the HTTP response that source would give;
//! [`service`] does the I/O in between (queueing the invocation on the control plane, the
//! timeout, streaming, raw `Invoke` calls) and prints one [`report::Report`] line per invocation.
//! The translations are pure functions, tested beside their code.

pub mod report;
pub mod request;
pub mod response;
pub mod service;

pub use report::{Report, ReportStatus};
pub use request::{to_event, Front, IncomingRequest};
pub use response::{HttpReply, PreludeScanner};
pub use service::{FrontDoor, FrontDoorConfig};

use std::fmt;

/// Which AWS service the front door pretends to be; it decides the event and result shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    /// A Lambda Function URL (payload format 2.0).
    FunctionUrl,
    /// API Gateway HTTP API, payload format 2.0.
    HttpApiV2,
    /// API Gateway REST API (payload format 1.0).
    RestApiV1,
    /// An Application Load Balancer target group with single-value headers.
    Alb,
    /// An ALB target group with multi-value headers turned on.
    AlbMultiValue,
    /// A VPC Lattice target group (event structure 2.0).
    Lattice,
}

impl EventSource {
    /// Every source, in the order `--help` lists them.
    pub const ALL: [EventSource; 6] = [
        EventSource::FunctionUrl,
        EventSource::HttpApiV2,
        EventSource::RestApiV1,
        EventSource::Alb,
        EventSource::AlbMultiValue,
        EventSource::Lattice,
    ];

    /// The `--source` names: `function-url`, `v2`, `v1`, `alb`, `alb-multi`, `lattice`.
    pub fn from_name(name: &str) -> Option<EventSource> {
        match name.trim().to_ascii_lowercase().as_str() {
            "function-url" | "url" => Some(EventSource::FunctionUrl),
            "v2" | "http-api" => Some(EventSource::HttpApiV2),
            "v1" | "rest-api" | "rest" => Some(EventSource::RestApiV1),
            "alb" => Some(EventSource::Alb),
            "alb-multi" => Some(EventSource::AlbMultiValue),
            "lattice" | "vpc-lattice" => Some(EventSource::Lattice),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EventSource::FunctionUrl => "function-url",
            EventSource::HttpApiV2 => "v2",
            EventSource::RestApiV1 => "v1",
            EventSource::Alb => "alb",
            EventSource::AlbMultiValue => "alb-multi",
            EventSource::Lattice => "lattice",
        }
    }

    /// Payload format 2.0 (Function URL, HTTP API): `cookies` in events and results.
    pub fn is_v2(self) -> bool {
        matches!(self, EventSource::FunctionUrl | EventSource::HttpApiV2)
    }

    pub fn is_alb(self) -> bool {
        matches!(self, EventSource::Alb | EventSource::AlbMultiValue)
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for source in EventSource::ALL {
            assert_eq!(EventSource::from_name(source.name()), Some(source));
        }
        assert_eq!(EventSource::from_name("ALB"), Some(EventSource::Alb));
        assert_eq!(EventSource::from_name("sqs"), None);
    }
}
