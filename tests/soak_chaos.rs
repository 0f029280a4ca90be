//! Chaos soak figures (not a test; `make soak SOAK=chaos`, SPEC ERR-1, ERR-2, LIF-4): 100,000
//! buffered POST invocations through the adapter at `AWS_LAMBDA_MAX_CONCURRENCY=64`, against an app
//! that misbehaves on purpose: for 1% of requests each, a TCP reset before the response head, an
//! answer later than the invocation's short deadline, a body cut short, a `500`. Every invocation
//! must get exactly one answer of the kind its request asked for, on its own request id (its own
//! echo, or the adapter's 502/504, or the app's 500); the adapter must keep running; its resident
//! set after 100,000 invocations must be within 10% of the one after 10,000. Prints the figures.
//! Run on a release build: `cargo test --release --test soak_chaos -- --ignored --nocapture`.

mod support;

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use lambda_emulator::control_plane::epoch_ms_in;
use lambda_emulator::testing::raw_app::{RawAnswer, RawApp, RawRequest};
use support::{adapter_command, events, ControlPlane, InvocationResult, InvokeOptions, TIMEOUT};
use tokio::task::JoinSet;

const WORKERS: usize = 64;
/// Invocations handed to the control plane at once: the workers' number, so that each is taken
/// at once and its deadline counts from when it is sent.
const QUEUED: usize = WORKERS;
const FIRST: usize = 10_000;
const TOTAL: usize = 100_000;
/// The invocations' deadline, from when each is queued.
const DEADLINE: Duration = Duration::from_millis(800);
/// How late the app answers a "late" request: past the deadline.
const LATE: Duration = Duration::from_millis(1_500);

/// What the app does with an invocation's request; the same for the same index, every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    Echo,
    ResetBeforeHead,
    LateAnswer,
    TruncatedBody,
    ServerError,
}

impl Fate {
    fn of(index: usize) -> Fate {
        // A fixed pseudo-random pick, 1% each.
        let spread = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        match spread % 100 {
            0 => Fate::ResetBeforeHead,
            1 => Fate::LateAnswer,
            2 => Fate::TruncatedBody,
            3 => Fate::ServerError,
            _ => Fate::Echo,
        }
    }

    /// The status the client must get.
    fn status(self) -> u16 {
        match self {
            Fate::Echo => 200,
            Fate::ResetBeforeHead | Fate::TruncatedBody => 502,
            Fate::LateAnswer => 504,
            Fate::ServerError => 500,
        }
    }
}

fn body_of(index: usize) -> String {
    format!(
        "chaos body #{index} / {:08x}",
        index.wrapping_mul(2_654_435_761) as u32
    )
}

/// The app's answer to `request` (path `/chaos/{index}`); the readiness probe gets an echo.
fn misbehave(request: &RawRequest) -> RawAnswer {
    let Some(index) = request
        .path
        .strip_prefix("/chaos/")
        .and_then(|index| index.parse::<usize>().ok())
    else {
        return RawAnswer::echo(request);
    };
    match Fate::of(index) {
        Fate::Echo => RawAnswer::echo(request),
        Fate::ResetBeforeHead => RawAnswer::Reset,
        Fate::LateAnswer => match RawAnswer::echo(request) {
            RawAnswer::Reply(bytes) => RawAnswer::Late(LATE, bytes),
            other => other,
        },
        Fate::TruncatedBody => RawAnswer::truncated(),
        Fate::ServerError => RawAnswer::Reply(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\noops".to_vec(),
        ),
    }
}

/// The status the invocation got, or why it is not the answer it should be.
async fn one(cp: ControlPlane, index: usize) -> Result<u16, String> {
    let path = format!("/chaos/{index}");
    let event = events::http_v2("POST", &path)
        .header("content-type", "text/plain")
        .body(&body_of(index));
    let invocation = cp.invoke_with(
        event,
        InvokeOptions {
            deadline_ms: Some(epoch_ms_in(DEADLINE)),
            ..InvokeOptions::default()
        },
    );
    let result = invocation.result(TIMEOUT).await.map_err(|t| t.to_string());
    invocation.forget();
    let result = result?;
    let fate = Fate::of(index);
    let status = status_of(&result).map_err(|err| format!("#{index} ({fate:?}): {err}"))?;
    if status != fate.status() {
        return Err(format!(
            "#{index} ({fate:?}): status {status}, {}",
            result.describe()
        ));
    }
    if fate == Fate::Echo {
        let response = result.json().map_err(|e| e.to_string())?;
        let body = String::from_utf8_lossy(&events::response_body(&response)).into_owned();
        if body != format!("POST {path} {}", body_of(index)) {
            return Err(format!("#{index}: another invocation's answer: {body}"));
        }
    }
    Ok(status)
}

fn status_of(result: &InvocationResult) -> Result<u16, String> {
    let response = result.json().map_err(|err| err.to_string())?;
    response["statusCode"]
        .as_u64()
        .map(|status| status as u16)
        .ok_or_else(|| format!("no statusCode: {response}"))
}

/// Runs the invocations `range`, `QUEUED` at a time; counts the answers by status.
async fn run(
    cp: &ControlPlane,
    range: Range<usize>,
    by_status: &mut BTreeMap<u16, usize>,
    mismatches: &mut Vec<String>,
) {
    let mut running = JoinSet::new();
    let mut record = |done: Result<Result<u16, String>, tokio::task::JoinError>| match done {
        Ok(Ok(status)) => *by_status.entry(status).or_default() += 1,
        Ok(Err(mismatch)) => mismatches.push(mismatch),
        Err(join_error) => mismatches.push(format!("a task failed: {join_error}")),
    };
    for index in range {
        if running.len() >= QUEUED {
            if let Some(done) = running.join_next().await {
                record(done);
            }
        }
        running.spawn(one(cp.clone(), index));
    }
    while let Some(done) = running.join_next().await {
        record(done);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: make soak SOAK=chaos"]
async fn soak_chaos_100000_invocations_at_concurrency_64() {
    let app = RawApp::start(None, misbehave).await;
    let cp = ControlPlane::start()
        .await
        .expect("the control plane listens");
    let adapter = adapter_command(cp.addr())
        .env("AWS_LWA_PORT", app.port().to_string())
        .env("AWS_LAMBDA_MAX_CONCURRENCY", WORKERS.to_string())
        .log_to(&std::env::temp_dir().join("soak-chaos-adapter.log"))
        .spawn()
        .expect("the adapter starts");
    assert!(cp.wait_registered(TIMEOUT).await.is_some(), "registered");
    let started = Instant::now();
    let mut by_status = BTreeMap::new();
    let mut mismatches = Vec::new();

    run(&cp, 0..FIRST, &mut by_status, &mut mismatches).await;
    let rss_first = adapter.rss_kib().expect("VmRSS of the running adapter");
    let first_took = started.elapsed();
    run(&cp, FIRST..TOTAL, &mut by_status, &mut mismatches).await;
    let took = started.elapsed();
    let rss_end = adapter.rss_kib().expect("VmRSS of the running adapter");
    let peak = adapter.peak_rss_kib().unwrap_or(0);

    let mut fates = BTreeMap::new();
    for index in 0..TOTAL {
        *fates.entry(Fate::of(index)).or_insert(0usize) += 1;
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "chaos soak ({profile} build, AWS_LAMBDA_MAX_CONCURRENCY={WORKERS}, deadline {} ms):",
        DEADLINE.as_millis()
    );
    println!("  invocations: {TOTAL}; the app's fates: {fates:?}");
    println!("  answers by status: {by_status:?}");
    println!("  mismatched, lost or mixed up: {}", mismatches.len());
    println!("  VmRSS after {FIRST:>7}: {rss_first} KiB");
    println!(
        "  VmRSS after {TOTAL:>7}: {rss_end} KiB (VmHWM {peak} KiB), ratio {:.3}",
        rss_end as f64 / rss_first as f64
    );
    println!(
        "  wall time: {:.1} s (first {FIRST}: {:.1} s)",
        took.as_secs_f64(),
        first_took.as_secs_f64()
    );
    println!("  adapter still running: {}", adapter.is_running());
    for mismatch in mismatches.iter().take(10) {
        println!("  mismatch: {mismatch}");
    }

    assert!(
        mismatches.is_empty(),
        "{} invocations went wrong",
        mismatches.len()
    );
    assert_eq!(by_status.values().sum::<usize>(), TOTAL, "one answer each");
    assert!(adapter.is_running(), "the adapter is still running");
    assert!(
        rss_end as f64 <= rss_first as f64 * 1.10,
        "RSS grew by more than 10%"
    );
}
