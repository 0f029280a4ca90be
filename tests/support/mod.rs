//! Support for the black-box tests: the real `lambda-adapter` binary between a fake Lambda control
//! plane ([`ControlPlane`]) and a real HTTP app ([`TestApp`]), all on ephemeral 127.0.0.1 ports.
//! The pieces come from the workspace's one test kit, `lambda_emulator::testing`; what is here is
//! the adapter's own: its binary and the waits on it ([`adapter`]), [`Harness`], which wires the
//! three together, and what the tests read from its log ([`logs`]) and its results ([`outcome`]).
//!
//! Test files use it with `mod support;`. Every wait takes a timeout; nothing sleeps to
//! synchronise.

// Each test binary uses a different part of this module.
#![allow(dead_code, unused_imports)]

pub mod adapter;
pub mod logs;
pub mod outcome;
pub mod runtime_proxy;

use std::time::Duration;

use bytes::Bytes;

pub use adapter::{
    adapter_command, app_and_adapter, assert_no_panic, assert_still_probing, expect_log,
    final_output, kill_and_collect, log_line, registered, spawn_adapter, wait_log_count,
    wait_runtime_loop, AdapterProcess,
};
pub use lambda_emulator::control_plane::{
    ControlPlane, ControlPlaneConfig, ErrorOrigin, InvocationHandle, InvocationResult,
    InvokeOptions, StreamedResponse,
};
pub use lambda_emulator::testing::{app, events};
pub use lambda_emulator::testing::{BodySender, RecordedRequest, Reply, TestApp};

/// The default bound for a wait in tests: generous, since it only matters when a test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh control plane on an ephemeral loopback port.
pub async fn control_plane() -> ControlPlane {
    ControlPlane::start()
        .await
        .expect("the control plane listens")
}

/// Control plane + app + adapter, started together.
pub struct Harness {
    pub cp: ControlPlane,
    pub app: TestApp,
    pub adapter: AdapterProcess,
}

impl Harness {
    /// A ready echo app, a control plane, and the adapter with `AWS_LWA_PORT` = the app's port,
    /// `AWS_LAMBDA_RUNTIME_API` = the control plane, then `env` (which may override both). Returns
    /// once the adapter has registered as an extension.
    pub async fn start(env: &[(&str, &str)]) -> Harness {
        let app = TestApp::start().await.expect("the test app listens");
        Self::start_with_app(app, env).await
    }

    /// A harness whose adapter forwards to `port` (which the test serves with an app of its own,
    /// or not at all) and probes readiness on a separate, ready `TestApp` (the harness's `app`).
    pub async fn for_port(port: u16, env: &[(&str, &str)]) -> Harness {
        let readiness = TestApp::start().await.expect("the readiness app listens");
        let readiness_port = readiness.port().to_string();
        let port = port.to_string();
        let mut all = vec![
            ("AWS_LWA_PORT", port.as_str()),
            ("AWS_LWA_READINESS_CHECK_PORT", readiness_port.as_str()),
        ];
        all.extend_from_slice(env);
        Self::start_with_app(readiness, &all).await
    }

    /// Like [`Harness::start`] with an app the test configured.
    pub async fn start_with_app(app: TestApp, env: &[(&str, &str)]) -> Harness {
        let cp = ControlPlane::start()
            .await
            .expect("the control plane listens");
        let adapter = adapter_command(cp.addr())
            .env("AWS_LWA_PORT", app.port().to_string())
            .envs(env.iter().copied())
            .spawn()
            .expect("the adapter binary starts");
        if cp.wait_registered(TIMEOUT).await.is_none() {
            panic!(
                "the adapter did not register within {TIMEOUT:?}; its output:\n{}",
                adapter.logs()
            );
        }
        Harness { cp, app, adapter }
    }

    /// Invokes with default options and waits for the result; panics with the adapter's output
    /// if none comes within [`TIMEOUT`].
    pub async fn invoke(&self, event: impl Into<Bytes>) -> InvocationResult {
        self.invoke_with(event, InvokeOptions::default()).await
    }

    pub async fn invoke_with(
        &self,
        event: impl Into<Bytes>,
        options: InvokeOptions,
    ) -> InvocationResult {
        let invocation = self.cp.invoke_with(event, options);
        self.result_of(&invocation).await
    }

    /// The result of an invocation queued earlier; panics with the adapter's output on timeout.
    pub async fn result_of(&self, invocation: &InvocationHandle) -> InvocationResult {
        result_of(invocation, &self.adapter).await
    }
}

/// Invokes through `cp` with default options and waits for the result; panics with the
/// adapter's output if none comes within [`TIMEOUT`]. For tests that start the pieces themselves.
pub async fn invoke(
    cp: &ControlPlane,
    adapter: &AdapterProcess,
    event: impl Into<Bytes>,
) -> InvocationResult {
    result_of(&cp.invoke(event), adapter).await
}

/// The result of `invocation`; panics with the adapter's output if none comes within [`TIMEOUT`].
async fn result_of(invocation: &InvocationHandle, adapter: &AdapterProcess) -> InvocationResult {
    match invocation.result(TIMEOUT).await {
        Ok(result) => result,
        Err(timeout) => panic!("{timeout}; adapter output:\n{}", adapter.logs()),
    }
}
