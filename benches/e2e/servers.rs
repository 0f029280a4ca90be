//! (h) real servers: the same small app on the web servers people run behind the adapter, each
//! measured directly and through the adapters. SPEC IDs whose cost it measures: EVT-1 and RSP-1
//! (a Function URL event in, a buffered answer out) against real servers, ERR-5 (no delayed-ACK
//! stall with the servers that write a response's head and body in two writes, Nagle on).
//!
//! `benches/servers/install.py` (run by `make bench`) installs the servers from the registries
//! and writes `target/bench/servers/manifest.json`: per server, the command that starts it and
//! whether it answers the POST. Each server in turn: started on a free loopback port, waited for
//! until it listens (its port polled, with a timeout), then an adapter per subject, each with its
//! own control plane. Per round, for each subject in turn: an invocation through it, then a
//! direct keep-alive request ([`DirectConnection`]); the direct samples of all subjects form one
//! baseline, and a subject's overhead pX is its invocation round trip pX − the baseline's pX.
//! `GET /small` (102 bytes of JSON) first, then `POST /echo` of 64 KiB. Every answer is checked.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use lambda_emulator::testing::bodies::text_body;
use lambda_emulator::testing::ports::free_port;
use lambda_emulator::testing::{ProcessCommand, TestProcess};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;

use crate::adapters::{round_trip, stop_all, Running};
use crate::app::{check_echo, echo_event, small_event};
use crate::direct::{DirectConnection, Exchange};
use crate::report::{Table, Unit};
use crate::stats::percentile;
use crate::{order, Bench, Budget, WAIT};

/// The label of `GET /small` in the matrix.
const GET: &str = "GET";
/// The body `POST /echo` sends and gets back.
const ECHO_BYTES: usize = 64 * 1024;
/// The longest a server may take to listen (a JVM, Django's checks on a loaded machine).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
/// How often its port is tried meanwhile.
const LISTEN_POLL: Duration = Duration::from_millis(10);
/// No server takes more of the scenario's budget than this.
const PER_SERVER: Duration = Duration::from_secs(45);
/// The targets for every server: overhead p50 and p99 of ours.
const TARGET_P50_MICROS: f64 = 1_000.0;
const TARGET_P99_MICROS: f64 = 3_000.0;
/// ... and for the split-write servers, ours / theirs at p50.
const TARGET_SPLIT_RATIO: f64 = 0.1;

#[derive(Deserialize)]
struct Manifest {
    small_json: PathBuf,
    servers: Vec<ServerSpec>,
    #[serde(default)]
    skipped: Vec<SkippedServer>,
}

/// A server as the installer describes it.
#[derive(Deserialize)]
struct ServerSpec {
    name: String,
    /// The command; `{port}` in it stands for the port it must listen on.
    argv: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Whether it answers `POST /echo` (nginx does not).
    post: bool,
    /// It writes a response's head and body in two writes with Nagle on (ERR-5's case).
    #[serde(default)]
    split_write: bool,
    version: String,
}

#[derive(Deserialize)]
struct SkippedServer {
    name: String,
    reason: String,
}

/// One kind of request: its event, the direct request that matches it, the answer expected.
struct Kind {
    label: &'static str,
    event: Bytes,
    exchange: Exchange,
    rounds: usize,
}

/// One row of the matrix: a server and a kind of request.
struct Measured {
    server: String,
    request: &'static str,
    split_write: bool,
    direct: Vec<Duration>,
    /// Per subject.
    invoke: Vec<Vec<Duration>>,
}

impl Measured {
    fn direct_at(&self, p: f64) -> Option<f64> {
        percentile(&self.direct, p)
    }

    fn overhead(&self, subject: usize, p: f64) -> Option<f64> {
        Some(percentile(&self.invoke[subject], p)? - self.direct_at(p)?)
    }

    fn ratio(&self, p: f64) -> Option<f64> {
        let theirs = self.overhead(1, p)?;
        (theirs > 0.0).then(|| self.overhead(0, p).map(|ours| ours / theirs))?
    }

    /// The targets for this row, and which are missed.
    fn targets(&self, compare: bool) -> String {
        let mut missed = Vec::new();
        match self.overhead(0, 50.0) {
            Some(p50) if p50 <= TARGET_P50_MICROS => {}
            _ => missed.push("p50 > 1 ms"),
        }
        match self.overhead(0, 99.0) {
            Some(p99) if p99 <= TARGET_P99_MICROS => {}
            _ => missed.push("p99 > 3 ms"),
        }
        // The stall ERR-5 removes is on small answers: a 64 KiB body fills full segments, which
        // Linux acknowledges at once, so there the published adapter does not wait either.
        if self.split_write && compare && self.request == GET {
            match self.ratio(50.0) {
                Some(ratio) if ratio <= TARGET_SPLIT_RATIO => {}
                _ => missed.push("p50 ratio > 0.1"),
            }
        }
        if missed.is_empty() {
            "yes".to_string()
        } else {
            format!("**no** ({})", missed.join(", "))
        }
    }
}

impl Bench {
    /// (h) the server matrix.
    pub async fn servers(&mut self, budget: &Budget) -> Result<(), String> {
        let manifest_path = self.servers_dir.join("manifest.json");
        let manifest: Manifest = match std::fs::read_to_string(&manifest_path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", manifest_path.display()))?,
            Err(err) => {
                self.report.note(format!(
                    "(h) skipped: no {} ({err}); `make bench` installs the servers \
                     (benches/servers/install.py)",
                    manifest_path.display()
                ));
                return Ok(());
            }
        };
        let small = std::fs::read(&manifest.small_json)
            .map_err(|e| format!("{}: {e}", manifest.small_json.display()))?;
        let small = Bytes::from(small);
        let echo_text = text_body(ECHO_BYTES);
        let echo = Bytes::from(echo_text.clone());
        let kinds = [
            Kind {
                label: GET,
                event: small_event(),
                exchange: Exchange {
                    method: Method::GET,
                    path: "/small",
                    body: Bytes::new(),
                    content_type: None,
                    expected: small,
                },
                rounds: self.counts.server_gets,
            },
            Kind {
                label: "POST 64 KiB",
                event: echo_event(&echo_text, false),
                exchange: Exchange {
                    method: Method::POST,
                    path: "/echo",
                    body: echo.clone(),
                    content_type: Some("text/plain; charset=utf-8"),
                    expected: echo,
                },
                rounds: self.counts.server_posts,
            },
        ];
        for skipped in &manifest.skipped {
            self.report
                .note(format!("(h) {}: skipped: {}", skipped.name, skipped.reason));
        }
        let wanted: Vec<String> = std::env::var("LWA_BENCH_SERVERS")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let mut measured = Vec::new();
        for server in &manifest.servers {
            if !wanted.is_empty() && !wanted.contains(&server.name) {
                continue;
            }
            if budget.expired() {
                self.report.note(format!(
                    "(h) {}: not measured, the scenario's budget ran out",
                    server.name
                ));
                continue;
            }
            let left = budget.until.saturating_duration_since(Instant::now());
            let server_budget = Budget::new(left.min(PER_SERVER));
            let begun = Instant::now();
            match self.one_server(server, &kinds, &server_budget).await {
                Ok(rows) => measured.extend(rows),
                Err(err) => self
                    .report
                    .note(format!("(h) {}: stopped: {err}", server.name)),
            }
            if server_budget.expired() {
                self.report.note(format!(
                    "(h) {}: ran out of its {} s: fewer samples than planned",
                    server.name,
                    server_budget.total.as_secs()
                ));
            }
            println!(
                "e2e: (h) {} done in {:.1} s",
                server.name,
                begun.elapsed().as_secs_f64()
            );
        }
        self.matrix_table(&manifest, &measured);
        Ok(())
    }

    /// Starts `server`, measures each kind of request it answers, stops it.
    async fn one_server(
        &mut self,
        server: &ServerSpec,
        kinds: &[Kind],
        budget: &Budget,
    ) -> Result<Vec<Measured>, String> {
        let port = free_port().map_err(|e| format!("cannot find a free port: {e}"))?;
        let log = self.logs.join(format!("server-{}.log", server.name));
        let _ = std::fs::remove_file(&log);
        let process = spawn_server(server, port, &log)?;
        let outcome = match wait_listening(port, &process).await {
            Ok(()) => self.measure_server(server, port, kinds, budget).await,
            Err(err) => Err(err),
        };
        stop_server(process).await;
        outcome.map_err(|err| format!("{err} (its log: {})", log.display()))
    }

    async fn measure_server(
        &mut self,
        server: &ServerSpec,
        port: u16,
        kinds: &[Kind],
        budget: &Budget,
    ) -> Result<Vec<Measured>, String> {
        let kinds: Vec<&Kind> = kinds
            .iter()
            .filter(|kind| server.post || kind.exchange.method == Method::GET)
            .collect();
        let mut direct = DirectConnection::new(port);
        // The server answers right before any adapter is pointed at it.
        for kind in &kinds {
            direct.time(&kind.exchange).await?;
        }
        let small = kinds[0].exchange.expected.clone();
        let env = [("AWS_LWA_READINESS_CHECK_PATH", "/small")];
        let mut running = Vec::new();
        for subject in &self.subjects {
            let log = self.log_file(subject);
            let started =
                Running::start_checked(subject, port, &env, &log, small_event(), |result| {
                    check_echo(result, &small, false)
                })
                .await;
            match started {
                Ok(adapter) => running.push(adapter),
                Err(err) => {
                    stop_all(running).await;
                    return Err(err);
                }
            }
        }
        let n = running.len();
        let mut rows = Vec::new();
        let mut failure = None;
        'kinds: for kind in &kinds {
            let mut row = Measured {
                server: server.name.clone(),
                request: kind.label,
                split_write: server.split_write,
                direct: Vec::new(),
                invoke: vec![Vec::new(); n],
            };
            let warm_up = kind.rounds / 20 + 3;
            for round in 0..warm_up + kind.rounds {
                if budget.expired() {
                    break;
                }
                for index in order(n, round) {
                    let label = running[index].subject.label;
                    let sample = async {
                        let (took, result) =
                            round_trip(&running[index].cp, kind.event.clone()).await?;
                        check_echo(&result, &kind.exchange.expected, false)?;
                        Ok::<_, String>(took)
                    };
                    let took = match sample.await {
                        Ok(took) => took,
                        Err(err) => {
                            failure = Some(format!("{label}, {}: {err}", kind.label));
                            break 'kinds;
                        }
                    };
                    let plain = match direct.time(&kind.exchange).await {
                        Ok(plain) => plain,
                        Err(err) => {
                            failure = Some(err);
                            break 'kinds;
                        }
                    };
                    if round >= warm_up {
                        row.invoke[index].push(took);
                        row.direct.push(plain);
                    }
                }
            }
            row.direct.sort();
            for samples in &mut row.invoke {
                samples.sort();
            }
            rows.push(row);
        }
        stop_all(running).await;
        if let Some(failure) = failure {
            return Err(failure);
        }
        let samples: Vec<String> = rows
            .iter()
            .map(|row| format!("{} {}", row.invoke[0].len(), row.request))
            .collect();
        self.report.note(format!(
            "(h) {}: {}; {} samples per binary, {} direct connection(s) opened",
            server.name,
            server.version,
            samples.join(", "),
            direct.connects
        ));
        Ok(rows)
    }

    /// The matrix: a table of its own in the report.
    fn matrix_table(&mut self, manifest: &Manifest, measured: &[Measured]) {
        let compare = self.subjects.len() > 1;
        // Whole µs up to 10 ms, then ms: a 40 ms stall reads as one.
        let show = |value: Option<f64>| match value {
            Some(us) if us.abs() >= 10_000.0 => Unit::Millis.show(us),
            other => Unit::Micros.show_or_dash(other),
        };
        let pair = |p50: Option<f64>, p99: Option<f64>| format!("{} / {}", show(p50), show(p99));
        let mut columns = vec![
            "server",
            "request",
            "direct p50 / p99",
            "ours: overhead p50 / p99",
        ];
        if compare {
            columns.extend(["theirs: overhead p50 / p99", "ours/theirs p50 / p99"]);
        }
        columns.push("targets met");
        let mut rows = Vec::new();
        let mut data = Vec::new();
        for row in measured {
            let mut cells = vec![
                format!(
                    "{}{}",
                    row.server,
                    if row.split_write {
                        " (split write)"
                    } else {
                        ""
                    }
                ),
                row.request.to_string(),
                pair(row.direct_at(50.0), row.direct_at(99.0)),
                pair(row.overhead(0, 50.0), row.overhead(0, 99.0)),
            ];
            if compare {
                let ratio = |p| row.ratio(p).map_or("—".to_string(), |r| format!("{r:.2}"));
                cells.push(pair(row.overhead(1, 50.0), row.overhead(1, 99.0)));
                cells.push(format!("{} / {}", ratio(50.0), ratio(99.0)));
            }
            cells.push(row.targets(compare));
            rows.push(cells);
            let subjects: serde_json::Map<String, serde_json::Value> = self
                .subjects
                .iter()
                .enumerate()
                .map(|(index, subject)| {
                    (
                        subject.label.to_string(),
                        json!({
                            "invoke_p50_us": percentile(&row.invoke[index], 50.0),
                            "invoke_p99_us": percentile(&row.invoke[index], 99.0),
                            "overhead_p50_us": row.overhead(index, 50.0),
                            "overhead_p99_us": row.overhead(index, 99.0),
                            "samples": row.invoke[index].len(),
                        }),
                    )
                })
                .collect();
            data.push(json!({
                "server": row.server,
                "request": row.request,
                "split_write": row.split_write,
                "direct_p50_us": row.direct_at(50.0),
                "direct_p99_us": row.direct_at(99.0),
                "direct_samples": row.direct.len(),
                "subjects": subjects,
                "ratio_p50": row.ratio(50.0),
                "ratio_p99": row.ratio(99.0),
                "targets_met": row.targets(compare) == "yes",
            }));
        }
        for skipped in &manifest.skipped {
            let mut cells = vec![skipped.name.clone(), "—".to_string()];
            cells.extend((2..columns.len() - 1).map(|_| "—".to_string()));
            cells.push(format!("skipped: {}", skipped.reason));
            rows.push(cells);
        }
        self.report.table(Table {
            id: "h".to_string(),
            title:
                "(h) real servers: direct keep-alive request, and each adapter's overhead over it"
                    .to_string(),
            columns: columns.into_iter().map(str::to_string).collect(),
            rows,
            data: json!(data),
        });
        self.report.note(format!(
            "(h) targets: ours' overhead p50 ≤ 1 ms and p99 ≤ 3 ms for every server{}; overhead pX = \
             invocation round trip pX − direct pX; direct = the bench's keep-alive client with \
             TCP_QUICKACK (without it a split-write server's direct answer waits 40 ms), a new \
             connection per request where the server closes each one (its connect counted, as for \
             an adapter)",
            if compare {
                ", and ours/theirs p50 ≤ 0.1 for the GET of the split-write ones (ERR-5)"
            } else {
                ""
            }
        ));
    }
}

fn spawn_server(server: &ServerSpec, port: u16, log: &Path) -> Result<TestProcess, String> {
    let port_text = port.to_string();
    let fill = |text: &str| text.replace("{port}", &port_text);
    let (program, args) = server
        .argv
        .split_first()
        .ok_or_else(|| "an empty command in the manifest".to_string())?;
    ProcessCommand::new(server.name.clone(), fill(program))
        .args(args.iter().map(|arg| fill(arg)))
        // Only what a server needs: its tools on PATH, a UTF-8 locale, the installer's variables.
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .env("PYTHONUNBUFFERED", "1")
        .envs(server.env.iter().map(|(k, v)| (k.clone(), fill(v))))
        .log_to(log)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))
}

/// SIGTERM (gunicorn and nginx stop their workers on it), then SIGKILL if it lingers.
async fn stop_server(process: TestProcess) {
    let _ = process.terminate();
    if process.wait_exit(Duration::from_secs(10)).await.is_none() {
        process.kill();
        let _ = process.wait_exit(WAIT).await;
    }
}

/// Polls the server's port until it accepts a connection, within [`LISTEN_TIMEOUT`] and while
/// the server runs.
async fn wait_listening(port: u16, process: &TestProcess) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let started = Instant::now();
    let tries = (LISTEN_TIMEOUT.as_millis() / LISTEN_POLL.as_millis()) as usize;
    for _ in 0..tries {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if !process.is_running() {
            return Err(format!("exited before it listened on {addr}"));
        }
        if started.elapsed() >= LISTEN_TIMEOUT {
            break;
        }
        tokio::time::sleep(LISTEN_POLL).await;
    }
    Err(format!(
        "not listening on {addr} after {} s",
        LISTEN_TIMEOUT.as_secs()
    ))
}
