//! The app's response → what Lambda returns to the event's source (SPEC RSP-1 … RSP-3, RSP-6).
//!
//! One function per source shapes status, headers and body: API Gateway REST gets
//! `multiValueHeaders`, HTTP API / Function URL gets `headers` plus `cookies`, ALB gets a
//! `statusDescription`, and a pass-through event gets the app's JSON body as its result. Repeated
//! headers are never dropped, and bodies that are not text travel as base64.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, StatusCode};
use serde::de::IgnoredAny;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::event::EventSource;

/// A Lambda HTTP response document; the fields a source does not use are left out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpResponse<'a> {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Vec<String>>,
    body: BodyField<'a>,
    is_base64_encoded: bool,
}

/// The response body as it goes into the JSON: borrowed text, or bytes base64-encoded straight
/// into the output (no intermediate copy of a large body).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyField<'a> {
    Text(&'a str),
    Base64(&'a [u8]),
}

impl Serialize for BodyField<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            BodyField::Text(text) => serializer.serialize_str(text),
            BodyField::Base64(bytes) => {
                serializer.collect_str(&Base64Display::new(bytes, &STANDARD))
            }
        }
    }
}

/// Shapes a buffered app response for `source`: the JSON payload posted to the Runtime API.
pub(crate) fn to_lambda(
    source: EventSource,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
) -> Bytes {
    if source == EventSource::PassThrough {
        return pass_through_result(body);
    }
    let field = body_field(headers, &body);
    let mut response = HttpResponse {
        status_code: status.as_u16(),
        status_description: None,
        headers: None,
        multi_value_headers: None,
        cookies: None,
        is_base64_encoded: matches!(field, BodyField::Base64(_)),
        body: field,
    };
    match source {
        EventSource::RestApi => response.multi_value_headers = Some(multi_value_headers(headers)),
        EventSource::HttpApi => {
            let (headers, cookies) = joined_headers_and_cookies(headers);
            response.headers = Some(headers);
            response.cookies = Some(cookies);
        }
        EventSource::Alb { multi_value } => {
            response.status_description = Some(status_description(status));
            if multi_value {
                response.multi_value_headers = Some(multi_value_headers(headers));
            } else {
                response.headers = Some(single_value_headers(headers));
            }
        }
        EventSource::PassThrough => {}
    }
    let mut payload = Vec::with_capacity(body.len() / 3 * 4 + 1024);
    match serde_json::to_writer(&mut payload, &response) {
        Ok(()) => Bytes::from(payload),
        // Writing strings and maps into a Vec cannot fail.
        Err(_) => Bytes::from_static(b"null"),
    }
}

/// `200 OK`, as ALB wants it.
fn status_description(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The app's body as the result of a non-HTTP event: its JSON verbatim, text that is not JSON as
/// a JSON string, nothing as `null`.
fn pass_through_result(body: Bytes) -> Bytes {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Bytes::from_static(b"null");
    }
    if serde_json::from_slice::<IgnoredAny>(&body).is_ok() {
        return body;
    }
    serde_json::to_vec(&String::from_utf8_lossy(&body))
        .map_or_else(|_| Bytes::from_static(b"null"), Bytes::from)
}

/// The headers sent back: all of the app's but `transfer-encoding` (RSP-6), which Lambda's
/// front doors set themselves.
fn forwarded(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, Vec<String>)> {
    headers
        .keys()
        .filter(|name| **name != TRANSFER_ENCODING)
        .map(|name| {
            let values = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            (name, values)
        })
}

fn multi_value_headers(headers: &HeaderMap) -> Value {
    let map: Map<String, Value> = forwarded(headers)
        .map(|(name, values)| (name.to_string(), values.into()))
        .collect();
    Value::Object(map)
}

/// v2 (RSP-2): repeated headers joined with `, `; every `set-cookie` goes to `cookies`.
fn joined_headers_and_cookies(headers: &HeaderMap) -> (Value, Vec<String>) {
    let mut map = Map::new();
    let mut cookies = Vec::new();
    for (name, values) in forwarded(headers) {
        if *name == SET_COOKIE {
            cookies.extend(values);
        } else {
            map.insert(name.to_string(), values.join(", ").into());
        }
    }
    (Value::Object(map), cookies)
}

/// ALB without multi-value headers can carry one value per name: repeated headers are joined
/// with `, `, which is wrong only for `set-cookie`, where the first value is kept.
fn single_value_headers(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, mut values) in forwarded(headers) {
        if *name == SET_COOKIE {
            if values.len() > 1 {
                tracing::warn!(
                    "the app set {} cookies but this ALB target group has multi-value headers off: only the first is returned",
                    values.len()
                );
            }
            map.insert(name.to_string(), values.swap_remove(0).into());
        } else {
            map.insert(name.to_string(), values.join(", ").into());
        }
    }
    Value::Object(map)
}

/// RSP-3: text stays text, anything else (or anything encoded) becomes base64.
pub(crate) fn body_field<'a>(headers: &HeaderMap, body: &'a [u8]) -> BodyField<'a> {
    let may_be_text = !headers.contains_key(CONTENT_ENCODING)
        && headers
            .get(CONTENT_TYPE)
            .is_none_or(|ct| ct.to_str().is_ok_and(is_text_content_type));
    match std::str::from_utf8(body) {
        Ok(text) if may_be_text || body.is_empty() => BodyField::Text(text),
        _ => BodyField::Base64(body),
    }
}

/// Text media types: `text/*`, JSON, JavaScript, XML, YAML and the `+json`/`+xml`/`+yaml` suffixes.
pub(crate) fn is_text_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/xml"
                | "application/yaml"
                | "application/x-yaml"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || essence.ends_with("+yaml")
}

/// The JSON prelude of a streamed response (STR-1): status, headers (a string, or an array for a
/// repeated header) and every `set-cookie` value in `cookies`.
pub(crate) fn stream_prelude(status: StatusCode, headers: &HeaderMap) -> Bytes {
    let mut map = Map::new();
    let mut cookies = Vec::new();
    for (name, mut values) in forwarded(headers) {
        if *name == SET_COOKIE {
            cookies.extend(values);
        } else if values.len() == 1 {
            map.insert(name.to_string(), values.swap_remove(0).into());
        } else {
            map.insert(name.to_string(), values.into());
        }
    }
    let prelude =
        serde_json::json!({ "statusCode": status.as_u16(), "headers": map, "cookies": cookies });
    Bytes::from(prelude.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn json_of(payload: Bytes) -> Value {
        serde_json::from_slice(&payload).unwrap()
    }

    #[test]
    fn rest_api_gets_multi_value_headers() {
        // covers RSP-1
        let h = headers(&[
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("content-type", "text/plain"),
        ]);
        let r = json_of(to_lambda(
            EventSource::RestApi,
            StatusCode::CREATED,
            &h,
            Bytes::from("hi"),
        ));
        assert_eq!(r["statusCode"], 201);
        assert_eq!(r["multiValueHeaders"]["set-cookie"], json!(["a=1", "b=2"]));
        assert_eq!(r["body"], "hi");
        assert_eq!(r["isBase64Encoded"], false);
    }

    #[test]
    fn http_api_joins_repeated_headers_and_collects_cookies() {
        // covers RSP-1, RSP-2, RSP-6
        let h = headers(&[
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("x-many", "1"),
            ("x-many", "2"),
            ("transfer-encoding", "chunked"),
        ]);
        let r = json_of(to_lambda(
            EventSource::HttpApi,
            StatusCode::OK,
            &h,
            Bytes::new(),
        ));
        assert_eq!(r["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(r["headers"]["x-many"], "1, 2");
        assert!(r["headers"].get("set-cookie").is_none());
        assert!(r["headers"].get("transfer-encoding").is_none());
    }

    #[test]
    fn alb_has_status_description_and_its_header_mode() {
        // covers RSP-1
        let h = headers(&[("x-a", "1"), ("x-a", "2")]);
        let r = json_of(to_lambda(
            EventSource::Alb { multi_value: false },
            StatusCode::NOT_FOUND,
            &h,
            Bytes::new(),
        ));
        assert_eq!(r["statusDescription"], "404 Not Found");
        assert_eq!(r["headers"]["x-a"], "1, 2");
        let r = json_of(to_lambda(
            EventSource::Alb { multi_value: true },
            StatusCode::OK,
            &h,
            Bytes::new(),
        ));
        assert_eq!(r["multiValueHeaders"]["x-a"], json!(["1", "2"]));
    }

    #[test]
    fn binary_detection() {
        // covers RSP-3
        let png: &[u8] = &[0x89, b'P', b'N', b'G', 0, 0xff];
        let is_base64 = |h: &[(&'static str, &'static str)], body: &[u8]| {
            matches!(body_field(&headers(h), body), BodyField::Base64(_))
        };
        assert!(is_base64(&[("content-type", "image/png")], png));
        assert!(is_base64(&[], png), "no content type, not UTF-8");
        assert!(
            is_base64(&[("content-type", "text/plain")], png),
            "never mangled"
        );
        assert!(is_base64(
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip")
            ],
            b"x"
        ));
        assert!(!is_base64(&[], b"plain"));
        assert_eq!(
            body_field(&headers(&[]), b"plain"),
            BodyField::Text("plain")
        );
        // Base64 is written straight into the JSON.
        let r = json_of(to_lambda(
            EventSource::HttpApi,
            StatusCode::OK,
            &headers(&[("content-type", "image/png")]),
            Bytes::from_static(png),
        ));
        assert_eq!(r["body"], "iVBORwD/");
        assert_eq!(r["isBase64Encoded"], true);
        for text in [
            "text/html; charset=utf-8",
            "application/json",
            "application/vnd.api+json",
            "image/svg+xml",
            "application/x-yaml",
            "application/javascript",
        ] {
            assert!(is_text_content_type(text), "{text}");
        }
        for binary in [
            "image/png",
            "application/octet-stream",
            "application/pdf",
            "font/woff2",
        ] {
            assert!(!is_text_content_type(binary), "{binary}");
        }
    }

    #[test]
    fn pass_through_results() {
        // covers EVT-7
        let r = to_lambda(
            EventSource::PassThrough,
            StatusCode::OK,
            &HeaderMap::new(),
            Bytes::from(r#"{"batchItemFailures": []}"#),
        );
        assert_eq!(r, r#"{"batchItemFailures": []}"#);
        let r = to_lambda(
            EventSource::PassThrough,
            StatusCode::OK,
            &HeaderMap::new(),
            Bytes::from("done"),
        );
        assert_eq!(json_of(r), json!("done"));
        let r = to_lambda(
            EventSource::PassThrough,
            StatusCode::OK,
            &HeaderMap::new(),
            Bytes::new(),
        );
        assert_eq!(json_of(r), Value::Null);
    }

    #[test]
    fn streaming_prelude() {
        // covers STR-1
        let h = headers(&[
            ("content-type", "text/event-stream"),
            ("x-a", "1"),
            ("x-a", "2"),
            ("set-cookie", "a=1"),
            ("transfer-encoding", "chunked"),
        ]);
        let p: Value = serde_json::from_slice(&stream_prelude(StatusCode::OK, &h)).unwrap();
        assert_eq!(
            p,
            json!({"statusCode": 200, "headers": {"content-type": "text/event-stream", "x-a": ["1", "2"]}, "cookies": ["a=1"]})
        );
    }
}
