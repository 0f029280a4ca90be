//! `lambda-emulator`: a local stand-in for the AWS Lambda service, for tests and local runs.
//!
//! [`control_plane`] serves the Runtime API and the Extensions API that a Lambda runtime and its
//! external extensions talk to, and lets the caller queue invocations and observe how they end.
//! [`server`] is the small HTTP/1.1 accept loop it is built on, reusable for other loopback servers.

pub mod control_plane;
mod ids;
pub mod server;

pub use control_plane::{
    ControlPlane, ControlPlaneConfig, InvocationHandle, InvocationResult, InvokeOptions,
};
