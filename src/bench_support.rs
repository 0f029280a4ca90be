//! Entry points for the criterion benchmarks in `benches/` only.
//!
//! **Not part of the API**: hidden from the docs, unstable, and free to change or disappear in any
//! release. Each function is a thin wrapper over a crate-private step of the invocation path
//! (SPEC EVT-1 … EVT-4, EVT-9, RSP-1 … RSP-3), so that the benchmarks time exactly the code the runtime
//! loop runs.

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, StatusCode};
use http_body_util::Full;
use lambda_http::Context;

use crate::error::AdapterError;
use crate::event::{self, EventSource};
use crate::request::ForwardRules;
use crate::response;

/// The event sources whose response shapes differ (a copy of the private `EventSource`;
/// `HttpApi` also stands for Function URLs, whose buffered responses have the same shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    RestApi,
    HttpApi,
    Alb { multi_value: bool },
    Lattice,
    PassThrough,
}

impl From<Source> for EventSource {
    fn from(source: Source) -> Self {
        match source {
            Source::RestApi => EventSource::RestApi,
            Source::HttpApi => EventSource::HttpApi,
            Source::Alb { multi_value } => EventSource::Alb { multi_value },
            Source::Lattice => EventSource::Lattice,
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
    response::to_lambda(source.into(), status, headers, body).to_bytes()
}
