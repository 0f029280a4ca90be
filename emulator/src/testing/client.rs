//! A plain HTTP/1.1 client for tests: one request per fresh loopback connection, as curl would
//! send it, to a control plane (PROTOCOL.md), a front door (PKG-6, EMU-*) or a test app.
//!
//! These helpers panic, naming what failed, when the server does not answer within
//! [`RESPONSE_WAIT`]: they are for tests, where that is a failure.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// The bound on connecting, on the response head, and on reading the body: generous, since it
/// only matters when a test fails.
pub const RESPONSE_WAIT: Duration = Duration::from_secs(20);

/// The header that carries Lambda's request id on every front-door response.
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// A response read to its end.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: StatusCode,
    /// Every header, repeated ones in order.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    /// The first value of a header, if it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Every value of a header, in order (lossy UTF-8).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect()
    }

    /// The request id the emulator's front door names on every response.
    pub fn request_id(&self) -> &str {
        self.header(REQUEST_ID_HEADER)
            .unwrap_or_else(|| panic!("no {REQUEST_ID_HEADER} header: {:?}", self.headers))
    }
}

/// A fresh HTTP/1.1 connection to `addr`, ready for requests with bodies of type `B`.
pub async fn connect<B>(addr: SocketAddr) -> SendRequest<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let connect = async {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|err| panic!("connect to {addr}: {err}"));
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap_or_else(|err| panic!("HTTP/1.1 handshake with {addr}: {err}"));
        tokio::spawn(connection);
        sender
    };
    tokio::time::timeout(RESPONSE_WAIT, connect)
        .await
        .unwrap_or_else(|_| panic!("no connection to {addr} within {RESPONSE_WAIT:?}"))
}

/// Sends `request` on a fresh connection and returns the response head (body still streaming).
pub async fn open<B>(addr: SocketAddr, request: Request<B>) -> Response<Incoming>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut sender = connect(addr).await;
    tokio::time::timeout(RESPONSE_WAIT, sender.send_request(request))
        .await
        .unwrap_or_else(|_| panic!("no response head from {addr} within {RESPONSE_WAIT:?}"))
        .unwrap_or_else(|err| panic!("no response head from {addr}: {err}"))
}

/// Sends `request` on a fresh connection and reads the whole response.
pub async fn send<B>(addr: SocketAddr, request: Request<B>) -> Answer
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let (parts, body) = open(addr, request).await.into_parts();
    let body = tokio::time::timeout(RESPONSE_WAIT, body.collect())
        .await
        .unwrap_or_else(|_| panic!("no complete body from {addr} within {RESPONSE_WAIT:?}"))
        .unwrap_or_else(|err| panic!("an incomplete body from {addr}: {err}"))
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `method path` with `headers` (in order) and `body`, as [`send`] sends it.
pub async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(body.into()))
        .unwrap_or_else(|err| panic!("an invalid request to {path}: {err}"));
    send(addr, request).await
}

/// `GET path` with a `host` header naming `addr`, then `headers`.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    post_or_get(addr, Method::GET, path, headers, Bytes::new()).await
}

/// `POST path` with a `host` header naming `addr`, then `headers`, and `body`.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    post_or_get(addr, Method::POST, path, headers, body.into()).await
}

async fn post_or_get(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Answer {
    let host = addr.to_string();
    let mut all = vec![("host", host.as_str())];
    all.extend_from_slice(headers);
    call(addr, method, path, &all, body).await
}
