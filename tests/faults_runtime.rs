//! Faults around an invocation's life, with the real binary: a stream still open at the deadline
//! (SPEC STR-6), SIGTERM in the middle of a stream (LIF-5), a `next` cut off midway and a
//! `response` acknowledged only after seconds (LIF-6, through the support's `RuntimeApiProxy`),
//! and a pass-through event nested 100,000 levels deep (EVT-7, ERR-3). Every case that goes on
//! checks that the next invocation is served.

mod support;

use std::time::Duration;

use lambda_emulator::control_plane::epoch_ms_in;
use support::outcome::{assert_serves_next, http_answer};
use support::runtime_proxy::{harness_behind_proxy, Faults};
use support::{
    events, expect_log, BodySender, Harness, InvocationHandle, InvocationResult, InvokeOptions,
    Reply, StreamedResponse, TIMEOUT,
};

const STREAM: [(&str, &str); 1] = [("AWS_LWA_INVOKE_MODE", "response_stream")];

/// The streamed answer of `result`; panics with the adapter's output for anything else.
fn streamed<'r>(h: &Harness, result: &'r InvocationResult) -> &'r StreamedResponse {
    match result {
        InvocationResult::Streamed(streamed) => streamed,
        other => panic!(
            "expected a stream, got {}; output:\n{}",
            other.describe(),
            h.adapter.logs()
        ),
    }
}

// covers STR-6
#[tokio::test]
async fn str6_a_stream_still_open_at_the_deadline_ends_with_app_timeout_trailers() {
    let h = Harness::start(&STREAM).await;
    let (reply, body) = Reply::channel(200);
    h.app
        .route_once("/silent", reply.header("content-type", "text/event-stream"));
    let invocation = h.cp.invoke_with(
        events::function_url("GET", "/silent"),
        InvokeOptions {
            deadline_ms: Some(epoch_ms_in(Duration::from_millis(1500))),
            ..InvokeOptions::default()
        },
    );
    h.app
        .wait_request(TIMEOUT)
        .await
        .expect("the app has the request");
    assert!(body.send("data: first event\n\n"));
    // The app now says nothing more and never ends its answer.
    let result = h.result_of(&invocation).await;
    let stream = streamed(&h, &result);
    assert_eq!(stream.status(), Some(200));
    assert_eq!(&stream.body[..], b"data: first event\n\n");
    assert_eq!(stream.error_type.as_deref(), Some("Adapter.AppTimeout"));
    assert!(stream.completed, "ended cleanly: {}", result.describe());
    let logs = h.adapter.logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("still open at the invocation's deadline"))
        .collect();
    assert_eq!(lines.len(), 1, "one log line:\n{logs}");
    drop(body);
    let next = h.invoke(events::function_url("GET", "/after")).await;
    let (status, _) = http_answer(&h, &next);
    assert_eq!(status, 200);
}

/// A streamed invocation whose app has sent `first` and holds the rest, and SIGTERM to the
/// adapter.
async fn sigterm_mid_stream(h: &Harness, first: &'static str) -> (InvocationHandle, BodySender) {
    let (reply, body) = Reply::channel(200);
    h.app.route_once("/stream", reply);
    let invocation = h.cp.invoke(events::function_url("GET", "/stream"));
    h.app
        .wait_request(TIMEOUT)
        .await
        .expect("the app has the request");
    assert!(body.send(first));
    h.adapter.terminate().expect("SIGTERM sent");
    (invocation, body)
}

/// The adapter exits, with status 0 (LIF-5).
async fn assert_exits_0(h: &Harness) {
    let exit = h.adapter.wait_exit(TIMEOUT).await;
    let exit = exit.unwrap_or_else(|| panic!("no exit; output:\n{}", h.adapter.logs()));
    assert_eq!(exit.code(), Some(0), "{exit}");
}

// covers LIF-5: a stream that finishes within the grace is delivered whole, then exit 0.
#[tokio::test]
async fn lif5_sigterm_mid_stream_lets_the_stream_finish_then_exits_0() {
    let h = Harness::start(&STREAM).await;
    let (invocation, body) = sigterm_mid_stream(&h, "first ").await;
    expect_log(&h.adapter, &["stopping: no new invocations"]).await;
    assert!(body.send("and last"));
    body.finish();
    let result = h.result_of(&invocation).await;
    let stream = streamed(&h, &result);
    assert!(
        !stream.failed() && stream.completed,
        "{}",
        result.describe()
    );
    assert_eq!(&stream.body[..], b"first and last");
    assert_exits_0(&h).await;
}

// covers LIF-5: a stream that does not finish within the grace is ended with the error
// trailers, not cut off, then exit 0.
#[tokio::test]
async fn lif5_sigterm_mid_stream_ends_an_unfinished_stream_cleanly_then_exits_0() {
    let h = Harness::start(&STREAM).await;
    let (invocation, body) = sigterm_mid_stream(&h, "never finished ").await;
    let result = h.result_of(&invocation).await;
    let stream = streamed(&h, &result);
    assert_eq!(&stream.body[..], b"never finished ");
    assert_eq!(stream.error_type.as_deref(), Some("Adapter.ShuttingDown"));
    assert!(
        stream.completed,
        "ended cleanly, not cut off: {}",
        result.describe()
    );
    assert_exits_0(&h).await;
    drop(body);
}

// covers LIF-6: a `next` answer that breaks in the middle of its body is logged and tried again.
#[tokio::test]
async fn lif6_a_next_cut_off_midway_is_retried_and_the_next_invocation_served() {
    let (h, proxy) = harness_behind_proxy(Faults {
        cut_next: 1,
        ..Faults::default()
    })
    .await;
    let line = expect_log(&h.adapter, &["the Runtime API's next failed"]).await;
    assert!(line.contains("attempt 1"), "{line}");
    assert_eq!(proxy.injected(), 1);
    assert_serves_next(&h, "a next cut off midway").await;
    assert_eq!(h.adapter.count_logs("giving up"), 0);
}

// covers LIF-6: a `response` acknowledged only after seconds holds up nothing but its worker,
// and is posted once.
#[tokio::test]
async fn lif6_a_response_acknowledged_after_seconds_is_posted_once_then_the_next_served() {
    let (h, proxy) = harness_behind_proxy(Faults {
        slow_response: Some(Duration::from_secs(2)),
        ..Faults::default()
    })
    .await;
    for n in 0..2 {
        let result = h
            .invoke(events::http_v2("GET", &format!("/slow-ack-{n}")))
            .await;
        let (status, _) = http_answer(&h, &result);
        assert_eq!(status, 200);
    }
    // The worker asks for the next invocation only once the late acknowledgement came.
    assert!(h.cp.wait_next_outstanding(1, TIMEOUT).await);
    assert_eq!(proxy.injected(), 2, "both posts were acknowledged late");
    assert_eq!(h.app.requests().len(), 2, "each request forwarded once");
    assert_eq!(
        h.adapter.count_logs("refused the result"),
        0,
        "no second post"
    );
    assert_eq!(h.adapter.count_logs("failed"), 0, "{}", h.adapter.logs());
}

// covers EVT-7, ERR-3: a pass-through event nested 100,000 levels deep reaches the app as it
// is, and the app's answer comes back as it is.
#[tokio::test]
async fn evt7_a_pass_through_event_nested_100000_levels_deep_goes_through_whole() {
    let h = Harness::start(&[]).await;
    h.app.route("/events", |request| {
        Reply::new(200)
            .header("content-type", "application/json")
            .body(request.body.clone())
    });
    let deep = 100_000;
    let event = format!("{}{}", "[".repeat(deep), "]".repeat(deep));
    let result = h.invoke(event.clone()).await;
    match &result {
        InvocationResult::Response { body, .. } => assert!(body[..] == *event.as_bytes()),
        other => panic!("{}; output:\n{}", other.describe(), h.adapter.logs()),
    }
    let forwarded = h.app.wait_request(TIMEOUT).await.expect("forwarded");
    assert_eq!(forwarded.body.len(), event.len());
    let objects = format!("{}1{}", "{\"a\":".repeat(deep), "}".repeat(deep));
    let result = h.invoke(objects.clone()).await;
    assert!(
        matches!(&result, InvocationResult::Response { body, .. } if body[..] == *objects.as_bytes())
    );
    assert_serves_next(&h, "a deeply nested event").await;
}
