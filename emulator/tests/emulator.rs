//! End to end (covers PKG-6, and through the emulator's command line LIF-8, LIF-9, EVT-9, STR-5):
//! the real `lambda-emulator` binary with the real `lambda-adapter` as its extension
//! and a Python web app (`tests/apps/web_app.py`), driven over plain HTTP like curl would.
//! Stub runtimes and extensions (also under `tests/apps/`) cover what the adapter cannot be made
//! to do on purpose: never answer, never register, exit at once.

mod support;

use base64::Engine;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use lambda_emulator::process::Signal;
use serde_json::{json, Value};
use support::{app_get, app_script, get, open, post, Emulator, EmulatorCommand, WAIT};

fn web_app() -> Vec<String> {
    vec![
        "python3".to_owned(),
        app_script("web_app.py").display().to_string(),
    ]
}

fn web_app_command() -> Vec<&'static str> {
    static APP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    APP.get_or_init(web_app)
        .iter()
        .map(String::as_str)
        .collect()
}

async fn start(command: EmulatorCommand) -> Emulator {
    let emulator = command.start(&web_app_command()).await;
    emulator.wait_ready().await;
    emulator
}

/// An emulator in streaming mode, and `GET path` through it once its head (a `200`) has come:
/// `(emulator, app port, response, request id)`.
async fn open_stream(path: &str) -> (Emulator, u16, http::Response<Incoming>, String) {
    let command = EmulatorCommand::new().env("AWS_LWA_INVOKE_MODE", "response_stream");
    let app_port = command.app_port();
    let emulator = start(command).await;
    let request = Request::get(path)
        .header("host", emulator.addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = open(emulator.addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    (emulator, app_port, response, request_id)
}

/// What the app saw of a request (its `/echo` answer).
struct Seen(Value);

impl Seen {
    fn target(&self) -> &str {
        self.0["target"].as_str().unwrap()
    }

    fn headers(&self, name: &str) -> Vec<String> {
        self.0["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|pair| pair[0] == name)
            .map(|pair| pair[1].as_str().unwrap().to_owned())
            .collect()
    }

    fn body(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(self.0["body"].as_str().unwrap())
            .unwrap()
    }
}

fn all_bytes() -> Vec<u8> {
    (0..=255).collect()
}

#[tokio::test]
async fn function_url_source_end_to_end() {
    let emulator = start(EmulatorCommand::new().env("AWS_LWA_ERROR_STATUS_CODES", "500")).await;
    let addr = emulator.addr;

    // Path and query exactly, every header value, cookies.
    let answer = get(
        addr,
        "/echo/a%20b?q=a+b&q=c%26d&flag",
        &[
            ("accept", "text/html"),
            ("accept", "application/json"),
            ("cookie", "a=1; b=2"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    let seen = Seen(answer.json());
    assert_eq!(seen.target(), "/echo/a%20b?q=a+b&q=c%26d&flag");
    assert_eq!(seen.headers("cookie"), ["a=1; b=2"]);
    let accept = seen.headers("accept").join(",");
    assert!(
        accept.contains("text/html") && accept.contains("application/json"),
        "{accept}"
    );
    let context: Value = serde_json::from_str(&seen.headers("x-amzn-request-context")[0]).unwrap();
    assert_eq!(context["http"]["method"], "GET");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    let report = emulator.report(answer.request_id()).await;
    assert!(report.contains("\tStatus: success"), "{report}");
    assert!(report.contains(" ms\t"), "{report}");

    // Binary request and response bodies round-trip byte for byte.
    let echoed = post(
        addr,
        "/echo",
        &[("content-type", "application/octet-stream")],
        all_bytes(),
    )
    .await;
    assert_eq!(Seen(echoed.json()).body(), all_bytes());
    let binary = get(addr, "/binary", &[]).await;
    assert_eq!(binary.body, all_bytes());
    assert_eq!(
        binary.header("content-type"),
        Some("application/octet-stream")
    );

    // Every Set-Cookie, and repeated headers.
    let cookies = get(addr, "/cookies", &[]).await;
    assert_eq!(cookies.all("set-cookie"), ["a=1; Path=/", "b=2"]);
    assert_eq!(cookies.all("x-multi").join(", "), "one, two");
    assert_eq!(cookies.body, "cookies");

    // A function error is a 502 with the error JSON.
    let failed = get(addr, "/fail", &[]).await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
    assert!(failed.json()["errorType"].is_string(), "{:?}", failed.body);
    let report = emulator.report(failed.request_id()).await;
    assert!(report.contains("\tStatus: error"), "{report}");
}

#[tokio::test]
async fn raw_invocations_take_any_event() {
    let emulator = start(EmulatorCommand::new().env("AWS_LWA_ERROR_STATUS_CODES", "500")).await;
    let invoke = "/2015-03-31/functions/function/invocations";
    let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": "hello"}]});
    let answer = post(emulator.addr, invoke, &[], sqs.to_string()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({ "received": sqs }));
    assert!(answer.header("x-amz-function-error").is_none());
    emulator.report(answer.request_id()).await;

    // An HTTP event that makes the function fail: 200, the error, and the Unhandled marker.
    let failing = json!({
        "version": "2.0", "rawPath": "/fail", "rawQueryString": "", "headers": {},
        "requestContext": {"http": {"method": "GET", "path": "/fail"}}, "isBase64Encoded": false
    });
    let answer = post(emulator.addr, invoke, &[], failing.to_string()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-amz-function-error"), Some("Unhandled"));
    assert!(answer.json()["errorType"].is_string());
    let report = emulator.report(answer.request_id()).await;
    assert!(report.contains("\tStatus: error"), "{report}");
}

#[tokio::test]
async fn http_api_v2_source_end_to_end() {
    let emulator = start(EmulatorCommand::new().args(["--source", "v2"])).await;
    let answer = get(emulator.addr, "/echo?x=1&x=2", &[("cookie", "s=1")]).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}\n{}",
        String::from_utf8_lossy(&answer.body),
        emulator.output()
    );
    let seen = Seen(answer.json());
    assert_eq!(seen.target(), "/echo?x=1&x=2");
    assert_eq!(seen.headers("cookie"), ["s=1"]);
    let cookies = get(emulator.addr, "/cookies", &[]).await;
    assert_eq!(cookies.all("set-cookie"), ["a=1; Path=/", "b=2"]);
}

#[tokio::test]
async fn rest_api_v1_source_end_to_end() {
    let emulator = start(EmulatorCommand::new().args(["--source", "v1"])).await;
    let addr = emulator.addr;
    // v1 hands over decoded values; the adapter encodes them again, keeping repeated keys.
    let answer = get(addr, "/echo?q=a%20b&q=c", &[("x-r", "1"), ("x-r", "2")]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    let seen = Seen(answer.json());
    assert_eq!(seen.target(), "/echo?q=a%20b&q=c");
    assert_eq!(seen.headers("x-r").join(","), "1,2");
    let context: Value = serde_json::from_str(&seen.headers("x-amzn-request-context")[0]).unwrap();
    assert_eq!(context["stage"], "local");
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");

    let cookies = get(addr, "/cookies", &[]).await;
    assert_eq!(cookies.all("set-cookie"), ["a=1; Path=/", "b=2"]);
    assert_eq!(get(addr, "/binary", &[]).await.body, all_bytes());
    let echoed = post(addr, "/echo", &[("content-type", "image/png")], all_bytes()).await;
    assert_eq!(Seen(echoed.json()).body(), all_bytes());
}

#[tokio::test]
async fn alb_source_end_to_end() {
    let emulator = start(EmulatorCommand::new().args(["--source", "alb"])).await;
    // ALB passes the query on as the client encoded it.
    let answer = get(emulator.addr, "/echo?q=a%20b&r=c+d", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    assert_eq!(Seen(answer.json()).target(), "/echo?q=a%20b&r=c+d");
    let cookies = get(emulator.addr, "/cookies", &[]).await;
    assert!(!cookies.all("set-cookie").is_empty());
    assert_eq!(get(emulator.addr, "/binary", &[]).await.body, all_bytes());
}

#[tokio::test]
async fn alb_multi_value_source_end_to_end() {
    let emulator = start(EmulatorCommand::new().args(["--source", "alb-multi"])).await;
    let answer = get(
        emulator.addr,
        "/echo?q=1&q=2",
        &[("x-r", "1"), ("x-r", "2")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    let seen = Seen(answer.json());
    assert_eq!(seen.target(), "/echo?q=1&q=2");
    assert_eq!(seen.headers("x-r").join(","), "1,2");
    let cookies = get(emulator.addr, "/cookies", &[]).await;
    assert_eq!(cookies.all("set-cookie"), ["a=1; Path=/", "b=2"]);
}

/// Releases `count` chunks of the test app's stream one at a time; each must reach the client
/// through `body` before the next is released.
async fn release_chunks(emulator: &Emulator, app_port: u16, body: &mut Incoming, count: usize) {
    for index in 0..count {
        app_get(app_port, "/release").await;
        let expected = format!("data: {index}\n\n");
        let mut received = Vec::new();
        while received.len() < expected.len() {
            let frame = tokio::time::timeout(WAIT, body.frame())
                .await
                .unwrap_or_else(|_| panic!("chunk {index} did not arrive:\n{}", emulator.output()))
                .expect("the stream goes on")
                .expect("a good frame");
            if let Ok(data) = frame.into_data() {
                received.extend_from_slice(&data);
            }
        }
        assert_eq!(String::from_utf8_lossy(&received), expected);
    }
}

#[tokio::test]
async fn streamed_chunks_reach_the_client_one_by_one() {
    // The head arrives before any chunk exists: the app only sends one per release.
    let (emulator, app_port, response, request_id) = open_stream("/stream?n=3").await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    release_chunks(&emulator, app_port, &mut body, 3).await;
    let end = tokio::time::timeout(WAIT, body.frame()).await.unwrap();
    assert!(end.is_none(), "the stream ends cleanly");
    let report = emulator.report(&request_id).await;
    assert!(report.ends_with("\tStatus: success"), "{report}");
}

#[tokio::test]
async fn failed_stream_cuts_the_client_response_off() {
    let (emulator, app_port, response, request_id) = open_stream("/stream-broken").await;
    app_get(app_port, "/release").await;
    let collected = tokio::time::timeout(WAIT, response.into_body().collect())
        .await
        .expect("the response ends");
    assert!(
        collected.is_err(),
        "the client must see the stream break, not a clean end:\n{}",
        emulator.output()
    );
    emulator.wait_line("ended with an error").await;
    let report = emulator.report(&request_id).await;
    assert!(report.contains("\tStatus: error"), "{report}");
}

#[tokio::test]
async fn concurrency_lets_invocations_overlap() {
    let command = EmulatorCommand::new().args(["--concurrency", "2"]);
    let app_port = command.app_port();
    let emulator = start(command).await;
    let addr = emulator.addr;
    let first = tokio::spawn(async move { get(addr, "/gate", &[]).await });
    let second = tokio::spawn(async move { get(addr, "/gate", &[]).await });
    // The app answers once two requests are inside at the same time.
    let inside = app_get(app_port, "/inflight?atleast=2").await;
    assert_eq!(inside.body, "2", "{}", emulator.output());
    app_get(app_port, "/open").await;
    for request in [first, second] {
        let answer = request.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "through the gate");
    }
}

#[tokio::test]
async fn a_client_that_leaves_still_gets_its_invocation_reported() {
    let command = EmulatorCommand::new();
    let app_port = command.app_port();
    let emulator = start(command).await;
    let addr = emulator.addr;
    let client = tokio::spawn(async move { get(addr, "/gate", &[]).await });
    assert_eq!(app_get(app_port, "/inflight?atleast=1").await.body, "1");
    client.abort();
    assert!(client.await.unwrap_err().is_cancelled());
    app_get(app_port, "/open").await;
    let report = emulator.wait_line("REPORT RequestId: ").await;
    assert!(report.ends_with("\tStatus: success"), "{report}");
}

#[tokio::test]
async fn ctrl_c_stops_the_app_before_the_extension() {
    let emulator = start(EmulatorCommand::new()).await;
    emulator.wait_line("app listening").await;
    emulator.signal(Signal::Interrupt);
    let status = emulator.wait_exit().await;
    assert!(status.success(), "{status:?}:\n{}", emulator.output());
    emulator.assert_order(&[
        "[emulator] received SIGINT",
        "[emulator] stopping app (SIGTERM)",
        "[app] app got SIGTERM",
        "[emulator] app exited",
        "[emulator] stopping extension (SIGKILL)",
        "[emulator] extension stopped",
    ]);
}

#[tokio::test]
async fn timeouts_answer_504_and_shutdown_reaches_subscribed_extensions() {
    let stub_extension = app_script("stub_extension.py");
    let runtime = app_script("stub_runtime.py").display().to_string();
    let emulator = EmulatorCommand::new()
        .extension(&stub_extension)
        .args(["--timeout", "1"])
        .start(&["python3", &runtime])
        .await;
    emulator.wait_ready().await;

    let answer = get(emulator.addr, "/", &[]).await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(answer.json()["errorType"], "Sandbox.Timedout");
    let report = emulator.report(answer.request_id()).await;
    assert!(report.ends_with("\tStatus: timeout"), "{report}");

    let raw = post(
        emulator.addr,
        "/2015-03-31/functions/function/invocations",
        &[],
        "{}",
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(raw.json()["errorType"], "Sandbox.Timedout");

    emulator.signal(Signal::Terminate);
    let status = emulator.wait_exit().await;
    assert!(status.success(), "{status:?}:\n{}", emulator.output());
    emulator.assert_order(&[
        "[emulator] received SIGTERM",
        "[emulator] stopping app (SIGTERM)",
        "[emulator] app exited",
        "[emulator] stopping extension (SHUTDOWN event)",
        "[extension] extension got SHUTDOWN spindown",
        "[emulator] extension stopped (exit status: 0)",
    ]);
}

#[tokio::test]
async fn help_lists_the_options_and_bad_options_exit_2() {
    let help = tokio::process::Command::new(support::EMULATOR)
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for option in [
        "--port",
        "--extension",
        "--source",
        "--timeout",
        "--concurrency",
    ] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
    let bad = tokio::process::Command::new(support::EMULATOR)
        .args(["--timeout", "soon"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--timeout \"soon\""));
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(support::EMULATOR)
            .args(["--port", &port, "--extension"])
            .arg(support::adapter_binary())
            .args(["--", "true"])
            .output(),
    )
    .await
    .expect("the emulator gives up at once")
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn lif8_snapstart_runs_the_hooks_around_the_snapshot_and_prints_each_phase() {
    let emulator = start(
        EmulatorCommand::new()
            .args(["--snapstart"])
            .env(
                "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH",
                "/before-checkpoint",
            )
            .env("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "/after-restore"),
    )
    .await;
    emulator.assert_order(&[
        "[emulator] started app",
        "[app] hook before-checkpoint",
        "snapshot taken (SnapStart)",
        "[emulator] restored from the snapshot",
        "[app] hook after-restore",
        "[emulator] function ready: restore took ",
    ]);
    let answer = get(emulator.addr, "/echo", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    let report = emulator.report(answer.request_id()).await;
    assert!(report.contains("\tRestore Duration: "), "{report}");
    assert!(!report.contains("Init Duration"), "{report}");
    // LIF-9: a client cannot trigger a hook.
    let hook = get(emulator.addr, "/before-checkpoint", &[]).await;
    assert_eq!(hook.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn lif8_a_failed_restore_is_reported_and_fails_requests() {
    let emulator = EmulatorCommand::new()
        .args(["--snapstart"])
        .env("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", "/after-restore")
        .env("HOOK_STATUS", "500")
        .start(&web_app_command())
        .await;
    let line = emulator.wait_line("the SnapStart restore failed: ").await;
    assert!(line.contains("Adapter.SnapStartHookFailed"), "{line}");
    let answer = get(emulator.addr, "/", &[]).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    // The environment ended; this request's fresh one failed its restore the same way.
    let error = answer.json();
    assert_eq!(error["errorType"], "Adapter.SnapStartHookFailed", "{error}");
}

#[tokio::test]
async fn evt9_lattice_source_end_to_end() {
    let emulator = start(EmulatorCommand::new().args(["--source", "lattice"])).await;
    let answer = get(
        emulator.addr,
        "/echo/a%20b?q=1&q=2&r=x+y",
        &[("x-r", "1"), ("x-r", "2")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", emulator.output());
    let seen = Seen(answer.json());
    assert_eq!(seen.target(), "/echo/a%20b?q=1&q=2&r=x+y");
    assert_eq!(seen.headers("x-r").join(","), "1,2");
    let context: Value = serde_json::from_str(&seen.headers("x-amzn-request-context")[0]).unwrap();
    assert!(context["serviceNetworkArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:vpc-lattice:"));
    // The adapter spells each Set-Cookie differently; the client gets every one.
    let cookies = get(emulator.addr, "/cookies", &[]).await;
    assert_eq!(cookies.all("set-cookie"), ["a=1; Path=/", "b=2"]);
    assert_eq!(get(emulator.addr, "/binary", &[]).await.body, all_bytes());
    let echoed = post(
        emulator.addr,
        "/echo",
        &[("content-type", "application/octet-stream")],
        all_bytes(),
    )
    .await;
    assert_eq!(Seen(echoed.json()).body(), all_bytes());
    let report = emulator.report(echoed.request_id()).await;
    assert!(report.contains("\tStatus: success"), "{report}");
}

#[tokio::test]
async fn str5_rest_api_responses_stream_to_the_client() {
    let command = EmulatorCommand::new()
        .args(["--source", "v1"])
        .env("AWS_LWA_INVOKE_MODE", "response_stream");
    let app_port = command.app_port();
    let emulator = start(command).await;
    let request = Request::get("/stream?n=2")
        .header("host", emulator.addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    // The head arrives before the app has written any chunk.
    let response = open(emulator.addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    release_chunks(&emulator, app_port, &mut body, 2).await;
    emulator
        .wait_line("\"GET /stream?n=2\" 200 v1 streamed ")
        .await;
    // Every Set-Cookie of the REST prelude's multiValueHeaders reaches the client.
    let cookies = get(emulator.addr, "/cookies", &[]).await;
    assert_eq!(cookies.all("set-cookie"), ["a=1; Path=/", "b=2"]);
    assert_eq!(cookies.all("x-multi").join(", "), "one, two");
    emulator
        .wait_line("\"GET /cookies\" 200 v1 streamed ")
        .await;
}

#[tokio::test]
async fn str5_http_api_answers_are_buffered_even_in_streaming_mode() {
    // The event names the HTTP API's domain, so the adapter answers as AWS expects of an HTTP
    // API: buffered.
    let command = EmulatorCommand::new()
        .args(["--source", "v2"])
        .env("AWS_LWA_INVOKE_MODE", "response_stream");
    let app_port = command.app_port();
    let emulator = start(command).await;
    let cookies = get(emulator.addr, "/cookies", &[]).await;
    assert_eq!(cookies.status, StatusCode::OK, "{}", emulator.output());
    assert_eq!(cookies.all("set-cookie"), ["a=1; Path=/", "b=2"]);
    assert_eq!(cookies.body, "cookies");
    emulator
        .wait_line("\"GET /cookies\" 200 v2 buffered ")
        .await;
    let addr = emulator.addr;
    let stream = tokio::spawn(async move { get(addr, "/stream?n=2", &[]).await });
    for _ in 0..2 {
        app_get(app_port, "/release").await;
    }
    let answer = stream.await.unwrap();
    assert_eq!(answer.body, "data: 0\n\ndata: 1\n\n");
    emulator
        .wait_line("\"GET /stream?n=2\" 200 v2 buffered ")
        .await;
}
