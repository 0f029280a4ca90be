//! The HTTP/1.1 client of the app: keep-alive connections with Nagle's algorithm off, kept in a
//! small pool for `AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS` (CFG-21; none under SnapStart, LIF-3).
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

/// More idle connections than this are closed rather than kept.
const MAX_IDLE: usize = 64;

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

/// Opens an HTTP/1.1 connection to `address` (`host:port`), Nagle's algorithm off so that small
/// writes leave at once, its I/O driven by a task of its own that ends with the connection.
pub(crate) async fn connect<B>(address: &str) -> Result<SendRequest<B>, SendError>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(address)
        .await
        .map_err(SendError::Connect)?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
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
            None => match connect(&self.pool.address).await {
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

    /// The address of the app, `host:port`.
    pub(crate) fn address(&self) -> &str {
        &self.pool.address
    }
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
