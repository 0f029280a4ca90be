//! Fault injection against the real `lambda-adapter` binary, the events' side: malformed events
//! (SPEC EVT-8) and what failure paths may log (ERR-4). Every case checks that the process goes on
//! and that the next invocation is served.

mod support;

use std::time::Duration;

use bytes::Bytes;
use lambda_emulator::control_plane::epoch_ms_in;
use serde_json::Value;
use support::outcome::{assert_serves_next, error_of, http_answer};
use support::{events, wait_log_count, Harness, InvocationResult, InvokeOptions, Reply, TIMEOUT};

const SECRET_TOKEN: &str = "SECRET-TOKEN-123";
const SECRET_COOKIE: &str = "SECRET-COOKIE-456";

// =============================================================================================
// EVT-8: malformed events
// =============================================================================================

/// The event fails as `Adapter.InvalidEvent` with a readable message, reaches nothing, and the
/// next invocation is served.
async fn assert_invalid_event(case: &str, event: impl Into<Bytes>) {
    let h = Harness::start(&[]).await;
    let result = h.invoke(event).await;
    let (error_type, message) = error_of(&h, &result);
    assert_eq!(error_type, "Adapter.InvalidEvent", "{case}: {message}");
    assert!(
        !message.trim().is_empty(),
        "{case}: a readable errorMessage"
    );
    assert!(
        h.app.requests().is_empty(),
        "{case}: nothing reached the app: {:?}",
        h.app.requests()
    );
    eprintln!("{case}: {error_type}: {message}");
    assert_serves_next(&h, case).await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_invalid_base64_body_is_an_invalid_event() {
    assert_invalid_event(
        "invalid base64 body",
        events::http_v2("POST", "/bad").base64_body("!!not base64!!"),
    )
    .await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_an_event_that_is_not_json_is_an_invalid_event() {
    assert_invalid_event("not JSON", "this is not json").await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_invalid_method_is_an_invalid_event() {
    assert_invalid_event("invalid method", events::rest_v1("GE T", "/bad")).await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_header_name_with_a_space_is_an_invalid_event() {
    assert_invalid_event(
        "header name with a space",
        events::http_v2("GET", "/bad").header("x bad", "1"),
    )
    .await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_header_value_with_a_newline_is_an_invalid_event() {
    assert_invalid_event(
        "header value with a newline",
        events::rest_v1("GET", "/bad").header("x-bad", "a\r\nx-injected: 1"),
    )
    .await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_v2_cookie_with_a_newline_is_an_invalid_event() {
    assert_invalid_event(
        "v2 cookie with a newline",
        events::http_v2("GET", "/bad").cookie("a=1\nb=2"),
    )
    .await;
}

// covers EVT-8
#[tokio::test]
async fn evt8_an_empty_event_is_an_invalid_event() {
    assert_invalid_event("empty event", Bytes::new()).await;
}

// covers EVT-8, EVT-7: a `requestContext` that is a string makes no HTTP event; the event is
// JSON, so it is passed through as it is, not refused.
#[tokio::test]
async fn evt8_request_context_string_is_passed_through_not_refused() {
    let h = Harness::start(&[]).await;
    let event = serde_json::json!({
        "httpMethod": "GET",
        "path": "/ctx",
        "headers": {"accept": "*/*"},
        "requestContext": "not an object",
        "body": null,
    });
    let result = h.invoke(event.to_string()).await;
    let echo = result
        .json()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    let request = h
        .app
        .wait_request(TIMEOUT)
        .await
        .expect("the event reached the app");
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/events", "the pass-through path");
    assert_eq!(request.header_all("content-type"), ["application/json"]);
    assert_eq!(request.json(), Some(event), "the raw event as the body");
    assert_eq!(
        echo["path"], "/events",
        "the app's JSON is the result: {echo}"
    );
    assert_serves_next(&h, "a string requestContext").await;
}

// =============================================================================================
// ERR-4: no secrets in logs
// =============================================================================================

fn with_secrets(event: events::HttpEvent) -> events::HttpEvent {
    event
        .header("authorization", &format!("Bearer {SECRET_TOKEN}"))
        .header("cookie", &format!("session={SECRET_COOKIE}"))
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SECRET_TOKEN, SECRET_COOKIE] {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{text}"
        );
    }
}

// covers ERR-4
#[tokio::test]
async fn err4_failure_paths_never_log_authorization_or_cookie_values() {
    let h = Harness::start(&[("AWS_LWA_ERROR_STATUS_CODES", "500")]).await;
    h.app.route("/drop", |_| Reply::drop_connection());
    h.app
        .route("/fail", |_| Reply::new(500).body("internal error"));
    h.app.route("/hang", |_| Reply::never());

    let bad_header = |event: events::HttpEvent| with_secrets(event).header("x-bad", "a\nb");
    let cases: Vec<(&str, Bytes, InvokeOptions)> = vec![
        (
            "502, v2 POST",
            with_secrets(events::http_v2("POST", "/drop").body("x"))
                .cookie(&format!("id={SECRET_COOKIE}"))
                .to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "502, v1 GET (retried)",
            with_secrets(events::rest_v1("GET", "/drop")).to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: a bad header value elsewhere (v2)",
            bad_header(events::http_v2("GET", "/bad")).to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: a bad header value elsewhere (ALB)",
            bad_header(events::alb_multi_value("GET", "/bad")).to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: a bad header name elsewhere (v1)",
            with_secrets(events::rest_v1("GET", "/bad"))
                .header("x bad", "1")
                .to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: the secret cookie next to a cookie with a newline",
            with_secrets(events::http_v2("GET", "/bad"))
                .cookie(&format!("id={SECRET_COOKIE}"))
                .cookie("x=1\n2")
                .to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "invalid event: the authorization value itself has a newline",
            events::http_v2("GET", "/bad")
                .header("authorization", &format!("Bearer {SECRET_TOKEN}\nx"))
                .to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "error status 500",
            with_secrets(events::http_v2("GET", "/fail")).to_bytes(),
            InvokeOptions::default(),
        ),
        (
            "504 past the deadline",
            with_secrets(events::http_v2("GET", "/hang")).to_bytes(),
            InvokeOptions {
                deadline_ms: Some(epoch_ms_in(Duration::from_millis(1000))),
                ..Default::default()
            },
        ),
    ];
    let failures = cases.len();
    for (case, event, options) in cases {
        let result = h.invoke_with(event, options).await;
        match &result {
            InvocationResult::Error { body, .. } => {
                assert_no_secret(&format!("the error reported for {case}"), &body.to_string());
            }
            InvocationResult::Response { .. } => {
                let (status, body) = http_answer(&h, &result);
                assert!(status >= 500, "{case}: {status}");
                assert_no_secret(case, &String::from_utf8_lossy(&body));
            }
            other => panic!("{case}: {}", other.describe()),
        }
    }
    // Every failure has logged its ERROR line.
    wait_log_count(&h.adapter, "ERROR", failures).await;
    assert_serves_next(&h, "the secret-bearing failures").await;
    assert_no_secret("the adapter's log", &h.adapter.logs());
}

// covers ERR-4, EVT-8: a malformed header map (a string where a list of values belongs: v1
// `multiValueHeaders`, v2 `cookies`) is refused, and the refusal does not quote the values.
#[tokio::test]
async fn err4_malformed_header_lists_are_refused_without_quoting_their_values() {
    let h = Harness::start(&[]).await;
    let mut v1 = events::rest_v1("GET", "/malformed").build();
    v1["multiValueHeaders"]["authorization"] = Value::from(format!("Bearer {SECRET_TOKEN}"));
    let mut v2 = events::http_v2("GET", "/malformed").build();
    v2["cookies"] = Value::from(format!("session={SECRET_COOKIE}"));
    let mut reported = String::new();
    for (case, event) in [("v1 multiValueHeaders", v1), ("v2 cookies", v2)] {
        let result = h.invoke(event.to_string()).await;
        let (error_type, message) = error_of(&h, &result);
        assert_eq!(error_type, "Adapter.InvalidEvent", "{case}: {message}");
        reported.push_str(&format!("{case}: {message}\n"));
    }
    wait_log_count(&h.adapter, "Adapter.InvalidEvent", 2).await;
    assert_serves_next(&h, "malformed header lists").await;
    assert_no_secret("the errors reported to Lambda", &reported);
    assert_no_secret("the adapter's log", &h.adapter.logs());
}
