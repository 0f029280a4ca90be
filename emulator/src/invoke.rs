//! `lambda-emulator invoke [--port N] EVENT` (SPEC EMU-4): sends a saved event (a file), a sample
//! (by name) or stdin (`-`) to a running emulator's Invoke endpoint and prints the result.
//!
//! A blocking HTTP/1.1 exchange over std's `TcpStream` (`Connection: close`, so the answer ends
//! with the connection): a one-shot command needs no async runtime.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::samples;

/// How long to wait for the emulator to answer: longer than any function timeout a user sets
/// locally, so the emulator's own 504 arrives first.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The Invoke endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    pub status: u16,
    /// `X-Amz-Function-Error`, set when the function failed.
    pub function_error: Option<String>,
    pub body: Vec<u8>,
}

/// The event `spec` names: a file (when one exists at that path), `-` for stdin, or a sample.
pub fn load_event(spec: &str) -> Result<Vec<u8>, String> {
    if spec == "-" {
        let mut event = Vec::new();
        std::io::stdin()
            .read_to_end(&mut event)
            .map_err(|err| format!("cannot read the event from stdin: {err}"))?;
        return Ok(event);
    }
    let path = Path::new(spec);
    if path.is_file() {
        return std::fs::read(path).map_err(|err| format!("cannot read {spec}: {err}"));
    }
    samples::find(spec)
        .map(|sample| sample.json.as_bytes().to_vec())
        .ok_or_else(|| {
            format!(
                "{spec:?} is neither a file nor a sample event (samples: {})",
                samples::SAMPLES.map(|sample| sample.name).join(", ")
            )
        })
}

/// POSTs `event` to `http://127.0.0.1:{port}/2015-03-31/functions/function/invocations`.
pub fn invoke(port: u16, event: &[u8]) -> Result<Invoked, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect(addr).map_err(|err| {
        format!("cannot reach the emulator on {addr}: {err} (is it running? --port N)")
    })?;
    let _ = stream.set_read_timeout(Some(ANSWER_TIMEOUT));
    let head = format!(
        "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        event.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(event))
        .map_err(|err| format!("sending the event to {addr} failed: {err}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|err| format!("reading the answer from {addr} failed: {err}"))?;
    parse_answer(&answer)
}

/// Status, `X-Amz-Function-Error` and body of a complete HTTP/1.1 response (body framed by
/// `Content-Length`, chunks, or the end of the connection).
fn parse_answer(answer: &[u8]) -> Result<Invoked, String> {
    let malformed = || "the emulator's answer is not an HTTP response".to_owned();
    let head_end = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(malformed)?;
    let head = std::str::from_utf8(&answer[..head_end]).map_err(|_| malformed())?;
    let body = &answer[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(malformed)?;
    let mut function_error = None;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "x-amz-function-error" => function_error = Some(value.to_owned()),
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let body = if chunked {
        dechunk(body).ok_or_else(malformed)?
    } else {
        body[..length.unwrap_or(body.len()).min(body.len())].to_vec()
    };
    Ok(Invoked {
        status,
        function_error,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|window| window == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emu4_answers_are_parsed() {
        let plain = parse_answer(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nX-Amz-Function-Error: Unhandled\r\n\r\n{\"a\"}",
        )
        .unwrap();
        assert_eq!(plain.status, 200);
        assert_eq!(plain.function_error.as_deref(), Some("Unhandled"));
        assert_eq!(plain.body, b"{\"a\"}");
        let chunked = parse_answer(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, b"abcde");
        assert!(chunked.function_error.is_none());
        assert!(parse_answer(b"garbage").is_err());
    }

    #[test]
    fn emu4_events_come_from_files_or_samples() {
        assert!(load_event("sqs").unwrap().starts_with(b"{"));
        let missing = load_event("no-such-sample").unwrap_err();
        assert!(missing.contains("kinesis"), "{missing}");
        let file = std::env::temp_dir().join(format!("emu-invoke-{}.json", std::process::id()));
        std::fs::write(&file, b"{\"mine\":1}").unwrap();
        assert_eq!(load_event(file.to_str().unwrap()).unwrap(), b"{\"mine\":1}");
        let _ = std::fs::remove_file(file);
    }
}
