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
            // Room for the usual few escapes; a body with many makes the buffer grow.
            let mut out = Vec::with_capacity(part.len() + part.len() / 8 + 16);
            escape_into(&mut out, part);
            Bytes::from(out)
        }
        Encoding::Base64 => Bytes::from(Base64Display::new(part, &STANDARD).to_string()),
    }
}

/// What each byte becomes inside a JSON string, as `serde_json` writes it: itself (0), a short
/// escape (`\n`, `\"`, …), or `\u00XX` (`u`) for the other control characters.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Whether `byte` is written escaped: a control character, `"` or `\\`.
fn is_escaped(byte: u8) -> bool {
    ESCAPE[usize::from(byte)] != 0
}

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const LOW7: u64 = u64::from_le_bytes([0x7f; 8]);
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// 0x80 in the place of each byte of `x` that is zero, exactly.
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// 0x80 in the place of each byte of `x` below 0x20, exactly.
fn control_bytes(x: u64) -> u64 {
    !(((x & LOW7) + ONES * (0x80 - 0x20)) | x) & HIGH
}

/// 0x80 in the place of each byte of `x` that is `byte`.
fn bytes_equal(x: u64, byte: u8) -> u64 {
    zero_bytes(x ^ (ONES * u64::from(byte)))
}

/// The bytes of `word` (little-endian) that are written escaped, as 0x80 in their place: eight at
/// a time, exactly (the release build is optimised for size, which leaves byte loops unvectorised;
/// this takes a fraction of the instructions of a table lookup per byte).
fn escaped_bytes(word: u64) -> u64 {
    control_bytes(word) | bytes_equal(word, b'"') | bytes_equal(word, b'\\')
}

/// The control characters of `word` written as `\u00XX`: all but the five with a short escape.
fn long_escapes(word: u64) -> u64 {
    let short = [0x08, 0x09, 0x0a, 0x0c, 0x0d].map(|byte| bytes_equal(word, byte));
    control_bytes(word) & !(short[0] | short[1] | short[2] | short[3] | short[4])
}

fn word_at(chunk: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(chunk);
    u64::from_le_bytes(word)
}

/// Where the first byte of `text` that is written escaped is.
fn first_escaped(text: &[u8]) -> Option<usize> {
    let mut words = text.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        let found = escaped_bytes(word_at(chunk));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| is_escaped(b))
        .map(|i| at + i)
}

/// The length of `text` as the contents of a JSON string.
fn escaped_len(text: &[u8]) -> usize {
    // An escape adds one byte (`\n`), or five (`\u00XX`).
    let mut words = text.chunks_exact(8);
    let mut len = text.len();
    for chunk in &mut words {
        let word = word_at(chunk);
        let escaped = escaped_bytes(word);
        if escaped != 0 {
            len += escaped.count_ones() as usize + 4 * long_escapes(word).count_ones() as usize;
        }
    }
    let extra = |byte: &u8| match ESCAPE[usize::from(*byte)] {
        0 => 0,
        b'u' => 5,
        _ => 1,
    };
    len + words.remainder().iter().map(extra).sum::<usize>()
}

/// Appends `text` as the contents of a JSON string: runs that need no escape are copied whole.
fn escape_into(out: &mut Vec<u8>, mut text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    while let Some(at) = first_escaped(text) {
        out.extend_from_slice(&text[..at]);
        let byte = text[at];
        match ESCAPE[usize::from(byte)] {
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
        text = &text[at + 1..];
    }
    out.extend_from_slice(text);
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
        fn eight_bytes_at_a_time_finds_what_one_at_a_time_finds(bytes in proptest::prelude::any::<[u8; 8]>()) {
            let word = u64::from_le_bytes(bytes);
            let (found, long) = (escaped_bytes(word), long_escapes(word));
            for (i, &byte) in bytes.iter().enumerate() {
                let at = |mask: u64| mask >> (i * 8) & 0xff == 0x80;
                proptest::prop_assert_eq!(at(found), is_escaped(byte), "{:?}", bytes);
                proptest::prop_assert_eq!(at(long), ESCAPE[usize::from(byte)] == b'u', "{:?}", bytes);
            }
        }

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
