//! Faults on the wire between the adapter and the app, with the real binary, the fake control
//! plane and a hand-written app ([`RawApp`], probed through a separate ready app) that records the raw heads it receives and answers
//! what a test scripts (SPEC EVT-8, ERR-1, ERR-2, RSP-8): request smuggling attempts in an event,
//! interim `1xx` answers, a body ended by the connection's close, `content-length` with
//! `transfer-encoding`, a head that never ends, big response heads, an event with 10,000 headers.
//! Every case checks that the next invocation is served.

mod support;

use std::time::Duration;

use lambda_emulator::control_plane::epoch_ms_in;
use lambda_emulator::testing::raw_app::{RawAnswer, RawApp};
use serde_json::{json, Value};
use support::outcome::http_answer;
use support::{events, Harness, InvocationResult, InvokeOptions};

/// An invocation after a fault: answered by the app, on its own path.
async fn assert_next_is_served(h: &Harness, raw: &RawApp) {
    let result = h.invoke(events::http_v2("GET", "/after-the-fault")).await;
    let (status, body) = http_answer(h, &result);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!raw.requests_to("/after-the-fault").is_empty());
}

/// Whether any header line of any request the app got is `name: …`.
fn app_saw_header(raw: &RawApp, name: &str) -> bool {
    raw.requests().iter().any(|request| {
        request.head.split("\r\n").skip(1).any(|line| {
            line.split_once(':')
                .is_some_and(|(header, _)| header.trim().eq_ignore_ascii_case(name))
        })
    })
}

// covers EVT-8, EVT-1: CR/LF in a header value, a header name, the path or the query never
// becomes a header or a second request at the app.
#[tokio::test]
async fn evt8_request_smuggling_attempts_never_reach_the_app_as_headers_or_requests() {
    let raw = RawApp::start(None, RawAnswer::echo).await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let injected = "x-injected";
    let cases: Vec<(&str, Value)> = vec![
        (
            "header value",
            json!({"version": "2.0", "rawPath": "/v", "rawQueryString": "",
                "headers": {"x-a": "1\r\nx-injected: yes"},
                "requestContext": {"http": {"method": "GET"}}}),
        ),
        (
            "header name",
            json!({"version": "2.0", "rawPath": "/n", "rawQueryString": "",
                "headers": {"x-a\r\nx-injected": "yes"},
                "requestContext": {"http": {"method": "GET"}}}),
        ),
        (
            "rest multi-value header",
            json!({"httpMethod": "GET", "path": "/m", "requestContext": {"stage": "prod"},
                "multiValueHeaders": {"x-a": ["1", "2\r\nx-injected: yes"]}}),
        ),
        (
            "path",
            json!({"version": "2.0",
                "rawPath": "/p HTTP/1.1\r\nx-injected: yes\r\n\r\nGET /smuggled",
                "rawQueryString": "", "requestContext": {"http": {"method": "GET"}}}),
        ),
        (
            "query",
            json!({"version": "2.0", "rawPath": "/q",
                "rawQueryString": "a=1 HTTP/1.1\r\nx-injected: yes\r\n\r\nGET /smuggled?b=2",
                "requestContext": {"http": {"method": "GET"}}}),
        ),
        (
            "rest path",
            json!({"httpMethod": "GET", "path": "/r\r\nx-injected: yes", "requestContext": {"stage": "prod"}}),
        ),
    ];
    for (case, event) in cases {
        let before = raw.requests().len();
        let result = h.invoke(event.to_string()).await;
        match &result {
            // Refused: nothing reached the app.
            InvocationResult::Error { error_type, .. } => {
                assert_eq!(error_type, "Adapter.InvalidEvent", "{case}");
                assert_eq!(raw.requests().len(), before, "{case}: refused, not sent");
            }
            // Forwarded: one request, the bytes percent-encoded.
            _ => {
                let (status, body) = http_answer(&h, &result);
                assert_eq!(status, 200, "{case}: {}", String::from_utf8_lossy(&body));
                let sent = &raw.requests()[before..];
                assert_eq!(sent.len(), 1, "{case}: one request: {sent:?}");
                assert!(sent[0].path.contains("%0D%0A"), "{case}: {}", sent[0].path);
            }
        }
        assert!(
            !app_saw_header(&raw, injected),
            "{case}: {:?}",
            raw.requests()
        );
        assert!(raw.requests_to("/smuggled").is_empty(), "{case}");
    }
    assert_next_is_served(&h, &raw).await;
}

// covers ERR-1: interim 1xx answers before the real one are skipped.
#[tokio::test]
async fn err1_interim_1xx_answers_before_the_real_one_are_skipped() {
    let raw = RawApp::echo_except("/interim", |_| {
        RawAnswer::Reply(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n\
              HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nfinal"
                .to_vec(),
        )
    })
    .await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let result = h.invoke(events::http_v2("GET", "/interim")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!((status, body.as_slice()), (201, &b"final"[..]));
    assert_next_is_served(&h, &raw).await;
}

// covers ERR-1: an HTTP/1.0 answer without a length ends when the app closes the connection.
#[tokio::test]
async fn err1_an_http_1_0_body_ended_by_the_connection_close_arrives_whole() {
    let raw = RawApp::echo_except("/old", |_| {
        RawAnswer::WriteAndClose(
            b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it, until the close"
                .to_vec(),
        )
    })
    .await;
    let h = Harness::for_port(raw.port(), &[]).await;
    for _ in 0..2 {
        let result = h.invoke(events::http_v2("GET", "/old")).await;
        let (status, body) = http_answer(&h, &result);
        assert_eq!(
            (status, body.as_slice()),
            (200, &b"all of it, until the close"[..])
        );
    }
    assert_next_is_served(&h, &raw).await;
}

// covers ERR-1: `content-length` with `transfer-encoding: chunked` is read as chunked (RFC 9112),
// and the connection is not used again, so no later answer is read out of step.
#[tokio::test]
async fn err1_content_length_with_chunked_is_read_as_chunked_and_never_desynchronises() {
    let raw = RawApp::echo_except("/both", |_| {
        RawAnswer::Reply(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\
              transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
        )
    })
    .await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let result = h.invoke(events::http_v2("GET", "/both")).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    for n in 0..3 {
        let path = format!("/after-both-{n}");
        let result = h.invoke(events::http_v2("GET", &path)).await;
        let (status, body) = http_answer(&h, &result);
        assert_eq!(status, 200);
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!("GET {path} "),
            "in step"
        );
    }
}

// covers ERR-2: a response head that never ends is bounded by the deadline.
#[tokio::test]
async fn err2_a_response_head_that_never_ends_gets_a_504_before_the_deadline() {
    let raw = RawApp::echo_except("/unfinished", |_| {
        RawAnswer::WriteAndHold(b"HTTP/1.1 200 OK\r\nx-a: 1\r\n".to_vec())
    })
    .await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let deadline = epoch_ms_in(Duration::from_millis(1500));
    let result = h
        .invoke_with(
            events::http_v2("GET", "/unfinished"),
            InvokeOptions {
                deadline_ms: Some(deadline),
                ..InvokeOptions::default()
            },
        )
        .await;
    let (status, _) = http_answer(&h, &result);
    assert_eq!(status, 504);
    assert!(
        h.adapter.count_logs("did not answer within") >= 1,
        "{}",
        h.adapter.logs()
    );
    assert_next_is_served(&h, &raw).await;
}

/// A `200` with `cookies` Set-Cookie lines and `others` other header lines of about 250 bytes.
fn big_head(cookies: usize, others: usize) -> Vec<u8> {
    let mut head =
        String::from("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n");
    let filler = "v".repeat(260);
    for n in 0..cookies {
        head.push_str(&format!("set-cookie: c{n}={filler}; Path=/\r\n"));
    }
    for n in 0..others {
        head.push_str(&format!("x-h-{n}: {filler}\r\n"));
    }
    head.push_str("\r\nok");
    head.into_bytes()
}

// covers RSP-8: 1,000 header lines and more than 256 KiB of head pass unchanged; 500 cookies
// all arrive, in `cookies` (HTTP API, Function URL) and in `multiValueHeaders` (REST).
#[tokio::test]
async fn rsp8_five_hundred_cookies_and_a_256_kib_head_pass_unchanged() {
    let head = big_head(500, 500);
    assert!(head.len() > 256 * 1024, "{} bytes of head", head.len());
    let raw = RawApp::echo_except("/big", move |_| RawAnswer::Reply(head.clone())).await;
    let h = Harness::for_port(raw.port(), &[]).await;

    for event in [
        events::http_v2("GET", "/big"),
        events::function_url("GET", "/big"),
    ] {
        let result = h.invoke(event).await;
        let response = result.json().expect("a buffered response");
        assert_eq!(response["statusCode"], 200);
        let cookies = response["cookies"].as_array().expect("cookies");
        assert_eq!(cookies.len(), 500);
        assert!(cookies[499].as_str().unwrap().starts_with("c499=vvv"));
        assert!(response["headers"]["x-h-499"]
            .as_str()
            .unwrap()
            .starts_with("vvv"));
    }
    let result = h.invoke(events::rest_v1("GET", "/big")).await;
    let response = result.json().expect("a buffered response");
    let cookies = response["multiValueHeaders"]["set-cookie"]
        .as_array()
        .expect("cookies");
    assert_eq!(cookies.len(), 500);
    assert_next_is_served(&h, &raw).await;
}

// covers RSP-8: past the documented bound (1,024 header lines), a clean 502 whose log line
// names the limit; the next invocation is served.
#[tokio::test]
async fn rsp8_past_the_bound_a_clean_502_names_the_limit() {
    let head = big_head(0, 3_000);
    let raw = RawApp::echo_except("/huge", move |_| RawAnswer::Reply(head.clone())).await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let result = h.invoke(events::http_v2("GET", "/huge")).await;
    let (status, _) = http_answer(&h, &result);
    assert_eq!(status, 502);
    let logs = h.adapter.logs();
    let named: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("1024 header lines"))
        .collect();
    assert_eq!(named.len(), 1, "one line names the limit: {logs}");
    assert!(named[0].contains("384 KiB"), "{}", named[0]);
    assert_next_is_served(&h, &raw).await;
}

// covers EVT-2: an event with 10,000 headers reaches the app with every one of them.
#[tokio::test]
async fn evt2_an_event_with_ten_thousand_headers_is_forwarded_whole() {
    let raw = RawApp::start(None, RawAnswer::echo).await;
    let h = Harness::for_port(raw.port(), &[]).await;
    let headers: serde_json::Map<String, Value> = (0..10_000)
        .map(|n| (format!("x-many-{n}"), Value::from(format!("value {n}"))))
        .collect();
    let event = json!({"version": "2.0", "rawPath": "/many", "rawQueryString": "",
        "headers": headers, "requestContext": {"http": {"method": "GET"}}});
    let result = h.invoke(event.to_string()).await;
    let (status, _) = http_answer(&h, &result);
    assert_eq!(status, 200);
    let sent = raw.requests_to("/many");
    assert_eq!(sent.len(), 1);
    let lines = sent[0].head.matches("\r\nx-many-").count();
    assert_eq!(lines, 10_000);
    assert!(sent[0].head.contains("\r\nx-many-9999: value 9999\r\n"));
    assert_next_is_served(&h, &raw).await;
}
