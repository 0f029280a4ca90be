//! A client of the Lambda Runtime API: `next`, buffered and streamed `response`, and `error`
//! (PROTOCOL.md "Runtime API"; SPEC STR-1 … STR-3, LIF-6).
//!
//! The adapter talks to the Runtime API itself rather than through lambda_runtime so that it can
//! switch Nagle's algorithm off (a streamed chunk leaves at once, not 40 ms later), end a broken
//! stream with real HTTP trailers, and report the Runtime API's own failures with what came back.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;

use crate::client::SendError;
use crate::error::AdapterError;
use crate::readiness::describe;

const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const ERROR_TYPE: HeaderName = HeaderName::from_static("lambda-runtime-function-error-type");
const ERROR_BODY: HeaderName = HeaderName::from_static("lambda-runtime-function-error-body");
const STREAMING_CONTENT_TYPE: &str = "application/vnd.awslambda.http-integration-response";
/// Separates a streamed response's JSON prelude from its body.
const PRELUDE_END: [u8; 8] = [0; 8];

/// The body of a request to the Runtime API.
type ApiBody = UnsyncBoxBody<Bytes, crate::Error>;

/// One invocation handed out by `next`.
pub(crate) struct Invocation {
    pub(crate) request_id: String,
    pub(crate) headers: HeaderMap,
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
    idle: Mutex<Option<SendRequest<ApiBody>>>,
}

impl RuntimeApi {
    /// A client of the Runtime API at `address` (`host:port`).
    pub(crate) fn new(address: &str) -> Result<Self, crate::Error> {
        let host = HeaderValue::from_str(address)
            .map_err(|_| format!("the Runtime API address {address:?} is not usable"))?;
        Ok(RuntimeApi {
            address: address.into(),
            host,
            idle: Mutex::new(None),
        })
    }

    /// Another client of the same Runtime API, with a connection of its own.
    pub(crate) fn for_worker(&self) -> Self {
        RuntimeApi {
            address: self.address.clone(),
            host: self.host.clone(),
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
        crate::client::connect(&self.address)
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
        Ok(Invocation {
            request_id,
            headers,
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
    pub(crate) async fn respond(&self, request_id: &str, payload: Bytes) -> Result<(), ApiError> {
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
        let mut request = self.request(Method::POST, &path, full(payload))?;
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
        B::Error: Into<crate::Error>,
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
        let mut request = self.request(Method::POST, &path, full(error_json(error)))?;
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
    B::Error: Into<crate::Error>,
{
    type Data = Bytes;
    type Error = crate::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::Error>>> {
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
                    let err: crate::Error = err.into();
                    let error = AdapterError::new(
                        crate::ErrorKind::AppResponse,
                        format!(
                            "the app's response body failed mid-stream: {}",
                            describe(err.as_ref())
                        ),
                    );
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
