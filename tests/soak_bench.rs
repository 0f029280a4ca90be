//! Soak figures (not a test; `make soak`): 10,000 buffered POST echo invocations through the
//! adapter at `AWS_LAMBDA_MAX_CONCURRENCY=8`, each with a distinct body, every answer checked
//! against its own request. Prints the adapter's resident set size (`VmRSS`) after 1,000 and
//! after 10,000 invocations, their ratio, and the throughput. Run on a release build:
//! `cargo test --release --test soak_bench -- --ignored --nocapture`.

mod support;

use std::ops::Range;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::events;
use support::{ControlPlane, Harness, InvocationResult, TIMEOUT};
use tokio::task::JoinSet;

const WORKERS: &str = "8";
/// Invocations queued at the control plane at once: enough that no worker waits for the test.
const QUEUED: usize = 16;
const WARM_UP: usize = 1_000;
const TOTAL: usize = 10_000;

/// A body no other invocation has: the index and a value derived from it.
fn body_of(index: usize) -> String {
    let salt = (index as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    format!("soak body #{index} / {salt:016x}")
}

/// `Err` with a description when the answer is not this invocation's own echo.
fn check(index: usize, result: &InvocationResult) -> Result<(), String> {
    let response = result.json().map_err(|err| err.to_string())?;
    if response["statusCode"] != 200 {
        return Err(format!("status {}", response["statusCode"]));
    }
    let echo: Value = serde_json::from_slice(&events::response_body(&response))
        .map_err(|err| format!("the body is not the echo JSON: {err}"))?;
    let path = format!("/soak/{index}");
    if echo["path"] != path.as_str() || echo["body"] != body_of(index).as_str() {
        return Err(format!(
            "expected {path} {:?}, got {} {}",
            body_of(index),
            echo["path"],
            echo["body"]
        ));
    }
    Ok(())
}

async fn one(cp: ControlPlane, index: usize) -> Result<(), String> {
    let event = events::http_v2("POST", &format!("/soak/{index}"))
        .header("content-type", "text/plain")
        .header("x-soak-index", &index.to_string())
        .body(&body_of(index));
    let invocation = cp.invoke(event);
    let result = invocation
        .result(TIMEOUT)
        .await
        .map_err(|timeout| timeout.to_string())?;
    check(index, &result).map_err(|err| format!("invocation #{index}: {err}"))
}

/// Runs the invocations `range`, `QUEUED` at a time; returns the mismatches.
async fn run(h: &Harness, range: Range<usize>) -> Vec<String> {
    let mut mismatches = Vec::new();
    let mut running = JoinSet::new();
    for index in range {
        if running.len() >= QUEUED {
            if let Some(Ok(Err(mismatch))) = running.join_next().await {
                mismatches.push(mismatch);
            }
        }
        running.spawn(one(h.cp.clone(), index));
    }
    while let Some(done) = running.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(mismatch)) => mismatches.push(mismatch),
            Err(join_error) => mismatches.push(format!("a task failed: {join_error}")),
        }
    }
    mismatches
}

fn rate(count: usize, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: make soak"]
async fn soak_ten_thousand_buffered_invocations_at_concurrency_8() {
    let h = Harness::start(&[("AWS_LAMBDA_MAX_CONCURRENCY", WORKERS)]).await;
    let started = Instant::now();

    let mut mismatches = run(&h, 0..WARM_UP).await;
    let warm_took = started.elapsed();
    let rss_warm = h.adapter.rss_kib().expect("VmRSS of the running adapter");

    let rest = Instant::now();
    mismatches.extend(run(&h, WARM_UP..TOTAL).await);
    let rest_took = rest.elapsed();
    let total_took = started.elapsed();
    let rss_end = h.adapter.rss_kib().expect("VmRSS of the running adapter");
    let peak = h.adapter.peak_rss_kib().unwrap_or(0);

    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("soak ({profile} build, AWS_LAMBDA_MAX_CONCURRENCY={WORKERS}, {QUEUED} queued):");
    println!(
        "  invocations: {TOTAL}, mismatched or failed: {}",
        mismatches.len()
    );
    println!("  VmRSS after {WARM_UP:>6}: {rss_warm} KiB");
    println!("  VmRSS after {TOTAL:>6}: {rss_end} KiB (VmHWM {peak} KiB)");
    println!(
        "  ratio {TOTAL}/{WARM_UP}: {:.3}",
        rss_end as f64 / rss_warm as f64
    );
    println!(
        "  throughput: {:.0} invocations/s overall ({:.1} s); first {WARM_UP}: {:.0}/s, \
         the other {}: {:.0}/s",
        rate(TOTAL, total_took),
        total_took.as_secs_f64(),
        rate(WARM_UP, warm_took),
        TOTAL - WARM_UP,
        rate(TOTAL - WARM_UP, rest_took)
    );
    for mismatch in mismatches.iter().take(10) {
        println!("  mismatch: {mismatch}");
    }

    assert!(
        mismatches.is_empty(),
        "{} invocations did not get their own answer",
        mismatches.len()
    );
    assert_eq!(h.app.requests().len(), TOTAL, "each reached the app once");
    assert!(h.adapter.is_running(), "the adapter is still running");
    assert!(!h.adapter.logs().contains("panicked"));
}
