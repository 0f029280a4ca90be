//! The one kit of helpers for the tests and benches of the whole workspace: dev-only, behind the
//! `testing` feature of `lambda-emulator` (off by default, so the emulator binary never carries
//! it; the workspace's test and bench targets turn it on through their dev-dependencies). SPEC
//! IDs: none of its own; the tests that use it name theirs.
//!
//! | module | what |
//! |---|---|
//! | [`process`] | a program under test as a child process: exact environment, output captured line by line (or to a log file), waits with timeouts, signals, `/proc` figures |
//! | [`app`] | [`TestApp`], a real HTTP/1.1 app on loopback that records requests and answers as scripted |
//! | [`raw_app`] | [`RawApp`], a hand-written HTTP/1.1 server for the faults a well-behaved app cannot produce |
//! | [`events`] | Lambda event builders (REST, HTTP API, Function URL, ALB, SQS) |
//! | [`bodies`] | [`ChannelBody`] (the emulator's own) and deterministic payloads |
//! | [`client`] | a plain HTTP/1.1 client: one request per fresh connection |
//! | [`ports`] | loopback ports for servers that listen later |
//!
//! The control plane itself ([`crate::control_plane::ControlPlane`]) is production code of the
//! emulator and is used as it is. Helpers here may panic with a message when what a test relies
//! on fails (that is how a test fails); every wait takes a timeout.

pub mod app;
pub mod bodies;
pub mod client;
pub mod events;
pub mod ports;
pub mod process;
pub mod raw_app;

pub use app::{BodySender, HeldEchoes, RecordedRequest, Reply, TestApp, TestAppBuilder};
pub use bodies::ChannelBody;
pub use events::HttpEvent;
pub use process::{LogLine, ProcessCommand, Stream, TestProcess};
pub use raw_app::{RawAnswer, RawApp, RawRequest};
