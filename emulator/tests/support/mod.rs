//! Support for the end-to-end tests (PKG-6, EMU-*): the real `lambda-emulator` binary as a child
//! process through the kit's runner ([`lambda_emulator::testing::process`]), the real
//! `lambda-adapter` binary as its extension, the Python test apps under `tests/apps/`, and the
//! kit's plain HTTP/1.1 client for the front door.
//!
//! Every wait takes a timeout and panics with the emulator's output when it runs out.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::time::Duration;

use lambda_emulator::process::Signal;
use lambda_emulator::testing::ports::unshared_port;
use lambda_emulator::testing::{ProcessCommand, TestProcess};

#[allow(unused_imports)]
pub use lambda_emulator::testing::client::{call, get, open, post, Answer};

/// The bound on every wait: generous, it only matters when a test fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub const EMULATOR: &str = env!("CARGO_BIN_EXE_lambda-emulator");

/// The debug `lambda-adapter` next to the emulator binary, built once if it is missing.
pub fn adapter_binary() -> PathBuf {
    static ADAPTER: OnceLock<PathBuf> = OnceLock::new();
    ADAPTER
        .get_or_init(|| {
            let adapter = Path::new(EMULATOR).with_file_name("lambda-adapter");
            if !adapter.is_file() {
                let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .parent()
                    .expect("the emulator package lives inside the workspace");
                let cargo = option_env!("CARGO").unwrap_or("cargo");
                let status = std::process::Command::new(cargo)
                    .args(["build", "--bin", "lambda-adapter"])
                    .current_dir(workspace)
                    .status();
                assert!(
                    matches!(status, Ok(status) if status.success()),
                    "`cargo build --bin lambda-adapter` failed ({status:?}); the end-to-end tests need the adapter binary"
                );
            }
            assert!(
                adapter.is_file(),
                "{} is missing: run `cargo build --bin lambda-adapter` first",
                adapter.display()
            );
            adapter
        })
        .clone()
}

/// A script under `tests/apps/`, made executable (a checkout may have lost the mode).
pub fn app_script(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/apps")
        .join(name);
    let mut permissions = std::fs::metadata(&path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .permissions();
    if permissions.mode() & 0o111 != 0o111 {
        permissions.set_mode(0o755);
        std::fs::set_permissions(&path, permissions).expect("make the script executable");
    }
    path
}

/// A running `lambda-emulator`. Dropping it sends SIGTERM, so that it stops its own children.
pub struct Emulator {
    process: TestProcess,
    /// The front door, from the "listening on" line.
    pub addr: SocketAddr,
}

/// How to start the emulator.
pub struct EmulatorCommand {
    args: Vec<String>,
    env: Vec<(String, String)>,
    unset: Vec<String>,
    app_port: u16,
}

impl EmulatorCommand {
    /// `--port 0` and the real adapter as extension; the app port is chosen and passed as
    /// `AWS_LWA_PORT` (the adapter must know it before the app listens).
    pub fn new() -> Self {
        let app_port = unshared_port().expect("a loopback port for the app");
        EmulatorCommand {
            args: vec![
                "--port".into(),
                "0".into(),
                "--extension".into(),
                adapter_binary().display().to_string(),
            ],
            env: vec![
                ("AWS_LWA_PORT".into(), app_port.to_string()),
                ("AWS_LAMBDA_LOG_LEVEL".into(), "INFO".into()),
            ],
            unset: Vec::new(),
            app_port,
        }
    }

    pub fn app_port(&self) -> u16 {
        self.app_port
    }

    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Self {
        self.args.extend(args.into_iter().map(str::to_owned));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Leaves `name` out of the emulator's environment (also one this command would set).
    pub fn unset(mut self, name: &str) -> Self {
        self.env.retain(|(set, _)| set != name);
        self.unset.push(name.to_owned());
        self
    }

    /// Uses another extension executable than the adapter.
    pub fn extension(mut self, path: &Path) -> Self {
        self.args[3] = path.display().to_string();
        self
    }

    /// Starts the emulator with `app` after `--`; returns once the front door listens.
    pub async fn start(self, app: &[&str]) -> Emulator {
        let mut command = ProcessCommand::new("emulator", EMULATOR).inherit_env();
        for name in &self.unset {
            command = command.env_remove(name);
        }
        let process = command
            .args(&self.args)
            .arg("--")
            .args(app)
            .envs(self.env)
            .terminate_on_drop()
            .spawn()
            .expect("the emulator starts");
        let mut emulator = Emulator {
            process,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let line = emulator.wait_line("listening on http://").await;
        let addr = line
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        emulator.addr = addr;
        emulator
    }
}

impl Emulator {
    /// All output so far, one line each.
    pub fn output(&self) -> String {
        self.process.logs()
    }

    /// stderr lines, in order: the emulator's own lines, the REPORT lines, the children's stderr.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.process.stderr_lines()
    }

    /// Waits for a line containing `needle`; returns it.
    pub async fn wait_line(&self, needle: &str) -> String {
        match self.process.wait_for_log(needle, WAIT).await {
            Some(line) => line,
            None => panic!(
                "no line containing {needle:?} within {WAIT:?}; the emulator's output:\n{}",
                self.output()
            ),
        }
    }

    /// Waits for a line that contains every one of `needles`; returns it.
    pub async fn wait_line_with(&self, needles: &[&str]) -> String {
        let found = self
            .process
            .wait_for_log_line(WAIT, |line| {
                needles.iter().all(|needle| line.contains(needle))
            })
            .await;
        found.unwrap_or_else(|| {
            panic!(
                "no line containing all of {needles:?} within {WAIT:?}; the emulator's output:\n{}",
                self.output()
            )
        })
    }

    /// The inspector's address, from its "inspector on http://…/" line.
    pub async fn inspector_addr(&self) -> SocketAddr {
        let line = self.wait_line("inspector on http://").await;
        line.split("inspector on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// Waits until the function asked for its first invocation.
    pub async fn wait_ready(&self) {
        self.wait_line("function ready").await;
    }

    /// The REPORT line of the invocation with this request id.
    pub async fn report(&self, request_id: &str) -> String {
        self.wait_line(&format!("REPORT RequestId: {request_id}\t"))
            .await
    }

    pub fn signal(&self, signal: Signal) {
        self.process.signal(signal).expect("signal the emulator");
    }

    /// Waits for the emulator to exit and for all of its output.
    pub async fn wait_exit(&self) -> ExitStatus {
        let Some(status) = self.process.wait_exit(WAIT).await else {
            panic!(
                "the emulator did not exit within {WAIT:?}; its output:\n{}",
                self.output()
            )
        };
        // Its children may hold the pipes a little longer; what they print still counts.
        self.process.wait_output_closed(WAIT).await;
        status
    }

    /// Waits for the emulator to exit, asserts that it failed (status 1) and that the stderr lines
    /// containing `needles` appear in this order.
    pub async fn assert_exits_1_after(&self, needles: &[&str]) {
        let status = self.wait_exit().await;
        assert_eq!(status.code(), Some(1), "{}", self.output());
        self.assert_order(needles);
    }

    /// Waits until stderr lines containing `needles` have come in this order, then asserts it
    /// (with the output, if they did not within [`WAIT`]).
    pub async fn assert_order_eventually(&self, needles: &[&str]) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if self.in_order(needles) || tokio::time::Instant::now() >= deadline {
                break;
            }
            // Wait for any further line, then look again.
            let seen = self.process.log_lines().len();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !self.process.wait_log_count("", seen + 1, left).await {
                break;
            }
        }
        self.assert_order(needles);
    }

    fn in_order(&self, needles: &[&str]) -> bool {
        let lines = self.stderr_lines();
        let mut from = 0;
        needles.iter().all(|needle| {
            match lines[from..].iter().position(|line| line.contains(needle)) {
                Some(at) => {
                    from += at + 1;
                    true
                }
                None => false,
            }
        })
    }

    /// How many output lines contain `needle`.
    pub fn count_lines(&self, needle: &str) -> usize {
        self.process.count_logs(needle)
    }

    /// Whether the emulator is still running.
    pub fn is_running(&self) -> bool {
        self.process.is_running()
    }

    /// Asserts that the stderr lines containing `needles` appear in this order.
    pub fn assert_order(&self, needles: &[&str]) {
        let lines = self.stderr_lines();
        let mut from = 0;
        for needle in needles {
            match lines[from..].iter().position(|line| line.contains(needle)) {
                Some(at) => from += at + 1,
                None => panic!(
                    "{needle:?} does not follow {:?} in the output:\n{}",
                    lines.get(from.wrapping_sub(1)),
                    self.output()
                ),
            }
        }
    }
}

/// Runs `lambda-emulator args...` to its end (bounded by [`WAIT`]): `(status, stdout, stderr)`.
pub async fn run_emulator(args: &[&str]) -> (ExitStatus, String, String) {
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(EMULATOR).args(args).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("lambda-emulator {args:?} did not end within {WAIT:?}"))
    .expect("lambda-emulator runs");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The headless browser for the inspector's test: `LWA_CHROMIUM`, else `chromium`,
/// `chromium-browser`, `google-chrome` or `google-chrome-stable` on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("LWA_CHROMIUM") {
        let explicit = PathBuf::from(explicit);
        return explicit.is_file().then_some(explicit);
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// `scripts/chromium.py`, the DevTools-protocol driver the browser test runs.
pub fn chromium_driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/chromium.py")
}

/// A file under the system's temporary directory, removed when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// Writes `contents` to a fresh file whose name starts with `name`.
    pub fn new(name: &str, contents: &str) -> TempFile {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let unique = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "lambda-emulator-test-{}-{unique}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("write a temporary file");
        TempFile(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `GET path` straight to the app (not through the emulator).
pub async fn app_get(app_port: u16, path: &str) -> Answer {
    get(SocketAddr::from(([127, 0, 0, 1], app_port)), path, &[]).await
}
