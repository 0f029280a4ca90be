//! Response streaming (SPEC STR-1 … STR-4, RSP-4 in streaming mode): the real adapter binary with
//! `AWS_LWA_INVOKE_MODE=response_stream` between the fake control plane, which records every
//! streamed chunk with its arrival time, and an app whose bodies the tests feed chunk by chunk.

mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use lambda_emulator::control_plane::{ChunkReceiver, PRELUDE_DELIMITER};
use serde_json::Value;
use support::outcome::next_chunk;
use support::{
    events, Harness, InvocationHandle, InvocationResult, Reply, StreamedResponse, TIMEOUT,
};

const STREAMING: (&str, &str) = ("AWS_LWA_INVOKE_MODE", "response_stream");

/// The bound for the 18 MiB transfer, which a loaded machine may take a while over.
const LARGE_TIMEOUT: Duration = Duration::from_secs(60);

async fn streaming_harness(extra: &[(&str, &str)]) -> Harness {
    let mut env = vec![STREAMING];
    env.extend_from_slice(extra);
    Harness::start(&env).await
}

/// Waits until the stream has ended after every chunk already received.
async fn expect_stream_end(h: &Harness, chunks: &mut ChunkReceiver) {
    match chunks.recv(TIMEOUT).await {
        Ok(None) => {}
        Ok(Some((_, chunk))) => panic!(
            "an unexpected chunk after the last one: {:?}",
            String::from_utf8_lossy(&chunk)
        ),
        Err(timeout) => panic!(
            "{timeout} (the end of the stream); adapter output:\n{}",
            h.adapter.logs()
        ),
    }
}

/// The first chunk must be the whole JSON prelude followed by the 8 NUL bytes; returns the JSON.
fn prelude_of_first_chunk(chunk: &[u8]) -> Value {
    assert!(
        chunk.ends_with(&PRELUDE_DELIMITER),
        "the first chunk is the prelude and its 8 NUL bytes: {:?}",
        String::from_utf8_lossy(chunk)
    );
    let json = &chunk[..chunk.len() - PRELUDE_DELIMITER.len()];
    serde_json::from_slice(json).unwrap_or_else(|err| {
        panic!(
            "the prelude is JSON ({err}): {:?}",
            String::from_utf8_lossy(json)
        )
    })
}

fn as_stream<'a>(h: &Harness, result: &'a InvocationResult) -> &'a StreamedResponse {
    result
        .streamed()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()))
}

/// A stream that ended properly: terminated, no error trailers.
fn assert_clean_end(streamed: &StreamedResponse) {
    assert!(
        streamed.completed,
        "the stream was terminated properly: {streamed:?}"
    );
    assert!(
        !streamed.failed(),
        "no error trailers on a clean stream: {:?}",
        streamed.trailers
    );
}

fn header_names(prelude: &Value) -> Vec<String> {
    prelude["headers"]
        .as_object()
        .map(|headers| {
            headers
                .keys()
                .map(|name| name.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// Streams 10 SSE events through the adapter one at a time: each must reach the control plane as
/// its own chunk before the next one is written. Returns the write → arrival latencies.
async fn sse_round(h: &Harness, round: &str) -> Vec<Duration> {
    let (reply, body) = Reply::channel(200);
    // A prefix of its own per round: among routes with equal prefixes the harness picks the one
    // added first, not the latest as its documentation says.
    let prefix = format!("/sse-{round}");
    h.app.route_once(
        &prefix,
        reply
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache"),
    );
    let invocation =
        h.cp.invoke(events::function_url("GET", &format!("{prefix}/ticks")));
    let mut chunks = invocation.chunks();

    // STR-1: the prelude leaves as soon as the app's head arrives, before any body byte exists.
    let (_, first) = next_chunk(h, &mut chunks, "the prelude").await;
    let prelude = prelude_of_first_chunk(&first);
    assert_eq!(prelude["statusCode"], 200, "{prelude}");
    assert_eq!(
        prelude["headers"]["content-type"], "text/event-stream",
        "{prelude}"
    );

    let mut sent = Vec::new();
    let mut latencies = Vec::new();
    for n in 0..10 {
        let event = format!("id: {n}\nevent: tick\ndata: {{\"round\":\"{round}\",\"n\":{n}}}\n\n");
        let written = Instant::now();
        assert!(body.send(event.clone()), "the adapter still reads the body");
        let (arrived, chunk) = next_chunk(h, &mut chunks, &format!("SSE event {n}")).await;
        assert_eq!(
            chunk,
            event.as_bytes(),
            "event {n} arrives alone and intact, before the next one is written"
        );
        latencies.push(arrived.saturating_duration_since(written));
        sent.push(event);
    }
    body.finish();
    expect_stream_end(h, &mut chunks).await;

    let result = h.result_of(&invocation).await;
    let streamed = as_stream(h, &result);
    assert_clean_end(streamed);
    assert_eq!(streamed.body, sent.concat().as_bytes());
    // The prelude chunk, then exactly one chunk per event.
    assert_eq!(streamed.chunks.len(), 1 + sent.len(), "{streamed:?}");
    latencies
}

fn describe_latencies(latencies: &[Duration]) -> String {
    let micros: Vec<String> = latencies
        .iter()
        .map(|latency| format!("{}µs", latency.as_micros()))
        .collect();
    micros.join(" ")
}

// covers STR-1
#[tokio::test]
async fn str1_sse_events_arrive_one_by_one_without_being_held_back() {
    let h = streaming_harness(&[]).await;
    // Twice in the same adapter: the second round reuses warm connections.
    for round in ["cold", "warm"] {
        let latencies = sse_round(&h, round).await;
        eprintln!(
            "STR-1 SSE round {round}: app write -> control plane arrival: {}",
            describe_latencies(&latencies)
        );
    }
    assert!(h.adapter.is_running());
}

// covers STR-1 (prelude contents, request headers of the streamed post), RSP-6
#[tokio::test]
async fn str1_prelude_carries_status_headers_and_cookies() {
    let h = streaming_harness(&[]).await;
    // A channel body makes the app answer with `transfer-encoding: chunked`.
    let (reply, body) = Reply::channel(201);
    h.app.route_once(
        "/created",
        reply
            .header("content-type", "text/html; charset=utf-8")
            .header("x-multi", "one")
            .header("x-multi", "two")
            .header("cache-control", "no-store")
            .header("set-cookie", "session=abc; Path=/; HttpOnly")
            .header("set-cookie", "theme=dark; Max-Age=3600"),
    );
    let invocation =
        h.cp.invoke(events::function_url("POST", "/created").body("{}"));
    let mut chunks = invocation.chunks();

    let (_, first) = next_chunk(&h, &mut chunks, "the prelude").await;
    let prelude = prelude_of_first_chunk(&first);
    assert_eq!(prelude["statusCode"], 201, "{prelude}");
    let headers = &prelude["headers"];
    assert_eq!(
        headers["content-type"], "text/html; charset=utf-8",
        "{prelude}"
    );
    assert_eq!(headers["cache-control"], "no-store", "{prelude}");
    assert_eq!(
        headers["x-multi"],
        serde_json::json!(["one", "two"]),
        "a repeated header is a JSON array: {prelude}"
    );
    assert_eq!(
        prelude["cookies"],
        serde_json::json!(["session=abc; Path=/; HttpOnly", "theme=dark; Max-Age=3600"]),
        "every set-cookie is in cookies: {prelude}"
    );
    let names = header_names(&prelude);
    assert!(
        !names.iter().any(|name| name == "set-cookie"),
        "set-cookie is not repeated in headers: {prelude}"
    );
    assert!(
        !names.iter().any(|name| name == "transfer-encoding"),
        "transfer-encoding is not passed on: {prelude}"
    );

    assert!(body.send("<p>hello</p>"));
    let (_, chunk) = next_chunk(&h, &mut chunks, "the body").await;
    assert_eq!(chunk, "<p>hello</p>");
    body.finish();
    expect_stream_end(&h, &mut chunks).await;

    let result = h.result_of(&invocation).await;
    let streamed = as_stream(&h, &result);
    assert_clean_end(streamed);
    assert_eq!(streamed.prelude, prelude);
    assert_eq!(streamed.body, "<p>hello</p>");

    let post = &streamed.headers;
    let header = |name: &str| {
        post.get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("lambda-runtime-function-response-mode").as_deref(),
        Some("streaming"),
        "{post:?}"
    );
    assert_eq!(
        header("content-type").as_deref(),
        Some("application/vnd.awslambda.http-integration-response"),
        "{post:?}"
    );
    assert_eq!(
        header("transfer-encoding").as_deref(),
        Some("chunked"),
        "{post:?}"
    );
    let declared = header("trailer").unwrap_or_default().to_ascii_lowercase();
    assert!(
        declared.contains("lambda-runtime-function-error-type")
            && declared.contains("lambda-runtime-function-error-body"),
        "the error trailers are declared: {post:?}"
    );
}

// covers STR-2
#[tokio::test]
async fn str2_empty_bodies_give_a_complete_terminated_stream() {
    let h = streaming_harness(&[]).await;
    h.app.route("/no-content", |_| Reply::new(204));
    h.app.route("/not-modified", |_| {
        Reply::new(304)
            .header("etag", "\"v1\"")
            .header("cache-control", "max-age=60")
    });
    h.app.route("/redirect", |_| {
        Reply::new(302).header("location", "https://example.com/next")
    });
    h.app.route("/empty", |_| {
        Reply::new(200)
            .header("content-type", "text/plain")
            .body("")
    });
    h.app.route("/empty-chunked", |_| {
        // A chunked body that ends without a single data chunk.
        let (reply, body) = Reply::channel(200);
        body.finish();
        reply.header("content-type", "text/plain")
    });

    let cases = [
        ("204", events::function_url("DELETE", "/no-content/1"), 204),
        ("304", events::function_url("GET", "/not-modified"), 304),
        ("302", events::function_url("GET", "/redirect"), 302),
        // The echo app answers HEAD with its headers and no body.
        ("HEAD", events::function_url("HEAD", "/anything"), 200),
        ("200 empty", events::function_url("GET", "/empty"), 200),
        (
            "200 empty chunked",
            events::function_url("GET", "/empty-chunked"),
            200,
        ),
    ];
    for (case, event, status) in cases {
        let invocation = h.cp.invoke(event);
        let mut chunks = invocation.chunks();
        let (_, first) = next_chunk(&h, &mut chunks, &format!("the prelude ({case})")).await;
        let prelude = prelude_of_first_chunk(&first);
        assert_eq!(prelude["statusCode"], status, "{case}: {prelude}");
        expect_stream_end(&h, &mut chunks).await;

        let result = h.result_of(&invocation).await;
        let streamed = as_stream(&h, &result);
        assert_clean_end(streamed);
        assert_eq!(streamed.status(), Some(status), "{case}");
        assert!(
            streamed.body.is_empty(),
            "{case}: no body bytes, got {:?}",
            streamed.body
        );
        assert_eq!(streamed.chunks.len(), 1, "{case}: only the prelude");
        if case == "302" {
            assert_eq!(
                prelude["headers"]["location"], "https://example.com/next",
                "{prelude}"
            );
        }
        if case == "304" {
            assert_eq!(prelude["headers"]["etag"], "\"v1\"", "{prelude}");
        }
    }
    assert!(h.adapter.is_running());
}

// covers STR-3
#[tokio::test]
async fn str3_app_body_failure_ends_the_stream_with_error_trailers() {
    let h = streaming_harness(&[]).await;
    let (reply, body) = Reply::channel(200);
    h.app.route_once(
        "/breaks",
        reply.header("content-type", "text/plain; charset=utf-8"),
    );
    let invocation = h.cp.invoke(events::function_url("GET", "/breaks"));
    let request_id = invocation.request_id().to_owned();
    let mut chunks = invocation.chunks();
    let (_, first) = next_chunk(&h, &mut chunks, "the prelude").await;
    assert_eq!(prelude_of_first_chunk(&first)["statusCode"], 200);

    // Each part is seen at the control plane before the app breaks the connection, so what was
    // sent before the failure is known to have left the app.
    for part in ["part one, ", "part two"] {
        assert!(body.send(part));
        let (_, chunk) = next_chunk(&h, &mut chunks, part).await;
        assert_eq!(chunk, part);
    }
    body.abort();

    let result = h.result_of(&invocation).await;
    let streamed = as_stream(&h, &result);
    assert_eq!(
        streamed.body, "part one, part two",
        "the chunks sent before the failure arrive"
    );
    assert!(
        streamed.completed,
        "the stream is ended with trailers, not cut: {streamed:?}"
    );
    let error_type = streamed.error_type.clone().unwrap_or_else(|| {
        panic!(
            "trailer Lambda-Runtime-Function-Error-Type is missing: {streamed:?}; adapter output:\n{}",
            h.adapter.logs()
        )
    });
    assert_eq!(error_type, "Adapter.AppResponseError");
    let error_body = streamed.error_body.clone().unwrap_or_else(|| {
        panic!("trailer Lambda-Runtime-Function-Error-Body is missing: {streamed:?}")
    });
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(error_body.as_bytes())
        .unwrap_or_else(|err| panic!("the error body is base64 ({err}): {error_body}"));
    let error: Value = serde_json::from_slice(&decoded).unwrap_or_else(|err| {
        panic!(
            "the error body is JSON ({err}): {}",
            String::from_utf8_lossy(&decoded)
        )
    });
    assert_eq!(error["errorType"], error_type.as_str(), "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .is_some_and(|message| !message.trim().is_empty()),
        "a readable errorMessage: {error}"
    );

    let logged = h
        .adapter
        .wait_for_log_line(TIMEOUT, |line| {
            line.contains("ERROR") && line.contains(&request_id)
        })
        .await;
    assert!(
        logged.is_some(),
        "an error line names the failed invocation {request_id}; adapter output:\n{}",
        h.adapter.logs()
    );

    // The adapter goes on serving.
    assert!(h.adapter.is_running(), "the adapter is still running");
    let result = h.invoke(events::function_url("GET", "/after")).await;
    let streamed = as_stream(&h, &result);
    assert_clean_end(streamed);
    assert_eq!(streamed.status(), Some(200));
    let echo: Value = serde_json::from_slice(&streamed.body).expect("the echo");
    assert_eq!(echo["path"], "/after");
}

// covers STR-4, EVT-7
#[tokio::test]
async fn str4_pass_through_event_gets_a_buffered_json_result() {
    let h = streaming_harness(&[]).await;
    let event = events::sqs(&["first message", "second message"]);
    let result = h.invoke(event.to_string()).await;
    let echo = result.json().unwrap_or_else(|err| {
        panic!(
            "{err}; a pass-through event is answered buffered even in streaming mode; adapter output:\n{}",
            h.adapter.logs()
        )
    });
    assert_eq!(echo["method"], "POST", "{echo}");
    assert_eq!(echo["path"], "/events", "{echo}");
    let forwarded: Value =
        serde_json::from_str(echo["body"].as_str().expect("the event as the body")).unwrap();
    assert_eq!(forwarded, event);
    let headers = result.headers().expect("the post's headers");
    assert!(
        headers
            .get("lambda-runtime-function-response-mode")
            .is_none(),
        "not posted as a stream: {headers:?}"
    );

    // An HTTP event in the same adapter is still streamed.
    let result = h.invoke(events::function_url("GET", "/http")).await;
    assert_clean_end(as_stream(&h, &result));
}

const LONG_TEXT: &str = "Streaming responses are sent as they are produced, so they are never compressed by the adapter. ";

// covers RSP-4, CFG-10
#[tokio::test]
async fn rsp4_compression_is_off_with_one_warning_in_streaming_mode() {
    let h = streaming_harness(&[("AWS_LWA_ENABLE_COMPRESSION", "true")]).await;
    let text = LONG_TEXT.repeat(40);
    let app_text = text.clone();
    h.app.route("/text", move |_| {
        Reply::new(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(app_text.clone())
    });
    for _ in 0..2 {
        let event = events::function_url("GET", "/text").header("accept-encoding", "gzip, br");
        let result = h.invoke(event).await;
        let streamed = as_stream(&h, &result);
        assert_clean_end(streamed);
        let names = header_names(&streamed.prelude);
        assert!(
            !names.iter().any(|name| name == "content-encoding"),
            "not compressed: {}",
            streamed.prelude
        );
        assert!(
            streamed.body == text.as_bytes(),
            "the body arrives as the app sent it ({} bytes, expected {})",
            streamed.body.len(),
            text.len()
        );
    }
    let warnings: Vec<String> = h
        .adapter
        .log_lines()
        .into_iter()
        .map(|line| line.text)
        .filter(|text| text.to_ascii_lowercase().contains("compress"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "exactly one line about compression: {warnings:#?}"
    );
    assert!(
        warnings[0].contains("WARN"),
        "the line is a warning: {}",
        warnings[0]
    );
}

/// FNV-1a, enough to tell two large bodies apart in an assertion message.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `count` chunks of `size` bytes whose contents differ from chunk to chunk.
fn patterned_chunks(count: usize, size: usize) -> Vec<Bytes> {
    (0..count)
        .map(|index| {
            let chunk: Vec<u8> = (0..size)
                .map(|offset| (offset.wrapping_mul(31) ^ index.wrapping_mul(7)) as u8)
                .collect();
            Bytes::from(chunk)
        })
        .collect()
}

// covers STR-1 (a large body streamed through)
#[tokio::test]
async fn str1_large_body_arrives_complete_and_byte_identical() {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 18 * 16; // 18 MiB
    let h = streaming_harness(&[]).await;
    let parts = patterned_chunks(CHUNKS, CHUNK);
    let mut expected = BytesMut::with_capacity(CHUNK * CHUNKS);
    for part in &parts {
        expected.extend_from_slice(part);
    }
    let expected = expected.freeze();
    h.app.route_once(
        "/big",
        Reply::new(200)
            .header("content-type", "application/octet-stream")
            .chunks(parts.into_iter().map(|part| (Duration::ZERO, part))),
    );

    let started = Instant::now();
    let invocation: InvocationHandle = h.cp.invoke(events::function_url("GET", "/big"));
    let result = match invocation.result(LARGE_TIMEOUT).await {
        Ok(result) => result,
        Err(timeout) => panic!("{timeout}; adapter output:\n{}", h.adapter.logs()),
    };
    let elapsed = started.elapsed();
    let streamed = as_stream(&h, &result);
    assert_clean_end(streamed);
    assert_eq!(streamed.status(), Some(200));
    assert_eq!(streamed.body.len(), expected.len(), "every byte arrives");
    assert!(
        streamed.body == expected,
        "the body is byte-identical (checksum {:x}, expected {:x}; first difference at byte {:?})",
        checksum(&streamed.body),
        checksum(&expected),
        streamed
            .body
            .iter()
            .zip(expected.iter())
            .position(|(got, want)| got != want)
    );
    assert!(
        streamed.chunks.len() > 2,
        "the body is streamed, not sent in one piece ({} chunks)",
        streamed.chunks.len()
    );
    eprintln!(
        "STR-1 large body: {} bytes in {} chunks at the control plane, {:.0?}; adapter peak RSS (VmHWM) {:?} KiB",
        streamed.body.len(),
        streamed.chunks.len() - 1,
        elapsed,
        h.adapter.peak_rss_kib()
    );
}
