//! The real `lambda-adapter` binary as a child process through the kit's process runner
//! ([`lambda_emulator::testing::process`]): exactly the environment a test gives it (the test
//! process's own environment is never read or changed), its output captured line by line.

use std::net::SocketAddr;
use std::path::PathBuf;

pub use lambda_emulator::testing::process::{
    LogLine, ProcessCommand, Stream, TestProcess as AdapterProcess,
};

/// The binary under test.
pub const ADAPTER_BINARY: &str = env!("CARGO_BIN_EXE_lambda-adapter");

/// The adapter binary, pointed at a control plane (`AWS_LAMBDA_RUNTIME_API`; a later `env` of
/// the same name wins, `env_remove` leaves it unset); [`ProcessCommand::spawn`] starts it.
///
/// `LWA_ADAPTER_BIN` (read, never set, by the tests) points the suite at another build of the
/// binary, e.g. the static musl one; `LWA_ADAPTER_RUNNER` runs it through a program such as
/// `qemu-aarch64-static`.
pub fn adapter_command(runtime_api: SocketAddr) -> ProcessCommand {
    let binary = std::env::var_os("LWA_ADAPTER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(ADAPTER_BINARY));
    let command = match std::env::var_os("LWA_ADAPTER_RUNNER") {
        Some(runner) => ProcessCommand::new("adapter", runner).arg(binary),
        None => ProcessCommand::new("adapter", binary),
    };
    command.env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
}
