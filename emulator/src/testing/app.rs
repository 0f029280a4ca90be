//! [`TestApp`]: a real HTTP/1.1 web app on loopback that records every request it receives and
//! answers with a JSON echo, or with what the test scripted for a path prefix ([`Reply`]).
//!
//! Requests to the readiness path that carry no `x-amzn-lambda-context` header are the adapter's
//! readiness probes (RDY-1, RDY-5): they are recorded apart ([`TestApp::probes`]), so
//! [`TestApp::requests`] / [`TestApp::wait_request`] only see forwarded invocations.
//!
//! Its builders panic on an invalid status code or header: they are for tests.

use std::future::pending;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::ports::free_port;
use crate::server::{full_body, BoxError, ChannelBody, HttpServer, ResponseBody};
use crate::watched::first_found;

/// The header the adapter puts on every forwarded request; probes never carry it (RDY-5).
const LAMBDA_CONTEXT_HEADER: &str = "x-amzn-lambda-context";

/// One request as the app received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// Path and query exactly as on the wire (`req.uri()`).
    pub uri: String,
    /// The path, still percent-encoded.
    pub path: String,
    /// The query without its `?`, if there was one.
    pub query: Option<String>,
    /// The HTTP version.
    pub version: Version,
    /// All headers; repeated ones keep their order.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// When the app had read it.
    pub at: Instant,
}

impl RecordedRequest {
    /// The first value of a header (lossy UTF-8).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect()
    }

    /// `(name, value)` for every header value.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    /// The body, lossily decoded as UTF-8.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The default answer's body: `{"method","uri","path","query","headers","body_base64","body"}`.
    pub fn echo_json(&self) -> Value {
        json!({
            "method": self.method.as_str(),
            "uri": self.uri,
            "path": self.path,
            "query": self.query,
            "headers": self
                .header_pairs()
                .into_iter()
                .map(|(name, value)| json!([name, value]))
                .collect::<Vec<_>>(),
            "body_base64": base64::engine::general_purpose::STANDARD.encode(&self.body),
            "body": std::str::from_utf8(&self.body).ok(),
        })
    }
}

/// What the app answers; build with [`Reply::new`] and the chained setters.
pub struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: ReplyBody,
    delay: Option<Duration>,
}

enum ReplyBody {
    Full(Bytes),
    Scripted {
        chunks: Vec<(Duration, Bytes)>,
        then_abort: bool,
    },
    Channel(mpsc::UnboundedReceiver<BodyChunk>),
    DropConnection,
    Never,
}

type BodyChunk = Result<Bytes, BoxError>;

impl Reply {
    /// An empty answer with this status.
    pub fn new(status: u16) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).expect("a valid status code"),
            headers: Vec::new(),
            body: ReplyBody::Full(Bytes::new()),
            delay: None,
        }
    }

    /// `200` with `content-type: application/json`.
    pub fn json(value: &Value) -> Reply {
        Reply::new(200)
            .header("content-type", "application/json")
            .body(value.to_string())
    }

    /// `200` with `content-type: text/plain`.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::new(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(text.into())
    }

    /// The default answer: `200` and the JSON echo of the request.
    pub fn echo(request: &RecordedRequest) -> Reply {
        Reply::json(&request.echo_json())
    }

    /// A reply whose body the test feeds through the returned [`BodySender`] (chunked).
    pub fn channel(status: u16) -> (Reply, BodySender) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut reply = Reply::new(status);
        reply.body = ReplyBody::Channel(receiver);
        (reply, BodySender(sender))
    }

    /// No response at all: the connection is closed as soon as the request has been read.
    pub fn drop_connection() -> Reply {
        let mut reply = Reply::new(500);
        reply.body = ReplyBody::DropConnection;
        reply
    }

    /// No response until the client gives up (for deadline tests).
    pub fn never() -> Reply {
        let mut reply = Reply::new(500);
        reply.body = ReplyBody::Never;
        reply
    }

    /// Another status.
    pub fn status(mut self, status: u16) -> Reply {
        self.status = StatusCode::from_u16(status).expect("a valid status code");
        self
    }

    /// Adds a header; call again with the same name for a repeated header.
    pub fn header(self, name: &str, value: &str) -> Reply {
        self.header_bytes(name, value.as_bytes())
    }

    /// Adds a header whose value is raw bytes (e.g. Latin-1).
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Reply {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = HeaderValue::from_bytes(value).expect("a valid header value");
        self.headers.push((name, value));
        self
    }

    /// A complete body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Reply {
        self.body = ReplyBody::Full(body.into());
        self
    }

    /// A chunked body: each chunk is written after its delay.
    pub fn chunks<C: Into<Bytes>>(
        mut self,
        chunks: impl IntoIterator<Item = (Duration, C)>,
    ) -> Reply {
        self.body = ReplyBody::Scripted {
            chunks: chunks
                .into_iter()
                .map(|(delay, chunk)| (delay, chunk.into()))
                .collect(),
            then_abort: false,
        };
        self
    }

    /// After the scripted chunks, break the connection instead of ending the body.
    pub fn then_abort(mut self) -> Reply {
        if let ReplyBody::Scripted { then_abort, .. } = &mut self.body {
            *then_abort = true;
        }
        self
    }

    /// Wait this long before sending the response head.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    async fn into_response(self) -> Result<Response<ResponseBody>, BoxError> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let body = match self.body {
            ReplyBody::Full(bytes) => full_body(bytes),
            ReplyBody::Channel(receiver) => ChannelBody::new(receiver).boxed(),
            ReplyBody::Scripted { chunks, then_abort } => {
                let (sender, receiver) = mpsc::unbounded_channel();
                tokio::spawn(async move {
                    for (delay, chunk) in chunks {
                        tokio::time::sleep(delay).await;
                        if sender.send(Ok(chunk)).is_err() {
                            return;
                        }
                    }
                    if then_abort {
                        let _ = sender.send(Err("scripted body abort".into()));
                    }
                });
                ChannelBody::new(receiver).boxed()
            }
            ReplyBody::DropConnection => return Err("connection dropped as scripted".into()),
            ReplyBody::Never => return pending().await,
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        Ok(response)
    }
}

/// The answers of [`TestApp::route_held_echo`] that the test has not released yet.
#[derive(Clone, Default)]
pub struct HeldEchoes(Arc<Mutex<Vec<(BodySender, Bytes)>>>);

impl HeldEchoes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(BodySender, Bytes)>> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Sends every held answer and ends its body; returns how many there were.
    pub fn release(&self) -> usize {
        let answers: Vec<(BodySender, Bytes)> = self.lock().drain(..).collect();
        let count = answers.len();
        for (body, echo) in answers {
            body.send(echo);
            body.finish();
        }
        count
    }
}

/// Feeds a [`Reply::channel`] body. Dropping it (or [`BodySender::finish`]) ends the body.
pub struct BodySender(mpsc::UnboundedSender<BodyChunk>);

impl BodySender {
    /// Writes a chunk; `false` once the client is gone.
    pub fn send(&self, chunk: impl Into<Bytes>) -> bool {
        self.0.send(Ok(chunk.into())).is_ok()
    }

    /// Ends the body properly.
    pub fn finish(self) {}

    /// Breaks the connection mid-body.
    pub fn abort(self) {
        let _ = self.0.send(Err("body aborted by the test".into()));
    }
}

type Responder = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Route {
    prefix: String,
    responder: Responder,
}

#[derive(Default)]
struct Records {
    requests: Vec<RecordedRequest>,
    probes: Vec<RecordedRequest>,
}

struct AppState {
    records: watch::Sender<Records>,
    routes: RwLock<Vec<Route>>,
    readiness_path: String,
    /// Non-zero: the readiness path answers this status instead of being routed.
    readiness_status: AtomicU16,
    cursor: AtomicUsize,
}

impl AppState {
    fn responder(&self, path: &str) -> Option<Responder> {
        let routes = self
            .routes
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        // Longest matching prefix; among equals, the route added last (`max_by_key` keeps the
        // last of equal maxima, so iterate in insertion order).
        routes
            .iter()
            .filter(|route| path.starts_with(&route.prefix))
            .max_by_key(|route| route.prefix.len())
            .map(|route| route.responder.clone())
    }

    /// All of `list`, once it holds at least `count` requests.
    async fn wait_for_count(
        &self,
        count: usize,
        timeout: Duration,
        list: impl Fn(&Records) -> &Vec<RecordedRequest>,
    ) -> Option<Vec<RecordedRequest>> {
        self.wait_for(timeout, |records| {
            let list = list(records);
            (list.len() >= count).then(|| list.clone())
        })
        .await
    }

    async fn wait_for<R>(
        &self,
        timeout: Duration,
        check: impl FnMut(&Records) -> Option<R>,
    ) -> Option<R> {
        first_found(&self.records, timeout, check).await
    }
}

/// Configures a [`TestApp`] before it listens.
#[derive(Clone)]
pub struct TestAppBuilder {
    routes: Vec<Route>,
    readiness_path: String,
    readiness_status: u16,
}

impl TestAppBuilder {
    /// The path the adapter probes (default `/`).
    pub fn readiness_path(mut self, path: &str) -> Self {
        self.readiness_path = path.to_owned();
        self
    }

    /// The readiness path answers 503 until [`TestApp::set_ready`].
    pub fn not_ready(self) -> Self {
        self.readiness_status(503)
    }

    /// The readiness path answers this status until [`TestApp::set_ready`].
    pub fn readiness_status(mut self, status: u16) -> Self {
        self.readiness_status = status;
        self
    }

    /// Answers requests whose path starts with `prefix` (see [`TestApp::route`]).
    pub fn route(
        mut self,
        prefix: &str,
        responder: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.routes.push(Route {
            prefix: prefix.to_owned(),
            responder: Arc::new(responder),
        });
        self
    }

    /// Listens on an ephemeral loopback port.
    pub async fn start(self) -> io::Result<TestApp> {
        self.start_on(0).await
    }

    /// Like [`TestAppBuilder::start_on`], retried every 20 ms for up to `timeout` while the port
    /// is still taken (by an app that has just closed it, or another suite's app).
    pub async fn start_on_retrying(self, port: u16, timeout: Duration) -> io::Result<TestApp> {
        let give_up = Instant::now() + timeout;
        loop {
            match self.clone().start_on(port).await {
                Err(err) if Instant::now() < give_up => {
                    eprintln!("127.0.0.1:{port} not free yet ({err}); retrying");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                started => return started,
            }
        }
    }

    /// Listens on `port` of 127.0.0.1 (see [`TestApp::reserve_port`]).
    pub async fn start_on(self, port: u16) -> io::Result<TestApp> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let state = Arc::new(AppState {
            records: watch::Sender::new(Records::default()),
            routes: RwLock::new(self.routes),
            readiness_path: self.readiness_path,
            readiness_status: AtomicU16::new(self.readiness_status),
            cursor: AtomicUsize::new(0),
        });
        let handler_state = state.clone();
        let server = HttpServer::serve(listener, move |request| {
            handle(handler_state.clone(), request)
        })?;
        Ok(TestApp { server, state })
    }
}

async fn handle(
    state: Arc<AppState>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, BoxError> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let recorded = RecordedRequest {
        uri: parts.uri.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        method: parts.method,
        version: parts.version,
        headers: parts.headers,
        body,
        at: Instant::now(),
    };
    let on_readiness_path = recorded.path == state.readiness_path;
    let is_probe = on_readiness_path && !recorded.headers.contains_key(LAMBDA_CONTEXT_HEADER);
    let readiness_status = state.readiness_status.load(Ordering::SeqCst);
    let responder = state.responder(&recorded.path);
    let reply = if on_readiness_path && readiness_status != 0 {
        Reply::new(readiness_status).body("not ready")
    } else {
        match responder {
            Some(responder) => responder(&recorded),
            None => Reply::echo(&recorded),
        }
    };
    state.records.send_modify(|records| {
        if is_probe {
            records.probes.push(recorded);
        } else {
            records.requests.push(recorded);
        }
    });
    reply.into_response().await
}

/// A running app; dropping it closes the listener and every connection.
pub struct TestApp {
    server: HttpServer,
    state: Arc<AppState>,
}

impl TestApp {
    /// A ready app with the default echo on every path, on an ephemeral loopback port.
    pub async fn start() -> io::Result<TestApp> {
        Self::builder().start().await
    }

    /// An app to configure before it listens.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            routes: Vec::new(),
            readiness_path: "/".to_owned(),
            readiness_status: 0,
        }
    }

    /// A loopback port that was free a moment ago, for an app that will listen later.
    pub fn reserve_port() -> u16 {
        free_port().expect("an ephemeral loopback port")
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// The readiness path answers normally from now on.
    pub fn set_ready(&self) {
        self.state.readiness_status.store(0, Ordering::SeqCst);
    }

    /// The readiness path answers `status` from now on (`0`: normally).
    pub fn set_readiness_status(&self, status: u16) {
        self.state.readiness_status.store(status, Ordering::SeqCst);
    }

    /// Answers requests whose path starts with `prefix` (longest prefix wins; a later route with
    /// the same prefix replaces an earlier one).
    pub fn route(
        &self,
        prefix: &str,
        responder: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) {
        let mut routes = self
            .state
            .routes
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        routes.push(Route {
            prefix: prefix.to_owned(),
            responder: Arc::new(responder),
        });
    }

    /// Requests under `prefix` get the default echo, but only once the test releases them
    /// ([`HeldEchoes::release`]): for invocations that must be in flight together.
    pub fn route_held_echo(&self, prefix: &str) -> HeldEchoes {
        let held = HeldEchoes::default();
        let store = held.clone();
        self.route(prefix, move |request| {
            let (reply, body) = Reply::channel(200);
            let echo = Bytes::from(request.echo_json().to_string());
            store.lock().push((body, echo));
            reply.header("content-type", "application/json")
        });
        held
    }

    /// Answers the first request under `prefix` with `reply`, later ones with `410 Gone`.
    pub fn route_once(&self, prefix: &str, reply: Reply) {
        let slot = Mutex::new(Some(reply));
        self.route(prefix, move |_| {
            slot.lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .take()
                .unwrap_or_else(|| Reply::new(410).body("route_once already used"))
        });
    }

    /// Every forwarded (non-probe) request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.records.borrow().requests.clone()
    }

    /// Every readiness probe so far.
    pub fn probes(&self) -> Vec<RecordedRequest> {
        self.state.records.borrow().probes.clone()
    }

    /// The next forwarded request not yet returned by `wait_request`.
    pub async fn wait_request(&self, timeout: Duration) -> Option<RecordedRequest> {
        let index = self.state.cursor.load(Ordering::SeqCst);
        let request = self
            .state
            .wait_for(timeout, |records| records.requests.get(index).cloned())
            .await?;
        self.state.cursor.store(index + 1, Ordering::SeqCst);
        Some(request)
    }

    /// All forwarded requests, once there are at least `count`.
    pub async fn wait_requests(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<RecordedRequest>> {
        self.state
            .wait_for_count(count, timeout, |records| &records.requests)
            .await
    }

    /// The first forwarded request that satisfies `wanted`.
    pub async fn wait_request_matching(
        &self,
        timeout: Duration,
        wanted: impl Fn(&RecordedRequest) -> bool,
    ) -> Option<RecordedRequest> {
        self.state
            .wait_for(timeout, |records| {
                records.requests.iter().find(|r| wanted(r)).cloned()
            })
            .await
    }

    /// All probes, once there are at least `count`.
    pub async fn wait_probes(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<RecordedRequest>> {
        self.state
            .wait_for_count(count, timeout, |records| &records.probes)
            .await
    }
}
