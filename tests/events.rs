//! Request translation (SPEC EVT-1 … EVT-8): what the app receives for each Lambda event, with the
//! real adapter binary between the fake control plane and a recording app.

mod support;

use std::time::Duration;

use bytes::Bytes;
use lambda_emulator::control_plane::epoch_ms_in;
use serde_json::{json, Value};
use support::events;
use support::{Harness, InvokeOptions, RecordedRequest, Reply, TestApp, TIMEOUT};

/// Invokes with `event`, expects a 200 HTTP response, and returns what the app received.
async fn forward(h: &Harness, event: impl Into<Bytes>) -> RecordedRequest {
    forward_with(h, event, InvokeOptions::default()).await
}

async fn forward_with(
    h: &Harness,
    event: impl Into<Bytes>,
    options: InvokeOptions,
) -> RecordedRequest {
    let result = h.invoke_with(event, options).await;
    let response = result
        .json()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
    assert_eq!(
        response["statusCode"], 200,
        "the echo app answers 200: {response}"
    );
    h.app
        .wait_request(TIMEOUT)
        .await
        .expect("the app received the forwarded request")
}

/// Query pairs grouped by key in key order, keeping the order of the values of each key (the
/// order of distinct keys in a JSON map carries no meaning).
fn pairs_by_key(query: &str) -> Vec<&str> {
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_by_key(|pair| pair.split('=').next().unwrap_or_default());
    pairs
}

// covers EVT-1
#[tokio::test]
async fn evt1_v2_and_function_url_path_and_query_byte_for_byte() {
    let h = Harness::start(&[]).await;

    let req = forward(&h, events::http_v2("GET", "/x").raw_query("q=a+b&q=%20")).await;
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/x");
    assert_eq!(req.query.as_deref(), Some("q=a+b&q=%20"));
    assert_eq!(req.uri, "/x?q=a+b&q=%20");

    let req = forward(
        &h,
        events::function_url("PUT", "/items/1").raw_query("b=2&a=1&b=3&c=%2B+x&flag"),
    )
    .await;
    assert_eq!(req.method, "PUT");
    assert_eq!(req.uri, "/items/1?b=2&a=1&b=3&c=%2B+x&flag");

    // An already encoded rawPath stays encoded once.
    let req = forward(&h, events::http_v2("DELETE", "/caf%C3%A9/a%20b")).await;
    assert_eq!(req.method, "DELETE");
    assert_eq!(req.path, "/caf%C3%A9/a%20b");
    assert_eq!(req.uri, "/caf%C3%A9/a%20b");

    // Empty query: no `?` at all.
    let req = forward(&h, events::function_url("GET", "/plain").raw_query("")).await;
    assert_eq!(req.uri, "/plain");
    assert_eq!(req.query, None);
}

// covers EVT-1
#[tokio::test]
async fn evt1_rest_v1_query_is_reencoded_from_decoded_values() {
    let h = Harness::start(&[]).await;

    // multiValueQueryStringParameters {"q":["a b","c+d"]} (decoded, as API Gateway sends them).
    let event = events::rest_v1("GET", "/x")
        .query("q", "a b")
        .query("q", "c+d");
    assert_eq!(
        event.build()["multiValueQueryStringParameters"]["q"],
        json!(["a b", "c+d"])
    );
    let req = forward(&h, event).await;
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/x");
    assert_eq!(req.uri, "/x?q=a%20b&q=c%2Bd");

    // Several keys, repeated ones kept in order.
    let req = forward(
        &h,
        events::rest_v1("POST", "/search")
            .query("tag", "x")
            .query("name", "Zoë & co")
            .query("tag", "y/z"),
    )
    .await;
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/search");
    assert_eq!(
        pairs_by_key(req.query.as_deref().expect("a query")),
        ["name=Zo%C3%AB%20%26%20co", "tag=x", "tag=y%2Fz"]
    );

    // Only the single-value map present: it is used.
    let mut event = events::rest_v1("GET", "/single").query("q", "x y").build();
    event["multiValueQueryStringParameters"] = Value::Null;
    assert_eq!(event["queryStringParameters"]["q"], "x y");
    let req = forward(&h, event.to_string()).await;
    assert_eq!(req.uri, "/single?q=x%20y");

    // The multi-value map is preferred over the single-value one (which holds the last value).
    let req = forward(
        &h,
        events::rest_v1("GET", "/both")
            .query("k", "1")
            .query("k", "2"),
    )
    .await;
    assert_eq!(req.uri, "/both?k=1&k=2");

    // No query at all: no `?`.
    let req = forward(&h, events::rest_v1("GET", "/none")).await;
    assert_eq!(req.uri, "/none");
    assert_eq!(req.query, None);
}

// covers EVT-1
#[tokio::test]
async fn evt1_rest_v1_path_is_encoded_once_and_has_no_stage_prefix() {
    let h = Harness::start(&[]).await;

    let req = forward(&h, events::rest_v1("GET", "/café").stage("prod")).await;
    assert_eq!(req.path, "/caf%C3%A9");
    assert_eq!(req.uri, "/caf%C3%A9");

    let req = forward(&h, events::rest_v1("PATCH", "/users/42").stage("prod")).await;
    assert_eq!(req.method, "PATCH");
    assert_eq!(req.uri, "/users/42");
}

// covers EVT-1
#[tokio::test]
async fn evt1_alb_query_is_passed_as_the_client_encoded_it() {
    let h = Harness::start(&[]).await;

    // Multi-value mode: {"q":["a%20b","c+d"]} → q=a%20b&q=c+d.
    let event = events::alb_multi_value("GET", "/x").raw_query("q=a%20b&q=c+d");
    assert_eq!(
        event.build()["multiValueQueryStringParameters"]["q"],
        json!(["a%20b", "c+d"])
    );
    let req = forward(&h, event).await;
    assert_eq!(req.method, "GET");
    assert_eq!(req.uri, "/x?q=a%20b&q=c+d");

    // Single-value mode: one value per key, still as encoded by the client.
    let event = events::alb("POST", "/y").raw_query("q=a%20b&r=c+d");
    assert_eq!(event.build()["queryStringParameters"]["q"], "a%20b");
    let req = forward(&h, event).await;
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/y");
    assert_eq!(
        pairs_by_key(req.query.as_deref().expect("a query")),
        ["q=a%20b", "r=c+d"]
    );

    let req = forward(&h, events::alb("GET", "/z").raw_query("q=c+d")).await;
    assert_eq!(req.uri, "/z?q=c+d");

    // Empty query: no `?`.
    let req = forward(&h, events::alb("GET", "/empty")).await;
    assert_eq!(req.uri, "/empty");
    let req = forward(&h, events::alb_multi_value("GET", "/empty-multi")).await;
    assert_eq!(req.uri, "/empty-multi");
}

// covers EVT-2
#[tokio::test]
async fn evt2_rest_v1_forwards_every_value_of_multi_value_headers() {
    let h = Harness::start(&[]).await;
    let event = events::rest_v1("GET", "/h")
        .header("Host", "api.example.com")
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .header("X-Multi", "three")
        .header("Accept", "application/json")
        .cookie("a=1")
        .cookie("b=2");
    let built = event.build();
    // `headers` holds only the last value; `multiValueHeaders` holds them all.
    assert_eq!(built["headers"]["X-Multi"], "three");
    let req = forward(&h, event).await;
    assert_eq!(req.header_all("x-multi"), ["one", "two", "three"]);
    assert_eq!(req.header_all("accept"), ["application/json"]);
    assert_eq!(req.header_all("host"), ["api.example.com"]);
    assert_eq!(req.header_all("cookie"), ["a=1; b=2"]);
}

// covers EVT-2
#[tokio::test]
async fn evt2_alb_single_and_multi_value_headers() {
    let h = Harness::start(&[]).await;

    let req = forward(
        &h,
        events::alb_multi_value("GET", "/h")
            .header("host", "lb.example.com")
            .header("x-multi", "one")
            .header("x-multi", "two")
            .cookie("s=1"),
    )
    .await;
    assert_eq!(req.header_all("x-multi"), ["one", "two"]);
    assert_eq!(req.header_all("host"), ["lb.example.com"]);
    assert_eq!(req.header_all("cookie"), ["s=1"]);

    let req = forward(
        &h,
        events::alb("GET", "/h")
            .header("host", "lb.example.com")
            .header("x-one", "1")
            .header("user-agent", "curl/8.5.0"),
    )
    .await;
    assert_eq!(req.header_all("x-one"), ["1"]);
    assert_eq!(req.header_all("user-agent"), ["curl/8.5.0"]);
    assert_eq!(req.header_all("host"), ["lb.example.com"]);
}

// covers EVT-2
#[tokio::test]
async fn evt2_v2_cookies_become_one_cookie_header_and_host_is_kept() {
    let h = Harness::start(&[]).await;
    for event in [
        events::http_v2("GET", "/c"),
        events::function_url("GET", "/c"),
    ] {
        let req = forward(
            &h,
            event
                .header("host", "a1b2c3d4e5.lambda-url.us-east-1.on.aws")
                .header("x-custom", "value")
                .cookie("a=1")
                .cookie("b=2")
                .cookie("c=3"),
        )
        .await;
        assert_eq!(req.header_all("cookie"), ["a=1; b=2; c=3"]);
        assert_eq!(
            req.header_all("host"),
            ["a1b2c3d4e5.lambda-url.us-east-1.on.aws"]
        );
        assert_eq!(req.header_all("x-custom"), ["value"]);
    }
}

// covers EVT-3
#[tokio::test]
async fn evt3_bodies_text_binary_and_empty() {
    let h = Harness::start(&[]).await;
    let all_bytes: Vec<u8> = (0..=255).collect();
    let text = "héllo wörld\n{\"k\": [1, 2]}\r\n";

    for source in events::HTTP_SOURCES {
        let req = forward(&h, source("POST", "/text").body(text)).await;
        assert_eq!(req.body_text(), text, "text body as-is");

        let req = forward(&h, source("POST", "/binary").binary_body(&all_bytes)).await;
        assert_eq!(&req.body[..], &all_bytes[..], "base64 body decoded exactly");

        let req = forward(&h, source("GET", "/empty")).await;
        assert!(req.body.is_empty(), "no body: {:?}", req.body);
    }
}

// covers EVT-4
#[tokio::test]
async fn evt4_context_headers_replace_client_values_for_every_source() {
    let h = Harness::start(&[]).await;
    for (index, source) in events::HTTP_SOURCES.into_iter().enumerate() {
        let event = source("GET", "/ctx")
            .header("x-amzn-request-context", "{\"forged\":true}")
            .header("x-amzn-lambda-context", "{\"forged\":true}")
            .header("x-amz-tenant-id", "forged-tenant")
            .request_id(&format!("api-request-{index}"))
            .build();
        let request_id = format!("lambda-request-{index}");
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:test:live";
        let deadline = epoch_ms_in(Duration::from_secs(120));
        let options = InvokeOptions {
            request_id: Some(request_id.clone()),
            deadline_ms: Some(deadline),
            invoked_function_arn: Some(arn.to_owned()),
            ..Default::default()
        };
        let req = forward_with(&h, event.to_string(), options).await;

        let contexts = req.header_all("x-amzn-request-context");
        assert_eq!(
            contexts.len(),
            1,
            "one request context header: {contexts:?}"
        );
        assert!(!contexts[0].contains('\n'), "compact JSON: {}", contexts[0]);
        let context: Value = serde_json::from_str(&contexts[0])
            .unwrap_or_else(|err| panic!("request context is JSON ({err}): {}", contexts[0]));
        assert_eq!(context, event["requestContext"], "event {index}");

        let lambda_contexts = req.header_all("x-amzn-lambda-context");
        assert_eq!(lambda_contexts.len(), 1, "{lambda_contexts:?}");
        let lambda: Value = serde_json::from_str(&lambda_contexts[0])
            .unwrap_or_else(|err| panic!("lambda context is JSON ({err}): {}", lambda_contexts[0]));
        assert_eq!(lambda["request_id"], request_id.as_str(), "{lambda}");
        assert_eq!(lambda["invoked_function_arn"], arn, "{lambda}");
        assert_eq!(lambda["deadline"], deadline, "{lambda}");
        assert!(lambda.get("forged").is_none(), "{lambda}");

        assert_eq!(
            req.header_all("x-amz-tenant-id"),
            Vec::<String>::new(),
            "no tenant id in the invocation: the client's value must not reach the app"
        );
    }
}

// covers EVT-4
#[tokio::test]
async fn evt4_tenant_id_is_set_from_the_invocation() {
    let h = Harness::start(&[]).await;
    let event = events::http_v2("GET", "/tenant").header("x-amz-tenant-id", "forged-tenant");
    let options = InvokeOptions {
        tenant_id: Some("tenant-42".to_owned()),
        ..Default::default()
    };
    let req = forward_with(&h, event.clone(), options).await;
    assert_eq!(req.header_all("x-amz-tenant-id"), ["tenant-42"]);

    let event = events::rest_v1("GET", "/tenant").header("X-Amz-Tenant-Id", "forged-tenant");
    let options = InvokeOptions {
        tenant_id: Some("tenant-43".to_owned()),
        ..Default::default()
    };
    let req = forward_with(&h, event, options).await;
    assert_eq!(req.header_all("x-amz-tenant-id"), ["tenant-43"]);

    // Without a tenant id: absent.
    let req = forward(&h, events::http_v2("GET", "/no-tenant")).await;
    assert!(req.header("x-amz-tenant-id").is_none(), "{:?}", req.headers);
}

// covers EVT-5
#[tokio::test]
async fn evt5_base_path_is_removed_once_and_only_as_whole_segments() {
    let h = Harness::start(&[("AWS_LWA_REMOVE_BASE_PATH", "/prod")]).await;
    let cases = [
        ("/prod", "", "/"),
        ("/prod", "a=1", "/?a=1"),
        ("/prod/", "", "/"),
        ("/prod/x", "", "/x"),
        ("/prod/x", "q=a+b&q=2", "/x?q=a+b&q=2"),
        ("/production", "", "/production"),
        ("/production/x", "a=1", "/production/x?a=1"),
        ("/prod/prod/x", "", "/prod/x"),
        ("/other/prod", "", "/other/prod"),
    ];
    for (path, query, expected) in cases {
        let req = forward(&h, events::http_v2("GET", path).raw_query(query)).await;
        assert_eq!(req.uri, expected, "rawPath {path:?} query {query:?}");
    }
    // The same for a REST event's `path`.
    let req = forward(&h, events::rest_v1("GET", "/prod/items").query("k", "v w")).await;
    assert_eq!(req.uri, "/items?k=v%20w");
    let req = forward(&h, events::rest_v1("GET", "/production")).await;
    assert_eq!(req.uri, "/production");
}

// covers EVT-6
#[tokio::test]
async fn evt6_authorization_source_header_is_moved_to_authorization() {
    let h = Harness::start(&[("AWS_LWA_AUTHORIZATION_SOURCE", "x-custom-auth")]).await;

    let req = forward(
        &h,
        events::http_v2("GET", "/auth").header("x-custom-auth", "Bearer abc.def"),
    )
    .await;
    assert_eq!(req.header_all("authorization"), ["Bearer abc.def"]);
    assert!(req.header("x-custom-auth").is_none(), "{:?}", req.headers);

    // The moved value replaces an authorization the client sent as well.
    let req = forward(
        &h,
        events::rest_v1("GET", "/auth")
            .header("Authorization", "Basic b2xkOm9sZA==")
            .header("X-Custom-Auth", "Bearer new"),
    )
    .await;
    assert_eq!(req.header_all("authorization"), ["Bearer new"]);
    assert!(req.header("x-custom-auth").is_none(), "{:?}", req.headers);

    // Absent source header: the request goes through unchanged.
    let req = forward(
        &h,
        events::http_v2("POST", "/plain")
            .raw_query("a=1")
            .header("authorization", "Basic dXNlcjpwdw==")
            .header("x-other", "1")
            .body("payload"),
    )
    .await;
    assert_eq!(req.method, "POST");
    assert_eq!(req.uri, "/plain?a=1");
    assert_eq!(req.header_all("authorization"), ["Basic dXNlcjpwdw=="]);
    assert_eq!(req.header_all("x-other"), ["1"]);
    assert_eq!(req.body_text(), "payload");

    let req = forward(&h, events::alb("GET", "/none")).await;
    assert!(req.header("authorization").is_none(), "{:?}", req.headers);
    assert_eq!(req.uri, "/none");
}

// covers EVT-7
#[tokio::test]
async fn evt7_sqs_event_is_posted_to_events_and_the_result_is_the_apps_json() {
    let app = TestApp::builder()
        .route("/events", |_| {
            Reply::json(&json!({"batchItemFailures": []}))
        })
        .start()
        .await
        .expect("the app listens");
    let h = Harness::start_with_app(app, &[]).await;
    let event = events::sqs(&["hello", "{\"n\":1}"]);

    let result = h.invoke(event.to_string()).await;
    let body = result
        .body_bytes()
        .unwrap_or_else(|| panic!("a buffered response, got {}", result.describe()));
    assert_eq!(&body[..], br#"{"batchItemFailures":[]}"#);
    assert_eq!(
        result.json().expect("JSON"),
        json!({"batchItemFailures": []})
    );

    let req = h.app.wait_request(TIMEOUT).await.expect("forwarded");
    assert_eq!(req.method, "POST");
    assert_eq!(req.uri, "/events");
    assert_eq!(req.header_all("content-type"), ["application/json"]);
    assert_eq!(req.json().expect("a JSON body"), event);
}

// covers EVT-7
#[tokio::test]
async fn evt7_pass_through_path_and_bare_json_values() {
    let app = TestApp::builder()
        .route("/", |req| Reply::json(&json!({"got": req.json()})))
        .start()
        .await
        .expect("the app listens");
    let h = Harness::start_with_app(app, &[("AWS_LWA_PASS_THROUGH_PATH", "/sqs")]).await;

    let eventbridge = json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "111122223333",
        "time": "2017-12-22T18:43:48Z",
        "region": "us-west-1",
        "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
        "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
    });
    for event in [
        events::sqs(&["one"]),
        eventbridge,
        json!(42),
        json!("text"),
        json!([1, "two", null]),
    ] {
        let result = h.invoke(event.to_string()).await;
        let response = result
            .json()
            .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()));
        assert_eq!(response, json!({"got": event}), "result for {event}");

        let req = h.app.wait_request(TIMEOUT).await.expect("forwarded");
        assert_eq!(req.method, "POST", "{event}");
        assert_eq!(req.uri, "/sqs", "{event}");
        assert_eq!(req.header_all("content-type"), ["application/json"]);
        assert_eq!(req.json(), Some(event.clone()), "raw event as the body");
        assert!(req.header("x-amzn-lambda-context").is_some());
    }
}

// covers EVT-8
#[tokio::test]
async fn evt8_malformed_events_are_invalid_event_errors_and_the_next_invocation_is_served() {
    let h = Harness::start(&[]).await;
    let cases: Vec<(&str, Value)> = vec![
        (
            "v1 invalid base64 body",
            events::rest_v1("POST", "/bad")
                .base64_body("!!not base64!!")
                .build(),
        ),
        (
            "v2 invalid base64 body",
            events::http_v2("POST", "/bad").base64_body("%%%%").build(),
        ),
        (
            "ALB invalid base64 body",
            events::alb("POST", "/bad").base64_body("a").build(),
        ),
        ("v1 invalid method", events::rest_v1("GE T", "/bad").build()),
        ("v2 invalid method", events::http_v2("GE T", "/bad").build()),
        (
            "v1 header value with a newline",
            events::rest_v1("GET", "/bad")
                .header("x-bad", "a\nb")
                .build(),
        ),
        (
            "v2 header value with a newline",
            events::http_v2("GET", "/bad")
                .header("x-bad", "a\r\nx-injected: 1")
                .build(),
        ),
        (
            "ALB header value with a newline",
            events::alb_multi_value("GET", "/bad")
                .header("x-bad", "a\nb")
                .build(),
        ),
    ];
    for (index, (case, event)) in cases.into_iter().enumerate() {
        let result = h.invoke(event.to_string()).await;
        let (_header_error_type, body) = result
            .error()
            .unwrap_or_else(|err| panic!("{case}: {err}; adapter output:\n{}", h.adapter.logs()));
        // The readable type is the body's `errorType` (what the caller of Invoke sees);
        // lambda_runtime sends the `Lambda-Runtime-Function-Error-Type` header as `unhandled`.
        assert_eq!(body["errorType"], "Adapter.InvalidEvent", "{case}: {body}");
        assert!(
            body["errorMessage"].as_str().is_some_and(|m| !m.is_empty()),
            "{case}: a readable message: {body}"
        );
        assert!(
            h.adapter.is_running(),
            "{case}: the adapter is still running"
        );

        let path = format!("/after-{index}");
        let req = forward(&h, events::http_v2("GET", &path)).await;
        assert_eq!(req.uri, path, "{case}: the next invocation is served");
    }
    assert!(
        h.app.requests().iter().all(|req| req.path != "/bad"),
        "no malformed event reached the app"
    );
}
