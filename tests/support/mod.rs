//! Support for the black-box tests: the real `lambda-adapter` binary between a fake Lambda control
//! plane ([`ControlPlane`], from the `lambda-emulator` package) and a real HTTP app ([`TestApp`]),
//! all on ephemeral 127.0.0.1 ports.
//!
//! Test files use it with `mod support;`. Every wait takes a timeout; nothing sleeps to
//! synchronise. [`Harness::start`] wires the three together for the common case.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod adapter;
pub mod app;
pub mod events;

use std::time::Duration;

use bytes::Bytes;

// Re-exports for test files; each binary uses only some of them.
#[allow(unused_imports)]
pub use adapter::{AdapterCommand, AdapterProcess};
#[allow(unused_imports)]
pub use app::{BodySender, RecordedRequest, Reply, TestApp};
#[allow(unused_imports)]
pub use lambda_emulator::control_plane::{
    ControlPlane, InvocationHandle, InvocationResult, InvokeOptions, StreamedResponse,
};

/// The default bound for a wait in tests: generous, since it only matters when a test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

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

    /// Like [`Harness::start`] with an app the test configured.
    pub async fn start_with_app(app: TestApp, env: &[(&str, &str)]) -> Harness {
        let cp = ControlPlane::start()
            .await
            .expect("the control plane listens");
        let adapter = AdapterCommand::new(cp.addr())
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
        match invocation.result(TIMEOUT).await {
            Ok(result) => result,
            Err(timeout) => panic!("{timeout}; adapter output:\n{}", self.adapter.logs()),
        }
    }
}

/// Invokes through `cp` with default options and waits for the result; panics with the
/// adapter's output if none comes within [`TIMEOUT`]. For tests that start the pieces themselves.
pub async fn invoke(
    cp: &ControlPlane,
    adapter: &AdapterProcess,
    event: impl Into<Bytes>,
) -> InvocationResult {
    let invocation = cp.invoke(event);
    match invocation.result(TIMEOUT).await {
        Ok(result) => result,
        Err(timeout) => panic!("{timeout}; adapter output:\n{}", adapter.logs()),
    }
}
