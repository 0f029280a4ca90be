//! Lambda event builders: realistic API Gateway REST (v1), HTTP API (v2), Function URL, ALB and
//! SQS events, shaped after the example events in the AWS documentation (the sources of EVT-1 to
//! EVT-7 and RSP-1).
//!
//! One builder, [`HttpEvent`], describes a client request (method, path, query, headers, cookies,
//! body) and renders it the way each source would deliver it:
//!
//! - REST v1: `headers` (last value) + `multiValueHeaders`, decoded query values in
//!   `queryStringParameters` (last) + `multiValueQueryStringParameters`, cookies in a `Cookie`
//!   header, `requestContext.stage` (default `prod`).
//! - HTTP API v2 / Function URL: `rawPath`, `rawQueryString` byte for byte, lower-case `headers`
//!   with repeated values joined by `,`, `cookies`, `requestContext.http`.
//! - ALB: `requestContext.elb`, lower-case header names, query values as the client sent them
//!   (still percent-encoded); single-value (`headers`/`queryStringParameters`, last value wins) or
//!   multi-value (`multiValueHeaders`/`multiValueQueryStringParameters`) as the target group is set.
//!
//! The request context's account, API id (and with it the domain name), source IP and request
//! time have per-source defaults that a test or bench may replace, e.g. to send the very event a
//! benchmark has always measured.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value};

const ACCOUNT_ID: &str = "123456789012";
const REQUEST_TIME: &str = "09/Apr/2015:12:34:56 +0000";
const REQUEST_TIME_EPOCH: u64 = 1_428_582_896_000;
const SOURCE_IP: &str = "192.0.2.10";
const TARGET_GROUP_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/6d0ecf831eec9f09";

/// Which service delivers the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// API Gateway REST API (payload v1).
    RestV1,
    /// API Gateway HTTP API (payload v2).
    HttpV2,
    /// Lambda Function URL (payload v2).
    FunctionUrl,
    /// ALB target group with multi-value headers off.
    Alb,
    /// ALB target group with multi-value headers on.
    AlbMultiValue,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Text(String),
    /// Sent as given with `isBase64Encoded: true` (may be deliberately invalid).
    Base64(String),
}

/// A client request, rendered as a Lambda event by [`HttpEvent::build`].
#[derive(Debug, Clone)]
pub struct HttpEvent {
    source: Source,
    method: String,
    path: String,
    /// Query pairs in their on-the-wire (percent-encoded) form.
    query: Vec<(String, String)>,
    /// A query string set verbatim, used byte for byte as `rawQueryString`.
    raw_query: Option<String>,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    body: Body,
    /// `"body": null` in a v2 event without a body, instead of no `body` field.
    null_body: bool,
    stage: Option<String>,
    request_id: String,
    account_id: Option<String>,
    api_id: Option<String>,
    source_ip: Option<String>,
    /// The request time as text and as epoch milliseconds.
    request_time: Option<(String, u64)>,
}

/// The builder of every HTTP source, for a rule that holds for all of them.
pub const HTTP_SOURCES: [fn(&str, &str) -> HttpEvent; 5] =
    [rest_v1, http_v2, function_url, alb, alb_multi_value];

/// API Gateway REST API (payload v1).
pub fn rest_v1(method: &str, path: &str) -> HttpEvent {
    HttpEvent::new(Source::RestV1, method, path)
}

/// API Gateway HTTP API (payload v2).
pub fn http_v2(method: &str, path: &str) -> HttpEvent {
    HttpEvent::new(Source::HttpV2, method, path)
}

/// Lambda Function URL (payload v2 with the URL's own request context).
pub fn function_url(method: &str, path: &str) -> HttpEvent {
    HttpEvent::new(Source::FunctionUrl, method, path)
}

/// The Function URL request the benchmarks send (`benches/`): a client at `203.0.113.7` calling
/// the URL of API `abcdefghij` in account `123456789012` on 12 March 2024, with the headers AWS
/// adds on the way (`host`, `x-amzn-trace-id`, `x-forwarded-*`) and `accept-encoding`, and
/// `"body": null` when it has no body. Each benchmark adds its own client headers and body; the
/// same calls give the same bytes, so the figures of one run compare with those of another.
pub fn benchmark_function_url(method: &str, path: &str) -> HttpEvent {
    function_url(method, path)
        .account_id(ACCOUNT_ID)
        .api_id("abcdefghij")
        .source_ip("203.0.113.7")
        .request_time("12/Mar/2024:19:03:58 +0000", 1_710_270_238_000)
        .null_body()
        .header("accept-encoding", "gzip, deflate, br")
        .header("host", "abcdefghij.lambda-url.us-east-1.on.aws")
        .header(
            "x-amzn-trace-id",
            "Root=1-65f00000-0123456789abcdef01234567",
        )
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-port", "443")
        .header("x-forwarded-proto", "https")
}

/// ALB target group with multi-value headers off.
pub fn alb(method: &str, path: &str) -> HttpEvent {
    HttpEvent::new(Source::Alb, method, path)
}

/// ALB target group with multi-value headers on.
pub fn alb_multi_value(method: &str, path: &str) -> HttpEvent {
    HttpEvent::new(Source::AlbMultiValue, method, path)
}

impl HttpEvent {
    /// `method path` as `source` delivers it.
    pub fn new(source: Source, method: &str, path: &str) -> Self {
        HttpEvent {
            source,
            method: method.to_owned(),
            path: path.to_owned(),
            query: Vec::new(),
            raw_query: None,
            headers: Vec::new(),
            cookies: Vec::new(),
            body: Body::None,
            null_body: false,
            stage: None,
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".to_owned(),
            account_id: None,
            api_id: None,
            source_ip: None,
            request_time: None,
        }
    }

    /// Adds a query parameter (decoded form; repeat the key for a multi-value parameter).
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.query.push((encode(key), encode(value)));
        self
    }

    /// Sets the whole query string as the client sent it (no leading `?`), e.g. `a=1&a=2&b=x+y`.
    pub fn raw_query(mut self, raw: &str) -> Self {
        self.query = raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => (key.to_owned(), value.to_owned()),
                None => (pair.to_owned(), String::new()),
            })
            .collect();
        self.raw_query = Some(raw.to_owned());
        self
    }

    /// Adds a header; repeat the name for a multi-value header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a cookie (`name=value`).
    pub fn cookie(mut self, cookie: &str) -> Self {
        self.cookies.push(cookie.to_owned());
        self
    }

    /// A text body.
    pub fn body(mut self, body: &str) -> Self {
        self.body = Body::Text(body.to_owned());
        self
    }

    /// A binary body, base64-encoded with `isBase64Encoded: true`.
    pub fn binary_body(mut self, body: &[u8]) -> Self {
        self.body = Body::Base64(base64::engine::general_purpose::STANDARD.encode(body));
        self
    }

    /// `body` set verbatim with `isBase64Encoded: true` (e.g. invalid base64).
    pub fn base64_body(mut self, encoded: &str) -> Self {
        self.body = Body::Base64(encoded.to_owned());
        self
    }

    /// `requestContext.stage` (defaults: `prod` for REST, `$default` for v2).
    pub fn stage(mut self, stage: &str) -> Self {
        self.stage = Some(stage.to_owned());
        self
    }

    /// `requestContext.requestId`.
    pub fn request_id(mut self, id: &str) -> Self {
        self.request_id = id.to_owned();
        self
    }

    /// `requestContext.accountId` (REST, HTTP API, Function URL).
    pub fn account_id(mut self, id: &str) -> Self {
        self.account_id = Some(id.to_owned());
        self
    }

    /// `requestContext.apiId`, and the domain name made of it (REST, HTTP API, Function URL).
    pub fn api_id(mut self, id: &str) -> Self {
        self.api_id = Some(id.to_owned());
        self
    }

    /// The client's address in the request context (REST, HTTP API, Function URL).
    pub fn source_ip(mut self, ip: &str) -> Self {
        self.source_ip = Some(ip.to_owned());
        self
    }

    /// The request time in the request context, as text (in the source's format) and as epoch
    /// milliseconds (REST, HTTP API, Function URL).
    pub fn request_time(mut self, text: &str, epoch_ms: u64) -> Self {
        self.request_time = Some((text.to_owned(), epoch_ms));
        self
    }

    /// A v2 event without a body carries `"body": null` instead of leaving the field out.
    pub fn null_body(mut self) -> Self {
        self.null_body = true;
        self
    }

    /// The event JSON.
    pub fn build(&self) -> Value {
        match self.source {
            Source::RestV1 => self.rest_v1(),
            Source::HttpV2 | Source::FunctionUrl => self.v2(),
            Source::Alb | Source::AlbMultiValue => self.alb(),
        }
    }

    /// The event JSON as bytes, as the control plane delivers it.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(self.build().to_string())
    }

    /// Headers plus the cookies as one `cookie` header (v1, ALB).
    fn headers_with_cookie(&self, cookie_header: &str) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        if !self.cookies.is_empty() {
            headers.push((cookie_header.to_owned(), self.cookies.join("; ")));
        }
        headers
    }

    fn client_ip(&self) -> String {
        self.source_ip
            .clone()
            .unwrap_or_else(|| SOURCE_IP.to_owned())
    }

    fn body_fields(&self, absent: Value) -> (Value, bool) {
        match &self.body {
            Body::None => (absent, false),
            Body::Text(text) => (json!(text), false),
            Body::Base64(encoded) => (json!(encoded), true),
        }
    }

    fn rest_v1(&self) -> Value {
        let stage = self.stage.clone().unwrap_or_else(|| "prod".to_owned());
        let headers = self.headers_with_cookie("Cookie");
        let query: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(key, value)| (decode(key), decode(value)))
            .collect();
        let (body, is_base64) = self.body_fields(Value::Null);
        let user_agent = first_value(&headers, "user-agent");
        let api_id = self.api_id.as_deref().unwrap_or("1234567890");
        let (request_time, request_time_epoch) = self
            .request_time
            .clone()
            .unwrap_or_else(|| (REQUEST_TIME.to_owned(), REQUEST_TIME_EPOCH));
        json!({
            "resource": "/{proxy+}",
            "path": self.path,
            "httpMethod": self.method,
            "headers": single_value_map(&headers),
            "multiValueHeaders": multi_value_map(&headers),
            "queryStringParameters": null_if_empty(single_value_map(&query)),
            "multiValueQueryStringParameters": null_if_empty(multi_value_map(&query)),
            "pathParameters": { "proxy": self.path.trim_start_matches('/') },
            "stageVariables": null,
            "requestContext": {
                "accountId": self.account_id.as_deref().unwrap_or(ACCOUNT_ID),
                "apiId": api_id,
                "resourceId": "123456",
                "resourcePath": "/{proxy+}",
                "stage": stage,
                "requestId": self.request_id,
                "extendedRequestId": "EXAMPLEextendedRequestId=",
                "requestTime": request_time,
                "requestTimeEpoch": request_time_epoch,
                "httpMethod": self.method,
                "path": format!("/{stage}{}", self.path),
                "protocol": "HTTP/1.1",
                "domainName": format!("{api_id}.execute-api.us-east-1.amazonaws.com"),
                "domainPrefix": api_id,
                "identity": {
                    "accessKey": null,
                    "accountId": null,
                    "caller": null,
                    "cognitoAuthenticationProvider": null,
                    "cognitoAuthenticationType": null,
                    "cognitoIdentityId": null,
                    "cognitoIdentityPoolId": null,
                    "principalOrgId": null,
                    "sourceIp": self.client_ip(),
                    "user": null,
                    "userAgent": user_agent,
                    "userArn": null,
                },
            },
            "body": body,
            "isBase64Encoded": is_base64,
        })
    }

    fn v2(&self) -> Value {
        let function_url = self.source == Source::FunctionUrl;
        let (default_api_id, domain) = if function_url {
            ("a1b2c3d4e5", "lambda-url.us-east-1.on.aws")
        } else {
            ("r3pmxmplak", "execute-api.us-east-1.amazonaws.com")
        };
        let api_id = self.api_id.as_deref().unwrap_or(default_api_id);
        let default_account = if function_url {
            "anonymous"
        } else {
            ACCOUNT_ID
        };
        let (time, time_epoch) = self
            .request_time
            .clone()
            .unwrap_or_else(|| ("12/Mar/2020:19:03:58 +0000".to_owned(), 1_583_348_638_390));
        let stage = self.stage.clone().unwrap_or_else(|| "$default".to_owned());
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect();
        let raw_query = self.raw_query.clone().unwrap_or_else(|| {
            self.query
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join("&")
        });
        let decoded_query: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(key, value)| (decode(key), decode(value)))
            .collect();
        let user_agent = first_value(&headers, "user-agent").unwrap_or_default();
        let mut event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": joined_map(&headers),
            "requestContext": {
                "accountId": self.account_id.as_deref().unwrap_or(default_account),
                "apiId": api_id,
                "domainName": format!("{api_id}.{domain}"),
                "domainPrefix": api_id,
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.client_ip(),
                    "userAgent": user_agent,
                },
                "requestId": self.request_id,
                "routeKey": "$default",
                "stage": stage,
                "time": time,
                "timeEpoch": time_epoch,
            },
            "isBase64Encoded": false,
        });
        let fields = event.as_object_mut().expect("an object");
        if !self.cookies.is_empty() {
            fields.insert("cookies".into(), json!(self.cookies));
        }
        if !decoded_query.is_empty() {
            fields.insert("queryStringParameters".into(), joined_map(&decoded_query));
        }
        let (body, is_base64) = self.body_fields(Value::Null);
        if !body.is_null() || self.null_body {
            fields.insert("body".into(), body);
        }
        fields.insert("isBase64Encoded".into(), json!(is_base64));
        event
    }

    fn alb(&self) -> Value {
        let headers: Vec<(String, String)> = self
            .headers_with_cookie("cookie")
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        let (body, is_base64) = self.body_fields(json!(""));
        let mut event = json!({
            "requestContext": { "elb": { "targetGroupArn": TARGET_GROUP_ARN } },
            "httpMethod": self.method,
            "path": self.path,
            "body": body,
            "isBase64Encoded": is_base64,
        });
        let fields = event.as_object_mut().expect("an object");
        if self.source == Source::AlbMultiValue {
            fields.insert("multiValueHeaders".into(), multi_value_map(&headers));
            fields.insert(
                "multiValueQueryStringParameters".into(),
                multi_value_map(&self.query),
            );
        } else {
            fields.insert("headers".into(), single_value_map(&headers));
            fields.insert(
                "queryStringParameters".into(),
                single_value_map(&self.query),
            );
        }
        event
    }
}

impl From<HttpEvent> for Bytes {
    fn from(event: HttpEvent) -> Bytes {
        event.to_bytes()
    }
}

impl From<&HttpEvent> for Bytes {
    fn from(event: &HttpEvent) -> Bytes {
        event.to_bytes()
    }
}

/// The host name of the VPC Lattice service in [`lattice_v2`].
pub const LATTICE_SERVICE_HOST: &str =
    "svc-0a40eebed65f8d69c.7d67968.vpc-lattice-svcs.us-east-1.on.aws";

/// A VPC Lattice v2 event (EVT-9) for `method` and `path_and_query` (Lattice puts the query in the
/// path), shaped after the VPC Lattice User Guide's sample: list-valued headers, the query also in
/// `queryStringParameters`, an empty body, and a request context with its ARNs and identity.
pub fn lattice_v2(method: &str, path_and_query: &str) -> Value {
    json!({
        "version": "2.0",
        "path": path_and_query,
        "method": method,
        "headers": {
            "host": [LATTICE_SERVICE_HOST],
            "accept": ["text/html", "application/json;q=0.9"],
            "x-forwarded-for": ["10.0.1.7"],
            "user-agent": ["curl/8.5.0"]
        },
        "queryStringParameters": {"query1": ["value1", "value3"], "query2": ["a b"]},
        "body": "",
        "isBase64Encoded": false,
        "requestContext": {
            "serviceNetworkArn": "arn:aws:vpc-lattice:us-east-1:123456789012:servicenetwork/sn-0bf3f2882e9cc805a",
            "serviceArn": "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0a40eebed65f8d69c",
            "targetGroupArn": "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg-6d0ecf831eec9f09",
            "identity": {
                "sourceVpcArn": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0b8276c84697e7339",
                "type": "AWS_IAM",
                "principal": "arn:aws:iam::123456789012:assumed-role/my-role/my-session",
                "principalOrgID": "o-50dc6c495c0c9188",
                "sessionName": "i-0c7de02a688bde9f7"
            },
            "region": "us-east-1",
            "timeEpoch": "1690497599177430"
        }
    })
}

/// An SQS event with one record per body (a pass-through event, EVT-7).
pub fn sqs(bodies: &[&str]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| {
            json!({
                "messageId": format!("059f36b4-87a3-44ab-83d2-66197{index:07}"),
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185",
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:my-queue",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The body bytes of a buffered HTTP response JSON (`body` + `isBase64Encoded`); panics on a
/// body marked base64 that is not.
pub fn response_body(response: &Value) -> Vec<u8> {
    let body = response["body"].as_str().unwrap_or_default();
    if response["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("isBase64Encoded body is valid base64")
    } else {
        body.as_bytes().to_vec()
    }
}

fn first_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.clone())
}

/// Groups values by name (case-insensitively, first spelling kept), in order.
fn grouped(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in pairs {
        match groups
            .iter_mut()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
        {
            Some((_, values)) => values.push(value.clone()),
            None => groups.push((name.clone(), vec![value.clone()])),
        }
    }
    groups
}

/// `{name: last value}`.
fn single_value_map(pairs: &[(String, String)]) -> Value {
    let map: Map<String, Value> = grouped(pairs)
        .into_iter()
        .map(|(name, values)| (name, json!(values.last())))
        .collect();
    Value::Object(map)
}

/// `{name: [values]}`.
fn multi_value_map(pairs: &[(String, String)]) -> Value {
    let map: Map<String, Value> = grouped(pairs)
        .into_iter()
        .map(|(name, values)| (name, json!(values)))
        .collect();
    Value::Object(map)
}

/// `{name: "v1,v2"}` (v2 payloads).
fn joined_map(pairs: &[(String, String)]) -> Value {
    let map: Map<String, Value> = grouped(pairs)
        .into_iter()
        .map(|(name, values)| (name, json!(values.join(","))))
        .collect();
    Value::Object(map)
}

fn null_if_empty(value: Value) -> Value {
    match &value {
        Value::Object(map) if map.is_empty() => Value::Null,
        _ => value,
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Decodes `%XX` sequences (a malformed one is kept as is; `+` stays `+`).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
