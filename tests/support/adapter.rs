//! The real `lambda-adapter` binary as a child process through the kit's process runner
//! ([`lambda_emulator::testing::process`]): exactly the environment a test gives it (the test
//! process's own environment is never read or changed), its output captured line by line; and
//! the waits on it that the tests share (registration LIF-2, the runtime loop, log lines, exit).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lambda_emulator::control_plane::{ControlPlane, Registration};
use lambda_emulator::testing::{TestApp, TestAppBuilder};

use super::TIMEOUT;

pub use lambda_emulator::testing::process::{
    LogLine, ProcessCommand, Stream, TestProcess as AdapterProcess,
};

/// The binary under test.
pub const ADAPTER_BINARY: &str = env!("CARGO_BIN_EXE_lambda-adapter");

/// The adapter binary, pointed at a control plane (`AWS_LAMBDA_RUNTIME_API`; a later `env` of
/// the same name wins, `env_remove` leaves it unset); [`ProcessCommand::spawn`] starts it.
///
/// `LWA_ADAPTER_BIN` (read, never set, by the tests) points the suite at another build of the
/// binary, e.g. the static musl one; `LWA_ADAPTER_RUNNER` runs it through a program such as
/// `qemu-aarch64-static`.
pub fn adapter_command(runtime_api: SocketAddr) -> ProcessCommand {
    let binary = std::env::var_os("LWA_ADAPTER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(ADAPTER_BINARY));
    let command = match std::env::var_os("LWA_ADAPTER_RUNNER") {
        Some(runner) => ProcessCommand::new("adapter", runner).arg(binary),
        None => ProcessCommand::new("adapter", binary),
    };
    command.env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
}

/// The adapter at `cp` with exactly `env` besides `AWS_LAMBDA_RUNTIME_API`, nothing else.
pub fn spawn_adapter(cp: &ControlPlane, env: &[(&str, &str)]) -> AdapterProcess {
    adapter_command(cp.addr())
        .envs(env.iter().copied())
        .spawn()
        .expect("the adapter binary starts")
}

/// The adapter's registration (LIF-2); panics with its output if none comes within [`TIMEOUT`].
pub async fn registered(cp: &ControlPlane, adapter: &AdapterProcess) -> Registration {
    match cp.wait_registered(TIMEOUT).await {
        Some(registration) => registration,
        None => panic!(
            "the adapter did not register within {TIMEOUT:?}; its output:\n{}",
            adapter.logs()
        ),
    }
}

/// Waits until the runtime loop polls `invocation/next`, i.e. the app was found ready; panics
/// with the adapter's output if that does not happen `within`.
pub async fn wait_runtime_loop(cp: &ControlPlane, adapter: &AdapterProcess, within: Duration) {
    if !cp.wait_next_outstanding(1, within).await {
        panic!(
            "the adapter never polled invocation/next within {within:?}; its output:\n{}",
            adapter.logs()
        );
    }
}

/// Waits for `count` readiness probes, then checks that the runtime loop has not started: the
/// adapter keeps probing, so it does not consider the app ready.
pub async fn assert_still_probing(
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

/// An app from `builder`, a control plane, and the adapter at both (`AWS_LWA_PORT`, then `env`),
/// once it has registered.
pub async fn app_and_adapter(
    builder: TestAppBuilder,
    env: &[(&str, &str)],
) -> (TestApp, ControlPlane, AdapterProcess) {
    let app = builder.start().await.expect("the test app listens");
    let port = app.port().to_string();
    let mut all = vec![("AWS_LWA_PORT", port.as_str())];
    all.extend_from_slice(env);
    let cp = ControlPlane::start()
        .await
        .expect("the control plane listens");
    let adapter = spawn_adapter(&cp, &all);
    registered(&cp, &adapter).await;
    (app, cp, adapter)
}

/// The first output line containing `needle`; panics with the output if none comes `within`.
pub async fn log_line(adapter: &AdapterProcess, needle: &str, within: Duration) -> String {
    match adapter.wait_for_log(needle, within).await {
        Some(line) => line,
        None => panic!(
            "no line containing {needle:?} within {within:?}; output:\n{}",
            adapter.logs()
        ),
    }
}

/// An output line containing every one of `needles`; panics with the output when none comes
/// within [`TIMEOUT`].
pub async fn expect_log(adapter: &AdapterProcess, needles: &[&str]) -> String {
    adapter
        .wait_for_log_line(TIMEOUT, |line| {
            needles.iter().all(|needle| line.contains(needle))
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "no log line contains all of {needles:?}; adapter output:\n{}",
                adapter.logs()
            )
        })
}

/// Waits until at least `count` output lines contain `needle`; panics with the output when they
/// do not within [`TIMEOUT`].
pub async fn wait_log_count(adapter: &AdapterProcess, needle: &str, count: usize) {
    assert!(
        adapter.wait_log_count(needle, count, TIMEOUT).await,
        "fewer than {count} lines contain {needle:?}; adapter output:\n{}",
        adapter.logs()
    );
}

/// Nothing in the adapter panicked (ERR-3).
pub fn assert_no_panic(adapter: &AdapterProcess) {
    let logs = adapter.logs();
    assert!(
        !logs.contains("panicked"),
        "nothing in the adapter panics (ERR-3); its output:\n{logs}"
    );
}

/// The whole output of an adapter that has exited, once both of its pipes are closed; panics
/// if that does not happen within [`TIMEOUT`].
pub async fn final_output(adapter: &AdapterProcess) -> String {
    assert!(
        adapter.wait_output_closed(TIMEOUT).await,
        "the adapter's output did not close within {TIMEOUT:?}; so far:\n{}",
        adapter.logs()
    );
    adapter.logs()
}

/// Kills the adapter and returns its whole output, once both pipes are closed.
pub async fn kill_and_collect(adapter: &AdapterProcess) -> String {
    adapter.kill();
    adapter
        .wait_exit(TIMEOUT)
        .await
        .expect("the adapter exits when killed");
    final_output(adapter).await
}
