//! End-to-end figures of the real `lambda-adapter` binary (issue "Performance: a benchmark
//! suite"): a fake Lambda control plane (the emulator's `ControlPlane`) and a web app (a hyper
//! server in this process, or real web servers in (h)) on loopback, the adapter as a child process
//! between them. The rules whose cost it measures: the invocation path (EVT-*, RSP-*), LIF-4 (e),
//! STR-1 (f), RDY-1 and LIF-1 (a, b), RSP-7's large bodies (d), SHP-1 (g), ERR-5 (h).
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
//! | h  | real servers ([`servers`]): the same small app (a GET of 102 bytes of JSON, a POST echoing 64 KiB) on Python's `http.server`, Django's runserver, Flask's development server, gunicorn, uvicorn, Node `http`, Express, `php -S`, nginx, Go `net/http` and the JDK's HttpServer: a direct keep-alive request, and each binary's overhead over it |
//!
//! Environment: `LWA_BENCH_BIN` (default `target/release/lambda-adapter`) is the binary measured;
//! `LWA_BENCH_COMPARE`, when set, is a second binary run through the same scenarios, interleaved
//! sample by sample (or batch by batch for throughput) so that machine noise falls on both, with
//! the ratio ours/theirs per figure. `LWA_BENCH_QUICK=1` runs a tenth of the samples (a smoke
//! run), `LWA_BENCH_ONLY=c,e` only the scenarios named, `LWA_BENCH_STARTS=n` n start-ups per
//! binary in (a) and (b), `LWA_BENCH_SERVERS=django,go` only those servers in (h). Results: a table on stdout, `target/bench/results.md` and
//! `target/bench/results.json`; the adapters' output goes to `target/bench/logs/`.
//!
//! ```text
//! make bench                                         # builds the adapter, installs (h)'s servers, criterion, then this
//! make bench COMPARE=/path/to/other/lambda-adapter
//! make bench-compare                                 # against the published 1.0.0-rc1
//! ```
//!
//! Every loop is bounded in count and by a time budget, every wait by a timeout. Only loopback.
//!
//! | file | what |
//! |------|------|
//! | `main.rs` | the entry point, the plan (samples, budgets, subjects) and the run |
//! | [`scenarios`] | (a)–(g): what each scenario does and which rows it reports |
//! | [`adapters`] | the binaries under measurement as running processes, each with its own control plane |
//! | [`app`] | the web app, its events, the direct client of (c)'s baseline, the checks of every answer |
//! | [`servers`] | (h): the real servers (installed by `benches/servers/install.py`), started and measured one by one |
//! | [`direct`] | (h)'s baseline: a keep-alive client that acknowledges at once |
//! | [`floor`] | (c)'s floor: an adapter that does no work |
//! | [`stats`] | percentiles, medians, CPU time per invocation |
//! | [`report`] | the table on stdout, `results.md` and `results.json` |
//!
//! The pieces that are not the bench's own (the control plane, the process runner, the event
//! builder, payloads) come from the workspace's test kit, `lambda_emulator::testing`.

mod adapters;
mod app;
mod direct;
mod floor;
mod report;
mod scenarios;
mod servers;
mod stats;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use app::{App, MARK_HEADER};
use report::Report;

/// Any single wait: an invocation's result, a chunk, a process start.
const WAIT: Duration = Duration::from_secs(30);

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
    /// (h): rounds of `GET /small` and of `POST /echo` per server.
    server_gets: usize,
    server_posts: usize,
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
                server_gets: 50,
                server_posts: 20,
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
                server_gets: 500,
                server_posts: 200,
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
    /// Where (h)'s installer put the servers and their manifest.
    servers_dir: PathBuf,
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
        servers_dir: out.join("servers"),
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
    let scenarios: [(&str, Duration); 7] = [
        ("c", Duration::from_secs(120)),
        ("e", Duration::from_secs(90)),
        ("f", Duration::from_secs(180)),
        ("a", Duration::from_secs(60)),
        ("b", Duration::from_secs(60)),
        ("d", Duration::from_secs(90)),
        ("h", Duration::from_secs(480)),
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
            "h" => bench.servers(&budget).await,
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

    /// The subjects' indices for `rounds` rounds of them taking turns (see [`order`]); no
    /// further round starts once the budget has run out.
    fn turns(&self, rounds: usize, subjects: usize) -> impl Iterator<Item = usize> + '_ {
        (0..rounds)
            .take_while(|_| !self.expired())
            .flat_map(move |round| order(subjects, round))
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
