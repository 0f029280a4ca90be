//! A small HTTP/1.1 server: the accept loop shared by the control plane and by anything else that
//! must answer plain HTTP on loopback (the test app, the emulator's front door).
//!
//! Connections get `TCP_NODELAY` (small streamed chunks must leave at once) and keep-alive. Every
//! request carries the client's address as a [`PeerAddr`] extension. Dropping the [`HttpServer`]
//! stops accepting and closes every open connection, so blocked long-polls (`event/next`,
//! `invocation/next`) end with the server instead of outliving it.
//!
//! A streamed response body is a [`ChannelBody`]: a task writes its chunks into a channel as they
//! come (the front door's relay of a streamed result, a test app's scripted body).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

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

/// A body whose frames arrive through a tokio channel, bounded ([`mpsc::Receiver`]) or not
/// ([`mpsc::UnboundedReceiver`]), as data chunks (`Result<Bytes, E>`) or whole frames
/// (`Result<Frame<Bytes>, E>`, trailers included). It ends when every sender is gone; an `Err`
/// item fails it, which makes the server break the connection mid-body.
#[derive(Debug)]
pub struct ChannelBody<R> {
    items: R,
}

impl<R: ItemReceiver> ChannelBody<R> {
    /// The body fed by the senders of `items`.
    pub fn new(items: R) -> Self {
        ChannelBody { items }
    }
}

impl<R: ItemReceiver> Body for ChannelBody<R> {
    type Data = Bytes;
    type Error = <R::Item as BodyItem>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.items
            .poll_item(cx)
            .map(|item| item.map(BodyItem::into_frame))
    }
}

/// The receiving end of a channel that feeds a [`ChannelBody`].
pub trait ItemReceiver: Unpin {
    /// What the channel carries.
    type Item: BodyItem;

    /// The next item; `None` once every sender is gone.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Self::Item>>;
}

impl<T: BodyItem> ItemReceiver for mpsc::Receiver<T> {
    type Item = T;

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_recv(cx)
    }
}

impl<T: BodyItem> ItemReceiver for mpsc::UnboundedReceiver<T> {
    type Item = T;

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_recv(cx)
    }
}

/// One item of a [`ChannelBody`]'s channel: a data chunk or a whole frame, or the error that
/// ends the body.
pub trait BodyItem {
    /// The body's error type.
    type Error;

    /// The frame it stands for.
    fn into_frame(self) -> Result<Frame<Bytes>, Self::Error>;
}

impl<E> BodyItem for Result<Bytes, E> {
    type Error = E;

    fn into_frame(self) -> Result<Frame<Bytes>, E> {
        self.map(Frame::data)
    }
}

impl<E> BodyItem for Result<Frame<Bytes>, E> {
    type Error = E;

    fn into_frame(self) -> Result<Frame<Bytes>, E> {
        self
    }
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
