//! [`RawApp`]: a hand-written HTTP/1.1 server on loopback for the faults a well-behaved app
//! ([`super::TestApp`]) cannot produce: a TCP reset before any response byte, an answer cut short
//! of its `content-length`, idle keep-alive connections closed by the app (ERR-1, STR-3,
//! CFG-21). It records every connection and request, and what each request gets is scripted.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One request as [`RawApp`] read it.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// 1 for the first accepted connection, 2 for the second, …
    pub connection: usize,
    /// The method, as sent.
    pub method: String,
    /// The request target, as sent.
    pub path: String,
    /// The whole head as sent (request line and header lines, up to the blank line).
    pub head: String,
    /// The body (`content-length` bytes).
    pub body: Vec<u8>,
}

/// What [`RawApp`] does with a request.
pub enum RawAnswer {
    /// Write these bytes (a complete response) and keep the connection for the next request.
    Reply(Vec<u8>),
    /// Break the connection with a TCP reset, before any response byte.
    Reset,
    /// Write these bytes, then close the connection.
    WriteAndClose(Vec<u8>),
    /// Write these bytes, then say nothing more until the peer closes the connection.
    WriteAndHold(Vec<u8>),
    /// Wait this long, then write these bytes and keep the connection (a slow app).
    Late(Duration, Vec<u8>),
}

/// What [`RawApp`] has seen so far.
#[derive(Debug, Default, Clone)]
pub struct RawRecord {
    /// Connections accepted.
    pub accepted: usize,
    /// Connections still open.
    pub open: usize,
    /// Connections the app closed because they sat idle.
    pub idle_closed: usize,
    /// Every request, in the order they were read.
    pub requests: Vec<RawRequest>,
}

type Script = Arc<dyn Fn(&RawRequest) -> RawAnswer + Send + Sync>;

/// The running server; dropping it stops it and closes every connection.
pub struct RawApp {
    addr: SocketAddr,
    record: Arc<watch::Sender<RawRecord>>,
    stop: watch::Sender<bool>,
}

impl RawApp {
    /// Listens on an ephemeral loopback port; with `idle_close`, a connection that carries no
    /// request for that long is closed by the app (like a server's keep-alive timeout).
    ///
    /// Panics if it cannot listen.
    pub async fn start(
        idle_close: Option<Duration>,
        script: impl Fn(&RawRequest) -> RawAnswer + Send + Sync + 'static,
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

    /// Answers requests to `path` as `answer` says and every other request with
    /// [`RawAnswer::echo`]; never closes idle connections.
    pub async fn echo_except(
        path: &str,
        answer: impl Fn(&RawRequest) -> RawAnswer + Send + Sync + 'static,
    ) -> RawApp {
        let path = path.to_owned();
        RawApp::start(None, move |request| {
            if request.path == path {
                answer(request)
            } else {
                RawAnswer::echo(request)
            }
        })
        .await
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What it has seen so far.
    pub fn record(&self) -> RawRecord {
        self.record.borrow().clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RawRequest> {
        self.record.borrow().requests.clone()
    }

    /// The requests so far whose target is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RawRequest> {
        self.requests()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    }

    /// How many connections it has accepted.
    pub fn accepted(&self) -> usize {
        self.record.borrow().accepted
    }

    /// Waits until `check` holds for the record; panics with `what` after `timeout`.
    pub async fn wait(&self, what: &str, timeout: Duration, check: impl Fn(&RawRecord) -> bool) {
        let mut changes = self.record.subscribe();
        let waited = tokio::time::timeout(timeout, changes.wait_for(|record| check(record))).await;
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
            RawAnswer::Reply(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            RawAnswer::Reset => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = stream.set_zero_linger();
                return;
            }
            RawAnswer::WriteAndClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                return;
            }
            RawAnswer::Late(delay, bytes) => {
                tokio::time::sleep(delay).await;
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            RawAnswer::WriteAndHold(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let mut rest = [0u8; 1024];
                while matches!(stream.read(&mut rest).await, Ok(n) if n > 0) {}
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
        head: head.clone(),
        body,
    })
}

impl RawAnswer {
    /// A complete `200` text response with `body`, keeping the connection.
    pub fn ok(body: &[u8]) -> RawAnswer {
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(body);
        RawAnswer::Reply(response)
    }

    /// `200` with the method, path and body it received.
    pub fn echo(request: &RawRequest) -> RawAnswer {
        RawAnswer::ok(
            format!(
                "{} {} {}",
                request.method,
                request.path,
                String::from_utf8_lossy(&request.body)
            )
            .as_bytes(),
        )
    }

    /// An answer that declares 100 body bytes, sends 10 and closes the connection.
    pub fn truncated() -> RawAnswer {
        RawAnswer::WriteAndClose(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\n0123456789"
                .to_vec(),
        )
    }
}
