//! Configuration seen from outside the process, logging and values that cannot be used (SPEC
//! CFG-16, CFG-20): the real `lambda-adapter` binary, started with exactly the variables a test
//! gives it, between a fake Lambda control plane and a real HTTP app. Every test names the rules
//! it covers.

mod support;

use std::time::{Duration, Instant};

use lambda_emulator::control_plane::ErrorOrigin;
use serde_json::Value;
use support::adapter::Stream;
use support::logs::{assert_one_warning, level_lines, lines_with};
use support::outcome::echo;
use support::{
    app_and_adapter, assert_still_probing, control_plane, events, final_output, invoke,
    kill_and_collect, spawn_adapter, wait_runtime_loop, AdapterProcess, InvocationResult, TestApp,
    TIMEOUT,
};

// ---------------------------------------------------------------------------------------------
// CFG-16 logging
// ---------------------------------------------------------------------------------------------

/// A ready app and the adapter with `env`; returns the extension id once it is parked and the
/// runtime loop runs, and the whole output after one invocation.
async fn logging_scenario(env: &[(&str, &str)]) -> (String, AdapterProcess) {
    let (_app, cp, adapter) = app_and_adapter(TestApp::builder(), env).await;
    let parked = cp
        .wait_parked(TIMEOUT)
        .await
        .expect("the extension parks on event/next");
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/log")).await;
    assert!(!result.is_error(), "{}", result.describe());
    (parked.id, adapter)
}

/// Every line the adapter printed went to stderr (CFG-16).
fn assert_logs_on_stderr(adapter: &AdapterProcess) {
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
    assert_logs_on_stderr(&adapter);
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
    assert_logs_on_stderr(&adapter);
    let mut messages = Vec::new();
    for line in adapter.log_lines() {
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

/// A test that the adapter refuses to start with `name=value` ([`assert_rejected`]).
macro_rules! rejected {
    ($test:ident: $name:literal = $value:literal) => {
        #[tokio::test]
        async fn $test() {
            assert_rejected($name, $value).await;
        }
    };
}

// covers CFG-20, CFG-1
#[tokio::test]
async fn cfg20_port_abc_exits_non_zero_within_one_second() {
    let ran = assert_rejected("AWS_LWA_PORT", "abc").await;
    assert!(ran < Duration::from_secs(1), "exited after {ran:?}");
}

// covers CFG-20, CFG-1
rejected!(cfg20_port_70000_is_rejected: "AWS_LWA_PORT" = "70000");

// covers CFG-20, CFG-6
rejected!(
    cfg20_healthy_status_list_with_nothing_valid_is_rejected:
        "AWS_LWA_READINESS_CHECK_HEALTHY_STATUS" = "abc,999"
);

// covers CFG-20, CFG-2
rejected!(cfg20_host_with_a_space_is_rejected: "AWS_LWA_HOST" = "my host");

// covers CFG-20, CFG-3
rejected!(cfg20_readiness_check_port_abc_is_rejected: "AWS_LWA_READINESS_CHECK_PORT" = "abc");

// covers CFG-20, CFG-11
#[tokio::test]
async fn cfg20_invoke_mode_streamx_warns_and_stays_buffered() {
    let (_app, cp, adapter) =
        app_and_adapter(TestApp::builder(), &[("AWS_LWA_INVOKE_MODE", "streamx")]).await;
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
    let (app, cp, adapter) = app_and_adapter(
        TestApp::builder().readiness_status(500),
        &[("AWS_LWA_READINESS_CHECK_PROTOCOL", "grpc")],
    )
    .await;
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
rejected!(
    cfg20_runtime_api_proxy_with_a_space_is_rejected:
        "AWS_LWA_LAMBDA_RUNTIME_API_PROXY" = "my proxy"
);
