//! Waiting for the app (SPEC RDY-1 … RDY-5), seen from outside the real `lambda-adapter` binary:
//! what the probes look like, when the runtime loop starts, and what the adapter logs meanwhile.

mod support;

use std::time::{Duration, Instant};

use http::Method;
use support::{
    app_and_adapter, events, invoke, kill_and_collect, log_line, registered, spawn_adapter,
    wait_runtime_loop, ControlPlane, Reply, TestApp, TIMEOUT,
};

/// Bound for the waits that span the adapter's 9.8 s async-init window.
const ASYNC_INIT_BOUND: Duration = Duration::from_secs(20);

/// Bound for a wait that spans `n` of the adapter's 2 s progress lines.
fn progress_bound(n: u32) -> Duration {
    Duration::from_secs(2) * n + TIMEOUT
}

// covers RDY-1
#[tokio::test]
async fn rdy1_http_get_on_the_readiness_path_until_healthy() {
    let (app, cp, adapter) = app_and_adapter(
        TestApp::builder().readiness_path("/ping").not_ready(),
        &[("AWS_LWA_READINESS_CHECK_PATH", "/ping")],
    )
    .await;
    let port = app.port();

    // Unhealthy statuses are retried.
    let probes = app.wait_probes(5, TIMEOUT).await.expect("repeated probes");
    for probe in &probes {
        assert_eq!(probe.method, Method::GET);
        assert_eq!(probe.uri, "/ping");
        assert_eq!(
            probe.header("host").as_deref(),
            Some(format!("127.0.0.1:{port}").as_str())
        );
    }
    assert_eq!(cp.next_calls_total(), 0);

    app.set_ready();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let probes_when_ready = app.probes().len();
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/hello")).await;
    assert!(!result.is_error(), "{}", result.describe());
    assert_eq!(
        app.probes().len(),
        probes_when_ready,
        "probing stops once the app is ready"
    );
}

// covers RDY-1
#[tokio::test]
async fn rdy1_connection_refused_is_retried_until_the_app_listens() {
    let port = TestApp::reserve_port();
    let cp = ControlPlane::start().await.unwrap();
    let adapter = spawn_adapter(&cp, &[("AWS_LWA_PORT", &port.to_string())]);
    registered(&cp, &adapter).await;
    assert!(adapter.is_running(), "a refused probe is not fatal");
    assert_eq!(cp.next_calls_total(), 0);

    let app = TestApp::builder()
        .start_on(port)
        .await
        .expect("the reserved port is still free");
    app.wait_probes(1, TIMEOUT)
        .await
        .expect("probes reach the app once it listens");
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/late")).await;
    assert!(!result.is_error(), "{}", result.describe());
}

// covers RDY-2
#[tokio::test]
async fn rdy2_tcp_check_is_ready_on_connect_whatever_http_says() {
    let port = TestApp::reserve_port();
    let cp = ControlPlane::start().await.unwrap();
    let adapter = spawn_adapter(
        &cp,
        &[
            ("AWS_LWA_PORT", &port.to_string()),
            ("AWS_LWA_READINESS_CHECK_PROTOCOL", "tcp"),
        ],
    );
    registered(&cp, &adapter).await;
    assert_eq!(cp.next_calls_total(), 0, "nothing listens yet: not ready");

    // A listener that answers 500 on the readiness path.
    let app = TestApp::builder()
        .readiness_status(500)
        .start_on(port)
        .await
        .expect("the reserved port is still free");
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    assert!(
        app.probes().is_empty(),
        "no HTTP request: {:?}",
        app.probes()
    );
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/tcp")).await;
    let response = result.json().expect("a buffered response");
    assert_eq!(response["statusCode"], 200, "{response}");
}

// covers RDY-3
#[tokio::test]
async fn rdy3_progress_every_2s_with_the_last_error_or_status_then_ready_once() {
    let port = TestApp::reserve_port();
    let cp = ControlPlane::start().await.unwrap();
    let adapter = spawn_adapter(&cp, &[("AWS_LWA_PORT", &port.to_string())]);
    registered(&cp, &adapter).await;

    // Nothing listens: the first progress line carries the connection error.
    let first = log_line(&adapter, "app is not ready after 2.0s", progress_bound(1)).await;
    assert!(first.contains("(last: "), "{first}");
    assert!(
        first.to_ascii_lowercase().contains("refused"),
        "names the connection error: {first}"
    );

    // Now the app listens but answers 503: the next line carries the status.
    let app = TestApp::builder()
        .not_ready()
        .start_on(port)
        .await
        .expect("the reserved port is still free");
    app.wait_probes(1, TIMEOUT).await.expect("a 503 probe");
    let second = log_line(&adapter, "app is not ready after 4.0s", progress_bound(2)).await;
    assert!(second.contains("(last: status 503"), "{second}");
    assert_eq!(cp.next_calls_total(), 0);

    app.set_ready();
    let ready = log_line(&adapter, "app is ready after", TIMEOUT).await;
    // RDY-7: the line also says what made the app ready.
    assert!(ready.ends_with("ms (GET / → 200)"), "{ready:?}");
    let millis: u64 = ready
        .split("app is ready after ")
        .nth(1)
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("`app is ready after N ms`: {ready:?}"));
    assert!(millis >= 4_000, "start-up took over 4 s: {ready}");
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/x")).await;
    assert!(!result.is_error(), "{}", result.describe());

    let logs = kill_and_collect(&adapter).await;
    let progress: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("app is not ready after"))
        .collect();
    assert!(progress.len() >= 2, "{logs}");
    assert!(
        progress.iter().all(|line| line.contains("(last: ")),
        "{logs}"
    );
    assert_eq!(
        logs.lines()
            .filter(|line| line.contains("app is ready after"))
            .count(),
        1,
        "ready is logged once: {logs}"
    );
}

// covers RDY-4, CFG-7
#[tokio::test]
async fn rdy4_async_init_starts_the_runtime_after_9_8s_and_holds_the_first_invocation() {
    let app = TestApp::builder().not_ready().start().await.unwrap();
    let port = app.port().to_string();
    let cp = ControlPlane::start().await.unwrap();
    let spawned = Instant::now();
    let adapter = spawn_adapter(
        &cp,
        &[("AWS_LWA_PORT", &port), ("AWS_LWA_ASYNC_INIT", "true")],
    );
    registered(&cp, &adapter).await;

    // The adapter stops waiting within Lambda's 10 s init window and polls `next`.
    wait_runtime_loop(&cp, &adapter, ASYNC_INIT_BOUND).await;
    let waited = spawned.elapsed();
    assert!(
        waited >= Duration::from_secs(9),
        "it waited for the app first: {waited:?}"
    );
    let gave_up = log_line(&adapter, "app is not ready after 9.8s", TIMEOUT).await;
    assert!(gave_up.contains("(last: status 503"), "{gave_up}");

    // An invocation taken now is held until the app is ready.
    let invocation = cp.invoke(events::http_v2("GET", "/held"));
    invocation
        .wait_delivered(TIMEOUT)
        .await
        .expect("the runtime takes the invocation");
    let probes = app.probes().len();
    app.wait_probes(probes + 5, TIMEOUT)
        .await
        .expect("the adapter goes on probing");
    assert!(app.requests().is_empty(), "not forwarded before ready");
    assert!(invocation.try_result().is_none());

    app.set_ready();
    let result = match invocation.result(TIMEOUT).await {
        Ok(result) => result,
        Err(timeout) => panic!("{timeout}; adapter output:\n{}", adapter.logs()),
    };
    let response = result.json().expect("a buffered response");
    assert_eq!(response["statusCode"], 200, "{response}");
    let request = app
        .wait_request(TIMEOUT)
        .await
        .expect("forwarded once ready");
    assert_eq!(request.path, "/held");
}

// covers RDY-5
#[tokio::test]
async fn rdy5_probes_carry_no_lambda_headers() {
    let (app, cp, adapter) = app_and_adapter(
        TestApp::builder().readiness_path("/healthz").not_ready(),
        &[("AWS_LWA_READINESS_CHECK_PATH", "/healthz")],
    )
    .await;
    app.wait_probes(3, TIMEOUT).await.expect("probes");
    app.set_ready();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;

    // The app files a request to the readiness path that carries the Lambda context header as a
    // user request; none may exist before the first invocation.
    assert!(
        app.requests().is_empty(),
        "a probe looked like a user request: {:?}",
        app.requests()
    );
    let probes = app.probes();
    assert!(probes.len() >= 4);
    for probe in &probes {
        for header in [
            "x-amzn-lambda-context",
            "x-amzn-request-context",
            "x-amz-tenant-id",
        ] {
            assert!(
                probe.header(header).is_none(),
                "probe with {header}: {probe:?}"
            );
        }
    }

    // A real invocation does carry them: the two are told apart.
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/user")).await;
    assert!(!result.is_error(), "{}", result.describe());
    let request = app.wait_request(TIMEOUT).await.expect("the user request");
    assert!(request.header("x-amzn-lambda-context").is_some());
    assert!(request.header("x-amzn-request-context").is_some());
    assert_eq!(app.requests().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// RDY-7: what to change
// ---------------------------------------------------------------------------------------------

// covers RDY-7
#[tokio::test]
async fn rdy7_a_refused_port_names_aws_lwa_port_and_the_port_the_app_listens_on() {
    let wrong = TestApp::reserve_port();
    let cp = ControlPlane::start().await.unwrap();
    let adapter = spawn_adapter(&cp, &[("AWS_LWA_PORT", &wrong.to_string())]);
    registered(&cp, &adapter).await;
    // The app starts after the adapter, on a port of its own.
    let app = TestApp::start().await.unwrap();
    let port = app.port();
    let named = adapter
        .wait_for_log_line(progress_bound(2), |line| {
            line.contains("app is not ready after") && line.contains(&port.to_string())
        })
        .await
        .unwrap_or_else(|| panic!("no line names port {port}; output:\n{}", adapter.logs()));
    assert!(named.contains("AWS_LWA_PORT"), "{named}");
    assert!(named.contains("refused"), "{named}");
    assert!(
        named.contains(&format!("set AWS_LWA_PORT={port}"))
            || named.contains("set AWS_LWA_PORT to its port"),
        "{named}"
    );
    assert_eq!(cp.next_calls_total(), 0);
}

// covers RDY-7
#[tokio::test]
async fn rdy7_an_unhealthy_app_is_told_what_to_change_and_probed_ten_times_less() {
    let (app, _cp, adapter) = app_and_adapter(TestApp::builder().readiness_status(500), &[]).await;
    let first = log_line(&adapter, "app is not ready after 2.0s", progress_bound(1)).await;
    let probes_at_first = app.probes().len();
    for setting in [
        "AWS_LWA_READINESS_CHECK_PATH",
        "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS",
    ] {
        assert!(first.contains(setting), "{first}");
    }
    assert!(first.contains("answers 500"), "{first}");
    log_line(&adapter, "app is not ready after 4.0s", progress_bound(2)).await;
    // At most one probe per 100 ms while the app answers unhealthy statuses: about 20 in the
    // 2 s between the lines (10 ms probes would make about 200).
    let probes = app.probes().len() - probes_at_first;
    assert!(
        (5..=30).contains(&probes),
        "{probes} probes in 2 s; output:\n{}",
        adapter.logs()
    );
}

// covers RDY-7
#[tokio::test]
async fn rdy7_the_ready_line_says_what_made_the_app_ready_and_a_404_path_warns() {
    // The app has no /healthz: 404, which the default healthy statuses count as ready.
    let app = TestApp::start().await.unwrap();
    app.route("/healthz", |_| Reply::new(404));
    let cp = ControlPlane::start().await.unwrap();
    let port = app.port().to_string();
    let adapter = spawn_adapter(
        &cp,
        &[
            ("AWS_LWA_PORT", &port),
            ("AWS_LWA_READINESS_CHECK_PATH", "/healthz"),
        ],
    );
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let logs = kill_and_collect(&adapter).await;
    let ready: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("app is ready after"))
        .collect();
    assert_eq!(ready.len(), 1, "{logs}");
    assert!(ready[0].ends_with("(GET /healthz → 404)"), "{logs}");
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(
        warnings[0].contains("/healthz") && warnings[0].contains("404"),
        "{logs}"
    );
    assert!(
        warnings[0].contains("AWS_LWA_READINESS_CHECK_PATH"),
        "{logs}"
    );
}
