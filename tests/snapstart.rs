//! SnapStart hooks (SPEC LIF-8, LIF-9, LIF-10) with the real binary, a control plane that holds
//! `restore/next` while "the snapshot is taken", and a real app that records the hook calls.

mod support;

use support::{
    events, final_output, invoke, log_line, spawn_adapter, wait_runtime_loop, AdapterProcess,
    ControlPlane, ControlPlaneConfig, ErrorOrigin, RecordedRequest, Reply, TestApp, TIMEOUT,
};

const BEFORE: &str = "/_snapstart/before-checkpoint";
const AFTER: &str = "/_snapstart/after-restore";

/// A control plane that holds `restore/next` until the test calls `restore`.
async fn snapshotting_control_plane() -> ControlPlane {
    ControlPlane::start_with(ControlPlaneConfig {
        hold_restore: true,
        ..ControlPlaneConfig::default()
    })
    .await
    .expect("the control plane listens")
}

/// An app whose hooks answer `before` and `after`, and the adapter under SnapStart with both
/// hook paths, plus `env`.
async fn snap_start(
    before: u16,
    after: u16,
    env: &[(&str, &str)],
) -> (TestApp, ControlPlane, AdapterProcess) {
    let app = TestApp::builder()
        .route(BEFORE, move |_| Reply::new(before).body("before"))
        .route(AFTER, move |_| Reply::new(after).body("after"))
        .start()
        .await
        .expect("the app listens");
    let cp = snapshotting_control_plane().await;
    let port = app.port().to_string();
    let mut all = vec![
        ("AWS_LWA_PORT", port.as_str()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"),
        ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", BEFORE),
        ("AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH", AFTER),
    ];
    all.extend_from_slice(env);
    let adapter = spawn_adapter(&cp, &all);
    (app, cp, adapter)
}

fn hook_calls(app: &TestApp, path: &str) -> Vec<RecordedRequest> {
    let calls = app.requests().into_iter().filter(|r| r.path == path);
    calls.collect()
}

async fn restore_requested(cp: &ControlPlane, adapter: &AdapterProcess) {
    assert!(
        cp.wait_restore_requested(TIMEOUT).await,
        "no restore/next; output:\n{}",
        adapter.logs()
    );
}

// covers LIF-8
#[tokio::test]
async fn lif8_the_hooks_run_around_the_snapshot_then_invocations_are_served() {
    let (app, cp, adapter) = snap_start(200, 200, &[]).await;

    // Before the snapshot: the app was ready, then got the before-checkpoint hook, then the
    // adapter asked for the restore; the after-restore hook waits for the restore.
    restore_requested(&cp, &adapter).await;
    let before = hook_calls(&app, BEFORE);
    assert_eq!(before.len(), 1, "{:?}", app.requests());
    assert_eq!(before[0].method, http::Method::POST);
    assert!(before[0].body.is_empty(), "an empty body");
    assert!(before[0].header("x-amzn-lambda-context").is_none());
    assert!(!app.probes().is_empty(), "the app was ready first");
    assert!(
        before[0].at > app.probes()[app.probes().len() - 1].at,
        "the hook came after the last probe"
    );
    assert!(hook_calls(&app, AFTER).is_empty());
    assert_eq!(
        cp.next_calls_total(),
        0,
        "no invocation before the snapshot"
    );
    let probes_before_restore = app.probes().len();

    // After the restore: the after-restore hook, readiness again, then invocations.
    cp.restore();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let after = hook_calls(&app, AFTER);
    assert_eq!(after.len(), 1, "{:?}", app.requests());
    assert_eq!(after[0].method, http::Method::POST);
    assert!(
        app.probes().len() > probes_before_restore,
        "readiness is checked again after the restore"
    );
    let result = invoke(&cp, &adapter, events::function_url("GET", "/hello")).await;
    let response = result.json().expect("a buffered response");
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(hook_calls(&app, BEFORE).len(), 1, "each hook ran once");
    assert_eq!(hook_calls(&app, AFTER).len(), 1);
}

// covers LIF-8
#[tokio::test]
async fn lif8_a_failing_before_checkpoint_hook_fails_init() {
    let (app, cp, adapter) = snap_start(500, 200, &[]).await;
    let reported = cp
        .wait_init_error(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no init error; output:\n{}", adapter.logs()));
    assert_eq!(reported.origin, ErrorOrigin::RuntimeInit);
    assert_eq!(reported.error_type, "Adapter.SnapStartHookFailed");
    let status = adapter.wait_exit(TIMEOUT).await.expect("the adapter exits");
    assert!(!status.success(), "{status}");
    let logs = final_output(&adapter).await;
    let named: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("before-checkpoint hook POST /_snapstart/before-checkpoint"))
        .collect();
    assert_eq!(named.len(), 1, "one line names the hook: {logs}");
    assert!(
        named[0].contains("answered 500") && named[0].contains("ERROR"),
        "{logs}"
    );
    assert_eq!(cp.restore_calls(), 0, "no snapshot after a failed hook");
    assert_eq!(cp.next_calls_total(), 0);
    assert!(hook_calls(&app, AFTER).is_empty());
}

// covers LIF-8
#[tokio::test]
async fn lif8_a_failing_after_restore_hook_is_reported_to_restore_error() {
    let (_app, cp, adapter) = snap_start(200, 503, &[]).await;
    restore_requested(&cp, &adapter).await;
    cp.restore();
    let reported = cp
        .wait_restore_error(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no restore error; output:\n{}", adapter.logs()));
    assert_eq!(reported.error_type, "Adapter.SnapStartHookFailed");
    let body = String::from_utf8_lossy(&reported.body);
    assert!(
        body.contains("after-restore hook") && body.contains("503"),
        "{body}"
    );
    let status = adapter.wait_exit(TIMEOUT).await.expect("the adapter exits");
    assert!(!status.success(), "{status}");
    assert_eq!(
        cp.next_calls_total(),
        0,
        "no invocation in a failed restore"
    );
    assert!(cp
        .wait_init_error(std::time::Duration::ZERO)
        .await
        .is_none());
}

// covers LIF-8: an unreachable hook fails too, named with the connection error
#[tokio::test]
async fn lif8_a_hook_the_app_drops_fails_its_phase() {
    let app = TestApp::builder()
        .route(BEFORE, |_| Reply::drop_connection())
        .start()
        .await
        .unwrap();
    let cp = snapshotting_control_plane().await;
    let port = app.port().to_string();
    let adapter = spawn_adapter(
        &cp,
        &[
            ("AWS_LWA_PORT", &port),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start"),
            ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", BEFORE),
        ],
    );
    let reported = cp.wait_init_error(TIMEOUT).await.expect("an init error");
    assert_eq!(reported.error_type, "Adapter.SnapStartHookFailed");
    assert!(String::from_utf8_lossy(&reported.body).contains("failed"));
    assert!(!adapter.wait_exit(TIMEOUT).await.expect("exits").success());
}

// covers LIF-9
#[tokio::test]
async fn lif9_requests_for_a_hook_path_get_403_and_never_reach_the_app() {
    let (app, cp, adapter) = snap_start(200, 200, &[("AWS_LWA_REMOVE_BASE_PATH", "/prod")]).await;
    restore_requested(&cp, &adapter).await;
    cp.restore();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let hook_calls_before = app.requests().len();
    for path in [
        BEFORE,
        AFTER,
        "/_snapstart/before-checkpoint/",
        "//_snapstart//after-restore",
        "/_snapstart%2Fbefore-checkpoint",
        "/prod/_snapstart/after-restore",
    ] {
        for event in [
            events::function_url("POST", path),
            events::rest_v1("POST", path),
        ] {
            let result = invoke(&cp, &adapter, event).await;
            let response = result.json().expect("a buffered response");
            assert_eq!(response["statusCode"], 403, "{path}: {response}");
        }
    }
    assert_eq!(
        app.requests().len(),
        hook_calls_before,
        "none reached the app"
    );
    let result = invoke(&cp, &adapter, events::function_url("GET", "/_snapstart")).await;
    assert_eq!(result.json().expect("a response")["statusCode"], 200);
}

// covers LIF-10
#[tokio::test]
async fn lif10_async_init_is_ignored_for_snap_start_and_provisioned_concurrency() {
    for initialization in ["snap-start", "provisioned-concurrency"] {
        let app = TestApp::builder().not_ready().start().await.unwrap();
        let cp = ControlPlane::start().await.unwrap();
        let port = app.port().to_string();
        let adapter = spawn_adapter(
            &cp,
            &[
                ("AWS_LWA_PORT", &port),
                ("AWS_LAMBDA_INITIALIZATION_TYPE", initialization),
                ("AWS_LWA_ASYNC_INIT", "true"),
            ],
        );
        let line = log_line(&adapter, "AWS_LWA_ASYNC_INIT is ignored", TIMEOUT).await;
        assert!(
            line.contains(" INFO ") || line.starts_with("INFO"),
            "{line}"
        );
        assert!(line.contains(initialization), "{line}");
        app.set_ready();
        wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
        let logs = adapter.logs();
        assert_eq!(
            logs.matches("AWS_LWA_ASYNC_INIT is ignored").count(),
            1,
            "{logs}"
        );
        assert!(!logs.contains("init goes on (async init)"), "{logs}");
    }
}
