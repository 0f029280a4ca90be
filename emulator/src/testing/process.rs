//! [`TestProcess`]: a program under test (the `lambda-adapter` binary, the `lambda-emulator`
//! binary, a stub) as a child process with exactly the environment the test gives it, its stdout
//! and stderr captured line by line (or appended to a log file, for benches), its exit and the end
//! of its output observable with a timeout. SPEC IDs: none of its own; the tests that run the
//! adapter through it name theirs (LIF-*, CFG-20, ...).
//!
//! Every wait takes a timeout and returns `None`/`false` when it runs out, so that the test can
//! fail with the process's output in its message.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncRead;
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

use crate::process::{for_each_line, send_signal, Signal};
use crate::watched::first_found;

/// Which pipe an output line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
}

/// One line of a process's output, without its line end.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// The pipe it came from.
    pub stream: Stream,
    /// The line, lossily decoded as UTF-8.
    pub text: String,
    /// When the test process read it.
    pub at: Instant,
}

/// What a test can observe of a process: its output so far and whether it has ended.
struct Observed {
    lines: Vec<LogLine>,
    /// Pipes not yet at end of file; at 0 no further line can come.
    open_pipes: usize,
    exit: Option<ExitStatus>,
}

impl Observed {
    fn output_closed(&self) -> bool {
        self.open_pipes == 0 && self.exit.is_some()
    }
}

/// What happens to the process when its [`TestProcess`] is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDrop {
    /// SIGKILL: nothing of it may outlive the test.
    Kill,
    /// SIGTERM, so that it can stop processes of its own first (the emulator stops its app and
    /// extension that way).
    Terminate,
}

/// How to start a process; [`ProcessCommand::spawn`] starts it.
#[derive(Debug, Clone)]
pub struct ProcessCommand {
    label: String,
    program: PathBuf,
    args: Vec<OsString>,
    inherit_env: bool,
    env: Vec<(OsString, OsString)>,
    env_removed: Vec<OsString>,
    log_file: Option<PathBuf>,
    on_drop: OnDrop,
}

impl ProcessCommand {
    /// `program` with an empty environment (see [`ProcessCommand::inherit_env`]); `label` names
    /// it where its captured lines are echoed (`[label Stdout] ...`, shown when a test fails).
    pub fn new(label: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        ProcessCommand {
            label: label.into(),
            program: program.into(),
            args: Vec::new(),
            inherit_env: false,
            env: Vec::new(),
            env_removed: Vec::new(),
            log_file: None,
            on_drop: OnDrop::Kill,
        }
    }

    /// Runs another program (e.g. a wrapper script), without the arguments given so far.
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self.args.clear();
        self
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<A: Into<OsString>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets a variable; a later setting of the same name wins.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets variables, in order.
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

    /// Unsets a variable set so far (and, with [`ProcessCommand::inherit_env`], an inherited one).
    pub fn env_remove(mut self, name: impl Into<OsString>) -> Self {
        let name = name.into();
        self.env.retain(|(set, _)| *set != name);
        self.env_removed.push(name);
        self
    }

    /// Starts from the test process's own environment instead of an empty one.
    pub fn inherit_env(mut self) -> Self {
        self.inherit_env = true;
        self
    }

    /// Appends stdout and stderr to `path` instead of capturing them: for a process whose
    /// output must cost the test process nothing (a benchmark's subject).
    pub fn log_to(mut self, path: &Path) -> Self {
        self.log_file = Some(path.to_path_buf());
        self
    }

    /// SIGTERM instead of SIGKILL when the [`TestProcess`] is dropped.
    pub fn terminate_on_drop(mut self) -> Self {
        self.on_drop = OnDrop::Terminate;
        self
    }

    /// Starts the process (stdin closed); must run inside a tokio runtime.
    pub fn spawn(self) -> io::Result<TestProcess> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        if !self.inherit_env {
            command.env_clear();
        }
        for name in &self.env_removed {
            command.env_remove(name);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        match &self.log_file {
            Some(path) => {
                let append = || -> io::Result<File> {
                    OpenOptions::new().create(true).append(true).open(path)
                };
                command.stdout(append()?).stderr(append()?);
            }
            None => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        // With `Terminate` the process must survive the test's runtime going away long enough
        // to stop on the SIGTERM that dropping sends.
        command.kill_on_drop(self.on_drop == OnDrop::Kill);
        let mut child = command.spawn()?;
        let pid = child.id();

        let pipes = usize::from(child.stdout.is_some()) + usize::from(child.stderr.is_some());
        let observed = Arc::new(watch::Sender::new(Observed {
            lines: Vec::new(),
            open_pipes: pipes,
            exit: None,
        }));
        if let Some(stdout) = child.stdout.take() {
            let echo = format!("[{} {:?}]", self.label, Stream::Stdout);
            tokio::spawn(capture(stdout, Stream::Stdout, echo, observed.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            let echo = format!("[{} {:?}]", self.label, Stream::Stderr);
            tokio::spawn(capture(stderr, Stream::Stderr, echo, observed.clone()));
        }

        let (kill, mut kill_requests) = mpsc::unbounded_channel::<()>();
        let kill_when_dropped = self.on_drop == OnDrop::Kill;
        let exit = observed.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                request = kill_requests.recv() => {
                    // A kill request, or the TestProcess was dropped.
                    if request.is_some() || kill_when_dropped {
                        let _ = child.start_kill();
                    }
                    child.wait().await
                }
            };
            if let Ok(status) = status {
                exit.send_modify(|observed| observed.exit = Some(status));
            }
        });

        Ok(TestProcess {
            pid,
            observed,
            kill,
            on_drop: self.on_drop,
        })
    }
}

async fn capture(
    pipe: impl AsyncRead + Unpin,
    stream: Stream,
    echo: String,
    observed: Arc<watch::Sender<Observed>>,
) {
    for_each_line(pipe, |line| {
        let text = String::from_utf8_lossy(line)
            .trim_end_matches(['\n', '\r'])
            .to_owned();
        // Shown by the test harness when a test fails.
        eprintln!("{echo} {text}");
        observed.send_modify(|observed| {
            observed.lines.push(LogLine {
                stream,
                text,
                at: Instant::now(),
            })
        });
    })
    .await;
    observed.send_modify(|observed| observed.open_pipes -= 1);
}

/// A running (or exited) process. Dropping it kills the process (or sends it SIGTERM, see
/// [`ProcessCommand::terminate_on_drop`]).
pub struct TestProcess {
    pid: Option<u32>,
    observed: Arc<watch::Sender<Observed>>,
    kill: mpsc::UnboundedSender<()>,
    on_drop: OnDrop,
}

impl TestProcess {
    /// The process id (`None` if it had already exited when it was started).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Whether it has not exited yet.
    pub fn is_running(&self) -> bool {
        self.observed.borrow().exit.is_none()
    }

    /// The exit status, once the process has exited; `None` after `timeout`.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        self.wait_until(timeout, |observed| observed.exit).await
    }

    /// Waits until the process has exited and both of its output pipes are closed, so that
    /// [`TestProcess::logs`] is all it will ever print; `false` after `timeout`.
    pub async fn wait_output_closed(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |observed| observed.output_closed().then_some(()))
            .await
            .is_some()
    }

    /// SIGKILL.
    pub fn kill(&self) {
        let _ = self.kill.send(());
    }

    /// Sends `signal` while the process runs (never to a pid that may have been reused).
    pub fn signal(&self, signal: Signal) -> io::Result<()> {
        let pid = match self.pid {
            Some(pid) if self.is_running() => pid,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the process is not running",
                ))
            }
        };
        let pid = i32::try_from(pid).map_err(io::Error::other)?;
        send_signal(pid, signal)
    }

    /// SIGTERM, as Lambda sends at shutdown.
    pub fn terminate(&self) -> io::Result<()> {
        self.signal(Signal::Terminate)
    }

    /// Every captured line (stdout and stderr interleaved in arrival order).
    pub fn log_lines(&self) -> Vec<LogLine> {
        self.observed.borrow().lines.clone()
    }

    /// The captured stderr lines, in order.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.observed
            .borrow()
            .lines
            .iter()
            .filter(|line| line.stream == Stream::Stderr)
            .map(|line| line.text.clone())
            .collect()
    }

    /// All output so far, one line per line.
    pub fn logs(&self) -> String {
        let observed = self.observed.borrow();
        let mut text = String::new();
        for line in &observed.lines {
            text.push_str(&line.text);
            text.push('\n');
        }
        text
    }

    /// How many lines so far contain `needle`.
    pub fn count_logs(&self, needle: &str) -> usize {
        self.observed
            .borrow()
            .lines
            .iter()
            .filter(|line| line.text.contains(needle))
            .count()
    }

    /// Waits until at least `count` lines contain `needle`; `false` after `timeout`, or as soon
    /// as the process has closed its output with fewer.
    pub async fn wait_log_count(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |observed| {
            let seen = observed
                .lines
                .iter()
                .filter(|line| line.text.contains(needle))
                .count();
            if seen >= count {
                Some(true)
            } else {
                observed.output_closed().then_some(false)
            }
        })
        .await
        .unwrap_or(false)
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
        self.wait_until(timeout, |observed| {
            let found = observed
                .lines
                .iter()
                .find(|line| wanted(&line.text))
                .map(|line| Some(line.text.clone()));
            // `Some(None)`: nothing more can come.
            found.or_else(|| observed.output_closed().then_some(None))
        })
        .await
        .flatten()
    }

    /// The first `Some` that `check` finds in what is observed, waiting up to `timeout`.
    async fn wait_until<R>(
        &self,
        timeout: Duration,
        check: impl FnMut(&Observed) -> Option<R>,
    ) -> Option<R> {
        first_found(&self.observed, timeout, check).await
    }

    /// A `kB` field of `/proc/<pid>/status` while the process runs (Linux).
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        status.lines().find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse().ok()
        })
    }

    /// Peak resident set size (`VmHWM`) in KiB, while the process runs (Linux).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM")
    }

    /// Current resident set size (`VmRSS`) in KiB, while the process runs (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS")
    }

    /// CPU time of all its threads so far, while the process runs (Linux).
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(&self.pid?.to_string())
    }
}

impl Drop for TestProcess {
    fn drop(&mut self) {
        // With `Kill`, the kill channel closing ends the process.
        if self.on_drop == OnDrop::Terminate {
            let _ = self.terminate();
        }
    }
}

/// CPU time used so far by all threads of process `pid` (a number, or `self` for the test
/// process), from `/proc/<pid>/task/*/schedstat` (Linux).
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}
