//! Which sources stream, and in which shape (SPEC STR-5, STR-4): the real adapter binary with
//! `AWS_LWA_INVOKE_MODE=response_stream` between the fake control plane and a real app.
//!
//! API Gateway REST APIs (integration `responseTransferMode: STREAM`) and Function URLs invoke the
//! function with `InvokeWithResponseStream` and get a stream, each with the prelude its front door
//! reads; HTTP APIs (told apart from Function URLs by `requestContext.domainName`) and ALB invoke
//! it with a plain Invoke and get the buffered JSON document, the adapter's own 502 included.

mod support;

use lambda_emulator::control_plane::PRELUDE_DELIMITER;
use serde_json::{json, Value};
use support::events;
use support::outcome::next_chunk;
use support::{Harness, InvocationResult, Reply, StreamedResponse};

const STREAMING: (&str, &str) = ("AWS_LWA_INVOKE_MODE", "response_stream");

/// A cookie whose `Expires` has a comma: joining cookies with `, ` would break it.
const DATED_COOKIE: &str = "theme=dark; Expires=Wed, 21 Oct 2026 07:28:00 GMT";

async fn streaming_harness() -> Harness {
    Harness::start(&[STREAMING]).await
}

/// The app's answer in every test: a single-valued header, a repeated one, two cookies, and a
/// chunked body.
fn reply_with_repeated_headers(body: &'static str) -> Reply {
    Reply::new(200)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("set-cookie", "session=abc; Path=/; HttpOnly")
        .header("set-cookie", DATED_COOKIE)
        .chunks([(std::time::Duration::ZERO, body)])
}

fn streamed<'a>(h: &Harness, result: &'a InvocationResult) -> &'a StreamedResponse {
    result
        .streamed()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()))
}

fn buffered(h: &Harness, result: &InvocationResult) -> Value {
    result
        .json()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()))
}

/// `prelude` without the `date` header the app's HTTP server adds on its own.
fn without_date(prelude: &Value) -> Value {
    let mut prelude = prelude.clone();
    if let Some(headers) = prelude["headers"].as_object_mut() {
        headers.remove("date");
    }
    prelude
}

/// An HTTP API event on a custom domain: still no Function URL.
fn http_api_on_custom_domain(method: &str, path: &str) -> Value {
    let mut event = events::http_v2(method, path).build();
    event["requestContext"]["domainName"] = json!("api.example.com");
    event
}

// covers STR-5, STR-1, RSP-6
#[tokio::test]
async fn str5_rest_api_streams_with_the_rest_metadata_prelude() {
    let h = streaming_harness().await;
    let (reply, body) = Reply::channel(200);
    h.app.route_once(
        "/rest-stream",
        reply
            .header("content-type", "text/event-stream")
            .header("x-multi", "one")
            .header("x-multi", "two")
            .header("set-cookie", "session=abc; Path=/; HttpOnly")
            .header("set-cookie", DATED_COOKIE),
    );
    let invocation = h.cp.invoke(events::rest_v1("GET", "/rest-stream/ticks"));
    let mut chunks = invocation.chunks();

    // The prelude leaves with the app's head, before any body byte exists.
    let (_, first) = next_chunk(&h, &mut chunks, "the prelude").await;
    assert!(
        first.ends_with(&PRELUDE_DELIMITER),
        "the first chunk is the prelude and its 8 NUL bytes: {:?}",
        String::from_utf8_lossy(&first)
    );
    let prelude: Value = serde_json::from_slice(&first[..first.len() - PRELUDE_DELIMITER.len()])
        .expect("the prelude is JSON");
    // The API Gateway guide: `headers` holds single values only; repeated headers and cookies go
    // to `multiValueHeaders`.
    assert_eq!(
        without_date(&prelude),
        json!({
            "statusCode": 200,
            "headers": {"content-type": "text/event-stream"},
            "multiValueHeaders": {
                "x-multi": ["one", "two"],
                "set-cookie": ["session=abc; Path=/; HttpOnly", DATED_COOKIE]
            }
        })
    );

    for n in 0..3 {
        let event = format!("data: {n}\n\n");
        assert!(body.send(event.clone()), "the adapter still reads the body");
        let (_, chunk) = next_chunk(&h, &mut chunks, &format!("event {n}")).await;
        assert_eq!(chunk, event.as_bytes(), "event {n} arrives on its own");
    }
    body.finish();

    let result = h.result_of(&invocation).await;
    let stream = streamed(&h, &result);
    assert!(stream.completed && !stream.failed(), "{stream:?}");
    assert_eq!(stream.body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

// covers STR-5 (Function URLs keep `headers` + `cookies`)
#[tokio::test]
async fn str5_function_url_streams_with_headers_and_cookies() {
    let h = streaming_harness().await;
    h.app
        .route_once("/url-stream", reply_with_repeated_headers("streamed"));
    let result = h.invoke(events::function_url("GET", "/url-stream")).await;
    let stream = streamed(&h, &result);
    assert!(stream.completed && !stream.failed(), "{stream:?}");
    assert_eq!(
        without_date(&stream.prelude),
        json!({
            "statusCode": 200,
            "headers": {"content-type": "text/plain; charset=utf-8", "x-multi": ["one", "two"]},
            "cookies": ["session=abc; Path=/; HttpOnly", DATED_COOKIE]
        })
    );
    assert_eq!(stream.body, "streamed");
}

/// The buffered HTTP API (v2) document the app's answer becomes.
fn assert_buffered_v2(h: &Harness, result: &InvocationResult, body: &str) {
    let response = buffered(h, result);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["x-multi"], "one, two", "{response}");
    assert_eq!(
        response["cookies"],
        json!(["session=abc; Path=/; HttpOnly", DATED_COOKIE]),
        "{response}"
    );
    assert_eq!(response["body"], body, "{response}");
    assert_eq!(response["isBase64Encoded"], false, "{response}");
}

// covers STR-5 (HTTP APIs invoke without streaming)
#[tokio::test]
async fn str5_http_api_gets_a_buffered_answer_in_streaming_mode() {
    let h = streaming_harness().await;
    h.app
        .route_once("/api-default", reply_with_repeated_headers("whole"));
    let result = h.invoke(events::http_v2("GET", "/api-default")).await;
    assert_buffered_v2(&h, &result, "whole");

    h.app
        .route_once("/api-custom", reply_with_repeated_headers("whole too"));
    let event = http_api_on_custom_domain("GET", "/api-custom");
    let result = h.invoke(event.to_string()).await;
    assert_buffered_v2(&h, &result, "whole too");
}

// covers STR-5 (ALB invokes without streaming)
#[tokio::test]
async fn str5_alb_gets_a_buffered_answer_in_streaming_mode() {
    let h = streaming_harness().await;
    h.app
        .route_once("/alb-single", reply_with_repeated_headers("alb"));
    let response = buffered(&h, &h.invoke(events::alb("GET", "/alb-single")).await);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["statusDescription"], "200 OK", "{response}");
    assert_eq!(response["headers"]["x-multi"], "one, two", "{response}");
    assert_eq!(response["body"], "alb", "{response}");

    h.app
        .route_once("/alb-multi", reply_with_repeated_headers("alb multi"));
    let response = buffered(
        &h,
        &h.invoke(events::alb_multi_value("GET", "/alb-multi")).await,
    );
    assert_eq!(
        response["multiValueHeaders"]["set-cookie"],
        json!(["session=abc; Path=/; HttpOnly", DATED_COOKIE]),
        "{response}"
    );
    assert_eq!(response["body"], "alb multi", "{response}");
}

// covers STR-4 (pass-through stays buffered next to the streaming sources)
#[tokio::test]
async fn str4_pass_through_stays_buffered_in_streaming_mode() {
    let h = streaming_harness().await;
    h.app
        .route_once("/events", Reply::json(&json!({"batchItemFailures": []})));
    let result = h.invoke(events::sqs(&["hello"]).to_string()).await;
    assert_eq!(buffered(&h, &result), json!({"batchItemFailures": []}));
}

// covers STR-5, ERR-1 (the adapter's own answers follow the same decision)
#[tokio::test]
async fn str5_the_adapters_own_502_streams_only_to_streaming_sources() {
    let h = streaming_harness().await;
    // Every request under this prefix loses its connection, the retry's too.
    h.app.route("/dropped", |_| Reply::drop_connection());

    let result = h.invoke(events::rest_v1("GET", "/dropped/rest")).await;
    let stream = streamed(&h, &result);
    assert_eq!(stream.status(), Some(502), "{stream:?}");
    assert_eq!(
        stream.prelude["headers"]["content-type"], "text/plain; charset=utf-8",
        "{stream:?}"
    );
    assert_eq!(
        stream.prelude["multiValueHeaders"],
        json!({}),
        "REST shape: {stream:?}"
    );
    assert!(stream.prelude.get("cookies").is_none(), "{stream:?}");

    let result = h.invoke(events::function_url("GET", "/dropped/url")).await;
    let stream = streamed(&h, &result);
    assert_eq!(stream.status(), Some(502), "{stream:?}");
    assert_eq!(stream.prelude["cookies"], json!([]), "{stream:?}");

    for (source, event) in [
        ("HTTP API", events::http_v2("GET", "/dropped/api")),
        ("ALB", events::alb("GET", "/dropped/alb")),
    ] {
        let response = buffered(&h, &h.invoke(event).await);
        assert_eq!(response["statusCode"], 502, "{source}: {response}");
        assert!(
            response["body"]
                .as_str()
                .is_some_and(|body| body.starts_with("Bad Gateway")),
            "{source}: {response}"
        );
    }
    assert!(h.adapter.is_running());
}
