//! Execution environments as Lambda runs them (SPEC PKG-6, EMU-1, EMU-2, EMU-6, LIF-8): an
//! [`Environment`] is one control plane, one extension and one app, started in Lambda's order;
//! the [`Function`] keeps the current one and starts a fresh one when it is gone.
//!
//! ```text
//! start ─▶ extension registers ─▶ app starts ─▶ first `next` = ready ─▶ invocations …
//!   │            │ (exit: ended)        │ (exit: ended)        (SnapStart: restore/next ─▶
//!   │            └ silence past --init-timeout: ended          "snapshot taken" ─▶ pause ─▶
//!   └ --init-timeout passes before ready: init timed out        restored ─▶ ready)
//!     (requests get 502 at once; ready later still serves)
//! app or extension exits: ended (Runtime.ExitError); the other one is stopped;
//! the next request starts a fresh environment.
//! ```
//!
//! EMU-1: a request waits for the init at most until `--init-timeout` has passed since the
//! environment started, then gets a `502` that quotes the adapter's last readiness line. EMU-2: a
//! process that exits ends the environment, in-flight invocations get `Runtime.ExitError`, and the
//! next request starts a fresh one, extension first.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::adapter_log::AdapterLog;
use crate::control_plane::{ControlPlane, ControlPlaneConfig, FunctionConfig, ReportedError};
use crate::output::Origin;
use crate::process::{ChildProcess, ChildSpec, Signal};
use crate::procfs::{listening_ports, max_memory_used_mb};

/// How long the app gets between SIGTERM and SIGKILL.
pub const APP_STOP_GRACE: Duration = Duration::from_secs(2);
/// How long an extension subscribed to SHUTDOWN gets to exit after the event.
pub const EXTENSION_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a process to be gone after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(2);
/// How long to wait for a stopped process's last output lines.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);
/// SnapStart: the pause between the snapshot and the restore, standing for the time a snapshot
/// spends stored before an environment is restored from it.
pub const SNAPSHOT_PAUSE: Duration = Duration::from_millis(500);
/// How long a fixed `--runtime-api-port` may take to be free again for a fresh environment.
const REBIND_WAIT: Duration = Duration::from_secs(3);
/// How long the adapter's line about what made the app ready may lag behind its first `next`.
const ADAPTER_LINE_WAIT: Duration = Duration::from_millis(200);
/// How often, during the init, the ports the app listens on are looked at.
const PORT_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// How long a connection to the app's port may take, when checking that nothing else listens.
const PORT_CHECK_WAIT: Duration = Duration::from_millis(200);
/// The longest an ended environment may take to stop its processes (the app's grace and
/// SIGKILL, the extension's).
const STOP_WAIT: Duration = Duration::from_secs(8);
/// Longer than any wait here needs to be.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// Everything needed to start an environment.
#[derive(Debug, Clone)]
pub struct EnvironmentConfig {
    pub extension: PathBuf,
    /// Program and arguments; empty when the user runs the app on their own.
    pub app: Vec<OsString>,
    /// Set for both processes on top of the emulator's environment (Lambda's variables and the
    /// `--env-file`s'); `AWS_LAMBDA_RUNTIME_API` is added per environment.
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<String>,
    pub function: FunctionConfig,
    /// `0`: any free port.
    pub runtime_api_port: u16,
    pub init_timeout: Duration,
    /// SnapStart: hold `restore/next`, print the phases, restore after [`SNAPSHOT_PAUSE`].
    pub snapstart: bool,
}

/// Why an environment cannot serve an invocation, as the client's `502` and the log say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    /// `Runtime.ExitError`, `Runtime.InitError`, or the type an init error was reported with.
    pub error_type: String,
    pub message: String,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

/// How the first REPORT of an environment names its start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartUp {
    /// `Init Duration` (on-demand).
    Init(Duration),
    /// `Restore Duration` (SnapStart).
    Restore(Duration),
}

#[derive(Debug, Clone)]
enum State {
    Initializing,
    Ready,
    /// `--init-timeout` passed first; the environment still runs and may become ready.
    InitTimedOut,
    Ended(Unusable),
}

/// One execution environment.
pub struct Environment {
    number: u64,
    config: Arc<EnvironmentConfig>,
    control_plane: ControlPlane,
    extension: ChildProcess,
    app: OnceLock<ChildProcess>,
    adapter: Arc<AdapterLog>,
    state: watch::Sender<State>,
    started: Instant,
    /// How long the init (or restore) took, once the function was ready.
    start_up: OnceLock<StartUp>,
    /// The first REPORT takes the start-up duration.
    start_up_reported: AtomicBool,
    /// Being stopped on purpose: exits are expected, not failures.
    retiring: watch::Sender<bool>,
    /// Both processes are gone (or were never started): a fresh environment may take their ports.
    stopped: watch::Sender<bool>,
    /// SnapStart: when the snapshot was "restored".
    restored_at: OnceLock<Instant>,
    /// The highest `Max Memory Used` figure so far (MB): processes that have exited no longer
    /// show theirs.
    peak_memory_mb: AtomicU64,
    /// EMU-1: the app listens elsewhere than the adapter probes (said once).
    port_finding: OnceLock<String>,
    /// The app's last non-blank output line: why it exited, often (a traceback's last line).
    app_last_line: Arc<std::sync::Mutex<Option<String>>>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("number", &self.number)
            .field("runtime_api", &self.control_plane.addr())
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// Starts the control plane and the extension; the rest of the init (registration, the
    /// app, readiness) goes on in the background.
    pub async fn start(
        config: Arc<EnvironmentConfig>,
        number: u64,
    ) -> io::Result<Arc<Environment>> {
        let control_plane = bind_control_plane(&config).await?;
        if number == 1 || config.runtime_api_port == 0 {
            say!("Runtime API on {}", control_plane.addr());
        }
        let adapter = Arc::new(AdapterLog::default());
        let tap = adapter.clone();
        let started = Instant::now();
        let extension = ChildProcess::spawn(ChildSpec {
            label: "extension",
            origin: Origin::Extension,
            program: config.extension.clone().into_os_string(),
            args: Vec::new(),
            env: child_env(&config, control_plane.addr()),
            env_remove: config.env_remove.clone(),
            on_line: Some(Arc::new(move |line: &str| tap.observe(line))),
        })
        .map_err(|err| {
            io::Error::new(
                err.kind(),
                format!(
                    "cannot start the extension {}: {err}",
                    config.extension.display()
                ),
            )
        })?;
        say!(
            "started extension {} (pid {})",
            config.extension.display(),
            extension.pid()
        );
        let environment = Arc::new(Environment {
            number,
            config,
            control_plane,
            extension,
            app: OnceLock::new(),
            adapter,
            state: watch::Sender::new(State::Initializing),
            started,
            start_up: OnceLock::new(),
            start_up_reported: AtomicBool::new(false),
            retiring: watch::Sender::new(false),
            stopped: watch::Sender::new(false),
            restored_at: OnceLock::new(),
            peak_memory_mb: AtomicU64::new(0),
            port_finding: OnceLock::new(),
            app_last_line: Arc::default(),
        });
        tokio::spawn(environment.clone().run());
        Ok(environment)
    }

    /// Which environment of the run this is, from 1.
    pub fn number(&self) -> u64 {
        self.number
    }

    pub fn control_plane(&self) -> &ControlPlane {
        &self.control_plane
    }

    /// What the adapter said so far.
    pub fn adapter(&self) -> &AdapterLog {
        &self.adapter
    }

    /// Waits until the init is over: `Ok` once the function is ready, else why it cannot serve.
    pub async fn usable(&self) -> Result<(), Unusable> {
        let mut state = self.state.subscribe();
        let settled = state
            .wait_for(|state| !matches!(state, State::Initializing))
            .await
            .map(|state| state.clone());
        match settled {
            Ok(State::Ready) => Ok(()),
            Ok(State::Ended(unusable)) => Err(unusable),
            Ok(State::InitTimedOut | State::Initializing) | Err(_) => Err(self.init_timed_out()),
        }
    }

    /// Why this environment has ended, if it has.
    pub fn ended(&self) -> Option<Unusable> {
        match &*self.state.borrow() {
            State::Ended(unusable) => Some(unusable.clone()),
            _ => None,
        }
    }

    /// Waits until the environment has ended; why.
    pub async fn wait_ended(&self) -> Unusable {
        let mut state = self.state.subscribe();
        match state
            .wait_for(|state| matches!(state, State::Ended(_)))
            .await
            .map(|state| state.clone())
        {
            Ok(State::Ended(unusable)) => unusable,
            // The sender lives as long as `self`.
            _ => std::future::pending().await,
        }
    }

    /// The start-up duration for this environment's first REPORT line; `None` afterwards.
    pub fn take_start_up(&self) -> Option<StartUp> {
        let start_up = *self.start_up.get()?;
        (!self.start_up_reported.swap(true, Ordering::Relaxed)).then_some(start_up)
    }

    /// The peak memory of the app's and the extension's processes, in MB (the highest figure
    /// seen, so that a process that has just exited still counts).
    pub fn max_memory_used_mb(&self) -> Option<u64> {
        let mut groups = vec![self.extension.pid()];
        groups.extend(self.app.get().map(ChildProcess::pid));
        let now = max_memory_used_mb(&groups).unwrap_or(0);
        let peak = self
            .peak_memory_mb
            .fetch_max(now, Ordering::Relaxed)
            .max(now);
        (peak > 0).then_some(peak)
    }

    /// Whether the app's main process still runs as far as `/proc` shows (not exited, not a
    /// zombie); `false` where that cannot be told.
    pub fn app_seems_alive(&self) -> bool {
        let Some(app) = self.app.get() else {
            return false;
        };
        if app.exit_status().is_some() {
            return false;
        }
        std::fs::read_to_string(format!("/proc/{}/stat", app.pid()))
            .ok()
            .and_then(|stat| {
                let after_name = &stat[stat.rfind(')')? + 1..];
                after_name.split_whitespace().next().map(str::to_owned)
            })
            .is_some_and(|state| !matches!(state.as_str(), "Z" | "X" | "x"))
    }

    /// Stops the environment on purpose (`--watch`, shutdown): the app, then the extension.
    /// Invocations still waiting get `error_type` and `why`.
    pub async fn stop(&self, error_type: &str, why: &str) {
        self.retiring.send_replace(true);
        if let Some(app) = self.app.get() {
            stop_app(app).await;
        }
        stop_extension(&self.control_plane, &self.extension).await;
        self.end(Unusable {
            error_type: error_type.to_owned(),
            message: why.to_owned(),
        });
        self.stopped.send_replace(true);
    }

    /// Waits (at most `limit`) until the environment's processes are gone, after it ended: the
    /// app being stopped may still hold the port a fresh one's app needs.
    pub async fn wait_stopped(&self, limit: Duration) {
        let mut stopped = self.stopped.subscribe();
        let _ = tokio::time::timeout(limit, stopped.wait_for(|stopped| *stopped)).await;
    }

    fn end(&self, unusable: Unusable) {
        self.state.send_if_modified(|state| {
            if matches!(state, State::Ended(_)) {
                false
            } else {
                *state = State::Ended(unusable);
                true
            }
        });
    }

    fn is_retiring(&self) -> bool {
        *self.retiring.borrow()
    }

    async fn retired(&self) {
        let mut retiring = self.retiring.subscribe();
        let _ = retiring.wait_for(|retiring| *retiring).await;
    }

    /// EMU-1's `502`: the init did not finish in time; quotes the adapter's last readiness line.
    fn init_timed_out(&self) -> Unusable {
        let limit = self.config.init_timeout.as_secs_f64();
        let quoted = match (self.adapter.last_readiness(), self.adapter.last_line()) {
            (Some(readiness), _) => format!("the adapter's last readiness line: {readiness}"),
            (None, Some(line)) => format!("the adapter's last line: {line}"),
            (None, None) => "the adapter has not logged anything yet".to_owned(),
        };
        let finding = self
            .port_finding
            .get()
            .map(|finding| format!("; the emulator sees that {finding}"))
            .unwrap_or_default();
        Unusable {
            error_type: "Runtime.InitError".to_owned(),
            message: format!(
                "the function's init did not finish within {limit} s (--init-timeout); {quoted}{finding}"
            ),
        }
    }

    /// The environment's life; once it has ended and its processes are stopped, says so.
    async fn run(self: Arc<Self>) {
        self.live().await;
        if !self.is_retiring() {
            self.stopped.send_replace(true);
        }
    }

    /// Registration, the app, the init, then until a process exits.
    async fn live(&self) {
        let init_deadline = self.started + self.config.init_timeout;
        let registered = tokio::select! {
            registration = self.control_plane.wait_registered(self.config.init_timeout) => registration,
            status = self.extension.exited() => {
                self.extension.output_drained(OUTPUT_DRAIN).await;
                self.fail_init("the extension", status, "before it registered");
                return;
            }
            () = self.retired() => return,
        };
        let Some(registration) = registered else {
            let unusable = Unusable {
                error_type: "Extension.InitError".to_owned(),
                message: format!(
                    "the extension did not register with the Extensions API within {} s (--init-timeout)",
                    self.config.init_timeout.as_secs_f64()
                ),
            };
            let message = unusable.message.clone();
            self.end(unusable);
            say!("{message}");
            stop_extension(&self.control_plane, &self.extension).await;
            return;
        };
        say!(
            "extension {:?} registered (events: {:?})",
            registration.name,
            registration.events
        );
        self.warn_if_the_port_is_taken().await;
        if let Some(unusable) = self.start_app() {
            let message = unusable.message.clone();
            self.end(unusable);
            say!("{message}");
            stop_extension(&self.control_plane, &self.extension).await;
            return;
        }
        if self.init(init_deadline).await {
            self.serve().await;
        }
    }

    /// The variable `name` as the children get it (the `--env-file`'s value, else the emulator's).
    fn variable(&self, name: &str) -> Option<String> {
        self.config
            .env
            .iter()
            .rev()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok())
            .filter(|value| !value.trim().is_empty())
    }

    /// Where the adapter expects the app: its port and the setting that says so (CFG-1, CFG-2).
    fn expected_app_port(&self) -> Option<(String, u16, &'static str)> {
        let (port, named) = match (self.variable("AWS_LWA_PORT"), self.variable("PORT")) {
            (Some(port), _) => (port, "AWS_LWA_PORT"),
            (None, Some(port)) => (port, "PORT"),
            (None, None) => ("8080".to_owned(), "AWS_LWA_PORT's default"),
        };
        let host = self
            .variable("AWS_LWA_HOST")
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        Some((host, port.trim().parse().ok()?, named))
    }

    /// Something that listens on the app's port before the app starts would be found ready by the
    /// adapter and get the app's requests (a leftover process, another project's server): say so.
    async fn warn_if_the_port_is_taken(&self) {
        if self.config.app.is_empty() {
            return;
        }
        let Some((host, port, named)) = self.expected_app_port() else {
            return;
        };
        let address = format!("{host}:{port}");
        let connect = tokio::net::TcpStream::connect(address.as_str());
        if let Ok(Ok(_)) = tokio::time::timeout(PORT_CHECK_WAIT, connect).await {
            say!(
                "warning: something already listens on {address} ({named}) before the app has started: \
                 the adapter may find it ready and send it your requests; stop it, or give the app another port"
            );
        }
    }

    /// EMU-1: once the app listens on some port, and none is the one the adapter probes, say
    /// which (from `/proc`, as soon as it listens); `true` once said or when there is nothing to
    /// say any more.
    fn check_the_apps_ports(&self) -> bool {
        let (Some(app), Some((_, expected, named))) = (self.app.get(), self.expected_app_port())
        else {
            return true;
        };
        if self.variable("AWS_LWA_READINESS_CHECK_PORT").is_some() {
            return true;
        }
        let listening = listening_ports(&[app.pid()]);
        if listening.is_empty() {
            return false;
        }
        if listening.contains(&expected) {
            return true;
        }
        let listed = listening
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let advice = match listening.as_slice() {
            [port] => format!("set AWS_LWA_PORT={port}"),
            _ => "set AWS_LWA_PORT to the one it serves HTTP on".to_owned(),
        };
        let finding = format!(
            "the app listens on port {listed}, but the adapter waits for it on {expected} ({named}): {advice}"
        );
        say!("{finding}");
        let _ = self.port_finding.set(finding);
        true
    }

    fn remember_the_apps_last_line(&self) -> crate::process::LineTap {
        let last_line = self.app_last_line.clone();
        Arc::new(move |line: &str| {
            if !line.trim().is_empty() {
                let mut last = last_line
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *last = Some(line.trim().to_owned());
            }
        })
    }

    /// Waits (briefly) for the app's last lines, which may still be in its pipes when its exit
    /// is seen.
    async fn drain_the_apps_output(&self) {
        if let Some(app) = self.app.get() {
            app.output_drained(OUTPUT_DRAIN).await;
        }
    }

    /// `; its last line: …` when the app printed anything.
    fn the_apps_last_line(&self) -> String {
        let last = self
            .app_last_line
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        last.map(|line| format!("; its last line: {line}"))
            .unwrap_or_default()
    }

    /// Starts the app, if there is one; why it could not be started otherwise.
    fn start_app(&self) -> Option<Unusable> {
        let Some((program, args)) = self.config.app.split_first() else {
            if self.number == 1 {
                say!("no app command given: start your app yourself");
            }
            return None;
        };
        let spawned = ChildProcess::spawn(ChildSpec {
            label: "app",
            origin: Origin::App,
            program: program.clone(),
            args: args.to_vec(),
            env: child_env(&self.config, self.control_plane.addr()),
            env_remove: self.config.env_remove.clone(),
            on_line: Some(self.remember_the_apps_last_line()),
        });
        match spawned {
            Ok(app) => {
                say!(
                    "started app {} (pid {})",
                    display(&self.config.app),
                    app.pid()
                );
                let _ = self.app.set(app);
                None
            }
            Err(err) => Some(Unusable {
                error_type: "Runtime.InvalidEntrypoint".to_owned(),
                message: format!("cannot start the app {}: {err}", display(&self.config.app)),
            }),
        }
    }

    /// Waits for the end of the init; `false` when the environment ended instead.
    async fn init(&self, init_deadline: Instant) -> bool {
        let mut deadline_passed = false;
        let mut snapshot_taken = !self.config.snapstart;
        let mut ports_checked = false;
        loop {
            let until_deadline = init_deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                ready = self.control_plane.wait_next_outstanding(1, FOREVER), if snapshot_taken => {
                    if ready {
                        self.announce_ready(deadline_passed).await;
                        return true;
                    }
                }
                requested = self.control_plane.wait_restore_requested(FOREVER), if !snapshot_taken => {
                    if requested {
                        snapshot_taken = true;
                        self.snapshot_and_restore().await;
                    }
                }
                error = self.control_plane.wait_restore_error(FOREVER), if self.config.snapstart => {
                    if let Some(error) = error {
                        let unusable = reported(&error, "the SnapStart restore failed");
                        let said = unusable.to_string();
                        self.end(unusable);
                        say!("the SnapStart restore failed: {said}");
                        self.stop_survivors().await;
                        return false;
                    }
                }
                status = self.app_exited() => {
                    self.drain_the_apps_output().await;
                    self.fail_init("the app", status, "during init");
                    self.stop_survivors().await;
                    return false;
                }
                status = self.extension.exited() => {
                    self.extension.output_drained(OUTPUT_DRAIN).await;
                    self.fail_init("the extension", status, "during init");
                    self.stop_survivors().await;
                    return false;
                }
                () = tokio::time::sleep(until_deadline), if !deadline_passed => {
                    deadline_passed = true;
                    let unusable = self.init_timed_out();
                    self.state.send_replace(State::InitTimedOut);
                    say!(
                        "init failed: {}; requests get 502 until the function is ready (raise --init-timeout if the app needs longer)",
                        unusable.message
                    );
                }
                () = tokio::time::sleep(PORT_CHECK_INTERVAL), if !ports_checked => {
                    ports_checked = self.check_the_apps_ports();
                }
                () = self.retired() => return false,
            }
        }
    }

    /// SnapStart: the runtime waits in `restore/next` while Lambda takes the snapshot; after a
    /// pause standing for the stored snapshot, "restore" it.
    async fn snapshot_and_restore(&self) {
        say!(
            "init done in {} ms: snapshot taken (SnapStart); restoring it in {} ms",
            self.started.elapsed().as_millis(),
            SNAPSHOT_PAUSE.as_millis()
        );
        tokio::time::sleep(SNAPSHOT_PAUSE).await;
        let _ = self.restored_at.set(Instant::now());
        self.control_plane.restore();
        say!("restored from the snapshot: the runtime's restore/next is answered");
    }

    async fn announce_ready(&self, past_deadline: bool) {
        let elapsed = self.started.elapsed();
        let start_up = match self.restored_at.get() {
            // What the restored environment took: from the restore to ready.
            Some(restored_at) => StartUp::Restore(restored_at.elapsed()),
            None => StartUp::Init(elapsed),
        };
        let took = match start_up {
            StartUp::Init(init) => format!("init took {} ms", init.as_millis()),
            StartUp::Restore(restore) => format!("restore took {} ms", restore.as_millis()),
        };
        // A first figure, in case a process exits before any REPORT measures it.
        self.max_memory_used_mb();
        let _ = self.start_up.set(start_up);
        // Ready before it is said, so that whoever reads the line finds it ready.
        self.state.send_replace(State::Ready);
        // The adapter's line on what made the app ready comes through a pipe: it may lag.
        let because = self
            .adapter
            .wait_ready_because(ADAPTER_LINE_WAIT)
            .await
            .map(|because| format!(" ({because})"))
            .unwrap_or_default();
        if past_deadline {
            say!(
                "function ready: {took}{because}, past --init-timeout ({} s): Lambda would have ended this init",
                self.config.init_timeout.as_secs_f64()
            );
        } else {
            say!("function ready: {took}{because}");
        }
        for warning in self.adapter.init_warnings() {
            say!("note: the adapter warned during init: {warning}");
        }
    }

    /// After the init: until the app or the extension exits (or the environment is stopped).
    async fn serve(&self) {
        let (what, status) = tokio::select! {
            status = self.app_exited() => ("the app", status),
            status = self.extension.exited() => ("the extension", status),
            () = self.retired() => return,
        };
        if self.is_retiring() {
            return;
        }
        let last_line = if what == "the app" {
            self.drain_the_apps_output().await;
            self.the_apps_last_line()
        } else {
            String::new()
        };
        let unusable = Unusable {
            error_type: "Runtime.ExitError".to_owned(),
            message: format!("{what} exited ({status}){last_line}"),
        };
        self.end(unusable);
        say!(
            "{what} exited on its own ({status}): Runtime.ExitError, as in Lambda the environment is gone; the next request starts a fresh one{last_line}"
        );
        self.stop_survivors().await;
    }

    async fn app_exited(&self) -> ExitStatus {
        match self.app.get() {
            Some(app) => app.exited().await,
            None => std::future::pending().await,
        }
    }

    /// Ends the environment because `what` exited during the init; an init error it reported
    /// first is quoted.
    fn fail_init(&self, what: &str, status: ExitStatus, when: &str) {
        if self.is_retiring() {
            return;
        }
        let init_error = self
            .control_plane
            .reported_errors()
            .into_iter()
            .find(|error| error.origin.is_init());
        let unusable = match init_error {
            Some(error) => reported(&error, &format!("{what} exited {when} ({status})")),
            None => {
                let last = match what {
                    "the extension" => self
                        .adapter
                        .last_line()
                        .map(|line| format!("; its last line: {line}"))
                        .unwrap_or_default(),
                    _ => self.the_apps_last_line(),
                };
                Unusable {
                    error_type: "Runtime.ExitError".to_owned(),
                    message: format!("{what} exited {when} ({status}){last}"),
                }
            }
        };
        let said = format!(
            "{}: {}; the next request starts a fresh environment",
            unusable.error_type, unusable.message
        );
        // Ended before it is said, so that whoever reads the line finds it ended.
        self.end(unusable);
        say!("{said}");
    }

    /// Stops whichever of the two processes is still running, as Lambda resets an environment.
    async fn stop_survivors(&self) {
        if let Some(app) = self.app.get() {
            stop_app(app).await;
        }
        stop_extension(&self.control_plane, &self.extension).await;
    }
}

/// An init or restore error the runtime or the extension reported: its type, and the message of
/// its body (`errorMessage`, else the body), after `context`.
fn reported(error: &ReportedError, context: &str) -> Unusable {
    let body = String::from_utf8_lossy(&error.body);
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|body| {
            body.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.trim().to_owned());
    Unusable {
        error_type: if error.error_type.is_empty() {
            "Runtime.InitError".to_owned()
        } else {
            error.error_type.clone()
        },
        message: format!("{context}, having reported: {message}"),
    }
}

async fn bind_control_plane(config: &EnvironmentConfig) -> io::Result<ControlPlane> {
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, config.runtime_api_port));
    let started = Instant::now();
    loop {
        let bound = ControlPlane::start_with(ControlPlaneConfig {
            bind,
            function: config.function.clone(),
            hold_restore: config.snapstart,
        })
        .await;
        match bound {
            // The previous environment's control plane may still be closing its listener.
            Err(err)
                if err.kind() == io::ErrorKind::AddrInUse
                    && config.runtime_api_port != 0
                    && started.elapsed() < REBIND_WAIT =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => {
                return Err(io::Error::new(
                    err.kind(),
                    format!("cannot serve the Runtime API on {bind}: {err}"),
                ))
            }
            Ok(control_plane) => return Ok(control_plane),
        }
    }
}

fn child_env(config: &EnvironmentConfig, runtime_api: SocketAddr) -> Vec<(String, String)> {
    let mut env = config.env.clone();
    env.push(("AWS_LAMBDA_RUNTIME_API".to_owned(), runtime_api.to_string()));
    env
}

fn display(command: &[OsString]) -> String {
    command
        .iter()
        .map(|arg| arg.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// SIGTERM to the app, then SIGKILL if it is still there after [`APP_STOP_GRACE`].
async fn stop_app(app: &ChildProcess) {
    if app.exit_status().is_some() {
        return;
    }
    say!("stopping app (SIGTERM)");
    if let Err(err) = app.signal(Signal::Terminate) {
        say!("could not send SIGTERM to the app: {err}");
    }
    let status = match app.wait_exit(APP_STOP_GRACE).await {
        Some(status) => Some(status),
        None => {
            say!(
                "the app did not exit within {} s of SIGTERM: SIGKILL",
                APP_STOP_GRACE.as_secs_f64()
            );
            let _ = app.signal(Signal::Kill);
            app.wait_exit(KILL_WAIT).await
        }
    };
    app.output_drained(OUTPUT_DRAIN).await;
    match status {
        Some(status) => say!("app exited ({status})"),
        None => say!("the app is still running after SIGKILL (pid {})", app.pid()),
    }
}

/// The SHUTDOWN event if the extension subscribed to it (SIGKILL after
/// [`EXTENSION_SHUTDOWN_GRACE`]), else SIGKILL at once, as Lambda does.
async fn stop_extension(control_plane: &ControlPlane, extension: &ChildProcess) {
    if extension.exit_status().is_some() {
        return;
    }
    let subscribed = control_plane
        .registrations()
        .iter()
        .any(|registration| registration.subscribes_to("SHUTDOWN"));
    if subscribed {
        say!("stopping extension (SHUTDOWN event)");
        control_plane.shutdown("spindown");
        if extension
            .wait_exit(EXTENSION_SHUTDOWN_GRACE)
            .await
            .is_none()
        {
            say!(
                "the extension did not exit within {} s of SHUTDOWN: SIGKILL",
                EXTENSION_SHUTDOWN_GRACE.as_secs_f64()
            );
            let _ = extension.signal(Signal::Kill);
        }
    } else {
        say!("stopping extension (SIGKILL)");
        let _ = extension.signal(Signal::Kill);
    }
    let status = extension.wait_exit(KILL_WAIT).await;
    extension.output_drained(OUTPUT_DRAIN).await;
    match status {
        Some(status) => say!("extension stopped ({status})"),
        None => say!(
            "the extension is still running after SIGKILL (pid {})",
            extension.pid()
        ),
    }
}

/// The function: its current environment, replaced by a fresh one when it has ended.
pub struct Function {
    config: Arc<EnvironmentConfig>,
    current: tokio::sync::Mutex<Option<Arc<Environment>>>,
    started: AtomicU64,
    closed: AtomicBool,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("environments", &self.started.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Function {
    pub fn new(config: EnvironmentConfig) -> Arc<Function> {
        Arc::new(Function {
            config: Arc::new(config),
            current: tokio::sync::Mutex::new(None),
            started: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &EnvironmentConfig {
        &self.config
    }

    /// The environment to invoke: the current one, or a fresh one when it has ended (EMU-2).
    /// `Err` when none can be started (the extension cannot be run, the emulator is stopping).
    pub async fn environment(&self) -> Result<Arc<Environment>, Unusable> {
        let mut current = self.current.lock().await;
        if self.closed.load(Ordering::Relaxed) {
            return Err(shutting_down());
        }
        if let Some(environment) = current.as_ref() {
            if environment.ended().is_none() {
                return Ok(environment.clone());
            }
            environment.wait_stopped(STOP_WAIT).await;
        }
        let fresh = self.start_fresh("the previous one has ended").await?;
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    /// Replaces the current environment with a fresh one at once (EMU-6).
    pub async fn restart(&self, why: &str) -> Result<(), Unusable> {
        let mut current = self.current.lock().await;
        if self.closed.load(Ordering::Relaxed) {
            return Err(shutting_down());
        }
        if let Some(old) = current.take() {
            old.stop(
                "Emulator.Restarted",
                &format!("the environment was restarted: {why}"),
            )
            .await;
        }
        let fresh = self.start_fresh(why).await?;
        *current = Some(fresh);
        Ok(())
    }

    /// Stops the current environment for good.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let mut current = self.current.lock().await;
        if let Some(environment) = current.take() {
            environment
                .stop("Emulator.ShuttingDown", "the emulator is shutting down")
                .await;
        }
    }

    async fn start_fresh(&self, why: &str) -> Result<Arc<Environment>, Unusable> {
        let number = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        if number > 1 {
            say!("starting a fresh environment (#{number}): {why}");
        }
        Environment::start(self.config.clone(), number)
            .await
            .map_err(|err| {
                say!("{err}");
                Unusable {
                    error_type: "Runtime.Unavailable".to_owned(),
                    message: err.to_string(),
                }
            })
    }
}

fn shutting_down() -> Unusable {
    Unusable {
        error_type: "Emulator.ShuttingDown".to_owned(),
        message: "the emulator is shutting down".to_owned(),
    }
}
