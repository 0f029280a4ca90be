//! Fault injection against the real `lambda-adapter` binary: malformed events, an app that refuses,
//! resets, hangs, truncates, restarts or closes idle connections, oversized responses, a Runtime
//! API that fails, and signals (SPEC EVT-8, ERR-1 … ERR-4, RSP-7, RDY-6, CFG-21, LIF-4 … LIF-6).
//!
//! Every case checks that the process is still running where it should be and that the next
//! invocation is served. Faults the shared `TestApp` cannot produce come from [`RawApp`], a
//! hand-written HTTP/1.1 server on loopback, and [`RuntimeApiProxy`], a proxy in front of the
//! control plane that can answer `next` without a request id.

mod support;

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lambda_emulator::control_plane::epoch_ms_in;
use serde_json::Value;
use support::adapter::AdapterProcess;
use support::events;
use support::{
    adapter_command, final_output, BodySender, ControlPlane, Harness, InvocationResult,
    InvokeOptions, Reply, TestApp, TIMEOUT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const SECRET_TOKEN: &str = "SECRET-TOKEN-123";
const SECRET_COOKIE: &str = "SECRET-COOKIE-456";
const MIB: usize = 1024 * 1024;

// =============================================================================================
// Helpers shared by the cases
// =============================================================================================

/// Status and body of an HTTP answer, buffered or streamed; panics with the adapter's output for
/// anything else.
fn http_answer(h: &Harness, result: &InvocationResult) -> (u16, Vec<u8>) {
    match result {
        InvocationResult::Response { .. } => {
            let response = result
                .json()
                .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
            let status = response["statusCode"].as_u64().unwrap_or_else(|| {
                panic!(
                    "no statusCode in {response}; adapter output:\n{}",
                    h.adapter.logs()
                )
            });
            (status as u16, events::response_body(&response))
        }
        InvocationResult::Streamed(streamed) => {
            assert!(
                !streamed.failed(),
                "the stream ended with an error: {}; adapter output:\n{}",
                result.describe(),
                h.adapter.logs()
            );
            let status = streamed
                .status()
                .unwrap_or_else(|| panic!("no statusCode in the prelude: {}", result.describe()));
            (status, streamed.body.to_vec())
        }
        other => panic!(
            "expected an HTTP answer, got {}; adapter output:\n{}",
            other.describe(),
            h.adapter.logs()
        ),
    }
}

/// `(errorType of the body, errorMessage)` of an error result.
fn error_of(h: &Harness, result: &InvocationResult) -> (String, String) {
    let (_, body) = result
        .error()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    (
        body["errorType"].as_str().unwrap_or_default().to_owned(),
        body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    )
}

fn assert_no_panic(adapter: &AdapterProcess) {
    let logs = adapter.logs();
    assert!(
        !logs.contains("panicked"),
        "nothing in the adapter panics (ERR-3); its output:\n{logs}"
    );
}

/// The process still runs, and a fresh invocation is answered 200 by the app with what was sent.
async fn assert_serves_next(h: &Harness, tag: &str) {
    assert!(
        h.adapter.is_running(),
        "the adapter is still running after {tag}; its output:\n{}",
        h.adapter.logs()
    );
    let slug: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = format!("/next-after-{slug}");
    let body = format!("next body after {tag}");
    let result = h.invoke(events::http_v2("POST", &path).body(&body)).await;
    let (status, answer) = http_answer(h, &result);
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(
        status, 200,
        "the next invocation after {tag} is served: {answer}"
    );
    assert!(
        answer.contains(&path) && answer.contains(&body),
        "the next invocation's own answer after {tag}: {answer}"
    );
    assert!(h.adapter.is_running());
    assert_no_panic(&h.adapter);
}

/// A log line containing every one of `needles`; panics with the output when none comes.
async fn expect_log(adapter: &AdapterProcess, needles: &[&str]) -> String {
    adapter
        .wait_for_log_line(TIMEOUT, |line| {
            needles.iter().all(|needle| line.contains(needle))
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "no log line contains all of {needles:?}; adapter output:\n{}",
                adapter.logs()
            )
        })
}

/// Waits until at least `count` lines contain `needle`.
async fn wait_log_count(adapter: &AdapterProcess, needle: &str, count: usize) {
    let deadline = Instant::now() + TIMEOUT;
    while adapter.count_logs(needle) < count {
        assert!(
            Instant::now() < deadline,
            "fewer than {count} lines contain {needle:?}; adapter output:\n{}",
            adapter.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Lines of a text-format log at `level` (`"ERROR message"`, `" WARN message"`).
fn level_lines(logs: &str, level: &str) -> Vec<String> {
    logs.lines()
        .filter(|line| line.trim_start().starts_with(&format!("{level} ")))
        .map(str::to_owned)
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A harness whose adapter forwards to `port` (which the test serves, or not) and probes
/// readiness on a separate, ready `TestApp` (the harness's `app`).
async fn harness_for_port(port: u16, env: &[(&str, &str)]) -> Harness {
    let readiness = TestApp::start().await.expect("the readiness app listens");
    let readiness_port = readiness.port().to_string();
    let port = port.to_string();
    let mut all = vec![
        ("AWS_LWA_PORT", port.as_str()),
        ("AWS_LWA_READINESS_CHECK_PORT", readiness_port.as_str()),
    ];
    all.extend_from_slice(env);
    Harness::start_with_app(readiness, &all).await
}

/// Waits until nothing accepts connections on `port` any more.
async fn wait_port_closed(port: u16) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "port {port} still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A `TestApp` on `port`, retried briefly while the old listener's port is being released.
async fn start_app_on(port: u16) -> TestApp {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match TestApp::builder().start_on(port).await {
            Ok(app) => return app,
            Err(err) if Instant::now() < deadline => {
                eprintln!("binding port {port} again: {err}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => panic!("cannot listen on port {port} again: {err}"),
        }
    }
}

// =============================================================================================
// RawApp: a hand-written HTTP/1.1 server for faults the TestApp cannot produce
// =============================================================================================

/// One request as [`RawApp`] read it.
#[derive(Debug, Clone)]
struct RawRequest {
    /// 1 for the first accepted connection, 2 for the second, …
    connection: usize,
    method: String,
    path: String,
    body: Vec<u8>,
}

/// What [`RawApp`] does with a request.
enum Answer {
    /// Write these bytes (a complete response) and keep the connection for the next request.
    Reply(Vec<u8>),
    /// Break the connection with a TCP reset, before any response byte.
    Reset,
    /// Write these bytes, then close the connection.
    WriteAndClose(Vec<u8>),
}

#[derive(Debug, Default)]
struct RawRecord {
    accepted: usize,
    open: usize,
    /// Connections the app closed because they sat idle.
    idle_closed: usize,
    requests: Vec<RawRequest>,
}

type Script = Arc<dyn Fn(&RawRequest) -> Answer + Send + Sync>;

struct RawApp {
    addr: SocketAddr,
    record: Arc<watch::Sender<RawRecord>>,
    stop: watch::Sender<bool>,
}

impl RawApp {
    /// Listens on an ephemeral loopback port; with `idle_close`, a connection that carries no
    /// request for that long is closed by the app (like a server's keep-alive timeout).
    async fn start(
        idle_close: Option<Duration>,
        script: impl Fn(&RawRequest) -> Answer + Send + Sync + 'static,
    ) -> RawApp {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("the raw app listens");
        let addr = listener.local_addr().expect("a local address");
        let record = Arc::new(watch::Sender::new(RawRecord::default()));
        let (stop, stopped) = watch::channel(false);
        let script: Script = Arc::new(script);
        let accept_record = record.clone();
        tokio::spawn(async move {
            let mut accept_stopped = stopped.clone();
            loop {
                let stream = tokio::select! {
                    _ = accept_stopped.wait_for(|stop| *stop) => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let mut connection = 0;
                accept_record.send_modify(|record| {
                    record.accepted += 1;
                    record.open += 1;
                    connection = record.accepted;
                });
                let record = accept_record.clone();
                let script = script.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let _open = OpenConnection(record.clone());
                    tokio::select! {
                        _ = stopped.wait_for(|stop| *stop) => {}
                        () = serve_raw(stream, connection, idle_close, &script, &record) => {}
                    }
                });
            }
        });
        RawApp { addr, record, stop }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn requests(&self) -> Vec<RawRequest> {
        self.record.borrow().requests.clone()
    }

    fn requests_to(&self, path: &str) -> Vec<RawRequest> {
        self.requests()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    }

    fn accepted(&self) -> usize {
        self.record.borrow().accepted
    }

    /// Waits until `check` holds for the record; panics with `what` after [`TIMEOUT`].
    async fn wait(&self, what: &str, check: impl Fn(&RawRecord) -> bool) {
        let mut changes = self.record.subscribe();
        let waited = tokio::time::timeout(TIMEOUT, changes.wait_for(|record| check(record))).await;
        if !matches!(waited, Ok(Ok(_))) {
            panic!(
                "raw app: {what} did not happen; record: {:?}",
                self.record.borrow()
            );
        }
    }
}

impl Drop for RawApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Counts a connection as open while it lives.
struct OpenConnection(Arc<watch::Sender<RawRecord>>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.send_modify(|record| record.open -= 1);
    }
}

async fn serve_raw(
    mut stream: TcpStream,
    connection: usize,
    idle_close: Option<Duration>,
    script: &Script,
    record: &watch::Sender<RawRecord>,
) {
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    loop {
        let Some(request) =
            read_request(&mut stream, &mut buffer, connection, idle_close, record).await
        else {
            return;
        };
        let answer = script(&request);
        record.send_modify(|record| record.requests.push(request));
        match answer {
            Answer::Reply(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Answer::Reset => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = stream.set_zero_linger();
                return;
            }
            Answer::WriteAndClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                return;
            }
        }
    }
}

/// Reads one request (head, then a `content-length` body); `None` at end of stream, on an
/// error, or when the connection sat idle for `idle_close` (then the app closes it).
async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    connection: usize,
    idle_close: Option<Duration>,
    record: &watch::Sender<RawRecord>,
) -> Option<RawRequest> {
    let mut chunk = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        let read = match idle_close {
            Some(idle) if buffer.is_empty() => {
                match tokio::time::timeout(idle, stream.read(&mut chunk)).await {
                    Ok(read) => read,
                    Err(_) => {
                        let _ = stream.shutdown().await;
                        record.send_modify(|record| record.idle_closed += 1);
                        return None;
                    }
                }
            }
            _ => stream.read(&mut chunk).await,
        };
        match read {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    let mut request_line = head.lines().next().unwrap_or_default().split(' ');
    Some(RawRequest {
        connection,
        method: request_line.next().unwrap_or_default().to_owned(),
        path: request_line.next().unwrap_or_default().to_owned(),
        body,
    })
}

/// A complete `200` text response.
fn http_ok(body: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

/// Answers with the method, path and body it received.
fn raw_echo(request: &RawRequest) -> Answer {
    Answer::Reply(http_ok(
        format!(
            "{} {} {}",
            request.method,
            request.path,
            String::from_utf8_lossy(&request.body)
        )
        .as_bytes(),
    ))
}

/// The app's answer declares 100 body bytes, sends 10 and closes.
fn truncated_answer() -> Answer {
    Answer::WriteAndClose(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\n0123456789"
            .to_vec(),
    )
}

// =============================================================================================
// RuntimeApiProxy: answers `next` without a request id, forwards everything else
// =============================================================================================

type ProxyBody = BoxBody<Bytes, hyper::Error>;

struct RuntimeApiProxy {
    addr: SocketAddr,
    /// `next` calls answered with a bogus 200 so far.
    bogus_sent: Arc<AtomicUsize>,
    accept_loop: JoinHandle<()>,
}

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";

impl RuntimeApiProxy {
    /// Forwards to `upstream`, except that the first `bogus_nexts` `next` calls get `200 {}`
    /// without `Lambda-Runtime-Aws-Request-Id`.
    async fn start(upstream: SocketAddr, bogus_nexts: usize) -> RuntimeApiProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("the proxy listens");
        let addr = listener.local_addr().expect("a local address");
        let bogus_left = Arc::new(AtomicUsize::new(bogus_nexts));
        let bogus_sent = Arc::new(AtomicUsize::new(0));
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let (left, sent) = (bogus_left, bogus_sent.clone());
        let accept_loop = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (client, left, sent) = (client.clone(), left.clone(), sent.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        proxy_request(
                            request,
                            upstream,
                            client.clone(),
                            left.clone(),
                            sent.clone(),
                        )
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApiProxy {
            addr,
            bogus_sent,
            accept_loop,
        }
    }

    fn bogus_sent(&self) -> usize {
        self.bogus_sent.load(Ordering::SeqCst)
    }
}

impl Drop for RuntimeApiProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

fn full_proxy_body(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

async fn proxy_request(
    request: Request<Incoming>,
    upstream: SocketAddr,
    client: Client<HttpConnector, Incoming>,
    bogus_left: Arc<AtomicUsize>,
    bogus_sent: Arc<AtomicUsize>,
) -> Result<Response<ProxyBody>, Infallible> {
    let is_next = request.method() == http::Method::GET && request.uri().path() == NEXT_PATH;
    if is_next
        && bogus_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        bogus_sent.fetch_add(1, Ordering::SeqCst);
        let response = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header(
                "lambda-runtime-deadline-ms",
                epoch_ms_in(Duration::from_secs(30)).to_string(),
            )
            .body(full_proxy_body("{}"))
            .expect("a valid response");
        return Ok(response);
    }
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    parts.uri = format!("http://{upstream}{path}")
        .parse()
        .expect("a valid upstream URI");
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => Ok(response.map(BodyExt::boxed)),
        Err(err) => {
            let mut response = Response::new(full_proxy_body(format!("proxy: {err}")));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            Ok(response)
        }
    }
}

/// A harness whose invocation loop goes through a [`RuntimeApiProxy`] (CFG-14); registration
/// goes to the control plane directly.
async fn harness_behind_proxy(bogus_nexts: usize) -> (Harness, RuntimeApiProxy) {
    let cp = ControlPlane::start()
        .await
        .expect("the control plane listens");
    let proxy = RuntimeApiProxy::start(cp.addr(), bogus_nexts).await;
    let app = TestApp::start().await.expect("the test app listens");
    let adapter = adapter_command(cp.addr())
        .env("AWS_LWA_PORT", app.port().to_string())
        .env("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", proxy.addr.to_string())
        .spawn()
        .expect("the adapter binary starts");
    if cp.wait_registered(TIMEOUT).await.is_none() {
        panic!("no registration; adapter output:\n{}", adapter.logs());
    }
    (Harness { cp, app, adapter }, proxy)
}

// =============================================================================================
// EVT-8: malformed events
// =============================================================================================

/// The event fails as `Adapter.InvalidEvent` with a readable message, reaches nothing, and the
/// next invocation is served.
async fn assert_invalid_event(case: &str, event: impl Into<Bytes>) {
    let h = Harness::start(&[]).await;
    let result = h.invoke(event).await;
    let (error_type, message) = error_of(&h, &result);
    assert_eq!(error_type, "Adapter.InvalidEvent", "{case}: {message}");
    assert!(
        !message.trim().is_empty(),
        "{case}: a readable errorMessage"
    );
    assert!(
        h.app.requests().is_empty(),
        "{case}: nothing reached the app: {:?}",
        h.app.requests()
    );
    eprintln!("{case}: {error_type}: {message}");
    assert_serves_next(&h, case).await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_invalid_base64_body_is_an_invalid_event() {
    assert_invalid_event(
        "invalid base64 body",
        events::http_v2("POST", "/bad").base64_body("!!not base64!!"),
    )
    .await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_an_event_that_is_not_json_is_an_invalid_event() {
    assert_invalid_event("not JSON", "this is not json").await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_invalid_method_is_an_invalid_event() {
    assert_invalid_event("invalid method", events::rest_v1("GE T", "/bad")).await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_header_name_with_a_space_is_an_invalid_event() {
    assert_invalid_event(
        "header name with a space",
        events::http_v2("GET", "/bad").header("x bad", "1"),
    )
    .await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_header_value_with_a_newline_is_an_invalid_event() {
    assert_invalid_event(
        "header value with a newline",
        events::rest_v1("GET", "/bad").header("x-bad", "a\r\nx-injected: 1"),
    )
    .await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_v2_cookie_with_a_newline_is_an_invalid_event() {
    assert_invalid_event(
        "v2 cookie with a newline",
        events::http_v2("GET", "/bad").cookie("a=1\nb=2"),
    )
    .await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_an_empty_event_is_an_invalid_event() {
    assert_invalid_event("empty event", Bytes::new()).await;
}

// covers EVT-8, EVT-7: a `requestContext` that is a string makes no HTTP event; the event is
// JSON, so it is passed through as it is, not refused.
#[tokio::test]
async fn evt8_request_context_string_is_passed_through_not_refused() {
    let h = Harness::start(&[]).await;
    let event = serde_json::json!({
        "httpMethod": "GET",
        "path": "/ctx",
        "headers": {"accept": "*/*"},
        "requestContext": "not an object",
        "body": null,
    });
    let result = h.invoke(event.to_string()).await;
    let echo = result
        .json()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    let request = h
        .app
        .wait_request(TIMEOUT)
        .await
        .expect("the event reached the app");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/events", "the pass-through path");
    assert_eq!(request.header_all("content-type"), ["application/json"]);
    assert_eq!(request.json(), Some(event), "the raw event as the body");
    assert_eq!(
        echo["path"], "/events",
        "the app's JSON is the result: {echo}"
    );
    assert_serves_next(&h, "a string requestContext").await;
}

// =============================================================================================
// ERR-1: app unreachable
// =============================================================================================

// covers ERR-1
#[tokio::test]
async fn err1_refused_connection_gives_an_http_event_a_502_with_a_short_text_body() {
    let port = TestApp::reserve_port();
    let h = harness_for_port(port, &[]).await;
    let result = h.invoke(events::http_v2("GET", "/refused")).await;
    let response = result
        .json()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    assert_eq!(response["statusCode"], 502, "{response}");
    let body = String::from_utf8(events::response_body(&response)).expect("a text body");
    assert!(
        body.len() < 200 && body.contains("Bad Gateway"),
        "a short plain body: {body:?}"
    );
    let content_type = response["headers"]["content-type"].as_str().unwrap_or("");
    assert!(content_type.starts_with("text/plain"), "{response}");
    let line = expect_log(&h.adapter, &["did not answer", "Adapter.AppUnreachable"]).await;
    assert!(
        line.to_lowercase().contains("refused"),
        "the log names the cause: {line}"
    );

    let _app = start_app_on(port).await;
    assert_serves_next(&h, "a refused connection").await;
}

// covers ERR-1, EVT-7
#[tokio::test]
async fn err1_refused_connection_fails_a_pass_through_event_as_app_unreachable() {
    let port = TestApp::reserve_port();
    let h = harness_for_port(port, &[]).await;
    let result = h.invoke(events::sqs(&["hello"]).to_string()).await;
    let (error_type, message) = error_of(&h, &result);
    assert_eq!(error_type, "Adapter.AppUnreachable", "{message}");
    assert!(message.contains("did not answer"), "{message}");
    expect_log(&h.adapter, &["did not answer", "Adapter.AppUnreachable"]).await;

    let _app = start_app_on(port).await;
    assert_serves_next(&h, "a refused pass-through event").await;
}

// covers ERR-1: a POST the app may have seen is never sent twice.
#[tokio::test]
async fn err1_reset_before_the_response_head_fails_a_post_without_retrying_it() {
    let raw = RawApp::start(None, |request| {
        if request.path == "/reset" {
            Answer::Reset
        } else {
            raw_echo(request)
        }
    })
    .await;
    let h = harness_for_port(raw.port(), &[]).await;
    let result = h
        .invoke(events::http_v2("POST", "/reset").body("order #1"))
        .await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        raw.requests_to("/reset").len(),
        1,
        "the POST reached the app exactly once: {:?}",
        raw.requests()
    );
    expect_log(&h.adapter, &["did not answer", "Adapter.AppUnreachable"]).await;
    assert_serves_next(&h, "a reset POST").await;
    assert_eq!(raw.requests_to("/reset").len(), 1, "no late retry");
}

// covers ERR-1: a GET that broke before any answer is tried once more, on a fresh connection.
#[tokio::test]
async fn err1_reset_before_the_response_head_retries_a_get_once_on_a_fresh_connection() {
    let raw = RawApp::start(None, |request| {
        // The first attempt is reset, later ones are served.
        if request.path == "/reset-once" && request.connection == 1 {
            Answer::Reset
        } else {
            raw_echo(request)
        }
    })
    .await;
    let h = harness_for_port(raw.port(), &[]).await;
    let result = h.invoke(events::http_v2("GET", "/reset-once")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(
        status,
        200,
        "the retry succeeds: {}; adapter output:\n{}",
        String::from_utf8_lossy(&body),
        h.adapter.logs()
    );
    assert_eq!(String::from_utf8_lossy(&body), "GET /reset-once ");
    let attempts = raw.requests_to("/reset-once");
    assert_eq!(attempts.len(), 2, "two attempts: {attempts:?}");
    assert_ne!(
        attempts[0].connection, attempts[1].connection,
        "the retry used a fresh connection"
    );
    assert_serves_next(&h, "a reset GET").await;
    assert_eq!(raw.requests_to("/reset-once").len(), 2, "one retry only");
}

// covers ERR-1, CFG-21: the app closes idle keep-alive connections after 1 s, shorter than the
// adapter's pool idle timeout (4 s); a request right after such a close must not fail.
#[tokio::test]
async fn err1_connections_the_app_closed_while_idle_are_not_used_5_rounds() {
    let raw = RawApp::start(Some(Duration::from_secs(1)), raw_echo).await;
    let h = harness_for_port(raw.port(), &[]).await;
    let mut second_calls_ok = 0;
    for round in 0..5 {
        for call in ["first", "second"] {
            let body = format!("round {round} {call} call");
            let result = h
                .invoke(events::http_v2("POST", "/keep-alive").body(&body))
                .await;
            let (status, answer) = http_answer(&h, &result);
            let answer = String::from_utf8_lossy(&answer).into_owned();
            assert_eq!(
                status,
                200,
                "round {round}, {call} call: {answer}; adapter output:\n{}",
                h.adapter.logs()
            );
            assert_eq!(answer, format!("POST /keep-alive {body}"));
            if call == "second" {
                second_calls_ok += 1;
                break;
            }
            // The app closes the connection it just served once it has been idle for 1 s.
            let closed_before = raw.record.borrow().idle_closed;
            raw.wait("the idle connection closed by the app", |record| {
                record.idle_closed > closed_before && record.open == 0
            })
            .await;
        }
    }
    assert_eq!(second_calls_ok, 5, "the second call succeeds 5 of 5");
    assert_eq!(
        raw.requests_to("/keep-alive").len(),
        10,
        "each call reached the app once"
    );
    assert_serves_next(&h, "5 idle closes").await;
}

// covers CFG-21: `AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS=0` disables pooling.
#[tokio::test]
async fn cfg21_pool_idle_timeout_zero_opens_a_new_connection_per_request() {
    let raw = RawApp::start(None, raw_echo).await;
    let h = harness_for_port(raw.port(), &[("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "0")]).await;
    for index in 0..5 {
        let body = format!("unpooled {index}");
        let result = h
            .invoke(events::http_v2("POST", "/unpooled").body(&body))
            .await;
        let (status, answer) = http_answer(&h, &result);
        assert_eq!(status, 200);
        assert_eq!(
            String::from_utf8_lossy(&answer),
            format!("POST /unpooled {body}")
        );
        // The adapter closes the connection once the answer is read: nothing is kept.
        raw.wait("the adapter closed its connection", |record| {
            record.open == 0
        })
        .await;
    }
    let connections: Vec<usize> = raw
        .requests_to("/unpooled")
        .iter()
        .map(|request| request.connection)
        .collect();
    assert_eq!(connections, [1, 2, 3, 4, 5], "one connection per request");
    assert_serves_next(&h, "unpooled requests").await;
}

// covers CFG-21 (the default, 4 s): the control for the case above, consecutive requests
// share one connection.
#[tokio::test]
async fn cfg21_default_pool_reuses_one_connection_for_consecutive_requests() {
    let raw = RawApp::start(None, raw_echo).await;
    let h = harness_for_port(raw.port(), &[]).await;
    for index in 0..5 {
        let body = format!("pooled {index}");
        let result = h
            .invoke(events::http_v2("POST", "/pooled").body(&body))
            .await;
        assert_eq!(http_answer(&h, &result).0, 200);
    }
    let connections: Vec<usize> = raw
        .requests_to("/pooled")
        .iter()
        .map(|request| request.connection)
        .collect();
    assert_eq!(connections, [1; 5], "one kept-alive connection");
    assert_eq!(raw.accepted(), 1);
    assert_serves_next(&h, "pooled requests").await;
}

// covers ERR-1: the app process dies and comes back on the same port.
#[tokio::test]
async fn err1_app_restart_on_the_same_port_502_during_the_outage_then_served() {
    let mut h = Harness::start(&[]).await;
    let port = h.app.port();
    let result = h.invoke(events::http_v2("GET", "/before")).await;
    assert_eq!(http_answer(&h, &result).0, 200, "before the outage");

    // The app process dies: its listener and every connection go away. (A stand-in on another
    // port, never addressed, takes its place in the harness.)
    let placeholder = TestApp::start().await.expect("the test app listens");
    drop(std::mem::replace(&mut h.app, placeholder));
    wait_port_closed(port).await;
    let result = h.invoke(events::http_v2("GET", "/during")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(
        status,
        502,
        "during the outage: {}",
        String::from_utf8_lossy(&body)
    );
    assert!(h.adapter.is_running());

    // The app comes back on the same port.
    h.app = start_app_on(port).await;
    for index in 0..2 {
        let path = format!("/after-restart-{index}");
        let result = h.invoke(events::http_v2("GET", &path)).await;
        let (status, _) = http_answer(&h, &result);
        assert_eq!(status, 200, "invocation {index} after the restart");
        let request = h.app.wait_request(TIMEOUT).await.expect("forwarded");
        assert_eq!(request.path, path);
    }
    assert_serves_next(&h, "an app restart").await;
}

// covers ERR-1 (an incomplete answer), RSP-7's sibling: a body shorter than its
// content-length is a 502, never a truncated 200.
#[tokio::test]
async fn err1_truncated_buffered_body_gives_502_and_the_log_names_the_cause() {
    let raw = RawApp::start(None, |request| {
        if request.path == "/truncated" {
            truncated_answer()
        } else {
            raw_echo(request)
        }
    })
    .await;
    let h = harness_for_port(raw.port(), &[]).await;
    let result = h.invoke(events::http_v2("GET", "/truncated")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert!(
        !String::from_utf8_lossy(&body).contains("0123456789"),
        "no partial body is passed off as the answer"
    );
    let line = expect_log(&h.adapter, &["reading the app's response body failed"]).await;
    let cause = line
        .split("reading the app's response body failed: ")
        .nth(1)
        .unwrap_or_default();
    assert!(
        line.contains("ERROR") && cause.len() > 5,
        "an error line with the cause: {line}"
    );
    assert_serves_next(&h, "a truncated body").await;
}

// covers STR-3, ERR-1: a truncated body in response_stream mode ends the stream with the error
// trailers after what did arrive.
#[tokio::test]
async fn str3_truncated_streaming_body_ends_with_error_trailers() {
    let raw = RawApp::start(None, |request| {
        if request.path == "/truncated" {
            truncated_answer()
        } else {
            raw_echo(request)
        }
    })
    .await;
    let h = harness_for_port(raw.port(), &[("AWS_LWA_INVOKE_MODE", "response_stream")]).await;
    let result = h.invoke(events::function_url("GET", "/truncated")).await;
    let streamed = result
        .streamed()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    assert_eq!(streamed.status(), Some(200), "the head had arrived");
    assert_eq!(
        streamed.body, "0123456789",
        "the 10 bytes the app sent before closing arrive"
    );
    assert_eq!(
        streamed.error_type.as_deref(),
        Some("Adapter.AppResponseError"),
        "the error trailer: {streamed:?}; adapter output:\n{}",
        h.adapter.logs()
    );
    assert!(streamed.error_body.is_some(), "{streamed:?}");
    assert!(streamed.completed, "ended with trailers, not cut");
    expect_log(&h.adapter, &["failed mid-stream"]).await;
    assert_serves_next(&h, "a truncated stream").await;
}

// =============================================================================================
// ERR-2: deadline
// =============================================================================================

// covers ERR-2
#[tokio::test]
async fn err2_a_hanging_app_gets_504_posted_before_the_deadline() {
    let h = Harness::start(&[]).await;
    h.app.route("/hang", |_| Reply::never());
    let deadline_ms = epoch_ms_in(Duration::from_millis(1500));
    let invocation = h.cp.invoke_with(
        events::http_v2("GET", "/hang"),
        InvokeOptions {
            deadline_ms: Some(deadline_ms),
            ..Default::default()
        },
    );
    let delivered = invocation.wait_delivered(TIMEOUT).await.unwrap();
    let result = h.result_of(&invocation).await;
    let answered_ms = now_ms();
    let answered = Instant::now();
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("Gateway Timeout"));
    eprintln!(
        "ERR-2: picked up, answered {} ms later, {} ms before the deadline",
        (answered - delivered).as_millis(),
        deadline_ms as i64 - answered_ms as i64
    );
    assert!(
        answered_ms < deadline_ms,
        "the 504 was posted before the deadline: {answered_ms} vs {deadline_ms}"
    );
    assert!(
        answered_ms + 1000 >= deadline_ms,
        "the app had until close to the deadline: answered {} ms early",
        deadline_ms - answered_ms
    );
    assert!(
        h.app.wait_request(TIMEOUT).await.is_some(),
        "the app got it"
    );
    expect_log(&h.adapter, &["did not answer within", "Adapter.AppTimeout"]).await;
    assert_serves_next(&h, "a hang past the deadline").await;
}

async fn slow_answer_with_deadline(deadline_ms: Option<u64>, case: &str) {
    let h = Harness::start(&[]).await;
    h.app.route("/slow", |_| {
        Reply::text("the slow answer").delay(Duration::from_millis(300))
    });
    let started = Instant::now();
    let result = h
        .invoke_with(
            events::http_v2("GET", "/slow"),
            InvokeOptions {
                deadline_ms,
                ..Default::default()
            },
        )
        .await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 200, "{case}: {}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"the slow answer", "{case}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{case}: the app's own delay passed"
    );
    assert_eq!(h.adapter.count_logs("Adapter.AppTimeout"), 0, "{case}");
    assert_serves_next(&h, case).await;
}

// covers ERR-2
#[tokio::test]
async fn err2_an_absent_deadline_applies_no_bound() {
    slow_answer_with_deadline(None, "no deadline").await;
}

// covers ERR-2
#[tokio::test]
async fn err2_a_deadline_already_past_applies_no_bound() {
    slow_answer_with_deadline(Some(now_ms() - 10_000), "a past deadline").await;
}

// =============================================================================================
// RSP-7: response size
// =============================================================================================

fn text_of_size(size: usize) -> String {
    "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(size)
        .collect()
}

// covers RSP-7
#[tokio::test]
async fn rsp7_a_7_mib_response_gives_the_client_a_502_explaining_the_limit() {
    let h = Harness::start(&[]).await;
    h.app.route("/big", |_| Reply::text(text_of_size(7 * MIB)));
    let result = h.invoke(events::http_v2("GET", "/big")).await;
    let (status, body) = http_answer(&h, &result);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("6 MB"), "the body explains the limit: {body}");
    let line = expect_log(&h.adapter, &["bytes as a Lambda payload"]).await;
    let size: usize = line
        .split("response is ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("the log says the size: {line}"));
    assert!(size >= 7 * MIB, "{size} in {line}");
    assert_serves_next(&h, "a 7 MiB response").await;
}

// covers RSP-7, EVT-7
#[tokio::test]
async fn rsp7_a_7_mib_pass_through_result_is_a_response_too_large_error() {
    let h = Harness::start(&[]).await;
    h.app.route("/events", |_| {
        Reply::new(200)
            .header("content-type", "application/json")
            .body(format!("{{\"data\":\"{}\"}}", text_of_size(7 * MIB)))
    });
    let result = h.invoke(events::sqs(&["big please"]).to_string()).await;
    let (error_type, message) = error_of(&h, &result);
    assert_eq!(error_type, "Adapter.ResponseTooLarge", "{message}");
    assert!(message.contains("limit"), "{message}");
    assert_serves_next(&h, "a 7 MiB pass-through result").await;
}

// covers RSP-7
#[tokio::test]
async fn rsp7_a_5_mib_response_passes_normally() {
    let h = Harness::start(&[]).await;
    let text = text_of_size(5 * MIB);
    let expected = text.clone();
    h.app.route("/five", move |_| Reply::text(text.clone()));
    let result = h.invoke(events::http_v2("GET", "/five")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 200);
    assert_eq!(body.len(), 5 * MIB);
    assert!(body == expected.as_bytes(), "the body arrives intact");
    assert_serves_next(&h, "a 5 MiB response").await;
}

// =============================================================================================
// RDY-6: readiness timeout
// =============================================================================================

// covers RDY-6, CFG-21
#[tokio::test]
async fn rdy6_readiness_timeout_fails_init_with_one_error_line_and_exits_non_zero() {
    let app = TestApp::builder().not_ready().start().await.unwrap();
    let cp = ControlPlane::start().await.unwrap();
    let started = Instant::now();
    let adapter = adapter_command(cp.addr())
        .env("AWS_LWA_PORT", app.port().to_string())
        .env("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "1")
        .spawn()
        .expect("the adapter binary starts");
    let status = adapter
        .wait_exit(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no exit within 10 s; output:\n{}", adapter.logs()));
    let took = started.elapsed();
    let logs = final_output(&adapter).await;
    assert!(
        !status.success(),
        "a non-zero exit: {status}; output:\n{logs}"
    );
    eprintln!("RDY-6: exited {status} after {} ms", took.as_millis());

    let errors = level_lines(&logs, "ERROR");
    assert_eq!(errors.len(), 1, "exactly one ERROR line:\n{logs}");
    assert!(
        errors[0].contains("status 503"),
        "the last status seen: {}",
        errors[0]
    );
    let reported = cp
        .wait_init_error(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no init error reported; output:\n{logs}"));
    assert_eq!(reported.error_type, "Extension.AppNotReady");
    assert_eq!(cp.next_calls_total(), 0, "no invocation was taken");
    assert!(!logs.contains("panicked"), "{logs}");
}

// =============================================================================================
// LIF-5: SIGTERM
// =============================================================================================

// covers LIF-5
#[tokio::test]
async fn lif5_sigterm_while_idle_exits_0_promptly() {
    let h = Harness::start(&[]).await;
    assert_serves_next(&h, "start-up").await;
    assert!(h.cp.wait_next_outstanding(1, TIMEOUT).await, "idle in next");
    let signalled = Instant::now();
    h.adapter.terminate().expect("SIGTERM sent");
    let status = h
        .adapter
        .wait_exit(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no exit after SIGTERM; output:\n{}", h.adapter.logs()));
    let took = signalled.elapsed();
    eprintln!("LIF-5: idle exit {status} after {} ms", took.as_millis());
    assert_eq!(status.code(), Some(0), "exit status 0: {status}");
    assert!(took < Duration::from_secs(3), "promptly: {took:?}");
    assert_no_panic(&h.adapter);
}

// covers LIF-5
#[tokio::test]
async fn lif5_sigterm_during_a_forwarded_invocation_posts_its_response_then_exits_0() {
    let h = Harness::start(&[]).await;
    h.app.route("/slow", |_| {
        Reply::text("finished after SIGTERM").delay(Duration::from_millis(300))
    });
    let invocation = h.cp.invoke(events::http_v2("GET", "/slow"));
    h.app
        .wait_request(TIMEOUT)
        .await
        .expect("the request is at the app");
    h.adapter.terminate().expect("SIGTERM sent");
    let result = h.result_of(&invocation).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 200);
    assert_eq!(body, b"finished after SIGTERM");
    let exit = h
        .adapter
        .wait_exit(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no exit after SIGTERM; output:\n{}", h.adapter.logs()));
    assert_eq!(exit.code(), Some(0), "exit status 0: {exit}");
    assert_no_panic(&h.adapter);
}

// =============================================================================================
// LIF-6: Runtime API trouble
// =============================================================================================

// covers LIF-6
#[tokio::test]
async fn lif6_one_failed_next_is_logged_retried_and_the_next_invocation_served() {
    let h = Harness::start(&[]).await;
    assert!(h.cp.wait_next_outstanding(1, TIMEOUT).await);
    h.cp.inject_next_failure(500, "injected next failure");
    let line = expect_log(&h.adapter, &["injected next failure"]).await;
    assert!(line.contains("500"), "logged with what came back: {line}");
    assert!(line.contains("next"), "{line}");
    assert_serves_next(&h, "a failed next").await;
    assert!(
        h.cp.next_calls_total() >= 2,
        "the failed next and the one that was served"
    );
    assert_eq!(h.adapter.count_logs("giving up"), 0);
}

/// The adapter gives up: non-zero exit, one line saying why, no panic.
async fn assert_gives_up(h: &Harness, cause: &str) {
    let status = h
        .adapter
        .wait_exit(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no exit; output:\n{}", h.adapter.logs()));
    let logs = final_output(&h.adapter).await;
    assert!(
        !status.success(),
        "a non-zero exit: {status}; output:\n{logs}"
    );
    let giving_up: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("giving up"))
        .collect();
    assert_eq!(giving_up.len(), 1, "one line saying why:\n{logs}");
    assert!(
        giving_up[0].contains(cause),
        "it says what came back ({cause}): {}",
        giving_up[0]
    );
    assert!(!logs.contains("panicked"), "no panic:\n{logs}");
    eprintln!(
        "LIF-6 gave up with {status}; ERROR lines:\n{}",
        level_lines(&logs, "ERROR").join("\n")
    );
}

// covers LIF-6
#[tokio::test]
async fn lif6_persistent_next_failures_exit_non_zero_with_one_line_saying_why() {
    let h = Harness::start(&[]).await;
    for _ in 0..10 {
        h.cp.inject_next_failure(500, "the control plane is broken");
    }
    assert_gives_up(&h, "500").await;
}

// covers LIF-6, CFG-14
#[tokio::test]
async fn lif6_a_next_without_request_id_is_logged_retried_and_the_next_invocation_served() {
    let (h, proxy) = harness_behind_proxy(1).await;
    let line = expect_log(&h.adapter, &["Lambda-Runtime-Aws-Request-Id"]).await;
    assert!(line.contains("next"), "{line}");
    assert_eq!(proxy.bogus_sent(), 1);
    assert_serves_next(&h, "a next without request id").await;
}

// covers LIF-6, CFG-14
#[tokio::test]
async fn lif6_persistent_nexts_without_request_id_exit_non_zero_with_one_line() {
    let (h, proxy) = harness_behind_proxy(100).await;
    assert_gives_up(&h, "Lambda-Runtime-Aws-Request-Id").await;
    assert_eq!(proxy.bogus_sent(), 5, "five attempts");
}

// covers LIF-6
#[tokio::test]
async fn lif6_a_refused_response_post_is_logged_and_the_next_invocation_served() {
    let h = Harness::start(&[]).await;
    let result = h
        .invoke_with(
            events::http_v2("GET", "/refused-post"),
            InvokeOptions {
                reject_response: Some(400),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(result, InvocationResult::Rejected { status: 400, .. }),
        "{}",
        result.describe()
    );
    let line = expect_log(&h.adapter, &["refused the result"]).await;
    assert!(line.contains("400"), "logged with what came back: {line}");
    assert_serves_next(&h, "a refused response post").await;
}

// =============================================================================================
// ERR-4: no secrets in logs
// =============================================================================================

fn with_secrets(event: events::HttpEvent) -> events::HttpEvent {
    event
        .header("authorization", &format!("Bearer {SECRET_TOKEN}"))
        .header("cookie", &format!("session={SECRET_COOKIE}"))
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SECRET_TOKEN, SECRET_COOKIE] {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{text}"
        );
    }
}

// covers ERR-4
#[tokio::test]
async fn err4_failure_paths_never_log_authorization_or_cookie_values() {
    let h = Harness::start(&[("AWS_LWA_ERROR_STATUS_CODES", "500")]).await;
    h.app.route("/drop", |_| Reply::drop_connection());
    h.app
        .route("/fail", |_| Reply::new(500).body("internal error"));
    h.app.route("/hang", |_| Reply::never());

    let bad_header = |event: events::HttpEvent| with_secrets(event).header("x-bad", "a\nb");
    let cases: Vec<(&str, Bytes, InvokeOptions)> = vec![
        (
            "502, v2 POST",
            with_secrets(events::http_v2("POST", "/drop").body("x"))
                .cookie(&format!("id={SECRET_COOKIE}"))
                .to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "502, v1 GET (retried)",
            with_secrets(events::rest_v1("GET", "/drop")).to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: a bad header value elsewhere (v2)",
            bad_header(events::http_v2("GET", "/bad")).to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: a bad header value elsewhere (ALB)",
            bad_header(events::alb_multi_value("GET", "/bad")).to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: a bad header name elsewhere (v1)",
            with_secrets(events::rest_v1("GET", "/bad"))
                .header("x bad", "1")
                .to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: the secret cookie next to a cookie with a newline",
            with_secrets(events::http_v2("GET", "/bad"))
                .cookie(&format!("id={SECRET_COOKIE}"))
                .cookie("x=1\n2")
                .to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: the authorization value itself has a newline",
            events::http_v2("GET", "/bad")
                .header("authorization", &format!("Bearer {SECRET_TOKEN}\nx"))
                .to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "error status 500",
            with_secrets(events::http_v2("GET", "/fail")).to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "504 past the deadline",
            with_secrets(events::http_v2("GET", "/hang")).to_bytes(),
            InvokeOptions {
                deadline_ms: Some(epoch_ms_in(Duration::from_millis(1000))),
                ..Default::default()
            },
        ),
    ];
    let failures = cases.len();
    for (case, event, options) in cases {
        let result = h.invoke_with(event, options).await;
        match &result {
            InvocationResult::Error { body, .. } => {
                assert_no_secret(&format!("the error reported for {case}"), &body.to_string());
            }
            InvocationResult::Response { .. } => {
                let (status, body) = http_answer(&h, &result);
                assert!(status >= 500, "{case}: {status}");
                assert_no_secret(case, &String::from_utf8_lossy(&body));
            }
            other => panic!("{case}: {}", other.describe()),
        }
    }
    // Every failure has logged its ERROR line.
    wait_log_count(&h.adapter, "ERROR", failures).await;
    assert_serves_next(&h, "the secret-bearing failures").await;
    assert_no_secret("the adapter's log", &h.adapter.logs());
}

// covers ERR-4, EVT-8: a malformed header map (a string where a list of values belongs: v1
// `multiValueHeaders`, v2 `cookies`) is refused, and the refusal does not quote the values.
#[tokio::test]
async fn err4_malformed_header_lists_are_refused_without_quoting_their_values() {
    let h = Harness::start(&[]).await;
    let mut v1 = events::rest_v1("GET", "/malformed").build();
    v1["multiValueHeaders"]["authorization"] = Value::from(format!("Bearer {SECRET_TOKEN}"));
    let mut v2 = events::http_v2("GET", "/malformed").build();
    v2["cookies"] = Value::from(format!("session={SECRET_COOKIE}"));
    let mut reported = String::new();
    for (case, event) in [("v1 multiValueHeaders", v1), ("v2 cookies", v2)] {
        let result = h.invoke(event.to_string()).await;
        let (error_type, message) = error_of(&h, &result);
        assert_eq!(error_type, "Adapter.InvalidEvent", "{case}: {message}");
        reported.push_str(&format!("{case}: {message}\n"));
    }
    wait_log_count(&h.adapter, "Adapter.InvalidEvent", 2).await;
    assert_serves_next(&h, "malformed header lists").await;
    assert_no_secret("the errors reported to Lambda", &reported);
    assert_no_secret("the adapter's log", &h.adapter.logs());
}

// =============================================================================================
// LIF-4: one failure among eight
// =============================================================================================

// covers LIF-4, ERR-2: a hanging request hits its deadline while seven others are in flight;
// they all complete with their own answers afterwards.
#[tokio::test]
async fn lif4_a_hang_hitting_its_deadline_does_not_disturb_seven_others() {
    const WORKERS: usize = 8;
    let app = TestApp::start().await.expect("the test app listens");
    type Held = Arc<Mutex<Vec<(BodySender, Bytes)>>>;
    let held: Held = Arc::default();
    let store = held.clone();
    app.route("/held", move |request| {
        let (reply, body) = Reply::channel(200);
        let echo = Bytes::from(request.echo_json().to_string());
        store
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push((body, echo));
        reply.header("content-type", "application/json")
    });
    app.route("/hang", |_| Reply::never());
    let h = Harness::start_with_app(app, &[("AWS_LAMBDA_MAX_CONCURRENCY", "8")]).await;

    let good: Vec<_> = (0..WORKERS - 1)
        .map(|index| {
            let body = format!("held request {index}");
            let invocation =
                h.cp.invoke(events::http_v2("POST", &format!("/held/{index}")).body(&body));
            (index, body, invocation)
        })
        .collect();
    assert!(
        h.app.wait_requests(WORKERS - 1, TIMEOUT).await.is_some(),
        "7 requests in flight at the app; adapter output:\n{}",
        h.adapter.logs()
    );

    let deadline_ms = epoch_ms_in(Duration::from_millis(1500));
    let hang = h.cp.invoke_with(
        events::http_v2("GET", "/hang"),
        InvokeOptions {
            deadline_ms: Some(deadline_ms),
            ..Default::default()
        },
    );
    let result = h.result_of(&hang).await;
    assert!(now_ms() < deadline_ms, "the 504 came before the deadline");
    assert_eq!(http_answer(&h, &result).0, 504);
    assert!(
        good.iter().all(|(_, _, one)| one.try_result().is_none()),
        "the deadline ended no other invocation"
    );

    let answers: Vec<(BodySender, Bytes)> = held
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .drain(..)
        .collect();
    assert_eq!(answers.len(), WORKERS - 1);
    for (body, echo) in answers {
        body.send(echo);
        body.finish();
    }
    for (index, body, invocation) in &good {
        let result = h.result_of(invocation).await;
        let (status, answer) = http_answer(&h, &result);
        assert_eq!(status, 200, "held request {index}");
        let echo: Value = serde_json::from_slice(&answer).expect("the echo");
        assert_eq!(echo["path"], format!("/held/{index}"), "its own answer");
        assert_eq!(echo["body"], body.as_str(), "its own body");
    }
    assert!(h.cp.max_next_outstanding() <= WORKERS);
    assert_serves_next(&h, "a hang among eight").await;
}
