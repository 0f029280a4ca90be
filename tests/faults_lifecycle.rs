//! Fault injection against the real `lambda-adapter` binary, its own life: a readiness wait that
//! times out (SPEC RDY-6), SIGTERM (LIF-5), and a Runtime API that fails or answers `next`
//! without a request id (LIF-6, through the support's `RuntimeApiProxy`, a proxy in front of the
//! control plane). Every case that goes on checks that the next invocation is served.

mod support;

use std::time::{Duration, Instant};

use support::logs::level_lines;
use support::outcome::{assert_serves_next, http_answer};
use support::runtime_proxy::{harness_behind_proxy, Faults};
use support::{
    adapter_command, assert_no_panic, events, expect_log, final_output, ControlPlane, Harness,
    InvocationResult, InvokeOptions, Reply, TestApp, TIMEOUT,
};

// =============================================================================================
// RDY-6: readiness timeout
// =============================================================================================

// covers RDY-6, CFG-21
#[tokio::test]
async fn rdy6_readiness_timeout_fails_init_with_one_error_line_and_exits_non_zero() {
    let app = TestApp::builder().not_ready().start().await.unwrap();
    let cp = ControlPlane::start().await.unwrap();
    let started = Instant::now();
    let adapter = adapter_command(cp.addr())
        .env("AWS_LWA_PORT", app.port().to_string())
        .env("AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS", "1")
        .spawn()
        .expect("the adapter binary starts");
    let status = adapter
        .wait_exit(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no exit within 10 s; output:\n{}", adapter.logs()));
    let took = started.elapsed();
    let logs = final_output(&adapter).await;
    assert!(
        !status.success(),
        "a non-zero exit: {status}; output:\n{logs}"
    );
    eprintln!("RDY-6: exited {status} after {} ms", took.as_millis());

    let errors = level_lines(&logs, "ERROR");
    assert_eq!(errors.len(), 1, "exactly one ERROR line:\n{logs}");
    assert!(
        errors[0].contains("status 503"),
        "the last status seen: {}",
        errors[0]
    );
    let reported = cp
        .wait_init_error(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no init error reported; output:\n{logs}"));
    assert_eq!(reported.error_type, "Extension.AppNotReady");
    assert_eq!(cp.next_calls_total(), 0, "no invocation was taken");
    assert!(!logs.contains("panicked"), "{logs}");
}

// =============================================================================================
// LIF-5: SIGTERM
// =============================================================================================

// covers LIF-5
#[tokio::test]
async fn lif5_sigterm_while_idle_exits_0_promptly() {
    let h = Harness::start(&[]).await;
    assert_serves_next(&h, "start-up").await;
    assert!(h.cp.wait_next_outstanding(1, TIMEOUT).await, "idle in next");
    let signalled = Instant::now();
    h.adapter.terminate().expect("SIGTERM sent");
    let status = h
        .adapter
        .wait_exit(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no exit after SIGTERM; output:\n{}", h.adapter.logs()));
    let took = signalled.elapsed();
    eprintln!("LIF-5: idle exit {status} after {} ms", took.as_millis());
    assert_eq!(status.code(), Some(0), "exit status 0: {status}");
    assert!(took < Duration::from_secs(3), "promptly: {took:?}");
    assert_no_panic(&h.adapter);
}

// covers LIF-5
#[tokio::test]
async fn lif5_sigterm_during_a_forwarded_invocation_posts_its_response_then_exits_0() {
    let h = Harness::start(&[]).await;
    h.app.route("/slow", |_| {
        Reply::text("finished after SIGTERM").delay(Duration::from_millis(300))
    });
    let invocation = h.cp.invoke(events::http_v2("GET", "/slow"));
    h.app
        .wait_request(TIMEOUT)
        .await
        .expect("the request is at the app");
    h.adapter.terminate().expect("SIGTERM sent");
    let result = h.result_of(&invocation).await;
    let (status, body) = http_answer(&h, &result);
    assert_eq!(status, 200);
    assert_eq!(body, b"finished after SIGTERM");
    let exit = h
        .adapter
        .wait_exit(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no exit after SIGTERM; output:\n{}", h.adapter.logs()));
    assert_eq!(exit.code(), Some(0), "exit status 0: {exit}");
    assert_no_panic(&h.adapter);
}

// =============================================================================================
// LIF-6: Runtime API trouble
// =============================================================================================

// covers LIF-6
#[tokio::test]
async fn lif6_one_failed_next_is_logged_retried_and_the_next_invocation_served() {
    let h = Harness::start(&[]).await;
    assert!(h.cp.wait_next_outstanding(1, TIMEOUT).await);
    h.cp.inject_next_failure(500, "injected next failure");
    let line = expect_log(&h.adapter, &["injected next failure"]).await;
    assert!(line.contains("500"), "logged with what came back: {line}");
    assert!(line.contains("next"), "{line}");
    assert_serves_next(&h, "a failed next").await;
    assert!(
        h.cp.next_calls_total() >= 2,
        "the failed next and the one that was served"
    );
    assert_eq!(h.adapter.count_logs("giving up"), 0);
}

/// The adapter gives up: non-zero exit, one line saying why, no panic.
async fn assert_gives_up(h: &Harness, cause: &str) {
    let status = h
        .adapter
        .wait_exit(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no exit; output:\n{}", h.adapter.logs()));
    let logs = final_output(&h.adapter).await;
    assert!(
        !status.success(),
        "a non-zero exit: {status}; output:\n{logs}"
    );
    let giving_up: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("giving up"))
        .collect();
    assert_eq!(giving_up.len(), 1, "one line saying why:\n{logs}");
    assert!(
        giving_up[0].contains(cause),
        "it says what came back ({cause}): {}",
        giving_up[0]
    );
    assert!(!logs.contains("panicked"), "no panic:\n{logs}");
    eprintln!(
        "LIF-6 gave up with {status}; ERROR lines:\n{}",
        level_lines(&logs, "ERROR").join("\n")
    );
}

// covers LIF-6
#[tokio::test]
async fn lif6_persistent_next_failures_exit_non_zero_with_one_line_saying_why() {
    let h = Harness::start(&[]).await;
    for _ in 0..10 {
        h.cp.inject_next_failure(500, "the control plane is broken");
    }
    assert_gives_up(&h, "500").await;
}

// covers LIF-6, CFG-14
#[tokio::test]
async fn lif6_a_next_without_request_id_is_logged_retried_and_the_next_invocation_served() {
    let (h, proxy) = harness_behind_proxy(Faults {
        no_request_id: 1,
        ..Faults::default()
    })
    .await;
    let line = expect_log(&h.adapter, &["Lambda-Runtime-Aws-Request-Id"]).await;
    assert!(line.contains("next"), "{line}");
    assert_eq!(proxy.injected(), 1);
    assert_serves_next(&h, "a next without request id").await;
}

// covers LIF-6, CFG-14
#[tokio::test]
async fn lif6_persistent_nexts_without_request_id_exit_non_zero_with_one_line() {
    let (h, proxy) = harness_behind_proxy(Faults {
        no_request_id: 100,
        ..Faults::default()
    })
    .await;
    assert_gives_up(&h, "Lambda-Runtime-Aws-Request-Id").await;
    assert_eq!(proxy.injected(), 5, "five attempts");
}

// covers LIF-6
#[tokio::test]
async fn lif6_a_refused_response_post_is_logged_and_the_next_invocation_served() {
    let h = Harness::start(&[]).await;
    let result = h
        .invoke_with(
            events::http_v2("GET", "/refused-post"),
            InvokeOptions {
                reject_response: Some(400),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(result, InvocationResult::Rejected { status: 400, .. }),
        "{}",
        result.describe()
    );
    let line = expect_log(&h.adapter, &["refused the result"]).await;
    assert!(line.contains("400"), "logged with what came back: {line}");
    assert_serves_next(&h, "a refused response post").await;
}
