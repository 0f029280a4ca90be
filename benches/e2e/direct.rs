//! The baseline of (h): a keep-alive HTTP/1.1 client straight to a real server, as fast as a client
//! can be, so that what the adapters add over it is their own cost.
//!
//! Like the adapter (SPEC ERR-5) it acknowledges every read at once (`TCP_QUICKACK`): a server
//! that writes a response's head and body in two writes with Nagle's algorithm on (Python's
//! `http.server`, Django's runserver, the JDK's HttpServer) would otherwise hold the body until
//! Linux's delayed acknowledgement of the head, 40 ms later, and the baseline would be that wait.
//! A server that closes the connection after each answer (`connection: close`) gets a new one for
//! the next request, and the connect is part of that request's time, as it is for an adapter.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HOST};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::WAIT;

/// One request of the baseline: what it asks, and what the answer must be.
pub struct Exchange {
    pub method: Method,
    pub path: &'static str,
    /// The request body (empty for a GET) and its content type.
    pub body: Bytes,
    pub content_type: Option<&'static str>,
    /// The body the answer must carry.
    pub expected: Bytes,
}

/// A keep-alive connection to a server on 127.0.0.1, opened again whenever the server closed it.
pub struct DirectConnection {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// How many connections were opened (one for a server that keeps them alive).
    pub connects: usize,
}

impl DirectConnection {
    pub fn new(port: u16) -> DirectConnection {
        DirectConnection {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            sender: None,
            connects: 0,
        }
    }

    /// `exchange` once, checked: the time from the start of the request (a connect included,
    /// when one is needed) until the whole answer was read.
    pub async fn time(&mut self, exchange: &Exchange) -> Result<Duration, String> {
        let started = Instant::now();
        let (status, closing, body) = self.send(exchange).await?;
        let took = started.elapsed();
        if closing {
            self.sender = None;
        }
        if status != 200 || body != exchange.expected {
            return Err(format!(
                "direct {} {}: status {status}, a {}-byte body where {} bytes were expected",
                exchange.method,
                exchange.path,
                body.len(),
                exchange.expected.len()
            ));
        }
        Ok(took)
    }

    async fn send(&mut self, exchange: &Exchange) -> Result<(u16, bool, Bytes), String> {
        // A kept connection that the server has closed since (its idle timeout) is replaced once.
        let kept = match self.sender.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let mut sender = match kept {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        let mut request = Request::builder()
            .method(exchange.method.clone())
            .uri(exchange.path)
            .header(HOST, self.addr.to_string());
        if let Some(content_type) = exchange.content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let request = request
            .body(Full::new(exchange.body.clone()))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("direct {} {}: {e}", exchange.method, exchange.path))?;
        let status = response.status().as_u16();
        let closing = response
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = tokio::time::timeout(WAIT, response.into_body().collect())
            .await
            .map_err(|_| format!("direct {}: no whole body in time", exchange.path))?
            .map_err(|e| format!("direct {} body: {e}", exchange.path))?
            .to_bytes();
        self.sender = Some(sender);
        Ok((status, closing, body))
    }

    async fn connect(&mut self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(self.addr))
            .await
            .map_err(|_| format!("connect {}: timed out", self.addr))?
            .map_err(|e| format!("connect {}: {e}", self.addr))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(QuickAck(stream)))
                .await
                .map_err(|e| format!("handshake with {}: {e}", self.addr))?;
        tokio::spawn(connection);
        self.connects += 1;
        Ok(sender)
    }
}

/// A TCP stream that acknowledges every read that brought data at once (`TCP_QUICKACK` is not
/// sticky: Linux goes back to delaying acknowledgements, so it is set after each read).
struct QuickAck(TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            // Best effort: without it the figure would only be slower, never wrong.
            let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
        }
        read
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
