//! End-to-end figures of the real `lambda-adapter` binary (issue "Performance: a benchmark
//! suite"): a fake Lambda control plane ([`ControlPlane`]) and a web app (a hyper server in this
//! process) on loopback, the adapter as a child process between them.
//!
//! | id | figure |
//! |----|--------|
//! | c  | sequential invocation round trip (invoke → result at the control plane), a direct keep-alive GET of the same app endpoint, and the difference (the adapter's overhead); the round trip split where the `next` answer leaves and where the app sees the request; the adapter's CPU time per invocation; each overhead above the floor, that of an adapter doing no work ([`floor`]), measured in a pass of its own after them |
//! | e  | throughput at `AWS_LAMBDA_MAX_CONCURRENCY=16`, and the adapter's CPU time per invocation |
//! | f  | streaming: app writes a chunk → the chunk at the control plane, warm, and each sample after its own idle pause (the app connection closed by then) |
//! | a  | app starts listening → first `next` at the control plane |
//! | b  | adapter spawned → first `next` at the control plane |
//! | d  | 1 MiB / 5 MiB text and 4 MiB binary echo latency, and the adapter's peak RSS |
//! | g  | idle RSS and the binary's size |
//!
//! Environment: `LWA_BENCH_BIN` (default `target/release/lambda-adapter`) is the binary measured;
//! `LWA_BENCH_COMPARE`, when set, is a second binary run through the same scenarios, interleaved
//! sample by sample (or batch by batch for throughput) so that machine noise falls on both, with
//! the ratio ours/theirs per figure. `LWA_BENCH_QUICK=1` runs a tenth of the samples (a smoke
//! run), `LWA_BENCH_ONLY=c,e` only the scenarios named, `LWA_BENCH_STARTS=n` n start-ups per
//! binary in (a) and (b). Results: a table on stdout, `target/bench/results.md` and
//! `target/bench/results.json`; the adapters' output goes to `target/bench/logs/`.
//!
//! ```text
//! make bench                                         # builds the adapter, criterion, then this
//! make bench COMPARE=/path/to/other/lambda-adapter
//! make bench-compare                                 # against the published 1.0.0-rc1
//! ```
//!
//! Every loop is bounded in count and by a time budget, every wait by a timeout. Only loopback.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_emulator::control_plane::{ControlPlane, InvocationResult, PRELUDE_DELIMITER};
use lambda_emulator::server::{full_body, BoxError, HttpServer, ResponseBody};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

#[path = "e2e/floor.rs"]
mod floor;

/// Any single wait: an invocation's result, a chunk, a process start.
const WAIT: Duration = Duration::from_secs(30);
/// The adapters' default pool idle timeout for app connections is 4 s; (f idle) waits longer.
const IDLE_PAUSE: Duration = Duration::from_millis(4_500);
/// The body of `GET /small`.
const SMALL_BODY: &str = "hello from the app\n";
/// A request header that makes the app note when the request arrived.
const MARK_HEADER: &str = "x-bench-mark";
/// The chunk the streaming endpoint writes.
const STREAM_CHUNK: &[u8] = b"data: first event\n\n";
/// (e): the Managed Instances concurrency, and the invocations kept queued at once.
const CONCURRENCY: usize = 16;
const IN_FLIGHT: usize = 2 * CONCURRENCY;
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Entry point

fn main() {
    // The bench started itself as (c)'s floor adapter.
    if std::env::var(floor::ROLE).is_ok_and(|role| role == floor::FLOOR) {
        floor::run(MARK_HEADER);
    }
    // `cargo test --benches` runs this without `--bench`: nothing to measure then.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("e2e: a benchmark; run it with `cargo bench --bench e2e` or `make bench`");
        return;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("e2e: cannot start a tokio runtime: {err}");
            std::process::exit(2);
        }
    };
    if let Err(err) = runtime.block_on(run()) {
        eprintln!("e2e: {err}");
        std::process::exit(1);
    }
}

/// How many samples each scenario takes (a tenth with `LWA_BENCH_QUICK=1`).
struct Counts {
    sequential: usize,
    throughput: usize,
    throughput_batches: usize,
    stream_warm: usize,
    stream_idle: usize,
    starts: usize,
    echo_rounds: usize,
}

impl Counts {
    fn from_env() -> Counts {
        let quick = std::env::var("LWA_BENCH_QUICK").is_ok_and(|v| v == "1");
        let mut counts = Counts::planned(quick);
        // Another number of start-up samples for (a)/(b): `LWA_BENCH_STARTS=25`.
        if let Some(starts) = std::env::var("LWA_BENCH_STARTS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
        {
            counts.starts = starts.clamp(1, 1_000);
        }
        counts
    }

    fn planned(quick: bool) -> Counts {
        if quick {
            Counts {
                sequential: 300,
                throughput: 500,
                throughput_batches: 2,
                stream_warm: 20,
                stream_idle: 1,
                starts: 3,
                echo_rounds: 2,
            }
        } else {
            Counts {
                sequential: 3_000,
                throughput: 5_000,
                throughput_batches: 5,
                stream_warm: 200,
                stream_idle: 15,
                starts: 100,
                echo_rounds: 10,
            }
        }
    }
}

/// A binary under measurement.
#[derive(Clone, Debug)]
struct Subject {
    label: &'static str,
    bin: PathBuf,
}

struct Bench {
    subjects: Vec<Subject>,
    app: App,
    counts: Counts,
    logs: PathBuf,
    report: Report,
}

async fn run() -> Result<(), String> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let out = target_dir.join("bench");
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    let ours = std::env::var_os("LWA_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir.join("release/lambda-adapter"));
    let mut subjects = vec![Subject {
        label: "ours",
        bin: ours,
    }];
    if let Some(theirs) = std::env::var_os("LWA_BENCH_COMPARE").filter(|v| !v.is_empty()) {
        subjects.push(Subject {
            label: "theirs",
            bin: PathBuf::from(theirs),
        });
    }
    for subject in &subjects {
        if !subject.bin.is_file() {
            return Err(format!(
                "{} binary {} not found (build it with `make build`, or set LWA_BENCH_BIN / COMPARE)",
                subject.label,
                subject.bin.display()
            ));
        }
        // Old logs would mix with this run's.
        let _ = std::fs::remove_file(logs.join(format!("{}.log", subject.label)));
    }

    let app = App::bind()
        .await
        .map_err(|e| format!("cannot start the app: {e}"))?;
    let mut bench = Bench {
        report: Report::new(subjects.clone()),
        subjects,
        app,
        counts: Counts::from_env(),
        logs,
    };
    println!(
        "e2e: {} on loopback, app at 127.0.0.1:{}",
        bench
            .subjects
            .iter()
            .map(|s| format!("{} = {}", s.label, s.bin.display()))
            .collect::<Vec<_>>()
            .join(", "),
        bench.app.port
    );

    let started = Instant::now();
    let scenarios: [(&str, Duration); 6] = [
        ("c", Duration::from_secs(120)),
        ("e", Duration::from_secs(90)),
        ("f", Duration::from_secs(180)),
        ("a", Duration::from_secs(60)),
        ("b", Duration::from_secs(60)),
        ("d", Duration::from_secs(90)),
    ];
    // `LWA_BENCH_ONLY=c,e` runs some scenarios (to profile one, say).
    let only = std::env::var("LWA_BENCH_ONLY").unwrap_or_default();
    let wanted = |scenario: &str| only.is_empty() || only.split(',').any(|s| s.trim() == scenario);
    for (scenario, budget) in scenarios {
        if !wanted(scenario) {
            continue;
        }
        let begun = Instant::now();
        let budget = Budget::new(budget);
        let outcome = match scenario {
            "c" => bench.sequential(&budget).await,
            "e" => bench.throughput(&budget).await,
            "f" => bench.streaming(&budget).await,
            "a" => bench.listen_to_next(&budget).await,
            "b" => bench.spawn_to_next(&budget).await,
            _ => bench.echo(&budget).await,
        };
        if let Err(err) = outcome {
            bench.report.note(format!("({scenario}) stopped: {err}"));
        }
        if budget.expired() {
            bench.report.note(format!(
                "({scenario}) ran out of its {} s budget: fewer samples than planned",
                budget.total.as_secs()
            ));
        }
        println!(
            "e2e: ({scenario}) done in {:.1} s",
            begun.elapsed().as_secs_f64()
        );
    }
    bench.sizes();

    let markdown = bench.report.markdown(started.elapsed(), &target_dir);
    println!("\n{markdown}");
    let json = bench.report.json(started.elapsed());
    let md_path = out.join("results.md");
    let json_path = out.join("results.json");
    std::fs::write(&md_path, &markdown).map_err(|e| format!("{}: {e}", md_path.display()))?;
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", json_path.display()))?;
    println!(
        "e2e: wrote {} and {}",
        md_path.display(),
        json_path.display()
    );
    Ok(())
}

/// A scenario's time limit: loops stop taking samples once it has passed.
struct Budget {
    until: Instant,
    total: Duration,
}

impl Budget {
    fn new(total: Duration) -> Budget {
        Budget {
            until: Instant::now() + total,
            total,
        }
    }

    fn expired(&self) -> bool {
        Instant::now() >= self.until
    }
}

/// The subjects' indices for round `round`: A, B on even rounds, B, A on odd ones.
fn order(count: usize, round: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..count).collect();
    if round % 2 == 1 {
        indices.reverse();
    }
    indices
}

// ---------------------------------------------------------------------------------------------
// The scenarios

impl Bench {
    fn log_file(&self, subject: &Subject) -> PathBuf {
        self.logs.join(format!("{}.log", subject.label))
    }

    /// One adapter per subject with its own control plane, each answering a first invocation.
    async fn start_all(&self, env: &[(&str, &str)]) -> Result<Vec<Running>, String> {
        let mut running = Vec::new();
        for subject in &self.subjects {
            running
                .push(Running::start(subject, self.app.port, env, &self.log_file(subject)).await?);
        }
        Ok(running)
    }

    /// (c) sequential round trips, and a direct keep-alive GET of the same endpoint beside each;
    /// then the same for the floor adapter ([`floor`]) on its own, for the rows above it (taking
    /// turns with the binaries would change what they measure).
    async fn sequential(&mut self, budget: &Budget) -> Result<(), String> {
        let mut running = self.start_all(&[]).await?;
        let floor = Subject {
            label: "floor",
            bin: std::env::current_exe().map_err(|e| format!("the bench executable: {e}"))?,
        };
        let env = [(floor::ROLE, floor::FLOOR)];
        let log = self.log_file(&floor);
        running.push(Running::start(&floor, self.app.port, &env, &log).await?);
        // The binaries, then the floor (idle until its pass).
        let n = self.subjects.len();
        let all = n + 1;
        // Marked, so that the app notes when it sees the request (the split below).
        let mut marked = function_url_json("GET", "/small", None);
        marked["headers"][MARK_HEADER] = json!("1");
        let small = Bytes::from(marked.to_string());
        let mut direct = Vec::new();
        for _ in 0..all {
            direct.push(DirectClient::connect(self.app.port).await?);
        }
        let mut invoke = vec![Vec::new(); all];
        let mut plain = vec![Vec::new(); all];
        // invoke → `next` answered, → request at the app, app → result at the control plane.
        let mut split = vec![[Vec::new(), Vec::new(), Vec::new()]; all];
        let warm_up = self.counts.sequential / 20;
        let mut cpu_at_start = vec![None; all];
        for pass in [0..n, n..all] {
            for round in 0..warm_up + self.counts.sequential {
                if budget.expired() {
                    break;
                }
                if round == warm_up {
                    for index in pass.clone() {
                        cpu_at_start[index] = running[index].adapter.cpu_time();
                    }
                }
                for index in order(pass.len(), round) {
                    let index = pass.start + index;
                    let (round_trip, parts) =
                        self.app.timed_invoke(&running[index], &small).await?;
                    let got = direct[index].get_small().await?;
                    if round >= warm_up {
                        invoke[index].push(round_trip);
                        plain[index].push(got);
                        for (samples, part) in split[index].iter_mut().zip(parts) {
                            samples.push(part);
                        }
                    }
                }
            }
        }
        let cpu = cpu_per_invocation(
            &running,
            &cpu_at_start,
            &invoke.iter().map(Vec::len).collect::<Vec<_>>(),
        );
        for value in &mut invoke {
            value.sort();
        }
        for value in &mut plain {
            value.sort();
        }
        for value in split.iter_mut().flatten() {
            value.sort();
        }
        let overhead =
            |i: usize, p: f64| Some(percentile(&invoke[i], p)? - percentile(&plain[i], p)?);
        let r = &mut self.report;
        for (part, label) in [
            "invoke → `next` answered (control plane only)",
            "`next` answered → request at the app",
            "app has the request → result at the control plane",
        ]
        .iter()
        .enumerate()
        {
            r.row(
                &format!("c.split{part}.p50"),
                &format!("(c) split p50: {label}"),
                Unit::Micros,
                split[..n]
                    .iter()
                    .map(|s| percentile(&s[part], 50.0))
                    .collect(),
                None,
            );
        }
        r.row(
            "c.adapter_cpu",
            "(c) adapter CPU time per invocation (all threads, user + system)",
            Unit::Micros,
            cpu[..n].to_vec(),
            None,
        );
        r.percentile_rows(
            "c.invoke",
            "(c) invoke round trip",
            Unit::Micros,
            &invoke[..n],
            |_| None,
        );
        r.percentile_rows(
            "c.direct",
            "(c) direct keep-alive GET",
            Unit::Micros,
            &plain[..n],
            |_| None,
        );
        for (p, name) in PERCENTILES {
            let target = match name {
                "p50" | "p99" => Some(Target::RatioAtMost(0.6)),
                _ => None,
            };
            r.row(
                &format!("c.overhead.{name}"),
                &format!("(c) overhead (invoke − direct) {name}"),
                Unit::Micros,
                (0..n).map(|i| overhead(i, p)).collect(),
                target,
            );
        }
        // The floor is the last one running.
        for (p, name) in PERCENTILES {
            r.row(
                &format!("c.above_floor.{name}"),
                &format!("(c) overhead above the floor's (measured after) {name}"),
                Unit::Micros,
                (0..n)
                    .map(|i| Some(overhead(i, p)? - overhead(n, p)?))
                    .collect(),
                None,
            );
        }
        r.note(format!(
            "(c) {} sequential invocations per binary (GET /small, Function URL event) after {warm_up} \
             not counted; overhead pX = invoke pX − direct pX",
            invoke[0].len()
        ));
        let show = |value| Unit::Micros.show_or_dash(value);
        r.note(format!(
            "(c) the floor, an adapter doing no work (the bench itself, blocking sockets, a fixed \
             request to the app, no event read), measured after the binaries: overhead p50 \
             {}, p90 {}, p99 {}; split p50 {} / {} / {}; CPU time per invocation {}",
            show(overhead(n, 50.0)),
            show(overhead(n, 90.0)),
            show(overhead(n, 99.0)),
            show(percentile(&split[n][0], 50.0)),
            show(percentile(&split[n][1], 50.0)),
            show(percentile(&split[n][2], 50.0)),
            show(cpu[n]),
        ));
        stop_all(running).await;
        Ok(())
    }

    /// (e) invocations per second at `AWS_LAMBDA_MAX_CONCURRENCY=16`, batches alternating.
    async fn throughput(&mut self, budget: &Budget) -> Result<(), String> {
        let concurrency = CONCURRENCY.to_string();
        let running = self
            .start_all(&[("AWS_LAMBDA_MAX_CONCURRENCY", &concurrency)])
            .await?;
        let n = self.subjects.len();
        let small = function_url_event("GET", "/small", None);
        for adapter in &running {
            // Not a condition for the figure, but what it means: 16 `next` calls in flight.
            if !adapter.cp.wait_next_outstanding(CONCURRENCY, WAIT).await {
                self.report.note(format!(
                    "(e) {}: fewer than {CONCURRENCY} concurrent `next` calls seen",
                    adapter.subject.label
                ));
            }
            closed_loop(&adapter.cp, &small, 200, budget).await?;
        }
        let batch = self.counts.throughput / self.counts.throughput_batches;
        let mut done = vec![0usize; n];
        let mut took = vec![Duration::ZERO; n];
        // The bench process (control plane and app) shares the two cores with the adapter: its
        // CPU per invocation bounds how far a cheaper adapter can raise the throughput.
        let mut harness_cpu = vec![Some(Duration::ZERO); n];
        let cpu_at_start: Vec<Option<Duration>> =
            running.iter().map(|a| a.adapter.cpu_time()).collect();
        for round in 0..self.counts.throughput_batches {
            if budget.expired() {
                break;
            }
            for index in order(n, round) {
                let started = Instant::now();
                let harness_before = cpu_time("self");
                let finished = closed_loop(&running[index].cp, &small, batch, budget).await?;
                took[index] += started.elapsed();
                done[index] += finished;
                harness_cpu[index] = harness_cpu[index]
                    .zip(cpu_time("self").zip(harness_before))
                    .map(|(sum, (after, before))| sum + after.saturating_sub(before));
            }
        }
        self.report.row(
            "e.throughput",
            "(e) throughput, concurrency 16 (invocations/s)",
            Unit::PerSecond,
            done.iter()
                .zip(&took)
                .map(|(d, t)| (*d > 0).then(|| *d as f64 / t.as_secs_f64()))
                .collect(),
            Some(Target::RatioAtLeast(1.3)),
        );
        self.report.row(
            "e.adapter_cpu",
            "(e) adapter CPU time per invocation (all threads, user + system)",
            Unit::Micros,
            cpu_per_invocation(&running, &cpu_at_start, &done),
            None,
        );
        self.report.row(
            "e.harness_cpu",
            "(e) bench process (control plane + app) CPU time per invocation",
            Unit::Micros,
            harness_cpu
                .iter()
                .zip(&done)
                .map(|(cpu, count)| micros_per_invocation((*cpu)?, *count))
                .collect(),
            None,
        );
        let seen: Vec<String> = running
            .iter()
            .map(|a| format!("{} {}", a.subject.label, a.cp.max_next_outstanding()))
            .collect();
        self.report.note(format!(
            "(e) {} invocations per binary in {} alternating batches, {IN_FLIGHT} queued at a time; \
             most concurrent `next` calls seen: {}",
            done[0],
            self.counts.throughput_batches,
            seen.join(", ")
        ));
        stop_all(running).await;
        Ok(())
    }

    /// (f) streaming: the app writes one chunk; how long until it is at the control plane.
    async fn streaming(&mut self, budget: &Budget) -> Result<(), String> {
        let running = self
            .start_all(&[("AWS_LWA_INVOKE_MODE", "response_stream")])
            .await?;
        let n = self.subjects.len();
        let mut sequence = 0usize;
        let mut warm = vec![Vec::new(); n];
        let mut warm_head = vec![Vec::new(); n];
        let mut idle = vec![Vec::new(); n];
        let mut held_prelude = vec![0usize; n];
        let warm_up = 10;
        for round in 0..warm_up + self.counts.stream_warm {
            if budget.expired() {
                break;
            }
            for index in order(n, round) {
                sequence += 1;
                let sample = stream_once(&running[index], &self.app, sequence).await?;
                if round >= warm_up {
                    warm[index].push(sample.first_byte);
                    match sample.head {
                        Some(head) => warm_head[index].push(head),
                        None => held_prelude[index] += 1,
                    }
                }
            }
        }
        for round in 0..self.counts.stream_idle {
            if budget.expired() {
                break;
            }
            for index in order(n, round) {
                // Before every sample, not once per round: the second binary of a round would
                // otherwise run on a machine the first has just woken up. Longer than both
                // adapters' 4 s pool idle timeout, so the app connection is closed too.
                tokio::time::sleep(IDLE_PAUSE).await;
                sequence += 1;
                let sample = stream_once(&running[index], &self.app, sequence).await?;
                idle[index].push(sample.first_byte);
            }
        }
        for values in warm.iter_mut().chain(&mut idle).chain(&mut warm_head) {
            values.sort();
        }
        let r = &mut self.report;
        r.percentile_rows(
            "f.warm",
            "(f) stream first byte, warm",
            Unit::Micros,
            &warm,
            |name| (name != "p90").then_some(Target::AbsoluteBelowMicros(2_000.0)),
        );
        for (p, name) in [(50.0, "p50"), (100.0, "max")] {
            r.row(
                &format!("f.idle.{name}"),
                &format!("(f) stream first byte, after idle {name}"),
                Unit::Micros,
                idle.iter().map(|v| percentile(v, p)).collect(),
                (name == "p50").then_some(Target::RatioAtMost(1.0)),
            );
        }
        r.row(
            "f.head.p50",
            "(f) invoke → prelude at the control plane, warm p50",
            Unit::Micros,
            warm_head.iter().map(|v| percentile(v, 50.0)).collect(),
            None,
        );
        r.note(format!(
            "(f) first byte = the app writes a {}-byte chunk (after the prelude is at the control plane) → \
             the chunk at the control plane; {} warm samples per binary back to back, {} each after its own {} ms idle",
            STREAM_CHUNK.len(),
            warm[0].len(),
            idle[0].len(),
            IDLE_PAUSE.as_millis()
        ));
        for (index, held) in held_prelude.iter().enumerate() {
            if *held > 0 {
                r.note(format!(
                    "(f) {}: the prelude did not reach the control plane before the first body chunk in {held} of {} samples",
                    self.subjects[index].label,
                    warm[index].len()
                ));
            }
        }
        stop_all(running).await;
        Ok(())
    }

    /// (a) the adapter waits for an app that is not listening; the app binds; first `next`.
    async fn listen_to_next(&mut self, budget: &Budget) -> Result<(), String> {
        let n = self.subjects.len();
        let mut samples = vec![Vec::new(); n];
        let mut jitter = XorShift(0x2545_f491);
        let small = function_url_event("GET", "/small", None);
        for round in 0..self.counts.starts {
            if budget.expired() {
                break;
            }
            for index in order(n, round) {
                let subject = &self.subjects[index];
                let port = free_port().await?;
                let cp = start_control_plane().await?;
                let first = cp.invoke(small.clone());
                let adapter = Adapter::spawn(subject, &cp, port, &[], &self.log_file(subject))?;
                if cp.wait_registered(WAIT).await.is_none() {
                    adapter.stop().await;
                    return Err(format!("{}: no extension registration", subject.label));
                }
                // The readiness checks are under way; bind at a random point of their 10 ms cycle.
                let pause = 100_000 + jitter.next() % 10_000;
                tokio::time::sleep(Duration::from_micros(pause)).await;
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                    .await
                    .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
                let bound = Instant::now();
                let app = App::serve(listener)?;
                let delivered = first.wait_delivered(WAIT).await;
                let result = first.result(WAIT).await;
                adapter.stop().await;
                drop(app);
                let delivered = delivered.map_err(|e| format!("{}: {e}", subject.label))?;
                let result = result.map_err(|e| format!("{}: {e}", subject.label))?;
                check_text(&result, SMALL_BODY.as_bytes())
                    .map_err(|e| format!("{}: {e}", subject.label))?;
                samples[index].push(delivered.saturating_duration_since(bound));
            }
        }
        for values in &mut samples {
            values.sort();
        }
        self.report.percentile_rows(
            "a",
            "(a) app listening → first next",
            Unit::Millis,
            &samples,
            |name| (name == "p99").then_some(Target::RatioAtMost(1.0)),
        );
        self.report.note(format!(
            "(a) {} fresh adapters per binary; the app binds 100–110 ms after the extension registered",
            samples[0].len()
        ));
        Ok(())
    }

    /// (b) spawn → first `next` with the app listening; then (g) idle RSS after a few invocations.
    async fn spawn_to_next(&mut self, budget: &Budget) -> Result<(), String> {
        let n = self.subjects.len();
        let mut samples = vec![Vec::new(); n];
        let mut idle_rss = vec![Vec::new(); n];
        let small = function_url_event("GET", "/small", None);
        for round in 0..self.counts.starts {
            if budget.expired() {
                break;
            }
            for index in order(n, round) {
                let subject = &self.subjects[index];
                let cp = start_control_plane().await?;
                let first = cp.invoke(small.clone());
                let spawned = Instant::now();
                let adapter =
                    Adapter::spawn(subject, &cp, self.app.port, &[], &self.log_file(subject))?;
                let delivered = match first.wait_delivered(WAIT).await {
                    Ok(at) => at,
                    Err(e) => {
                        adapter.stop().await;
                        return Err(format!("{}: {e}", subject.label));
                    }
                };
                samples[index].push(delivered.saturating_duration_since(spawned));
                let mut outcome = first
                    .result(WAIT)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| check_text(&r, SMALL_BODY.as_bytes()));
                for _ in 0..4 {
                    if outcome.is_err() {
                        break;
                    }
                    outcome = round_trip(&cp, small.clone())
                        .await
                        .and_then(|(_, r)| check_text(&r, SMALL_BODY.as_bytes()));
                }
                let rss = adapter.status_kib("VmRSS");
                adapter.stop().await;
                outcome.map_err(|e| format!("{}: {e}", subject.label))?;
                if let Some(rss) = rss {
                    idle_rss[index].push(rss as f64);
                }
            }
        }
        for values in &mut samples {
            values.sort();
        }
        self.report.percentile_rows(
            "b",
            "(b) adapter spawn → first next",
            Unit::Millis,
            &samples,
            |name| (name == "p50").then_some(Target::RatioAtMost(1.0)),
        );
        self.report.row(
            "g.idle_rss",
            "(g) idle RSS after start-up + 5 invocations (median)",
            Unit::KiB,
            idle_rss.iter_mut().map(|v| median_f64(v)).collect(),
            Some(Target::RatioAtMost(1.0)),
        );
        self.report.note(format!(
            "(b) {} fresh adapters per binary, app already listening; (g) VmRSS of each after 5 invocations",
            samples[0].len()
        ));
        Ok(())
    }

    /// (d) large echoes: latency, and the peak RSS of adapters that did nothing else.
    async fn echo(&mut self, budget: &Budget) -> Result<(), String> {
        let running = self.start_all(&[]).await?;
        let n = self.subjects.len();
        let text_1 = text_body(MIB);
        let text_5 = text_body(5 * MIB);
        let binary_4 = binary_body(4 * MIB);
        let cases: [(&str, &str, Bytes, Vec<u8>, bool); 3] = [
            (
                "1mib_text",
                "1 MiB text",
                echo_event(&text_1, false),
                text_1.clone().into_bytes(),
                false,
            ),
            (
                "5mib_text",
                "5 MiB text",
                echo_event(&text_5, false),
                text_5.clone().into_bytes(),
                false,
            ),
            (
                "4mib_binary",
                "4 MiB binary",
                echo_event(&base64_of(&binary_4), true),
                binary_4.clone(),
                true,
            ),
        ];
        let mut latency = vec![vec![Vec::new(); n]; cases.len()];
        for round in 0..self.counts.echo_rounds {
            if budget.expired() {
                break;
            }
            for (case, (_, _, event, expected, binary)) in cases.iter().enumerate() {
                for index in order(n, round + case) {
                    let (took, result) = round_trip(&running[index].cp, event.clone()).await?;
                    check_echo(&result, expected, *binary)
                        .map_err(|e| format!("{}: {e}", running[index].subject.label))?;
                    latency[case][index].push(took);
                }
            }
        }
        let peak: Vec<Option<f64>> = running
            .iter()
            .map(|a| a.adapter.status_kib("VmHWM").map(|kib| kib as f64))
            .collect();
        for (case, (id, label, ..)) in cases.iter().enumerate() {
            for values in &mut latency[case] {
                values.sort();
            }
            self.report.percentile_rows(
                &format!("d.{id}"),
                &format!("(d) echo {label}"),
                Unit::Millis,
                &latency[case],
                |name| (*id == "5mib_text" && name == "p50").then_some(Target::RatioAtMost(0.8)),
            );
        }
        self.report.row(
            "d.peak_rss",
            "(d) peak RSS during the echoes (VmHWM)",
            Unit::KiB,
            peak,
            Some(Target::RatioAtMost(0.6)),
        );
        self.report.note(format!(
            "(d) {} echoes per size and binary (POST /echo, Function URL event; binary as base64 both ways); \
             VmHWM of adapters started for (d) alone",
            latency[0][0].len()
        ));
        stop_all(running).await;
        Ok(())
    }

    /// (g) the binaries' sizes.
    fn sizes(&mut self) {
        let sizes: Vec<Option<f64>> = self
            .subjects
            .iter()
            .map(|s| std::fs::metadata(&s.bin).ok().map(|m| m.len() as f64))
            .collect();
        self.report.row(
            "g.size",
            "(g) binary size as measured",
            Unit::Bytes,
            sizes,
            Some(Target::RatioAtMost(1.0)),
        );
        let musl = Path::new("dist/x86_64/lambda-adapter");
        if let Ok(meta) = std::fs::metadata(musl) {
            let mut values = vec![None; self.subjects.len()];
            values[0] = Some(meta.len() as f64);
            self.report.row(
                "g.size_musl",
                "(g) binary size, ours dist/x86_64 (static musl)",
                Unit::Bytes,
                values,
                None,
            );
        }
        for subject in &self.subjects {
            self.report.note(format!(
                "{}: {}",
                subject.label,
                describe_binary(&subject.bin)
            ));
        }
    }
}

/// What kind of executable a file is (static or dynamic), from `file` when it is installed.
fn describe_binary(bin: &Path) -> String {
    let described = std::process::Command::new("file")
        .arg("-b")
        .arg(bin)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    match described {
        Some(kind) => format!("{} ({})", bin.display(), kind),
        None => bin.display().to_string(),
    }
}

/// Runs `total` invocations with [`IN_FLIGHT`] of them queued at any time; returns how many
/// completed.
async fn closed_loop(
    cp: &ControlPlane,
    event: &Bytes,
    total: usize,
    budget: &Budget,
) -> Result<usize, String> {
    let issued = Arc::new(AtomicUsize::new(0));
    let until = budget.until;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT.min(total) {
        let (cp, event, issued) = (cp.clone(), event.clone(), issued.clone());
        tasks.spawn(async move {
            let mut done = 0usize;
            while issued.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < until {
                let (_, result) = round_trip(&cp, event.clone()).await?;
                check_text(&result, SMALL_BODY.as_bytes())?;
                done += 1;
            }
            Ok::<usize, String>(done)
        });
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        done += joined.map_err(|e| format!("a load task failed: {e}"))??;
    }
    Ok(done)
}

/// One streamed invocation's timings.
struct StreamSample {
    /// The app writes the chunk → the chunk at the control plane.
    first_byte: Duration,
    /// Invoke → prelude at the control plane; `None` when the prelude came only with the body.
    head: Option<Duration>,
}

async fn stream_once(
    adapter: &Running,
    app: &App,
    sequence: usize,
) -> Result<StreamSample, String> {
    let label = adapter.subject.label;
    let id = format!("{label}-{sequence}");
    let (waiting, body_sender) = oneshot::channel();
    app.state.waiting_streams().insert(id.clone(), waiting);
    let invoked = Instant::now();
    let handle = adapter
        .cp
        .invoke(function_url_event("GET", &format!("/stream/{id}"), None));
    let mut chunks = handle.chunks();
    let body = match tokio::time::timeout(WAIT, body_sender).await {
        Ok(Ok(body)) => body,
        _ => {
            app.state.waiting_streams().remove(&id);
            return Err(format!("{label}: the stream request did not reach the app"));
        }
    };

    // The prelude first, unless the adapter holds it back until the body starts.
    let mut raw = Vec::new();
    let mut head = None;
    while head.is_none() {
        match chunks.recv(Duration::from_millis(500)).await {
            Ok(Some((at, bytes))) => {
                raw.extend_from_slice(&bytes);
                if body_start(&raw).is_some() {
                    head = Some(at.saturating_duration_since(invoked));
                }
            }
            Ok(None) => return Err(format!("{label}: the stream ended before its body")),
            Err(_) => break,
        }
    }
    let written = Instant::now();
    body.send(Bytes::from_static(STREAM_CHUNK))
        .await
        .map_err(|_| format!("{label}: the app's stream was dropped"))?;
    let first_byte = loop {
        match chunks.recv(WAIT).await {
            Ok(Some((at, bytes))) => {
                raw.extend_from_slice(&bytes);
                if body_start(&raw).is_some_and(|start| raw.len() > start) {
                    break at.saturating_duration_since(written);
                }
            }
            Ok(None) => return Err(format!("{label}: the stream ended without the chunk")),
            Err(e) => return Err(format!("{label}: {e}")),
        }
    };
    drop(body);
    let result = handle
        .result(WAIT)
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    handle.forget();
    let streamed = result.streamed().map_err(|e| format!("{label}: {e}"))?;
    if !streamed.completed || streamed.failed() || streamed.body != STREAM_CHUNK {
        return Err(format!("{label}: unexpected stream: {}", result.describe()));
    }
    Ok(StreamSample { first_byte, head })
}

/// Where the body starts in a raw stream: after the prelude and its 8 NUL bytes.
fn body_start(raw: &[u8]) -> Option<usize> {
    raw.windows(PRELUDE_DELIMITER.len())
        .position(|window| window == PRELUDE_DELIMITER)
        .map(|at| at + PRELUDE_DELIMITER.len())
}

// ---------------------------------------------------------------------------------------------
// The adapter process

struct Adapter {
    child: Child,
    pid: Option<u32>,
}

impl Adapter {
    /// Starts `subject` against `cp` for an app on `app_port`, with only the variables it needs;
    /// its output is appended to `log`.
    fn spawn(
        subject: &Subject,
        cp: &ControlPlane,
        app_port: u16,
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<Adapter, String> {
        let open = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| format!("{}: {e}", log.display()))
        };
        let (stdout, stderr): (File, File) = (open()?, open()?);
        let mut command = Command::new(&subject.bin);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", cp.addr().to_string())
            .env("AWS_LWA_PORT", app_port.to_string())
            // The published adapter's lambda_runtime may need these; set for both binaries alike.
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", subject.bin.display()))?;
        let pid = child.id();
        Ok(Adapter { child, pid })
    }

    /// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`).
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        status.lines().find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse().ok()
        })
    }

    /// CPU time of all its threads so far (`/proc/<pid>/task/*/schedstat`, in ns).
    fn cpu_time(&self) -> Option<Duration> {
        cpu_time(&self.pid?.to_string())
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
    }
}

/// An adapter with its control plane, ready (it has answered one invocation).
struct Running {
    subject: Subject,
    cp: ControlPlane,
    adapter: Adapter,
}

impl Running {
    async fn start(
        subject: &Subject,
        app_port: u16,
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<Running, String> {
        let cp = start_control_plane().await?;
        let adapter = Adapter::spawn(subject, &cp, app_port, env, log)?;
        let first = round_trip(&cp, function_url_event("GET", "/small", None)).await;
        let checked = first.and_then(|(_, result)| {
            if env.iter().any(|(name, _)| *name == "AWS_LWA_INVOKE_MODE") {
                Ok(())
            } else {
                check_text(&result, SMALL_BODY.as_bytes())
            }
        });
        if let Err(err) = checked {
            adapter.stop().await;
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

/// CPU time used so far by all threads of process `pid` (a number, or `self`).
fn cpu_time(pid: &str) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// `cpu` spread over `count` invocations, in µs; `None` for no invocations.
fn micros_per_invocation(cpu: Duration, count: usize) -> Option<f64> {
    (count > 0).then(|| cpu.as_secs_f64() * 1e6 / count as f64)
}

/// Each adapter's CPU time since `start`, per invocation, in µs.
fn cpu_per_invocation(
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

async fn stop_all(running: Vec<Running>) {
    for r in running {
        r.adapter.stop().await;
    }
}

async fn start_control_plane() -> Result<ControlPlane, String> {
    ControlPlane::start()
        .await
        .map_err(|e| format!("cannot start the control plane: {e}"))
}

/// A loopback port that nothing listens on (yet).
async fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| e.to_string())
}

/// Invoke → result at the control plane, then the record is dropped.
async fn round_trip(
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

// ---------------------------------------------------------------------------------------------
// Events and checks

/// A Function URL (HTTP API v2) event with the headers a browser or SDK sends.
fn function_url_event(method: &str, path: &str, body: Option<(&str, bool, &str)>) -> Bytes {
    Bytes::from(function_url_json(method, path, body).to_string())
}

fn function_url_json(method: &str, path: &str, body: Option<(&str, bool, &str)>) -> Value {
    let mut headers = json!({
        "accept": "*/*",
        "accept-encoding": "gzip, deflate, br",
        "host": "abcdefghij.lambda-url.us-east-1.on.aws",
        "user-agent": "bench/1.0",
        "x-amzn-trace-id": "Root=1-65f00000-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https"
    });
    if let Some((_, _, content_type)) = body {
        headers["content-type"] = json!(content_type);
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "bench/1.0"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2024:19:03:58 +0000",
            "timeEpoch": 1_710_270_238_000u64
        },
        "body": body.map(|(body, _, _)| body),
        "isBase64Encoded": body.is_some_and(|(_, base64, _)| base64)
    })
}

fn echo_event(body: &str, base64: bool) -> Bytes {
    let content_type = if base64 {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    };
    function_url_event("POST", "/echo", Some((body, base64, content_type)))
}

/// Printable text with what JSON must escape now and then (quotes, newlines).
fn text_body(len: usize) -> String {
    const LINE: &str = "lorem ipsum dolor sit amet, \"consectetur\" adipiscing elit 0123456789\n";
    LINE.chars().cycle().take(len).collect()
}

/// Bytes of every value, like compressed or image data.
fn binary_body(len: usize) -> Vec<u8> {
    let mut random = XorShift(0x9e37_79b9);
    (0..len).map(|_| random.next() as u8).collect()
}

fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A buffered 200 whose body is `expected` as text.
fn check_text(result: &InvocationResult, expected: &[u8]) -> Result<(), String> {
    check_echo(result, expected, false)
}

/// A buffered 200 whose body is `expected` (base64 when `binary`).
fn check_echo(result: &InvocationResult, expected: &[u8], binary: bool) -> Result<(), String> {
    let json = result.json().map_err(|e| e.to_string())?;
    if json["statusCode"] != 200 {
        return Err(format!(
            "status {} ({})",
            json["statusCode"],
            result.describe()
        ));
    }
    let body = json["body"].as_str().unwrap_or_default();
    let base64 = json["isBase64Encoded"].as_bool().unwrap_or(false);
    let bytes = if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("the body is not base64: {e}"))?
    } else {
        body.as_bytes().to_vec()
    };
    if base64 != binary {
        return Err(format!("isBase64Encoded is {base64}, expected {binary}"));
    }
    if bytes != expected {
        return Err(format!(
            "the body ({} bytes) is not the expected one ({} bytes)",
            bytes.len(),
            expected.len()
        ));
    }
    Ok(())
}

/// A small deterministic generator (jitter, binary bodies).
struct XorShift(u32);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        u64::from(self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// The app

/// The web app: `GET /` (readiness), `GET /small`, `POST /echo`, `GET /stream/{id}`.
struct App {
    port: u16,
    state: Arc<AppState>,
    _server: HttpServer,
}

#[derive(Default)]
struct AppState {
    /// Stream ids a driver waits for, with where to hand it the stream's sending end.
    streams: Mutex<HashMap<String, oneshot::Sender<mpsc::Sender<Bytes>>>>,
    /// When the last request with [`MARK_HEADER`] arrived.
    mark: Mutex<Option<Instant>>,
}

impl AppState {
    fn take_mark(&self) -> Option<Instant> {
        self.mark
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn waiting_streams(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<mpsc::Sender<Bytes>>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl App {
    /// One invocation of `event` (marked with [`MARK_HEADER`]) through `adapter`, checked: its
    /// round trip, and the three parts of it (invoke → `next` answered, → request at the app,
    /// → result at the control plane).
    async fn timed_invoke(
        &self,
        adapter: &Running,
        event: &Bytes,
    ) -> Result<(Duration, [Duration; 3]), String> {
        let label = adapter.subject.label;
        self.state.take_mark();
        let invoked = Instant::now();
        let handle = adapter.cp.invoke(event.clone());
        let result = handle
            .result(WAIT)
            .await
            .map_err(|e| format!("{label}: {e}"))?;
        let ended = Instant::now();
        let delivered = handle
            .wait_delivered(WAIT)
            .await
            .map_err(|e| format!("{label}: {e}"))?;
        handle.forget();
        check_text(&result, SMALL_BODY.as_bytes()).map_err(|e| format!("{label}: {e}"))?;
        let at_app = self
            .state
            .take_mark()
            .ok_or_else(|| format!("{label}: the app saw no marked request"))?;
        Ok((
            ended - invoked,
            [
                delivered.saturating_duration_since(invoked),
                at_app.saturating_duration_since(delivered),
                ended.saturating_duration_since(at_app),
            ],
        ))
    }

    async fn bind() -> Result<App, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| e.to_string())?;
        App::serve(listener)
    }

    fn serve(listener: TcpListener) -> Result<App, String> {
        let state = Arc::new(AppState::default());
        let handler_state = state.clone();
        let server = HttpServer::serve(listener, move |request| {
            app_route(handler_state.clone(), request)
        })
        .map_err(|e| e.to_string())?;
        Ok(App {
            port: server.addr().port(),
            state,
            _server: server,
        })
    }
}

async fn app_route(
    state: Arc<AppState>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, BoxError> {
    let path = request.uri().path().to_owned();
    let response = match (request.method().clone(), path.as_str()) {
        (Method::GET, "/") => text_response(StatusCode::OK, "ready\n"),
        (Method::GET, "/small") => {
            if request.headers().contains_key(MARK_HEADER) {
                let arrived = Instant::now();
                *state.mark.lock().unwrap_or_else(PoisonError::into_inner) = Some(arrived);
            }
            text_response(StatusCode::OK, SMALL_BODY)
        }
        (Method::POST, "/echo") => {
            let content_type = request.headers().get(CONTENT_TYPE).cloned();
            let body = request.into_body().collect().await?.to_bytes();
            let mut response = Response::new(full_body(body));
            if let Some(content_type) = content_type {
                response.headers_mut().insert(CONTENT_TYPE, content_type);
            }
            response
        }
        (Method::GET, stream) if stream.starts_with("/stream/") => {
            let id = &stream["/stream/".len()..];
            let (sender, receiver) = mpsc::channel(4);
            // Without a waiting driver the sender is dropped here and the body ends at once.
            if let Some(waiting) = state.waiting_streams().remove(id) {
                let _ = waiting.send(sender);
            }
            let mut response = Response::new(ChannelBody(receiver).boxed());
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        _ => text_response(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

fn text_response(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(full_body(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A response body that sends what the driver puts in the channel, and ends when it lets go.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// A keep-alive HTTP/1.1 connection straight to the app: the baseline of (c).
struct DirectClient {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    authority: String,
}

impl DirectClient {
    async fn connect(port: u16) -> Result<DirectClient, String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake with the app: {e}"))?;
        tokio::spawn(connection);
        Ok(DirectClient {
            sender,
            authority: addr.to_string(),
        })
    }

    /// `GET /small`; how long until the whole body was read.
    async fn get_small(&mut self) -> Result<Duration, String> {
        let started = Instant::now();
        self.sender
            .ready()
            .await
            .map_err(|e| format!("the direct connection closed: {e}"))?;
        let request = Request::get("/small")
            .header(HOST, &self.authority)
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("direct GET: {e}"))?;
        let body = tokio::time::timeout(WAIT, response.into_body().collect())
            .await
            .map_err(|_| "direct GET: no body in time".to_string())?
            .map_err(|e| format!("direct GET body: {e}"))?
            .to_bytes();
        let took = started.elapsed();
        if body != SMALL_BODY.as_bytes() {
            return Err("direct GET: unexpected body".into());
        }
        Ok(took)
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report

const PERCENTILES: [(f64, &str); 3] = [(50.0, "p50"), (90.0, "p90"), (99.0, "p99")];

/// Nearest-rank percentile of sorted durations, in microseconds.
fn percentile(sorted: &[Duration], percent: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64 * percent / 100.0).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1e6)
}

fn median_f64(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[(values.len() - 1) / 2])
}

#[derive(Clone, Copy, Debug)]
enum Unit {
    /// Stored in µs, shown in µs.
    Micros,
    /// Stored in µs, shown in ms.
    Millis,
    KiB,
    Bytes,
    PerSecond,
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::Micros => format!("{value:.0} µs"),
            Unit::Millis => format!("{:.2} ms", value / 1000.0),
            Unit::KiB => format!("{:.1} MiB", value / 1024.0),
            Unit::Bytes => format!("{value:.0} B"),
            Unit::PerSecond => format!("{value:.0}/s"),
        }
    }

    /// [`Unit::show`], or a dash for a figure that was not measured.
    fn show_or_dash(self, value: Option<f64>) -> String {
        value.map_or_else(|| "—".to_string(), |value| self.show(value))
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Micros | Unit::Millis => "us",
            Unit::KiB => "KiB",
            Unit::Bytes => "bytes",
            Unit::PerSecond => "per_second",
        }
    }
}

/// The issue's goals for a figure.
#[derive(Clone, Copy, Debug)]
enum Target {
    RatioAtMost(f64),
    RatioAtLeast(f64),
    AbsoluteBelowMicros(f64),
}

impl Target {
    fn describe(self) -> String {
        match self {
            Target::RatioAtMost(r) => format!("≤ {r}×"),
            Target::RatioAtLeast(r) => format!("≥ {r}×"),
            Target::AbsoluteBelowMicros(us) => format!("< {} ms", us / 1000.0),
        }
    }

    fn met(self, ours: Option<f64>, ratio: Option<f64>) -> Option<bool> {
        match self {
            Target::RatioAtMost(r) => ratio.map(|ratio| ratio <= r),
            Target::RatioAtLeast(r) => ratio.map(|ratio| ratio >= r),
            Target::AbsoluteBelowMicros(us) => ours.map(|ours| ours < us),
        }
    }
}

struct Row {
    id: String,
    label: String,
    unit: Unit,
    values: Vec<Option<f64>>,
    target: Option<Target>,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        match self.values.as_slice() {
            [Some(ours), Some(theirs)] if *theirs != 0.0 => Some(ours / theirs),
            _ => None,
        }
    }

    fn met(&self) -> Option<bool> {
        self.target?
            .met(self.values.first().copied().flatten(), self.ratio())
    }
}

struct Report {
    subjects: Vec<Subject>,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn new(subjects: Vec<Subject>) -> Report {
        Report {
            subjects,
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A row per percentile of each binary's sorted `samples`; `target` names the rows with one.
    fn percentile_rows(
        &mut self,
        id: &str,
        label: &str,
        unit: Unit,
        samples: &[Vec<Duration>],
        target: impl Fn(&str) -> Option<Target>,
    ) {
        for (p, name) in PERCENTILES {
            self.row(
                &format!("{id}.{name}"),
                &format!("{label} {name}"),
                unit,
                samples.iter().map(|v| percentile(v, p)).collect(),
                target(name),
            );
        }
    }

    fn row(
        &mut self,
        id: &str,
        label: &str,
        unit: Unit,
        values: Vec<Option<f64>>,
        target: Option<Target>,
    ) {
        let row = Row {
            id: id.to_string(),
            label: label.to_string(),
            unit,
            values,
            target,
        };
        println!(
            "  {:<58} {}",
            row.label,
            row.values
                .iter()
                .map(|v| unit.show_or_dash(*v))
                .collect::<Vec<_>>()
                .join("  |  ")
        );
        self.rows.push(row);
    }

    fn note(&mut self, note: String) {
        println!("  note: {note}");
        self.notes.push(note);
    }

    fn markdown(&self, took: Duration, target_dir: &Path) -> String {
        let compare = self.subjects.len() > 1;
        let mut md = String::from("# lambda-adapter end-to-end benchmark\n\n");
        let _ = writeln!(md, "{}\n", machine());
        if compare {
            md.push_str(
                "| figure | ours | theirs | ours/theirs | target | met |\n|---|---:|---:|---:|---|---|\n",
            );
        } else {
            md.push_str("| figure | ours | target |\n|---|---:|---|\n");
        }
        for row in &self.rows {
            let cell = |index: usize| {
                row.unit
                    .show_or_dash(row.values.get(index).copied().flatten())
            };
            let target = row.target.map_or(String::new(), Target::describe);
            if compare {
                let ratio = row.ratio().map_or("—".to_string(), |r| format!("{r:.2}"));
                let met = match row.met() {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {ratio} | {target} | {met} |",
                    row.label,
                    cell(0),
                    cell(1)
                );
            } else {
                let _ = writeln!(md, "| {} | {} | {target} |", row.label, cell(0));
            }
        }
        md.push_str("\nNotes:\n\n");
        for subject in &self.subjects {
            let _ = writeln!(md, "- {}: `{}`", subject.label, subject.bin.display());
        }
        for note in &self.notes {
            let _ = writeln!(md, "- {note}");
        }
        let _ = writeln!(
            md,
            "- percentiles are nearest-rank; the end-to-end run took {:.0} s",
            took.as_secs_f64()
        );
        let micro = criterion_medians(&target_dir.join("criterion"));
        if !micro.is_empty() {
            md.push_str("\n## Micro-benchmarks (criterion, median of the last run)\n\n");
            md.push_str("| benchmark | median |\n|---|---:|\n");
            for (name, ns) in micro {
                let shown = if ns >= 1e6 {
                    format!("{:.2} ms", ns / 1e6)
                } else {
                    format!("{:.2} µs", ns / 1e3)
                };
                let _ = writeln!(md, "| {name} | {shown} |");
            }
        }
        md
    }

    fn json(&self, took: Duration) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let values: serde_json::Map<String, Value> = self
                    .subjects
                    .iter()
                    .zip(&row.values)
                    .map(|(s, v)| (s.label.to_string(), json!(v)))
                    .collect();
                json!({
                    "id": row.id,
                    "label": row.label,
                    "unit": row.unit.name(),
                    "values": values,
                    "ratio": row.ratio(),
                    "target": row.target.map(Target::describe),
                    "met": row.met(),
                })
            })
            .collect();
        json!({
            "generated_unix_s": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            "machine": machine(),
            "seconds": took.as_secs_f64(),
            "subjects": self.subjects.iter().map(|s| json!({
                "label": s.label,
                "bin": s.bin.display().to_string(),
            })).collect::<Vec<_>>(),
            "rows": rows,
            "notes": self.notes,
        })
    }
}

/// CPUs and kernel, for the record.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    format!(
        "Machine: {cpus} CPUs ({model}), Linux {}; loopback only.",
        kernel.trim()
    )
}

/// `(benchmark id, median ns)` of every criterion benchmark under `dir`.
fn criterion_medians(dir: &Path) -> Vec<(String, f64)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    // Bounded: criterion's tree is a few levels deep.
    let mut visited = 0;
    while let Some(dir) = pending.pop() {
        visited += 1;
        if visited > 10_000 {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                let read = |name: &str| -> Option<Value> {
                    serde_json::from_str(&std::fs::read_to_string(path.join(name)).ok()?).ok()
                };
                if let (Some(benchmark), Some(estimates)) =
                    (read("benchmark.json"), read("estimates.json"))
                {
                    if let (Some(id), Some(median)) = (
                        benchmark["full_id"].as_str(),
                        estimates["median"]["point_estimate"].as_f64(),
                    ) {
                        found.push((id.to_string(), median));
                    }
                }
            } else {
                pending.push(path);
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}
