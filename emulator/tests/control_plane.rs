//! The control plane against a plain HTTP/1.1 client: each test pins one rule of the Runtime or
//! Extensions API wire protocol (PROTOCOL.md).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::Full;
use hyper::body::Frame;
use lambda_emulator::control_plane::{
    ControlPlane, ControlPlaneConfig, ErrorOrigin, InvocationResult, InvokeOptions,
    MAX_BUFFERED_RESPONSE_BYTES,
};
use lambda_emulator::testing::client::{call, connect, send, Answer};
use lambda_emulator::testing::ChannelBody;
use serde_json::{json, Value};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(5);
const REGISTER_PATH: &str = "/2020-01-01/extension/register";
const EVENT_NEXT_PATH: &str = "/2020-01-01/extension/event/next";

/// `POST path` with `headers` and `body`.
async fn post(
    cp: &ControlPlane,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    call(cp.addr(), Method::POST, path, headers, body).await
}

/// `POST /2020-01-01/extension/register` with `headers` and `body`.
async fn post_register(
    cp: &ControlPlane,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    post(cp, REGISTER_PATH, headers, body).await
}

/// `GET /2020-01-01/extension/event/next` with `headers`.
async fn get_event_next(addr: SocketAddr, headers: &[(&str, &str)]) -> Answer {
    call(addr, Method::GET, EVENT_NEXT_PATH, headers, Bytes::new()).await
}

/// `/2018-06-01/runtime/invocation/{id}/{what}` (`response` or `error`).
fn invocation_path(id: &str, what: &str) -> String {
    format!("/2018-06-01/runtime/invocation/{id}/{what}")
}

/// `answer` is `status` with this `errorType` in its JSON body.
fn assert_refused(answer: &Answer, status: StatusCode, error_type: &str) {
    assert_eq!(answer.status, status);
    assert_eq!(answer.json()["errorType"], error_type);
}

async fn register(cp: &ControlPlane, events: Value) -> String {
    let answer = post_register(
        cp,
        &[("Lambda-Extension-Name", "lambda-adapter")],
        json!({ "events": events }).to_string(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    answer.headers["lambda-extension-identifier"]
        .to_str()
        .expect("ascii id")
        .to_owned()
}

async fn next(addr: SocketAddr) -> Answer {
    call(
        addr,
        Method::GET,
        "/2018-06-01/runtime/invocation/next",
        &[],
        Bytes::new(),
    )
    .await
}

#[tokio::test]
async fn register_without_name_is_forbidden() {
    let cp = ControlPlane::start().await.unwrap();
    let answer = post_register(&cp, &[], r#"{"events":[]}"#).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "Extension.InvalidExtensionName",
    );
    assert!(cp.registrations().is_empty());
}

#[tokio::test]
async fn register_answers_identifier_and_function_and_is_recorded() {
    let cp = ControlPlane::start().await.unwrap();
    let answer = post_register(
        &cp,
        &[
            ("Lambda-Extension-Name", "lambda-adapter"),
            ("Lambda-Extension-Accept-Feature", "accountId"),
        ],
        r#"{"events":["SHUTDOWN"]}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let id = answer
        .header("lambda-extension-identifier")
        .expect("identifier header");
    assert_eq!(id.len(), 36);
    assert_eq!(
        answer.json(),
        json!({"functionName": "test", "functionVersion": "$LATEST", "handler": "bootstrap", "accountId": "123456789012"})
    );

    let registration = cp.wait_registered(WAIT).await.expect("registered");
    assert_eq!(registration.name, "lambda-adapter");
    assert_eq!(registration.id, id);
    assert_eq!(registration.events, ["SHUTDOWN"]);
    assert_eq!(
        registration.headers["lambda-extension-accept-feature"],
        "accountId"
    );
}

#[tokio::test]
async fn account_id_only_when_asked() {
    let cp = ControlPlane::start().await.unwrap();
    let answer = post_register(&cp, &[("Lambda-Extension-Name", "x")], r#"{"events":[]}"#).await;
    assert!(answer.json().get("accountId").is_none());
}

#[tokio::test]
async fn event_next_with_unknown_id_is_forbidden() {
    let cp = ControlPlane::start().await.unwrap();
    let answer = get_event_next(cp.addr(), &[("Lambda-Extension-Identifier", "nope")]).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "Extension.InvalidExtensionId",
    );
}

#[tokio::test]
async fn event_next_returns_shutdown_only_to_subscribers() {
    let cp = ControlPlane::start().await.unwrap();
    let subscriber = register(&cp, json!(["SHUTDOWN"])).await;
    let bystander = register(&cp, json!([])).await;
    let park = |id: String| {
        let addr = cp.addr();
        tokio::spawn(
            async move { get_event_next(addr, &[("Lambda-Extension-Identifier", &id)]).await },
        )
    };
    let mut subscribed_call = park(subscriber.clone());
    let mut bystander_call = park(bystander.clone());
    assert!(cp.wait_parked(WAIT).await.is_some());
    assert!(cp.wait_extension_parked(&subscriber, WAIT).await);
    assert!(cp.wait_extension_parked(&bystander, WAIT).await);
    cp.invoke("{}"); // nobody subscribed to INVOKE: no event
    cp.shutdown("spindown");

    let answer = tokio::time::timeout(WAIT, &mut subscribed_call)
        .await
        .expect("SHUTDOWN delivered")
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    let event = answer.json();
    assert_eq!(event["eventType"], "SHUTDOWN");
    assert_eq!(event["shutdownReason"], "spindown");
    assert!(event["deadlineMs"].as_u64().is_some());

    // With `events: []` the call never returns; a short bounded wait shows it is still blocked.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut bystander_call)
            .await
            .is_err()
    );
    assert!(cp.is_parked(&bystander));
}

#[tokio::test]
async fn invoke_subscribers_get_invoke_events() {
    let cp = ControlPlane::start().await.unwrap();
    let id = register(&cp, json!(["INVOKE"])).await;
    let invocation = cp.invoke_with(
        "{}",
        InvokeOptions {
            trace_id: Some("Root=1-abc".into()),
            ..Default::default()
        },
    );
    let answer = get_event_next(cp.addr(), &[("Lambda-Extension-Identifier", &id)]).await;
    let event = answer.json();
    assert_eq!(event["eventType"], "INVOKE");
    assert_eq!(event["requestId"], invocation.request_id());
    assert_eq!(
        event["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:test"
    );
    assert_eq!(event["tracing"]["value"], "Root=1-abc");
}

#[tokio::test]
async fn extension_error_reports_are_recorded() {
    let cp = ControlPlane::start().await.unwrap();
    let id = register(&cp, json!([])).await;
    let answer = post(
        &cp,
        "/2020-01-01/extension/init/error",
        &[
            ("Lambda-Extension-Identifier", &id),
            (
                "Lambda-Extension-Function-Error-Type",
                "Extension.ConfigInvalid",
            ),
        ],
        r#"{"errorMessage":"AWS_LWA_PORT=abc","errorType":"Extension.ConfigInvalid"}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let error = cp.wait_init_error(WAIT).await.expect("init error");
    assert_eq!(error.origin, ErrorOrigin::ExtensionInit);
    assert_eq!(error.extension.as_deref(), Some("lambda-adapter"));
    assert_eq!(error.error_type, "Extension.ConfigInvalid");
    assert_eq!(error.json().unwrap()["errorMessage"], "AWS_LWA_PORT=abc");

    let answer = post(
        &cp,
        "/2020-01-01/extension/exit/error",
        &[
            ("Lambda-Extension-Identifier", &id),
            ("Lambda-Extension-Function-Error-Type", "Extension.Crash"),
        ],
        "{}",
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let error = cp.wait_exit_error(WAIT).await.expect("exit error");
    assert_eq!(error.error_type, "Extension.Crash");
    assert_eq!(cp.reported_errors().len(), 2);

    let unknown = post(
        &cp,
        "/2020-01-01/extension/init/error",
        &[("Lambda-Extension-Identifier", "nope")],
        "{}",
    )
    .await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn runtime_init_error_is_recorded() {
    let cp = ControlPlane::start().await.unwrap();
    let answer = post(
        &cp,
        "/2018-06-01/runtime/init/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.Broken")],
        r#"{"errorType":"Runtime.Broken","errorMessage":"no"}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let error = cp.wait_init_error(WAIT).await.expect("init error");
    assert_eq!(error.origin, ErrorOrigin::RuntimeInit);
    assert_eq!(error.error_type, "Runtime.Broken");
}

#[tokio::test]
async fn invoke_next_response_round_trip() {
    let cp = ControlPlane::start().await.unwrap();
    let garbage = Bytes::from_static(b"\x00not json{");
    let invocation = cp.invoke(garbage.clone());

    let delivered = next(cp.addr()).await;
    assert_eq!(delivered.status, StatusCode::OK);
    assert_eq!(delivered.body, garbage);
    assert_eq!(
        delivered.header("lambda-runtime-aws-request-id"),
        Some(invocation.request_id())
    );
    assert_eq!(
        delivered.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:us-east-1:123456789012:function:test")
    );
    assert_eq!(delivered.header("content-type"), Some("application/json"));
    let deadline: u64 = delivered
        .header("lambda-runtime-deadline-ms")
        .expect("deadline")
        .parse()
        .unwrap();
    assert!(deadline > lambda_emulator::control_plane::epoch_ms_in(Duration::ZERO));
    for absent in [
        "lambda-runtime-trace-id",
        "lambda-runtime-client-context",
        "lambda-runtime-cognito-identity",
        "lambda-runtime-aws-tenant-id",
    ] {
        assert!(delivered.headers.get(absent).is_none(), "{absent}");
    }
    invocation.wait_delivered(WAIT).await.expect("delivered");

    let path = invocation_path(invocation.request_id(), "response");
    let answer = post(&cp, &path, &[], r#"{"statusCode":200}"#).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let result = invocation.result(WAIT).await.unwrap();
    assert_eq!(result.json().unwrap(), json!({"statusCode": 200}));

    let again = post(&cp, &path, &[], "{}").await;
    assert_refused(&again, StatusCode::BAD_REQUEST, "InvalidRequestID");
}

#[tokio::test]
async fn invoke_options_become_headers() {
    let cp = ControlPlane::start().await.unwrap();
    let invocation = cp.invoke_with(
        "{}",
        InvokeOptions {
            request_id: Some("req-1".into()),
            deadline_ms: None,
            trace_id: Some("Root=1-5e1b4151-5ac6c58f".into()),
            client_context: Some(r#"{"custom":{"a":"b"}}"#.into()),
            cognito_identity: Some(r#"{"cognitoIdentityId":"id"}"#.into()),
            tenant_id: Some("tenant-7".into()),
            invoked_function_arn: Some("arn:aws:lambda:eu-west-1:1:function:f".into()),
            ..Default::default()
        },
    );
    assert_eq!(invocation.request_id(), "req-1");
    let delivered = next(cp.addr()).await;
    assert_eq!(
        delivered.header("lambda-runtime-aws-request-id"),
        Some("req-1")
    );
    assert_eq!(delivered.header("lambda-runtime-deadline-ms"), None);
    assert_eq!(
        delivered.header("lambda-runtime-trace-id"),
        Some("Root=1-5e1b4151-5ac6c58f")
    );
    assert_eq!(
        delivered.header("lambda-runtime-client-context"),
        Some(r#"{"custom":{"a":"b"}}"#)
    );
    assert_eq!(
        delivered.header("lambda-runtime-cognito-identity"),
        Some(r#"{"cognitoIdentityId":"id"}"#)
    );
    assert_eq!(
        delivered.header("lambda-runtime-aws-tenant-id"),
        Some("tenant-7")
    );
    assert_eq!(
        delivered.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:eu-west-1:1:function:f")
    );
}

#[tokio::test]
async fn response_to_unknown_or_undelivered_id_is_400() {
    let cp = ControlPlane::start().await.unwrap();
    let unknown = post(
        &cp,
        "/2018-06-01/runtime/invocation/nope/response",
        &[],
        "{}",
    )
    .await;
    assert_refused(&unknown, StatusCode::BAD_REQUEST, "InvalidRequestID");

    let queued = cp.invoke("{}");
    let early = post(
        &cp,
        &invocation_path(queued.request_id(), "error"),
        &[],
        "{}",
    )
    .await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn error_round_trip() {
    let cp = ControlPlane::start().await.unwrap();
    let invocation = cp.invoke("{}");
    next(cp.addr()).await;
    let answer = post(
        &cp,
        &invocation_path(invocation.request_id(), "error"),
        &[(
            "Lambda-Runtime-Function-Error-Type",
            "Adapter.AppUnreachable",
        )],
        r#"{"errorType":"Adapter.AppUnreachable","errorMessage":"connection refused"}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let result = invocation.result(WAIT).await.unwrap();
    let (error_type, body) = result.error().unwrap();
    assert_eq!(error_type, "Adapter.AppUnreachable");
    assert_eq!(body["errorMessage"], "connection refused");
    assert!(result.json().is_err());
}

#[tokio::test]
async fn buffered_response_over_6_mb_is_413() {
    let cp = ControlPlane::start().await.unwrap();
    let invocation = cp.invoke("{}");
    next(cp.addr()).await;
    let path = invocation_path(invocation.request_id(), "response");
    let answer = post(&cp, &path, &[], vec![b'x'; 7 * 1024 * 1024]).await;
    assert_refused(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
    );
    match invocation.result(WAIT).await.unwrap() {
        InvocationResult::Rejected {
            status, received, ..
        } => {
            assert_eq!(status, 413);
            assert_eq!(received, 7 * 1024 * 1024);
        }
        other => panic!("expected a rejection, got {}", other.describe()),
    }
}

#[tokio::test]
async fn buffered_response_of_exactly_6_mb_is_accepted() {
    let cp = ControlPlane::start().await.unwrap();
    let invocation = cp.invoke("{}");
    next(cp.addr()).await;
    let path = invocation_path(invocation.request_id(), "response");
    let body = vec![b'x'; MAX_BUFFERED_RESPONSE_BYTES];
    let answer = post(&cp, &path, &[], body).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let result = invocation.result(WAIT).await.unwrap();
    assert_eq!(
        result.body_bytes().unwrap().len(),
        MAX_BUFFERED_RESPONSE_BYTES
    );
}

#[tokio::test]
async fn injected_rejection_refuses_the_response() {
    let cp = ControlPlane::start().await.unwrap();
    let invocation = cp.invoke_with(
        "{}",
        InvokeOptions {
            reject_response: Some(500),
            ..Default::default()
        },
    );
    next(cp.addr()).await;
    let path = invocation_path(invocation.request_id(), "response");
    let answer = post(&cp, &path, &[], "{}").await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(matches!(
        invocation.result(WAIT).await.unwrap(),
        InvocationResult::Rejected { status: 500, .. }
    ));
}

#[tokio::test]
async fn injected_next_failure_comes_first() {
    let cp = ControlPlane::start().await.unwrap();
    cp.inject_next_failure(500, r#"{"errorType":"ServiceException"}"#);
    let invocation = cp.invoke("{}");
    let failed = next(cp.addr()).await;
    assert_refused(
        &failed,
        StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceException",
    );
    let delivered = next(cp.addr()).await;
    assert_eq!(
        delivered.header("lambda-runtime-aws-request-id"),
        Some(invocation.request_id())
    );
}

#[tokio::test]
async fn streaming_response_with_prelude_chunks_and_trailers() {
    let cp = ControlPlane::start().await.unwrap();
    let invocation = cp.invoke("{}");
    next(cp.addr()).await;

    // The request body, fed frame by frame from the test, trailers included.
    let (frames, receiver) = mpsc::unbounded_channel::<Result<Frame<Bytes>, Infallible>>();
    let request = Request::builder()
        .method(Method::POST)
        .uri(invocation_path(invocation.request_id(), "response"))
        .header("Lambda-Runtime-Function-Response-Mode", "streaming")
        .header("Transfer-Encoding", "chunked")
        .header(
            "Content-Type",
            "application/vnd.awslambda.http-integration-response",
        )
        .header(
            "Trailer",
            "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
        )
        .body(ChannelBody::new(receiver))
        .unwrap();
    let addr = cp.addr();
    let post = tokio::spawn(async move { send(addr, request).await });

    let mut live = invocation.chunks();
    let prelude =
        br#"{"statusCode":200,"headers":{"content-type":"text/event-stream"},"cookies":["a=1"]}"#;
    let mut first = prelude.to_vec();
    first.extend_from_slice(&[0; 8]);
    frames.send(Ok(Frame::data(Bytes::from(first)))).unwrap();
    let (_, chunk) = live.recv(WAIT).await.unwrap().expect("first chunk");
    assert!(chunk.starts_with(b"{\"statusCode\""));

    // Each chunk is visible before the next one is even written.
    frames
        .send(Ok(Frame::data(Bytes::from_static(b"data: 1\n\n"))))
        .unwrap();
    let (first_at, chunk) = live.recv(WAIT).await.unwrap().expect("second chunk");
    assert_eq!(chunk, "data: 1\n\n");
    frames
        .send(Ok(Frame::data(Bytes::from_static(b"data: 2\n\n"))))
        .unwrap();
    let (second_at, _) = live.recv(WAIT).await.unwrap().expect("third chunk");
    assert!(second_at >= first_at);

    let mut trailers = HeaderMap::new();
    trailers.insert(
        "Lambda-Runtime-Function-Error-Type",
        "Runtime.StreamError".parse().unwrap(),
    );
    trailers.insert(
        "Lambda-Runtime-Function-Error-Body",
        "Ym9vbQ==".parse().unwrap(),
    );
    frames.send(Ok(Frame::trailers(trailers))).unwrap();
    drop(frames);

    let answer = post.await.unwrap();
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(live.recv(WAIT).await.unwrap(), None);

    let result = invocation.result(WAIT).await.unwrap();
    let streamed = result.streamed().unwrap();
    assert!(streamed.completed);
    assert_eq!(streamed.status(), Some(200));
    assert_eq!(streamed.prelude["cookies"], json!(["a=1"]));
    assert_eq!(streamed.body, "data: 1\n\ndata: 2\n\n");
    assert_eq!(streamed.chunks.len(), 3);
    assert_eq!(streamed.error_type.as_deref(), Some("Runtime.StreamError"));
    assert_eq!(streamed.error_body.as_deref(), Some("Ym9vbQ=="));
    assert_eq!(
        streamed.headers["lambda-runtime-function-response-mode"],
        "streaming"
    );
}

#[tokio::test]
async fn concurrent_next_calls_are_counted() {
    let cp = ControlPlane::start().await.unwrap();
    let first = tokio::spawn(next(cp.addr()));
    let second = tokio::spawn(next(cp.addr()));
    assert!(cp.wait_next_outstanding(2, WAIT).await);
    assert_eq!(cp.next_calls_outstanding(), 2);

    let a = cp.invoke("a");
    let b = cp.invoke("b");
    let mut bodies = vec![first.await.unwrap().body, second.await.unwrap().body];
    bodies.sort();
    assert_eq!(bodies, ["a", "b"]);
    a.wait_delivered(WAIT).await.unwrap();
    b.wait_delivered(WAIT).await.unwrap();
    assert_eq!(cp.next_calls_outstanding(), 0);
    assert_eq!(cp.max_next_outstanding(), 2);
    assert_eq!(cp.next_calls_total(), 2);
}

#[tokio::test]
async fn result_wait_times_out_instead_of_hanging() {
    let cp = ControlPlane::start().await.unwrap();
    let invocation = cp.invoke("{}");
    let err = invocation
        .result(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(invocation.request_id()));
    assert!(cp
        .wait_registered(Duration::from_millis(10))
        .await
        .is_none());
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let cp = ControlPlane::start().await.unwrap();
    for (method, path) in [
        (Method::GET, "/"),
        (Method::POST, "/2018-06-01/runtime/invocation/next"),
        (Method::POST, "/2018-06-01/runtime/invocation/x/other"),
        (Method::GET, "/2020-01-01/extension/register"),
    ] {
        let answer = call(cp.addr(), method, path, &[], Bytes::new()).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn dropping_the_control_plane_ends_blocked_calls() {
    let cp = ControlPlane::start().await.unwrap();
    let addr = cp.addr();
    let blocked = tokio::spawn(async move {
        let mut sender = connect(addr).await;
        let request = Request::get("/2018-06-01/runtime/invocation/next")
            .body(Full::new(Bytes::new()))
            .unwrap();
        sender.send_request(request).await.is_err()
    });
    assert!(cp.wait_next_outstanding(1, WAIT).await);
    drop(cp);
    let ended_with_error = tokio::time::timeout(WAIT, blocked)
        .await
        .expect("blocked call ended")
        .unwrap();
    assert!(ended_with_error);
}

#[tokio::test]
async fn a_held_restore_next_is_answered_once_restored_and_restore_error_is_recorded() {
    // covers LIF-8 (the control plane side): the snapshot is taken while restore/next waits.
    let cp = ControlPlane::start_with(ControlPlaneConfig {
        hold_restore: true,
        ..ControlPlaneConfig::default()
    })
    .await
    .unwrap();
    let addr = cp.addr();
    let restore = tokio::spawn(async move {
        call(
            addr,
            Method::GET,
            "/2018-06-01/runtime/restore/next",
            &[],
            Bytes::new(),
        )
        .await
    });
    assert!(cp.wait_restore_requested(WAIT).await, "the call arrived");
    assert_eq!(cp.restore_calls(), 1);
    assert!(!restore.is_finished(), "held until restored");
    cp.restore();
    let answer = tokio::time::timeout(WAIT, restore).await.unwrap().unwrap();
    assert_eq!(answer.status, StatusCode::OK);

    let answer = post(
        &cp,
        "/2018-06-01/runtime/restore/error",
        &[(
            "Lambda-Runtime-Function-Error-Type",
            "Adapter.SnapStartHookFailed",
        )],
        r#"{"errorType":"Adapter.SnapStartHookFailed","errorMessage":"no"}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    let error = cp.wait_restore_error(WAIT).await.expect("restore error");
    assert_eq!(error.origin, ErrorOrigin::RuntimeRestore);
    assert_eq!(error.error_type, "Adapter.SnapStartHookFailed");
    assert!(
        cp.wait_init_error(Duration::ZERO).await.is_none(),
        "not an init error"
    );
}

#[tokio::test]
async fn restore_next_answers_at_once() {
    // SnapStart: unless the control plane holds it, nothing is snapshotted and it answers at once.
    let cp = ControlPlane::start().await.unwrap();
    let answer = tokio::time::timeout(
        WAIT,
        call(
            cp.addr(),
            Method::GET,
            "/2018-06-01/runtime/restore/next",
            &[],
            Bytes::new(),
        ),
    )
    .await
    .expect("restore/next does not block");
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn register_with_blank_name_is_forbidden() {
    let cp = ControlPlane::start().await.unwrap();
    let answer = post_register(&cp, &[("Lambda-Extension-Name", " ")], r#"{"events":[]}"#).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "Extension.InvalidExtensionName",
    );
}

#[tokio::test]
async fn event_next_without_identifier_is_forbidden() {
    let cp = ControlPlane::start().await.unwrap();
    let answer = get_event_next(cp.addr(), &[]).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        "Extension.InvalidExtensionId",
    );
}

#[tokio::test]
async fn error_for_unknown_request_id_is_400() {
    let cp = ControlPlane::start().await.unwrap();
    let answer = post(
        &cp,
        "/2018-06-01/runtime/invocation/nope/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.X")],
        "{}",
    )
    .await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, "InvalidRequestID");
}

#[tokio::test]
async fn forgotten_invocations_are_dropped_once_they_end() {
    let cp = ControlPlane::start().await.unwrap();
    // Forgotten while the runtime still works on it: the late answer is accepted as usual.
    let pending = cp.invoke("{}");
    next(cp.addr()).await;
    pending.forget();
    assert!(cp.invocation(pending.request_id()).is_some());
    let path = invocation_path(pending.request_id(), "response");
    let late = post(&cp, &path, &[], "{}").await;
    assert_eq!(late.status, StatusCode::ACCEPTED);
    assert!(cp.invocation(pending.request_id()).is_none());

    // Forgotten after it ended: gone at once.
    let done = cp.invoke("{}");
    next(cp.addr()).await;
    let path = invocation_path(done.request_id(), "response");
    post(&cp, &path, &[], "{}").await;
    done.result(WAIT).await.unwrap();
    done.forget();
    assert!(cp.invocation(done.request_id()).is_none());
}

#[tokio::test]
async fn server_requests_carry_the_peer_address() {
    use lambda_emulator::server::{full_body, BoxError, HttpServer, PeerAddr};
    let server = HttpServer::bind("127.0.0.1:0".parse().unwrap(), |request| async move {
        let peer = request.extensions().get::<PeerAddr>().map(|peer| peer.0);
        Ok::<_, BoxError>(http::Response::new(full_body(format!("{peer:?}"))))
    })
    .await
    .unwrap();
    let answer = call(server.addr(), Method::GET, "/", &[], Bytes::new()).await;
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(text.starts_with("Some(127.0.0.1:"), "{text}");
}
