//! The `lambda-emulator` command line (SPEC PKG-6, EMU-*): `lambda-emulator [options] -- <app
//! command...>`, and the sample-event commands `events`, `event NAME` and `invoke EVENT` (EMU-4),
//! parsed by hand into a [`Command`], with the `--help` text beside the parser so the two cannot
//! drift apart.
//!
//! Every option takes its value as `--name value` or `--name=value`. The app command is everything
//! after `--` (or from the first argument that is not an option); it is kept as `OsString`s, since
//! it is handed to the operating system unchanged.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::front_door::EventSource;

/// The front door's default port (the one the official Runtime Interface Emulator uses).
pub const DEFAULT_PORT: u16 = 9000;
/// Lambda's default function timeout is 3 s; 30 s suits a web app behind a Function URL better.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Lambda's init phase for on-demand functions is bounded by 10 s (EMU-1).
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_FUNCTION_NAME: &str = "function";

/// The `--help` text.
pub const HELP: &str = "\
lambda-emulator: run a web app behind lambda-adapter on your machine, as AWS Lambda would

USAGE:
    lambda-emulator [OPTIONS] -- <APP COMMAND>...
    lambda-emulator events                  List the built-in sample events
    lambda-emulator event NAME              Print one (to edit, or to send with curl -d @file)
    lambda-emulator invoke [--port N] EVENT Send a sample (by NAME), a file, or - (stdin) to a
                                            running emulator's Invoke endpoint; print the result

Starts a local Lambda control plane (Runtime API + Extensions API), then the extension
(lambda-adapter) and, once it has registered, your app. Plain HTTP requests to the front door
become Lambda events of the chosen source; the function's result becomes the HTTP response.
Raw events (SQS, SNS, ...) can be sent to POST /2015-03-31/functions/function/invocations.
Your environment is passed to both processes, so AWS_LWA_* variables configure the adapter.
Without an app command only the extension is started: run your app yourself. An app or
extension that exits ends its environment (the request in flight gets a 502 with
Runtime.ExitError); the next request starts a fresh one, as on Lambda. Each request prints an
access line and Lambda's REPORT line; the inspector shows every invocation in a browser.

OPTIONS:
    --port N                 Front-door port on 127.0.0.1 [default: 9000; 0 = any free port,
                             the chosen address is printed]
    --runtime-api-port N     Runtime/Extensions API port on 127.0.0.1 [default: 0 = any free port]
    --extension PATH         The extension executable [default: lambda-adapter next to this
                             program, else target/release/lambda-adapter or
                             target/debug/lambda-adapter in the current directory, else
                             lambda-adapter on PATH]
    --source SOURCE          Event source the front door emulates: function-url, v2 (HTTP API),
                             v1 (REST API), alb, alb-multi (ALB with multi-value headers),
                             lattice (VPC Lattice) [default: function-url]
    --timeout SECONDS        Function timeout: sets each invocation's deadline; past it the
                             front door answers 504 [default: 30]
    --concurrency N          Invocations at once; above 1 the extension gets
                             AWS_LAMBDA_MAX_CONCURRENCY=N [default: 1]
    --function-name NAME     AWS_LAMBDA_FUNCTION_NAME [default: function]
    --init-timeout SECONDS   Bound on the init (the extension registers, the app gets ready): a
                             request waits at most this long, then gets a 502 that says why
                             [default: 10, Lambda's]
    --inspector-port N       The inspector, a web page of every invocation (event, response, log
                             lines), on 127.0.0.1 [default: the front door's port + 1, or any
                             free port if that is taken; 0 = any free port]
    --no-inspector           No inspector
    --watch PATH             Restart the app (a fresh environment, a new init) when files under
                             PATH change; may be repeated (polls every 0.3 s; hidden files,
                             node_modules, target, __pycache__, venv, vendor are not watched)
    --snapstart              SnapStart: AWS_LAMBDA_INITIALIZATION_TYPE=snap-start; after the init
                             the snapshot is taken (restore/next is held), restored after a
                             pause, and each phase is printed
    --env-file FILE          Variables for the app and the extension, one NAME=value a line
                             (dotenv; may be repeated, later files win; variables already set
                             in your environment win over the file)
    -h, --help               Print this help
    -V, --version            Print the version

Ctrl-C (or SIGTERM) stops the app with SIGTERM (SIGKILL after 2 s), then the extension, as
Lambda does at shutdown.

EXAMPLE:
    AWS_LWA_PORT=8000 lambda-emulator --port 9000 -- python3 -m http.server 8000
    curl -i http://127.0.0.1:9000/
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Run(Options),
    Help,
    Version,
    /// `lambda-emulator events`: list the sample events.
    ListEvents,
    /// `lambda-emulator event NAME`: print one sample event.
    PrintEvent(String),
    /// `lambda-emulator invoke [--port N] EVENT`: send an event to a running emulator.
    Invoke {
        port: u16,
        event: String,
    },
}

/// Where the inspector listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectorPort {
    /// The front door's port + 1 (any free port when the front door's is 0, or that one is taken).
    BesideFrontDoor,
    /// This port (0: any free one); the emulator stops if it is taken.
    Port(u16),
    /// `--no-inspector`.
    Off,
}

/// The settings of one emulator run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Front-door port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Control-plane port on 127.0.0.1; 0 picks a free one.
    pub runtime_api_port: u16,
    /// `None`: look for `lambda-adapter` (see [`HELP`]).
    pub extension: Option<PathBuf>,
    pub source: EventSource,
    pub timeout: Duration,
    pub concurrency: usize,
    pub function_name: String,
    pub init_timeout: Duration,
    /// `--env-file`s, in order.
    pub env_files: Vec<PathBuf>,
    /// `--snapstart`.
    pub snapstart: bool,
    /// `--watch` paths.
    pub watch: Vec<PathBuf>,
    pub inspector: InspectorPort,
    /// Program and arguments; empty when the user runs the app on their own.
    pub app: Vec<OsString>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: DEFAULT_PORT,
            runtime_api_port: 0,
            extension: None,
            source: EventSource::FunctionUrl,
            timeout: DEFAULT_TIMEOUT,
            concurrency: 1,
            function_name: DEFAULT_FUNCTION_NAME.to_owned(),
            init_timeout: DEFAULT_INIT_TIMEOUT,
            env_files: Vec::new(),
            snapstart: false,
            watch: Vec::new(),
            inspector: InspectorPort::BesideFrontDoor,
            app: Vec::new(),
        }
    }
}

/// A command line that cannot be run; the message names the option and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = OsString>,
{
    let mut options = Options::default();
    let mut args = args.into_iter().peekable();
    match args.peek().and_then(|first| first.to_str()) {
        Some("events") => return Ok(Command::ListEvents),
        Some("event") => {
            args.next();
            let name = args
                .next()
                .and_then(|name| name.into_string().ok())
                .ok_or_else(|| {
                    CliError("event needs a NAME (see `lambda-emulator events`)".into())
                })?;
            return Ok(Command::PrintEvent(name));
        }
        Some("invoke") => {
            args.next();
            return parse_invoke(args);
        }
        _ => {}
    }
    while let Some(arg) = args.next() {
        if arg == "--" {
            options.app.extend(args);
            break;
        }
        let Some(text) = arg.to_str().filter(|text| text.starts_with('-')) else {
            // The app command starts at the first argument that is not an option.
            options.app.push(arg);
            options.app.extend(args);
            break;
        };
        let (name, inline_value) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (text, None),
        };
        match name {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--snapstart" if inline_value.is_none() => {
                options.snapstart = true;
                continue;
            }
            "--no-inspector" if inline_value.is_none() => {
                options.inspector = InspectorPort::Off;
                continue;
            }
            _ => {}
        }
        let mut value = || match &inline_value {
            Some(value) => Ok(value.clone()),
            None => args
                .next()
                .ok_or_else(|| CliError(format!("{name} needs a value")))?
                .into_string()
                .map_err(|_| CliError(format!("the value of {name} is not valid UTF-8"))),
        };
        match name {
            "--port" => options.port = port(name, &value()?)?,
            "--runtime-api-port" => options.runtime_api_port = port(name, &value()?)?,
            "--inspector-port" => {
                options.inspector = InspectorPort::Port(port(name, &value()?)?);
            }
            "--extension" => options.extension = Some(PathBuf::from(non_empty(name, value()?)?)),
            "--source" => {
                let value = value()?;
                options.source = EventSource::from_name(&value).ok_or_else(|| {
                    CliError(format!(
                        "--source {value:?} is not one of function-url, v2, v1, alb, alb-multi, lattice"
                    ))
                })?;
            }
            "--timeout" => options.timeout = seconds(name, &value()?)?,
            "--init-timeout" => options.init_timeout = seconds(name, &value()?)?,
            "--concurrency" => {
                let value = value()?;
                options.concurrency =
                    value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| {
                            CliError(format!(
                                "--concurrency {value:?} is not a number of 1 or more"
                            ))
                        })?;
            }
            "--function-name" => options.function_name = non_empty(name, value()?)?,
            "--env-file" => options
                .env_files
                .push(PathBuf::from(non_empty(name, value()?)?)),
            "--watch" => options
                .watch
                .push(PathBuf::from(non_empty(name, value()?)?)),
            _ => return Err(CliError(format!("unknown option {name}"))),
        }
    }
    Ok(Command::Run(options))
}

/// `invoke [--port N] EVENT`.
fn parse_invoke(args: impl Iterator<Item = OsString>) -> Result<Command, CliError> {
    let mut port = DEFAULT_PORT;
    let mut event = None;
    let mut args = args.map(|arg| {
        arg.into_string()
            .map_err(|_| CliError("invoke's arguments must be valid UTF-8".into()))
    });
    while let Some(arg) = args.next() {
        let arg = arg?;
        if let Some(value) = arg.strip_prefix("--port=") {
            port = self::port("--port", value)?;
        } else if arg == "--port" {
            let value = args
                .next()
                .ok_or_else(|| CliError("--port needs a value".into()))??;
            port = self::port("--port", &value)?;
        } else if event.is_none() && (arg == "-" || !arg.starts_with('-')) {
            event = Some(arg);
        } else {
            return Err(CliError(format!("invoke: unexpected argument {arg:?}")));
        }
    }
    let event = event.ok_or_else(|| {
        CliError("invoke needs an EVENT: a sample name, a file, or - for stdin".into())
    })?;
    Ok(Command::Invoke { port, event })
}

fn port(name: &str, value: &str) -> Result<u16, CliError> {
    value
        .parse::<u16>()
        .map_err(|_| CliError(format!("{name} {value:?} is not a port (0-65535)")))
}

/// Whole or fractional seconds, more than zero.
fn seconds(name: &str, value: &str) -> Result<Duration, CliError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            CliError(format!(
                "{name} {value:?} is not a number of seconds above 0"
            ))
        })
}

fn non_empty(name: &str, value: String) -> Result<String, CliError> {
    if value.trim().is_empty() {
        Err(CliError(format!("{name} needs a non-empty value")))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, CliError> {
        match parse(args.iter().map(OsString::from))? {
            Command::Run(options) => Ok(options),
            other => panic!("expected a run, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let options = run(&["--", "python3", "app.py"]).unwrap();
        assert_eq!(
            options,
            Options {
                app: vec!["python3".into(), "app.py".into()],
                ..Options::default()
            }
        );
        assert_eq!(options.port, 9000);
        assert_eq!(options.runtime_api_port, 0);
        assert_eq!(options.source, EventSource::FunctionUrl);
        assert_eq!(options.timeout, Duration::from_secs(30));
        assert_eq!(options.init_timeout, Duration::from_secs(10));
        assert_eq!(options.concurrency, 1);
    }

    #[test]
    fn every_option_in_both_spellings() {
        let options = run(&[
            "--port",
            "0",
            "--runtime-api-port=9001",
            "--extension",
            "/opt/extensions/lambda-adapter",
            "--source=alb-multi",
            "--timeout",
            "1.5",
            "--concurrency=4",
            "--function-name",
            "shop",
            "--init-timeout",
            "2",
            "--env-file",
            ".env",
            "--env-file=local.env",
            "--snapstart",
            "--watch",
            "src",
            "--inspector-port=9100",
            "--",
            "npm",
            "--prefix",
            "web",
            "start",
        ])
        .unwrap();
        assert_eq!(options.port, 0);
        assert_eq!(options.runtime_api_port, 9001);
        assert_eq!(
            options.extension,
            Some(PathBuf::from("/opt/extensions/lambda-adapter"))
        );
        assert_eq!(options.source, EventSource::AlbMultiValue);
        assert_eq!(options.timeout, Duration::from_millis(1500));
        assert_eq!(options.concurrency, 4);
        assert_eq!(options.function_name, "shop");
        assert_eq!(options.init_timeout, Duration::from_secs(2));
        assert_eq!(
            options.env_files,
            [PathBuf::from(".env"), PathBuf::from("local.env")]
        );
        assert!(options.snapstart);
        assert_eq!(options.watch, [PathBuf::from("src")]);
        assert_eq!(options.inspector, InspectorPort::Port(9100));
        assert_eq!(
            run(&["--no-inspector"]).unwrap().inspector,
            InspectorPort::Off
        );
        // Options after `--` belong to the app.
        assert_eq!(options.app, ["npm", "--prefix", "web", "start"]);
    }

    #[test]
    fn the_app_command_may_start_without_a_separator() {
        let options = run(&["--port", "1", "node", "--inspect", "server.js"]).unwrap();
        assert_eq!(options.app, ["node", "--inspect", "server.js"]);
    }

    #[test]
    fn no_app_command_is_allowed() {
        assert!(run(&["--source", "v1"]).unwrap().app.is_empty());
    }

    #[test]
    fn help_and_version() {
        for help in ["-h", "--help"] {
            assert_eq!(parse([OsString::from(help)]), Ok(Command::Help));
        }
        assert_eq!(parse([OsString::from("-V")]), Ok(Command::Version));
        for option in [
            "--port",
            "--runtime-api-port",
            "--extension",
            "--source",
            "--timeout",
            "--concurrency",
            "--function-name",
            "--init-timeout",
            "--env-file",
            "--snapstart",
            "--watch",
            "--inspector-port",
            "--no-inspector",
        ] {
            assert!(HELP.contains(option), "{option} is missing from --help");
        }
    }

    #[test]
    fn emu4_sample_event_commands() {
        let parse_all = |args: &[&str]| parse(args.iter().map(OsString::from));
        assert_eq!(parse_all(&["events"]), Ok(Command::ListEvents));
        assert_eq!(
            parse_all(&["event", "sqs"]),
            Ok(Command::PrintEvent("sqs".into()))
        );
        assert!(parse_all(&["event"]).unwrap_err().0.contains("NAME"));
        assert_eq!(
            parse_all(&["invoke", "sqs"]),
            Ok(Command::Invoke {
                port: 9000,
                event: "sqs".into()
            })
        );
        assert_eq!(
            parse_all(&["invoke", "--port", "9100", "-"]),
            Ok(Command::Invoke {
                port: 9100,
                event: "-".into()
            })
        );
        assert_eq!(
            parse_all(&["invoke", "ev.json", "--port=1"]),
            Ok(Command::Invoke {
                port: 1,
                event: "ev.json".into()
            })
        );
        assert!(parse_all(&["invoke"]).is_err());
        assert!(parse_all(&["invoke", "a", "b"]).is_err());
        // After `--`, `events` is an app command like any other.
        assert_eq!(run(&["--", "events"]).unwrap().app, ["events"]);
    }

    #[test]
    fn bad_values_name_the_option_and_value() {
        for (args, expected) in [
            (&["--port", "70000"][..], "--port \"70000\""),
            (&["--port"][..], "--port needs a value"),
            (&["--timeout", "0"][..], "--timeout \"0\""),
            (&["--timeout=-3"][..], "--timeout \"-3\""),
            (&["--init-timeout", "soon"][..], "--init-timeout \"soon\""),
            (&["--concurrency", "0"][..], "--concurrency \"0\""),
            (&["--source", "sqs"][..], "--source \"sqs\""),
            (&["--function-name", " "][..], "--function-name needs"),
            (&["--env-file"][..], "--env-file needs a value"),
            (&["--verbose"][..], "unknown option --verbose"),
        ] {
            let err = run(args).unwrap_err();
            assert!(err.0.contains(expected), "{args:?}: {err}");
        }
    }
}
