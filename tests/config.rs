//! Configuration seen from outside the process, finding the app and waiting for it (SPEC CFG-1 …
//! CFG-7, with their defaults and CFG-20's warning for an async-init value that means nothing):
//! the real `lambda-adapter` binary, started with exactly the variables a test gives it, between
//! a fake Lambda control plane and a real HTTP app. Every test names the rules it covers. The
//! other variables: `config_invocations.rs` (CFG-8 … CFG-15), `config_logs_and_values.rs`
//! (CFG-16, CFG-20).

mod support;

use std::time::Duration;

use support::app::TestAppBuilder;
use support::logs::{assert_no_warning, assert_one_warning, level_lines};
use support::outcome::echo;
use support::{
    app_and_adapter, assert_still_probing, control_plane, events, invoke, kill_and_collect,
    registered, spawn_adapter, wait_runtime_loop, AdapterProcess, ControlPlane, InvocationResult,
    Reply, TestApp, TIMEOUT,
};

/// Bound for the waits that span the adapter's 9.8 s async-init window.
const ASYNC_INIT_BOUND: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

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
    app_and_adapter(TestApp::builder().readiness_status(status), env).await
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
