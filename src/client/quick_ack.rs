//! ERR-5: no delayed-ACK stalls, at no cost for peers that write at once.
//!
//! A peer that writes a response in parts (head, then body) with Nagle's algorithm on holds each
//! small part back until the previous one is acknowledged, and on a kept-alive connection Linux
//! delays that acknowledgement by up to 40 ms, waiting for data to carry it: the adapter has none
//! until the response is complete. `TCP_QUICKACK` sends the pending acknowledgement at once; the
//! kernel drops back to delaying after the next request goes out, so it must be set again.
//!
//! [`QuickAck`] sets it after a read that leaves the response incomplete, the only case in which
//! the peer can be waiting: it follows the response's framing ([`Framing`]: the head, then a
//! `content-length` or chunked body) as the bytes go by. A response read whole in one go (what most
//! servers write) gets no acknowledgement of its own; it rides on the next request, as the kernel
//! would have it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A head longer than this is not followed: every read is then acknowledged.
const MAX_HEAD: usize = 16 * 1024;

/// A TCP stream that acknowledges a read at once when the response it belongs to is incomplete.
pub(crate) struct QuickAck {
    stream: TcpStream,
    /// `None`: acknowledgements are left to the kernel (a peer that writes at once).
    framing: Option<Framing>,
}

impl QuickAck {
    /// `stream`, with the acknowledgements of ERR-5 when `enabled`.
    pub(crate) fn new(stream: TcpStream, enabled: bool) -> Self {
        QuickAck {
            stream,
            framing: enabled.then(Framing::default),
        }
    }

    fn acknowledge(&self) {
        // Best effort: a socket that refuses the option only costs the peer a wait.
        let _ = socket2::SockRef::from(&self.stream).set_tcp_quickack(true);
    }

    #[cfg(test)]
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Notes written bytes: the first of a request starts a new response.
    fn wrote(&mut self, bytes: &[u8]) {
        if let Some(framing) = &mut self.framing {
            framing.request_sent(bytes);
        }
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(framing)) = (&read, &mut self.framing) {
            let bytes = &buf.filled()[before..];
            if !bytes.is_empty() && !framing.response_read(bytes) {
                self.acknowledge();
            }
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
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.wrote(&buf[..n]);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            // Only the start of a request matters: the first slice's first bytes.
            let first = bufs.iter().find(|buf| !buf.is_empty());
            if let (true, Some(first)) = (n > 0, first) {
                self.wrote(&first[..n.min(first.len())]);
            }
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Where the current response is, as far as its bytes have been read.
#[derive(Debug, Default, PartialEq, Eq)]
enum State {
    /// No request in flight.
    #[default]
    Idle,
    /// The head, read so far.
    Head(Vec<u8>),
    /// This many body bytes are still to come.
    Length(u64),
    /// A chunked body.
    Chunked(Chunked),
    /// A body that ends when the connection closes, or a framing not followed: never complete.
    Unknown,
    /// The whole response has been read.
    Complete,
}

/// Where a chunked body is.
#[derive(Debug, PartialEq, Eq)]
enum Chunked {
    /// In a chunk's size line; its size so far, and whether an extension (`;…`) began.
    Size { size: u64, extension: bool },
    /// The size line's `\n` is next.
    SizeEnd { size: u64 },
    /// This many bytes of the chunk's data are still to come.
    Data(u64),
    /// The `\r\n` after a chunk's data; how many of its bytes are still to come.
    DataEnd(u8),
    /// In the trailers, after the last chunk; whether the current line is empty so far.
    Trailers { line_empty: bool },
}

/// Follows responses' framing as their bytes are read (HTTP/1.1: a head, then a body of the
/// `content-length` given, or chunked, or none for a `HEAD` request, `1xx`, `204` and `304`).
#[derive(Debug, Default)]
pub(crate) struct Framing {
    state: State,
    /// The request in flight was `HEAD`: its response has no body, whatever its head says.
    head_request: bool,
}

impl Framing {
    /// Bytes of a request were written; the first starts a new response.
    fn request_sent(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Idle | State::Complete) {
            self.state = State::Head(Vec::new());
            self.head_request = bytes.starts_with(b"HEAD ");
        }
    }

    /// Takes bytes of the response; whether the response is now complete.
    fn response_read(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            let used = match &mut self.state {
                State::Idle | State::Complete | State::Unknown => break,
                // The usual case: the whole head in this read, looked at where it lies.
                State::Head(head) if head.is_empty() => match head_end(bytes, 0) {
                    Some(end) => {
                        self.state = body_of(&bytes[..end], self.head_request);
                        end
                    }
                    None => {
                        head.extend_from_slice(bytes);
                        bytes.len()
                    }
                },
                State::Head(head) => {
                    let (used, done) = take_head(head, bytes);
                    if done {
                        let head = std::mem::take(head);
                        self.state = body_of(&head, self.head_request);
                    } else if head.len() > MAX_HEAD {
                        self.state = State::Unknown;
                    }
                    used
                }
                State::Length(left) => {
                    let used = bytes
                        .len()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= used as u64;
                    if *left == 0 {
                        self.state = State::Complete;
                    }
                    used
                }
                State::Chunked(chunked) => {
                    let (used, done) = chunked.take(bytes);
                    if done {
                        self.state = State::Complete;
                    }
                    used
                }
            };
            bytes = &bytes[used..];
        }
        self.state == State::Complete
    }
}

/// Where the head in `bytes` ends (after its blank line), looking from `from`.
fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let at = bytes
        .get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")?;
    Some(from + at + 4)
}

/// Adds the bytes of a head to `head` up to its blank line; how many it used, and whether the
/// head is complete.
fn take_head(head: &mut Vec<u8>, bytes: &[u8]) -> (usize, bool) {
    let before = head.len();
    head.extend_from_slice(bytes);
    // The blank line may straddle two reads: look from just before the new bytes.
    match head_end(head, before.saturating_sub(3)) {
        Some(end) => {
            head.truncate(end);
            (end - before, true)
        }
        None => (bytes.len(), false),
    }
}

/// What follows a complete `head`.
fn body_of(head: &[u8], head_request: bool) -> State {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status: u16 = lines
        .next()
        .and_then(|line| line.split(|&b| b == b' ').nth(1))
        .and_then(|code| std::str::from_utf8(code).ok()?.parse().ok())
        .unwrap_or(0);
    if (100..200).contains(&status) && status != 101 {
        // An interim answer: the real head follows.
        return State::Head(Vec::new());
    }
    if head_request || status == 204 || status == 304 {
        return State::Complete;
    }
    let mut length = None;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (line[..colon].trim_ascii(), line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Chunked wins over any length (RFC 9112), as hyper reads it.
            if value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")) {
                return State::Chunked(Chunked::Size {
                    size: 0,
                    extension: false,
                });
            }
            return State::Unknown;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            length = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok());
        }
    }
    match length {
        Some(0) => State::Complete,
        Some(length) => State::Length(length),
        None => State::Unknown,
    }
}

impl Chunked {
    /// Takes bytes of a chunked body; how many it used, and whether the body is complete.
    fn take(&mut self, bytes: &[u8]) -> (usize, bool) {
        let mut used = 0;
        while used < bytes.len() {
            let byte = bytes[used];
            match self {
                Chunked::Data(left) => {
                    let take =
                        (bytes.len() - used).min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= take as u64;
                    used += take;
                    if *left == 0 {
                        *self = Chunked::DataEnd(2);
                    }
                    continue;
                }
                Chunked::Size { size, extension } => match (byte, *extension) {
                    (b'\r', _) => *self = Chunked::SizeEnd { size: *size },
                    (_, true) => {}
                    (b';', false) => *extension = true,
                    (_, false) => match (byte as char).to_digit(16) {
                        Some(digit) => *size = size.saturating_mul(16).saturating_add(digit.into()),
                        // Whitespace before an extension.
                        None => *extension = true,
                    },
                },
                Chunked::SizeEnd { size } => {
                    *self = match *size {
                        0 => Chunked::Trailers { line_empty: true },
                        size => Chunked::Data(size),
                    }
                }
                Chunked::DataEnd(left) => {
                    *left -= 1;
                    if *left == 0 {
                        *self = Chunked::Size {
                            size: 0,
                            extension: false,
                        };
                    }
                }
                Chunked::Trailers { line_empty } => match byte {
                    b'\r' => {}
                    b'\n' if *line_empty => return (used + 1, true),
                    b'\n' => *line_empty = true,
                    _ => *line_empty = false,
                },
            }
            used += 1;
        }
        (used, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether each read (after `request`) completes the response.
    fn complete_after(request: &str, reads: &[&[u8]]) -> Vec<bool> {
        let mut framing = Framing::default();
        framing.request_sent(request.as_bytes());
        reads
            .iter()
            .map(|read| framing.response_read(read))
            .collect()
    }

    const GET: &str = "GET / HTTP/1.1\r\nhost: app\r\n\r\n";

    #[test]
    fn a_response_read_whole_needs_no_acknowledgement() {
        // covers ERR-5 (no cost for servers that write at once)
        let whole = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(complete_after(GET, &[whole]), [true]);
        let chunked =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(complete_after(GET, &[chunked]), [true]);
        let empty = b"HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n";
        assert_eq!(complete_after(GET, &[empty]), [true]);
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n";
        assert_eq!(complete_after("HEAD / HTTP/1.1\r\n\r\n", &[head]), [true]);
    }

    #[test]
    fn a_response_in_parts_is_incomplete_until_its_last_byte() {
        // covers ERR-5 (a split write is acknowledged at once)
        let parts: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            b"01234",
            b"56789",
        ];
        assert_eq!(complete_after(GET, &parts), [false, false, true]);
        // The blank line across two reads, and a head in three.
        let parts: [&[u8]; 3] = [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r", b"\n\r", b"\nok"];
        assert_eq!(complete_after(GET, &parts), [false, false, true]);
        // Chunks as an SSE stream writes them, with an extension and trailers.
        let chunks: [&[u8]; 5] = [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"6;name=x\r\ndata: \r\n",
            b"A\r\n0123456789\r",
            b"\n0\r\nx-trailer: 1\r\n",
            b"\r\n",
        ];
        assert_eq!(
            complete_after(GET, &chunks),
            [false, false, false, false, true]
        );
    }

    #[test]
    fn interim_answers_and_unknown_ends_stay_incomplete() {
        // covers ERR-5
        let interim: [&[u8]; 2] = [
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        ];
        assert_eq!(complete_after(GET, &interim), [false, true]);
        let until_close: [&[u8]; 2] = [b"HTTP/1.0 200 OK\r\n\r\nsome", b" more"];
        assert_eq!(complete_after(GET, &until_close), [false, false]);
        let huge_head = vec![b'x'; MAX_HEAD + 1];
        assert_eq!(
            complete_after(GET, &[b"HTTP/1.1 200 OK\r\n", &huge_head]),
            [false, false]
        );
    }

    #[test]
    fn the_next_request_starts_a_new_response() {
        // covers ERR-5
        let mut framing = Framing::default();
        framing.request_sent(GET.as_bytes());
        assert!(framing.response_read(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"));
        // The request's body, written after its head, starts nothing new.
        framing.request_sent(b"POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\n");
        framing.request_sent(b"abc");
        assert!(!framing.response_read(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"));
        assert!(framing.response_read(b"ok"));
    }

    /// Exchanges on a kept-alive connection, the app writing each response as `writes`; after
    /// reading each part, whether the client socket is in quick-ack mode.
    async fn quick_ack_mode_after(acknowledging: bool, writes: &[&[u8]]) -> Vec<bool> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut app, _) = listener.accept().await.unwrap();
        let mut client = QuickAck::new(stream, acknowledging);
        let mut modes = Vec::new();
        for _ in 0..5 {
            let mut buffer = [0; 256];
            client.write_all(GET.as_bytes()).await.unwrap();
            app.read_exact(&mut buffer[..GET.len()]).await.unwrap();
            for part in writes {
                app.write_all(part).await.unwrap();
                let mut read = 0;
                while read < part.len() {
                    read += client.read(&mut buffer[read..]).await.unwrap();
                }
                let mode = socket2::SockRef::from(client.stream())
                    .tcp_quickack()
                    .unwrap();
                modes.push(mode);
            }
        }
        modes
    }

    #[tokio::test]
    async fn a_head_without_its_body_is_acknowledged_at_once() {
        // covers ERR-5: after the head of a response whose body the app holds back (Nagle), the
        // socket is in quick-ack mode, so the app's held write is released at once instead of
        // after Linux's delayed acknowledgement; after the whole response it is left alone.
        let split: [&[u8]; 2] = [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"ok"];
        let modes = quick_ack_mode_after(true, &split).await;
        let after_heads: Vec<bool> = modes.iter().step_by(2).copied().collect();
        assert_eq!(after_heads, [true; 5], "{modes:?}");
        // Without it the kernel delays acknowledgements once the exchange is a conversation.
        let plain = quick_ack_mode_after(false, &split).await;
        assert!(plain.contains(&false), "{plain:?}");
        // A response written at once gets no acknowledgement of its own.
        let whole: [&[u8]; 1] = [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"];
        let modes = quick_ack_mode_after(true, &whole).await;
        assert!(modes.contains(&false), "{modes:?}");
    }
}
