//! A buffered response's Lambda payload (SPEC RSP-1, RSP-3, RSP-7), sent without a second full copy
//! of a large body.
//!
//! A payload is its JSON document's head (`{"statusCode":…,"headers":…,"body":"`), the app's body
//! encoded as a JSON string (escaped text, or base64), and its tail (`","isBase64Encoded":…}`). The
//! body is encoded a chunk at a time while the payload is written to the Runtime API, so a 5 MiB
//! response is held once, as the app sent it, never again as a 5 MiB JSON document beside it. The
//! payload's length is known before the first byte leaves (the 6 MB limit is checked on it, and it
//! is the request's `content-length`). Small documents are written whole.

use std::pin::Pin;
use std::task::{Context, Poll};

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

/// How much of the body one frame encodes: a multiple of 3, so base64 needs no padding between
/// frames.
const CHUNK: usize = 48 * 1024;

/// How the body stands in the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// As it is (a whole document, or a pass-through result).
    Verbatim,
    /// The body is UTF-8 text, written as the contents of a JSON string.
    Text,
    /// The body is bytes, written as base64.
    Base64,
}

/// The JSON payload of a buffered response; cloning it shares the body.
#[derive(Clone, Debug)]
pub(crate) struct Payload {
    head: Bytes,
    body: Bytes,
    encoding: Encoding,
    tail: &'static [u8],
    len: usize,
}

impl Payload {
    /// A payload written whole.
    pub(crate) fn whole(document: Bytes) -> Payload {
        Payload {
            len: document.len(),
            head: Bytes::new(),
            body: document,
            encoding: Encoding::Verbatim,
            tail: b"",
        }
    }

    /// `head`, then `body` encoded as `encoding` says, then `tail`.
    pub(crate) fn around(
        head: Bytes,
        body: Bytes,
        encoding: Encoding,
        tail: &'static [u8],
    ) -> Payload {
        let encoded = match encoding {
            Encoding::Verbatim => body.len(),
            Encoding::Text => escaped_len(&body),
            Encoding::Base64 => body.len().div_ceil(3) * 4,
        };
        Payload {
            len: head.len() + encoded + tail.len(),
            head,
            body,
            encoding,
            tail,
        }
    }

    /// Its length in bytes, as sent.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The whole payload in one buffer (for tests and the benchmarks; the runtime loop sends it
    /// as a [`PayloadBody`]).
    pub(crate) fn to_bytes(&self) -> Bytes {
        if self.head.is_empty() && self.tail.is_empty() && self.encoding == Encoding::Verbatim {
            return self.body.clone();
        }
        let mut all = BytesMut::with_capacity(self.len);
        let mut body = self.clone().into_body();
        while let Some(frame) = body.next_frame() {
            all.extend_from_slice(&frame);
        }
        all.freeze()
    }

    /// The payload as the body of a request, encoded frame by frame.
    pub(crate) fn into_body(self) -> PayloadBody {
        PayloadBody {
            left: self.len,
            payload: self,
            at: Part::Head,
        }
    }
}

/// Where a [`PayloadBody`] is.
#[derive(Clone, Copy, Debug)]
enum Part {
    Head,
    Body(usize),
    Tail,
    Done,
}

/// A [`Payload`] being sent: the head, the body a chunk at a time, the tail.
pub(crate) struct PayloadBody {
    payload: Payload,
    at: Part,
    left: usize,
}

impl PayloadBody {
    fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            let frame = match self.at {
                Part::Head => {
                    self.at = Part::Body(0);
                    self.payload.head.clone()
                }
                Part::Body(from) if from < self.payload.body.len() => {
                    let body = &self.payload.body;
                    let (to, frame) = match self.payload.encoding {
                        Encoding::Verbatim => (body.len(), body.slice(from..)),
                        encoding => {
                            let to = (from + CHUNK).min(body.len());
                            (to, encode(encoding, &body[from..to]))
                        }
                    };
                    self.at = Part::Body(to);
                    frame
                }
                Part::Body(_) => {
                    self.at = Part::Tail;
                    continue;
                }
                Part::Tail => {
                    self.at = Part::Done;
                    Bytes::from_static(self.payload.tail)
                }
                Part::Done => return None,
            };
            if !frame.is_empty() {
                self.left = self.left.saturating_sub(frame.len());
                return Some(frame);
            }
        }
    }
}

impl Body for PayloadBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.next_frame().map(|frame| Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left as u64)
    }
}

fn encode(encoding: Encoding, part: &[u8]) -> Bytes {
    match encoding {
        Encoding::Verbatim => Bytes::copy_from_slice(part),
        Encoding::Text => {
            let mut out = Vec::with_capacity(escaped_len(part));
            escape_into(&mut out, part);
            Bytes::from(out)
        }
        Encoding::Base64 => Bytes::from(Base64Display::new(part, &STANDARD).to_string()),
    }
}

/// What a byte becomes inside a JSON string, as `serde_json` writes it: itself (0), a short
/// escape (`\n`, `\"`, …), or `\u00XX` (`u`) for the other control characters.
fn escape_of(byte: u8) -> u8 {
    match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        0x00..=0x1f => b'u',
        _ => 0,
    }
}

/// The length of `text` as the contents of a JSON string.
fn escaped_len(text: &[u8]) -> usize {
    text.len()
        + text
            .iter()
            .map(|&byte| match escape_of(byte) {
                0 => 0,
                b'u' => 5,
                _ => 1,
            })
            .sum::<usize>()
}

/// Appends `text` as the contents of a JSON string.
fn escape_into(out: &mut Vec<u8>, text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (at, &byte) in text.iter().enumerate() {
        let escape = escape_of(byte);
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&text[start..at]);
        match escape {
            b'u' => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]),
            short => out.extend_from_slice(&[b'\\', short]),
        }
        start = at + 1;
    }
    out.extend_from_slice(&text[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(payload: &Payload) -> Vec<Bytes> {
        let mut body = payload.clone().into_body();
        std::iter::from_fn(|| body.next_frame()).collect()
    }

    proptest::proptest! {
        #[test]
        fn text_is_escaped_as_serde_json_escapes_it(text in "(?s:.{0,64})|[\"\\\\\\x00-\\x1f\\x7f a-z]{0,64}") {
            // covers RSP-1 (the body as JSON text)
            let mut out = Vec::new();
            escape_into(&mut out, text.as_bytes());
            let serde = serde_json::to_string(&text).unwrap();
            proptest::prop_assert_eq!(&serde[1..serde.len() - 1], std::str::from_utf8(&out).unwrap());
            proptest::prop_assert_eq!(escaped_len(text.as_bytes()), out.len());
        }
    }

    #[test]
    fn a_large_body_is_written_around_its_head_and_tail_in_chunks() {
        // covers RSP-1, RSP-3, RSP-7 (the length is known before sending)
        let text: String = (0..200_000)
            .map(|i| ["a", "\"", "é", "\n"][i % 4])
            .collect();
        let head = Bytes::from_static(br#"{"statusCode":200,"body":""#);
        let payload = Payload::around(head, Bytes::from(text.clone()), Encoding::Text, b"\"}");
        let whole = payload.to_bytes();
        assert_eq!(whole.len(), payload.len());
        let json: serde_json::Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(json["body"], text);
        let frames = frames(&payload);
        assert!(frames.len() > 3, "the body goes out in chunks");
        assert!(frames.iter().all(|frame| frame.len() <= 2 * CHUNK));

        let bytes: Vec<u8> = (0..100_003u32).map(|i| (i % 251) as u8).collect();
        let head = Bytes::from_static(br#"{"body":""#);
        let payload = Payload::around(head, Bytes::from(bytes.clone()), Encoding::Base64, b"\"}");
        let json: serde_json::Value = serde_json::from_slice(&payload.to_bytes()).unwrap();
        use base64::Engine;
        let decoded = STANDARD.decode(json["body"].as_str().unwrap()).unwrap();
        assert_eq!(decoded, bytes);
        assert_eq!(payload.to_bytes().len(), payload.len());
    }

    #[test]
    fn a_whole_payload_is_its_document() {
        let payload = Payload::whole(Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(payload.len(), 7);
        assert_eq!(frames(&payload), [Bytes::from_static(b"{\"a\":1}")]);
        assert_eq!(payload.into_body().size_hint().exact(), Some(7));
    }
}
