//! Configuration seen from outside the process, the options of every invocation and where the
//! Lambda APIs are (SPEC CFG-8 … CFG-15): the real `lambda-adapter` binary, started with exactly
//! the variables a test gives it, between a fake Lambda control plane and a real HTTP app. Every
//! test names the rules it covers.

mod support;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lambda_emulator::ControlPlaneConfig;
use serde_json::Value;
use support::app::TestAppBuilder;
use support::logs::{assert_no_warning, assert_one_warning};
use support::outcome::echo;
use support::{
    adapter_command, app_and_adapter, control_plane, events, invoke, kill_and_collect, registered,
    spawn_adapter, wait_runtime_loop, AdapterProcess, ControlPlane, Reply, TestApp, TIMEOUT,
};

// ---------------------------------------------------------------------------------------------
// CFG-8 … CFG-13: request and response options
// ---------------------------------------------------------------------------------------------

/// A ready echo app and the adapter with `env` (plus `AWS_LWA_PORT`).
async fn echo_app_with(env: &[(&str, &str)]) -> (TestApp, ControlPlane, AdapterProcess) {
    app_and_adapter(TestApp::builder(), env).await
}

// covers CFG-8
#[tokio::test]
async fn cfg8_remove_base_path_and_deprecated_name() {
    for (env, warns) in [
        (&[("AWS_LWA_REMOVE_BASE_PATH", "/prod")][..], false),
        (&[("REMOVE_BASE_PATH", "/prod")][..], true),
        (
            &[
                ("REMOVE_BASE_PATH", "/other"),
                ("AWS_LWA_REMOVE_BASE_PATH", "/prod"),
            ][..],
            false,
        ),
    ] {
        let (_app, cp, adapter) = echo_app_with(env).await;
        let result = invoke(&cp, &adapter, events::http_v2("GET", "/prod/items")).await;
        assert_eq!(echo(&result)["path"], "/items", "{env:?}");
        let logs = kill_and_collect(&adapter).await;
        if warns {
            assert_one_warning(&logs, &["REMOVE_BASE_PATH", "AWS_LWA_REMOVE_BASE_PATH"]);
        } else {
            assert_no_warning(&logs);
        }
    }
}

// covers CFG-9
#[tokio::test]
async fn cfg9_pass_through_path() {
    let (app, cp, adapter) = echo_app_with(&[("AWS_LWA_PASS_THROUGH_PATH", "/sqs-in")]).await;
    let sqs = events::sqs(&["one", "two"]);
    let result = invoke(&cp, &adapter, sqs.to_string()).await;
    assert!(!result.is_error(), "{}", result.describe());
    let request = app
        .wait_request(TIMEOUT)
        .await
        .expect("a forwarded request");
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(request.path, "/sqs-in");
    assert_eq!(request.json(), Some(sqs));
    assert_no_warning(&kill_and_collect(&adapter).await);
}

const LONG_TEXT: &str = "a text body that is long enough to be worth compressing, \
                         a text body that is long enough to be worth compressing";

fn text_app() -> TestAppBuilder {
    TestApp::builder().route("/text", |_| Reply::text(LONG_TEXT))
}

// covers CFG-10
#[tokio::test]
async fn cfg10_enable_compression() {
    let event = events::http_v2("GET", "/text").header("accept-encoding", "gzip");

    let (_app, cp, adapter) =
        app_and_adapter(text_app(), &[("AWS_LWA_ENABLE_COMPRESSION", "true")]).await;
    let response = invoke(&cp, &adapter, &event).await.json().unwrap();
    assert_eq!(
        response["headers"]["content-encoding"], "gzip",
        "{response}"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&events::response_body(&response)[..])
        .read_to_string(&mut text)
        .expect("a gzip body");
    assert_eq!(text, LONG_TEXT);
    assert_no_warning(&kill_and_collect(&adapter).await);

    // Off by default.
    let (_app, cp, adapter) = app_and_adapter(text_app(), &[]).await;
    let response = invoke(&cp, &adapter, &event).await.json().unwrap();
    assert!(
        response["headers"].get("content-encoding").is_none(),
        "{response}"
    );
    assert_eq!(events::response_body(&response), LONG_TEXT.as_bytes());
    kill_and_collect(&adapter).await;
}

// covers CFG-11
#[tokio::test]
async fn cfg11_invoke_mode_response_stream_in_any_case() {
    let (_app, cp, adapter) = echo_app_with(&[("AWS_LWA_INVOKE_MODE", "RESPONSE_STREAM")]).await;
    let result = invoke(&cp, &adapter, events::function_url("GET", "/streamed")).await;
    let streamed = result.streamed().expect("a streamed response");
    assert_eq!(streamed.status(), Some(200));
    let streamed_echo: Value = serde_json::from_slice(&streamed.body).expect("the echo");
    assert_eq!(streamed_echo["path"], "/streamed");
    assert_no_warning(&kill_and_collect(&adapter).await);

    let (_app, cp, adapter) = echo_app_with(&[("AWS_LWA_INVOKE_MODE", "Buffered")]).await;
    let result = invoke(&cp, &adapter, events::function_url("GET", "/buffered")).await;
    assert_eq!(echo(&result)["path"], "/buffered");
    assert_no_warning(&kill_and_collect(&adapter).await);
}

// covers CFG-12
#[tokio::test]
async fn cfg12_authorization_source() {
    let (app, cp, adapter) = echo_app_with(&[("AWS_LWA_AUTHORIZATION_SOURCE", "X-Api-Auth")]).await;
    let event = events::http_v2("GET", "/secure").header("x-api-auth", "Bearer abc");
    let result = invoke(&cp, &adapter, event).await;
    assert!(!result.is_error(), "{}", result.describe());
    let request = app
        .wait_request(TIMEOUT)
        .await
        .expect("a forwarded request");
    assert_eq!(request.header_all("authorization"), ["Bearer abc"]);
    assert!(
        request.header("x-api-auth").is_none(),
        "the value was moved"
    );
    assert_no_warning(&kill_and_collect(&adapter).await);
}

// covers CFG-13
#[tokio::test]
async fn cfg13_error_status_codes() {
    let builder = TestApp::builder()
        .route("/s503", |_| Reply::new(503).body("app is down"))
        .route("/s501", |_| Reply::new(501).body("not implemented"));
    let (_app, cp, adapter) =
        app_and_adapter(builder, &[("AWS_LWA_ERROR_STATUS_CODES", "500,502-504")]).await;

    let result = invoke(&cp, &adapter, events::http_v2("GET", "/s503")).await;
    let (_, body) = result
        .error()
        .expect("503 is in the set: the invocation fails");
    assert!(body.to_string().contains("503"), "{body}");

    let result = invoke(&cp, &adapter, events::http_v2("GET", "/s501")).await;
    let response = result.json().expect("501 is not in the set: a response");
    assert_eq!(response["statusCode"], 501);
    kill_and_collect(&adapter).await;
}

// ---------------------------------------------------------------------------------------------
// CFG-14, CFG-15: where the Runtime and Extensions APIs are
// ---------------------------------------------------------------------------------------------

// covers CFG-14
#[tokio::test]
async fn cfg14_runtime_api_proxy_serves_the_runtime_loop_only() {
    let app = TestApp::start().await.unwrap();
    let port = app.port().to_string();
    let lambda = control_plane().await;
    let proxy = control_plane().await;
    let proxy_addr = proxy.addr().to_string();
    let adapter = spawn_adapter(
        &lambda,
        &[
            ("AWS_LWA_PORT", &port),
            ("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", &proxy_addr),
        ],
    );
    let registration = registered(&lambda, &adapter).await;
    assert!(
        lambda
            .wait_extension_parked(&registration.id, TIMEOUT)
            .await
    );

    wait_runtime_loop(&proxy, &adapter, TIMEOUT).await;
    let result = invoke(&proxy, &adapter, events::http_v2("GET", "/proxied")).await;
    assert_eq!(echo(&result)["path"], "/proxied");

    assert!(
        proxy.registrations().is_empty(),
        "the proxy sees no registration"
    );
    assert_eq!(
        lambda.next_calls_total(),
        0,
        "no runtime call goes to Lambda"
    );
    assert!(
        lambda.is_parked(&registration.id),
        "the extension stays parked at Lambda"
    );
    assert_eq!(lambda.registrations().len(), 1);
    kill_and_collect(&adapter).await;
}

// covers CFG-15 (the only test in the suite that uses 127.0.0.1:9001)
#[tokio::test]
async fn cfg15_runtime_api_defaults_to_127_0_0_1_9001() {
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 9001));
    let give_up = Instant::now() + TIMEOUT;
    let mut retry = tokio::time::interval(Duration::from_millis(50));
    let cp = loop {
        retry.tick().await;
        let config = ControlPlaneConfig {
            bind,
            ..Default::default()
        };
        match ControlPlane::start_with(config).await {
            Ok(cp) => break cp,
            Err(err) if Instant::now() < give_up => eprintln!("{bind} not free yet: {err}"),
            Err(err) => panic!("this test needs {bind}: {err}"),
        }
    };
    let app = TestApp::start().await.unwrap();
    let adapter = adapter_command(cp.addr())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("AWS_LWA_PORT", app.port().to_string())
        .spawn()
        .expect("the adapter binary starts");
    let registration = registered(&cp, &adapter).await;
    assert_eq!(registration.name, "lambda-adapter");
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/default-api")).await;
    assert_eq!(echo(&result)["path"], "/default-api");
    kill_and_collect(&adapter).await;
}
