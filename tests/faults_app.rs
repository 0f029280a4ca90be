//! Fault injection against the real `lambda-adapter` binary, the app's side: an app that
//! refuses, resets, hangs, truncates, restarts or closes idle connections (SPEC ERR-1, ERR-2,
//! STR-3, CFG-21), oversized responses (RSP-7), and one failure among eight invocations in flight
//! (LIF-4). Every case checks that the process goes on and that the next invocation is served.
//! Faults the shared `TestApp` cannot produce come from the kit's `RawApp`.

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_emulator::control_plane::epoch_ms_in;
use lambda_emulator::testing::{RawAnswer, RawApp};
use serde_json::Value;
use support::outcome::{assert_serves_next, error_of, http_answer};
use support::{events, expect_log, Harness, InvokeOptions, Reply, TestApp, TIMEOUT};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

// =============================================================================================
// Helpers
// =============================================================================================

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Waits until nothing accepts connections on `port` any more.
async fn wait_port_closed(port: u16) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "port {port} still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A `TestApp` on `port`, retried briefly while the old listener's port is being released.
async fn start_app_on(port: u16) -> TestApp {
    TestApp::builder()
        .start_on_retrying(port, TIMEOUT)
        .await
        .unwrap_or_else(|err| panic!("cannot listen on port {port} again: {err}"))
}

// =============================================================================================
// ERR-1: app unreachable
// =============================================================================================

// covers ERR-1
#[tokio::test]
async fn err1_refused_connection_gives_an_http_event_a_502_with_a_short_text_body() {
    let port = TestApp::reserve_port();
    let h = Harness::for_port(port, &[]).await;
    let result = h.invoke(events::http_v2("GET", "/refused")).await;
    let response = result
        .json()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    assert_eq!(response["statusCode"], 502, "{response}");
    let body = String::from_utf8(events::response_body(&response)).expect("a text body");
    assert!(
        body.len() < 200 && body.contains("Bad Gateway"),
        "a short plain body: {body:?}"
    );
    let content_type = response["headers"]["content-type"].as_str().unwrap_or("");
    assert!(content_type.starts_with("text/plain"), "{response}");
    let line = expect_log(&h.adapter, &["did not answer", "Adapter.AppUnreachable"]).await;
    assert!(
        line.to_lowercase().contains("refused"),
        "the log names the cause: {line}"
    );

    let _app = start_app_on(port).await;
    assert_serves_next(&h, "a refused connection").await;
}

// covers ERR-1, EVT-7
#[tokio::test]
async fn err1_refused_connection_fails_a_pass_through_event_as_app_unreachable() {
    let port = TestApp::reserve_port();
    let h = Harness::for_port(port, &[]).await;
    let result = h.invoke(events::sqs(&["hello"]).to_string()).await;
    let (error_type, message) = error_of(&h, &result);
    assert_eq!(error_type, "Adapter.AppUnreachable", "{message}");
    assert!(message.contains("did not answer"), "{message}");
    expect_log(&h.adapter, &["did not answer", "Adapter.AppUnreachable"]).await;

    let _app = start_app_on(port).await;
    assert_serves_next(&h, "a refused pass-through event").await;
}

// covers ERR-1: a POST the app may have seen is never sent twice.
#[tokio::test]
async fn err1_reset_before_the_response_head_fails_a_post_without_retrying_it() {
    let raw = RawApp::echo_except("/reset", |_| RawAnswer::Reset).await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let result = h
        .invoke(events::http_v2("POST", "/reset").body("order #1"))
        .await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        raw.requests_to("/reset").len(),
        1,
        "the POST reached the app exactly once: {:?}",
        raw.requests()
    );
    expect_log(&h.adapter, &["did not answer", "Adapter.AppUnreachable"]).await;
    assert_serves_next(&h, "a reset POST").await;
    assert_eq!(raw.requests_to("/reset").len(), 1, "no late retry");
}

// covers ERR-1: a GET that broke before any answer is tried once more, on a fresh connection.
#[tokio::test]
async fn err1_reset_before_the_response_head_retries_a_get_once_on_a_fresh_connection() {
    let raw = RawApp::echo_except("/reset-once", |request| {
        // The first attempt is reset, later ones are served.
        if request.connection == 1 {
            RawAnswer::Reset
        } else {
            RawAnswer::echo(request)
        }
    })
    .await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let result = h.invoke(events::http_v2("GET", "/reset-once")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(
        status,
        200,
        "the retry succeeds: {}; adapter output:\n{}",
        String::from_utf8_lossy(&body),
        h.adapter.logs()
    );
    assert_eq!(String::from_utf8_lossy(&body), "GET /reset-once ");
    let attempts = raw.requests_to("/reset-once");
    assert_eq!(attempts.len(), 2, "two attempts: {attempts:?}");
    assert_ne!(
        attempts[0].connection, attempts[1].connection,
        "the retry used a fresh connection"
    );
    assert_serves_next(&h, "a reset GET").await;
    assert_eq!(raw.requests_to("/reset-once").len(), 2, "one retry only");
}

// covers ERR-1, CFG-21: the app closes idle keep-alive connections after 1 s, shorter than the
// adapter's pool idle timeout (4 s); a request right after such a close must not fail.
#[tokio::test]
async fn err1_connections_the_app_closed_while_idle_are_not_used_5_rounds() {
    let raw = RawApp::start(Some(Duration::from_secs(1)), RawAnswer::echo).await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let mut second_calls_ok = 0;
    for round in 0..5 {
        for call in ["first", "second"] {
            let body = format!("round {round} {call} call");
            let result = h
                .invoke(events::http_v2("POST", "/keep-alive").body(&body))
                .await;
            let (status, answer) = http_answer(&h, &result);
            let answer = String::from_utf8_lossy(&answer).into_owned();
            assert_eq!(
                status,
                200,
                "round {round}, {call} call: {answer}; adapter output:\n{}",
                h.adapter.logs()
            );
            assert_eq!(answer, format!("POST /keep-alive {body}"));
            if call == "second" {
                second_calls_ok += 1;
                break;
            }
            // The app closes the connection it just served once it has been idle for 1 s.
            let closed_before = raw.record().idle_closed;
            raw.wait("the idle connection closed by the app", TIMEOUT, |record| {
                record.idle_closed > closed_before && record.open == 0
            })
            .await;
        }
    }
    assert_eq!(second_calls_ok, 5, "the second call succeeds 5 of 5");
    assert_eq!(
        raw.requests_to("/keep-alive").len(),
        10,
        "each call reached the app once"
    );
    assert_serves_next(&h, "5 idle closes").await;
}

// covers CFG-21: `AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS=0` disables pooling.
#[tokio::test]
async fn cfg21_pool_idle_timeout_zero_opens_a_new_connection_per_request() {
    let raw = RawApp::start(None, RawAnswer::echo).await;
    let h = Harness::for_port(raw.port(), &[("AWS_LWA_POOL_IDLE_TIMEOUT_SECONDS", "0")]).await;
    for index in 0..5 {
        let body = format!("unpooled {index}");
        let result = h
            .invoke(events::http_v2("POST", "/unpooled").body(&body))
            .await;
        let (status, answer) = http_answer(&h, &result);
        assert_eq!(status, 200);
        assert_eq!(
            String::from_utf8_lossy(&answer),
            format!("POST /unpooled {body}")
        );
        // The adapter closes the connection once the answer is read: nothing is kept.
        raw.wait("the adapter closed its connection", TIMEOUT, |record| {
            record.open == 0
        })
        .await;
    }
    let connections: Vec<usize> = raw
        .requests_to("/unpooled")
        .iter()
        .map(|request| request.connection)
        .collect();
    assert_eq!(connections, [1, 2, 3, 4, 5], "one connection per request");
    assert_serves_next(&h, "unpooled requests").await;
}

// covers CFG-21 (the default, 4 s): the control for the case above, consecutive requests
// share one connection.
#[tokio::test]
async fn cfg21_default_pool_reuses_one_connection_for_consecutive_requests() {
    let raw = RawApp::start(None, RawAnswer::echo).await;
    let h = Harness::for_port(raw.port(), &[]).await;
    for index in 0..5 {
        let body = format!("pooled {index}");
        let result = h
            .invoke(events::http_v2("POST", "/pooled").body(&body))
            .await;
        assert_eq!(http_answer(&h, &result).0, 200);
    }
    let connections: Vec<usize> = raw
        .requests_to("/pooled")
        .iter()
        .map(|request| request.connection)
        .collect();
    assert_eq!(connections, [1; 5], "one kept-alive connection");
    assert_eq!(raw.accepted(), 1);
    assert_serves_next(&h, "pooled requests").await;
}

// covers ERR-1: the app process dies and comes back on the same port.
#[tokio::test]
async fn err1_app_restart_on_the_same_port_502_during_the_outage_then_served() {
    let mut h = Harness::start(&[]).await;
    let port = h.app.port();
    let result = h.invoke(events::http_v2("GET", "/before")).await;
    assert_eq!(http_answer(&h, &result).0, 200, "before the outage");

    // The app process dies: its listener and every connection go away. (A stand-in on another
    // port, never addressed, takes its place in the harness.)
    let placeholder = TestApp::start().await.expect("the test app listens");
    drop(std::mem::replace(&mut h.app, placeholder));
    wait_port_closed(port).await;
    let result = h.invoke(events::http_v2("GET", "/during")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(
        status,
        502,
        "during the outage: {}",
        String::from_utf8_lossy(&body)
    );
    assert!(h.adapter.is_running());

    // The app comes back on the same port.
    h.app = start_app_on(port).await;
    for index in 0..2 {
        let path = format!("/after-restart-{index}");
        let result = h.invoke(events::http_v2("GET", &path)).await;
        let (status, _) = http_answer(&h, &result);
        assert_eq!(status, 200, "invocation {index} after the restart");
        let request = h.app.wait_request(TIMEOUT).await.expect("forwarded");
        assert_eq!(request.path, path);
    }
    assert_serves_next(&h, "an app restart").await;
}

// covers ERR-1 (an incomplete answer), RSP-7's sibling: a body shorter than its
// content-length is a 502, never a truncated 200.
#[tokio::test]
async fn err1_truncated_buffered_body_gives_502_and_the_log_names_the_cause() {
    let raw = RawApp::echo_except("/truncated", |_| RawAnswer::truncated()).await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let result = h.invoke(events::http_v2("GET", "/truncated")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert!(
        !String::from_utf8_lossy(&body).contains("0123456789"),
        "no partial body is passed off as the answer"
    );
    let line = expect_log(&h.adapter, &["reading the app's response body failed"]).await;
    let cause = line
        .split("reading the app's response body failed: ")
        .nth(1)
        .unwrap_or_default();
    assert!(
        line.contains("ERROR") && cause.len() > 5,
        "an error line with the cause: {line}"
    );
    assert_serves_next(&h, "a truncated body").await;
}

// covers STR-3, ERR-1: a truncated body in response_stream mode ends the stream with the error
// trailers after what did arrive.
#[tokio::test]
async fn str3_truncated_streaming_body_ends_with_error_trailers() {
    let raw = RawApp::echo_except("/truncated", |_| RawAnswer::truncated()).await;
    let h = Harness::for_port(raw.port(), &[("AWS_LWA_INVOKE_MODE", "response_stream")]).await;
    let result = h.invoke(events::function_url("GET", "/truncated")).await;
    let streamed = result
        .streamed()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    assert_eq!(streamed.status(), Some(200), "the head had arrived");
    assert_eq!(
        streamed.body, "0123456789",
        "the 10 bytes the app sent before closing arrive"
    );
    assert_eq!(
        streamed.error_type.as_deref(),
        Some("Adapter.AppResponseError"),
        "the error trailer: {streamed:?}; adapter output:\n{}",
        h.adapter.logs()
    );
    assert!(streamed.error_body.is_some(), "{streamed:?}");
    assert!(streamed.completed, "ended with trailers, not cut");
    expect_log(&h.adapter, &["failed mid-stream"]).await;
    assert_serves_next(&h, "a truncated stream").await;
}

// =============================================================================================
// ERR-2: deadline
// =============================================================================================

// covers ERR-2
#[tokio::test]
async fn err2_a_hanging_app_gets_504_posted_before_the_deadline() {
    let h = Harness::start(&[]).await;
    h.app.route("/hang", |_| Reply::never());
    let deadline_ms = epoch_ms_in(Duration::from_millis(1500));
    let invocation = h.cp.invoke_with(
        events::http_v2("GET", "/hang"),
        InvokeOptions {
            deadline_ms: Some(deadline_ms),
            ..Default::default()
        },
    );
    let delivered = invocation.wait_delivered(TIMEOUT).await.unwrap();
    let result = h.result_of(&invocation).await;
    let answered_ms = now_ms();
    let answered = Instant::now();
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("Gateway Timeout"));
    eprintln!(
        "ERR-2: picked up, answered {} ms later, {} ms before the deadline",
        (answered - delivered).as_millis(),
        deadline_ms as i64 - answered_ms as i64
    );
    assert!(
        answered_ms < deadline_ms,
        "the 504 was posted before the deadline: {answered_ms} vs {deadline_ms}"
    );
    assert!(
        answered_ms + 1000 >= deadline_ms,
        "the app had until close to the deadline: answered {} ms early",
        deadline_ms - answered_ms
    );
    assert!(
        h.app.wait_request(TIMEOUT).await.is_some(),
        "the app got it"
    );
    expect_log(&h.adapter, &["did not answer within", "Adapter.AppTimeout"]).await;
    assert_serves_next(&h, "a hang past the deadline").await;
}

async fn slow_answer_with_deadline(deadline_ms: Option<u64>, case: &str) {
    let h = Harness::start(&[]).await;
    h.app.route("/slow", |_| {
        Reply::text("the slow answer").delay(Duration::from_millis(300))
    });
    let started = Instant::now();
    let result = h
        .invoke_with(
            events::http_v2("GET", "/slow"),
            InvokeOptions {
                deadline_ms,
                ..Default::default()
            },
        )
        .await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 200, "{case}: {}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"the slow answer", "{case}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{case}: the app's own delay passed"
    );
    assert_eq!(h.adapter.count_logs("Adapter.AppTimeout"), 0, "{case}");
    assert_serves_next(&h, case).await;
}

// covers ERR-2
#[tokio::test]
async fn err2_an_absent_deadline_applies_no_bound() {
    slow_answer_with_deadline(None, "no deadline").await;
}

// covers ERR-2
#[tokio::test]
async fn err2_a_deadline_already_past_applies_no_bound() {
    slow_answer_with_deadline(Some(now_ms() - 10_000), "a past deadline").await;
}

// =============================================================================================
// RSP-7: response size
// =============================================================================================

fn text_of_size(size: usize) -> String {
    "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(size)
        .collect()
}

// covers RSP-7
#[tokio::test]
async fn rsp7_a_7_mib_response_gives_the_client_a_502_explaining_the_limit() {
    let h = Harness::start(&[]).await;
    h.app.route("/big", |_| Reply::text(text_of_size(7 * MIB)));
    let result = h.invoke(events::http_v2("GET", "/big")).await;
    let (status, body) = http_answer(&h, &result);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("6 MB"), "the body explains the limit: {body}");
    let line = expect_log(&h.adapter, &["bytes as a Lambda payload"]).await;
    let size: usize = line
        .split("response is ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("the log says the size: {line}"));
    assert!(size >= 7 * MIB, "{size} in {line}");
    assert_serves_next(&h, "a 7 MiB response").await;
}

// covers RSP-7, EVT-7
#[tokio::test]
async fn rsp7_a_7_mib_pass_through_result_is_a_response_too_large_error() {
    let h = Harness::start(&[]).await;
    h.app.route("/events", |_| {
        Reply::new(200)
            .header("content-type", "application/json")
            .body(format!("{{\"data\":\"{}\"}}", text_of_size(7 * MIB)))
    });
    let result = h.invoke(events::sqs(&["big please"]).to_string()).await;
    let (error_type, message) = error_of(&h, &result);
    assert_eq!(error_type, "Adapter.ResponseTooLarge", "{message}");
    assert!(message.contains("limit"), "{message}");
    assert_serves_next(&h, "a 7 MiB pass-through result").await;
}

// covers RSP-7
#[tokio::test]
async fn rsp7_a_5_mib_response_passes_normally() {
    let h = Harness::start(&[]).await;
    let text = text_of_size(5 * MIB);
    let expected = text.clone();
    h.app.route("/five", move |_| Reply::text(text.clone()));
    let result = h.invoke(events::http_v2("GET", "/five")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 200);
    assert_eq!(body.len(), 5 * MIB);
    assert!(body == expected.as_bytes(), "the body arrives intact");
    assert_serves_next(&h, "a 5 MiB response").await;
}

// =============================================================================================
// LIF-4: one failure among eight
// =============================================================================================

// covers LIF-4, ERR-2: a hanging request hits its deadline while seven others are in flight;
// they all complete with their own answers afterwards.
#[tokio::test]
async fn lif4_a_hang_hitting_its_deadline_does_not_disturb_seven_others() {
    const WORKERS: usize = 8;
    let app = TestApp::start().await.expect("the test app listens");
    let held = app.route_held_echo("/held");
    app.route("/hang", |_| Reply::never());
    let h = Harness::start_with_app(app, &[("AWS_LAMBDA_MAX_CONCURRENCY", "8")]).await;

    let good: Vec<_> = (0..WORKERS - 1)
        .map(|index| {
            let body = format!("held request {index}");
            let invocation =
                h.cp.invoke(events::http_v2("POST", &format!("/held/{index}")).body(&body));
            (index, body, invocation)
        })
        .collect();
    assert!(
        h.app.wait_requests(WORKERS - 1, TIMEOUT).await.is_some(),
        "7 requests in flight at the app; adapter output:\n{}",
        h.adapter.logs()
    );

    let deadline_ms = epoch_ms_in(Duration::from_millis(1500));
    let hang = h.cp.invoke_with(
        events::http_v2("GET", "/hang"),
        InvokeOptions {
            deadline_ms: Some(deadline_ms),
            ..Default::default()
        },
    );
    let result = h.result_of(&hang).await;
    assert!(now_ms() < deadline_ms, "the 504 came before the deadline");
    assert_eq!(http_answer(&h, &result).0, 504);
    assert!(
        good.iter().all(|(_, _, one)| one.try_result().is_none()),
        "the deadline ended no other invocation"
    );

    assert_eq!(held.release(), WORKERS - 1);
    for (index, body, invocation) in &good {
        let result = h.result_of(invocation).await;
        let (status, answer) = http_answer(&h, &result);
        assert_eq!(status, 200, "held request {index}");
        let echo: Value = serde_json::from_slice(&answer).expect("the echo");
        assert_eq!(echo["path"], format!("/held/{index}"), "its own answer");
        assert_eq!(echo["body"], body.as_str(), "its own body");
    }
    assert!(h.cp.max_next_outstanding() <= WORKERS);
    assert_serves_next(&h, "a hang among eight").await;
}
