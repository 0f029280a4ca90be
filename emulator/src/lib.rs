//! `lambda-emulator`: a local stand-in for the AWS Lambda service, for tests and local runs (SPEC
//! PKG-6, EMU-1 … EMU-6).
//!
//! [`control_plane`] serves the Runtime API and the Extensions API that a Lambda runtime and its
//! external extensions talk to, and lets the caller queue invocations and observe how they end.
//! [`server`] is the small HTTP/1.1 accept loop it is built on, reusable for other loopback servers.
//!
//! The `lambda-emulator` program runs one function locally on top of them: [`cli`] reads its
//! command line (and [`env_file`] its `--env-file`s), [`supervisor`] starts and stops the
//! extension and the app in Lambda's order (through [`process`]), and [`front_door`] turns plain
//! HTTP requests into events of a chosen source and the function's results back into HTTP
//! responses. [`samples`] are built-in sample events, which [`invoke`] sends to a running
//! emulator.
//!
//! With the `testing` feature (for tests and benches only), `testing` is the workspace's one kit
//! of test helpers: process runner, test app, event builders, HTTP client, ports.

/// Prints one of the emulator's own lines to stderr, behind `[emulator] ` (a closed stderr loses
/// the line instead of panicking as `eprintln!` would), and keeps it for the inspector.
macro_rules! say {
    ($($arg:tt)*) => {{
        $crate::output::print(
            $crate::output::Origin::Emulator,
            $crate::output::Sink::Stderr,
            &format!($($arg)*),
        );
    }};
}

mod adapter_log;
pub mod cli;
mod clock;
pub mod control_plane;
pub mod env_file;
#[cfg(unix)]
pub mod environment;
#[cfg(unix)]
pub mod front_door;
mod ids;
#[cfg(unix)]
pub mod inspector;
pub mod invoke;
pub mod output;
#[cfg(unix)]
pub mod process;
#[cfg(unix)]
mod procfs;
pub mod samples;
pub mod server;
#[cfg(unix)]
pub mod supervisor;
#[cfg(all(unix, feature = "testing"))]
#[warn(missing_docs)]
pub mod testing;
#[cfg(unix)]
pub mod watch;
mod watched;

pub use control_plane::{
    ControlPlane, ControlPlaneConfig, InvocationHandle, InvocationResult, InvokeOptions,
};
