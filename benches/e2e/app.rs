//! The web app the adapters forward to (a hyper server in the bench process), the events that
//! reach it, the direct client of (c)'s baseline, and the checks of every answer.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_emulator::control_plane::InvocationResult;
use lambda_emulator::server::{full_body, BoxError, HttpServer, ResponseBody};
use lambda_emulator::testing::events::{benchmark_function_url, HttpEvent};
use lambda_emulator::testing::ChannelBody;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::adapters::Running;
use crate::WAIT;

/// The body of `GET /small`.
pub const SMALL_BODY: &str = "hello from the app\n";
/// A request header that makes the app note when the request arrived.
pub const MARK_HEADER: &str = "x-bench-mark";
/// The chunk the streaming endpoint writes.
pub const STREAM_CHUNK: &[u8] = b"data: first event\n\n";

// ---------------------------------------------------------------------------------------------
// Events and checks

/// A Function URL event of `method path` as a browser or SDK sends it: the benchmarks' request
/// ([`benchmark_function_url`]) with `accept: */*` and `user-agent: bench/1.0`.
fn function_url(method: &str, path: &str) -> HttpEvent {
    benchmark_function_url(method, path)
        .header("accept", "*/*")
        .header("user-agent", "bench/1.0")
}

/// `GET /small`.
pub fn small_event() -> Bytes {
    function_url("GET", "/small").to_bytes()
}

/// `GET /small` with [`MARK_HEADER`], so that the app notes when it sees the request.
pub fn marked_small_event() -> Bytes {
    function_url("GET", "/small")
        .header(MARK_HEADER, "1")
        .to_bytes()
}

/// `GET /stream/{id}`.
pub fn stream_event(id: &str) -> Bytes {
    function_url("GET", &format!("/stream/{id}")).to_bytes()
}

/// `POST /echo` of `body`: text, or with `base64` already encoded and `isBase64Encoded`.
pub fn echo_event(body: &str, base64: bool) -> Bytes {
    let content_type = if base64 {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    };
    let event = function_url("POST", "/echo").header("content-type", content_type);
    let event = if base64 {
        event.base64_body(body)
    } else {
        event.body(body)
    };
    event.to_bytes()
}

pub fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A buffered 200 whose body is `expected` as text.
pub fn check_text(result: &InvocationResult, expected: &[u8]) -> Result<(), String> {
    check_echo(result, expected, false)
}

/// A buffered 200 whose body is `expected` (base64 when `binary`).
pub fn check_echo(result: &InvocationResult, expected: &[u8], binary: bool) -> Result<(), String> {
    let json = result.json().map_err(|e| e.to_string())?;
    if json["statusCode"] != 200 {
        return Err(format!(
            "status {} ({})",
            json["statusCode"],
            result.describe()
        ));
    }
    let body = json["body"].as_str().unwrap_or_default();
    let base64 = json["isBase64Encoded"].as_bool().unwrap_or(false);
    let bytes = if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("the body is not base64: {e}"))?
    } else {
        body.as_bytes().to_vec()
    };
    if base64 != binary {
        return Err(format!("isBase64Encoded is {base64}, expected {binary}"));
    }
    if bytes != expected {
        return Err(format!(
            "the body ({} bytes) is not the expected one ({} bytes)",
            bytes.len(),
            expected.len()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The app

/// The web app: `GET /` (readiness), `GET /small`, `POST /echo`, `GET /stream/{id}`.
pub struct App {
    pub port: u16,
    pub state: Arc<AppState>,
    _server: HttpServer,
}

/// The sending end of a `/stream/{id}` response body: each chunk is sent as soon as it is put in.
pub type StreamSender = mpsc::Sender<Result<Bytes, BoxError>>;

#[derive(Default)]
pub struct AppState {
    /// Stream ids a driver waits for, with where to hand it the stream's sending end.
    streams: Mutex<HashMap<String, oneshot::Sender<StreamSender>>>,
    /// When the last request with [`MARK_HEADER`] arrived.
    mark: Mutex<Option<Instant>>,
}

impl AppState {
    fn take_mark(&self) -> Option<Instant> {
        self.mark
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    pub fn waiting_streams(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<StreamSender>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl App {
    /// One invocation of `event` (marked with [`MARK_HEADER`]) through `adapter`, checked: its
    /// round trip, and the three parts of it (invoke → `next` answered, → request at the app,
    /// → result at the control plane).
    pub async fn timed_invoke(
        &self,
        adapter: &Running,
        event: &Bytes,
    ) -> Result<(Duration, [Duration; 3]), String> {
        let label = adapter.subject.label;
        self.state.take_mark();
        let invoked = Instant::now();
        let handle = adapter.cp.invoke(event.clone());
        let result = handle
            .result(WAIT)
            .await
            .map_err(|e| format!("{label}: {e}"))?;
        let ended = Instant::now();
        let delivered = handle
            .wait_delivered(WAIT)
            .await
            .map_err(|e| format!("{label}: {e}"))?;
        handle.forget();
        check_text(&result, SMALL_BODY.as_bytes()).map_err(|e| format!("{label}: {e}"))?;
        let at_app = self
            .state
            .take_mark()
            .ok_or_else(|| format!("{label}: the app saw no marked request"))?;
        Ok((
            ended - invoked,
            [
                delivered.saturating_duration_since(invoked),
                at_app.saturating_duration_since(delivered),
                ended.saturating_duration_since(at_app),
            ],
        ))
    }

    pub async fn bind() -> Result<App, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| e.to_string())?;
        App::serve(listener)
    }

    pub fn serve(listener: TcpListener) -> Result<App, String> {
        let state = Arc::new(AppState::default());
        let handler_state = state.clone();
        let server = HttpServer::serve(listener, move |request| {
            app_route(handler_state.clone(), request)
        })
        .map_err(|e| e.to_string())?;
        Ok(App {
            port: server.addr().port(),
            state,
            _server: server,
        })
    }
}

async fn app_route(
    state: Arc<AppState>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, BoxError> {
    let path = request.uri().path().to_owned();
    let response = match (request.method().clone(), path.as_str()) {
        (Method::GET, "/") => text_response(StatusCode::OK, "ready\n"),
        (Method::GET, "/small") => {
            if request.headers().contains_key(MARK_HEADER) {
                let arrived = Instant::now();
                *state.mark.lock().unwrap_or_else(PoisonError::into_inner) = Some(arrived);
            }
            text_response(StatusCode::OK, SMALL_BODY)
        }
        (Method::POST, "/echo") => {
            let content_type = request.headers().get(CONTENT_TYPE).cloned();
            let body = request.into_body().collect().await?.to_bytes();
            let mut response = Response::new(full_body(body));
            if let Some(content_type) = content_type {
                response.headers_mut().insert(CONTENT_TYPE, content_type);
            }
            response
        }
        (Method::GET, stream) if stream.starts_with("/stream/") => {
            let id = &stream["/stream/".len()..];
            let (sender, receiver) = mpsc::channel(4);
            // Without a waiting driver the sender is dropped here and the body ends at once.
            if let Some(waiting) = state.waiting_streams().remove(id) {
                let _ = waiting.send(sender);
            }
            let mut response = Response::new(ChannelBody::new(receiver).boxed());
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        _ => text_response(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

fn text_response(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(full_body(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A keep-alive HTTP/1.1 connection straight to the app: the baseline of (c).
pub struct DirectClient {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    authority: String,
}

impl DirectClient {
    pub async fn connect(port: u16) -> Result<DirectClient, String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake with the app: {e}"))?;
        tokio::spawn(connection);
        Ok(DirectClient {
            sender,
            authority: addr.to_string(),
        })
    }

    /// `GET /small`; how long until the whole body was read.
    pub async fn get_small(&mut self) -> Result<Duration, String> {
        let started = Instant::now();
        self.sender
            .ready()
            .await
            .map_err(|e| format!("the direct connection closed: {e}"))?;
        let request = Request::get("/small")
            .header(HOST, &self.authority)
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("direct GET: {e}"))?;
        let body = tokio::time::timeout(WAIT, response.into_body().collect())
            .await
            .map_err(|_| "direct GET: no body in time".to_string())?
            .map_err(|e| format!("direct GET body: {e}"))?
            .to_bytes();
        let took = started.elapsed();
        if body != SMALL_BODY.as_bytes() {
            return Err("direct GET: unexpected body".into());
        }
        Ok(took)
    }
}
