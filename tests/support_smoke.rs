//! Proves the test fixtures work on their own, without the adapter binary: the app records and
//! echoes what it receives, scripted replies and readiness behave, the control plane completes a
//! round trip, and the event builders render the documented shapes.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use lambda_emulator::testing::client::send;
use serde_json::{json, Value};
use support::{events, ControlPlane, Reply, TestApp, TIMEOUT};
use tokio::net::TcpStream;

fn get(uri: &str) -> Request<Full<Bytes>> {
    Request::get(uri).body(Full::default()).unwrap()
}

#[tokio::test]
async fn app_echoes_and_records_requests() {
    let app = TestApp::start().await.unwrap();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/a%20b/c?x=1&x=2&y=a+b")
        .header("host", "example.com")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("x-amzn-lambda-context", "{}")
        .body(Full::new(Bytes::from_static(b"\xffbinary")))
        .unwrap();
    let answer = send(app.addr(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    let echo: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/a%20b/c");
    assert_eq!(echo["query"], "x=1&x=2&y=a+b");
    assert_eq!(echo["body_base64"], "/2JpbmFyeQ==");
    assert!(echo["headers"]
        .as_array()
        .unwrap()
        .contains(&json!(["x-multi", "two"])));

    let recorded = app.wait_request(TIMEOUT).await.expect("recorded");
    assert_eq!(recorded.uri, "/a%20b/c?x=1&x=2&y=a+b");
    assert_eq!(recorded.header_all("x-multi"), ["one", "two"]);
    assert_eq!(recorded.header("host").as_deref(), Some("example.com"));
    assert_eq!(&recorded.body[..], b"\xffbinary");
    assert!(app.wait_request(Duration::from_millis(20)).await.is_none());
}

#[tokio::test]
async fn app_routes_scripted_replies() {
    let app = TestApp::start().await.unwrap();
    app.route("/png", |_| {
        Reply::new(201)
            .header("content-type", "image/png")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .body(&b"\x89PNG"[..])
    });
    let answer = send(app.addr(), get("/png/logo")).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let cookies: Vec<_> = answer.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(&answer.body[..], b"\x89PNG");

    app.route_once(
        "/sse",
        Reply::new(200)
            .header("content-type", "text/event-stream")
            .chunks([
                (Duration::ZERO, "data: 1\n\n"),
                (Duration::from_millis(5), "data: 2\n\n"),
            ]),
    );
    let answer = send(app.addr(), get("/sse")).await;
    assert_eq!(answer.body, "data: 1\n\ndata: 2\n\n");
    assert_eq!(send(app.addr(), get("/sse")).await.status, StatusCode::GONE);

    let (reply, body) = Reply::channel(200);
    app.route_once("/live", reply);
    let addr = app.addr();
    let pending = tokio::spawn(async move { send(addr, get("/live")).await });
    app.wait_request_matching(TIMEOUT, |request| request.path == "/live")
        .await
        .expect("live request arrived");
    assert!(body.send("hello "));
    assert!(body.send("world"));
    body.finish();
    assert_eq!(pending.await.unwrap().body, "hello world");
}

#[tokio::test]
async fn app_readiness_and_late_binding() {
    let port = TestApp::reserve_port();
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    let app = TestApp::builder()
        .readiness_path("/health")
        .not_ready()
        .start_on(port)
        .await
        .unwrap();
    assert_eq!(app.port(), port);

    assert_eq!(
        send(app.addr(), get("/health")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    app.set_ready();
    assert_eq!(
        send(app.addr(), get("/health")).await.status,
        StatusCode::OK
    );
    let probes = app.wait_probes(2, TIMEOUT).await.expect("probes recorded");
    assert_eq!(probes.len(), 2);
    assert!(app.requests().is_empty(), "probes are not user requests");
}

#[tokio::test]
async fn control_plane_round_trip_through_plain_http() {
    let cp = ControlPlane::start().await.unwrap();
    let event = events::http_v2("GET", "/hello").raw_query("a=1&a=2");
    let invocation = cp.invoke(event);

    let delivered = send(cp.addr(), get("/2018-06-01/runtime/invocation/next")).await;
    assert_eq!(delivered.status, StatusCode::OK);
    assert_eq!(
        delivered.headers["lambda-runtime-aws-request-id"],
        invocation.request_id()
    );
    let event: Value = serde_json::from_slice(&delivered.body).unwrap();
    assert_eq!(event["rawQueryString"], "a=1&a=2");

    let response = Request::post(format!(
        "/2018-06-01/runtime/invocation/{}/response",
        invocation.request_id()
    ))
    .body(Full::new(Bytes::from_static(
        br#"{"statusCode":200,"body":"hi"}"#,
    )))
    .unwrap();
    assert_eq!(send(cp.addr(), response).await.status, StatusCode::ACCEPTED);
    let result = invocation.result(TIMEOUT).await.unwrap();
    assert_eq!(events::response_body(&result.json().unwrap()), b"hi");
}

#[tokio::test]
async fn event_builders_render_documented_shapes() {
    let v1 = events::rest_v1("POST", "/items")
        .query("tag", "a b")
        .query("tag", "c")
        .header("Accept", "text/html")
        .header("Accept", "application/json")
        .cookie("s=1")
        .body("{}")
        .build();
    assert_eq!(v1["httpMethod"], "POST");
    assert_eq!(v1["requestContext"]["stage"], "prod");
    assert_eq!(
        v1["multiValueQueryStringParameters"]["tag"],
        json!(["a b", "c"])
    );
    assert_eq!(v1["queryStringParameters"]["tag"], "c");
    assert_eq!(
        v1["multiValueHeaders"]["Accept"],
        json!(["text/html", "application/json"])
    );
    assert_eq!(v1["headers"]["Cookie"], "s=1");

    let v2 = events::function_url("GET", "/p")
        .query("q", "a b")
        .header("X-A", "1")
        .header("x-a", "2")
        .cookie("a=1")
        .cookie("b=2")
        .binary_body(b"\x00\x01")
        .build();
    assert_eq!(v2["version"], "2.0");
    assert_eq!(v2["rawQueryString"], "q=a%20b");
    assert_eq!(v2["queryStringParameters"]["q"], "a b");
    assert_eq!(v2["headers"]["x-a"], "1,2");
    assert_eq!(v2["cookies"], json!(["a=1", "b=2"]));
    assert_eq!(v2["requestContext"]["http"]["method"], "GET");
    assert_eq!(v2["isBase64Encoded"], true);
    assert_eq!(events::response_body(&v2), b"\x00\x01");

    let alb = events::alb_multi_value("GET", "/")
        .raw_query("k=%3F&k=2")
        .build();
    assert!(alb["requestContext"]["elb"]["targetGroupArn"].is_string());
    assert_eq!(
        alb["multiValueQueryStringParameters"]["k"],
        json!(["%3F", "2"])
    );
    assert!(alb.get("headers").is_none());

    let sqs = events::sqs(&["hello"]);
    assert_eq!(sqs["Records"][0]["eventSource"], "aws:sqs");
}

#[tokio::test]
async fn process_runner_isolates_env_and_captures_output() {
    let cp = ControlPlane::start().await.unwrap();
    let process = support::adapter_command(cp.addr())
        .program("/bin/sh")
        .arg("-c")
        .arg(r#"echo "api=$AWS_LAMBDA_RUNTIME_API port=$AWS_LWA_PORT home=${HOME:-unset}"; echo oops >&2; exit 3"#)
        .env("AWS_LWA_PORT", "8080")
        .spawn()
        .unwrap();
    let line = process
        .wait_for_log("api=", TIMEOUT)
        .await
        .expect("stdout captured");
    assert_eq!(line, format!("api={} port=8080 home=unset", cp.addr()));
    assert!(process.wait_for_log("oops", TIMEOUT).await.is_some());
    let status = process.wait_exit(TIMEOUT).await.expect("exited");
    assert_eq!(status.code(), Some(3));
    assert!(!process.is_running());
    assert!(process
        .wait_for_log("never printed", TIMEOUT)
        .await
        .is_none());
}

#[tokio::test]
async fn process_runner_signals_and_measures() {
    let cp = ControlPlane::start().await.unwrap();
    let process = support::adapter_command(cp.addr())
        .program("/bin/sh")
        .arg("-c")
        .arg("trap 'kill $!; echo got TERM; exit 0' TERM; echo ready; sleep 30 & wait")
        .spawn()
        .unwrap();
    process
        .wait_for_log("ready", TIMEOUT)
        .await
        .expect("started");
    assert!(process.is_running());
    assert!(process.peak_rss_kib().is_some_and(|kib| kib > 0));
    process.terminate().unwrap();
    assert!(process.wait_for_log("got TERM", TIMEOUT).await.is_some());
    assert!(process.wait_exit(TIMEOUT).await.expect("exited").success());

    let long_running = support::adapter_command(cp.addr())
        .program("/bin/sh")
        .arg("-c")
        .arg("echo up; exec sleep 30")
        .spawn()
        .unwrap();
    long_running
        .wait_for_log("up", TIMEOUT)
        .await
        .expect("started");
    long_running.kill();
    assert!(!long_running
        .wait_exit(TIMEOUT)
        .await
        .expect("killed")
        .success());
}
