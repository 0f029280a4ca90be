//! The floor of (c): the least any adapter can do for an invocation.
//!
//! The bench runs its own executable with [`ROLE`] set as a third adapter beside ours and theirs.
//! It makes the same socket calls as a real adapter, in the same order (read the `next` answer,
//! write the request to the app, read the app's answer, post the result, read the Runtime API's
//! answer, ask for the next invocation), on one thread with blocking sockets, and does nothing
//! else: the event is not read, the app always gets `GET /small`, and the app's body goes back in
//! a fixed Lambda response. Its overhead is what the hops between the processes cost on this
//! machine; an adapter's overhead above it is the adapter's own work.

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// The variable that makes the bench executable the floor adapter.
pub const ROLE: &str = "LWA_BENCH_ROLE";
/// Its value for the floor adapter.
pub const FLOOR: &str = "floor";
/// The largest HTTP message it reads (the small bodies of (c) are far below).
const MAX_MESSAGE: usize = 1024 * 1024;

/// Serves invocations until the control plane goes away; the exit status says how it ended.
pub fn run(mark_header: &str) -> ! {
    match serve(mark_header) {
        Ok(()) => std::process::exit(0),
        Err(err) => {
            eprintln!("floor adapter: {err}");
            std::process::exit(1)
        }
    }
}

fn serve(mark_header: &str) -> io::Result<()> {
    let api = variable("AWS_LAMBDA_RUNTIME_API")?;
    let port = variable("AWS_LWA_PORT")?;
    let mut runtime = connect(&api)?;
    let mut app = connect(&format!("127.0.0.1:{port}"))?;
    let next = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: {api}\r\n\r\n");
    let forward =
        format!("GET /small HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n{mark_header}: 1\r\n\r\n");
    let mut message = Vec::with_capacity(64 * 1024);
    loop {
        runtime.write_all(next.as_bytes())?;
        let Some(head) = read_message(&mut runtime, &mut message)? else {
            // The control plane closed the connection: the bench is done with this adapter.
            return Ok(());
        };
        let request_id = header(&message[..head], "lambda-runtime-aws-request-id")
            .ok_or_else(|| invalid("a `next` answer without a request id"))?
            .to_owned();
        app.write_all(forward.as_bytes())?;
        let head = read_message(&mut app, &mut message)?
            .ok_or_else(|| invalid("the app closed the connection"))?;
        let body =
            std::str::from_utf8(&message[head..]).map_err(|_| invalid("a non-UTF-8 body"))?;
        let result = format!(
            "{{\"statusCode\":200,\"headers\":{{\"content-type\":\"text/plain\"}},\"body\":{},\
             \"isBase64Encoded\":false}}",
            serde_json::to_string(body)?
        );
        let post = format!(
            "POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\nhost: {api}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{result}",
            result.len()
        );
        runtime.write_all(post.as_bytes())?;
        if read_message(&mut runtime, &mut message)?.is_none() {
            return Ok(());
        }
    }
}

fn variable(name: &str) -> io::Result<String> {
    std::env::var(name).map_err(|_| invalid(&format!("{name} is not set")))
}

fn connect(addr: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one HTTP answer (head and a `content-length` body) into `message` and gives the length of
/// its head; `None` at a clean end of the stream before the answer began.
fn read_message(stream: &mut TcpStream, message: &mut Vec<u8>) -> io::Result<Option<usize>> {
    message.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(head) = head_length(message) {
            let length = header(&message[..head], "content-length")
                .map(|v| {
                    v.parse::<usize>()
                        .map_err(|_| invalid("a bad content-length"))
                })
                .transpose()?
                .unwrap_or(0);
            if message.len() >= head + length {
                return Ok(Some(head));
            }
        }
        if message.len() > MAX_MESSAGE {
            return Err(invalid("an answer over 1 MiB"));
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return if message.is_empty() {
                Ok(None)
            } else {
                Err(invalid("the connection closed inside an answer"))
            };
        }
        message.extend_from_slice(&chunk[..read]);
    }
}

/// The length of the head, up to and with its blank line, once it is all there.
fn head_length(message: &[u8]) -> Option<usize> {
    message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// The value of header `name` (lower case) in `head`.
fn header<'h>(head: &'h [u8], name: &str) -> Option<&'h str> {
    let head = std::str::from_utf8(head).ok()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
