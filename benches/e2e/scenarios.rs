//! The scenarios (a)–(g) of the bench (see the table in `main.rs`; SPEC IDs there): each takes
//! its samples, alternating the subjects round by round, within its time budget, and reports its
//! rows.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_emulator::control_plane::{ControlPlane, PRELUDE_DELIMITER};
use lambda_emulator::testing::bodies::{binary_body, text_body, XorShift};
use lambda_emulator::testing::ports::free_port;
use lambda_emulator::testing::process;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::adapters::{
    cpu_per_invocation, round_trip, spawn_adapter, start_control_plane, stop, stop_all, Running,
};
use crate::app::{
    base64_of, check_echo, check_text, echo_event, marked_small_event, small_event, stream_event,
    App, DirectClient, SMALL_BODY, STREAM_CHUNK,
};
use crate::floor;
use crate::report::{Target, Unit};
use crate::stats::{median_f64, micros_per_invocation, percentile, PERCENTILES};
use crate::{order, Bench, Budget, Subject, WAIT};

/// The adapters' default pool idle timeout for app connections is 4 s; (f idle) waits longer.
const IDLE_PAUSE: Duration = Duration::from_millis(4_500);
/// (e): the Managed Instances concurrency, and the invocations kept queued at once.
const CONCURRENCY: usize = 16;
const IN_FLIGHT: usize = 2 * CONCURRENCY;
const MIB: usize = 1024 * 1024;

impl Bench {
    pub fn log_file(&self, subject: &Subject) -> PathBuf {
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
    pub async fn sequential(&mut self, budget: &Budget) -> Result<(), String> {
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
        let small = marked_small_event();
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
    pub async fn throughput(&mut self, budget: &Budget) -> Result<(), String> {
        let concurrency = CONCURRENCY.to_string();
        let running = self
            .start_all(&[("AWS_LAMBDA_MAX_CONCURRENCY", &concurrency)])
            .await?;
        let n = self.subjects.len();
        let small = small_event();
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
                let harness_before = process::cpu_time("self");
                let finished = closed_loop(&running[index].cp, &small, batch, budget).await?;
                took[index] += started.elapsed();
                done[index] += finished;
                harness_cpu[index] = harness_cpu[index]
                    .zip(process::cpu_time("self").zip(harness_before))
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
    pub async fn streaming(&mut self, budget: &Budget) -> Result<(), String> {
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
    pub async fn listen_to_next(&mut self, budget: &Budget) -> Result<(), String> {
        let n = self.subjects.len();
        let mut samples = vec![Vec::new(); n];
        let mut jitter = XorShift::new(0x2545_f491);
        let small = small_event();
        for index in budget.turns(self.counts.starts, n) {
            let subject = &self.subjects[index];
            let port = free_port().map_err(|e| format!("cannot bind a loopback port: {e}"))?;
            let cp = start_control_plane().await?;
            let first = cp.invoke(small.clone());
            let adapter = spawn_adapter(subject, &cp, port, &[], &self.log_file(subject))?;
            if cp.wait_registered(WAIT).await.is_none() {
                stop(adapter).await;
                return Err(format!("{}: no extension registration", subject.label));
            }
            // The readiness checks are under way; bind at a random point of their 10 ms cycle.
            let pause = 100_000 + u64::from(jitter.next_u32()) % 10_000;
            tokio::time::sleep(Duration::from_micros(pause)).await;
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                .await
                .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
            let bound = Instant::now();
            let app = App::serve(listener)?;
            let delivered = first.wait_delivered(WAIT).await;
            let result = first.result(WAIT).await;
            stop(adapter).await;
            drop(app);
            let delivered = delivered.map_err(|e| format!("{}: {e}", subject.label))?;
            let result = result.map_err(|e| format!("{}: {e}", subject.label))?;
            check_text(&result, SMALL_BODY.as_bytes())
                .map_err(|e| format!("{}: {e}", subject.label))?;
            samples[index].push(delivered.saturating_duration_since(bound));
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
    pub async fn spawn_to_next(&mut self, budget: &Budget) -> Result<(), String> {
        let n = self.subjects.len();
        let mut samples = vec![Vec::new(); n];
        let mut idle_rss = vec![Vec::new(); n];
        let small = small_event();
        for index in budget.turns(self.counts.starts, n) {
            let subject = &self.subjects[index];
            let cp = start_control_plane().await?;
            let first = cp.invoke(small.clone());
            let spawned = Instant::now();
            let adapter = spawn_adapter(subject, &cp, self.app.port, &[], &self.log_file(subject))?;
            let delivered = match first.wait_delivered(WAIT).await {
                Ok(at) => at,
                Err(e) => {
                    stop(adapter).await;
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
            let rss = adapter.rss_kib();
            stop(adapter).await;
            outcome.map_err(|e| format!("{}: {e}", subject.label))?;
            if let Some(rss) = rss {
                idle_rss[index].push(rss as f64);
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
    pub async fn echo(&mut self, budget: &Budget) -> Result<(), String> {
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
            .map(|a| a.adapter.peak_rss_kib().map(|kib| kib as f64))
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
    pub fn sizes(&mut self) {
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
    let handle = adapter.cp.invoke(stream_event(&id));
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
    body.send(Ok(Bytes::from_static(STREAM_CHUNK)))
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
