//! `AdapterProcess`: the real `lambda-adapter` binary as a child process, with exactly the
//! environment a test gives it (the test process's own environment is never read or changed),
//! its stdout and stderr captured line by line, and its exit observable with a timeout.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

/// The binary under test.
pub const ADAPTER_BINARY: &str = env!("CARGO_BIN_EXE_lambda-adapter");

/// Which pipe a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone)]
pub struct LogLine {
    pub stream: Stream,
    pub text: String,
    pub at: Instant,
}

struct Logs {
    lines: Vec<LogLine>,
    /// Pipes not yet at end of file; at 0 no further line can come.
    open_streams: usize,
}

/// How to start the adapter; [`AdapterCommand::spawn`] starts it.
#[derive(Debug, Clone)]
pub struct AdapterCommand {
    program: PathBuf,
    args: Vec<OsString>,
    runtime_api: Option<String>,
    env: Vec<(OsString, OsString)>,
}

impl AdapterCommand {
    /// The adapter binary, pointed at a control plane.
    ///
    /// `LWA_ADAPTER_BIN` (read, never set, by the tests) points the suite at another build of
    /// the binary, e.g. the static musl one; `LWA_ADAPTER_RUNNER` runs it through a program such
    /// as `qemu-aarch64-static`.
    pub fn new(runtime_api: SocketAddr) -> Self {
        let binary = std::env::var_os("LWA_ADAPTER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(ADAPTER_BINARY));
        let (program, args) = match std::env::var_os("LWA_ADAPTER_RUNNER") {
            Some(runner) => (PathBuf::from(runner), vec![binary.into_os_string()]),
            None => (binary, Vec::new()),
        };
        AdapterCommand {
            program,
            args,
            runtime_api: Some(runtime_api.to_string()),
            env: Vec::new(),
        }
    }

    /// Leaves `AWS_LAMBDA_RUNTIME_API` unset (unless set through [`AdapterCommand::env`]).
    pub fn without_runtime_api(mut self) -> Self {
        self.runtime_api = None;
        self
    }

    /// Runs another program (e.g. a wrapper script) instead of the adapter binary.
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self.args.clear();
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets a variable; later settings win, including over `AWS_LAMBDA_RUNTIME_API`.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn envs<K, V>(mut self, pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.env.extend(
            pairs
                .into_iter()
                .map(|(name, value)| (name.into(), value.into())),
        );
        self
    }

    pub fn spawn(self) -> io::Result<AdapterProcess> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(runtime_api) = &self.runtime_api {
            command.env("AWS_LAMBDA_RUNTIME_API", runtime_api);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command.spawn()?;
        let pid = child.id();

        let pipes = usize::from(child.stdout.is_some()) + usize::from(child.stderr.is_some());
        let logs = Arc::new(watch::Sender::new(Logs {
            lines: Vec::new(),
            open_streams: pipes,
        }));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(capture(stdout, Stream::Stdout, logs.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(capture(stderr, Stream::Stderr, logs.clone()));
        }

        let (exit_sender, exit) = watch::channel(None);
        let (kill, mut kill_requests) = mpsc::unbounded_channel::<()>();
        let exit_logs = logs.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                // A kill request, or the AdapterProcess was dropped.
                _ = kill_requests.recv() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            if let Ok(status) = status {
                let _ = exit_sender.send(Some(status));
            }
            // Log waiters re-check: nothing more will come once the pipes are closed too.
            exit_logs.send_modify(|_| {});
        });

        Ok(AdapterProcess {
            pid,
            logs,
            exit,
            kill,
        })
    }
}

async fn capture(pipe: impl AsyncRead + Unpin, stream: Stream, logs: Arc<watch::Sender<Logs>>) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches(['\n', '\r'])
                    .to_owned();
                // Shown by the test harness when a test fails.
                eprintln!("[adapter {stream:?}] {text}");
                logs.send_modify(|logs| {
                    logs.lines.push(LogLine {
                        stream,
                        text,
                        at: Instant::now(),
                    })
                });
            }
        }
    }
    logs.send_modify(|logs| logs.open_streams -= 1);
}

/// A running (or exited) adapter. Dropping it kills the process.
pub struct AdapterProcess {
    pid: Option<u32>,
    logs: Arc<watch::Sender<Logs>>,
    exit: watch::Receiver<Option<ExitStatus>>,
    kill: mpsc::UnboundedSender<()>,
}

impl AdapterProcess {
    /// The adapter binary with `env` (plus `AWS_LAMBDA_RUNTIME_API` = `runtime_api` unless `env`
    /// sets it).
    pub fn spawn(runtime_api: SocketAddr, env: &[(&str, &str)]) -> io::Result<AdapterProcess> {
        AdapterCommand::new(runtime_api)
            .envs(env.iter().copied())
            .spawn()
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub fn is_running(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// The exit status, once the process has exited.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let mut exit = self.exit.clone();
        let waited = tokio::time::timeout(timeout, exit.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(status)) => *status,
            _ => None,
        }
    }

    /// SIGKILL.
    pub fn kill(&self) {
        let _ = self.kill.send(());
    }

    /// Sends a signal by name (`TERM`, `INT`, ...) while the process runs.
    pub fn signal(&self, name: &str) -> io::Result<()> {
        let pid = match self.pid {
            Some(pid) if self.is_running() => pid,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the adapter is not running",
                ))
            }
        };
        let status = std::process::Command::new("kill")
            .arg("-s")
            .arg(name)
            .arg(pid.to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill -s {name} {pid}: {status}")))
        }
    }

    /// SIGTERM, as Lambda sends at shutdown.
    pub fn terminate(&self) -> io::Result<()> {
        self.signal("TERM")
    }

    /// Every captured line (stdout and stderr interleaved in arrival order).
    pub fn log_lines(&self) -> Vec<LogLine> {
        self.logs.borrow().lines.clone()
    }

    /// All output so far, one line per line.
    pub fn logs(&self) -> String {
        let logs = self.logs.borrow();
        let mut text = String::new();
        for line in &logs.lines {
            text.push_str(&line.text);
            text.push('\n');
        }
        text
    }

    /// How many lines so far contain `needle`.
    pub fn count_logs(&self, needle: &str) -> usize {
        self.logs
            .borrow()
            .lines
            .iter()
            .filter(|line| line.text.contains(needle))
            .count()
    }

    /// The first line (from the start) containing `needle`; `None` after `timeout`, or as soon
    /// as the process has closed its output without printing it.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.wait_for_log_line(timeout, |line| line.contains(needle))
            .await
    }

    /// The first output line that satisfies `wanted`, waiting up to `timeout` (sooner once the
    /// process has exited and its output is closed).
    pub async fn wait_for_log_line(
        &self,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let mut changes = self.logs.subscribe();
        let mut found = None;
        let waited = tokio::time::timeout(
            timeout,
            changes.wait_for(|logs| {
                found = logs
                    .lines
                    .iter()
                    .find(|line| wanted(&line.text))
                    .map(|line| line.text.clone());
                found.is_some() || (logs.open_streams == 0 && !self.is_running())
            }),
        )
        .await;
        match waited {
            Ok(Ok(_)) => found,
            _ => None,
        }
    }

    fn proc_status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        status.lines().find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse().ok()
        })
    }

    /// Peak resident set size (`VmHWM`) in KiB, while the process runs (Linux).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.proc_status_kib("VmHWM")
    }

    /// Current resident set size (`VmRSS`) in KiB, while the process runs (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        self.proc_status_kib("VmRSS")
    }
}
