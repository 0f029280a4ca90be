//! Configuration seen from outside the process (SPEC CFG-1 … CFG-16, CFG-20): the real
//! `lambda-adapter` binary, started with exactly the variables a test gives it, between a fake
//! Lambda control plane and a real HTTP app. Every test names the rules it covers.

mod support;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lambda_emulator::control_plane::ErrorOrigin;
use lambda_emulator::ControlPlaneConfig;
use serde_json::Value;
use support::adapter::Stream;
use support::app::TestAppBuilder;
use support::logs::{assert_no_warning, assert_one_warning, level_lines, lines_with};
use support::outcome::echo;
use support::{
    adapter_command, control_plane, events, final_output, invoke, kill_and_collect, registered,
    spawn_adapter, wait_runtime_loop, AdapterProcess, ControlPlane, InvocationResult, Reply,
    TestApp, TIMEOUT,
};

/// Bound for the waits that span the adapter's 9.8 s async-init window.
const ASYNC_INIT_BOUND: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Waits for `count` readiness probes, then checks that the runtime loop has not started: the
/// adapter keeps probing, so it does not consider the app ready.
async fn assert_still_probing(
    app: &TestApp,
    cp: &ControlPlane,
    adapter: &AdapterProcess,
    count: usize,
) {
    let probes = app.probes().len();
    if app.wait_probes(probes + count, TIMEOUT).await.is_none() {
        panic!(
            "expected readiness probes to go on, saw {}; adapter output:\n{}",
            app.probes().len(),
            adapter.logs()
        );
    }
    assert_eq!(
        cp.next_calls_total(),
        0,
        "the runtime loop started although the app is not ready; adapter output:\n{}",
        adapter.logs()
    );
}

/// An app on a fixed port. The port may be briefly busy (another suite's app closing), so binding
/// is retried for a bounded time.
async fn app_on_fixed_port(port: u16, builder: TestAppBuilder) -> TestApp {
    builder
        .start_on_retrying(port, TIMEOUT)
        .await
        .unwrap_or_else(|err| panic!("this test needs 127.0.0.1:{port}: {err}"))
}

/// A loopback port where nothing listens.
fn dead_port() -> String {
    TestApp::reserve_port().to_string()
}

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

// covers CFG-1, CFG-2, CFG-3, CFG-4, CFG-5, CFG-6, CFG-8, CFG-9, CFG-11 (their defaults)
#[tokio::test]
async fn cfg1_to_cfg11_defaults_with_nothing_configured() {
    // CFG-6: the default healthy set is 100-499, so a readiness answer of 404 means ready.
    let app = app_on_fixed_port(8080, TestApp::builder().readiness_status(404)).await;
    let cp = control_plane().await;
    // CFG-1: no AWS_LWA_PORT / PORT at all, so the app must be found on 8080.
    let adapter = spawn_adapter(&cp, &[]);
    registered(&cp, &adapter).await;
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;

    let probes = app.probes();
    // CFG-6: the first probe (404) was healthy, so there was no second one.
    assert_eq!(probes.len(), 1, "{probes:?}");
    let probe = &probes[0];
    // CFG-5: HTTP, CFG-4: path `/`, CFG-2 + CFG-3: 127.0.0.1 and the app port.
    assert_eq!(probe.method, http::Method::GET);
    assert_eq!(probe.path, "/");
    assert_eq!(probe.header("host").as_deref(), Some("127.0.0.1:8080"));

    // CFG-8: no base path is removed.
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/prod/items")).await;
    assert!(
        matches!(result, InvocationResult::Response { .. }),
        "CFG-11: buffered by default, got {}",
        result.describe()
    );
    assert_eq!(echo(&result)["path"], "/prod/items");

    // CFG-9: pass-through events go to POST /events.
    let sqs = events::sqs(&["hello"]);
    let result = invoke(&cp, &adapter, sqs.to_string()).await;
    assert!(!result.is_error(), "{}", result.describe());
    let request = app
        .wait_request_matching(TIMEOUT, |request| request.path == "/events")
        .await
        .expect("the SQS event reached POST /events");
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(request.json(), Some(sqs));

    let logs = kill_and_collect(&adapter).await;
    assert_no_warning(&logs);
    assert!(level_lines(&logs, "ERROR").is_empty(), "{logs}");
}

// ---------------------------------------------------------------------------------------------
// CFG-1 port
// ---------------------------------------------------------------------------------------------

// covers CFG-1
#[tokio::test]
async fn cfg1_port_is_the_fallback_without_warning_and_aws_lwa_port_wins() {
    let app = TestApp::start().await.unwrap();
    let port = app.port().to_string();

    let cp = control_plane().await;
    let adapter = spawn_adapter(&cp, &[("PORT", &port)]);
    registered(&cp, &adapter).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/via-port")).await;
    assert_eq!(echo(&result)["path"], "/via-port");
    let logs = kill_and_collect(&adapter).await;
    assert_no_warning(&logs);

    let dead = dead_port();
    let cp = control_plane().await;
    let adapter = spawn_adapter(&cp, &[("PORT", &dead), ("AWS_LWA_PORT", &port)]);
    registered(&cp, &adapter).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/via-aws-lwa-port")).await;
    assert_eq!(echo(&result)["path"], "/via-aws-lwa-port");
    assert_no_warning(&kill_and_collect(&adapter).await);
}

// ---------------------------------------------------------------------------------------------
// CFG-2 host
// ---------------------------------------------------------------------------------------------

/// Starts a ready app and the adapter with `env` (plus `AWS_LWA_PORT`); returns the `host` header
/// of the first probe, once the runtime loop runs, and the whole output.
async fn probe_host_with(env: &[(&str, &str)]) -> (String, u16, String) {
    let app = TestApp::start().await.unwrap();
    let port = app.port().to_string();
    let cp = control_plane().await;
    let mut all = vec![("AWS_LWA_PORT", port.as_str())];
    all.extend_from_slice(env);
    let adapter = spawn_adapter(&cp, &all);
    registered(&cp, &adapter).await;
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/host")).await;
    assert_eq!(echo(&result)["path"], "/host");
    let host = app.probes()[0].header("host").expect("a host header");
    (host, app.port(), kill_and_collect(&adapter).await)
}

// covers CFG-2
#[tokio::test]
async fn cfg2_host_from_aws_lwa_host_then_deprecated_host() {
    let (host, port, logs) = probe_host_with(&[("AWS_LWA_HOST", "localhost")]).await;
    assert_eq!(host, format!("localhost:{port}"));
    assert_no_warning(&logs);

    let (host, port, logs) = probe_host_with(&[("HOST", "localhost")]).await;
    assert_eq!(host, format!("localhost:{port}"), "HOST still works");
    assert_one_warning(&logs, &["HOST", "AWS_LWA_HOST"]);

    let (host, port, logs) =
        probe_host_with(&[("HOST", "localhost"), ("AWS_LWA_HOST", "127.0.0.1")]).await;
    assert_eq!(host, format!("127.0.0.1:{port}"), "AWS_LWA_HOST wins");
    assert_no_warning(&logs);
}

// ---------------------------------------------------------------------------------------------
// CFG-3 readiness port
// ---------------------------------------------------------------------------------------------

/// The app answers 503 on `/`; a second app, ready, listens on another port. Readiness must be
/// checked on the port named by `readiness_env(health_port, app_port)`.
async fn readiness_port_scenario(
    readiness_env: impl Fn(&str, &str) -> Vec<(&'static str, String)>,
) -> String {
    let health = TestApp::start().await.unwrap();
    let app = TestApp::builder().not_ready().start().await.unwrap();
    let app_port = app.port().to_string();
    let health_port = health.port().to_string();
    let mut env = vec![("AWS_LWA_PORT", app_port.clone())];
    env.extend(readiness_env(&health_port, &app_port));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let cp = control_plane().await;
    let adapter = spawn_adapter(&cp, &env);
    registered(&cp, &adapter).await;
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/hello")).await;
    assert_eq!(
        echo(&result)["path"],
        "/hello",
        "invocations go to the app port"
    );

    assert!(
        !health.probes().is_empty(),
        "probes go to the readiness port"
    );
    assert!(health.requests().is_empty(), "invocations do not");
    assert!(app.probes().is_empty(), "no probe on the app port");
    kill_and_collect(&adapter).await
}

// covers CFG-3
#[tokio::test]
async fn cfg3_readiness_port_differs_from_the_app_port() {
    let logs = readiness_port_scenario(|health, _| {
        vec![("AWS_LWA_READINESS_CHECK_PORT", health.to_owned())]
    })
    .await;
    assert_no_warning(&logs);

    let logs =
        readiness_port_scenario(|health, _| vec![("READINESS_CHECK_PORT", health.to_owned())])
            .await;
    assert_one_warning(
        &logs,
        &["READINESS_CHECK_PORT", "AWS_LWA_READINESS_CHECK_PORT"],
    );

    let logs = readiness_port_scenario(|health, app| {
        vec![
            ("READINESS_CHECK_PORT", app.to_owned()),
            ("AWS_LWA_READINESS_CHECK_PORT", health.to_owned()),
        ]
    })
    .await;
    assert_no_warning(&logs);
}

// ---------------------------------------------------------------------------------------------
// CFG-4 readiness path
// ---------------------------------------------------------------------------------------------

/// Only `/health` answers 200; every other path but `/hello` answers 503.
async fn readiness_path_scenario(env: &[(&str, &str)]) -> String {
    let app = TestApp::builder()
        .readiness_path("/health")
        .route("/", |_| Reply::new(503).body("not the readiness path"))
        .route("/health", Reply::echo)
        .route("/hello", Reply::echo)
        .start()
        .await
        .unwrap();
    let port = app.port().to_string();
    let mut all = vec![("AWS_LWA_PORT", port.as_str())];
    all.extend_from_slice(env);
    let cp = control_plane().await;
    let adapter = spawn_adapter(&cp, &all);
    registered(&cp, &adapter).await;
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let probes = app.probes();
    assert!(!probes.is_empty());
    assert!(
        probes.iter().all(|probe| probe.uri == "/health"),
        "{probes:?}"
    );
    assert!(
        app.requests().is_empty(),
        "nothing but /health was probed: {:?}",
        app.requests()
    );
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/hello")).await;
    assert_eq!(echo(&result)["path"], "/hello");
    kill_and_collect(&adapter).await
}

// covers CFG-4
#[tokio::test]
async fn cfg4_readiness_path_is_probed() {
    let logs = readiness_path_scenario(&[("AWS_LWA_READINESS_CHECK_PATH", "/health")]).await;
    assert_no_warning(&logs);

    let logs = readiness_path_scenario(&[("READINESS_CHECK_PATH", "/health")]).await;
    assert_one_warning(
        &logs,
        &["READINESS_CHECK_PATH", "AWS_LWA_READINESS_CHECK_PATH"],
    );

    let logs = readiness_path_scenario(&[
        ("READINESS_CHECK_PATH", "/"),
        ("AWS_LWA_READINESS_CHECK_PATH", "/health"),
    ])
    .await;
    assert_no_warning(&logs);
}

// ---------------------------------------------------------------------------------------------
// CFG-5 readiness protocol
// ---------------------------------------------------------------------------------------------

/// An app whose readiness path answers 500 and the adapter with `env`.
async fn app_answering_500(env: &[(&str, &str)]) -> (TestApp, ControlPlane, AdapterProcess) {
    app_with_readiness_status(500, env).await
}

// covers CFG-5
#[tokio::test]
async fn cfg5_tcp_readiness_in_any_case_and_deprecated_name() {
    for env in [
        &[("AWS_LWA_READINESS_CHECK_PROTOCOL", "TcP")][..],
        &[("READINESS_CHECK_PROTOCOL", "tcp")][..],
    ] {
        let (app, cp, adapter) = app_answering_500(env).await;
        // A TCP connect is enough: the 500 on the readiness path does not matter.
        wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
        assert!(app.probes().is_empty(), "a TCP check sends no HTTP request");
        let result = invoke(&cp, &adapter, events::http_v2("GET", "/tcp")).await;
        assert_eq!(echo(&result)["path"], "/tcp");
        let logs = kill_and_collect(&adapter).await;
        if env[0].0 == "READINESS_CHECK_PROTOCOL" {
            assert_one_warning(
                &logs,
                &[
                    "READINESS_CHECK_PROTOCOL",
                    "AWS_LWA_READINESS_CHECK_PROTOCOL",
                ],
            );
        } else {
            assert_no_warning(&logs);
        }
    }
}

// covers CFG-5
#[tokio::test]
async fn cfg5_http_readiness_by_default_and_aws_lwa_name_wins() {
    for env in [
        &[][..],
        &[("AWS_LWA_READINESS_CHECK_PROTOCOL", "HTTP")][..],
        &[
            ("READINESS_CHECK_PROTOCOL", "tcp"),
            ("AWS_LWA_READINESS_CHECK_PROTOCOL", "http"),
        ][..],
    ] {
        let (app, cp, adapter) = app_answering_500(env).await;
        // HTTP: 500 is not healthy, so the adapter keeps probing.
        assert_still_probing(&app, &cp, &adapter, 5).await;
        app.set_ready();
        wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
        let result = invoke(&cp, &adapter, events::http_v2("GET", "/http")).await;
        assert_eq!(echo(&result)["path"], "/http");
        assert_no_warning(&kill_and_collect(&adapter).await);
    }
}

// ---------------------------------------------------------------------------------------------
// CFG-6 healthy status
// ---------------------------------------------------------------------------------------------

async fn app_with_readiness_status(
    status: u16,
    env: &[(&str, &str)],
) -> (TestApp, ControlPlane, AdapterProcess) {
    let app = TestApp::builder()
        .readiness_status(status)
        .start()
        .await
        .unwrap();
    let port = app.port().to_string();
    let mut all = vec![("AWS_LWA_PORT", port.as_str())];
    all.extend_from_slice(env);
    let cp = control_plane().await;
    let adapter = spawn_adapter(&cp, &all);
    registered(&cp, &adapter).await;
    (app, cp, adapter)
}

// covers CFG-6
#[tokio::test]
async fn cfg6_healthy_status_range_keeps_a_404_app_unready_until_200() {
    let (app, cp, adapter) = app_with_readiness_status(
        404,
        &[("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "200-299")],
    )
    .await;
    assert_still_probing(&app, &cp, &adapter, 5).await;
    app.set_ready();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/ok")).await;
    assert_eq!(echo(&result)["path"], "/ok");
    assert_no_warning(&kill_and_collect(&adapter).await);
}

// covers CFG-6
#[tokio::test]
async fn cfg6_healthy_status_list_of_codes_and_ranges() {
    // 404 is listed: ready at the first probe.
    let (app, cp, adapter) = app_with_readiness_status(
        404,
        &[("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "200-299, 404")],
    )
    .await;
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    assert_eq!(app.probes().len(), 1);
    assert_no_warning(&kill_and_collect(&adapter).await);

    // 500 is unhealthy by default (100-499).
    let (app, cp, adapter) = app_with_readiness_status(500, &[]).await;
    assert_still_probing(&app, &cp, &adapter, 5).await;
    app.set_ready();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    kill_and_collect(&adapter).await;
}

// covers CFG-6
#[tokio::test]
async fn cfg6_min_unhealthy_status_means_100_to_n_minus_1() {
    let (app, cp, adapter) = app_with_readiness_status(
        404,
        &[("AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS", "400")],
    )
    .await;
    assert_still_probing(&app, &cp, &adapter, 5).await;
    app.set_readiness_status(399);
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/ok")).await;
    assert_eq!(echo(&result)["path"], "/ok");
    kill_and_collect(&adapter).await;
}

// ---------------------------------------------------------------------------------------------
// CFG-7 async init (each scenario spans the 9.8 s async-init window; they run concurrently)
// ---------------------------------------------------------------------------------------------

/// An app that never becomes ready, and the adapter with `env`. Returns whether the runtime loop
/// started (async init) before the adapter's own "not ready after 10.x s" progress line, and
/// the whole output.
async fn async_init_scenario(env: Vec<(&'static str, &'static str)>) -> (bool, String) {
    let app = TestApp::builder().not_ready().start().await.unwrap();
    let port = app.port().to_string();
    let mut all = vec![("AWS_LWA_PORT", port.as_str())];
    all.extend(env);
    let cp = control_plane().await;
    let adapter = spawn_adapter(&cp, &all);
    registered(&cp, &adapter).await;
    let started_loop = tokio::select! {
        polled = cp.wait_next_outstanding(1, ASYNC_INIT_BOUND) => polled,
        line = adapter.wait_for_log("app is not ready after 10.", ASYNC_INIT_BOUND) => {
            assert!(line.is_some(), "no progress line; output:\n{}", adapter.logs());
            cp.next_calls_total() > 0
        }
    };
    (started_loop, kill_and_collect(&adapter).await)
}

// covers CFG-7, RDY-4
#[tokio::test]
async fn cfg7_async_init_from_aws_lwa_async_init_and_deprecated_async_init() {
    let (new_name, deprecated, both) = tokio::join!(
        async_init_scenario(vec![("AWS_LWA_ASYNC_INIT", "true")]),
        async_init_scenario(vec![("ASYNC_INIT", "TRUE")]),
        async_init_scenario(vec![
            ("ASYNC_INIT", "true"),
            ("AWS_LWA_ASYNC_INIT", "false")
        ]),
    );

    let (started, logs) = new_name;
    assert!(
        started,
        "AWS_LWA_ASYNC_INIT=true starts the runtime loop; output:\n{logs}"
    );
    assert_no_warning(&logs);

    let (started, logs) = deprecated;
    assert!(started, "ASYNC_INIT=TRUE still works; output:\n{logs}");
    assert_one_warning(&logs, &["ASYNC_INIT", "AWS_LWA_ASYNC_INIT"]);

    let (started, logs) = both;
    assert!(!started, "AWS_LWA_ASYNC_INIT=false wins; output:\n{logs}");
    assert_no_warning(&logs);
}

// covers CFG-20, CFG-7
#[tokio::test]
async fn cfg20_async_init_yes_warns_and_keeps_the_default_false() {
    let (started, logs) = async_init_scenario(vec![("AWS_LWA_ASYNC_INIT", "yes")]).await;
    assert!(
        !started,
        "`yes` is not `true`: init stays synchronous; output:\n{logs}"
    );
    assert_one_warning(&logs, &["AWS_LWA_ASYNC_INIT", "yes", "false"]);
}

// ---------------------------------------------------------------------------------------------
// CFG-8 … CFG-13: request and response options
// ---------------------------------------------------------------------------------------------

/// A ready echo app and the adapter with `env` (plus `AWS_LWA_PORT`).
async fn echo_app_with(env: &[(&str, &str)]) -> (TestApp, ControlPlane, AdapterProcess) {
    app_with(TestApp::builder(), env).await
}

async fn app_with(
    builder: TestAppBuilder,
    env: &[(&str, &str)],
) -> (TestApp, ControlPlane, AdapterProcess) {
    let app = builder.start().await.unwrap();
    let port = app.port().to_string();
    let mut all = vec![("AWS_LWA_PORT", port.as_str())];
    all.extend_from_slice(env);
    let cp = control_plane().await;
    let adapter = spawn_adapter(&cp, &all);
    registered(&cp, &adapter).await;
    (app, cp, adapter)
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

    let (_app, cp, adapter) = app_with(text_app(), &[("AWS_LWA_ENABLE_COMPRESSION", "true")]).await;
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
    let (_app, cp, adapter) = app_with(text_app(), &[]).await;
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
        app_with(builder, &[("AWS_LWA_ERROR_STATUS_CODES", "500,502-504")]).await;

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

// ---------------------------------------------------------------------------------------------
// CFG-16 logging
// ---------------------------------------------------------------------------------------------

/// A ready app and the adapter with `env`; returns the extension id once it is parked and the
/// runtime loop runs, and the whole output after one invocation.
async fn logging_scenario(env: &[(&str, &str)]) -> (String, AdapterProcess) {
    let (_app, cp, adapter) = echo_app_with(env).await;
    let parked = cp
        .wait_parked(TIMEOUT)
        .await
        .expect("the extension parks on event/next");
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/log")).await;
    assert!(!result.is_error(), "{}", result.describe());
    (parked.id, adapter)
}

// covers CFG-16
#[tokio::test]
async fn cfg16_default_is_info_text_without_timestamps() {
    let (_, adapter) = logging_scenario(&[]).await;
    let logs = kill_and_collect(&adapter).await;
    let ready = lines_with(&logs, "app is ready after");
    assert_eq!(ready.len(), 1, "{logs}");
    assert!(
        ready[0].starts_with(" INFO app is ready after")
            || ready[0].starts_with("INFO app is ready after"),
        "text format, level first, no timestamp: {:?}",
        ready[0]
    );
    assert!(
        !logs.lines().any(|line| line.trim_start().starts_with('{')),
        "{logs}"
    );
    assert!(
        lines_with(&logs, "registered extension").is_empty(),
        "no DEBUG lines: {logs}"
    );
    for line in adapter.log_lines() {
        assert_eq!(
            line.stream,
            Stream::Stderr,
            "logs go to stderr: {:?}",
            line.text
        );
    }
}

// covers CFG-16
#[tokio::test]
async fn cfg16_lambda_log_level_debug() {
    let (id, adapter) = logging_scenario(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).await;
    let logs = kill_and_collect(&adapter).await;
    let debug = lines_with(&logs, "registered extension lambda-adapter as");
    assert_eq!(debug.len(), 1, "{logs}");
    assert!(
        debug[0].trim_start().starts_with("DEBUG "),
        "{:?}",
        debug[0]
    );
    assert!(debug[0].ends_with(&id), "{:?} names the id {id}", debug[0]);
}

// covers CFG-16
#[tokio::test]
async fn cfg16_lambda_log_level_error_hides_info() {
    let (_, adapter) = logging_scenario(&[("AWS_LAMBDA_LOG_LEVEL", "ERROR")]).await;
    let logs = kill_and_collect(&adapter).await;
    assert!(lines_with(&logs, "app is ready after").is_empty(), "{logs}");
    assert!(level_lines(&logs, "INFO").is_empty(), "{logs}");
}

// covers CFG-16
#[tokio::test]
async fn cfg16_json_format() {
    let (id, adapter) = logging_scenario(&[
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
    ])
    .await;
    kill_and_collect(&adapter).await;
    let mut messages = Vec::new();
    for line in adapter.log_lines() {
        assert_eq!(
            line.stream,
            Stream::Stderr,
            "logs go to stderr: {:?}",
            line.text
        );
        let object: Value = serde_json::from_str(&line.text)
            .unwrap_or_else(|err| panic!("not a JSON line ({err}): {:?}", line.text));
        let level = object["level"].as_str().expect("a level field");
        let message = object["message"].as_str().expect("a message field");
        messages.push((level.to_owned(), message.to_owned()));
    }
    assert!(
        messages
            .iter()
            .any(|(level, message)| level == "INFO" && message.starts_with("app is ready after")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|(level, message)| level == "DEBUG"
            && message == &format!("registered extension lambda-adapter as {id}")),
        "{messages:?}"
    );
}

// covers CFG-16
#[tokio::test]
async fn cfg16_rust_log_is_the_fallback() {
    let (id, adapter) = logging_scenario(&[("RUST_LOG", "debug")]).await;
    let logs = kill_and_collect(&adapter).await;
    assert_eq!(
        lines_with(
            &logs,
            &format!("registered extension lambda-adapter as {id}")
        )
        .len(),
        1,
        "RUST_LOG=debug enables DEBUG: {logs}"
    );

    let (_, adapter) = logging_scenario(&[("RUST_LOG", "error")]).await;
    let logs = kill_and_collect(&adapter).await;
    assert!(lines_with(&logs, "app is ready after").is_empty(), "{logs}");

    // AWS_LAMBDA_LOG_LEVEL wins over RUST_LOG.
    let (_, adapter) =
        logging_scenario(&[("RUST_LOG", "debug"), ("AWS_LAMBDA_LOG_LEVEL", "INFO")]).await;
    let logs = kill_and_collect(&adapter).await;
    assert!(
        lines_with(&logs, "registered extension").is_empty(),
        "{logs}"
    );
    assert_eq!(lines_with(&logs, "app is ready after").len(), 1, "{logs}");
}

// ---------------------------------------------------------------------------------------------
// CFG-20: unusable and unknown values
// ---------------------------------------------------------------------------------------------

/// Starts the adapter with one unusable value; checks it exits non-zero with one error line
/// naming the variable and value, and that the error went to the Extensions API `init/error`.
/// Returns how long it ran.
async fn assert_rejected(name: &str, value: &str) -> Duration {
    let app = TestApp::start().await.unwrap();
    let port = app.port().to_string();
    let cp = control_plane().await;
    let mut env = vec![("AWS_LWA_PORT", port.as_str())];
    env.push((name, value));
    let started = Instant::now();
    let adapter = spawn_adapter(&cp, &env);
    let status = adapter.wait_exit(TIMEOUT).await.unwrap_or_else(|| {
        panic!(
            "{name}={value:?}: the adapter did not exit; output:\n{}",
            adapter.logs()
        )
    });
    let ran = started.elapsed();
    let logs = final_output(&adapter).await;
    assert!(
        status.code().is_some_and(|code| code != 0),
        "{name}={value:?}: exit status {status}; output:\n{logs}"
    );

    let naming = lines_with(&logs, name);
    assert_eq!(naming.len(), 1, "one line names {name}; output:\n{logs}");
    assert!(
        naming[0].contains(value),
        "{:?} names the value {value:?}",
        naming[0]
    );
    assert!(
        naming[0].trim_start().starts_with("ERROR "),
        "{:?}",
        naming[0]
    );
    assert_eq!(
        level_lines(&logs, "ERROR").len(),
        1,
        "one error line; output:\n{logs}"
    );

    let reported = cp
        .wait_init_error(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("{name}={value:?}: no init/error report; output:\n{logs}"));
    assert_eq!(reported.origin, ErrorOrigin::ExtensionInit);
    assert_eq!(reported.error_type, "Extension.ConfigInvalid");
    assert!(
        String::from_utf8_lossy(&reported.body).contains(name),
        "the report names {name}: {:?}",
        reported.body
    );
    assert_eq!(cp.next_calls_total(), 0, "no invocation is taken");
    assert!(app.requests().is_empty() && app.probes().is_empty());
    ran
}

// covers CFG-20, CFG-1
#[tokio::test]
async fn cfg20_port_abc_exits_non_zero_within_one_second() {
    let ran = assert_rejected("AWS_LWA_PORT", "abc").await;
    assert!(ran < Duration::from_secs(1), "exited after {ran:?}");
}

// covers CFG-20, CFG-1
#[tokio::test]
async fn cfg20_port_70000_is_rejected() {
    assert_rejected("AWS_LWA_PORT", "70000").await;
}

// covers CFG-20, CFG-6
#[tokio::test]
async fn cfg20_healthy_status_list_with_nothing_valid_is_rejected() {
    assert_rejected("AWS_LWA_READINESS_CHECK_HEALTHY_STATUS", "abc,999").await;
}

// covers CFG-20, CFG-2
#[tokio::test]
async fn cfg20_host_with_a_space_is_rejected() {
    assert_rejected("AWS_LWA_HOST", "my host").await;
}

// covers CFG-20, CFG-3
#[tokio::test]
async fn cfg20_readiness_check_port_abc_is_rejected() {
    assert_rejected("AWS_LWA_READINESS_CHECK_PORT", "abc").await;
}

// covers CFG-20, CFG-11
#[tokio::test]
async fn cfg20_invoke_mode_streamx_warns_and_stays_buffered() {
    let (_app, cp, adapter) = echo_app_with(&[("AWS_LWA_INVOKE_MODE", "streamx")]).await;
    let result = invoke(&cp, &adapter, events::function_url("GET", "/buffered")).await;
    assert!(
        matches!(result, InvocationResult::Response { .. }),
        "buffered: {}",
        result.describe()
    );
    assert_eq!(echo(&result)["path"], "/buffered");
    let logs = kill_and_collect(&adapter).await;
    assert_one_warning(&logs, &["AWS_LWA_INVOKE_MODE", "streamx", "buffered"]);
    assert_eq!(lines_with(&logs, "AWS_LWA_INVOKE_MODE").len(), 1, "{logs}");
}

// covers CFG-20, CFG-5
#[tokio::test]
async fn cfg20_readiness_protocol_grpc_warns_and_uses_http() {
    let (app, cp, adapter) =
        app_answering_500(&[("AWS_LWA_READINESS_CHECK_PROTOCOL", "grpc")]).await;
    // HTTP probes, and 500 is not healthy.
    assert_still_probing(&app, &cp, &adapter, 3).await;
    app.set_ready();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/grpc")).await;
    assert_eq!(echo(&result)["path"], "/grpc");
    let logs = kill_and_collect(&adapter).await;
    assert_one_warning(&logs, &["AWS_LWA_READINESS_CHECK_PROTOCOL", "grpc", "http"]);
}

// covers CFG-20, CFG-14
#[tokio::test]
async fn cfg20_runtime_api_proxy_with_a_space_is_rejected() {
    assert_rejected("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", "my proxy").await;
}
