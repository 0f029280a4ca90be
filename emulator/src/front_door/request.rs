//! HTTP request → Lambda event, in the shape each [`EventSource`] sends.
//!
//! What each source does with the request, as the AWS documentation and real events show it:
//!
//! - Function URL / HTTP API (payload 2.0): `rawPath` and `rawQueryString` exactly as sent;
//!   `queryStringParameters` decoded, repeated keys joined with `,`; `headers` lower-cased with
//!   repeated values joined with `,`; the `Cookie` header moved into `cookies`.
//! - REST API (payload 1.0): `headers` keeps the last value of each header, `multiValueHeaders`
//!   all of them; both query maps hold *decoded* values (`+` is a space).
//! - ALB: headers and query parameters exactly as the client sent them (not decoded), either
//!   single-value (the last one wins) or, with multi-value headers on, every value.
//!
//! Bodies are sent as text when they are UTF-8 with a textual (or no) content type and no
//! content encoding; anything else is base64 with `isBase64Encoded: true`.

use std::net::IpAddr;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, Version};
use serde_json::{json, Map, Value};

use super::EventSource;
use crate::clock::access_log_time;

/// The account id the fake services report (API Gateway, ALB ARNs).
pub const ACCOUNT_ID: &str = "123456789012";
/// The API id of the fake API Gateway / Function URL.
pub const API_ID: &str = "local";
/// The REST API stage the fake API Gateway serves.
pub const REST_STAGE: &str = "local";
/// The target group of the fake ALB.
pub const TARGET_GROUP_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-emulator/0123456789abcdef";

/// One HTTP request as the front door received it, with what the AWS service would add.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    pub method: Method,
    /// The path exactly as sent (still percent-encoded).
    pub path: String,
    /// The query exactly as sent, without the `?`; `None` when the target had no `?`.
    pub query: Option<String>,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub source_ip: IpAddr,
    /// The service's own request id (`requestContext.requestId`), not Lambda's.
    pub request_id: String,
    /// When the request arrived, in epoch milliseconds.
    pub time_epoch_ms: u64,
}

impl IncomingRequest {
    /// From a received request's head and body; the path and query are taken as sent.
    pub fn from_parts(
        parts: &http::request::Parts,
        body: Bytes,
        source_ip: IpAddr,
        request_id: String,
        time_epoch_ms: u64,
    ) -> IncomingRequest {
        let path = match parts.uri.path() {
            "" => "/".to_owned(),
            path => path.to_owned(),
        };
        IncomingRequest {
            method: parts.method.clone(),
            path,
            query: parts.uri.query().map(str::to_owned),
            version: parts.version,
            headers: parts.headers.clone(),
            body,
            source_ip,
            request_id,
            time_epoch_ms,
        }
    }

    fn protocol(&self) -> &'static str {
        match self.version {
            Version::HTTP_09 => "HTTP/0.9",
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_2 => "HTTP/2.0",
            Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        }
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|value| text(value.as_bytes()))
    }

    fn user_agent(&self) -> String {
        self.header("user-agent").unwrap_or_default()
    }

    /// The `Host` header without its port, as API Gateway's `domainName`.
    fn domain_name(&self) -> String {
        let host = self.header("host").unwrap_or_default();
        let domain = if host.starts_with('[') {
            host.split_inclusive(']').next().unwrap_or_default()
        } else {
            host.split(':').next().unwrap_or_default()
        };
        if domain.is_empty() {
            "localhost".to_owned()
        } else {
            domain.to_owned()
        }
    }

    /// Every header name with all its values, in order.
    fn header_values(&self) -> impl Iterator<Item = (&str, Vec<String>)> {
        self.headers.keys().map(|name| {
            let values = self
                .headers
                .get_all(name)
                .iter()
                .map(|value| text(value.as_bytes()))
                .collect();
            (name.as_str(), values)
        })
    }

    /// `(body, isBase64Encoded)`; `None` for an empty body.
    fn encoded_body(&self) -> (Option<String>, bool) {
        if self.body.is_empty() {
            return (None, false);
        }
        let textual = !self.headers.contains_key(http::header::CONTENT_ENCODING)
            && is_text_content_type(self.header("content-type").as_deref());
        match std::str::from_utf8(&self.body) {
            Ok(text) if textual => (Some(text.to_owned()), false),
            _ => (
                Some(base64::engine::general_purpose::STANDARD.encode(&self.body)),
                true,
            ),
        }
    }
}

/// The event `source` would send for `request`.
pub fn to_event(source: EventSource, request: &IncomingRequest) -> Value {
    match source {
        EventSource::FunctionUrl => http_api_event(request, true),
        EventSource::HttpApiV2 => http_api_event(request, false),
        EventSource::RestApiV1 => rest_api_event(request),
        EventSource::Alb => alb_event(request, false),
        EventSource::AlbMultiValue => alb_event(request, true),
    }
}

/// Payload format 2.0: Function URLs and HTTP APIs.
fn http_api_event(request: &IncomingRequest, function_url: bool) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, values) in request.header_values() {
        if name == "cookie" {
            cookies.extend(
                values
                    .iter()
                    .flat_map(|value| value.split(';'))
                    .map(str::trim)
                    .filter(|cookie| !cookie.is_empty())
                    .map(str::to_owned),
            );
        } else {
            headers.insert(name.to_owned(), Value::String(values.join(",")));
        }
    }
    let domain_name = request.domain_name();
    let domain_prefix = domain_name.split('.').next().unwrap_or_default().to_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query.as_deref().unwrap_or_default(),
        "headers": headers,
        "requestContext": {
            "accountId": if function_url { "anonymous" } else { ACCOUNT_ID },
            "apiId": API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "http": {
                "method": request.method.as_str(),
                "path": request.path,
                "protocol": request.protocol(),
                "sourceIp": request.source_ip.to_string(),
                "userAgent": request.user_agent(),
            },
            "requestId": request.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": access_log_time(request.time_epoch_ms),
            "timeEpoch": request.time_epoch_ms,
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if let Some(query) = request.query.as_deref().filter(|query| !query.is_empty()) {
        let mut parameters: Map<String, Value> = Map::new();
        for (key, value) in query_pairs(query) {
            let (key, value) = (decode(key), decode(value));
            match parameters.get_mut(&key) {
                Some(Value::String(joined)) => {
                    joined.push(',');
                    joined.push_str(&value);
                }
                _ => {
                    parameters.insert(key, Value::String(value));
                }
            }
        }
        event["queryStringParameters"] = Value::Object(parameters);
    }
    let (body, base64) = request.encoded_body();
    if let Some(body) = body {
        event["body"] = Value::String(body);
        event["isBase64Encoded"] = Value::Bool(base64);
    }
    event
}

/// Payload format 1.0: API Gateway REST APIs, with a `/{proxy+}` resource.
fn rest_api_event(request: &IncomingRequest) -> Value {
    let mut headers = Map::new();
    let mut multi_value_headers = Map::new();
    for (name, values) in request.header_values() {
        if let Some(last) = values.last() {
            headers.insert(name.to_owned(), Value::String(last.clone()));
        }
        multi_value_headers.insert(name.to_owned(), json!(values));
    }
    let (query, multi_value_query) = query_maps(request.query.as_deref(), decode);
    let (resource, path_parameters) = match request.path.trim_start_matches('/') {
        "" => ("/", Value::Null),
        proxy => ("/{proxy+}", json!({ "proxy": proxy })),
    };
    let (body, base64) = request.encoded_body();
    json!({
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_value_query,
        "pathParameters": path_parameters,
        "stageVariables": null,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": request.domain_name(),
            "extendedRequestId": request.request_id,
            "httpMethod": request.method.as_str(),
            "identity": {
                "sourceIp": request.source_ip.to_string(),
                "userAgent": request.user_agent(),
            },
            "path": format!("/{REST_STAGE}{}", request.path),
            "protocol": request.protocol(),
            "requestId": request.request_id,
            "requestTime": access_log_time(request.time_epoch_ms),
            "requestTimeEpoch": request.time_epoch_ms,
            "resourceId": "proxy",
            "resourcePath": resource,
            "stage": REST_STAGE,
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// An ALB target group's event; `multi_value` when the group has multi-value headers on.
fn alb_event(request: &IncomingRequest, multi_value: bool) -> Value {
    let (body, base64) = request.encoded_body();
    let mut event = json!({
        "requestContext": { "elb": { "targetGroupArn": TARGET_GROUP_ARN } },
        "httpMethod": request.method.as_str(),
        "path": request.path,
        "body": body.unwrap_or_default(),
        "isBase64Encoded": base64,
    });
    // The load balancer passes the query as the client encoded it.
    let as_sent = |raw: &str| raw.to_owned();
    let (query, multi_value_query) = query_maps(request.query.as_deref(), as_sent);
    let or_empty = |map: Value| if map.is_null() { json!({}) } else { map };
    if multi_value {
        let headers: Map<String, Value> = request
            .header_values()
            .map(|(name, values)| (name.to_owned(), json!(values)))
            .collect();
        event["multiValueHeaders"] = Value::Object(headers);
        event["multiValueQueryStringParameters"] = or_empty(multi_value_query);
    } else {
        let headers: Map<String, Value> = request
            .header_values()
            .filter_map(|(name, mut values)| Some((name.to_owned(), json!(values.pop()?))))
            .collect();
        event["headers"] = Value::Object(headers);
        event["queryStringParameters"] = or_empty(query);
    }
    event
}

/// `(last value per key, every value per key)` as JSON objects, or two `null`s without a query.
fn query_maps(query: Option<&str>, convert: impl Fn(&str) -> String) -> (Value, Value) {
    let Some(query) = query.filter(|query| !query.is_empty()) else {
        return (Value::Null, Value::Null);
    };
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (key, value) in query_pairs(query) {
        let (key, value) = (convert(key), convert(value));
        single.insert(key.clone(), Value::String(value.clone()));
        match multi.get_mut(&key) {
            Some(Value::Array(values)) => values.push(Value::String(value)),
            _ => {
                multi.insert(key, json!([value]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// `a=1&b&c=` → `[("a","1"), ("b",""), ("c","")]`, still encoded; empty segments are skipped.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Form-style decoding: `%XX` escapes and `+` as a space; invalid escapes are kept as they are,
/// and bytes that are not UTF-8 become U+FFFD.
pub fn decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let escaped = bytes
                    .get(index + 1..index + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                if let Some(byte) = escaped {
                    decoded.push(byte);
                    index += 3;
                    continue;
                }
                decoded.push(b'%');
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Text content types (RSP-3's list, plus forms are *not* text: AWS base64-encodes them).
pub fn is_text_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/graphql"
        )
        || ["+json", "+xml", "+yaml"]
            .iter()
            .any(|suffix| essence.ends_with(suffix))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn request(
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> IncomingRequest {
        let mut builder = http::Request::builder().method(method).uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        IncomingRequest::from_parts(
            &parts,
            Bytes::copy_from_slice(body),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            "api-req-1".to_owned(),
            1_583_348_638_390,
        )
    }

    fn browser_get() -> IncomingRequest {
        request(
            "GET",
            "/shop/a%20b/caf%C3%A9?q=a+b&q=c%26d&flag&empty=",
            &[
                ("host", "127.0.0.1:9000"),
                ("user-agent", "curl/8.5"),
                ("accept", "text/html"),
                ("accept", "application/json"),
                ("cookie", "a=1; b=2"),
                ("cookie", "c=3"),
            ],
            b"",
        )
    }

    #[test]
    fn function_url_event() {
        let event = to_event(EventSource::FunctionUrl, &browser_get());
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "$default");
        assert_eq!(event["rawPath"], "/shop/a%20b/caf%C3%A9");
        assert_eq!(event["rawQueryString"], "q=a+b&q=c%26d&flag&empty=");
        assert_eq!(event["cookies"], json!(["a=1", "b=2", "c=3"]));
        assert_eq!(event["headers"]["accept"], "text/html,application/json");
        assert_eq!(event["headers"]["host"], "127.0.0.1:9000");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(
            event["queryStringParameters"],
            json!({"q": "a b,c&d", "flag": "", "empty": ""})
        );
        let context = &event["requestContext"];
        assert_eq!(context["accountId"], "anonymous");
        assert_eq!(context["domainName"], "127.0.0.1");
        assert_eq!(context["stage"], "$default");
        assert_eq!(context["requestId"], "api-req-1");
        assert_eq!(context["timeEpoch"], 1_583_348_638_390u64);
        assert_eq!(context["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(
            context["http"],
            json!({"method": "GET", "path": "/shop/a%20b/caf%C3%A9", "protocol": "HTTP/1.1",
                   "sourceIp": "127.0.0.1", "userAgent": "curl/8.5"})
        );
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event.get("body").is_none());
    }

    #[test]
    fn http_api_event_differs_only_in_the_account() {
        let event = to_event(EventSource::HttpApiV2, &browser_get());
        assert_eq!(event["requestContext"]["accountId"], ACCOUNT_ID);
        assert_eq!(event["rawQueryString"], "q=a+b&q=c%26d&flag&empty=");
    }

    #[test]
    fn v2_without_query_or_cookies_leaves_them_out() {
        let event = to_event(EventSource::FunctionUrl, &request("GET", "/", &[], b""));
        assert_eq!(event["rawQueryString"], "");
        assert!(event.get("queryStringParameters").is_none());
        assert!(event.get("cookies").is_none());
        assert_eq!(event["requestContext"]["domainName"], "localhost");
        assert_eq!(event["requestContext"]["http"]["userAgent"], "");
    }

    #[test]
    fn rest_api_event() {
        let event = to_event(EventSource::RestApiV1, &browser_get());
        assert_eq!(event["httpMethod"], "GET");
        assert_eq!(event["path"], "/shop/a%20b/caf%C3%A9");
        assert_eq!(event["resource"], "/{proxy+}");
        assert_eq!(event["pathParameters"]["proxy"], "shop/a%20b/caf%C3%A9");
        assert_eq!(event["headers"]["accept"], "application/json");
        assert_eq!(
            event["multiValueHeaders"]["accept"],
            json!(["text/html", "application/json"])
        );
        assert_eq!(event["headers"]["cookie"], "c=3");
        assert_eq!(
            event["queryStringParameters"],
            json!({"q": "c&d", "flag": "", "empty": ""})
        );
        assert_eq!(
            event["multiValueQueryStringParameters"],
            json!({"q": ["a b", "c&d"], "flag": [""], "empty": [""]})
        );
        let context = &event["requestContext"];
        assert_eq!(context["stage"], REST_STAGE);
        assert_eq!(context["requestId"], "api-req-1");
        assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(context["httpMethod"], "GET");
        assert_eq!(event["body"], Value::Null);
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn rest_api_root_without_query() {
        let event = to_event(EventSource::RestApiV1, &request("GET", "/", &[], b""));
        assert_eq!(event["resource"], "/");
        assert_eq!(event["pathParameters"], Value::Null);
        assert_eq!(event["queryStringParameters"], Value::Null);
        assert_eq!(event["multiValueQueryStringParameters"], Value::Null);
    }

    #[test]
    fn alb_event_keeps_the_query_as_sent() {
        let event = to_event(EventSource::Alb, &browser_get());
        assert_eq!(
            event["requestContext"]["elb"]["targetGroupArn"],
            TARGET_GROUP_ARN
        );
        assert_eq!(event["httpMethod"], "GET");
        assert_eq!(event["path"], "/shop/a%20b/caf%C3%A9");
        assert_eq!(
            event["queryStringParameters"],
            json!({"q": "c%26d", "flag": "", "empty": ""})
        );
        assert_eq!(event["headers"]["accept"], "application/json");
        assert!(event.get("multiValueHeaders").is_none());
        assert_eq!(event["body"], "");
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn alb_multi_value_event() {
        let event = to_event(EventSource::AlbMultiValue, &browser_get());
        assert_eq!(
            event["multiValueQueryStringParameters"],
            json!({"q": ["a+b", "c%26d"], "flag": [""], "empty": [""]})
        );
        assert_eq!(
            event["multiValueHeaders"]["cookie"],
            json!(["a=1; b=2", "c=3"])
        );
        assert!(event.get("headers").is_none());
        assert!(event.get("queryStringParameters").is_none());

        let bare = to_event(EventSource::AlbMultiValue, &request("GET", "/", &[], b""));
        assert_eq!(bare["multiValueQueryStringParameters"], json!({}));
    }

    #[test]
    fn text_bodies_stay_text_and_binary_ones_are_base64() {
        let json_post = request(
            "POST",
            "/",
            &[("content-type", "application/json; charset=utf-8")],
            br#"{"a":1}"#,
        );
        let binary: Vec<u8> = (0..=255).collect();
        let image = request("POST", "/", &[("content-type", "image/png")], &binary);
        let untyped_invalid_utf8 = request("POST", "/", &[], &[0xff, 0xfe]);
        let gzipped_text = request(
            "POST",
            "/",
            &[("content-type", "text/plain"), ("content-encoding", "gzip")],
            b"not really gzip",
        );
        let form = request(
            "POST",
            "/",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"a=1",
        );
        for source in [
            EventSource::FunctionUrl,
            EventSource::RestApiV1,
            EventSource::Alb,
        ] {
            let event = to_event(source, &json_post);
            assert_eq!(event["body"], r#"{"a":1}"#, "{source}");
            assert_eq!(event["isBase64Encoded"], false, "{source}");

            let event = to_event(source, &image);
            assert_eq!(event["isBase64Encoded"], true, "{source}");
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(event["body"].as_str().unwrap())
                .unwrap();
            assert_eq!(decoded, binary, "{source}");

            for binary_request in [&untyped_invalid_utf8, &gzipped_text, &form] {
                assert_eq!(
                    to_event(source, binary_request)["isBase64Encoded"],
                    true,
                    "{source}"
                );
            }
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("a+b%20c%2Bd"), "a b c+d");
        assert_eq!(decode("caf%C3%A9"), "café");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%FF"), "\u{FFFD}");
        let pairs: Vec<_> = query_pairs("a=1&&b&c=x=y").collect();
        assert_eq!(pairs, [("a", "1"), ("b", ""), ("c", "x=y")]);
    }

    #[test]
    fn text_content_types() {
        for text in [
            None,
            Some("text/html; charset=utf-8"),
            Some("application/json"),
            Some("application/problem+json"),
            Some("application/atom+xml"),
            Some("APPLICATION/JAVASCRIPT"),
        ] {
            assert!(is_text_content_type(text), "{text:?}");
        }
        for binary in [
            Some("image/png"),
            Some("application/octet-stream"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
        ] {
            assert!(!is_text_content_type(binary), "{binary:?}");
        }
    }
}
