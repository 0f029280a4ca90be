//! Reading a whole HTTP body into one buffer, the way the large bodies of Lambda need it.
//!
//! `http_body_util::BodyExt::collect` keeps every frame and then copies them all into a new
//! buffer, so a 5 MB body is briefly held twice. Here the buffer is sized from the body's size
//! hint up front and each frame is dropped as soon as it is copied; a body that arrives as a
//! single frame is not copied at all.

use bytes::{Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;

/// Reads `body` to its end; trailers are ignored.
pub(crate) async fn read_all<B>(body: B) -> Result<Bytes, B::Error>
where
    B: Body<Data = Bytes>,
{
    let expected = usize::try_from(body.size_hint().lower()).unwrap_or(0);
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut buffer: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        match (&mut buffer, first.take()) {
            (Some(buffer), _) => buffer.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(previous)) => {
                let mut joined = BytesMut::with_capacity(expected.max(previous.len() + data.len()));
                joined.extend_from_slice(&previous);
                joined.extend_from_slice(&data);
                buffer = Some(joined);
            }
        }
    }
    Ok(match (buffer, first) {
        (Some(buffer), _) => buffer.freeze(),
        (None, Some(only)) => only,
        (None, None) => Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    use http_body_util::Full;
    use lambda_emulator::testing::ChannelBody;
    use tokio::sync::mpsc;

    /// A body that yields `chunks` one frame at a time.
    fn frames(
        chunks: &[&'static str],
    ) -> ChannelBody<mpsc::UnboundedReceiver<Result<Bytes, Infallible>>> {
        let (send, frames) = mpsc::unbounded_channel();
        for chunk in chunks {
            let _ = send.send(Ok(Bytes::from_static(chunk.as_bytes())));
        }
        ChannelBody::new(frames)
    }

    #[tokio::test]
    async fn single_and_many_frames() {
        let one = Bytes::from_static(b"hello");
        let read = read_all(Full::new(one.clone())).await.unwrap_or_default();
        assert_eq!(read, "hello");
        assert_eq!(read.as_ptr(), one.as_ptr(), "a single frame is not copied");
        let many = read_all(frames(&["a", "bc", "", "def"]))
            .await
            .unwrap_or_default();
        assert_eq!(many, "abcdef");
        let empty = read_all(frames(&[])).await.unwrap_or_default();
        assert!(empty.is_empty());
    }
}
