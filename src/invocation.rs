//! One invocation (SPEC ERR-1, ERR-2, RSP-7, STR-1, STR-4, STR-6, LIF-9): its event becomes a
//! request ([`crate::event`]), the adapter service (behind compression when configured) forwards
//! it, and the app's answer is shaped for the event's source ([`crate::response`]): a buffered JSON
//! payload, or a prelude and the app's body for a stream. The request to the app, and a streamed
//! body, are bounded by the invocation's deadline. When the app cannot answer properly, or the
//! request is for a SnapStart hook, an HTTP client gets a small response of the adapter's own
//! (502, 504, 403) and other events keep the error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use lambda_http::{Context, Request};
use tokio::sync::watch;
use tower::{Service, ServiceExt};

use crate::error::{describe, AdapterError, Error, ErrorKind};
use crate::event::{self, EventSource};
use crate::payload::Payload;
use crate::response;
use crate::snapstart::HookPaths;

/// Lambda's limit for a buffered response payload.
pub(crate) const MAX_BUFFERED_RESPONSE: usize = 6 * 1024 * 1024;
/// ERR-2: the time kept back from the invocation's deadline to post a 504 before Lambda ends it.
pub(crate) const DEADLINE_MARGIN: Duration = Duration::from_millis(100);

/// The service the loop drives: the adapter, maybe behind compression.
pub(crate) trait AppService<B>:
    Service<Request, Response = http::Response<B>, Error = Error, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S, B> AppService<B> for S where
    S: Service<Request, Response = http::Response<B>, Error = Error, Future: Send + 'static>
        + Clone
        + Send
        + 'static
{
}

/// The body of the app's response as the loop reads it.
pub(crate) trait AppBody:
    http_body::Body<Data = Bytes, Error: Into<Error>> + Send + 'static
{
}

impl<B> AppBody for B where B: http_body::Body<Data = Bytes, Error: Into<Error>> + Send + 'static {}

/// What one invocation comes to.
pub(crate) enum Outcome {
    /// A JSON payload for a buffered response.
    Buffered(Payload),
    /// A streamed response: its JSON prelude, then the app's body.
    Streamed {
        prelude: Bytes,
        body: UnsyncBoxBody<Bytes, Error>,
        /// The response's extensions, kept until the body has been delivered: they return the
        /// app's connection to the pool once it is free.
        extensions: http::Extensions,
    },
    /// The invocation failed.
    Failed(AdapterError),
}

/// The app's answer, as far as it has been read.
enum Reply {
    Buffered(Bytes),
    Streamed(UnsyncBoxBody<Bytes, Error>),
}

/// Handles invocations with the service `S`.
#[derive(Clone)]
pub(crate) struct EventHandler<S> {
    service: S,
    streaming: bool,
    hooks: Arc<HookPaths>,
    /// LIF-5: set when the adapter stops and open streams must end.
    ending: watch::Receiver<bool>,
}

impl<S> EventHandler<S> {
    pub(crate) fn new(service: S, streaming: bool, hooks: HookPaths) -> Self {
        EventHandler {
            service,
            streaming,
            hooks: Arc::new(hooks),
            ending: watch::channel(false).1,
        }
    }

    /// Streams end (with the error trailers) once `ending` says so.
    pub(crate) fn ending_streams_on(self, ending: watch::Receiver<bool>) -> Self {
        EventHandler { ending, ..self }
    }

    pub(crate) async fn handle<B: AppBody>(
        self,
        request_id: &str,
        context: Result<Context, AdapterError>,
        event: Bytes,
        timer: &mut DeadlineTimer,
    ) -> Outcome
    where
        S: AppService<B>,
    {
        match self.try_handle(request_id, context, event, timer).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::error!(request_id, "{err}");
                Outcome::Failed(err)
            }
        }
    }

    async fn try_handle<B: AppBody>(
        self,
        request_id: &str,
        context: Result<Context, AdapterError>,
        event: Bytes,
        timer: &mut DeadlineTimer,
    ) -> Result<Outcome, AdapterError>
    where
        S: AppService<B>,
    {
        let context = context?;
        let deadline = app_deadline(context.deadline, SystemTime::now());
        let (source, mut request) = event::parse(event)?;
        request.extensions_mut().insert(context);
        // STR-4, STR-5: only the sources that invoke with streaming get a stream.
        let streaming = self.streaming && response::streams(source);
        if source != EventSource::PassThrough && self.hooks.guards(request.uri().path()) {
            let error = AdapterError::new(
                ErrorKind::HookForbidden,
                format!(
                    "a request for {} was refused: the path is a SnapStart hook",
                    request.uri().path()
                ),
            );
            return substitute(source, streaming, error, request_id);
        }

        let exchange = async {
            let response = self
                .service
                .oneshot(request)
                .await
                .map_err(AdapterError::from_boxed)?;
            let (parts, body) = response.into_parts();
            if streaming {
                return Ok((
                    parts,
                    Reply::Streamed(body.map_err(Into::into).boxed_unsync()),
                ));
            }
            let body = crate::body::read_all(body).await.map_err(|err| {
                let err: Error = err.into();
                AdapterError::new(
                    ErrorKind::AppResponse,
                    format!(
                        "reading the app's response body failed: {}",
                        describe(err.as_ref())
                    ),
                )
            })?;
            Ok((parts, Reply::Buffered(body)))
        };
        let exchanged = match deadline {
            Some((at, bound)) => timer.bound(at, exchange).await.unwrap_or_else(|| {
                Err(AdapterError::new(
                    ErrorKind::AppTimeout,
                    format!(
                        "the app did not answer within {} ms, the time left before the invocation's deadline",
                        bound.as_millis()
                    ),
                ))
            }),
            None => exchange.await,
        };

        match exchanged {
            Ok((parts, Reply::Streamed(body))) => Ok(Outcome::Streamed {
                prelude: response::stream_prelude(source, parts.status, &parts.headers),
                body: LimitedStream::new(body, deadline, self.ending.clone()).boxed_unsync(),
                extensions: parts.extensions,
            }),
            Ok((parts, Reply::Buffered(body))) => {
                let payload = response::to_lambda(source, parts.status, &parts.headers, body);
                if payload.len() <= MAX_BUFFERED_RESPONSE {
                    return Ok(Outcome::Buffered(payload));
                }
                let error = AdapterError::new(
                    ErrorKind::ResponseTooLarge,
                    format!(
                        "the app's response is {} bytes as a Lambda payload, over the {MAX_BUFFERED_RESPONSE}-byte \
                         limit of buffered responses; send less, or use AWS_LWA_INVOKE_MODE=response_stream with a \
                         Function URL",
                        payload.len()
                    ),
                );
                substitute(source, false, error, request_id)
            }
            Err(error) => substitute(source, streaming, error, request_id),
        }
    }
}

/// ERR-1, ERR-2, RSP-7: when the app could not answer properly, an HTTP client gets a small,
/// clear response of the adapter's own; other events keep the error, so their source can retry.
fn substitute(
    source: EventSource,
    streaming: bool,
    error: AdapterError,
    request_id: &str,
) -> Result<Outcome, AdapterError> {
    let (status, text) = match error.kind() {
        ErrorKind::AppUnreachable | ErrorKind::AppResponse => (
            StatusCode::BAD_GATEWAY,
            "Bad Gateway: the web app did not give a complete answer (see the function's logs)\n",
        ),
        ErrorKind::AppTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "Gateway Timeout: the web app did not answer before the Lambda deadline\n",
        ),
        ErrorKind::ResponseTooLarge => (
            StatusCode::BAD_GATEWAY,
            "Bad Gateway: the web app's response is larger than Lambda's 6 MB limit (see the function's logs)\n",
        ),
        ErrorKind::HookForbidden => (
            StatusCode::FORBIDDEN,
            "Forbidden: this path is reserved for the function's SnapStart hooks\n",
        ),
        _ => return Err(error),
    };
    if source == EventSource::PassThrough {
        return Err(error);
    }
    tracing::error!(request_id, "{error}; answering {status}");
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let body = Bytes::from_static(text.as_bytes());
    if streaming {
        return Ok(Outcome::Streamed {
            prelude: response::stream_prelude(source, status, &headers),
            body: Full::new(body)
                .map_err(|never| match never {})
                .boxed_unsync(),
            extensions: http::Extensions::new(),
        });
    }
    Ok(Outcome::Buffered(response::to_lambda(
        source, status, &headers, body,
    )))
}

/// A worker's ERR-2 timer, re-armed for each invocation rather than created anew.
///
/// Deadlines of successive invocations only move later, and tokio moves a timer later without
/// touching its driver; a new timer earlier than any other wakes the driver (an `eventfd` write and
/// one more `epoll_wait`) on every invocation. A timer left armed past its deadline while the worker
/// waits for `next` at worst wakes the worker once, for nothing.
#[derive(Default)]
pub(crate) struct DeadlineTimer(Option<Pin<Box<tokio::time::Sleep>>>);

impl DeadlineTimer {
    /// `work`'s output, or `None` when `at` comes first.
    async fn bound<F: Future>(&mut self, at: tokio::time::Instant, work: F) -> Option<F::Output> {
        let timer = match &mut self.0 {
            Some(timer) => {
                timer.as_mut().reset(at);
                timer
            }
            None => self.0.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        tokio::select! {
            biased;
            output = work => Some(output),
            () = timer.as_mut() => None,
        }
    }
}

/// STR-6, LIF-5: the app's streamed body, ended early with an error (which the stream turns into
/// its error trailers): `Adapter.AppTimeout` when the invocation's deadline, less the margin,
/// comes first, `Adapter.ShuttingDown` when the adapter stops and the grace for streams is over.
struct LimitedStream<B> {
    body: B,
    deadline: Option<(Pin<Box<tokio::time::Sleep>>, Duration)>,
    ending: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl<B> LimitedStream<B> {
    fn new(
        body: B,
        deadline: Option<(tokio::time::Instant, Duration)>,
        mut ending: watch::Receiver<bool>,
    ) -> Self {
        LimitedStream {
            body,
            deadline: deadline.map(|(at, bound)| (Box::pin(tokio::time::sleep_until(at)), bound)),
            ending: Box::pin(async move {
                // A closed channel (the loop is gone) ends nothing.
                if ending.wait_for(|ending| *ending).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }),
        }
    }
}

impl<B> http_body::Body for LimitedStream<B>
where
    B: http_body::Body<Data = Bytes, Error = Error> + Unpin,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let ended = |kind, message: String| {
            Poll::Ready(Some(Err(
                Box::new(AdapterError::new(kind, message)) as Error
            )))
        };
        if let Some((deadline, bound)) = &mut self.deadline {
            if deadline.as_mut().poll(cx).is_ready() {
                return ended(
                    ErrorKind::AppTimeout,
                    format!(
                        "the app's response stream was still open at the invocation's deadline: \
                         ended {} ms in, the time left before the deadline",
                        bound.as_millis()
                    ),
                );
            }
        }
        if self.ending.as_mut().poll(cx).is_ready() {
            return ended(
                ErrorKind::ShuttingDown,
                "the adapter is stopping (SIGTERM) and the app's response stream was still open \
                 after the grace for invocations in flight: ended"
                    .to_string(),
            );
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
}

/// ERR-2: when the app's answer is due (the deadline less a margin to post it), with the time
/// that leaves. `None` for a deadline that is absent (0) or already past (clock skew, tests).
fn app_deadline(deadline_ms: u64, now: SystemTime) -> Option<(tokio::time::Instant, Duration)> {
    if deadline_ms == 0 {
        return None;
    }
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(now)
        .ok()
        .filter(|left| !left.is_zero())?;
    let bound = if left > DEADLINE_MARGIN * 2 {
        left - DEADLINE_MARGIN
    } else {
        left / 2
    };
    Some((tokio::time::Instant::now() + bound, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_keeps_a_margin_and_ignores_absent_or_past_deadlines() {
        // covers ERR-2
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ms = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        };
        let (_, bound) = app_deadline(ms(now + Duration::from_secs(3)), now).unwrap();
        assert_eq!(bound, Duration::from_secs(3) - DEADLINE_MARGIN);
        let (_, bound) = app_deadline(ms(now + Duration::from_millis(100)), now).unwrap();
        assert_eq!(bound, Duration::from_millis(50));
        assert!(app_deadline(0, now).is_none());
        assert!(app_deadline(ms(now - Duration::from_secs(1)), now).is_none());
        assert!(app_deadline(ms(now), now).is_none());
    }
}
