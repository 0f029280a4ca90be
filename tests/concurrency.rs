//! Managed-instance concurrency (SPEC LIF-4): with `AWS_LAMBDA_MAX_CONCURRENCY=8` the adapter
//! keeps 8 invocations in flight, in buffered and in streaming mode, and never mixes one
//! invocation's body or headers into another's.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use support::events::{self, HttpEvent};
use support::{
    Harness, InvocationHandle, InvocationResult, InvokeOptions, RecordedRequest, Reply, TestApp,
    TIMEOUT,
};
use tokio::sync::watch;

const WORKERS: usize = 8;
const CONCURRENCY: (&str, &str) = ("AWS_LAMBDA_MAX_CONCURRENCY", "8");
const STREAMING: (&str, &str) = ("AWS_LWA_INVOKE_MODE", "response_stream");

/// Counts the requests the app is working on, and holds the first few until several are in
/// flight at once (each hold bounded by [`TIMEOUT`]), so that overlap is certain, not luck.
struct Overlap {
    arrivals: watch::Sender<usize>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// The first `hold` requests wait until `hold` have arrived.
    hold: usize,
}

impl Overlap {
    fn new(hold: usize) -> Arc<Overlap> {
        Arc::new(Overlap {
            arrivals: watch::Sender::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            hold,
        })
    }

    /// A request arrived; returns its arrival index.
    fn enter(&self) -> usize {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let mut index = 0;
        self.arrivals.send_modify(|arrivals| {
            index = *arrivals;
            *arrivals += 1;
        });
        index
    }

    fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    async fn hold_if_early(&self, index: usize) {
        if index < self.hold {
            let mut arrivals = self.arrivals.subscribe();
            let _ = tokio::time::timeout(TIMEOUT, arrivals.wait_for(|n| *n >= self.hold)).await;
        }
    }

    fn max(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

/// Routes `prefix` to an echo answered from a task: the head at once, the body (the request's
/// JSON echo) in `parts` chunks once [`Overlap`] lets the request go.
fn route_echo_with_overlap(app: &TestApp, prefix: &str, overlap: Arc<Overlap>, parts: usize) {
    app.route(prefix, move |request| {
        let index = overlap.enter();
        let echo = Bytes::from(request.echo_json().to_string());
        let (reply, body) = Reply::channel(200);
        let overlap = overlap.clone();
        tokio::spawn(async move {
            overlap.hold_if_early(index).await;
            let step = echo.len().div_ceil(parts).max(1);
            let mut offset = 0;
            while offset < echo.len() {
                let end = (offset + step).min(echo.len());
                body.send(echo.slice(offset..end));
                offset = end;
                tokio::task::yield_now().await;
            }
            body.finish();
            overlap.leave();
        });
        reply.header("content-type", "application/json")
    });
}

/// What one invocation sent, to compare with what came back.
struct Sent {
    handle: InvocationHandle,
    request_id: String,
    path: String,
    body: String,
    seq: String,
}

fn queue(h: &Harness, index: usize, event: HttpEvent, path: &str, body: &str) -> Sent {
    let request_id = format!("lif4-{index:05}-{}", body.len());
    let handle = h.cp.invoke_with(
        event,
        InvokeOptions {
            request_id: Some(request_id.clone()),
            ..Default::default()
        },
    );
    Sent {
        handle,
        request_id,
        path: path.to_owned(),
        body: body.to_owned(),
        seq: index.to_string(),
    }
}

/// A POST with a body of its own, as REST v1 or HTTP API v2 by turns.
fn distinct_post(h: &Harness, prefix: &str, index: usize) -> Sent {
    let path = format!("{prefix}/{index}");
    let body = json!({
        "index": index,
        "token": format!("{:016x}", (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        "padding": "x".repeat(index % 97),
    })
    .to_string();
    let event = if index % 2 == 0 {
        events::rest_v1("POST", &path)
    } else {
        events::http_v2("POST", &path)
    }
    .header("content-type", "application/json")
    .header("x-seq", &index.to_string())
    .body(&body);
    queue(h, index, event, &path, &body)
}

/// The app's echo as it came back in `result`, buffered or streamed.
fn echo_of(h: &Harness, sent: &Sent, result: &InvocationResult) -> Value {
    let body = match result {
        InvocationResult::Response { .. } => {
            let response = result.json().unwrap_or_else(|err| {
                panic!(
                    "{}: {err}; adapter output:\n{}",
                    sent.request_id,
                    h.adapter.logs()
                )
            });
            assert_eq!(
                response["statusCode"], 200,
                "{}: {response}",
                sent.request_id
            );
            events::response_body(&response)
        }
        InvocationResult::Streamed(streamed) => {
            assert!(
                streamed.completed && !streamed.failed(),
                "{}: a clean stream: {}",
                sent.request_id,
                result.describe()
            );
            assert_eq!(streamed.status(), Some(200), "{}", sent.request_id);
            streamed.body.to_vec()
        }
        other => panic!(
            "{}: unexpected result {}; adapter output:\n{}",
            sent.request_id,
            other.describe(),
            h.adapter.logs()
        ),
    };
    serde_json::from_slice(&body).unwrap_or_else(|err| {
        panic!(
            "{}: the echo is JSON ({err}): {}",
            sent.request_id,
            String::from_utf8_lossy(&body)
        )
    })
}

fn echoed_headers(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .map(|pairs| {
            pairs
                .iter()
                .filter(|pair| pair[0] == name)
                .filter_map(|pair| pair[1].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The result of `sent` carries its own request's path, body and headers, and nothing else's.
fn check_own_answer(h: &Harness, sent: &Sent, result: &InvocationResult) {
    let echo = echo_of(h, sent, result);
    let id = &sent.request_id;
    assert_eq!(echo["method"], "POST", "{id}: {echo}");
    assert_eq!(echo["path"], sent.path.as_str(), "{id}: {echo}");
    assert_eq!(echo["body"], sent.body.as_str(), "{id}: {echo}");
    assert_eq!(
        echoed_headers(&echo, "x-seq"),
        std::slice::from_ref(&sent.seq),
        "{id}: {echo}"
    );
    let contexts = echoed_headers(&echo, "x-amzn-lambda-context");
    assert_eq!(contexts.len(), 1, "{id}: one lambda context: {echo}");
    let context: Value = serde_json::from_str(&contexts[0])
        .unwrap_or_else(|err| panic!("{id}: the lambda context is JSON ({err}): {}", contexts[0]));
    assert_eq!(
        context["request_id"],
        id.as_str(),
        "{id}: the app saw this invocation's own context"
    );
}

/// Waits for every result in turn (one waiter at a time keeps the control plane cheap).
async fn check_all(h: &Harness, sent: &[Sent]) {
    for one in sent {
        let result = h.result_of(&one.handle).await;
        check_own_answer(h, one, &result);
    }
}

fn assert_at_most_workers_polling(h: &Harness) {
    let max = h.cp.max_next_outstanding();
    assert!(
        max <= WORKERS,
        "never more than {WORKERS} `next` calls outstanding at once, saw {max}"
    );
}

// covers LIF-4
#[tokio::test]
async fn lif4_eight_next_polls_and_eight_requests_in_flight_never_more() {
    let h = Harness::start(&[CONCURRENCY]).await;
    assert!(
        h.cp.wait_next_outstanding(WORKERS, TIMEOUT).await,
        "{WORKERS} `next` calls outstanding at once (now {}); adapter output:\n{}",
        h.cp.next_calls_outstanding(),
        h.adapter.logs()
    );
    assert_at_most_workers_polling(&h);

    // 8 invocations the app holds: all 8 reach the app at the same time.
    let held = h.app.route_held_echo("/held");
    let sent: Vec<Sent> = (0..WORKERS)
        .map(|index| distinct_post(&h, "/held", index))
        .collect();
    let arrived = h.app.wait_requests(WORKERS, TIMEOUT).await;
    assert!(
        arrived.is_some(),
        "all {WORKERS} requests are at the app at once (got {}); adapter output:\n{}",
        h.app.requests().len(),
        h.adapter.logs()
    );
    assert!(
        sent.iter().all(|one| one.handle.try_result().is_none()),
        "none was answered yet"
    );
    assert_eq!(held.release(), WORKERS);
    check_all(&h, &sent).await;

    // A burst more, with the echo answered at once.
    let burst: Vec<Sent> = (WORKERS..WORKERS + 200)
        .map(|index| distinct_post(&h, "/burst", index))
        .collect();
    check_all(&h, &burst).await;
    assert!(
        h.cp.wait_next_outstanding(WORKERS, TIMEOUT).await,
        "all workers poll again once idle"
    );
    assert_at_most_workers_polling(&h);
    eprintln!(
        "LIF-4: max next outstanding {}, next calls {}",
        h.cp.max_next_outstanding(),
        h.cp.next_calls_total()
    );
}

async fn many_invocations(env: &[(&str, &str)], count: usize, parts: usize) {
    let app = TestApp::start().await.expect("the test app listens");
    let overlap = Overlap::new(WORKERS);
    route_echo_with_overlap(&app, "/item", overlap.clone(), parts);
    let h = Harness::start_with_app(app, env).await;

    let started = Instant::now();
    let sent: Vec<Sent> = (0..count)
        .map(|index| distinct_post(&h, "/item", index))
        .collect();
    check_all(&h, &sent).await;
    let elapsed = started.elapsed();

    let recorded: Vec<RecordedRequest> = h.app.requests();
    assert_eq!(recorded.len(), count, "one app request per invocation");
    assert_at_most_workers_polling(&h);
    assert!(
        overlap.max() > 1,
        "the app saw requests overlap (max {} in flight)",
        overlap.max()
    );
    assert!(h.adapter.is_running());
    eprintln!(
        "LIF-4 {env:?}: {count} invocations in {elapsed:.1?}; max in flight at the app {}, max next outstanding {}",
        overlap.max(),
        h.cp.max_next_outstanding()
    );
}

// covers LIF-4, EVT-3 (buffered mode)
#[tokio::test]
async fn lif4_two_thousand_buffered_invocations_each_get_their_own_answer() {
    many_invocations(&[CONCURRENCY], 2000, 1).await;
}

// covers LIF-4, STR-1 (streaming mode)
#[tokio::test]
async fn lif4_five_hundred_streamed_invocations_each_get_their_own_answer() {
    many_invocations(&[CONCURRENCY, STREAMING], 500, 3).await;
}

/// The result of the one invocation whose app request failed: anything but a success.
fn assert_failed(h: &Harness, result: &InvocationResult) {
    let failed = match result {
        InvocationResult::Error { .. } => true,
        InvocationResult::Streamed(streamed) => {
            streamed.failed() || streamed.status().is_some_and(|status| status >= 500)
        }
        InvocationResult::Response { .. } => result
            .json()
            .ok()
            .and_then(|response| response["statusCode"].as_u64())
            .is_some_and(|status| status >= 500),
        InvocationResult::Rejected { .. } => false,
    };
    assert!(
        failed,
        "the broken request is reported as a failure, got {}; adapter output:\n{}",
        result.describe(),
        h.adapter.logs()
    );
}

async fn one_failure_among_eight(env: &[(&str, &str)], broken: Reply) {
    let app = TestApp::start().await.expect("the test app listens");
    let held = app.route_held_echo("/ok");
    let broken = Mutex::new(Some(broken));
    app.route("/broken", move |_| {
        broken
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take()
            .unwrap_or_else(Reply::drop_connection)
    });
    let h = Harness::start_with_app(app, env).await;

    // 7 invocations in flight at the app, unanswered...
    let good: Vec<Sent> = (0..WORKERS - 1)
        .map(|index| distinct_post(&h, "/ok", index))
        .collect();
    assert!(
        h.app.wait_requests(WORKERS - 1, TIMEOUT).await.is_some(),
        "7 requests in flight at the app; adapter output:\n{}",
        h.adapter.logs()
    );
    // ...while an 8th fails.
    let bad = distinct_post(&h, "/broken", 100);
    let bad_result = h.result_of(&bad.handle).await;
    assert_failed(&h, &bad_result);
    eprintln!(
        "LIF-4 {env:?}: the broken request ended as {}",
        bad_result.describe()
    );
    assert!(
        good.iter().all(|one| one.handle.try_result().is_none()),
        "the failure ended no other invocation"
    );

    assert_eq!(held.release(), WORKERS - 1);
    check_all(&h, &good).await;
    assert!(h.adapter.is_running(), "the adapter is still running");
    assert_at_most_workers_polling(&h);

    // And the next invocation is served normally.
    let after = distinct_post(&h, "/after", 200);
    check_all(&h, std::slice::from_ref(&after)).await;
}

// covers LIF-4, ERR-1 (a connection dropped before the response head, buffered mode)
#[tokio::test]
async fn lif4_a_dropped_connection_does_not_disturb_seven_others_buffered() {
    one_failure_among_eight(&[CONCURRENCY], Reply::drop_connection()).await;
}

// covers LIF-4, STR-3 (a body broken mid-stream, streaming mode)
#[tokio::test]
async fn lif4_a_broken_stream_does_not_disturb_seven_others_streaming() {
    let broken = Reply::new(200)
        .header("content-type", "text/plain")
        .chunks([(Duration::ZERO, "partial ")])
        .then_abort();
    one_failure_among_eight(&[CONCURRENCY, STREAMING], broken).await;
}
