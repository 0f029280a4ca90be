//! The binaries under measurement as running processes, through the kit's process runner: each
//! with only the variables it needs, its output appended to its log file, and its own control
//! plane.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_emulator::control_plane::{ControlPlane, InvocationResult};
use lambda_emulator::testing::{ProcessCommand, TestProcess};

use crate::app::{check_text, small_event, SMALL_BODY};
use crate::stats::micros_per_invocation;
use crate::{Subject, WAIT};

/// Starts `subject` against `cp` for an app on `app_port`, with only the variables it needs;
/// its output is appended to `log`.
pub fn spawn_adapter(
    subject: &Subject,
    cp: &ControlPlane,
    app_port: u16,
    env: &[(&str, &str)],
    log: &Path,
) -> Result<TestProcess, String> {
    ProcessCommand::new(subject.label, &subject.bin)
        .env("AWS_LAMBDA_RUNTIME_API", cp.addr().to_string())
        .env("AWS_LWA_PORT", app_port.to_string())
        // The published adapter's lambda_runtime may need these; set for both binaries alike.
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(env.iter().copied())
        .log_to(log)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {} (its log {}): {e}",
                subject.bin.display(),
                log.display()
            )
        })
}

/// Kills an adapter and waits (a bounded time) for it to be gone.
pub async fn stop(adapter: TestProcess) {
    adapter.kill();
    let _ = adapter.wait_exit(WAIT).await;
}

/// An adapter with its control plane, ready (it has answered one invocation).
pub struct Running {
    pub subject: Subject,
    pub cp: ControlPlane,
    pub adapter: TestProcess,
}

impl Running {
    /// For the bench's own app: a first `GET /small`, its body checked unless it streams.
    pub async fn start(
        subject: &Subject,
        app_port: u16,
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<Running, String> {
        let streams = env.iter().any(|(name, _)| *name == "AWS_LWA_INVOKE_MODE");
        Running::start_checked(subject, app_port, env, log, small_event(), |result| {
            if streams {
                Ok(())
            } else {
                check_text(result, SMALL_BODY.as_bytes())
            }
        })
        .await
    }

    /// Ready once it has answered `first` to `check`'s liking.
    pub async fn start_checked(
        subject: &Subject,
        app_port: u16,
        env: &[(&str, &str)],
        log: &Path,
        first: Bytes,
        check: impl Fn(&InvocationResult) -> Result<(), String>,
    ) -> Result<Running, String> {
        let cp = start_control_plane().await?;
        let adapter = spawn_adapter(subject, &cp, app_port, env, log)?;
        let first = round_trip(&cp, first).await;
        let checked = first.and_then(|(_, result)| check(&result));
        if let Err(err) = checked {
            stop(adapter).await;
            return Err(format!(
                "{} did not answer a first invocation: {err} (see its log {})",
                subject.label,
                log.display()
            ));
        }
        Ok(Running {
            subject: subject.clone(),
            cp,
            adapter,
        })
    }
}

/// Each adapter's CPU time since `start`, per invocation, in µs.
pub fn cpu_per_invocation(
    running: &[Running],
    start: &[Option<Duration>],
    invocations: &[usize],
) -> Vec<Option<f64>> {
    running
        .iter()
        .zip(start)
        .zip(invocations)
        .map(|((adapter, start), count)| {
            let used = adapter.adapter.cpu_time()?.checked_sub((*start)?)?;
            micros_per_invocation(used, *count)
        })
        .collect()
}

pub async fn stop_all(running: Vec<Running>) {
    for r in running {
        stop(r.adapter).await;
    }
}

pub async fn start_control_plane() -> Result<ControlPlane, String> {
    ControlPlane::start()
        .await
        .map_err(|e| format!("cannot start the control plane: {e}"))
}

/// Invoke → result at the control plane, then the record is dropped.
pub async fn round_trip(
    cp: &ControlPlane,
    event: Bytes,
) -> Result<(Duration, InvocationResult), String> {
    let started = Instant::now();
    let handle = cp.invoke(event);
    let result = handle.result(WAIT).await.map_err(|e| e.to_string())?;
    let took = started.elapsed();
    handle.forget();
    Ok((took, result))
}
