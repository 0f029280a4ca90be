//! The control plane's shared state and the one way to wait on it.
//!
//! All state sits in a single `watch` channel: every change notifies every waiter, and a waiter
//! re-checks its own condition. That keeps the HTTP handlers (which block on `next`) and the test
//! API (which waits for registrations, results, counters) free of lost wake-ups without a separate
//! `Notify` per condition.

use std::collections::{HashMap, VecDeque};
use std::future::pending;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use tokio::sync::watch;

use super::model::{
    Chunk, ErrorOrigin, FunctionConfig, InvocationResult, Registration, ReportedError,
};
use super::wire::header_str;
use crate::watched::first_found;

pub(crate) struct Shared {
    pub function: FunctionConfig,
    state: watch::Sender<State>,
}

#[derive(Default)]
pub(crate) struct State {
    pub extensions: Vec<Extension>,
    /// What the next `invocation/next` calls hand out, in order.
    pub runtime_queue: VecDeque<NextReply>,
    pub invocations: HashMap<String, Invocation>,
    pub reported_errors: Vec<ReportedError>,
    pub shutdown_reason: Option<String>,
    pub next_outstanding: usize,
    pub next_outstanding_max: usize,
    pub next_calls_total: u64,
    /// SnapStart: `restore/next` calls received, and whether they are answered (the snapshot has
    /// been "restored"). Until then they wait.
    pub restore_calls: u64,
    pub restored: bool,
}

pub(crate) struct Extension {
    pub registration: Registration,
    pub pending_events: VecDeque<Value>,
    pub next_calls: u64,
    pub parked: bool,
    pub shutdown_sent: bool,
}

pub(crate) enum NextReply {
    Invocation { key: String },
    Failure { status: u16, body: Bytes },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Queued,
    Delivered,
    /// A `response` or `error` post is being received.
    Answering,
    Done,
}

pub(crate) struct Invocation {
    pub request_id: String,
    pub event: Bytes,
    /// The `Lambda-Runtime-*` headers of the `next` response, prepared at invoke time.
    pub next_headers: Vec<(&'static str, HeaderValue)>,
    pub deadline_ms: Option<u64>,
    pub invoked_function_arn: String,
    pub trace_id: Option<String>,
    pub reject_response: Option<u16>,
    pub phase: Phase,
    /// The caller no longer wants the record: drop it when the invocation ends.
    pub forgotten: bool,
    pub delivered_at: Option<Instant>,
    /// Chunks of a streamed response, live while it arrives.
    pub chunks: Vec<Chunk>,
    pub result: Option<InvocationResult>,
}

impl State {
    pub fn extension_mut(&mut self, id: &str) -> Option<&mut Extension> {
        self.extensions
            .iter_mut()
            .find(|extension| extension.registration.id == id)
    }
}

impl Shared {
    pub fn new(function: FunctionConfig) -> Self {
        Shared {
            function,
            state: watch::Sender::new(State::default()),
        }
    }

    /// Changes the state and wakes every waiter.
    pub fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let mut change = Some(change);
        let mut output = None;
        self.state.send_modify(|state| {
            if let Some(change) = change.take() {
                output = Some(change(state));
            }
        });
        output.expect("watch::Sender::send_modify runs its closure exactly once")
    }

    /// Records an error that a runtime or an extension reported; its type is the value of the
    /// request's `type_header` (empty when absent).
    pub fn record_error(
        &self,
        origin: ErrorOrigin,
        extension: Option<String>,
        type_header: &str,
        headers: HeaderMap,
        body: Bytes,
    ) {
        let error = ReportedError {
            origin,
            extension,
            error_type: header_str(&headers, type_header)
                .unwrap_or_default()
                .to_owned(),
            body,
            headers,
            at: Instant::now(),
        };
        self.update(|state| state.reported_errors.push(error));
    }

    pub fn read<R>(&self, look: impl FnOnce(&State) -> R) -> R {
        look(&self.state.borrow())
    }

    /// Waits until `check` finds something, for at most `timeout`.
    pub async fn wait_for<R>(
        &self,
        timeout: Duration,
        check: impl FnMut(&State) -> Option<R>,
    ) -> Option<R> {
        first_found(&self.state, timeout, check).await
    }

    /// Waits, without limit, until `take` removes something from the state. Used by the long-poll
    /// handlers, which end when their connection (or the whole server) goes away.
    pub async fn take<R>(&self, mut take: impl FnMut(&mut State) -> Option<R>) -> R {
        let mut changes = self.state.subscribe();
        loop {
            let mut taken = None;
            self.state.send_if_modified(|state| {
                taken = take(state);
                taken.is_some()
            });
            if let Some(taken) = taken {
                return taken;
            }
            if changes.changed().await.is_err() {
                // The sender lives as long as `self`; this is unreachable, but never spin.
                return pending().await;
            }
        }
    }
}
