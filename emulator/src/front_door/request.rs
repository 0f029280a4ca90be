//! HTTP request → Lambda event, in the shape each [`EventSource`] sends (SPEC PKG-6, EMU-4,
//! EVT-9 for VPC Lattice).
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
//! - VPC Lattice (event structure 2.0): `path` with the query as sent, `headers` and
//!   `queryStringParameters` as lists of values, the service network, service and target group
//!   in `requestContext`.
//!
//! Every source adds what the AWS service in front of a function adds (EMU-4): `x-forwarded-for`
//! (the client's address appended to any value it sent), `x-forwarded-proto` and
//! `x-forwarded-port` (the front door's own: plain `http` on its port, so that links an app
//! builds from them work locally), and an `x-amzn-trace-id`. Domain names in request contexts are
//! the service's (`<id>.lambda-url.<region>.on.aws`, `<id>.execute-api.<region>.amazonaws.com`),
//! which is how the adapter tells a Function URL from an HTTP API (STR-5); the `host` header stays
//! the one the client sent.
//!
//! Bodies are sent as text when they are UTF-8 with a textual (or no) content type and no
//! content encoding; anything else is base64 with `isBase64Encoded: true`.

use std::net::IpAddr;

use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Version};
use serde_json::{json, Map, Value};

use super::EventSource;
use crate::clock::access_log_time;
use crate::ids::uuid_like;

/// The account id the fake services report (API Gateway, ALB and Lattice ARNs).
pub const ACCOUNT_ID: &str = "123456789012";
/// The id of the fake API Gateway API (10 characters, as API Gateway's are).
pub const API_ID: &str = "lambdaemu0";
/// The id of the fake Function URL (32 characters, as Lambda's are).
pub const FUNCTION_URL_ID: &str = "lambdaemulatorlocalfunctionurl00";
/// The REST API stage the fake API Gateway serves.
pub const REST_STAGE: &str = "local";
/// The region of the fake services when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where the fake AWS service sits: the region in its domain names and ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Front {
    pub region: String,
}

impl Default for Front {
    fn default() -> Self {
        Front {
            region: DEFAULT_REGION.to_owned(),
        }
    }
}

impl Front {
    /// A Function URL's host name: `<url-id>.lambda-url.<region>.on.aws`.
    pub fn function_url_domain(&self) -> String {
        format!("{FUNCTION_URL_ID}.lambda-url.{}.on.aws", self.region)
    }

    /// An API Gateway API's host name: `<api-id>.execute-api.<region>.amazonaws.com`.
    pub fn api_gateway_domain(&self) -> String {
        format!("{API_ID}.execute-api.{}.amazonaws.com", self.region)
    }

    /// The target group of the fake ALB.
    pub fn alb_target_group_arn(&self) -> String {
        format!(
            "arn:aws:elasticloadbalancing:{}:{ACCOUNT_ID}:targetgroup/lambda-emulator/0123456789abcdef",
            self.region
        )
    }

    /// An ARN of the fake VPC Lattice service network, service, target group (`kind`, `id`).
    fn lattice_arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:aws:vpc-lattice:{}:{ACCOUNT_ID}:{kind}/{id}",
            self.region
        )
    }
}

/// One HTTP request as the front door received it, with what the AWS service would add.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    pub method: Method,
    /// The path exactly as sent (still percent-encoded).
    pub path: String,
    /// The query exactly as sent, without the `?`; `None` when the target had no `?`.
    pub query: Option<String>,
    pub version: Version,
    /// The client's headers, with the `x-forwarded-*` and `x-amzn-trace-id` the service adds.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub source_ip: IpAddr,
    /// The service's own request id (`requestContext.requestId`), not Lambda's.
    pub request_id: String,
    /// When the request arrived, in epoch milliseconds.
    pub time_epoch_ms: u64,
    /// The X-Ray trace header value the service started (`Root=1-…`).
    pub trace_id: String,
}

impl IncomingRequest {
    /// From a received request's head and body; the path and query are taken as sent.
    /// `front_door_port` is the port the client connected to (`x-forwarded-port`).
    pub fn from_parts(
        parts: &http::request::Parts,
        body: Bytes,
        source_ip: IpAddr,
        front_door_port: u16,
        request_id: String,
        time_epoch_ms: u64,
    ) -> IncomingRequest {
        let path = match parts.uri.path() {
            "" => "/".to_owned(),
            path => path.to_owned(),
        };
        let mut headers = parts.headers.clone();
        let trace_id = match headers
            .get("x-amzn-trace-id")
            .map(|value| text(value.as_bytes()))
        {
            Some(sent) => sent,
            None => new_trace_id(time_epoch_ms),
        };
        add_forwarding_headers(&mut headers, source_ip, front_door_port, &trace_id);
        IncomingRequest {
            method: parts.method.clone(),
            path,
            query: parts.uri.query().map(str::to_owned),
            version: parts.version,
            headers,
            body,
            source_ip,
            request_id,
            time_epoch_ms,
            trace_id,
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

    /// The path with the query as sent (`/a?b=1`), as an access log shows it.
    pub fn target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
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

/// What the AWS service in front of a function adds to the client's headers (EMU-4): the
/// client's address appended to `x-forwarded-for`, the scheme and port it reached the front
/// door on, and the trace header.
fn add_forwarding_headers(headers: &mut HeaderMap, source_ip: IpAddr, port: u16, trace_id: &str) {
    let forwarded_for = match headers
        .get("x-forwarded-for")
        .map(|value| text(value.as_bytes()))
    {
        Some(sent) if !sent.trim().is_empty() => format!("{sent}, {source_ip}"),
        _ => source_ip.to_string(),
    };
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-forwarded-port", port.to_string()),
        ("x-amzn-trace-id", trace_id.to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// An X-Ray trace header as the services start one: `Root=1-<epoch seconds, hex>-<96 random bits>`.
fn new_trace_id(time_epoch_ms: u64) -> String {
    let random: String = uuid_like().chars().filter(|c| *c != '-').take(24).collect();
    format!("Root=1-{:08x}-{random}", time_epoch_ms / 1000)
}

/// The event `source` would send for `request`.
pub fn to_event(source: EventSource, request: &IncomingRequest, front: &Front) -> Value {
    match source {
        EventSource::FunctionUrl => http_api_event(request, front, true),
        EventSource::HttpApiV2 => http_api_event(request, front, false),
        EventSource::RestApiV1 => rest_api_event(request, front),
        EventSource::Alb => alb_event(request, front, false),
        EventSource::AlbMultiValue => alb_event(request, front, true),
        EventSource::Lattice => lattice_event(request, front),
    }
}

/// Payload format 2.0: Function URLs and HTTP APIs.
fn http_api_event(request: &IncomingRequest, front: &Front, function_url: bool) -> Value {
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
    let (api_id, domain_name) = if function_url {
        (FUNCTION_URL_ID, front.function_url_domain())
    } else {
        (API_ID, front.api_gateway_domain())
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query.as_deref().unwrap_or_default(),
        "headers": headers,
        "requestContext": {
            "accountId": if function_url { "anonymous" } else { ACCOUNT_ID },
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": api_id,
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
fn rest_api_event(request: &IncomingRequest, front: &Front) -> Value {
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
            "domainName": front.api_gateway_domain(),
            "domainPrefix": API_ID,
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

/// A VPC Lattice target group's event, structure version 2.0 (EVT-9): lists of values for
/// headers and query parameters, the query also left in `path` as the client sent it.
fn lattice_event(request: &IncomingRequest, front: &Front) -> Value {
    let headers: Map<String, Value> = request
        .header_values()
        .map(|(name, values)| (name.to_owned(), json!(values)))
        .collect();
    let mut query: Map<String, Value> = Map::new();
    for (key, value) in query_pairs(request.query.as_deref().unwrap_or_default()) {
        let (key, value) = (decode(key), decode(value));
        match query.get_mut(&key) {
            Some(Value::Array(values)) => values.push(Value::String(value)),
            _ => {
                query.insert(key, json!([value]));
            }
        }
    }
    let (body, base64) = request.encoded_body();
    json!({
        "version": "2.0",
        "path": request.target(),
        "method": request.method.as_str(),
        "headers": headers,
        "queryStringParameters": query,
        "body": body.unwrap_or_default(),
        "isBase64Encoded": base64,
        "requestContext": {
            "serviceNetworkArn": front.lattice_arn("servicenetwork", "sn-0e1a2b3c4d5e6f708"),
            "serviceArn": front.lattice_arn("service", "svc-0e1a2b3c4d5e6f708"),
            "targetGroupArn": front.lattice_arn("targetgroup", "tg-0e1a2b3c4d5e6f708"),
            "identity": {
                "sourceVpcArn": format!("arn:aws:ec2:{}:{ACCOUNT_ID}:vpc/vpc-0e1a2b3c4d5e6f708", front.region),
                "type": "NONE",
            },
            "region": front.region,
            // Lattice gives microseconds, as a string.
            "timeEpoch": (u128::from(request.time_epoch_ms) * 1000).to_string(),
        },
    })
}

/// An ALB target group's event; `multi_value` when the group has multi-value headers on.
fn alb_event(request: &IncomingRequest, front: &Front, multi_value: bool) -> Value {
    let (body, base64) = request.encoded_body();
    let mut event = json!({
        "requestContext": { "elb": { "targetGroupArn": front.alb_target_group_arn() } },
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
            9000,
            "api-req-1".to_owned(),
            1_583_348_638_390,
        )
    }

    fn to_event(source: EventSource, request: &IncomingRequest) -> Value {
        super::to_event(source, request, &Front::default())
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
        assert_eq!(
            context["domainName"],
            "lambdaemulatorlocalfunctionurl00.lambda-url.us-east-1.on.aws"
        );
        assert_eq!(context["domainPrefix"], FUNCTION_URL_ID);
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
        // covers STR-5: the adapter tells an HTTP API from a Function URL by this name.
        assert_eq!(
            event["requestContext"]["domainName"],
            "lambdaemu0.execute-api.us-east-1.amazonaws.com"
        );
        assert_eq!(event["headers"]["host"], "127.0.0.1:9000");
    }

    #[test]
    fn v2_without_query_or_cookies_leaves_them_out() {
        let event = to_event(EventSource::FunctionUrl, &request("GET", "/", &[], b""));
        assert_eq!(event["rawQueryString"], "");
        assert!(event.get("queryStringParameters").is_none());
        assert!(event.get("cookies").is_none());
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
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-emulator/0123456789abcdef"
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
            EventSource::Lattice,
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
    fn emu4_every_source_gets_the_forwarding_headers_and_a_trace_id() {
        let forwarded = request(
            "GET",
            "/",
            &[
                ("host", "127.0.0.1:9000"),
                ("x-forwarded-for", "203.0.113.9"),
            ],
            b"",
        );
        assert_eq!(
            forwarded.headers["x-forwarded-for"],
            "203.0.113.9, 127.0.0.1"
        );
        let plain = browser_get();
        assert_eq!(plain.headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(plain.headers["x-forwarded-proto"], "http");
        assert_eq!(plain.headers["x-forwarded-port"], "9000");
        let trace = plain.trace_id.clone();
        // Root=1-<8 hex digits of epoch seconds>-<24 hex digits>
        assert!(trace.starts_with("Root=1-5e5ffb9e-"), "{trace}");
        assert_eq!(trace.len(), "Root=1-".len() + 8 + 1 + 24, "{trace}");
        for source in [
            EventSource::FunctionUrl,
            EventSource::HttpApiV2,
            EventSource::RestApiV1,
            EventSource::Alb,
        ] {
            let headers = &to_event(source, &plain)["headers"];
            assert_eq!(headers["x-forwarded-for"], "127.0.0.1", "{source}");
            assert_eq!(headers["x-forwarded-proto"], "http", "{source}");
            assert_eq!(headers["x-forwarded-port"], "9000", "{source}");
            assert_eq!(headers["x-amzn-trace-id"], trace.as_str(), "{source}");
        }
        let lattice = to_event(EventSource::Lattice, &plain);
        assert_eq!(lattice["headers"]["x-forwarded-for"], json!(["127.0.0.1"]));
        // A trace header the client sent is kept.
        let traced = request("GET", "/", &[("x-amzn-trace-id", "Root=1-abc")], b"");
        assert_eq!(traced.trace_id, "Root=1-abc");
    }

    #[test]
    fn emu4_rest_api_context_names_the_api_gateway_domain() {
        let event = to_event(EventSource::RestApiV1, &browser_get());
        let context = &event["requestContext"];
        assert_eq!(
            context["domainName"],
            "lambdaemu0.execute-api.us-east-1.amazonaws.com"
        );
        assert_eq!(context["identity"]["userAgent"], "curl/8.5");
        assert_eq!(context["requestTime"], "04/Mar/2020:19:03:58 +0000");
        let front = Front {
            region: "eu-west-1".to_owned(),
        };
        let elsewhere = super::to_event(EventSource::FunctionUrl, &browser_get(), &front);
        assert_eq!(
            elsewhere["requestContext"]["domainName"],
            "lambdaemulatorlocalfunctionurl00.lambda-url.eu-west-1.on.aws"
        );
    }

    #[test]
    fn evt9_lattice_event_has_lists_and_the_query_in_the_path() {
        let event = to_event(EventSource::Lattice, &browser_get());
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["method"], "GET");
        assert_eq!(
            event["path"],
            "/shop/a%20b/caf%C3%A9?q=a+b&q=c%26d&flag&empty="
        );
        assert_eq!(
            event["headers"]["accept"],
            json!(["text/html", "application/json"])
        );
        assert_eq!(event["headers"]["cookie"], json!(["a=1; b=2", "c=3"]));
        assert_eq!(
            event["queryStringParameters"],
            json!({"q": ["a b", "c&d"], "flag": [""], "empty": [""]})
        );
        assert_eq!(event["body"], "");
        assert_eq!(event["isBase64Encoded"], false);
        let context = &event["requestContext"];
        for arn in ["serviceNetworkArn", "serviceArn", "targetGroupArn"] {
            let arn = context[arn].as_str().unwrap();
            assert!(arn.starts_with("arn:aws:vpc-lattice:us-east-1:"), "{arn}");
        }
        assert_eq!(context["region"], "us-east-1");
        assert_eq!(context["timeEpoch"], "1583348638390000");
        assert!(context["identity"]["sourceVpcArn"].is_string());

        let posted = request("POST", "/x", &[("content-type", "image/png")], &[0, 255]);
        let event = to_event(EventSource::Lattice, &posted);
        assert_eq!(event["path"], "/x");
        assert_eq!(event["queryStringParameters"], json!({}));
        assert_eq!(event["body"], "AP8=");
        assert_eq!(event["isBase64Encoded"], true);
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
