//! The invocation loop (SPEC LIF-4, LIF-5, LIF-6, ERR-3): after a SnapStart restore where there is
//! one ([`crate::snapstart`]), `AWS_LAMBDA_MAX_CONCURRENCY` workers each take an invocation from the
//! Runtime API, handle it ([`crate::invocation`]) and post the outcome; SIGTERM stops taking new
//! ones and lets those in flight finish.
//!
//! Each invocation runs on its worker's task, so a bug that panics fails that invocation, never the
//! worker.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::error::{AdapterError, Error, ErrorKind};
use crate::invocation::{AppBody, AppService, DeadlineTimer, EventHandler, Outcome};
use crate::runtime_api::{retry, RuntimeApi};
use crate::snapstart::SnapStart;

/// LIF-5: how long in-flight invocations may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);
/// LIF-5: then, how long streams still open may take to end with their error trailers.
const STREAM_END_GRACE: Duration = Duration::from_millis(300);

/// Runs the loop until a worker meets a Runtime API failure that does not go away, or the process
/// is asked to stop (LIF-5: then the invocations in flight may finish). Under SnapStart the
/// snapshot and the restore come first.
pub(crate) async fn run<S, B>(
    handler: EventHandler<S>,
    settings: &Settings,
    snapstart: Option<SnapStart>,
) -> Result<(), Error>
where
    S: AppService<B>,
    B: AppBody,
{
    let proxy = settings.loop_api != settings.runtime_api;
    if proxy {
        tracing::info!(
            "the invocation loop uses the Runtime API proxy at {}",
            settings.loop_api
        );
    }
    let api = RuntimeApi::new(&settings.loop_api, proxy, settings.function.clone())?;
    if let Some(snapstart) = snapstart {
        snapstart.checkpoint_and_restore(&api).await?;
    }
    let (stop, stopped) = watch::channel(false);
    let (end_streams, ending) = watch::channel(false);
    let handler = handler.ending_streams_on(ending);
    let mut workers = JoinSet::new();
    for _ in 0..settings.concurrency {
        workers.spawn(worker(api.for_worker(), handler.clone(), stopped.clone()));
    }
    tokio::select! {
        finished = workers.join_next() => return match finished {
            Some(Ok(Err(err))) => Err(err),
            Some(Err(join_error)) => Err(format!("an invocation worker stopped: {join_error}").into()),
            Some(Ok(Ok(()))) | None => Ok(()),
        },
        () = termination_signal() => {}
    }
    tracing::info!("stopping: no new invocations, finishing the ones in flight");
    let _ = stop.send(true);
    if drain(&mut workers, SHUTDOWN_GRACE).await {
        return Ok(());
    }
    // Streams still open end with their error trailers rather than being cut off.
    let _ = end_streams.send(true);
    if !drain(&mut workers, STREAM_END_GRACE).await {
        tracing::warn!(
            "invocations still in flight after {} ms are abandoned",
            (SHUTDOWN_GRACE + STREAM_END_GRACE).as_millis()
        );
    }
    Ok(())
}

/// Whether every worker ended within `grace`.
async fn drain(workers: &mut JoinSet<Result<(), Error>>, grace: Duration) -> bool {
    let all_ended = async { while workers.join_next().await.is_some() {} };
    tokio::time::timeout(grace, all_ended).await.is_ok()
}

async fn worker<S, B>(
    api: RuntimeApi,
    handler: EventHandler<S>,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), Error>
where
    S: AppService<B>,
    B: AppBody,
{
    let mut timer = DeadlineTimer::default();
    loop {
        let invocation = tokio::select! {
            biased;
            _ = stopped.wait_for(|stopped| *stopped) => return Ok(()),
            next = retry("next", || api.next()) => next?,
        };
        // No tracing span per invocation: it costs more than the rest of the adapter's own work on
        // a small request; the lines that concern an invocation carry its request id instead.
        let request_id = invocation.request_id;
        let handling = handler.clone().handle(
            &request_id,
            invocation.context,
            invocation.event,
            &mut timer,
        );
        let outcome = CatchPanic(Box::pin(handling))
            .await
            .unwrap_or_else(|panic| {
                let error = AdapterError::new(
                    ErrorKind::Internal,
                    format!("the adapter failed while handling this invocation: {panic}"),
                );
                tracing::error!(request_id, "{error}");
                Outcome::Failed(error)
            });
        deliver(&api, &request_id, outcome).await?;
    }
}

/// ERR-3: runs an invocation's future on the worker's own task (no hand-over to another thread),
/// turning a panic into an error that fails only that invocation.
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|m| m.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_string());
                Poll::Ready(Err(format!("panicked: {message}")))
            }
        }
    }
}

/// Posts an invocation's outcome. A refusal that concerns only this invocation is logged; a
/// Runtime API that keeps failing ends the loop.
async fn deliver(api: &RuntimeApi, request_id: &str, outcome: Outcome) -> Result<(), Error> {
    let delivered = match outcome {
        Outcome::Buffered(payload) => {
            retry("response", || api.respond(request_id, payload.clone())).await
        }
        Outcome::Streamed {
            prelude,
            body,
            extensions: _until_delivered,
        } => api.respond_streaming(request_id, prelude, body).await,
        Outcome::Failed(error) => retry("error", || api.fail(request_id, &error)).await,
    };
    match delivered {
        Ok(()) => Ok(()),
        Err(err) if err.is_too_large() => {
            let error = AdapterError::new(
                ErrorKind::ResponseTooLarge,
                format!("the Runtime API refused the response: {err}"),
            );
            tracing::error!(request_id, "{error}");
            Ok(retry("error", || api.fail(request_id, &error)).await?)
        }
        Err(err) if !err.is_transient() => {
            tracing::error!(
                request_id,
                "the Runtime API refused the result of this invocation: {err}"
            );
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}

/// Resolves when the process is asked to stop (SIGTERM, or SIGINT from a terminal).
pub async fn termination_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_fails_only_its_future() {
        // covers ERR-3
        let failed = CatchPanic(Box::pin(async { panic!("boom") })).await;
        assert_eq!(failed.err().as_deref(), Some("panicked: boom"));
        let fine = CatchPanic(Box::pin(async { 7 })).await;
        assert_eq!(fine, Ok(7));
    }
}
