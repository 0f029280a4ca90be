//! What the tests read from an invocation's result: the app's answer in the source's shape
//! (RSP-1, STR-1), a stream's chunks as they come, an error's type and message (EVT-8, RSP-5),
//! and that the adapter goes on serving after a fault (ERR-3, LIF-6).

use std::time::Instant;

use bytes::Bytes;
use lambda_emulator::control_plane::ChunkReceiver;
use serde_json::Value;

use super::adapter::assert_no_panic;
use super::{events, Harness, InvocationResult, TIMEOUT};

/// The JSON echo the test app answered with, from a buffered HTTP response.
pub fn echo(result: &InvocationResult) -> Value {
    let response = result.json().expect("a buffered response");
    assert_eq!(response["statusCode"], 200, "response: {response}");
    serde_json::from_slice(&events::response_body(&response)).expect("the app's JSON echo")
}

/// Status and body of an HTTP answer, buffered or streamed; panics with the adapter's output for
/// anything else.
pub fn http_answer(h: &Harness, result: &InvocationResult) -> (u16, Vec<u8>) {
    match result {
        InvocationResult::Response { .. } => {
            let response = result
                .json()
                .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
            let status = response["statusCode"].as_u64().unwrap_or_else(|| {
                panic!(
                    "no statusCode in {response}; adapter output:\n{}",
                    h.adapter.logs()
                )
            });
            (status as u16, events::response_body(&response))
        }
        InvocationResult::Streamed(streamed) => {
            assert!(
                !streamed.failed(),
                "the stream ended with an error: {}; adapter output:\n{}",
                result.describe(),
                h.adapter.logs()
            );
            let status = streamed
                .status()
                .unwrap_or_else(|| panic!("no statusCode in the prelude: {}", result.describe()));
            (status, streamed.body.to_vec())
        }
        other => panic!(
            "expected an HTTP answer, got {}; adapter output:\n{}",
            other.describe(),
            h.adapter.logs()
        ),
    }
}

/// `(errorType of the body, errorMessage)` of an error result.
pub fn error_of(h: &Harness, result: &InvocationResult) -> (String, String) {
    let (_, body) = result
        .error()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    (
        body["errorType"].as_str().unwrap_or_default().to_owned(),
        body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The process still runs, and a fresh invocation is answered 200 by the app with what was sent.
pub async fn assert_serves_next(h: &Harness, tag: &str) {
    assert!(
        h.adapter.is_running(),
        "the adapter is still running after {tag}; its output:\n{}",
        h.adapter.logs()
    );
    let slug: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = format!("/next-after-{slug}");
    let body = format!("next body after {tag}");
    let result = h.invoke(events::http_v2("POST", &path).body(&body)).await;
    let (status, answer) = http_answer(h, &result);
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(
        status, 200,
        "the next invocation after {tag} is served: {answer}"
    );
    assert!(
        answer.contains(&path) && answer.contains(&body),
        "the next invocation's own answer after {tag}: {answer}"
    );
    assert!(h.adapter.is_running());
    assert_no_panic(&h.adapter);
}

/// The next streamed chunk from `chunks`; panics with the adapter's output when none comes
/// within [`TIMEOUT`] or the stream ended instead.
pub async fn next_chunk(h: &Harness, chunks: &mut ChunkReceiver, what: &str) -> (Instant, Bytes) {
    match chunks.recv(TIMEOUT).await {
        Ok(Some(chunk)) => chunk,
        Ok(None) => panic!(
            "the stream ended before {what}; adapter output:\n{}",
            h.adapter.logs()
        ),
        Err(timeout) => panic!("{timeout} ({what}); adapter output:\n{}", h.adapter.logs()),
    }
}
