//! Support for the end-to-end tests: the real `lambda-emulator` binary as a child process (its
//! output captured line by line and waitable), the real `lambda-adapter` binary as its extension,
//! the Python test apps under `tests/apps/`, and a plain HTTP/1.1 client for the front door.
//!
//! Every wait takes a timeout and panics with the emulator's output when it runs out.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_emulator::process::{send_signal, Signal};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::watch;

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

/// A loopback port for the app, which the adapter must know before the app starts.
///
/// A port that was merely free a moment ago (bound to port 0, then let go) is not enough: while
/// the tests run in parallel, the kernel hands the same ephemeral port to another test's emulator
/// or connection, and the adapter's readiness check then finds someone else's listener. So the
/// port comes from below the kernel's ephemeral range, where nothing binds on its own, and is
/// derived from this process's id (unique among the running tests) and a per-process counter,
/// skipping any port that turns out to be busy.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 10_000;
    const PER_PROCESS: u32 = 16;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_start.saturating_sub(FIRST) / PER_PROCESS * PER_PROCESS;
    if span >= PER_PROCESS * 64 {
        for _ in 0..PER_PROCESS {
            let n = NEXT.fetch_add(1, Ordering::Relaxed) % PER_PROCESS;
            let port = FIRST + (std::process::id() * PER_PROCESS + n) % span;
            if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
                return port as u16;
            }
        }
    }
    // An unusual port range, or every candidate busy: a port that was free a moment ago.
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("an ephemeral port")
}

/// One line of the emulator's output.
#[derive(Debug, Clone)]
pub struct Line {
    pub stderr: bool,
    pub text: String,
}

#[derive(Default)]
struct Output {
    lines: Vec<Line>,
    open_pipes: usize,
}

/// A running `lambda-emulator`. Dropping it sends SIGTERM, so that it stops its own children.
pub struct Emulator {
    child: Child,
    pid: i32,
    output: Arc<Mutex<Output>>,
    changed: watch::Receiver<u64>,
    /// The front door, from the "listening on" line.
    pub addr: SocketAddr,
}

/// How to start the emulator.
pub struct EmulatorCommand {
    args: Vec<String>,
    env: Vec<(String, String)>,
    app_port: u16,
}

impl EmulatorCommand {
    /// `--port 0` and the real adapter as extension; the app port is chosen and passed as
    /// `AWS_LWA_PORT`.
    pub fn new() -> Self {
        let app_port = free_port();
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

    /// Uses another extension executable than the adapter.
    pub fn extension(mut self, path: &Path) -> Self {
        self.args[3] = path.display().to_string();
        self
    }

    /// Starts the emulator with `app` after `--`; returns once the front door listens.
    pub async fn start(self, app: &[&str]) -> Emulator {
        let mut command = Command::new(EMULATOR);
        command
            .args(&self.args)
            .arg("--")
            .args(app)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the emulator starts");
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .expect("pid");
        let output = Arc::new(Mutex::new(Output {
            lines: Vec::new(),
            open_pipes: 2,
        }));
        let (notify, changed) = watch::channel(0u64);
        let notify = Arc::new(notify);
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        tokio::spawn(collect(stdout, false, output.clone(), notify.clone()));
        tokio::spawn(collect(stderr, true, output.clone(), notify));
        let mut emulator = Emulator {
            child,
            pid,
            output,
            changed,
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

async fn collect(
    reader: impl AsyncRead + Unpin,
    stderr: bool,
    output: Arc<Mutex<Output>>,
    notify: Arc<watch::Sender<u64>>,
) {
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(text)) = lines.next_line().await {
        output.lock().unwrap().lines.push(Line { stderr, text });
        notify.send_modify(|n| *n += 1);
    }
    output.lock().unwrap().open_pipes -= 1;
    notify.send_modify(|n| *n += 1);
}

impl Emulator {
    /// All output so far, one line each, stderr lines marked.
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap()
            .lines
            .iter()
            .map(|line| {
                format!(
                    "{}{}\n",
                    if line.stderr { "" } else { "(stdout) " },
                    line.text
                )
            })
            .collect()
    }

    /// stderr lines, in order: the emulator's own lines, the REPORT lines, the children's stderr.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap()
            .lines
            .iter()
            .filter(|line| line.stderr)
            .map(|line| line.text.clone())
            .collect()
    }

    /// Waits for a line containing `needle`; returns it.
    pub async fn wait_line(&self, needle: &str) -> String {
        let mut changed = self.changed.clone();
        let found = tokio::time::timeout(WAIT, async {
            loop {
                {
                    let output = self.output.lock().unwrap();
                    if let Some(line) = output.lines.iter().find(|line| line.text.contains(needle))
                    {
                        return Some(line.text.clone());
                    }
                    if output.open_pipes == 0 {
                        return None;
                    }
                }
                if changed.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "no line containing {needle:?} within {WAIT:?}; the emulator's output:\n{}",
                self.output()
            ),
        }
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
        send_signal(self.pid, signal).expect("signal the emulator");
    }

    /// Waits for the emulator to exit and for all of its output.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let status = match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(Ok(status)) => status,
            _ => panic!(
                "the emulator did not exit within {WAIT:?}; its output:\n{}",
                self.output()
            ),
        };
        let mut changed = self.changed.clone();
        let _ = tokio::time::timeout(WAIT, async {
            while self.output.lock().unwrap().open_pipes > 0 {
                if changed.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        status
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

impl Drop for Emulator {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = send_signal(self.pid, Signal::Terminate);
        }
    }
}

/// A response read to its end.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect()
    }

    pub fn request_id(&self) -> &str {
        self.header("x-amzn-requestid")
            .expect("the front door names the request id")
    }
}

/// Sends `request` on a fresh connection and returns the response head (body still streaming).
pub async fn open(addr: SocketAddr, request: Request<Full<Bytes>>) -> http::Response<Incoming> {
    let connect = async {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        sender.send_request(request).await.expect("a response head")
    };
    tokio::time::timeout(WAIT, connect)
        .await
        .unwrap_or_else(|_| panic!("no response head from {addr} within {WAIT:?}"))
}

/// Sends `request` and reads the whole response.
pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Answer {
    let response = open(addr, request).await;
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(WAIT, body.collect())
        .await
        .expect("the body within the wait")
        .expect("a complete body")
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `GET path` with `headers`.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::get(path).header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(addr, request.body(Full::new(Bytes::new())).unwrap()).await
}

/// `POST path` with `body` and `headers`.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let mut request = Request::post(path).header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(addr, request.body(Full::new(body.into())).unwrap()).await
}

/// `GET path` straight to the app (not through the emulator).
pub async fn app_get(app_port: u16, path: &str) -> Answer {
    get(SocketAddr::from(([127, 0, 0, 1], app_port)), path, &[]).await
}
