//! Streaming figures (not a test; SPEC STR-1): first-chunk latency warm and after idle, and the
//! adapter's peak memory while streaming 18 MiB. Ignored by default; run it on a release build:
//!
//! ```text
//! cargo test --release --test streaming_bench -- --ignored --nocapture
//! ```
//!
//! (`make bench-streaming` runs the same.) It prints figures and asserts only that every stream
//! arrived intact.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_emulator::control_plane::{ChunkReceiver, PRELUDE_DELIMITER};
use support::{events, Harness, Reply, TIMEOUT};

const WARM_RUNS: usize = 50;
const IDLE_RUNS: usize = 10;
const IDLE_PAUSE: Duration = Duration::from_secs(5);
const LARGE_CHUNK: usize = 64 * 1024;
const LARGE_CHUNKS: usize = 18 * 16;

async fn next_chunk(h: &Harness, chunks: &mut ChunkReceiver) -> (Instant, Bytes) {
    match chunks.recv(TIMEOUT).await {
        Ok(Some(chunk)) => chunk,
        Ok(None) => panic!(
            "the stream ended early; adapter output:\n{}",
            h.adapter.logs()
        ),
        Err(timeout) => panic!("{timeout}; adapter output:\n{}", h.adapter.logs()),
    }
}

/// One streamed invocation: returns (invoke → prelude arrival, app write → first body chunk
/// arrival).
async fn one_stream(h: &Harness, run: usize) -> (Duration, Duration) {
    let (reply, body) = Reply::channel(200);
    let prefix = format!("/b{run:04}");
    h.app
        .route_once(&prefix, reply.header("content-type", "text/event-stream"));
    let invoked = Instant::now();
    let invocation =
        h.cp.invoke(events::function_url("GET", &format!("{prefix}/events")));
    let mut chunks = invocation.chunks();
    let (prelude_at, prelude) = next_chunk(h, &mut chunks).await;
    assert!(prelude.ends_with(&PRELUDE_DELIMITER), "a prelude first");

    let event = format!("data: first event of run {run}\n\n");
    let written = Instant::now();
    assert!(body.send(event.clone()));
    let (arrived, chunk) = next_chunk(h, &mut chunks).await;
    assert_eq!(chunk, event.as_bytes());
    body.send("data: last\n\n");
    body.finish();
    let result = h.result_of(&invocation).await;
    let streamed = result.streamed().expect("a streamed response");
    assert!(streamed.completed && !streamed.failed(), "{streamed:?}");
    (
        prelude_at.saturating_duration_since(invoked),
        arrived.saturating_duration_since(written),
    )
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn summary(label: &str, mut values: Vec<Duration>) -> String {
    values.sort();
    format!(
        "{label}: n={} p50={:?} p90={:?} max={:?}",
        values.len(),
        percentile(&values, 50),
        percentile(&values, 90),
        values[values.len() - 1]
    )
}

#[tokio::test]
#[ignore = "benchmark: run with make bench-streaming"]
async fn streaming_figures() {
    let h = Harness::start(&[("AWS_LWA_INVOKE_MODE", "response_stream")]).await;
    let rss_at_start = h.adapter.rss_kib();

    // One run to open the connections, not counted.
    one_stream(&h, 0).await;

    let mut warm_prelude = Vec::new();
    let mut warm_first = Vec::new();
    for run in 1..=WARM_RUNS {
        let (prelude, first) = one_stream(&h, run).await;
        warm_prelude.push(prelude);
        warm_first.push(first);
    }

    let mut idle_prelude = Vec::new();
    let mut idle_first = Vec::new();
    for run in 1..=IDLE_RUNS {
        // Longer than the adapter's default 4 s pool idle timeout for app connections.
        tokio::time::sleep(IDLE_PAUSE).await;
        let (prelude, first) = one_stream(&h, WARM_RUNS + run).await;
        idle_prelude.push(prelude);
        idle_first.push(first);
    }

    // Peak memory while streaming 18 MiB in 64 KiB chunks.
    let rss_before_large = h.adapter.rss_kib();
    let parts: Vec<Bytes> = (0..LARGE_CHUNKS)
        .map(|index| Bytes::from(vec![(index % 251) as u8; LARGE_CHUNK]))
        .collect();
    let total: usize = parts.iter().map(Bytes::len).sum();
    h.app.route_once(
        "/large",
        Reply::new(200)
            .header("content-type", "application/octet-stream")
            .chunks(parts.into_iter().map(|part| (Duration::ZERO, part))),
    );
    let started = Instant::now();
    let invocation = h.cp.invoke(events::function_url("GET", "/large"));
    let result = invocation
        .result(Duration::from_secs(120))
        .await
        .unwrap_or_else(|timeout| panic!("{timeout}; adapter output:\n{}", h.adapter.logs()));
    let elapsed = started.elapsed();
    let streamed = result.streamed().expect("a streamed response");
    assert!(streamed.completed && !streamed.failed(), "{streamed:?}");
    assert_eq!(streamed.body.len(), total);
    let peak = h.adapter.peak_rss_kib();

    eprintln!(
        "== streaming figures (adapter binary: {}) ==",
        support::adapter::ADAPTER_BINARY
    );
    eprintln!(
        "{}",
        summary(
            "first chunk, app write -> control plane, warm, back to back",
            warm_first
        )
    );
    eprintln!(
        "{}",
        summary("prelude, invoke -> control plane, warm", warm_prelude)
    );
    eprintln!(
        "{}",
        summary(
            &format!("first chunk, app write -> control plane, after {IDLE_PAUSE:?} idle"),
            idle_first
        )
    );
    eprintln!(
        "{}",
        summary(
            &format!("prelude, invoke -> control plane, after {IDLE_PAUSE:?} idle"),
            idle_prelude
        )
    );
    eprintln!(
        "18 MiB streamed ({total} bytes, {} chunks at the control plane) in {elapsed:?} ({:.0} MiB/s)",
        streamed.chunks.len() - 1,
        total as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
    );
    eprintln!(
        "adapter RSS: at start {rss_at_start:?} KiB, before the 18 MiB stream {rss_before_large:?} KiB, peak (VmHWM) {peak:?} KiB"
    );
}
