//! A client of the Lambda Runtime API: `next` (a parsed invocation with its Lambda context),
//! buffered and streamed `response`, and `error`, each tried again while the failure may pass
//! (PROTOCOL.md "Runtime API"; SPEC STR-1 … STR-3, LIF-6, EVT-4).
//!
//! The adapter talks to the Runtime API itself rather than through lambda_runtime so that it can
//! switch Nagle's algorithm off (a streamed chunk leaves at once, not 40 ms later), end a broken
//! stream with real HTTP trailers, and report the Runtime API's own failures with what came back.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use lambda_http::Context;
use lambda_runtime::Config as FunctionConfig;

use crate::client::{Peer, SendError};
use crate::error::{describe, AdapterError, Error, ErrorKind};
use crate::payload::Payload;

const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const ERROR_TYPE: HeaderName = HeaderName::from_static("lambda-runtime-function-error-type");
const ERROR_BODY: HeaderName = HeaderName::from_static("lambda-runtime-function-error-body");
const STREAMING_CONTENT_TYPE: &str = "application/vnd.awslambda.http-integration-response";
/// Separates a streamed response's JSON prelude from its body.
const PRELUDE_END: [u8; 8] = [0; 8];

/// How often a failing Runtime API call is tried before the adapter gives up (LIF-6).
const API_ATTEMPTS: u32 = 5;
/// The wait after the first failed attempt; it doubles with each further one.
const API_RETRY_DELAY: Duration = Duration::from_millis(50);

/// The body of a request to the Runtime API.
type ApiBody = UnsyncBoxBody<Bytes, Error>;

/// One invocation handed out by `next`.
pub(crate) struct Invocation {
    pub(crate) request_id: String,
    /// The Lambda context from the `next` headers; an error fails only this invocation.
    pub(crate) context: Result<Context, AdapterError>,
    pub(crate) event: Bytes,
}

/// What went wrong talking to the Runtime API.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// No HTTP answer (refused, reset, …).
    Transport(String),
    /// An answer that is not a success.
    Status { status: StatusCode, body: String },
    /// A `next` answer without `Lambda-Runtime-Aws-Request-Id`.
    MissingRequestId,
    /// A call that kept failing (LIF-6).
    GaveUp {
        call: &'static str,
        attempts: u32,
        last: Box<ApiError>,
    },
}

impl ApiError {
    /// A failure that may go away when tried again: no answer, a server error, no request id.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            ApiError::Transport(_) | ApiError::MissingRequestId => true,
            ApiError::Status { status, .. } => status.is_server_error(),
            ApiError::GaveUp { .. } => false,
        }
    }

    /// A payload the Runtime API refused for its size.
    pub(crate) fn is_too_large(&self) -> bool {
        matches!(self, ApiError::Status { status, .. } if *status == StatusCode::PAYLOAD_TOO_LARGE)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Transport(cause) => write!(f, "no answer: {cause}"),
            ApiError::Status { status, body } => write!(f, "answered {status}: {}", body.trim()),
            ApiError::MissingRequestId => {
                f.write_str("answered without a Lambda-Runtime-Aws-Request-Id header")
            }
            ApiError::GaveUp { call, attempts, last } => write!(
                f,
                "the Runtime API's {call} failed {attempts} times, giving up: the Runtime API {last}"
            ),
        }
    }
}

/// A client of the Runtime API at one address, with one keep-alive connection of its own.
///
/// Each invocation worker has its own client (see [`RuntimeApi::for_worker`]), and its calls are
/// sequential, so the connection is simply taken for a call and put back once the answer is read:
/// no pool, no per-request task. A connection the Runtime API has closed is replaced before use.
pub(crate) struct RuntimeApi {
    address: Arc<str>,
    host: HeaderValue,
    /// The function's configuration, which every Lambda context carries.
    function: Arc<FunctionConfig>,
    /// Lambda's own Runtime API, or a proxy of the user's (CFG-14).
    peer: Peer,
    idle: Mutex<Option<SendRequest<ApiBody>>>,
}

impl RuntimeApi {
    /// A client of the Runtime API (or the proxy, when `proxy`) at `address` (`host:port`) for
    /// the function `function`.
    pub(crate) fn new(
        address: &str,
        proxy: bool,
        function: Arc<FunctionConfig>,
    ) -> Result<Self, Error> {
        let host = HeaderValue::from_str(address)
            .map_err(|_| format!("the Runtime API address {address:?} is not usable"))?;
        Ok(RuntimeApi {
            address: address.into(),
            host,
            function,
            peer: if proxy {
                Peer::RuntimeApiProxy
            } else {
                Peer::RuntimeApi
            },
            idle: Mutex::new(None),
        })
    }

    /// Another client of the same Runtime API, with a connection of its own.
    pub(crate) fn for_worker(&self) -> Self {
        RuntimeApi {
            address: self.address.clone(),
            host: self.host.clone(),
            function: self.function.clone(),
            peer: self.peer,
            idle: Mutex::new(None),
        }
    }

    /// The kept connection if it is still usable, else a new one.
    async fn connection(&self) -> Result<SendRequest<ApiBody>, ApiError> {
        let kept = self.idle.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut sender) = kept {
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        // Nagle's algorithm off: a streamed chunk leaves at once.
        crate::client::connect(&self.address, self.peer)
            .await
            .map_err(|e| match e {
                SendError::Connect(e) => {
                    ApiError::Transport(format!("cannot connect to {}: {e}", self.address))
                }
                other => ApiError::Transport(describe(&other)),
            })
    }

    async fn send(
        &self,
        mut request: Request<ApiBody>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), ApiError> {
        request.headers_mut().insert(HOST, self.host.clone());
        let mut sender = self.connection().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ApiError::Transport(describe(&e)))?;
        let (parts, body) = response.into_parts();
        let body = crate::body::read_all(body)
            .await
            .map_err(|e| ApiError::Transport(describe(&e)))?;
        *self.idle.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
        Ok((parts.status, parts.headers, body))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: ApiBody,
    ) -> Result<Request<ApiBody>, ApiError> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(body)
            .map_err(|e| ApiError::Transport(format!("cannot build the request to {path}: {e}")))
    }

    /// `GET /runtime/invocation/next`: waits for the next invocation.
    pub(crate) async fn next(&self) -> Result<Invocation, ApiError> {
        let request = self.request(Method::GET, "/2018-06-01/runtime/invocation/next", empty())?;
        let (status, headers, event) = self.send(request).await?;
        if !status.is_success() {
            return Err(ApiError::Status {
                status,
                body: String::from_utf8_lossy(&event).into_owned(),
            });
        }
        let request_id = headers
            .get(REQUEST_ID)
            .and_then(|id| id.to_str().ok())
            .filter(|id| !id.is_empty())
            .ok_or(ApiError::MissingRequestId)?
            .to_string();
        let context = lambda_context(&request_id, &headers, self.function.clone());
        Ok(Invocation {
            request_id,
            context,
            event,
        })
    }

    /// `GET /runtime/restore/next` (SnapStart): returns once the environment is restored.
    pub(crate) async fn restore_next(&self) -> Result<(), ApiError> {
        let request = self.request(Method::GET, "/2018-06-01/runtime/restore/next", empty())?;
        self.post(request).await
    }

    async fn post(&self, request: Request<ApiBody>) -> Result<(), ApiError> {
        let (status, _, body) = self.send(request).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(ApiError::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        }
    }

    /// `POST /runtime/invocation/{id}/response` with a buffered JSON payload.
    pub(crate) async fn respond(&self, request_id: &str, payload: Payload) -> Result<(), ApiError> {
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
        let body = payload.into_body().map_err(|never| match never {});
        let mut request = self.request(Method::POST, &path, UnsyncBoxBody::new(body))?;
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.post(request).await
    }

    /// `POST /runtime/invocation/{id}/response` in streaming mode: the prelude, then `body` as
    /// it is produced; an error while reading `body` ends the stream with the error trailers.
    pub(crate) async fn respond_streaming<B>(
        &self,
        request_id: &str,
        prelude: Bytes,
        body: B,
    ) -> Result<(), ApiError>
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<Error>,
    {
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
        let stream = StreamedResponse::new(request_id.to_string(), prelude, body);
        let mut request = self.request(Method::POST, &path, UnsyncBoxBody::new(stream))?;
        let headers = request.headers_mut();
        headers.insert(
            "lambda-runtime-function-response-mode",
            HeaderValue::from_static("streaming"),
        );
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(STREAMING_CONTENT_TYPE),
        );
        headers.insert(
            http::header::TRAILER,
            HeaderValue::from_static(
                "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
            ),
        );
        self.post(request).await
    }

    /// `POST /runtime/invocation/{id}/error`.
    pub(crate) async fn fail(
        &self,
        request_id: &str,
        error: &AdapterError,
    ) -> Result<(), ApiError> {
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/error");
        self.report(&path, error).await
    }

    /// `POST /runtime/init/error`: init failed (LIF-8, before the snapshot).
    pub(crate) async fn init_error(&self, error: &AdapterError) -> Result<(), ApiError> {
        self.report("/2018-06-01/runtime/init/error", error).await
    }

    /// `POST /runtime/restore/error` (SnapStart): the restored environment cannot serve (LIF-8).
    pub(crate) async fn restore_error(&self, error: &AdapterError) -> Result<(), ApiError> {
        self.report("/2018-06-01/runtime/restore/error", error)
            .await
    }

    /// Posts `error` to one of the error endpoints, its kind in the error type header.
    async fn report(&self, path: &str, error: &AdapterError) -> Result<(), ApiError> {
        let mut request = self.request(Method::POST, path, full(error_json(error)))?;
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(kind) = HeaderValue::from_str(error.kind().error_type()) {
            headers.insert(ERROR_TYPE, kind);
        }
        self.post(request).await
    }
}

fn empty() -> ApiBody {
    full(Bytes::new())
}

fn full(bytes: Bytes) -> ApiBody {
    UnsyncBoxBody::new(Full::new(bytes).map_err(|never| match never {}))
}

/// `{"errorType": …, "errorMessage": …}`, the error document Lambda expects.
pub(crate) fn error_json(error: &AdapterError) -> Bytes {
    let json = serde_json::json!({
        "errorType": error.kind().error_type(),
        "errorMessage": error.message(),
    });
    Bytes::from(json.to_string())
}

/// The body of a streamed response: prelude and separator, the app's body frame by frame, and on
/// a failure of the app's body the two error trailers instead of a clean end.
struct StreamedResponse<B> {
    request_id: String,
    prelude: Option<Bytes>,
    body: Option<B>,
}

impl<B> StreamedResponse<B> {
    fn new(request_id: String, prelude: Bytes, body: B) -> Self {
        let mut head = BytesMut::with_capacity(prelude.len() + PRELUDE_END.len());
        head.extend_from_slice(&prelude);
        head.extend_from_slice(&PRELUDE_END);
        StreamedResponse {
            request_id,
            prelude: Some(head.freeze()),
            body: Some(body),
        }
    }
}

impl<B> Body for StreamedResponse<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Error>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if let Some(prelude) = self.prelude.take() {
            return Poll::Ready(Some(Ok(Frame::data(prelude))));
        }
        loop {
            let Some(body) = self.body.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.body = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    // The app's own trailers have no place in a Lambda stream.
                    Err(_trailers) => continue,
                },
                Poll::Ready(Some(Err(err))) => {
                    self.body = None;
                    // The adapter's own reason (STR-6's deadline) as it is; any other as the app's.
                    let error = match err.into().downcast::<AdapterError>() {
                        Ok(error) => *error,
                        Err(err) => AdapterError::new(
                            ErrorKind::AppResponse,
                            format!(
                                "the app's response body failed mid-stream: {}",
                                describe(err.as_ref())
                            ),
                        ),
                    };
                    tracing::error!(request_id = %self.request_id, "{error}");
                    return Poll::Ready(Some(Ok(Frame::trailers(error_trailers(&error)))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prelude.is_none() && self.body.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn error_trailers(error: &AdapterError) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    if let Ok(kind) = HeaderValue::from_str(error.kind().error_type()) {
        trailers.insert(ERROR_TYPE, kind);
    }
    let body = base64::engine::general_purpose::STANDARD.encode(error_json(error));
    if let Ok(body) = HeaderValue::from_str(&body) {
        trailers.insert(ERROR_BODY, body);
    }
    trailers
}

/// The Lambda context of an invocation, from the `next` headers: the fields `Context::new` reads,
/// found in one pass over the headers (it looks each name up as a string, seven times), and an
/// absent deadline read as 0, "none", where `Context::new` would panic.
pub(crate) fn lambda_context(
    request_id: &str,
    headers: &HeaderMap,
    function: Arc<FunctionConfig>,
) -> Result<Context, AdapterError> {
    let [mut deadline, mut arn, mut trace, mut tenant, mut client, mut identity] = [None; 6];
    for (name, value) in headers {
        let slot = match name.as_str() {
            "lambda-runtime-deadline-ms" => &mut deadline,
            "lambda-runtime-invoked-function-arn" => &mut arn,
            "lambda-runtime-trace-id" => &mut trace,
            "lambda-runtime-aws-tenant-id" => &mut tenant,
            "lambda-runtime-client-context" => &mut client,
            "lambda-runtime-cognito-identity" => &mut identity,
            _ => continue,
        };
        // The first of repeated values, as `HeaderMap::get` gives it.
        slot.get_or_insert((name, value));
    }
    let lossy = |(_, value): Found<'_>| String::from_utf8_lossy(value.as_bytes()).into_owned();

    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = match deadline {
        Some(found) => header_text(found)?
            .parse()
            .map_err(|e| invalid_header(found.0, e))?,
        None => 0,
    };
    context.invoked_function_arn = match arn {
        Some(found) => header_text(found)?.to_owned(),
        None => "No header lambda-runtime-invoked-function-arn found.".to_owned(),
    };
    context.xray_trace_id = trace.map(lossy);
    context.tenant_id = tenant.map(lossy);
    context.client_context = header_json(client)?;
    context.identity = header_json(identity)?;
    context.env_config = function;
    Ok(context)
}

/// A header of the `next` answer, found by [`lambda_context`].
type Found<'h> = (&'h HeaderName, &'h HeaderValue);

fn header_text((name, value): Found<'_>) -> Result<&str, AdapterError> {
    value
        .to_str()
        .map_err(|_| invalid_header(name, "not visible ASCII"))
}

/// A header holding JSON; empty is none.
fn header_json<T: serde::de::DeserializeOwned>(
    found: Option<Found<'_>>,
) -> Result<Option<T>, AdapterError> {
    let Some(found) = found else {
        return Ok(None);
    };
    match header_text(found)? {
        "" => Ok(None),
        raw => serde_json::from_str(raw)
            .map(Some)
            .map_err(|e| invalid_header(found.0, e)),
    }
}

fn invalid_header(name: &HeaderName, problem: impl std::fmt::Display) -> AdapterError {
    AdapterError::invalid_event(format!(
        "invalid invocation headers from the Runtime API: {name}: {problem}"
    ))
}

/// LIF-6: a call that fails for want of an answer, a server error or a missing request id is
/// tried again a few times, then given up with one line saying why.
pub(crate) async fn retry<T, F, Fut>(call: &'static str, mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut delay = API_RETRY_DELAY;
    let mut attempts = 1;
    loop {
        let err = match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if !err.is_transient() {
            return Err(err);
        }
        if attempts >= API_ATTEMPTS {
            // Not logged here: the caller ends the loop and says why, once.
            return Err(ApiError::GaveUp {
                call,
                attempts,
                last: Box::new(err),
            });
        }
        tracing::warn!(
            "the Runtime API's {call} failed (attempt {attempts} of {API_ATTEMPTS}): {err}"
        );
        tokio::time::sleep(delay).await;
        delay *= 2;
        attempts += 1;
    }
}

impl From<ApiError> for Error {
    fn from(err: ApiError) -> Error {
        match err {
            ApiError::GaveUp { .. } => err.to_string().into(),
            other => format!("the Runtime API {other}").into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A body that yields the given frames, or errors, one at a time.
    struct Script(VecDeque<Result<Frame<Bytes>, &'static str>>);

    impl Body for Script {
        type Data = Bytes;
        type Error = Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut TaskContext<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
            Poll::Ready(self.0.pop_front().map(|frame| frame.map_err(Error::from)))
        }
    }

    fn data(text: &'static str) -> Result<Frame<Bytes>, &'static str> {
        Ok(Frame::data(Bytes::from_static(text.as_bytes())))
    }

    /// Every frame of a streamed response, as data or trailers.
    async fn frames(body: Script) -> (Vec<Bytes>, Option<HeaderMap>) {
        let prelude = Bytes::from_static(br#"{"statusCode":200}"#);
        let mut stream = StreamedResponse::new("req-1".into(), prelude, body);
        let (mut data, mut trailers) = (Vec::new(), None);
        while let Some(frame) = stream.frame().await {
            match frame.unwrap().into_data() {
                Ok(bytes) => data.push(bytes),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        assert!(stream.is_end_stream());
        (data, trailers)
    }

    #[tokio::test]
    async fn a_stream_is_the_prelude_eight_nuls_then_the_body_as_it_comes() {
        // covers STR-1 (the framing), STR-2
        let app_trailers = Ok(Frame::trailers(HeaderMap::new()));
        let body = Script(VecDeque::from([
            data("a"),
            data(""),
            app_trailers,
            data("bc"),
        ]));
        let (data, trailers) = frames(body).await;
        assert_eq!(data, ["{\"statusCode\":200}\0\0\0\0\0\0\0\0", "a", "bc"]);
        assert!(trailers.is_none(), "the app's own trailers stay behind");
        let (data, _) = frames(Script(VecDeque::new())).await;
        assert_eq!(data.len(), 1, "an empty body: the prelude, then the end");
    }

    #[tokio::test]
    async fn a_body_that_fails_ends_the_stream_with_the_error_trailers() {
        // covers STR-3
        let body = Script(VecDeque::from([
            data("a"),
            Err("reset by peer"),
            data("never"),
        ]));
        let (data, trailers) = frames(body).await;
        assert_eq!(data.len(), 2);
        let trailers = trailers.expect("the error trailers");
        assert_eq!(trailers[ERROR_TYPE], "Adapter.AppResponseError");
        let body = base64::engine::general_purpose::STANDARD
            .decode(trailers[ERROR_BODY].as_bytes())
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errorType"], "Adapter.AppResponseError");
        assert!(body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("reset by peer"));
    }

    #[test]
    fn lambda_context_reads_the_headers_as_lambda_runtime_does() {
        // covers EVT-4 (the Lambda context the app gets)
        let function = Arc::new(FunctionConfig {
            function_name: "f".into(),
            memory: 128,
            version: "$LATEST".into(),
            log_stream: "s".into(),
            log_group: "g".into(),
        });
        let headers = |pairs: &[(&str, &[u8])]| {
            let mut map = HeaderMap::new();
            map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            map.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from_static("1700000000000"),
            );
            for (name, value) in pairs {
                let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
                map.append(name, HeaderValue::from_bytes(value).unwrap());
            }
            map
        };
        let arn = (
            "lambda-runtime-invoked-function-arn",
            &b"arn:aws:lambda:eu-west-1:1:function:f"[..],
        );
        let same = [
            headers(&[]),
            headers(&[arn, ("lambda-runtime-trace-id", b"Root=1-a-b;Sampled=1")]),
            headers(&[
                arn,
                ("lambda-runtime-trace-id", b"first"),
                ("lambda-runtime-trace-id", b"second"),
                ("lambda-runtime-aws-tenant-id", b"tenant-\xe9"),
                (
                    "lambda-runtime-client-context",
                    br#"{"client":{"installationId":"i","appTitle":"t","appVersionName":"n","appVersionCode":"c","appPackageName":"p"},"custom":{"k":"v"},"environment":{}}"#,
                ),
                (
                    "lambda-runtime-cognito-identity",
                    br#"{"identity_id":"id","identity_pool_id":"pool"}"#,
                ),
            ]),
            headers(&[("lambda-runtime-client-context", b""), ("lambda-runtime-cognito-identity", b"")]),
        ];
        for headers in &same {
            let ours = lambda_context("req-1", headers, function.clone()).unwrap();
            let theirs = Context::new("req-1", function.clone(), headers).unwrap();
            assert_eq!(ours, theirs, "{headers:?}");
        }
        let mut bad_deadline = headers(&[]);
        bad_deadline.insert(
            "lambda-runtime-deadline-ms",
            HeaderValue::from_static("soon"),
        );
        let refused = [
            bad_deadline,
            headers(&[("lambda-runtime-client-context", b"{not json")]),
            headers(&[("lambda-runtime-cognito-identity", b"[]")]),
            headers(&[("lambda-runtime-invoked-function-arn", b"arn-\xff")]),
        ];
        for headers in &refused {
            assert!(
                lambda_context("req-1", headers, function.clone()).is_err(),
                "{headers:?}"
            );
            assert!(
                Context::new("req-1", function.clone(), headers).is_err(),
                "{headers:?}"
            );
        }
        let mut no_deadline = headers(&[arn]);
        no_deadline.remove("lambda-runtime-deadline-ms");
        let context = lambda_context("req-2", &no_deadline, function.clone()).unwrap();
        assert_eq!(
            (context.deadline, context.request_id.as_str()),
            (0, "req-2")
        );
    }
}
