//! The app's response → what Lambda returns to the event's source (SPEC RSP-1 … RSP-3, RSP-6,
//! EVT-9, STR-1, STR-4, STR-5).
//!
//! [`to_lambda`] writes the JSON document a buffered response becomes; the source decides which
//! members carry the headers: API Gateway REST gets `multiValueHeaders`, HTTP API / Function URL
//! `headers` plus `cookies`, ALB a `statusDescription` and the header mode of its target group,
//! VPC Lattice a `statusDescription` and `headers` of one string each (see [`Repeated`] for how
//! its repeated headers and cookies are kept), and a pass-through event the app's JSON body as its
//! result. [`streams`] says which sources take a streamed response, and [`stream_prelude`] writes
//! its prelude in the source's shape. Small serializers (`Headers`, `Texts`, `Cookies`,
//! `BodyField`) write the app's header map and body straight into the JSON: repeated headers are
//! never dropped, and bodies that are not text travel as base64.

use std::borrow::Cow;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{GetAll, HeaderValue};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode};
use serde::de::IgnoredAny;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::event::EventSource;
use crate::payload::{Encoding, Payload};

/// A Lambda HTTP response document; the fields a source does not use are left out. Header names
/// and values are written from the app's `HeaderMap` as they are, without copies.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpResponse<'a> {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Headers<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<Headers<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Cookies<'a>>,
    /// `None` when the body is written around the rest (a large body, see [`Payload`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<BodyField<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_base64_encoded: Option<bool>,
}

/// From this size on, a body is encoded while the payload is sent instead of into the document.
const LARGE_BODY: usize = 64 * 1024;

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
) -> Payload {
    if source == EventSource::PassThrough {
        return Payload::whole(pass_through_result(body));
    }
    let field = body_field(headers, &body);
    let base64 = matches!(field, BodyField::Base64(_));
    let large = body.len() >= LARGE_BODY;
    let mut response = HttpResponse {
        status_code: status.as_u16(),
        status_description: None,
        headers: None,
        multi_value_headers: None,
        cookies: None,
        is_base64_encoded: (!large).then_some(base64),
        body: (!large).then_some(field),
    };
    match source {
        EventSource::RestApi => {
            response.multi_value_headers = Some(Headers::new(headers, Repeated::List));
        }
        EventSource::HttpApi | EventSource::FunctionUrl => {
            response.headers = Some(Headers::new(headers, Repeated::Joined).only(Only::NotCookies));
            response.cookies = Some(Cookies(headers));
        }
        EventSource::Alb { multi_value } => {
            response.status_description = Some(status_description(status));
            if multi_value {
                response.multi_value_headers = Some(Headers::new(headers, Repeated::List));
            } else {
                let cookies = headers.get_all(SET_COOKIE).iter().count();
                if cookies > 1 {
                    tracing::warn!(
                        "the app set {cookies} cookies but this ALB target group has multi-value headers off: only the first is returned"
                    );
                }
                response.headers = Some(Headers::new(headers, Repeated::Joined));
            }
        }
        EventSource::Lattice => {
            response.status_description = Some(status_description(status));
            let cookies = headers.get_all(SET_COOKIE).iter().count();
            if cookies > COOKIE_SPELLINGS {
                tracing::warn!(
                    "the app set {cookies} cookies; a VPC Lattice response can carry {COOKIE_SPELLINGS}: the rest are dropped"
                );
            }
            response.headers = Some(Headers::new(headers, Repeated::JoinedCookiesSpelledApart));
        }
        EventSource::PassThrough => {}
    }
    // Room for the body (as base64, which text does not exceed unless it has much to escape),
    // the headers and the rest of the document: written without moving, in one allocation no
    // bigger than needed.
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 8)
        .sum();
    let inline_body = if large {
        16
    } else {
        body.len().div_ceil(3) * 4
    };
    let mut document = Vec::with_capacity(inline_body + headers_len + 128);
    // Writing strings and maps into a Vec cannot fail.
    if serde_json::to_writer(&mut document, &response).is_err() {
        return Payload::whole(Bytes::from_static(b"null"));
    }
    if !large {
        return Payload::whole(Bytes::from(document));
    }
    // `{…}` becomes `{…,"body":"` and the body and the tail follow it.
    document.pop();
    document.extend_from_slice(b",\"body\":\"");
    let (encoding, tail): (_, &'static [u8]) = match base64 {
        true => (Encoding::Base64, b"\",\"isBase64Encoded\":true}"),
        false => (Encoding::Text, b"\",\"isBase64Encoded\":false}"),
    };
    Payload::around(Bytes::from(document), body, encoding, tail)
}

/// `200 OK`, as ALB and VPC Lattice want it.
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

/// How a source wants a header the app repeated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeated {
    /// v2 and ALB without multi-value headers (RSP-2): one string, the values joined with `, `
    /// (for ALB's `set-cookie`, where joining would be wrong, the first value).
    Joined,
    /// VPC Lattice (EVT-9): one string per name like [`Repeated::Joined`], but every `set-cookie`
    /// value kept, each under its own spelling of the name: `set-cookie`, `Set-cookie`,
    /// `sEt-cookie`, … ([`cookie_spelling`]). Lattice documents `headers` as one string per name
    /// and nothing else, names are case-insensitive, and cookies cannot be joined; a list would
    /// be outside the documented shape, which could cost the whole response.
    JoinedCookiesSpelledApart,
    /// REST and ALB with multi-value headers: a list of every value.
    List,
    /// The Function URL streaming prelude: a string for one value, a list for more.
    StringOrList,
}

/// Which of the app's headers an object holds; never `transfer-encoding` (RSP-6), which Lambda's
/// front doors set themselves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    All,
    /// All but `set-cookie`, which goes to [`Cookies`].
    NotCookies,
    /// Headers with one value, `set-cookie` aside: the REST prelude's `headers`.
    SingleValued,
    /// Headers with more than one value, and `set-cookie`: the REST prelude's
    /// `multiValueHeaders`.
    RepeatedAndCookies,
}

/// The app's headers, or some of them ([`Only`]), as a JSON object.
struct Headers<'a> {
    map: &'a HeaderMap,
    repeated: Repeated,
    only: Only,
}

impl<'a> Headers<'a> {
    fn new(map: &'a HeaderMap, repeated: Repeated) -> Self {
        Headers {
            map,
            repeated,
            only: Only::All,
        }
    }

    fn only(self, only: Only) -> Self {
        Headers { only, ..self }
    }
}

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_map(None)?;
        for name in self.map.keys() {
            if *name == TRANSFER_ENCODING {
                continue;
            }
            let values = self.map.get_all(name);
            let mut each = values.iter();
            let (Some(first), more) = (each.next(), each.next().is_some()) else {
                continue;
            };
            let cookie = *name == SET_COOKIE;
            let wanted = match self.only {
                Only::All => true,
                Only::NotCookies => !cookie,
                Only::SingleValued => !cookie && !more,
                Only::RepeatedAndCookies => cookie || more,
            };
            if !wanted {
                continue;
            }
            match self.repeated {
                Repeated::List => object.serialize_entry(name.as_str(), &Texts(&values))?,
                Repeated::StringOrList if more => {
                    object.serialize_entry(name.as_str(), &Texts(&values))?;
                }
                Repeated::JoinedCookiesSpelledApart if cookie => {
                    for (index, value) in values.iter().take(COOKIE_SPELLINGS).enumerate() {
                        object.serialize_entry(&cookie_spelling(index), &text(value))?;
                    }
                }
                Repeated::Joined | Repeated::JoinedCookiesSpelledApart if more && !cookie => {
                    let joined = values.iter().map(text).collect::<Vec<_>>().join(", ");
                    object.serialize_entry(name.as_str(), &joined)?;
                }
                _ => object.serialize_entry(name.as_str(), &text(first))?,
            }
        }
        object.end()
    }
}

/// How many spellings `set-cookie` has: two cases for each of its nine letters.
const COOKIE_SPELLINGS: usize = 1 << 9;

/// The `index`-th spelling of `set-cookie` (below [`COOKIE_SPELLINGS`]): the letters whose bit
/// is set in `index` in upper case, so the first is `set-cookie` and no two are the same.
fn cookie_spelling(index: usize) -> String {
    let mut letter = 0;
    "set-cookie"
        .chars()
        .map(|c| {
            if c == '-' {
                return c;
            }
            let upper = (index >> letter) & 1 == 1;
            letter += 1;
            if upper {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// The values of a header as a JSON list.
struct Texts<'v, 'a>(&'v GetAll<'a, HeaderValue>);

impl Serialize for Texts<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(text))
    }
}

/// Every `set-cookie` value, as v2 and the streaming prelude want them (RSP-2).
struct Cookies<'a>(&'a HeaderMap);

impl Serialize for Cookies<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.get_all(SET_COOKIE).iter().map(text))
    }
}

/// A header value as JSON text; bytes that are not UTF-8 become U+FFFD.
fn text(value: &HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
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
    const TYPES: [&str; 7] = [
        "application/json",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
    ];
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .as_bytes();
    let starts = |prefix: &str| {
        essence
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    let ends = |suffix: &str| {
        essence
            .len()
            .checked_sub(suffix.len())
            .is_some_and(|at| essence[at..].eq_ignore_ascii_case(suffix.as_bytes()))
    };
    starts("text/")
        || TYPES
            .iter()
            .any(|t| essence.eq_ignore_ascii_case(t.as_bytes()))
        || ["+json", "+xml", "+yaml"].into_iter().any(ends)
}

/// STR-4, STR-5: whether `source` takes a streamed response in `response_stream` mode. Only
/// Function URLs and REST APIs (integration `responseTransferMode: STREAM`) invoke the function
/// with `InvokeWithResponseStream`; HTTP APIs, ALB and VPC Lattice use a plain Invoke, to which a
/// prelude and its NUL bytes are part of a malformed payload, and a pass-through event's result
/// is JSON.
pub(crate) fn streams(source: EventSource) -> bool {
    matches!(source, EventSource::FunctionUrl | EventSource::RestApi)
}

/// The JSON prelude of a streamed response (STR-1) in `source`'s shape ([`streams`]).
///
/// A Function URL's: `statusCode`, `headers` (a string, or an array for a repeated header) and
/// every `set-cookie` value in `cookies`. A REST API's (STR-5, the API Gateway guide "Set up a
/// Lambda proxy integration with payload response streaming"): `statusCode`, `headers` with the
/// single-valued headers only, as that guide requires, and `multiValueHeaders` with the repeated
/// ones and every `set-cookie` value (the guide also allows `cookies`; the REST API's own member
/// is used, as in the guide's example).
pub(crate) fn stream_prelude(
    source: EventSource,
    status: StatusCode,
    headers: &HeaderMap,
) -> Bytes {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Prelude<'a> {
        status_code: u16,
        headers: Headers<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        multi_value_headers: Option<Headers<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cookies: Option<Cookies<'a>>,
    }
    let prelude = if source == EventSource::RestApi {
        Prelude {
            status_code: status.as_u16(),
            headers: Headers::new(headers, Repeated::Joined).only(Only::SingleValued),
            multi_value_headers: Some(
                Headers::new(headers, Repeated::List).only(Only::RepeatedAndCookies),
            ),
            cookies: None,
        }
    } else {
        Prelude {
            status_code: status.as_u16(),
            headers: Headers::new(headers, Repeated::StringOrList).only(Only::NotCookies),
            multi_value_headers: None,
            cookies: Some(Cookies(headers)),
        }
    };
    match serde_json::to_vec(&prelude) {
        Ok(json) => Bytes::from(json),
        // Writing strings and maps into a Vec cannot fail.
        Err(_) => Bytes::from_static(b"{\"statusCode\":500}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn json_of(payload: Payload) -> Value {
        serde_json::from_slice(&payload.to_bytes()).unwrap()
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
        assert_eq!(
            r["multiValueHeaders"]["content-type"],
            json!(["text/plain"])
        );
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
        let h = headers(&[
            ("x-a", "1"),
            ("x-a", "2"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]);
        let r = json_of(to_lambda(
            EventSource::Alb { multi_value: false },
            StatusCode::NOT_FOUND,
            &h,
            Bytes::new(),
        ));
        assert_eq!(r["statusDescription"], "404 Not Found");
        assert_eq!(r["headers"]["x-a"], "1, 2");
        assert_eq!(
            r["headers"]["set-cookie"], "a=1",
            "joining cookies breaks them"
        );
        assert!(r.get("cookies").is_none());
        let r = json_of(to_lambda(
            EventSource::Alb { multi_value: true },
            StatusCode::OK,
            &h,
            Bytes::new(),
        ));
        assert_eq!(r["multiValueHeaders"]["x-a"], json!(["1", "2"]));
        assert_eq!(r["multiValueHeaders"]["set-cookie"], json!(["a=1", "b=2"]));
    }

    #[test]
    fn header_values_that_are_not_utf8_stay_json() {
        // covers RSP-1
        let mut h = HeaderMap::new();
        h.insert("x-latin1", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let r = json_of(to_lambda(
            EventSource::HttpApi,
            StatusCode::OK,
            &h,
            Bytes::new(),
        ));
        assert_eq!(r["headers"]["x-latin1"], "caf\u{fffd}");
        assert_eq!(r["cookies"], json!([]));
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
            "Text/Plain",
            "APPLICATION/JSON ; charset=utf-8",
            "application/ld+JSON",
        ] {
            assert!(is_text_content_type(text), "{text}");
        }
        for binary in [
            "image/png",
            "application/octet-stream",
            "application/pdf",
            "font/woff2",
            "",
            "text",
            "json",
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
        assert_eq!(r.to_bytes(), r#"{"batchItemFailures": []}"#);
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
        let p: Value = serde_json::from_slice(&stream_prelude(
            EventSource::FunctionUrl,
            StatusCode::OK,
            &h,
        ))
        .unwrap();
        assert_eq!(
            p,
            json!({"statusCode": 200, "headers": {"content-type": "text/event-stream", "x-a": ["1", "2"]}, "cookies": ["a=1"]})
        );
    }

    #[test]
    fn str5_rest_prelude_has_single_values_in_headers_and_the_rest_in_multi_value_headers() {
        // covers STR-5, RSP-6
        let h = headers(&[
            ("content-type", "text/event-stream"),
            ("x-a", "1"),
            ("x-a", "2"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"),
            ("transfer-encoding", "chunked"),
        ]);
        let p: Value =
            serde_json::from_slice(&stream_prelude(EventSource::RestApi, StatusCode::OK, &h))
                .unwrap();
        assert_eq!(
            p,
            json!({
                "statusCode": 200,
                "headers": {"content-type": "text/event-stream"},
                "multiValueHeaders": {
                    "x-a": ["1", "2"],
                    "set-cookie": ["a=1", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"]
                }
            })
        );
        let one_cookie = headers(&[("set-cookie", "a=1")]);
        let p: Value = serde_json::from_slice(&stream_prelude(
            EventSource::RestApi,
            StatusCode::NO_CONTENT,
            &one_cookie,
        ))
        .unwrap();
        assert_eq!(
            p,
            json!({"statusCode": 204, "headers": {}, "multiValueHeaders": {"set-cookie": ["a=1"]}})
        );
    }

    #[test]
    fn str5_only_function_urls_and_rest_apis_stream() {
        // covers STR-4, STR-5
        assert!(streams(EventSource::FunctionUrl));
        assert!(streams(EventSource::RestApi));
        for buffered in [
            EventSource::HttpApi,
            EventSource::Alb { multi_value: false },
            EventSource::Alb { multi_value: true },
            EventSource::Lattice,
            EventSource::PassThrough,
        ] {
            assert!(!streams(buffered), "{buffered:?}");
        }
    }

    #[test]
    fn evt9_lattice_joins_repeated_headers_and_spells_each_cookie_apart() {
        // covers EVT-9, RSP-1, RSP-3, RSP-6
        let h = headers(&[
            ("content-type", "image/png"),
            ("x-a", "1"),
            ("x-a", "2"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"),
            ("set-cookie", "c=3"),
            ("transfer-encoding", "chunked"),
        ]);
        let payload = to_lambda(
            EventSource::Lattice,
            StatusCode::CREATED,
            &h,
            Bytes::from_static(&[0x89, b'P', b'N', b'G', 0, 0xff]),
        );
        assert_eq!(
            json_of(payload),
            json!({
                "statusCode": 201,
                "statusDescription": "201 Created",
                "headers": {
                    "content-type": "image/png",
                    "x-a": "1, 2",
                    "set-cookie": "a=1",
                    "Set-cookie": "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
                    "sEt-cookie": "c=3"
                },
                "body": "iVBORwD/",
                "isBase64Encoded": true
            })
        );
    }

    #[test]
    fn evt9_every_cookie_spelling_is_set_cookie_and_none_repeats() {
        // covers EVT-9
        let spellings: std::collections::HashSet<String> =
            (0..COOKIE_SPELLINGS).map(cookie_spelling).collect();
        assert_eq!(spellings.len(), COOKIE_SPELLINGS);
        assert!(spellings
            .iter()
            .all(|s| s.eq_ignore_ascii_case("set-cookie")));
        assert_eq!(cookie_spelling(0), "set-cookie");
        assert_eq!(cookie_spelling(COOKIE_SPELLINGS - 1), "SET-COOKIE");
        // 600 cookies: the first 512 are all kept, each under a name of its own.
        let mut h = HeaderMap::new();
        for index in 0..600 {
            h.append(
                SET_COOKIE,
                HeaderValue::from_str(&format!("c{index}=1")).unwrap(),
            );
        }
        let r = json_of(to_lambda(
            EventSource::Lattice,
            StatusCode::OK,
            &h,
            Bytes::new(),
        ));
        let sent = r["headers"].as_object().unwrap();
        assert_eq!(sent.len(), COOKIE_SPELLINGS);
        assert_eq!(sent[&cookie_spelling(511)], "c511=1");
    }

    #[test]
    fn a_large_body_gives_the_document_a_small_body_would() {
        // covers RSP-1, RSP-3 (large bodies are written around the document, not into it)
        let text: String = "line \"quoted\"\n".repeat(LARGE_BODY / 8);
        let binary: Vec<u8> = (0..LARGE_BODY * 2).map(|i| (i % 256) as u8).collect();
        let h = headers(&[("x-a", "1"), ("x-a", "2"), ("set-cookie", "a=1")]);
        for source in [
            EventSource::RestApi,
            EventSource::HttpApi,
            EventSource::FunctionUrl,
            EventSource::Alb { multi_value: true },
            EventSource::Lattice,
        ] {
            for body in [Bytes::from(text.clone()), Bytes::from(binary.clone())] {
                let payload = to_lambda(source, StatusCode::OK, &h, body.clone());
                assert_eq!(payload.to_bytes().len(), payload.len());
                let large = json_of(payload);
                // The same document, written at once by serde.
                let field = body_field(&h, &body);
                let mut whole = json_of(to_lambda(source, StatusCode::OK, &h, Bytes::new()));
                whole["isBase64Encoded"] = json!(matches!(field, BodyField::Base64(_)));
                whole["body"] = serde_json::to_value(&field).unwrap();
                assert_eq!(large, whole, "{source:?}");
            }
        }
    }
}
