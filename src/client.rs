//! The HTTP/1.1 client of the app (SPEC ERR-1, ERR-5, RSP-8, CFG-21, LIF-3): keep-alive
//! connections that never make a peer wait (Nagle's algorithm off, every read acknowledged at
//! once), kept in a small pool for `AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS`, and the decision to try a
//! request again on a fresh connection.
//!
//! A request takes an idle connection that is ready (or opens one), and the response carries a
//! [`ConnectionReturn`] in its extensions: dropped once the response has been used (the runtime
//! loop drops it after the body has been read), it puts the connection back, stamped with the time
//! it was last used. No task per request, no pool key: one pool per app address.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::error::{describe, AdapterError, ErrorKind};

mod quick_ack;

use quick_ack::QuickAck;

/// More idle connections than this are closed rather than kept.
const MAX_IDLE: usize = 64;
/// RSP-8: the most header lines an app's response may have (hyper's default is 100). hyper then
/// allocates room for this many on each response it reads (two blocks of 32 KiB, about 700
/// instructions with glibc; with musl's allocator, which returns such blocks to the system, two
/// more `mmap`/`munmap` pairs), so it is not set higher than RSP-8 asks.
pub(crate) const MAX_RESPONSE_HEADERS: usize = 1_024;
/// RSP-8: the largest response head (status line and headers) an app may send, in bytes.
pub(crate) const MAX_RESPONSE_HEAD: usize = 384 * 1024;

/// Why a request got no response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection to the app: the request was not sent.
    Connect(std::io::Error),
    /// The connection failed after (part of) the request may have been sent.
    Http(hyper::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Connect(err) => write!(f, "cannot connect: {err}"),
            SendError::Http(err) => fmt::Display::fmt(err, f),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Connect(_) => None,
            SendError::Http(err) => err.source(),
        }
    }
}

/// Who is at the other end of a connection: what their answers may hold, and how they write them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// The app: response heads up to [`MAX_RESPONSE_HEADERS`] lines and [`MAX_RESPONSE_HEAD`]
    /// bytes (RSP-8); any web server, so a response read in part is acknowledged at once (ERR-5).
    App,
    /// Lambda's own Runtime API: hyper's defaults, which its few headers never reach. It writes
    /// each answer at once, so acknowledgements are left to the kernel.
    RuntimeApi,
    /// A Runtime API proxy of the user's (CFG-14), which may be written like any web server: a
    /// response read in part is acknowledged at once (ERR-5).
    RuntimeApiProxy,
}

/// Opens an HTTP/1.1 connection to `address` (`host:port`) that never makes the peer wait: Nagle's
/// algorithm off so that small writes leave at once, and a response read in part acknowledged at
/// once ([`QuickAck`]) where the peer may hold a write back for it. Its I/O is driven by a task of
/// its own that ends with the connection.
pub(crate) async fn connect<B>(address: &str, peer: Peer) -> Result<SendRequest<B>, SendError>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(address)
        .await
        .map_err(SendError::Connect)?;
    let _ = stream.set_nodelay(true);
    let mut builder = hyper::client::conn::http1::Builder::new();
    if peer == Peer::App {
        builder
            .max_headers(MAX_RESPONSE_HEADERS)
            .max_header_size(MAX_RESPONSE_HEAD);
    }
    let stream = QuickAck::new(stream, peer != Peer::RuntimeApi);
    let (sender, connection) = builder
        .handshake(TokioIo::new(stream))
        .await
        .map_err(SendError::Http)?;
    tokio::spawn(async move {
        // Its end (closed by the peer, or all senders dropped) needs no action: a closed
        // connection is never handed out again.
        let _ = connection.await;
    });
    Ok(sender)
}

/// A client of the app at one address; clones share the pool.
#[derive(Clone)]
pub(crate) struct AppClient {
    pool: Arc<Pool>,
}

struct Pool {
    address: String,
    /// `None`: a connection serves one request (pooling off).
    idle_timeout: Option<Duration>,
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

impl fmt::Debug for AppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppClient")
            .field("address", &self.pool.address)
            .field("idle_timeout", &self.pool.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl AppClient {
    /// A client of the app at `address` (`host:port`) keeping idle connections for
    /// `idle_timeout`; a zero timeout turns pooling off.
    pub(crate) fn new(address: String, idle_timeout: Duration) -> Self {
        AppClient {
            pool: Arc::new(Pool {
                address,
                idle_timeout: (!idle_timeout.is_zero()).then_some(idle_timeout),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) on an idle connection, or on a new one when
    /// `fresh` or none is ready. On failure, the request comes back when it was certainly not
    /// sent, so that it can be tried again.
    pub(crate) async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
        fresh: bool,
    ) -> Result<http::Response<Incoming>, (SendError, Option<http::Request<Full<Bytes>>>)> {
        let mut expired = Vec::new();
        let kept = if fresh {
            None
        } else {
            self.pool.checkout(&mut expired)
        };
        let mut sender = match kept {
            Some(sender) => sender,
            None => match connect(&self.pool.address, Peer::App).await {
                Ok(sender) => sender,
                Err(err) => return Err((err, Some(request))),
            },
        };
        let sent = sender.try_send_request(request).await;
        // Closed only now, so that the app handles their end after this request, not before.
        drop(expired);
        match sent {
            Ok(mut response) => {
                if self.pool.idle_timeout.is_some() {
                    response
                        .extensions_mut()
                        .insert(ConnectionReturn(Some((self.pool.clone(), sender))));
                }
                Ok(response)
            }
            Err(mut err) => {
                let unsent = err.take_message();
                Err((SendError::Http(err.into_error()), unsent))
            }
        }
    }

    /// ERR-1: sends the request; a failure the app cannot have seen (no connection, a kept
    /// connection found closed before the request went out, or for an idempotent method a
    /// connection that broke before any answer) is tried once more on a fresh connection.
    pub(crate) async fn forward(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, AdapterError> {
        let copy = is_idempotent(request.method()).then(|| copy_request(&request));
        let (first, unsent) = match self.send(request, false).await {
            Ok(response) => return Ok(response),
            Err(failed) => failed,
        };
        let Some(retry) = retry_after(&first, unsent, copy) else {
            return Err(self.unreachable(&first));
        };
        tracing::debug!("retrying on a fresh connection after: {}", describe(&first));
        self.send(retry, true)
            .await
            .map_err(|(err, _)| self.unreachable(&err))
    }

    fn unreachable(&self, err: &SendError) -> AdapterError {
        if matches!(err, SendError::Http(err) if err.is_parse_too_large()) {
            return AdapterError::new(
                ErrorKind::AppResponse,
                format!(
                    "the app's response head is larger than the adapter accepts: at most {MAX_RESPONSE_HEADERS} \
                     header lines and {} KiB (RSP-8): {}",
                    MAX_RESPONSE_HEAD / 1024,
                    describe(err)
                ),
            );
        }
        AdapterError::new(
            ErrorKind::AppUnreachable,
            format!(
                "the app at {} did not answer: {}",
                self.pool.address,
                describe(err)
            ),
        )
    }

    /// Closes every idle connection (LIF-3: none opened before a SnapStart snapshot is used after).
    pub(crate) fn forget_idle(&self) {
        self.pool
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The address of the app, `host:port`.
    pub(crate) fn address(&self) -> &str {
        &self.pool.address
    }
}

/// The request to send again after `failure`: the request itself when it was certainly not sent,
/// else the copy of an idempotent one when the connection broke before any answer.
fn retry_after<R>(failure: &SendError, unsent: Option<R>, copy: Option<R>) -> Option<R> {
    unsent.or_else(|| copy.filter(|_| broke_before_answer(failure)))
}

fn is_idempotent(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::OPTIONS
            | http::Method::PUT
            | http::Method::DELETE
            | http::Method::TRACE
    )
}

/// A copy of a request: method, URI, version, headers and (shared) body.
fn copy_request(request: &http::Request<Full<Bytes>>) -> http::Request<Full<Bytes>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// Whether the connection broke (closed, reset) before any answer, rather than the app answering
/// something that is not HTTP or the request failing on its own.
fn broke_before_answer(err: &SendError) -> bool {
    let SendError::Http(err) = err else {
        return true;
    };
    if err.is_canceled() || err.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io_err) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
            if matches!(
                io_err.kind(),
                ConnectionReset | BrokenPipe | ConnectionAborted
            ) {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

impl Pool {
    /// The most recently used idle connection that is ready. Closed ones are dropped; expired
    /// ones are moved to `expired`, for the caller to close.
    fn checkout(
        &self,
        expired: &mut Vec<SendRequest<Full<Bytes>>>,
    ) -> Option<SendRequest<Full<Bytes>>> {
        let timeout = self.idle_timeout?;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut index = 0;
        while index < idle.len() {
            if idle[index].sender.is_closed() {
                idle.remove(index);
            } else if now.duration_since(idle[index].since) >= timeout {
                expired.push(idle.remove(index).sender);
            } else {
                index += 1;
            }
        }
        // A connection whose response is still being read by someone else is not ready yet.
        let ready = idle.iter().rposition(|kept| kept.sender.is_ready())?;
        Some(idle.remove(ready).sender)
    }

    fn checkin(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

/// Puts a response's connection back in the pool when dropped, i.e. once the response is used.
///
/// It lives in the response's extensions, which must be `Clone`: a clone does not own the
/// connection.
pub(crate) struct ConnectionReturn(Option<(Arc<Pool>, SendRequest<Full<Bytes>>)>);

impl Clone for ConnectionReturn {
    fn clone(&self) -> Self {
        ConnectionReturn(None)
    }
}

impl Drop for ConnectionReturn {
    fn drop(&mut self) {
        if let Some((pool, sender)) = self.0.take() {
            pool.checkin(sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// What the raw app does with the requests of one connection.
    #[derive(Clone, Copy)]
    enum Conduct {
        /// `200 ok` to every request, keeping the connection.
        Answer,
        /// Reads the request, then closes the connection without a word.
        CloseBeforeAnswer,
        /// Reads the request, then answers something that is not HTTP.
        Garbage,
    }

    /// A loopback app that behaves per connection as `conduct(n)` says for its `n`th connection
    /// (from 0), and counts them.
    struct RawApp {
        address: String,
        connections: Arc<AtomicUsize>,
    }

    impl RawApp {
        async fn start(conduct: fn(usize) -> Conduct) -> RawApp {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap().to_string();
            let connections = Arc::new(AtomicUsize::new(0));
            let counted = connections.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let n = counted.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(stream, conduct(n)));
                }
            });
            RawApp {
                address,
                connections,
            }
        }

        fn client(&self, idle_timeout: Duration) -> AppClient {
            AppClient::new(self.address.clone(), idle_timeout)
        }

        fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }
    }

    async fn serve(mut stream: TcpStream, conduct: Conduct) {
        let mut buffer = Vec::new();
        loop {
            // Requests here have no body: a request ends with its head.
            while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                let mut chunk = [0; 1024];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
            buffer.clear();
            let answer: &[u8] = match conduct {
                Conduct::Answer => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                Conduct::CloseBeforeAnswer => return,
                Conduct::Garbage => b"SPDY/9 what\r\n\r\n",
            };
            if stream.write_all(answer).await.is_err() {
                return;
            }
        }
    }

    fn request(method: http::Method) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::new(Full::default());
        *request.method_mut() = method;
        *request.uri_mut() = http::Uri::from_static("/");
        request
    }

    /// A request to `client` whose response is read to its end and dropped, as the runtime loop
    /// does: the connection goes back to the pool.
    async fn exchange(client: &AppClient) -> Bytes {
        let response = client.forward(request(http::Method::GET)).await.unwrap();
        response.into_body().collect().await.unwrap().to_bytes()
    }

    const KEEP: Duration = Duration::from_secs(4);

    #[tokio::test]
    async fn a_used_connection_is_kept_and_used_again() {
        // covers CFG-21 (the pool)
        let app = RawApp::start(|_| Conduct::Answer).await;
        let client = app.client(KEEP);
        for _ in 0..3 {
            assert_eq!(exchange(&client).await, "ok");
        }
        assert_eq!(app.connections(), 1);
    }

    #[tokio::test]
    async fn a_connection_whose_response_is_still_read_is_not_shared() {
        // covers CFG-21, LIF-4 (requests never share a connection)
        let app = RawApp::start(|_| Conduct::Answer).await;
        let client = app.client(KEEP);
        let first = client.forward(request(http::Method::GET)).await.unwrap();
        let second = client.forward(request(http::Method::GET)).await.unwrap();
        assert_eq!(app.connections(), 2);
        drop((first, second));
        assert_eq!(exchange(&client).await, "ok");
        assert_eq!(app.connections(), 2, "both went back to the pool");
    }

    #[tokio::test]
    async fn no_idle_timeout_means_a_connection_per_request() {
        // covers CFG-21 (0 turns pooling off)
        let app = RawApp::start(|_| Conduct::Answer).await;
        let client = app.client(Duration::ZERO);
        for _ in 0..3 {
            assert_eq!(exchange(&client).await, "ok");
        }
        assert_eq!(app.connections(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_connection_is_not_used_again() {
        // covers CFG-21 (the idle timeout)
        let app = RawApp::start(|_| Conduct::Answer).await;
        let client = app.client(KEEP);
        exchange(&client).await;
        tokio::time::advance(KEEP - Duration::from_millis(1)).await;
        exchange(&client).await;
        assert_eq!(app.connections(), 1, "still within the idle timeout");
        tokio::time::advance(KEEP).await;
        exchange(&client).await;
        assert_eq!(app.connections(), 2);
    }

    #[tokio::test]
    async fn an_idempotent_request_is_sent_again_when_the_connection_broke_before_an_answer() {
        // covers ERR-1 (the retry decision)
        let app = RawApp::start(|n| match n {
            0 => Conduct::CloseBeforeAnswer,
            _ => Conduct::Answer,
        })
        .await;
        let response = app.client(KEEP).forward(request(http::Method::GET)).await;
        assert_eq!(response.unwrap().status(), 200);
        assert_eq!(app.connections(), 2);
    }

    #[tokio::test]
    async fn a_post_the_app_may_have_seen_is_not_sent_again() {
        // covers ERR-1 (the retry decision)
        let app = RawApp::start(|n| match n {
            0 => Conduct::CloseBeforeAnswer,
            _ => Conduct::Answer,
        })
        .await;
        let failed = app.client(KEEP).forward(request(http::Method::POST)).await;
        let error = failed.expect_err("a POST is not retried");
        assert_eq!(error.kind(), ErrorKind::AppUnreachable);
        assert!(error.message().contains(&app.address), "{error}");
        assert_eq!(app.connections(), 1);
    }

    #[tokio::test]
    async fn an_answer_that_is_not_http_is_not_retried() {
        // covers ERR-1 (the retry decision)
        let app = RawApp::start(|_| Conduct::Garbage).await;
        let failed = app.client(KEEP).forward(request(http::Method::GET)).await;
        assert_eq!(failed.unwrap_err().kind(), ErrorKind::AppUnreachable);
        assert_eq!(app.connections(), 1);
    }

    #[tokio::test]
    async fn a_request_that_was_never_sent_is_always_sent_again() {
        // covers ERR-1 (the retry decision)
        let refused = SendError::Connect(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(retry_after(&refused, Some("unsent"), None), Some("unsent"));
        assert_eq!(retry_after(&refused, None, Some("copy")), Some("copy"));
        assert_eq!(retry_after::<&str>(&refused, None, None), None);
        assert!(is_idempotent(&http::Method::PUT) && !is_idempotent(&http::Method::PATCH));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let client = AppClient::new(address.clone(), KEEP);
        let error = client
            .forward(request(http::Method::POST))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AppUnreachable);
        assert!(error.message().contains("did not answer") && error.message().contains(&address));
    }
}
