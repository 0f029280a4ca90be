//! VPC Lattice targets (SPEC EVT-9, with EVT-4, EVT-8, STR-5): the real adapter binary between
//! the fake control plane and a real app, fed the event shapes of the VPC Lattice User Guide
//! ("Lambda functions as targets": "Receive events from the VPC Lattice service" for the v2 and v1
//! events, "Respond to the VPC Lattice service" for the answer), written out here with values of
//! our own.
//!
//! The app gets the request the client sent (every header value, the query byte for byte, the
//! body decoded) and, for v2, the event's `requestContext` as `x-amzn-request-context`; Lattice
//! gets `statusCode`, `statusDescription`, `headers` (one string per name: repeated headers joined
//! with `, `, each `Set-Cookie` under its own spelling of the name), `body` and `isBase64Encoded`.

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use support::events::{lattice_v2, LATTICE_SERVICE_HOST};
use support::{Harness, InvocationResult, RecordedRequest, Reply, TIMEOUT};

/// A cookie whose `Expires` has a comma: joining cookies with `, ` would break it.
const DATED_COOKIE: &str = "theme=dark; Expires=Wed, 21 Oct 2026 07:28:00 GMT";

/// The v1 event structure: snake-case fields, one string per header (repeated values combined
/// with `, `), the last value per query key, and no request context.
fn lattice_v1(method: &str, raw_path: &str) -> Value {
    json!({
        "raw_path": raw_path,
        "method": method,
        "headers": {
            "host": LATTICE_SERVICE_HOST,
            "accept": "text/html, application/json;q=0.9",
            "x-forwarded-for": "10.0.1.7"
        },
        "query_string_parameters": {"query1": "value2"},
        "body": "",
        "is_base64_encoded": false
    })
}

async fn request_for(h: &Harness, event: &Value) -> (InvocationResult, RecordedRequest) {
    let result = h.invoke(event.to_string()).await;
    let request = h.app.wait_request(TIMEOUT).await.unwrap_or_else(|| {
        panic!(
            "no request reached the app ({}); adapter output:\n{}",
            result.describe(),
            h.adapter.logs()
        )
    });
    (result, request)
}

fn response_json(h: &Harness, result: &InvocationResult) -> Value {
    result
        .json()
        .unwrap_or_else(|err| panic!("{err}; adapter output:\n{}", h.adapter.logs()))
}

// covers EVT-9, EVT-1, EVT-2, EVT-3, EVT-4
#[tokio::test]
async fn evt9_lattice_v2_request_reaches_the_app_with_every_value_and_its_context() {
    let h = Harness::start(&[]).await;
    let mut event = lattice_v2(
        "POST",
        "/orders/caf%C3%A9?query1=value1&query2=a%20b&query1=value3",
    );
    event["headers"]["content-type"] = json!(["application/octet-stream"]);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode([0u8, 1, 2, 0xff]));
    event["isBase64Encoded"] = json!(true);
    let (result, request) = request_for(&h, &event).await;

    assert_eq!(request.method, "POST");
    assert_ne!(request.path, "/events", "not posted as a queue message");
    assert_eq!(
        request.uri, "/orders/caf%C3%A9?query1=value1&query2=a%20b&query1=value3",
        "path and query byte for byte"
    );
    assert_eq!(
        request.header_all("accept"),
        ["text/html", "application/json;q=0.9"]
    );
    assert_eq!(
        request.header("host").as_deref(),
        Some(LATTICE_SERVICE_HOST)
    );
    assert_eq!(
        request.header("x-forwarded-for").as_deref(),
        Some("10.0.1.7")
    );
    assert_eq!(&request.body[..], &[0u8, 1, 2, 0xff]);
    let context: Value = serde_json::from_str(
        &request
            .header("x-amzn-request-context")
            .expect("the request context header"),
    )
    .expect("the request context is JSON");
    assert_eq!(context, event["requestContext"]);
    assert!(request.header("x-amzn-lambda-context").is_some());

    let response = response_json(&h, &result);
    assert_eq!(response["statusCode"], 200, "{response}");
}

// covers EVT-9, EVT-1, EVT-2, EVT-3, EVT-4
#[tokio::test]
async fn evt9_lattice_v1_request_reaches_the_app_and_no_client_can_forge_its_context() {
    let h = Harness::start(&[]).await;
    let mut event = lattice_v1("PUT", "/path/to/resource?query1=value1&query1=value2");
    // A client's own request context must not reach the app as if Lattice had sent it.
    event["headers"]["x-amzn-request-context"] = json!(r#"{"identity":{"principal":"forged"}}"#);
    event["headers"]["content-type"] = json!("application/json");
    event["body"] = json!(r#"{"quantity": 2}"#);
    let (result, request) = request_for(&h, &event).await;

    assert_eq!(request.method, "PUT");
    assert_eq!(
        request.uri, "/path/to/resource?query1=value1&query1=value2",
        "every value of the query, from raw_path"
    );
    assert_eq!(
        request.header_all("accept"),
        ["text/html, application/json;q=0.9"]
    );
    assert_eq!(request.body_text(), r#"{"quantity": 2}"#);
    assert_eq!(
        request.header("x-amzn-request-context"),
        None,
        "v1 events carry no request context"
    );
    let response = response_json(&h, &result);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["statusDescription"], "200 OK", "{response}");
}

/// The app's answer: a repeated header, three cookies, a binary body.
fn app_answer() -> Reply {
    Reply::new(201)
        .header("content-type", "image/png")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("set-cookie", "session=abc; Path=/; HttpOnly")
        .header("set-cookie", DATED_COOKIE)
        .header("set-cookie", "c=3")
        .body(vec![0x89, b'P', b'N', b'G', 0x00, 0xff])
}

/// The Lattice response the adapter makes of [`app_answer`].
fn assert_lattice_response(response: &Value) {
    assert_eq!(response["statusCode"], 201, "{response}");
    assert_eq!(response["statusDescription"], "201 Created", "{response}");
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(response["body"].as_str().expect("a body"))
            .expect("base64"),
        [0x89, b'P', b'N', b'G', 0x00, 0xff]
    );
    let headers = response["headers"].as_object().expect("headers");
    assert_eq!(headers["content-type"], "image/png", "{response}");
    assert_eq!(headers["x-multi"], "one, two", "{response}");
    // Every cookie, one string each, under names that differ only in case.
    let mut cookies: Vec<&str> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.as_str().expect("one string per name"))
        .collect();
    cookies.sort_unstable();
    assert_eq!(
        cookies,
        ["c=3", "session=abc; Path=/; HttpOnly", DATED_COOKIE],
        "{response}"
    );
    assert!(
        headers.values().all(Value::is_string),
        "one string per name, as the Lattice guide shows: {response}"
    );
    assert!(response.get("multiValueHeaders").is_none(), "{response}");
    assert!(response.get("cookies").is_none(), "{response}");
}

// covers EVT-9, RSP-1, RSP-3
#[tokio::test]
async fn evt9_lattice_response_keeps_repeated_headers_and_every_cookie() {
    let h = Harness::start(&[]).await;
    h.app.route("/answer", |_| app_answer());
    for (version, event) in [
        ("v2", lattice_v2("GET", "/answer/v2")),
        ("v1", lattice_v1("GET", "/answer/v1")),
    ] {
        let result = h.invoke(event.to_string()).await;
        let response = response_json(&h, &result);
        eprintln!("EVT-9 {version}: {response}");
        assert_lattice_response(&response);
    }
}

// covers EVT-9, STR-5 (Lattice invokes without streaming)
#[tokio::test]
async fn str5_lattice_gets_a_buffered_answer_in_streaming_mode() {
    let h = Harness::start(&[("AWS_LWA_INVOKE_MODE", "response_stream")]).await;
    h.app.route("/answer", |_| app_answer());
    for event in [
        lattice_v2("GET", "/answer/v2"),
        lattice_v1("GET", "/answer/v1"),
    ] {
        let result = h.invoke(event.to_string()).await;
        assert!(
            matches!(result, InvocationResult::Response { .. }),
            "a buffered answer, not a stream: {}",
            result.describe()
        );
        assert_lattice_response(&response_json(&h, &result));
    }
}

// covers EVT-9, EVT-8
#[tokio::test]
async fn evt9_malformed_lattice_events_are_invalid_events_and_the_next_is_served() {
    let h = Harness::start(&[]).await;
    let mut bad_body = lattice_v2("POST", "/bad");
    bad_body["body"] = json!("!!not base64!!");
    bad_body["isBase64Encoded"] = json!(true);
    let bad_method = lattice_v1("GE T", "/bad");
    let mut bad_header = lattice_v2("GET", "/bad");
    bad_header["headers"]["x-bad"] = json!(["a\r\nx-injected: 1"]);
    for (case, event) in [
        ("invalid base64 body", bad_body),
        ("invalid method", bad_method),
        ("header value with a newline", bad_header),
    ] {
        let result = h.invoke(event.to_string()).await;
        let (error_type, body) = result
            .error()
            .unwrap_or_else(|err| panic!("{case}: {err}; adapter output:\n{}", h.adapter.logs()));
        assert_eq!(error_type, "Adapter.InvalidEvent", "{case}: {body}");
    }
    assert!(
        h.app.requests().is_empty(),
        "nothing reached the app: {:?}",
        h.app.requests()
    );
    let result = h.invoke(lattice_v2("GET", "/after").to_string()).await;
    assert_eq!(response_json(&h, &result)["statusCode"], 200);
    assert!(h.adapter.is_running());
}
