//! Function result → HTTP response, as each [`EventSource`] builds it (SPEC PKG-6; EVT-9 and
//! STR-5 for the Lattice and REST API shapes).
//!
//! - A buffered result is the JSON document the function returned: `statusCode`, `headers` and/or
//!   `multiValueHeaders`, `body`, `isBase64Encoded`, and for payload 2.0 `cookies` (one
//!   `set-cookie` each). Payload 2.0 also accepts any other JSON as the body of a `200`
//!   `application/json` response (AWS calls this format inference); REST APIs and ALBs need a
//!   `statusCode`, and answer `502` without one, as does anything that is not JSON.
//! - A streamed result starts with a JSON prelude (`statusCode`, `headers` whose values are a
//!   string or an array of strings, `cookies`) ended by 8 NUL bytes; [`PreludeScanner`] finds it
//!   across chunk boundaries and [`prelude_head`] turns it into a status and headers.
//! - An error result becomes a `502` carrying the error JSON, as a Function URL answers.
//!
//! `content-length`, `transfer-encoding` and other hop-by-hop headers from the function are not
//! passed on: the front door frames the body itself.

use std::fmt;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::EventSource;
use crate::control_plane::PRELUDE_DELIMITER;
use crate::server::{full_body, ResponseBody};

/// Headers the front door sets itself from the body it sends.
const HOP_BY_HOP: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "trailer",
];

/// A prelude longer than this is taken for a stream that has none.
pub const MAX_PRELUDE_BYTES: usize = 1024 * 1024;

/// A complete HTTP response to send.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpReply {
    /// A response with a JSON body.
    pub fn json(status: StatusCode, body: &Value) -> HttpReply {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        HttpReply {
            status,
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    pub fn into_response(self) -> Response<ResponseBody> {
        let mut response = Response::new(full_body(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// Why a result could not be turned into a response; the client gets a `502`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedResult(pub String);

impl fmt::Display for MalformedResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl MalformedResult {
    /// What API Gateway answers for a result it cannot use.
    pub fn reply(&self) -> HttpReply {
        HttpReply::json(
            StatusCode::BAD_GATEWAY,
            &json!({ "message": "Internal Server Error" }),
        )
    }
}

fn malformed(reason: impl Into<String>) -> MalformedResult {
    MalformedResult(reason.into())
}

/// The response `source` gives for a buffered result `payload`.
pub fn from_result(source: EventSource, payload: &[u8]) -> Result<HttpReply, MalformedResult> {
    let document: Value = serde_json::from_slice(payload)
        .map_err(|err| malformed(format!("the function's result is not JSON: {err}")))?;
    let structured = document
        .as_object()
        .filter(|object| object.contains_key("statusCode"));
    match structured {
        Some(object) => {
            // The header maps again, in the order they were written: VPC Lattice results carry
            // each Set-Cookie under a differently spelled name, whose order is the cookies'.
            let ordered: OrderedHeaderMaps = serde_json::from_slice(payload).unwrap_or_default();
            structured_reply(source, object, &ordered)
        }
        None if source.is_v2() => {
            // Format inference: any other JSON is the body of a 200 JSON response.
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Ok(HttpReply {
                status: StatusCode::OK,
                headers,
                body: Bytes::copy_from_slice(payload),
            })
        }
        None => Err(malformed(format!(
            "the function's result has no statusCode, which a {source} source needs"
        ))),
    }
}

/// A result's `headers` and `multiValueHeaders`, each as its entries in document order.
#[derive(Debug, Default, serde::Deserialize)]
struct OrderedHeaderMaps {
    #[serde(default)]
    headers: Option<OrderedMap>,
    #[serde(default, rename = "multiValueHeaders")]
    multi_value_headers: Option<OrderedMap>,
}

/// A JSON object's entries in the order they appear (serde_json's `Map` sorts them).
#[derive(Debug, Default)]
struct OrderedMap(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for OrderedMap {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = OrderedMap;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedMap, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(OrderedMap(entries))
            }

            // Anything else (`null`, a string) has no headers: an empty map, not an error.
            fn visit_unit<E>(self) -> Result<OrderedMap, E> {
                Ok(OrderedMap::default())
            }
        }
        deserializer
            .deserialize_any(Entries)
            .or_else(|_: D::Error| Ok(OrderedMap::default()))
    }
}

fn structured_reply(
    source: EventSource,
    result: &Map<String, Value>,
    ordered: &OrderedHeaderMaps,
) -> Result<HttpReply, MalformedResult> {
    let status = status_code(result.get("statusCode"))?;
    let mut headers = HeaderMap::new();
    let entries = |map: &Option<OrderedMap>, key: &str| match map {
        Some(OrderedMap(entries)) if !entries.is_empty() => entries.clone(),
        _ => match result.get(key) {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        },
    };
    add_header_entries(
        &mut headers,
        &entries(&ordered.multi_value_headers, "multiValueHeaders"),
    );
    add_header_entries(&mut headers, &entries(&ordered.headers, "headers"));
    if source.is_v2() {
        add_cookies(&mut headers, result.get("cookies"));
    }
    let base64 = result
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match result.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(body)) if base64 => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(Bytes::from)
            .map_err(|err| malformed(format!("the result's body is not valid base64: {err}")))?,
        Some(Value::String(body)) => Bytes::from(body.clone()),
        Some(other) => {
            return Err(malformed(format!(
                "the result's body must be a string, got {other}"
            )))
        }
    };
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

/// A number (or a string of digits) from 100 to 999.
fn status_code(value: Option<&Value>) -> Result<StatusCode, MalformedResult> {
    let code = match value {
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    code.and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| malformed(format!("statusCode {value:?} is not an HTTP status")))
}

/// Adds a `headers`/`multiValueHeaders` object: values are strings (or numbers, booleans) or
/// arrays of them. A name already set by an earlier map is left alone, so `multiValueHeaders`
/// wins over `headers` as in API Gateway. Names or values no header can carry are skipped.
fn add_headers(headers: &mut HeaderMap, map: Option<&Value>) {
    let Some(Value::Object(map)) = map else {
        return;
    };
    let entries: Vec<(String, Value)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    add_header_entries(headers, &entries);
}

/// [`add_headers`] for entries in a given order.
fn add_header_entries(headers: &mut HeaderMap, map: &[(String, Value)]) {
    let before: Vec<HeaderName> = headers.keys().cloned().collect();
    for (name, value) in map {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if HOP_BY_HOP.contains(&name.as_str()) || before.contains(&name) {
            continue;
        }
        let values = match value {
            Value::Array(values) => values.iter().collect(),
            single => vec![single],
        };
        for value in values {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => continue,
            };
            if let Ok(value) = HeaderValue::from_str(&text) {
                headers.append(name.clone(), value);
            }
        }
    }
}

fn add_cookies(headers: &mut HeaderMap, cookies: Option<&Value>) {
    let Some(Value::Array(cookies)) = cookies else {
        return;
    };
    for cookie in cookies.iter().filter_map(Value::as_str) {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
}

/// The `502` a Function URL answers when the function failed, with the error document.
pub fn function_error(error_type: &str, body: &Value) -> HttpReply {
    let body = match body {
        Value::Object(_) => body.clone(),
        other => json!({ "errorType": error_type, "errorMessage": other }),
    };
    HttpReply::json(StatusCode::BAD_GATEWAY, &body)
}

/// The `504` for an invocation that ran past the function timeout.
pub fn timed_out(request_id: &str, timeout_seconds: f64) -> HttpReply {
    HttpReply::json(
        StatusCode::GATEWAY_TIMEOUT,
        &timeout_error(request_id, timeout_seconds),
    )
}

/// Lambda's error document for a timed-out invocation.
pub fn timeout_error(request_id: &str, timeout_seconds: f64) -> Value {
    json!({
        "errorType": "Sandbox.Timedout",
        "errorMessage": format!(
            "RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2} seconds"
        ),
    })
}

/// Status and headers from a streamed response's prelude.
pub fn prelude_head(prelude: &Value) -> Result<(StatusCode, HeaderMap), MalformedResult> {
    let Value::Object(prelude) = prelude else {
        return Err(malformed(format!(
            "the streamed response's prelude is not a JSON object: {prelude}"
        )));
    };
    let status = match prelude.get("statusCode") {
        None => StatusCode::OK,
        code => status_code(code)?,
    };
    let mut headers = HeaderMap::new();
    add_headers(&mut headers, prelude.get("multiValueHeaders"));
    add_headers(&mut headers, prelude.get("headers"));
    add_cookies(&mut headers, prelude.get("cookies"));
    Ok((status, headers))
}

/// Collects the first chunks of a streamed response until the prelude delimiter.
#[derive(Debug, Default)]
pub struct PreludeScanner {
    buffer: BytesMut,
}

/// The prelude (parsed, or why it could not be) and the body bytes that came with it.
pub type ScannedPrelude = (Result<Value, MalformedResult>, Bytes);

impl PreludeScanner {
    /// Adds a chunk; once the delimiter has arrived, returns the prelude and the body bytes after
    /// it. The delimiter may be split across chunks.
    pub fn push(&mut self, chunk: &[u8]) -> Option<ScannedPrelude> {
        // Only the new bytes, and the 7 before them, can complete a delimiter.
        let search_from = self
            .buffer
            .len()
            .saturating_sub(PRELUDE_DELIMITER.len() - 1);
        self.buffer.extend_from_slice(chunk);
        let found = self.buffer[search_from..]
            .windows(PRELUDE_DELIMITER.len())
            .position(|window| window == PRELUDE_DELIMITER)?;
        let end = search_from + found;
        let mut buffer = std::mem::take(&mut self.buffer);
        let rest = buffer.split_off(end + PRELUDE_DELIMITER.len()).freeze();
        let head = &buffer[..end];
        let prelude = serde_json::from_slice(head).map_err(|err| {
            malformed(format!(
                "the streamed response's prelude is not JSON ({err}): {}",
                String::from_utf8_lossy(head)
            ))
        });
        Some((prelude, rest))
    }

    /// Bytes held while waiting for the delimiter.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(source: EventSource, result: Value) -> HttpReply {
        from_result(source, result.to_string().as_bytes()).expect("a usable result")
    }

    fn all(headers: &HeaderMap, name: &str) -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn v2_result_with_cookies_and_joined_headers() {
        let reply = reply(
            EventSource::FunctionUrl,
            json!({
                "statusCode": 201,
                "headers": {"content-type": "text/plain", "x-many": "a, b", "content-length": "999"},
                "cookies": ["a=1; Path=/", "b=2"],
                "body": "hello",
                "isBase64Encoded": false
            }),
        );
        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(all(&reply.headers, "set-cookie"), ["a=1; Path=/", "b=2"]);
        assert_eq!(all(&reply.headers, "x-many"), ["a, b"]);
        assert_eq!(all(&reply.headers, "content-type"), ["text/plain"]);
        assert!(reply.headers.get("content-length").is_none());
        assert_eq!(reply.body, "hello");
    }

    #[test]
    fn evt9_lattice_cookies_spelled_apart_keep_their_order() {
        let payload = r#"{"statusCode":200,"statusDescription":"200 OK","headers":{"set-cookie":"z=1","Set-cookie":"a=2","sEt-cookie":"m=3","content-type":"text/plain"},"isBase64Encoded":false,"body":"hi"}"#;
        let reply = from_result(EventSource::Lattice, payload.as_bytes()).unwrap();
        assert_eq!(all(&reply.headers, "set-cookie"), ["z=1", "a=2", "m=3"]);
        assert_eq!(all(&reply.headers, "content-type"), ["text/plain"]);
        assert_eq!(reply.body, "hi");
    }

    #[test]
    fn binary_bodies_are_decoded_byte_exact() {
        let bytes: Vec<u8> = (0..=255).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        for source in [
            EventSource::FunctionUrl,
            EventSource::RestApiV1,
            EventSource::Alb,
        ] {
            let reply = reply(
                source,
                json!({"statusCode": 200, "body": encoded, "isBase64Encoded": true}),
            );
            assert_eq!(reply.body, bytes, "{source}");
        }
    }

    #[test]
    fn v2_infers_a_json_body_from_other_results() {
        let reply = reply(EventSource::HttpApiV2, json!({"hello": "world"}));
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(all(&reply.headers, "content-type"), ["application/json"]);
        assert_eq!(reply.body, r#"{"hello":"world"}"#);
        let text = from_result(EventSource::FunctionUrl, b"\"plain\"").unwrap();
        assert_eq!(text.body, "\"plain\"");
    }

    #[test]
    fn v1_multi_value_headers_win_over_single_ones() {
        let reply = reply(
            EventSource::RestApiV1,
            json!({
                "statusCode": "404",
                "headers": {"x-a": "single", "x-b": "only"},
                "multiValueHeaders": {"x-a": ["one", "two"], "set-cookie": ["a=1", "b=2"]},
                "cookies": ["ignored=1"],
                "body": "missing"
            }),
        );
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(all(&reply.headers, "x-a"), ["one", "two"]);
        assert_eq!(all(&reply.headers, "x-b"), ["only"]);
        assert_eq!(all(&reply.headers, "set-cookie"), ["a=1", "b=2"]);
    }

    #[test]
    fn alb_result_with_status_description() {
        let reply = reply(
            EventSource::AlbMultiValue,
            json!({
                "statusCode": 200,
                "statusDescription": "200 OK",
                "multiValueHeaders": {"x-n": [1, true]},
                "body": ""
            }),
        );
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(all(&reply.headers, "x-n"), ["1", "true"]);
        assert!(reply.body.is_empty());
    }

    #[test]
    fn unusable_results_are_502() {
        for (source, payload) in [
            (EventSource::FunctionUrl, &b"not json"[..]),
            (EventSource::RestApiV1, br#"{"body":"no status"}"#),
            (EventSource::Alb, b"[]"),
            (EventSource::FunctionUrl, br#"{"statusCode":"abc"}"#),
            (EventSource::FunctionUrl, br#"{"statusCode":70000}"#),
            (
                EventSource::FunctionUrl,
                br#"{"statusCode":200,"body":"!!","isBase64Encoded":true}"#,
            ),
            (
                EventSource::RestApiV1,
                br#"{"statusCode":200,"body":{"a":1}}"#,
            ),
        ] {
            let err = from_result(source, payload).unwrap_err();
            assert_eq!(err.reply().status, StatusCode::BAD_GATEWAY, "{err}");
        }
    }

    #[test]
    fn invalid_header_names_and_values_are_skipped() {
        let reply = reply(
            EventSource::FunctionUrl,
            json!({"statusCode": 200, "headers": {"bad name": "x", "x-ok": "fine", "x-bad": "a\nb"}}),
        );
        assert_eq!(reply.headers.len(), 1);
        assert_eq!(all(&reply.headers, "x-ok"), ["fine"]);
    }

    #[test]
    fn function_errors_are_502_with_the_error_json() {
        let body = json!({"errorType": "Adapter.AppUnreachable", "errorMessage": "refused"});
        let reply = function_error("Adapter.AppUnreachable", &body);
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
        assert_eq!(serde_json::from_slice::<Value>(&reply.body).unwrap(), body);
        let text = function_error("Runtime.X", &json!("boom"));
        assert_eq!(
            serde_json::from_slice::<Value>(&text.body).unwrap(),
            json!({"errorType": "Runtime.X", "errorMessage": "boom"})
        );
    }

    #[test]
    fn timeouts_are_504() {
        let reply = timed_out("r1", 3.0);
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body["errorMessage"],
            "RequestId: r1 Error: Task timed out after 3.00 seconds"
        );
    }

    #[test]
    fn prelude_split_anywhere_is_found() {
        let mut stream = br#"{"statusCode":200,"headers":{"content-type":"text/event-stream","x-r":["1","2"]},"cookies":["a=1"]}"#.to_vec();
        stream.extend_from_slice(&PRELUDE_DELIMITER);
        stream.extend_from_slice(b"data: 1\n\n");
        for split in 0..stream.len() {
            for second_split in split..stream.len() {
                let mut scanner = PreludeScanner::default();
                let parts = [
                    &stream[..split],
                    &stream[split..second_split],
                    &stream[second_split..],
                ];
                let mut found = None;
                let mut after = Vec::new();
                for part in parts {
                    match &found {
                        None => found = scanner.push(part),
                        Some(_) => after.extend_from_slice(part),
                    }
                }
                let (prelude, rest) = found.expect("prelude found");
                let prelude = prelude.unwrap();
                let mut body = rest.to_vec();
                body.extend_from_slice(&after);
                assert_eq!(body, b"data: 1\n\n", "split at {split}/{second_split}");
                let (status, headers) = prelude_head(&prelude).unwrap();
                assert_eq!(status, StatusCode::OK);
                assert_eq!(all(&headers, "x-r"), ["1", "2"]);
                assert_eq!(all(&headers, "set-cookie"), ["a=1"]);
            }
        }
    }

    #[test]
    fn prelude_edge_cases() {
        let mut scanner = PreludeScanner::default();
        assert!(scanner.push(b"{\"statusCode\":200}").is_none());
        assert_eq!(scanner.buffered(), 18);
        let (prelude, rest) = scanner.push(&[0; 8]).unwrap();
        assert_eq!(prelude.unwrap(), json!({"statusCode": 200}));
        assert!(rest.is_empty());

        let mut scanner = PreludeScanner::default();
        let (prelude, _) = scanner.push(b"oops\0\0\0\0\0\0\0\0body").unwrap();
        assert!(prelude.is_err());

        let (status, headers) = prelude_head(&json!({})).unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(headers.is_empty());
        assert!(prelude_head(&json!([1])).is_err());
    }
}
