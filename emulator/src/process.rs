//! Child processes as the emulator runs them (SPEC PKG-6, EMU-2): each in its own process group
//! (so a Ctrl-C in the terminal reaches only the emulator, which then stops them in Lambda's
//! order), with its output passed through line by line behind a prefix (`[app] `,
//! `[extension] `, through [`crate::output`]) and shown to a [`LineTap`] if one is given, its
//! exit observable at any time, and signals sent to its whole group.
//!
//! Signals go through `kill(2)` from the C library that std already links, declared here rather
//! than adding a crate for two constants and one call.

use std::ffi::OsString;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use crate::output::{self, Origin, Sink};

/// The signals the emulator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Kill,
}

impl Signal {
    /// The number, the same on Linux and macOS for these three.
    fn number(self) -> i32 {
        match self {
            Signal::Interrupt => 2,
            Signal::Kill => 9,
            Signal::Terminate => 15,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Kill => "SIGKILL",
        }
    }
}

mod ffi {
    extern "C" {
        pub fn kill(pid: i32, signal: i32) -> i32;
    }
}

/// Sends `signal` to process `pid`, or with a negative `pid` to the process group `-pid`.
pub fn send_signal(pid: i32, signal: Signal) -> io::Result<()> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let result = unsafe { ffi::kill(pid, signal.number()) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sees every line a child prints (without its line end), after it was passed through.
pub type LineTap = Arc<dyn Fn(&str) + Send + Sync>;

/// What to start.
#[derive(Clone)]
pub struct ChildSpec {
    /// Names the process in messages.
    pub label: &'static str,
    /// Prefixes its output (`[app] `, `[extension] `).
    pub origin: Origin,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Set on top of the emulator's own environment, which the child inherits.
    pub env: Vec<(String, String)>,
    /// Removed from the inherited environment.
    pub env_remove: Vec<String>,
    pub on_line: Option<LineTap>,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("label", &self.label)
            .field("program", &self.program)
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

/// A started child process; clones watch the same process.
#[derive(Debug, Clone)]
pub struct ChildProcess {
    label: &'static str,
    pid: i32,
    exit: watch::Receiver<Option<ExitStatus>>,
    /// Output pipes not yet at end of file.
    open_pipes: watch::Receiver<usize>,
}

impl ChildProcess {
    /// Starts the child in a new process group, with stdin closed and its output passed through.
    pub fn spawn(spec: ChildSpec) -> io::Result<ChildProcess> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            // A safety net if the emulator goes away without stopping it.
            .kill_on_drop(true);
        for name in &spec.env_remove {
            command.env_remove(name);
        }
        let mut child = command.spawn()?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| io::Error::other("the child exited before its pid was known"))?;

        let (pipes_sender, open_pipes) = watch::channel(2usize);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(pass_through(
                stdout,
                spec.origin,
                Sink::Stdout,
                spec.on_line.clone(),
                pipes_sender.clone(),
            ));
        } else {
            pipes_sender.send_modify(|open| *open -= 1);
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(pass_through(
                stderr,
                spec.origin,
                Sink::Stderr,
                spec.on_line,
                pipes_sender,
            ));
        } else {
            pipes_sender.send_modify(|open| *open -= 1);
        }

        let (exit_sender, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await;
            match status {
                Ok(status) => {
                    let _ = exit_sender.send(Some(status));
                }
                // Waiting failed (should not happen): keep the channel open so nobody mistakes
                // it for an exit, and keep the child (and its kill-on-drop) alive.
                Err(_) => std::future::pending::<()>().await,
            }
        });
        Ok(ChildProcess {
            label: spec.label,
            pid,
            exit,
            open_pipes,
        })
    }

    pub fn label(&self) -> &'static str {
        self.label
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The exit status, if the child has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Waits for the child to exit.
    pub async fn exited(&self) -> ExitStatus {
        let mut exit = self.exit.clone();
        if let Ok(status) = exit.wait_for(Option::is_some).await {
            if let Some(status) = *status {
                return status;
            }
        }
        // The waiting task is gone without a status; it never will report one.
        std::future::pending().await
    }

    /// Waits at most `timeout` for the child to exit.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.exited()).await.ok()
    }

    /// Sends `signal` to the child's process group, unless the child has already exited (its
    /// pid may belong to another process by then).
    pub fn signal(&self, signal: Signal) -> io::Result<()> {
        if self.exit_status().is_some() {
            return Ok(());
        }
        send_signal(-self.pid, signal)
    }

    /// Waits at most `timeout` until all of the child's output has been passed through (pipes
    /// can outlive the child when it left processes behind).
    pub async fn output_drained(&self, timeout: Duration) {
        let mut open = self.open_pipes.clone();
        let _ = tokio::time::timeout(timeout, open.wait_for(|open| *open == 0)).await;
    }
}

/// Copies `reader` line by line to the emulator's stdout or stderr behind `origin`'s prefix,
/// each line written in one piece so lines of different children never interleave, and shows
/// each to `tap`.
async fn pass_through(
    reader: impl AsyncRead + Unpin,
    origin: Origin,
    sink: Sink,
    tap: Option<LineTap>,
    open_pipes: watch::Sender<usize>,
) {
    for_each_line(reader, |line| {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        output::print(origin, sink, text);
        if let Some(tap) = &tap {
            tap(text);
        }
    })
    .await;
    open_pipes.send_modify(|open| *open = open.saturating_sub(1));
}

/// Calls `on_line` with each line of `reader` (with its `\n`, if it has one) until the end of
/// the stream or a read error. Lines are bytes: a child's output need not be UTF-8.
pub async fn for_each_line(reader: impl AsyncRead + Unpin, mut on_line: impl FnMut(&[u8])) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => on_line(&line),
        }
    }
}
