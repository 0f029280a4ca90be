//! `lambda_http::Request` → the HTTP request sent to the app (SPEC EVT-2, EVT-4 … EVT-7).
//!
//! The request keeps its method, path, query, headers and body; this module adds what the adapter
//! owes the app (Lambda and request context headers), applies the user's rules (base path,
//! authorization source, pass-through path) and points it at the app's address.

use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, TE,
    TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, Method, Uri};
use http_body_util::Full;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Context, Request};

use crate::error::AdapterError;
use crate::event::{encode_path, EventBody, EventSource, RawRequestContext};

const REQUEST_CONTEXT: HeaderName = HeaderName::from_static("x-amzn-request-context");
const LAMBDA_CONTEXT: HeaderName = HeaderName::from_static("x-amzn-lambda-context");
const TENANT_ID: HeaderName = HeaderName::from_static("x-amz-tenant-id");
const TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// Headers a client must not get through to the app: hop-by-hop ones, a stale length, and the
/// context headers only the adapter sets (EVT-4).
static NOT_FORWARDED: [HeaderName; 11] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
    CONTENT_LENGTH,
    REQUEST_CONTEXT,
    LAMBDA_CONTEXT,
    TENANT_ID,
];

/// Removes the [`NOT_FORWARDED`] headers: one look at each header the request has, rather than
/// one lookup per name (there is usually none to remove).
fn remove_not_forwarded(headers: &mut HeaderMap) {
    let found: Vec<HeaderName> = headers
        .keys()
        .filter(|name| NOT_FORWARDED.contains(name))
        .cloned()
        .collect();
    for name in found {
        headers.remove(name);
    }
}

/// How requests are rewritten on their way to the app.
#[derive(Clone, Debug)]
pub(crate) struct ForwardRules {
    pub(crate) app: Authority,
    pub(crate) base_path: Option<BasePath>,
    pub(crate) pass_through_path: PathAndQuery,
    pub(crate) authorization_source: Option<HeaderName>,
}

/// A path prefix removed from request paths (EVT-5): stored with a leading `/`, without a
/// trailing one, encoded the way request paths are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BasePath(String);

impl BasePath {
    /// `None` for an empty base path or `/`, which remove nothing.
    pub(crate) fn new(path: &str) -> Option<BasePath> {
        let trimmed = path.trim().trim_end_matches('/');
        if trimmed.is_empty() {
            return None;
        }
        let with_slash = if trimmed.starts_with('/') {
            trimmed.to_string()
        } else {
            format!("/{trimmed}")
        };
        Some(BasePath(encode_path(&with_slash).into_owned()))
    }

    /// Removes the base path once, only where it is the whole first segment(s).
    pub(crate) fn strip<'p>(&self, path: &'p str) -> &'p str {
        match path.strip_prefix(self.0.as_str()) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => path,
        }
    }
}

impl ForwardRules {
    /// Builds the request to the app.
    pub(crate) fn to_app_request(
        &self,
        request: Request,
    ) -> Result<http::Request<Full<Bytes>>, AdapterError> {
        let (mut parts, body) = request.into_parts();
        let pass_through = is_pass_through(&parts.extensions);

        let path_and_query = if pass_through {
            parts.method = Method::POST;
            if !parts.headers.contains_key(CONTENT_TYPE) {
                parts
                    .headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            self.pass_through_path.clone()
        } else {
            self.app_path_and_query(&parts.uri)?
        };
        // Origin form (`/path?query`): the app's address goes in `Host` when the event has none.
        let uri = Uri::from(path_and_query);

        let mut headers = std::mem::take(&mut parts.headers);
        remove_not_forwarded(&mut headers);
        self.move_authorization(&mut headers);
        set_context_headers(&mut headers, &mut parts.extensions);
        if headers.get(HOST).is_none() {
            if let Ok(host) = HeaderValue::from_str(self.app.as_str()) {
                headers.insert(HOST, host);
            }
        }

        let body = match parts.extensions.remove::<EventBody>() {
            Some(shared) => shared.0,
            None => body_bytes(body),
        };
        let mut app_request = http::Request::new(Full::new(body));
        *app_request.method_mut() = parts.method;
        *app_request.uri_mut() = uri;
        *app_request.headers_mut() = headers;
        Ok(app_request)
    }

    fn app_path_and_query(&self, uri: &Uri) -> Result<PathAndQuery, AdapterError> {
        let path = match &self.base_path {
            Some(base) => base.strip(uri.path()),
            None => uri.path(),
        };
        let path = if path.is_empty() { "/" } else { path };
        let path_and_query = match uri.query() {
            Some(query) if !query.is_empty() => format!("{path}?{query}"),
            _ => path.to_string(),
        };
        PathAndQuery::try_from(path_and_query)
            .map_err(|e| AdapterError::invalid_event(format!("invalid request path: {e}")))
    }

    /// EVT-6: the configured header's value becomes `authorization`.
    fn move_authorization(&self, headers: &mut HeaderMap) {
        let Some(source) = &self.authorization_source else {
            return;
        };
        match headers.remove(source) {
            Some(value) => {
                headers.insert(AUTHORIZATION, value);
            }
            None => tracing::debug!("header {source} (AWS_LWA_AUTHORIZATION_SOURCE) is absent: authorization left as it is"),
        }
    }
}

fn is_pass_through(extensions: &http::Extensions) -> bool {
    match extensions.get::<EventSource>() {
        Some(source) => *source == EventSource::PassThrough,
        None => matches!(
            extensions.get::<RequestContext>(),
            Some(RequestContext::PassThrough)
        ),
    }
}

/// EVT-4: the request and Lambda contexts, and the tenant id, always from the adapter, never
/// from the client.
fn set_context_headers(headers: &mut HeaderMap, extensions: &mut http::Extensions) {
    let request_context = match (
        extensions.remove::<RawRequestContext>(),
        extensions.get::<RequestContext>(),
    ) {
        (Some(raw), _) => Some(raw.0),
        (None, Some(RequestContext::PassThrough)) | (None, None) => None,
        (None, Some(context)) => serde_json::to_string(context).ok(),
    };
    if let Some(json) = request_context {
        insert_checked(headers, REQUEST_CONTEXT, Bytes::from(json));
    }
    if let Some(context) = extensions.get::<Context>() {
        insert_checked(
            headers,
            LAMBDA_CONTEXT,
            Bytes::from(lambda_context_json(context)),
        );
        if let Some(tenant) = context.tenant_id.as_deref().filter(|t| !t.is_empty()) {
            insert_checked(
                headers,
                TENANT_ID,
                Bytes::copy_from_slice(tenant.as_bytes()),
            );
        }
        // The invocation's X-Ray trace, so an instrumented app joins the function's trace.
        if let Some(trace) = context.xray_trace_id.as_deref().filter(|t| !t.is_empty()) {
            insert_checked(headers, TRACE_ID, Bytes::copy_from_slice(trace.as_bytes()));
        }
    }
}

/// `context` as JSON, the document `serde_json` writes for it (a unit test holds the two
/// together), without serde's machinery for each field: the keys are written as they are, and so
/// are strings with nothing to escape.
fn lambda_context_json(context: &Context) -> Vec<u8> {
    // Room for a context without client context or identity, so the JSON is not moved.
    let mut json = Vec::with_capacity(768);
    let config = &context.env_config;
    write_text(&mut json, b"{\"request_id\":", Some(&context.request_id));
    write_value(&mut json, b",\"deadline\":", &context.deadline);
    let arn = Some(&*context.invoked_function_arn);
    write_text(&mut json, b",\"invoked_function_arn\":", arn);
    let trace = context.xray_trace_id.as_deref();
    write_text(&mut json, b",\"xray_trace_id\":", trace);
    write_value(&mut json, b",\"client_context\":", &context.client_context);
    write_value(&mut json, b",\"identity\":", &context.identity);
    write_text(&mut json, b",\"tenant_id\":", context.tenant_id.as_deref());
    let name = Some(&*config.function_name);
    write_text(&mut json, b",\"env_config\":{\"function_name\":", name);
    write_value(&mut json, b",\"memory\":", &config.memory);
    write_text(&mut json, b",\"version\":", Some(&config.version));
    write_text(&mut json, b",\"log_stream\":", Some(&config.log_stream));
    write_text(&mut json, b",\"log_group\":", Some(&config.log_group));
    json.extend_from_slice(b"}}");
    json
}

/// `prefix` (punctuation and a key), then `text` as a JSON string or `null`: copied between
/// quotes when JSON needs no escape in it (no quote, backslash or control character), else
/// written by `serde_json`.
fn write_text(json: &mut Vec<u8>, prefix: &[u8], text: Option<&str>) {
    match text {
        Some(text) if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') => {
            json.reserve(prefix.len() + text.len() + 2);
            json.extend_from_slice(prefix);
            json.push(b'"');
            json.extend_from_slice(text.as_bytes());
            json.push(b'"');
        }
        _ => write_value(json, prefix, &text),
    }
}

/// `prefix` (punctuation and a key), then `value` as `serde_json` writes it.
fn write_value<T: serde::Serialize + ?Sized>(json: &mut Vec<u8>, prefix: &[u8], value: &T) {
    json.extend_from_slice(prefix);
    // Writing to a `Vec` cannot fail, nor can these values (their maps have string keys).
    let _ = serde_json::to_writer(json, value);
}

/// Adds a header the adapter writes itself, unless its value has bytes a header cannot carry.
fn insert_checked(headers: &mut HeaderMap, name: HeaderName, value: Bytes) {
    if !is_header_value(&value) {
        tracing::warn!("{name} not sent to the app: its value has bytes not allowed in a header");
        return;
    }
    // SAFETY: `is_header_value` has checked every byte against the rule `HeaderValue` enforces
    // (a unit test holds the two together). `from_maybe_shared` would check them again one byte
    // at a time, about a kilobyte per invocation for the two context headers: measured with
    // callgrind on `bench_support::event_to_app_request` (release profile, the Function URL event
    // of `benches/translation.rs`), 72,900 instructions per event with the checked constructor
    // against 63,100 with this one: 9,800 more, about 7% of the adapter's whole per-invocation work.
    let value = unsafe { HeaderValue::from_maybe_shared_unchecked(value) };
    headers.insert(name, value);
}

/// Whether `HeaderValue` accepts these bytes: visible ASCII, space, tab and bytes from 0x80 up,
/// never another control character or DEL. Eight bytes at a time; a word with a control byte in
/// it is looked at byte by byte (a tab is allowed).
fn is_header_value(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let allowed = |b: &u8| *b == b'\t' || (*b >= 0x20 && *b != 0x7f);
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        // Non-zero when some byte is below 0x20 ("has less than") or is 0x7f ("has zero" of the
        // word XOR 0x7f…); bytes from 0x80 up never count.
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let del = word ^ (ONES * 0x7f);
        let is_del = del.wrapping_sub(ONES) & !del & HIGH;
        if below_space | is_del != 0 && !chunk.iter().all(allowed) {
            return false;
        }
    }
    words.remainder().iter().all(allowed)
}

fn body_bytes(body: Body) -> Bytes {
    match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        // `Body` is non-exhaustive in spirit; any future variant still has its bytes.
        #[allow(unreachable_patterns)]
        other => Bytes::copy_from_slice(other.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn lambda_context_json_is_what_serde_writes(
            // What JSON escapes (quote, backslash, control characters) among other characters.
            texts in proptest::collection::vec(
                proptest::prop_oneof![
                    "[a-z\"\\\\\\x00-\\x1f\\x7f \u{e9}\u{1F600}]{0,16}",
                    proptest::prelude::any::<String>(),
                ],
                9,
            ),
            deadline in proptest::prelude::any::<u64>(),
            memory in proptest::prelude::any::<i32>(),
            optional in proptest::prelude::any::<[bool; 4]>(),
        ) {
            // covers EVT-4
            use lambda_runtime::Config;
            let mut context = Context::default();
            context.request_id = texts[0].clone();
            context.deadline = deadline;
            context.invoked_function_arn = texts[1].clone();
            context.xray_trace_id = optional[0].then(|| texts[2].clone());
            context.tenant_id = optional[1].then(|| texts[3].clone());
            // Their types are not exported: made the way the runtime makes them, from JSON.
            context.client_context = optional[2].then(|| {
                serde_json::from_value(serde_json::json!({
                    "client": {
                        "installationId": "i",
                        "appTitle": texts[4],
                        "appVersionName": "1.0",
                        "appVersionCode": "1",
                        "appPackageName": "p",
                    },
                    "custom": {"k": texts[5]},
                }))
                .unwrap()
            });
            context.identity = optional[3].then(|| {
                serde_json::from_value(serde_json::json!({
                    "identityId": texts[6],
                    "identityPoolId": texts[7],
                }))
                .unwrap()
            });
            context.env_config = std::sync::Arc::new(Config {
                function_name: texts[8].clone(),
                memory,
                version: "$LATEST".into(),
                log_stream: "2024/03/12/[$LATEST]0123".into(),
                log_group: "/aws/lambda/f".into(),
            });
            let ours = lambda_context_json(&context);
            let serde = serde_json::to_vec(&context).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(serde).unwrap());
        }
    }

    #[test]
    fn hop_by_hop_and_forged_headers_stay_behind() {
        // covers EVT-4
        let rules = ForwardRules {
            app: Authority::from_static("127.0.0.1:8080"),
            base_path: None,
            pass_through_path: PathAndQuery::from_static("/events"),
            authorization_source: None,
        };
        let mut request = Request::new(Body::Text("hi".into()));
        *request.uri_mut() = Uri::from_static("/x");
        let headers = request.headers_mut();
        for name in &NOT_FORWARDED {
            headers.append(name, HeaderValue::from_static("from the client"));
        }
        headers.append("x-kept", HeaderValue::from_static("1"));
        headers.append("x-kept", HeaderValue::from_static("2"));
        let forwarded = rules.to_app_request(request).unwrap();
        let names: Vec<_> = forwarded.headers().keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-kept", "host"]);
        assert_eq!(forwarded.headers().get_all("x-kept").iter().count(), 2);
    }

    #[test]
    fn header_value_check_agrees_with_http() {
        // covers EVT-4: a value `HeaderValue` refuses is never built unchecked.
        let mut samples: Vec<Vec<u8>> = (0..=255u8)
            .flat_map(|b| {
                // The byte alone, and at every place of a two-word value.
                let mut with_it = vec![vec![b]];
                for at in 0..17 {
                    let mut value = b"{\"x-amzn\":\"a b\"}.0123".to_vec();
                    value.insert(at, b);
                    with_it.push(value);
                }
                with_it
            })
            .collect();
        samples.push(Vec::new());
        samples.push("€ é 中文 \t tab".as_bytes().to_vec());
        for value in samples {
            assert_eq!(
                is_header_value(&value),
                HeaderValue::from_bytes(&value).is_ok(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn base_path_strips_whole_segments_once() {
        // covers EVT-5
        let base = BasePath::new("/prod").unwrap();
        assert_eq!(base.strip("/prod"), "/");
        assert_eq!(base.strip("/prod/x"), "/x");
        assert_eq!(base.strip("/production"), "/production");
        assert_eq!(base.strip("/prod/prod/x"), "/prod/x");
        assert_eq!(base.strip("/other/prod"), "/other/prod");
        assert_eq!(BasePath::new("prod/"), Some(BasePath("/prod".into())));
        assert_eq!(BasePath::new("/"), None);
    }
}
