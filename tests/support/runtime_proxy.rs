//! [`RuntimeApiProxy`]: a Runtime API proxy (CFG-14) in front of the control plane that injects
//! the Runtime API's faults (LIF-6): `next` answers without a request id, `next` answers cut off in
//! the middle of their body, and `response` posts acknowledged only after a delay. Everything else
//! is forwarded as it is. Registration goes to the control plane directly, as CFG-14 says.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lambda_emulator::control_plane::epoch_ms_in;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{adapter_command, ControlPlane, Harness, TestApp, TIMEOUT};

type ProxyBody = BoxBody<Bytes, std::io::Error>;

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";

/// Which faults the proxy injects, and how many of each.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// The first `n` `next` calls get `200 {}` without `Lambda-Runtime-Aws-Request-Id`.
    pub no_request_id: usize,
    /// The first `n` `next` calls get a `200` that declares 100 body bytes and breaks after 10.
    pub cut_next: usize,
    /// Every `response` post is acknowledged this long after the control plane took it.
    pub slow_response: Option<Duration>,
}

/// The running proxy; dropping it stops it.
pub struct RuntimeApiProxy {
    pub addr: SocketAddr,
    /// Faults injected so far.
    injected: Arc<AtomicUsize>,
    accept_loop: JoinHandle<()>,
}

struct Shared {
    upstream: SocketAddr,
    client: Client<HttpConnector, Incoming>,
    no_request_id: AtomicUsize,
    cut_next: AtomicUsize,
    slow_response: Option<Duration>,
    injected: Arc<AtomicUsize>,
}

impl RuntimeApiProxy {
    pub async fn start(upstream: SocketAddr, faults: Faults) -> RuntimeApiProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("the proxy listens");
        let addr = listener.local_addr().expect("a local address");
        let injected = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            upstream,
            client: Client::builder(TokioExecutor::new()).build_http(),
            no_request_id: AtomicUsize::new(faults.no_request_id),
            cut_next: AtomicUsize::new(faults.cut_next),
            slow_response: faults.slow_response,
            injected: injected.clone(),
        });
        let accept_loop = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| proxy_request(request, shared.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApiProxy {
            addr,
            injected,
            accept_loop,
        }
    }

    /// Faults injected so far.
    pub fn injected(&self) -> usize {
        self.injected.load(Ordering::SeqCst)
    }
}

impl Drop for RuntimeApiProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// A harness whose invocation loop goes through a [`RuntimeApiProxy`] with `faults`;
/// registration goes to the control plane directly.
pub async fn harness_behind_proxy(faults: Faults) -> (Harness, RuntimeApiProxy) {
    let cp = ControlPlane::start()
        .await
        .expect("the control plane listens");
    let proxy = RuntimeApiProxy::start(cp.addr(), faults).await;
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

/// Takes one from `left` if any is left.
fn take_one(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body that yields `first`, then fails: hyper then breaks the connection mid-body.
struct CutOff(Option<Bytes>);

impl http_body::Body for CutOff {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(match self.0.take() {
            Some(first) => Ok(Frame::data(first)),
            None => Err(std::io::Error::other("cut off by the proxy")),
        }))
    }
}

fn next_answer(request_id: Option<&str>, body: ProxyBody) -> Response<ProxyBody> {
    let mut answer = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header(
            "lambda-runtime-deadline-ms",
            epoch_ms_in(Duration::from_secs(30)).to_string(),
        );
    if let Some(id) = request_id {
        answer = answer.header("lambda-runtime-aws-request-id", id);
    }
    answer.body(body).expect("a valid response")
}

async fn proxy_request(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<ProxyBody>, Infallible> {
    let path = request.uri().path().to_owned();
    if request.method() == http::Method::GET && path == NEXT_PATH {
        if take_one(&shared.no_request_id) {
            shared.injected.fetch_add(1, Ordering::SeqCst);
            return Ok(next_answer(None, full("{}")));
        }
        if take_one(&shared.cut_next) {
            shared.injected.fetch_add(1, Ordering::SeqCst);
            let mut answer = next_answer(
                Some("cut-off-invocation"),
                CutOff(Some(Bytes::from_static(b"{\"Records\""))).boxed(),
            );
            answer
                .headers_mut()
                .insert("content-length", http::HeaderValue::from_static("100"));
            return Ok(answer);
        }
    }
    let slow = shared
        .slow_response
        .filter(|_| request.method() == http::Method::POST && path.ends_with("/response"));
    let (mut parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    parts.uri = format!("http://{}{path_and_query}", shared.upstream)
        .parse()
        .expect("a valid upstream URI");
    let answer = match shared
        .client
        .request(Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response.map(|body| body.map_err(std::io::Error::other).boxed()),
        Err(err) => {
            let mut response = Response::new(full(format!("proxy: {err}")));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    };
    if let Some(delay) = slow {
        // The fault itself: a Runtime API that takes this long to acknowledge.
        shared.injected.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
    }
    Ok(answer)
}
