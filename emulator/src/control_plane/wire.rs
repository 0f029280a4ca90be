//! HTTP details shared by both APIs: reading request bodies with a size limit, and the JSON
//! replies Lambda uses (`{"errorType":..,"errorMessage":..}`, `{"status":"OK"}`).

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};

use crate::server::{full_body, ResponseBody};

pub(crate) type Reply = Response<ResponseBody>;

pub(crate) fn json_reply(status: StatusCode, body: &Value) -> Reply {
    let mut reply = Response::new(full_body(body.to_string()));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

pub(crate) fn error_reply(status: StatusCode, error_type: &str, message: &str) -> Reply {
    json_reply(
        status,
        &json!({ "errorType": error_type, "errorMessage": message }),
    )
}

/// `202 Accepted` with Lambda's `{"status":"OK"}`.
pub(crate) fn accepted() -> Reply {
    json_reply(StatusCode::ACCEPTED, &json!({ "status": "OK" }))
}

pub(crate) fn not_found() -> Reply {
    error_reply(
        StatusCode::NOT_FOUND,
        "NotFound",
        "no such control-plane endpoint",
    )
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

pub(crate) enum BodyRead {
    Complete(Bytes),
    /// Over the limit; the rest was read and dropped so the client still gets an answer.
    TooLarge {
        received: usize,
    },
    /// The connection broke before the body ended.
    Broken,
}

/// Reads a whole request body, keeping at most `limit` bytes.
pub(crate) async fn read_body(mut body: Incoming, limit: usize) -> BodyRead {
    let mut kept = BytesMut::new();
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Broken;
        };
        if let Ok(data) = frame.into_data() {
            received += data.len();
            if received <= limit {
                kept.extend_from_slice(&data);
            }
        }
    }
    if received > limit {
        BodyRead::TooLarge { received }
    } else {
        BodyRead::Complete(kept.freeze())
    }
}
