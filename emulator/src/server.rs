//! A small HTTP/1.1 server: the accept loop shared by the control plane and by anything else that
//! must answer plain HTTP on loopback (the test app, the emulator's front door).
//!
//! Connections get `TCP_NODELAY` (small streamed chunks must leave at once) and keep-alive. Every
//! request carries the client's address as a [`PeerAddr`] extension. Dropping the [`HttpServer`]
//! stops accepting and closes every open connection, so blocked long-polls (`event/next`,
//! `invocation/next`) end with the server instead of outliving it.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The error type of response bodies and handlers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type every handler answers with.
pub type ResponseBody = BoxBody<Bytes, BoxError>;

/// A complete body from bytes.
pub fn full_body(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// The address of the client that sent a request, in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// A running server; dropping it closes the listener and all its connections.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    // Never sent on: dropping it wakes every task's `closed()` and ends them.
    _stop: watch::Sender<()>,
}

impl HttpServer {
    /// Binds `addr` (use port 0 for an ephemeral port) and serves `handler` on it.
    pub async fn bind<H, F>(addr: SocketAddr, handler: H) -> io::Result<HttpServer>
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Response<ResponseBody>, BoxError>> + Send + 'static,
    {
        let listener = TcpListener::bind(addr).await?;
        Self::serve(listener, handler)
    }

    /// Serves `handler` on an already bound listener.
    ///
    /// A handler that returns `Err` makes the server drop the connection without answering, which
    /// is how a test can simulate a peer that resets the connection.
    pub fn serve<H, F>(listener: TcpListener, handler: H) -> io::Result<HttpServer>
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Response<ResponseBody>, BoxError>> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(());
        tokio::spawn(accept_loop(listener, Arc::new(handler), stopped));
        Ok(HttpServer { addr, _stop: stop })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn accept_loop<H, F>(listener: TcpListener, handler: Arc<H>, mut stopped: watch::Receiver<()>)
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Response<ResponseBody>, BoxError>> + Send + 'static,
{
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve_connection(stream, peer, handler.clone(), stopped.clone()));
                }
                // Per-connection failures (a peer that reset before accept) do not stop the server.
                Err(_) => tokio::task::yield_now().await,
            },
        }
    }
}

async fn serve_connection<H, F>(
    stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<H>,
    mut stopped: watch::Receiver<()>,
) where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Response<ResponseBody>, BoxError>> + Send + 'static,
{
    // Best effort: without it small chunks may wait for Nagle's algorithm, which only costs latency.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(PeerAddr(peer));
        handler(request)
    });
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = stopped.changed() => {}
    }
}
