//! Lambda event (JSON) → `lambda_http::Request` (SPEC EVT-1 … EVT-3, EVT-7 … EVT-9, STR-5).
//!
//! API Gateway REST (v1), HTTP API / Function URL (v2), ALB and VPC Lattice (v2 and v1) events
//! become HTTP requests with the method, path, query, headers and body exactly as the client sent
//! them; anything else that is JSON is a pass-through event. This is written here rather than
//! taken from `lambda_http` because that conversion drops repeated v1 headers, double-encodes ALB
//! queries, panics on a bad base64 body and knows no Lattice events: here a malformed event is an
//! [`AdapterError`] of kind `InvalidEvent`.
//!
//! The sources are told apart by a few fields (PROTOCOL.md "Event shapes"): `requestContext.elb`
//! (ALB), `requestContext.http` with `rawPath` or `version: "2.0"` (HTTP API or Function URL, told
//! apart by `requestContext.domainName`, see [`http_api_domain`]), a Lattice ARN in
//! `requestContext` (Lattice v2, which also says `version: "2.0"`), `httpMethod` (REST), and
//! `raw_path` with `method` and no request context (Lattice v1).

use std::borrow::Cow;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use lambda_http::{Body, Request};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::AdapterError;

#[cfg(test)]
mod fuzz;

/// Which kind of event an invocation carried; decides the shape of the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventSource {
    /// API Gateway REST API (payload format 1.0).
    RestApi,
    /// API Gateway HTTP API (payload format 2.0).
    HttpApi,
    /// A Lambda Function URL: payload format 2.0 that [`http_api_domain`] does not take for an
    /// HTTP API's. Same response shape as [`EventSource::HttpApi`]; only this one streams (STR-5).
    FunctionUrl,
    /// Application Load Balancer; `multi_value` when the target group sends multi-value headers.
    Alb { multi_value: bool },
    /// VPC Lattice target group, event structure v2 or v1 (EVT-9): one response shape for both.
    Lattice,
    /// Any other event: posted to the app as JSON.
    PassThrough,
}

/// The event's `requestContext` as single-line JSON, forwarded as `x-amzn-request-context`.
#[derive(Clone, Debug)]
pub(crate) struct RawRequestContext(pub(crate) String);

/// Turns an event into the HTTP request it describes.
///
/// One pass reads the fields of all HTTP event shapes and tells the sources apart from them.
/// Only an event that does not fit those fields (a wrong type, say) is looked at again by the
/// tolerant [`classify`]: an HTTP event is then malformed, anything else is passed through.
/// Header values that need no unescaping share the event's memory rather than being copied.
pub(crate) fn parse(event: impl Into<Bytes>) -> Result<(EventSource, Request), AdapterError> {
    let shared = event.into();
    let event = std::str::from_utf8(&shared)
        .map_err(|_| AdapterError::invalid_event("the event is not UTF-8 JSON"))?;
    if !is_object(event) {
        return checked_pass_through(event, &shared);
    }
    match serde_json::from_str::<HttpEvent<'_>>(event) {
        Ok(http) => match http.source() {
            (EventSource::PassThrough, _) => Ok(pass_through(&shared)),
            (source, method) => Ok(tag(source, http.into_request(source, method, &shared)?)),
        },
        Err(_) if classify(event) == EventSource::PassThrough => {
            checked_pass_through(event, &shared)
        }
        Err(err) => Err(AdapterError::invalid_event(format!(
            "malformed HTTP event: {}",
            json_problem(&err)
        ))),
    }
}

/// A pass-through event that has not been read as JSON yet: it must be JSON.
fn checked_pass_through(
    event: &str,
    shared: &Bytes,
) -> Result<(EventSource, Request), AdapterError> {
    serde_json::from_str::<IgnoredAny>(event)
        .map_err(|e| AdapterError::invalid_event(format!("the event is not JSON: {e}")))?;
    Ok(pass_through(shared))
}

/// The body of a request made from an event (EVT-3), sharing the event's memory wherever it needed
/// no decoding: a 5 MB body is then never held twice. It travels beside the request because
/// `lambda_http::Body` owns its bytes; the request's own body is `Body::Empty`.
#[derive(Clone, Debug)]
pub(crate) struct EventBody(pub(crate) Bytes);

fn is_object(event: &str) -> bool {
    event.trim_start().starts_with('{')
}

fn tag(source: EventSource, mut request: Request) -> (EventSource, Request) {
    request.extensions_mut().insert(source);
    (source, request)
}

/// What is wrong with an event's JSON, without quoting the value that was wrong: it may be a
/// header such as `authorization` (ERR-4).
fn json_problem(err: &serde_json::Error) -> String {
    match err.classify() {
        serde_json::error::Category::Data => format!(
            "a field has a value of the wrong type or shape (line {}, column {})",
            err.line(),
            err.column()
        ),
        _ => err.to_string(),
    }
}

/// The few fields that tell the event sources apart (the order and tests follow PROTOCOL.md).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Probe<'a> {
    version: Option<String>,
    http_method: Option<IgnoredAny>,
    raw_path: Option<IgnoredAny>,
    multi_value_headers: Option<IgnoredAny>,
    method: Option<IgnoredAny>,
    #[serde(rename = "raw_path")]
    raw_path_v1: Option<IgnoredAny>,
    #[serde(borrow)]
    request_context: Option<ContextProbe<'a>>,
}

/// The source of an event whatever the types of its fields (the reference for [`parse`]).
pub(crate) fn classify(event: &str) -> EventSource {
    if !is_object(event) {
        return EventSource::PassThrough;
    }
    let Ok(probe) = serde_json::from_str::<Probe<'_>>(event) else {
        return EventSource::PassThrough;
    };
    Signs {
        context: probe.request_context.as_ref(),
        version: probe.version.as_deref(),
        raw_path: probe.raw_path.is_some(),
        http_method: probe.http_method.is_some(),
        multi_value_headers: probe.multi_value_headers.is_some(),
        method: probe.method.is_some(),
        raw_path_v1: probe.raw_path_v1.is_some(),
    }
    .source()
}

/// What tells the sources apart, found by [`classify`] or by [`parse`]'s single pass.
struct Signs<'p> {
    /// `None` when the event has no request context, or a `null` one.
    context: Option<&'p ContextProbe<'p>>,
    version: Option<&'p str>,
    raw_path: bool,
    http_method: bool,
    multi_value_headers: bool,
    method: bool,
    raw_path_v1: bool,
}

impl Signs<'_> {
    /// The order and tests follow PROTOCOL.md.
    fn source(&self) -> EventSource {
        let Some(context) = self.context else {
            // Lattice v1 is the one HTTP event without a request context.
            return if self.raw_path_v1 && self.method {
                EventSource::Lattice
            } else {
                EventSource::PassThrough
            };
        };
        if context.elb.is_some() {
            EventSource::Alb {
                multi_value: self.multi_value_headers,
            }
        } else if context.http.is_some() && (self.raw_path || self.version == Some("2.0")) {
            if http_api_domain(context.domain_name) {
                EventSource::HttpApi
            } else {
                EventSource::FunctionUrl
            }
        } else if context.names_a_lattice_target() {
            EventSource::Lattice
        } else if self.http_method {
            EventSource::RestApi
        } else {
            EventSource::PassThrough
        }
    }
}

/// STR-5: whether a payload 2.0 event's `requestContext.domainName` is an HTTP API's (which
/// invokes without streaming) rather than a Function URL's (`*.lambda-url.*`).
///
/// Any other name is an HTTP API's, custom domains included. A missing domain name, `localhost`
/// or an IP address comes from no AWS front door but from local emulators (this project's among
/// them, which puts the `Host` of the request there): it says nothing, and the event is taken for
/// a Function URL's, so streaming stays as configured.
fn http_api_domain(domain_name: Option<&RawValue>) -> bool {
    // A domain name has no characters JSON escapes: the literal without its quotes is the name.
    let Some(name) = domain_name.and_then(|raw| raw.get().strip_prefix('"')?.strip_suffix('"'))
    else {
        return false;
    };
    let host = name.trim_start_matches('[').trim_end_matches(']');
    !(name.contains(".lambda-url.")
        || name.is_empty()
        || name.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok())
}

fn pass_through(event: &Bytes) -> (EventSource, Request) {
    let mut request = Request::new(Body::Empty);
    request.extensions_mut().insert(EventBody(event.clone()));
    *request.method_mut() = Method::POST;
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    tag(EventSource::PassThrough, request)
}

/// The fields of the HTTP event shapes; each source reads the ones it has. Strings are
/// borrowed from the event where they have no escapes, so most fields cost no allocation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpEvent<'a> {
    #[serde(default, borrow)]
    version: Option<Text<'a>>,
    #[serde(default, borrow)]
    http_method: Option<Text<'a>>,
    /// REST and ALB: the path. Lattice v2: the path and the query, as the client sent them.
    #[serde(default, borrow)]
    path: Option<Text<'a>>,
    /// Lattice (both versions).
    #[serde(default, borrow)]
    method: Option<Text<'a>>,
    /// Lattice v1 (whose fields are snake case): the path and the query.
    #[serde(default, borrow, rename = "raw_path")]
    raw_path_v1: Option<Text<'a>>,
    #[serde(default, borrow)]
    raw_path: Option<Text<'a>>,
    #[serde(default, borrow)]
    raw_query_string: Option<Text<'a>>,
    #[serde(default, borrow)]
    cookies: Option<Vec<Text<'a>>>,
    /// One string per name, but a list in Lattice v2.
    #[serde(default, borrow)]
    headers: Pairs<'a, Values<'a>>,
    /// `None` when absent or null: an ALB target group without multi-value headers.
    #[serde(default, borrow)]
    multi_value_headers: Option<Pairs<'a, Vec<Text<'a>>>>,
    /// One string per key, but a list in Lattice v2.
    #[serde(default, borrow)]
    query_string_parameters: Pairs<'a, Values<'a>>,
    #[serde(default, borrow)]
    multi_value_query_string_parameters: Pairs<'a, Vec<Text<'a>>>,
    /// Lattice v1: the last value of each key.
    #[serde(default, borrow, rename = "query_string_parameters")]
    query_string_parameters_v1: Pairs<'a, Text<'a>>,
    #[serde(default, borrow)]
    request_context: Option<&'a RawValue>,
    /// Kept as the JSON text it is in the event and decoded by [`json_string`]: a large body is
    /// then copied once, straight into a buffer of its size (base64 needs no copy at all).
    #[serde(default, borrow)]
    body: Option<&'a RawValue>,
    #[serde(default)]
    is_base64_encoded: Option<bool>,
    #[serde(default, rename = "is_base64_encoded")]
    is_base64_encoded_v1: Option<bool>,
}

/// A string borrowed from the event when it needs no unescaping (serde only borrows a `Cow`
/// that is a field of its own, hence the newtype).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// A header's or a query parameter's value: one string, or a list of them (Lattice v2).
enum Values<'a> {
    One(Text<'a>),
    Many(Vec<Text<'a>>),
}

impl<'a> Values<'a> {
    fn as_slice(&self) -> &[Text<'a>] {
        match self {
            Values::One(one) => std::slice::from_ref(one),
            Values::Many(many) => many,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Values<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValuesVisitor<'a>(std::marker::PhantomData<Text<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for ValuesVisitor<'a> {
            type Value = Values<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Values::One(Text(Cow::Borrowed(text))))
            }

            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Values::One(Text(Cow::Owned(text.to_owned()))))
            }

            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(Values::One(Text(Cow::Owned(text))))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut many = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(text) = seq.next_element::<Text<'a>>()? {
                    many.push(text);
                }
                Ok(Values::Many(many))
            }
        }

        deserializer.deserialize_any(ValuesVisitor(std::marker::PhantomData))
    }
}

/// The members of `requestContext` that tell the sources apart.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextProbe<'a> {
    #[serde(default)]
    elb: Option<IgnoredAny>,
    #[serde(default, borrow)]
    http: Option<&'a RawValue>,
    /// Tells an HTTP API from a Function URL ([`http_api_domain`]); kept raw, so that a value of
    /// any type is still a request context.
    #[serde(default, borrow)]
    domain_name: Option<&'a RawValue>,
    #[serde(default)]
    service_network_arn: Option<IgnoredAny>,
    #[serde(default)]
    service_arn: Option<IgnoredAny>,
    #[serde(default)]
    target_group_arn: Option<IgnoredAny>,
}

impl ContextProbe<'_> {
    /// Lattice v2: the service network, service or target group the request came through (ALB's
    /// target group is under `elb`, API Gateway has none of these).
    fn names_a_lattice_target(&self) -> bool {
        self.service_network_arn.is_some()
            || self.service_arn.is_some()
            || self.target_group_arn.is_some()
    }
}

#[derive(Deserialize)]
struct HttpApiMethod<'a> {
    #[serde(borrow)]
    method: Text<'a>,
}

impl<'a> HttpEvent<'a> {
    /// The same decision as [`classify`], from the parsed fields; with `requestContext.http`,
    /// where an HTTP API event has its method.
    fn source(&self) -> (EventSource, Option<&'a RawValue>) {
        let context = match self.request_context {
            Some(raw) => match serde_json::from_str::<ContextProbe<'a>>(raw.get()) {
                Ok(context) => Some(context),
                // Not an object: no HTTP event's (`classify` sees the same).
                Err(_) => return (EventSource::PassThrough, None),
            },
            None => None,
        };
        let source = Signs {
            context: context.as_ref(),
            version: self.version.as_deref(),
            raw_path: self.raw_path.is_some(),
            http_method: self.http_method.is_some(),
            multi_value_headers: self.multi_value_headers.is_some(),
            method: self.method.is_some(),
            raw_path_v1: self.raw_path_v1.is_some(),
        }
        .source();
        (source, context.and_then(|context| context.http))
    }

    fn into_request(
        self,
        source: EventSource,
        http: Option<&RawValue>,
        event: &Bytes,
    ) -> Result<Request, AdapterError> {
        let method = match source {
            EventSource::HttpApi | EventSource::FunctionUrl => {
                let method: HttpApiMethod<'_> =
                    serde_json::from_str(http.map_or("null", RawValue::get)).map_err(|e| {
                        AdapterError::invalid_event(format!(
                            "requestContext.http.method: {}",
                            json_problem(&e)
                        ))
                    })?;
                method.method.0
            }
            EventSource::Lattice => Cow::Borrowed(self.method.as_deref().unwrap_or("")),
            _ => Cow::Borrowed(self.http_method.as_deref().unwrap_or("")),
        };
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| AdapterError::invalid_event(format!("invalid HTTP method {method:?}")))?;

        let (path, query) = match source {
            EventSource::HttpApi | EventSource::FunctionUrl => (
                self.raw_path.as_deref().unwrap_or("/"),
                sanitize_query(self.raw_query_string.as_deref().unwrap_or("")),
            ),
            EventSource::RestApi => (self.path.as_deref().unwrap_or("/"), self.encoded_query()),
            EventSource::Lattice => self.lattice_path_and_query(),
            _ => (self.path.as_deref().unwrap_or("/"), self.raw_query()),
        };
        let uri = request_uri(path, &query)?;

        let mut headers = self.header_map(event)?;
        if let Some(cookies) = self.cookies.as_ref().filter(|c| !c.is_empty()) {
            let joined = cookies.iter().map(|c| &**c).collect::<Vec<_>>().join("; ");
            let value = HeaderValue::from_str(&joined).map_err(|_| {
                AdapterError::invalid_event("a cookie contains bytes not allowed in a header")
            })?;
            headers.insert(http::header::COOKIE, value);
        }

        let base64 = self.is_base64_encoded.or(self.is_base64_encoded_v1);
        let body = decode_body(self.body, base64.unwrap_or(false), event)?;
        let mut request = Request::new(Body::Empty);
        request.extensions_mut().insert(EventBody(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        // Lattice v1 events have no request context: the app then gets none (EVT-4, EVT-9).
        if let Some(context) = self.request_context {
            request
                .extensions_mut()
                .insert(RawRequestContext(compact_json(context.get())));
        }
        Ok(request)
    }

    /// Lattice: `path` (v2) or `raw_path` (v1) holds the query as the client sent it, byte for
    /// byte like v2's `rawQueryString`. Only without one there is the parameter map to go by,
    /// taken as written, as ALB's is (the documentation does not say whether it is decoded).
    fn lattice_path_and_query(&self) -> (&str, String) {
        let full = self
            .path
            .as_deref()
            .or(self.raw_path_v1.as_deref())
            .unwrap_or("/");
        match full.split_once('?') {
            Some((path, query)) => (path, sanitize_query(query)),
            None => (full, self.raw_query()),
        }
    }

    /// v1: API Gateway hands over decoded values, so they are encoded again.
    fn encoded_query(&self) -> String {
        self.query(|query, text| query.extend(utf8_percent_encode(text, COMPONENT)))
    }

    /// ALB: the load balancer passes keys and values as the client encoded them.
    fn raw_query(&self) -> String {
        sanitize_query(&self.query(String::push_str))
    }

    /// `key=value&…` with each key and value written by `write`; repeated keys come from the
    /// multi-value map where the event has one (or from lists, in Lattice v2).
    fn query(&self, write: impl Fn(&mut String, &str)) -> String {
        let mut query = String::new();
        let mut push = |key: &str, value: &str| {
            if !query.is_empty() {
                query.push('&');
            }
            write(&mut query, key);
            query.push('=');
            write(&mut query, value);
        };
        if self.multi_value_query_string_parameters.0.is_empty() {
            for (key, values) in &self.query_string_parameters.0 {
                values.as_slice().iter().for_each(|value| push(key, value));
            }
            for (key, value) in &self.query_string_parameters_v1.0 {
                push(key, value);
            }
        } else {
            for (key, values) in &self.multi_value_query_string_parameters.0 {
                values.iter().for_each(|value| push(key, value));
            }
        }
        query
    }

    /// Every value of every header: the multi-value map where the event has one (it holds all
    /// values; v1's `headers` holds only the last), then the `headers` it does not name (a list
    /// of values each in Lattice v2).
    fn header_map(&self, event: &Bytes) -> Result<HeaderMap, AdapterError> {
        let multi_value = self.multi_value_headers.as_ref().map_or(&[][..], |m| &m.0);
        // Room for the event's headers and the few the adapter adds (contexts, cookie, host).
        let mut headers = HeaderMap::with_capacity(multi_value.len() + self.headers.0.len() + 6);
        for (name, values) in multi_value {
            let name = header_name(name)?;
            for value in values {
                headers.append(name.clone(), header_value(&name, value, event)?);
            }
        }
        for (name, values) in &self.headers.0 {
            let name = header_name(name)?;
            if headers.contains_key(&name) {
                continue;
            }
            match values {
                Values::One(value) => {
                    let value = header_value(&name, value, event)?;
                    headers.insert(name, value);
                }
                Values::Many(values) => {
                    for value in values {
                        headers.append(name.clone(), header_value(&name, value, event)?);
                    }
                }
            }
        }
        Ok(headers)
    }
}

fn header_name(name: &str) -> Result<HeaderName, AdapterError> {
    if let Some(known) = KNOWN_NAMES
        .iter()
        .find(|known| known.as_str().eq_ignore_ascii_case(name))
    {
        return Ok(known.clone());
    }
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| AdapterError::invalid_event(format!("invalid header name {name:?}")))
}

/// Names that API Gateway, ALB and Function URL events carry on most requests and `http` has no
/// constant for: found here, they cost no allocation (nor one more when the request is copied
/// for an ERR-1 retry).
static KNOWN_NAMES: [HeaderName; 16] = [
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-amzn-trace-id"),
    HeaderName::from_static("x-amzn-tls-version"),
    HeaderName::from_static("x-amzn-tls-cipher-suite"),
    HeaderName::from_static("x-amz-cf-id"),
    HeaderName::from_static("cloudfront-forwarded-proto"),
    HeaderName::from_static("cloudfront-is-desktop-viewer"),
    HeaderName::from_static("cloudfront-is-mobile-viewer"),
    HeaderName::from_static("cloudfront-is-smarttv-viewer"),
    HeaderName::from_static("cloudfront-is-tablet-viewer"),
    HeaderName::from_static("cloudfront-viewer-asn"),
    HeaderName::from_static("cloudfront-viewer-country"),
    HeaderName::from_static("sec-fetch-mode"),
    HeaderName::from_static("x-requested-with"),
];

/// A header value; one that was written without escapes in `event` shares its bytes.
fn header_value(
    name: &HeaderName,
    value: &Text<'_>,
    event: &Bytes,
) -> Result<HeaderValue, AdapterError> {
    let checked = match &value.0 {
        // Borrowed by serde_json from the event's text, so inside `event`.
        Cow::Borrowed(text) => HeaderValue::from_maybe_shared(event.slice_ref(text.as_bytes())),
        Cow::Owned(text) => HeaderValue::from_str(text),
    };
    checked.map_err(|_| {
        AdapterError::invalid_event(format!(
            "header {name} has bytes not allowed in a header value"
        ))
    })
}

/// The event's `body`, decoded; text without escapes is a part of `event`, not a copy.
fn decode_body(
    body: Option<&RawValue>,
    base64: bool,
    event: &Bytes,
) -> Result<Bytes, AdapterError> {
    let Some(body) = body else {
        return Ok(Bytes::new());
    };
    let body = json_string(body.get()).ok_or_else(|| {
        AdapterError::invalid_event("malformed HTTP event: the body is not a JSON string")
    })?;
    match body {
        body if body.is_empty() => Ok(Bytes::new()),
        body if base64 => BASE64
            .decode(body.as_bytes())
            .map(Bytes::from)
            .map_err(|e| AdapterError::invalid_event(format!("body is not valid base64: {e}"))),
        // Borrowed by serde_json from the event's text, so inside `event`.
        Cow::Borrowed(text) => Ok(event.slice_ref(text.as_bytes())),
        Cow::Owned(text) => Ok(Bytes::from(text)),
    }
}

/// The value of `raw`, a JSON string literal that serde_json has already checked: borrowed when
/// it has no escapes, else decoded into a buffer allocated once (serde_json would build it in a
/// growing scratch buffer and copy it from there, twice the memory for a 5 MB body). `None` for
/// anything but a string, or a lone surrogate escape.
fn json_string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let Some(first) = inner.find('\\') else {
        return Some(Cow::Borrowed(inner));
    };
    let mut out = String::with_capacity(inner.len());
    out.push_str(&inner[..first]);
    let mut rest = &inner[first..];
    while let Some(escape) = rest.strip_prefix('\\') {
        let (decoded, after) = match escape.as_bytes().first()? {
            b'"' => ('"', &escape[1..]),
            b'\\' => ('\\', &escape[1..]),
            b'/' => ('/', &escape[1..]),
            b'b' => ('\u{8}', &escape[1..]),
            b'f' => ('\u{c}', &escape[1..]),
            b'n' => ('\n', &escape[1..]),
            b'r' => ('\r', &escape[1..]),
            b't' => ('\t', &escape[1..]),
            b'u' => unicode_escape(&escape[1..])?,
            _ => return None,
        };
        out.push(decoded);
        let next = after.find('\\').unwrap_or(after.len());
        out.push_str(&after[..next]);
        rest = &after[next..];
    }
    Some(Cow::Owned(out))
}

/// `XXXX` of a `\uXXXX` escape (and the low half that must follow a high surrogate), with what
/// follows it.
fn unicode_escape(text: &str) -> Option<(char, &str)> {
    let hex = |digits: &str| u32::from_str_radix(digits.get(..4)?, 16).ok();
    let unit = hex(text)?;
    let rest = text.get(4..)?;
    match unit {
        0xD800..=0xDBFF => {
            let low = hex(rest.strip_prefix("\\u")?)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            Some((char::from_u32(code)?, rest.get(6..)?))
        }
        _ => Some((char::from_u32(unit)?, rest)),
    }
}

/// Standard base64 that accepts bodies with or without padding.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Everything but RFC 3986 unreserved characters: for a decoded query key or value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Characters that cannot stand in a query as they are; `&`, `=`, `+` and `%` keep their meaning.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^');
/// Characters that cannot stand in a URL path as they are: those of a query, and `?`. `%` is not
/// one: an already encoded path stays encoded once.
const PATH: &AsciiSet = &QUERY.add(b'?');

/// Percent-encodes what a URL path cannot hold (non-ASCII, spaces, …), once.
pub(crate) fn encode_path(path: &str) -> Cow<'_, str> {
    utf8_percent_encode(path, PATH).into()
}

fn sanitize_query(query: &str) -> String {
    utf8_percent_encode(query, QUERY).to_string()
}

fn request_uri(path: &str, query: &str) -> Result<Uri, AdapterError> {
    let path = if path.starts_with('/') {
        encode_path(path)
    } else {
        Cow::Owned(format!("/{}", encode_path(path)))
    };
    let uri = if query.is_empty() {
        path.into_owned()
    } else {
        format!("{path}?{query}")
    };
    Uri::try_from(uri)
        .map_err(|e| AdapterError::invalid_event(format!("invalid request path or query: {e}")))
}

/// Removes the whitespace between JSON tokens, so the JSON fits on one header line. Strings are
/// kept as they are (they cannot hold raw line breaks) and skipped in one search each.
pub(crate) fn compact_json(json: &str) -> String {
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    // `json[copied..]` is not in `out` yet; every cut is at an ASCII byte, a char boundary.
    let mut copied = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if byte == b'"' {
            at = closing_quote(bytes, at + 1);
        } else if byte.is_ascii_whitespace() {
            out.push_str(&json[copied..at]);
            copied = at + 1;
        }
        at += 1;
    }
    out.push_str(&json[copied..]);
    out
}

/// Where the JSON string whose contents start at `from` ends (its closing quote), stepping over
/// escaped characters; the end of `bytes` for an unterminated string.
fn closing_quote(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    loop {
        let rest = bytes.get(at..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'"' || b == b'\\') {
            Some(found) if rest[found] == b'\\' => at += found + 2,
            Some(found) => return at + found,
            None => return bytes.len(),
        }
    }
}

/// A JSON object read as an ordered list of pairs; `null` (or absent) is empty and `null`
/// values are skipped. Keeps the order of query parameters as the event lists them.
struct Pairs<'a, V>(Vec<(Text<'a>, V)>);

impl<V> Default for Pairs<'_, V> {
    fn default() -> Self {
        Pairs(Vec::new())
    }
}

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Pairs<'a, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<'a, V>(std::marker::PhantomData<(Text<'a>, V)>);

        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<'a, V> {
            type Value = Pairs<'a, V>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object or null")
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Pairs::default())
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Pairs::default())
            }

            fn visit_some<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<Self::Value, D::Error> {
                deserializer.deserialize_map(self)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((key, value)) = map.next_entry::<Text<'a>, Option<V>>()? {
                    if let Some(value) = value {
                        pairs.push((key, value));
                    }
                }
                Ok(Pairs(pairs))
            }
        }

        deserializer.deserialize_option(PairsVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body_of(request: &Request) -> Bytes {
        let body = request.extensions().get::<EventBody>();
        body.map(|body| body.0.clone()).unwrap_or_default()
    }

    fn parse_json(event: serde_json::Value) -> (EventSource, Request) {
        parse(event.to_string()).expect("event parses")
    }

    fn rest(extra: serde_json::Value) -> serde_json::Value {
        let mut event = json!({
            "resource": "/{proxy+}", "httpMethod": "GET", "path": "/hello",
            "requestContext": {"stage": "prod", "requestId": "r1", "httpMethod": "GET"},
            "headers": null, "multiValueHeaders": null, "body": null, "isBase64Encoded": false
        });
        merge(&mut event, extra);
        event
    }

    fn merge(event: &mut serde_json::Value, extra: serde_json::Value) {
        if let (Some(event), serde_json::Value::Object(extra)) = (event.as_object_mut(), extra) {
            event.extend(extra);
        }
    }

    /// The source `classify` finds, and the one `parse` finds in its single pass: the same.
    fn source_of(event: &serde_json::Value) -> EventSource {
        let text = event.to_string();
        let classified = classify(&text);
        let parsed = parse(text.clone()).map(|(source, _)| source);
        assert_eq!(parsed.ok(), Some(classified), "{event}");
        classified
    }

    #[test]
    fn classifies_every_source() {
        // covers EVT-7 (the order of PROTOCOL.md), EVT-9, STR-5
        assert_eq!(source_of(&rest(json!({}))), EventSource::RestApi);
        let api = |domain: &str| json!({"domainName": domain, "http": {"method": "GET"}});
        let v2 = json!({"version": "2.0", "rawPath": "/", "requestContext": api("r3pmxmplak.execute-api.us-east-1.amazonaws.com")});
        assert_eq!(source_of(&v2), EventSource::HttpApi);
        let v2_without_raw_path =
            json!({"version": "2.0", "requestContext": api("api.example.com")});
        assert_eq!(source_of(&v2_without_raw_path), EventSource::HttpApi);
        let raw_path_without_version =
            json!({"rawPath": "/", "requestContext": api("api.example.com")});
        assert_eq!(source_of(&raw_path_without_version), EventSource::HttpApi);
        let url = json!({"version": "2.0", "rawPath": "/", "requestContext": api("a1b2c3d4e5.lambda-url.us-east-1.on.aws")});
        assert_eq!(source_of(&url), EventSource::FunctionUrl);
        let unnamed = json!({"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}});
        assert_eq!(source_of(&unnamed), EventSource::FunctionUrl);
        let odd_name = json!({"version": "2.0", "rawPath": "/", "requestContext": {"domainName": 5, "http": {"method": "GET"}}});
        assert_eq!(source_of(&odd_name), EventSource::FunctionUrl);
        let lattice_v2 = json!({"version": "2.0", "path": "/", "method": "GET",
            "requestContext": {"serviceArn": "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-1"}});
        assert_eq!(source_of(&lattice_v2), EventSource::Lattice);
        for arn in ["serviceNetworkArn", "targetGroupArn"] {
            let lattice_v2 = json!({"version": "2.0", "path": "/", "method": "GET", "requestContext": {arn: "arn"}});
            assert_eq!(source_of(&lattice_v2), EventSource::Lattice, "{arn}");
        }
        let lattice_v1 = json!({"raw_path": "/", "method": "GET", "headers": {}});
        assert_eq!(source_of(&lattice_v1), EventSource::Lattice);
        let lattice_v1 = json!({"raw_path": "/", "method": "GET", "requestContext": null});
        assert_eq!(source_of(&lattice_v1), EventSource::Lattice);
        let alb = json!({"httpMethod": "GET", "path": "/", "requestContext": {"elb": {"targetGroupArn": "x"}}, "headers": {}});
        assert_eq!(source_of(&alb), EventSource::Alb { multi_value: false });
        let alb = json!({"httpMethod": "GET", "path": "/", "requestContext": {"elb": {}}, "multiValueHeaders": {}});
        assert_eq!(source_of(&alb), EventSource::Alb { multi_value: true });
        let alb = json!({"httpMethod": "GET", "path": "/", "requestContext": {"elb": {}}, "multiValueHeaders": null});
        assert_eq!(source_of(&alb), EventSource::Alb { multi_value: false });
        for other in [
            json!({"Records": [{"eventSource": "aws:sqs", "body": "hi"}]}),
            json!({"httpMethod": "GET", "apiPath": "/x", "agent": {}}),
            json!({"version": "2.0", "requestContext": {"accountId": "1"}}),
            json!({"headers": 5, "body": {"custom": true}}),
            json!({"version": 2, "requestContext": {"http": {}}, "rawPath": "/"}),
            json!([1, 2]),
            json!("text"),
            json!(null),
            json!({"requestContext": "not an object"}),
            json!({"requestContext": null, "httpMethod": "GET"}),
            json!({"raw_path": "/", "method": "GET", "requestContext": "not an object"}),
            json!({"raw_path": "/"}),
            json!({"method": "GET", "path": "/"}),
            json!({"version": "2.0", "method": "GET", "path": "/", "requestContext": {"accountId": "1"}}),
        ] {
            assert_eq!(source_of(&other), EventSource::PassThrough, "{other}");
        }
    }

    #[test]
    fn only_an_http_api_domain_name_marks_an_http_api() {
        // covers STR-5
        let raw = |json: &str| RawValue::from_string(json.to_string()).unwrap();
        for http_api in [
            r#""r3pmxmplak.execute-api.us-east-1.amazonaws.com""#,
            r#""api.example.com""#,
            r#""example""#,
        ] {
            assert!(http_api_domain(Some(&raw(http_api))), "{http_api}");
        }
        for not_http_api in [
            r#""a1b2c3d4e5.lambda-url.us-east-1.on.aws""#,
            r#""localhost""#,
            r#""LocalHost""#,
            r#""127.0.0.1""#,
            r#""::1""#,
            r#""[::1]""#,
            r#""""#,
            "null",
            "5",
            r#"{"a": 1}"#,
        ] {
            assert!(!http_api_domain(Some(&raw(not_http_api))), "{not_http_api}");
        }
        assert!(!http_api_domain(None));
    }

    /// The kit's Lattice v2 event, with a query, a repeated header and a binary body.
    fn lattice_v2() -> serde_json::Value {
        let mut event = lambda_emulator::testing::events::lattice_v2(
            "POST",
            "/items/caf%C3%A9?query1=value1&query2=a%20b&query1=value3",
        );
        event["headers"]["accept"] = json!(["text/html", "application/json"]);
        event["body"] = json!("AAEC/w==");
        event["isBase64Encoded"] = json!(true);
        event
    }

    #[test]
    fn evt9_lattice_v2_keeps_every_value_and_its_context() {
        // covers EVT-9, EVT-1, EVT-2, EVT-3, EVT-4
        let (source, req) = parse_json(lattice_v2());
        assert_eq!(source, EventSource::Lattice);
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().path(), "/items/caf%C3%A9");
        assert_eq!(
            req.uri().query(),
            Some("query1=value1&query2=a%20b&query1=value3"),
            "the query as the client sent it, from `path`"
        );
        let accept: Vec<_> = req.headers().get_all("accept").iter().collect();
        assert_eq!(accept, ["text/html", "application/json"]);
        assert_eq!(req.headers()["x-forwarded-for"], "10.0.1.7");
        assert_eq!(body_of(&req), &[0u8, 1, 2, 255][..]);
        let context = &req.extensions().get::<RawRequestContext>().unwrap().0;
        let context: serde_json::Value = serde_json::from_str(context).unwrap();
        assert_eq!(context, lattice_v2()["requestContext"]);
    }

    #[test]
    fn evt9_lattice_v1_keeps_every_value_and_has_no_context() {
        // covers EVT-9, EVT-1, EVT-2, EVT-3, EVT-4
        // The Lattice v1 sample event of the VPC Lattice User Guide, with values filled in.
        let event = json!({
            "raw_path": "/path/to/resource?query1=value1&query1=value2&e",
            "method": "PUT",
            "headers": {"host": "svc.vpc-lattice-svcs.us-east-1.on.aws", "accept": "text/html, application/json"},
            "query_string_parameters": {"query1": "value2", "e": ""},
            "body": "{\"a\": 1}",
            "is_base64_encoded": false
        });
        let (source, req) = parse_json(event);
        assert_eq!(source, EventSource::Lattice);
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(req.uri().path(), "/path/to/resource");
        assert_eq!(req.uri().query(), Some("query1=value1&query1=value2&e"));
        assert_eq!(req.headers()["accept"], "text/html, application/json");
        assert_eq!(body_of(&req), "{\"a\": 1}");
        assert!(req.extensions().get::<RawRequestContext>().is_none());
        let (_, req) = parse_json(json!({"raw_path": "/b", "method": "POST",
            "body": "AAEC", "is_base64_encoded": true}));
        assert_eq!(body_of(&req), &[0u8, 1, 2][..]);
    }

    #[test]
    fn evt9_lattice_query_without_one_in_the_path_comes_from_the_parameters() {
        // covers EVT-9, EVT-1
        let mut event = lattice_v2();
        event["path"] = json!("/items");
        let (_, req) = parse_json(event);
        assert_eq!(req.uri().path(), "/items");
        assert_eq!(
            req.uri().query(),
            Some("query1=value1&query1=value3&query2=a%20b")
        );
        let (_, req) = parse_json(json!({"raw_path": "/v1", "method": "GET",
            "query_string_parameters": {"q": "x"}}));
        assert_eq!(req.uri().to_string(), "/v1?q=x");
        let (_, req) = parse_json(json!({"raw_path": "/v1", "method": "GET"}));
        assert_eq!(req.uri().to_string(), "/v1");
    }

    #[test]
    fn evt9_malformed_lattice_events_are_invalid_event_errors() {
        // covers EVT-9, EVT-8
        let with = |field: &str, value: serde_json::Value| {
            let mut event = lattice_v2();
            event[field] = value;
            event
        };
        for bad in [
            with("method", json!("GE T")),
            with("method", json!(null)),
            with("method", json!(5)),
            with("headers", json!({"accept": [1, 2]})),
            with("headers", json!({"x-bad": ["a\nb"]})),
            with("headers", json!(["not", "a map"])),
            with("queryStringParameters", json!({"q": {"not": "a list"}})),
            with("body", json!("not base64!")),
            with("path", json!(5)),
            json!({"raw_path": "/", "method": "GET", "headers": {"a": {"b": 1}}}),
            json!({"raw_path": "/", "method": "GET", "body": "!", "is_base64_encoded": true}),
            json!({"raw_path": 5, "method": "GET"}),
        ] {
            let err = parse(bad.to_string()).expect_err(&bad.to_string());
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidEvent, "{bad}");
        }
    }

    #[test]
    fn rest_query_is_encoded_with_repeated_keys() {
        // covers EVT-1
        let (_, req) = parse_json(rest(json!({
            "queryStringParameters": {"q": "c+d", "x": "1"},
            "multiValueQueryStringParameters": {"q": ["a b", "c+d"], "x": ["1"]}
        })));
        assert_eq!(req.uri().query(), Some("q=a%20b&q=c%2Bd&x=1"));
    }

    #[test]
    fn alb_query_is_passed_as_encoded_by_the_client() {
        // covers EVT-1
        let event = json!({"httpMethod": "GET", "path": "/", "requestContext": {"elb": {}},
            "multiValueHeaders": {}, "multiValueQueryStringParameters": {"q": ["a%20b", "c+d"]}});
        let (_, req) = parse_json(event);
        assert_eq!(req.uri().query(), Some("q=a%20b&q=c+d"));
    }

    #[test]
    fn http_api_path_and_query_are_byte_for_byte() {
        // covers EVT-1, EVT-2
        let event = json!({"version": "2.0", "rawPath": "/a%2Fb/caf%C3%A9", "rawQueryString": "q=a+b&q=%20&e",
            "cookies": ["a=1", "b=2"], "headers": {"host": "example.com", "x-many": "1,2"},
            "requestContext": {"http": {"method": "PATCH"}}});
        let (_, req) = parse_json(event);
        assert_eq!(req.method(), Method::PATCH);
        assert_eq!(req.uri().path(), "/a%2Fb/caf%C3%A9");
        assert_eq!(req.uri().query(), Some("q=a+b&q=%20&e"));
        assert_eq!(req.headers()["cookie"], "a=1; b=2");
        assert_eq!(req.headers()["host"], "example.com");
        assert_eq!(req.headers()["x-many"], "1,2");
    }

    #[test]
    fn empty_query_has_no_question_mark() {
        // covers EVT-1
        let (_, req) = parse_json(rest(json!({})));
        assert_eq!(req.uri().to_string(), "/hello");
    }

    #[test]
    fn non_ascii_paths_are_encoded_once() {
        // covers EVT-1
        let (_, req) = parse_json(rest(json!({"path": "/café/a b"})));
        assert_eq!(req.uri().path(), "/caf%C3%A9/a%20b");
        assert_eq!(encode_path("/caf%C3%A9"), "/caf%C3%A9");
    }

    #[test]
    fn v1_headers_come_from_the_multi_value_map() {
        // covers EVT-2
        let (_, req) = parse_json(rest(json!({
            "headers": {"Accept": "b", "X-Single": "s"},
            "multiValueHeaders": {"Accept": ["a", "b"]}
        })));
        let accept: Vec<_> = req.headers().get_all("accept").iter().collect();
        assert_eq!(accept, ["a", "b"]);
        assert_eq!(req.headers()["x-single"], "s");
    }

    #[test]
    fn bodies_are_borrowed_until_decoded() {
        let event = rest(json!({"body": "AAEC", "isBase64Encoded": true})).to_string();
        let parsed: HttpEvent<'_> = serde_json::from_str(&event).unwrap();
        let body = json_string(parsed.body.unwrap().get()).unwrap();
        assert!(matches!(body, Cow::Borrowed("AAEC")));
    }

    #[test]
    fn json_strings_decode_as_serde_json_decodes_them() {
        // covers EVT-3
        for raw in [
            r#""plain""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""caf\u00e9 \u20ac \ud83d\ude00 end""#,
            r#""\u0000\u001f""#,
            r#""""#,
        ] {
            let expected: String = serde_json::from_str(raw).unwrap();
            assert_eq!(
                json_string(raw).as_deref(),
                Some(expected.as_str()),
                "{raw}"
            );
        }
        for bad in [
            r#""\ud83d""#,
            r#""\ude00x""#,
            r#""\ud83d\u0041""#,
            "5",
            "null",
            "[]",
        ] {
            assert_eq!(json_string(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_survives_json_and_back(text in proptest::prelude::any::<String>()) {
            // covers EVT-3
            let raw = serde_json::to_string(&text).unwrap();
            let decoded = json_string(&raw);
            proptest::prop_assert_eq!(decoded.as_deref(), Some(text.as_str()));
            // The same text with every UTF-16 unit escaped, surrogate pairs included.
            let mut escaped = String::from("\"");
            for unit in text.encode_utf16() {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
            escaped.push('"');
            let decoded = json_string(&escaped);
            proptest::prop_assert_eq!(decoded.as_deref(), Some(text.as_str()));
        }
    }

    #[test]
    fn a_body_without_escapes_shares_the_event_memory() {
        // covers EVT-3 (a large body is never held twice)
        let event = Bytes::from(rest(json!({"body": "plain text"})).to_string());
        let (_, req) = parse(event.clone()).unwrap();
        assert_eq!(body_of(&req), "plain text");
        assert!(event.as_ptr_range().contains(&body_of(&req).as_ptr()));
        let escaped = Bytes::from(rest(json!({"body": "a \"quote\""})).to_string());
        let (_, escaped_req) = parse(escaped.clone()).unwrap();
        assert_eq!(body_of(&escaped_req), "a \"quote\"");
        assert!(!escaped
            .as_ptr_range()
            .contains(&body_of(&escaped_req).as_ptr()));
    }

    #[test]
    fn bodies_text_binary_and_empty() {
        // covers EVT-3
        let (_, req) = parse_json(rest(json!({"body": "AAEC/w==", "isBase64Encoded": true})));
        assert_eq!(body_of(&req), &[0u8, 1, 2, 255][..]);
        let (_, req) = parse_json(rest(json!({"body": "héllo"})));
        assert_eq!(body_of(&req), "héllo");
        let (_, req) = parse_json(rest(json!({"body": null})));
        assert!(body_of(&req).is_empty());
    }

    #[test]
    fn malformed_events_are_invalid_event_errors() {
        // covers EVT-8
        for bad in [
            rest(json!({"body": "not base64!", "isBase64Encoded": true})),
            rest(json!({"httpMethod": "GE T"})),
            rest(json!({"headers": {"x-bad": "a\nb"}})),
            rest(json!({"headers": {"bad name": "v"}})),
            rest(json!({"headers": ["not", "a map"]})),
        ] {
            let err = parse(bad.to_string()).expect_err(&bad.to_string());
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidEvent);
        }
        for bad in ["not json", "{\"unterminated\": ", ""] {
            let err = parse(bad).expect_err(bad);
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidEvent);
        }
    }

    #[test]
    fn errors_never_quote_the_values_they_reject() {
        // covers ERR-4
        let event = rest(json!({"multiValueHeaders": {"authorization": "Bearer SECRET"}}));
        let err = parse(event.to_string()).expect_err("a string where a list belongs");
        assert!(!err.message().contains("SECRET"), "{}", err.message());
        assert!(err.message().contains("line 1"), "{}", err.message());
    }

    #[test]
    fn request_context_is_compacted() {
        // covers EVT-4
        let event = "{\"httpMethod\":\"GET\",\"path\":\"/\",\n \"requestContext\": {\n  \"stage\": \"prod\",\n  \"note\": \"a b\\\" c\"\n }}";
        let (_, req) = parse(event).unwrap();
        let ctx = req.extensions().get::<RawRequestContext>().unwrap();
        assert_eq!(ctx.0, r#"{"stage":"prod","note":"a b\" c"}"#);
    }

    #[test]
    fn compacting_keeps_strings_whole() {
        // covers EVT-4
        let cases = [
            ("{ }", "{}"),
            ("{\t\"a\" :\r\n[ 1 , \"x y\" ]}", r#"{"a":[1,"x y"]}"#),
            (
                r#"{"k": "ends in a backslash \\", "n": 2}"#,
                r#"{"k":"ends in a backslash \\","n":2}"#,
            ),
            (
                r#"{"k": "\" quoted \"", "e": "é 中 "}"#,
                r#"{"k":"\" quoted \"","e":"é 中 "}"#,
            ),
            ("{\"open\": \"no end \\", "{\"open\":\"no end \\"),
        ];
        for (json, compact) in cases {
            assert_eq!(compact_json(json), compact, "{json}");
        }
    }

    #[test]
    fn known_header_names_are_the_names_http_parses() {
        // covers EVT-2
        for known in &KNOWN_NAMES {
            let title_case: String = known
                .as_str()
                .split('-')
                .map(|word| word[..1].to_uppercase() + &word[1..])
                .collect::<Vec<_>>()
                .join("-");
            for spelling in [known.as_str(), &title_case] {
                assert_eq!(&header_name(spelling).unwrap(), known);
                assert_eq!(
                    header_name(spelling).unwrap(),
                    HeaderName::from_bytes(spelling.as_bytes()).unwrap()
                );
            }
        }
        assert_eq!(header_name("X-Custom").unwrap(), "x-custom");
        assert!(header_name("bad name").is_err());
    }

    #[test]
    fn pass_through_keeps_the_event_verbatim() {
        // covers EVT-7
        let event = r#"{"Records": [ {"body": "x"} ]}"#;
        let (source, req) = parse(event).unwrap();
        assert_eq!(source, EventSource::PassThrough);
        assert_eq!(req.method(), Method::POST);
        assert_eq!(body_of(&req), event);
        assert!(
            matches!(req.body(), Body::Empty),
            "the body travels beside the request"
        );
        assert_eq!(req.headers()["content-type"], "application/json");
    }
}
