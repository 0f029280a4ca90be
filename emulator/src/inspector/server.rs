//! The inspector's HTTP server (SPEC EMU-5), on 127.0.0.1 only:
//!
//! - `GET /` the page; `/inspector.css`, `/inspector.js` its style and script;
//! - `GET /api/info` what the emulator runs (source, front door, function);
//! - `GET /api/invocations` every invocation's summary, newest first;
//! - `GET /api/invocations/{id}` one invocation in full;
//! - `GET /api/stream` server-sent events: an `invocation` event with a summary whenever one
//!   starts or changes (and a comment every 15 s, so a closed page is noticed).
//!
//! Requests must be addressed to a loopback name (`127.0.0.1`, `localhost`, `[::1]`): a web page
//! elsewhere whose domain was made to resolve to 127.0.0.1 (DNS rebinding) gets `403`, never the
//! secrets the inspector shows.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, HOST};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::Inspector;
use crate::server::{full_body, BoxError, ChannelBody, HttpServer, ResponseBody};

const PAGE: &str = include_str!("page/index.html");
const STYLE: &str = include_str!("page/inspector.css");
const SCRIPT: &str = include_str!("page/inspector.js");
/// Time between two keep-alive comments on the event stream.
const STREAM_PING: Duration = Duration::from_secs(15);

/// The running inspector server; dropping it stops it.
#[derive(Debug)]
pub struct InspectorServer {
    server: HttpServer,
}

impl InspectorServer {
    /// Serves `inspector` on `addr` (a loopback address); `info` is what `/api/info` answers.
    pub async fn bind(
        addr: SocketAddr,
        inspector: Arc<Inspector>,
        info: Value,
    ) -> io::Result<InspectorServer> {
        let info = Arc::new(info);
        let server = HttpServer::bind(addr, move |request| {
            let inspector = inspector.clone();
            let info = info.clone();
            async move { Ok::<_, BoxError>(route(&inspector, &info, request)) }
        })
        .await?;
        Ok(InspectorServer { server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

fn route(
    inspector: &Arc<Inspector>,
    info: &Value,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    if !addressed_to_loopback(&request) {
        return text(
            StatusCode::FORBIDDEN,
            "text/plain; charset=utf-8",
            "the inspector answers only at 127.0.0.1 or localhost: its pages show secrets\n",
        );
    }
    if request.method() != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "the inspector only reads\n",
        );
    }
    let path = request.uri().path();
    match path {
        "/" | "/index.html" => text(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/inspector.css" => text(StatusCode::OK, "text/css; charset=utf-8", STYLE),
        "/inspector.js" => text(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT),
        "/api/info" => json_reply(StatusCode::OK, info),
        "/api/invocations" => json_reply(StatusCode::OK, &inspector.list()),
        "/api/stream" => stream(inspector.subscribe()),
        _ => match path
            .strip_prefix("/api/invocations/")
            .and_then(|id| id.parse::<u64>().ok())
        {
            Some(id) => match inspector.detail(id) {
                Some(detail) => json_reply(StatusCode::OK, &detail),
                None => json_reply(
                    StatusCode::NOT_FOUND,
                    &json!({"message": format!("no invocation {id} (the inspector keeps the last {})", super::HISTORY)}),
                ),
            },
            None => text(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "not found\n",
            ),
        },
    }
}

/// Whether the request's one `Host` names a loopback host (any port).
fn addressed_to_loopback<B>(request: &Request<B>) -> bool {
    let mut hosts = request.headers().get_all(HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return false;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "::1"
}

fn text(
    status: StatusCode,
    content_type: &'static str,
    body: &'static str,
) -> Response<ResponseBody> {
    let mut response = Response::new(full_body(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json_reply(status: StatusCode, value: &Value) -> Response<ResponseBody> {
    let mut response = Response::new(full_body(value.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `text/event-stream` of `invocation` events; `reload` when the page fell behind.
fn stream(mut changes: broadcast::Receiver<Value>) -> Response<ResponseBody> {
    let (sender, receiver) = mpsc::channel::<Result<Bytes, BoxError>>(16);
    tokio::spawn(async move {
        if sender
            .send(Ok(Bytes::from_static(b": connected\n\n")))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let message = tokio::select! {
                change = changes.recv() => match change {
                    Ok(summary) => format!("event: invocation\ndata: {summary}\n\n"),
                    Err(broadcast::error::RecvError::Lagged(_)) => "event: reload\ndata: {}\n\n".to_owned(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = tokio::time::sleep(STREAM_PING) => ": ping\n\n".to_owned(),
            };
            // A closed page (or a stopped server) ends the task.
            if sender.send(Ok(Bytes::from(message))).await.is_err() {
                return;
            }
        }
    });
    let mut response = Response::new(ChannelBody::new(receiver).boxed());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: Option<&str>) -> Request<()> {
        let mut builder = Request::get("/");
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn emu5_only_loopback_names_are_answered() {
        for host in [
            "127.0.0.1:9001",
            "localhost:9001",
            "LOCALHOST",
            "[::1]:9001",
            "127.0.0.1",
        ] {
            assert!(addressed_to_loopback(&with_host(Some(host))), "{host}");
        }
        let twice = Request::get("/")
            .header(HOST, "127.0.0.1")
            .header(HOST, "evil.example")
            .body(())
            .unwrap();
        assert!(!addressed_to_loopback(&twice));
        for host in [
            Some("evil.example:9001"),
            Some("127.0.0.1.evil.example"),
            Some("10.0.0.1:9001"),
            None,
        ] {
            assert!(!addressed_to_loopback(&with_host(host)), "{host:?}");
        }
    }
}
