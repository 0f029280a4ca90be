//! The Lambda runtime loop's handler: event → [`crate::Adapter`] → Lambda response.
//!
//! lambda_runtime polls the Runtime API and hands each event here as raw JSON. The handler turns
//! it into a request ([`crate::event`]), calls the adapter service (with compression around it
//! when configured), and shapes the answer for the event's source ([`crate::response`]): a
//! buffered JSON document, or in streaming mode a prelude plus the app's body as it arrives.

use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyDataStream, BodyExt};
use lambda_http::Request;
use lambda_runtime::{FunctionResponse, LambdaEvent, StreamResponse};
use serde_json::value::RawValue;
use tower::{Service, ServiceExt};

use crate::error::{AdapterError, ErrorKind};
use crate::event::{self, EventSource};
use crate::readiness::describe;
use crate::response::{self, LambdaResponse};

/// The body of a streamed response, as lambda_runtime consumes it.
pub(crate) type BodyStream = BodyDataStream<UnsyncBoxBody<Bytes, crate::Error>>;

/// What one invocation returns to lambda_runtime.
pub(crate) type InvocationResult = FunctionResponse<LambdaResponse, BodyStream>;

/// Handles one invocation with the service `S` (the adapter, maybe behind compression).
#[derive(Clone)]
pub(crate) struct EventHandler<S> {
    service: S,
    streaming: bool,
}

impl<S> EventHandler<S> {
    pub(crate) fn new(service: S, streaming: bool) -> Self {
        EventHandler { service, streaming }
    }
}

impl<S, B> Service<LambdaEvent<Box<RawValue>>> for EventHandler<S>
where
    S: Service<Request, Response = http::Response<B>, Error = crate::Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<crate::Error>,
{
    type Response = InvocationResult;
    type Error = AdapterError;
    type Future = lambda_runtime::BoxFuture<'static, Result<InvocationResult, AdapterError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<Box<RawValue>>) -> Self::Future {
        let service = self.service.clone();
        let streaming = self.streaming;
        Box::pin(async move {
            let request_id = event.context.request_id.clone();
            let result = handle(service, streaming, event).await;
            if let Err(err) = &result {
                tracing::error!(request_id, "{err}");
            }
            result
        })
    }
}

async fn handle<S, B>(
    service: S,
    streaming: bool,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<InvocationResult, AdapterError>
where
    S: Service<Request, Response = http::Response<B>, Error = crate::Error>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<crate::Error>,
{
    let LambdaEvent { payload, context } = event;
    let (source, mut request) = event::parse(payload.get())?;
    drop(payload);
    request.extensions_mut().insert(context);

    let response = service
        .oneshot(request)
        .await
        .map_err(AdapterError::from_boxed)?;
    let (parts, body) = response.into_parts();

    // STR-4: a pass-through event's result is JSON, never a stream.
    if streaming && source != EventSource::PassThrough {
        let metadata_prelude = response::stream_prelude(parts.status, parts.headers);
        let stream = BodyDataStream::new(body.map_err(Into::into).boxed_unsync());
        return Ok(FunctionResponse::StreamingResponse(StreamResponse {
            metadata_prelude,
            stream,
        }));
    }

    let body = body.collect().await.map_err(|err| {
        let err: crate::Error = err.into();
        AdapterError::new(
            ErrorKind::AppResponse,
            format!(
                "reading the app's response body failed: {}",
                describe(err.as_ref())
            ),
        )
    })?;
    Ok(FunctionResponse::BufferedResponse(response::to_lambda(
        source,
        parts.status,
        &parts.headers,
        body.to_bytes(),
    )))
}
