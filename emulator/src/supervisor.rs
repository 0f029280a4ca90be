//! The emulator's life cycle (SPEC PKG-6, EMU-1, EMU-2, EMU-4, EMU-5, EMU-6): read the `--env-file`s, start
//! the front door on loopback, then the function's first execution environment (see
//! [`crate::environment`]: the extension, once it registered the app, Lambda's order), and run
//! until Ctrl-C or SIGTERM.
//!
//! An app or extension that exits ends only its environment: the emulator says so in one line and
//! the next request starts a fresh one, as Lambda does. Ctrl-C or SIGTERM stops the current
//! environment, the app with SIGTERM (SIGKILL after 2 s), then the extension (the SHUTDOWN event
//! and up to 2 s if it subscribed to it, SIGKILL otherwise), and exits 0.
//!
//! With `--watch`, a changed file gives the function a fresh environment (EMU-6). The
//! inspector (EMU-5) is served beside the front door unless `--no-inspector`.
//!
//! Each step prints one `[emulator] ` line, so the order can be followed (and tested).

use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;

use tokio::signal::unix::{signal, SignalKind};

use crate::cli::{InspectorPort, Options};
use crate::control_plane::FunctionConfig;
use crate::environment::{EnvironmentConfig, Function};
use crate::front_door::{Front, FrontDoor, FrontDoorConfig};
use crate::inspector::server::InspectorServer;
use crate::inspector::Inspector;
use crate::process::Signal;

/// The extension's file name; also the name it registers under.
pub const EXTENSION_NAME: &str = "lambda-adapter";
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`: Lambda's default memory size.
pub const MEMORY_SIZE_MB: u32 = 128;

/// Runs the emulator until Ctrl-C / SIGTERM (exit status 0); exit status 1 when it cannot start,
/// 2 for an unusable `--env-file`.
pub async fn run(options: Options) -> ExitCode {
    let mut shutdown = match ShutdownSignals::install() {
        Ok(shutdown) => shutdown,
        Err(err) => {
            say!("cannot listen for Ctrl-C / SIGTERM: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(message) = crate::watch::check(&options.watch) {
        say!("{message}");
        return ExitCode::from(2);
    }
    let env_file = match load_env_files(&options.env_files) {
        Ok(env_file) => env_file,
        Err(message) => {
            say!("{message}");
            return ExitCode::from(2);
        }
    };
    let user_env = |name: &str| {
        env_file
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok())
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let extension = match locate_extension(
        options.extension.as_deref(),
        std::env::current_exe().ok().as_deref(),
        &cwd,
        std::env::var_os("PATH").as_deref(),
    ) {
        Ok(path) => path,
        Err(message) => {
            say!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let handler = options.app.first().map_or_else(
        || "bootstrap".to_owned(),
        |program| program.to_string_lossy().into_owned(),
    );
    let region = region(user_env);
    let (lambda_env, env_remove) = lambda_environment(&options, &cwd, &handler, user_env);
    // Lambda's own variables win over the file's.
    let env: Vec<(String, String)> = env_file.iter().cloned().chain(lambda_env).collect();
    let function = Function::new(EnvironmentConfig {
        extension,
        app: options.app.clone(),
        env,
        env_remove,
        function: FunctionConfig {
            function_name: options.function_name.clone(),
            handler,
            region: region.clone(),
            ..FunctionConfig::default()
        },
        runtime_api_port: options.runtime_api_port,
        init_timeout: options.init_timeout,
        snapstart: options.snapstart,
    });

    let front_door_config = FrontDoorConfig {
        source: options.source,
        timeout: options.timeout,
        concurrency: options.concurrency,
        front: Front { region },
        memory_size_mb: MEMORY_SIZE_MB,
    };
    let inspector =
        (options.inspector != InspectorPort::Off).then(|| Arc::new(Inspector::default()));
    let front_door = match FrontDoor::bind(
        loopback(options.port),
        front_door_config,
        function.clone(),
        inspector.clone(),
    )
    .await
    {
        Ok(front_door) => front_door,
        Err(err) => {
            say!(
                    "cannot listen on 127.0.0.1:{}: {err} (choose another --port, or 0 for any free one)",
                    options.port
                );
            return ExitCode::FAILURE;
        }
    };
    say!(
        "listening on http://{} ({} events, timeout {} s, concurrency {})",
        front_door.addr(),
        options.source,
        options.timeout.as_secs_f64(),
        options.concurrency
    );
    let _inspector_server = match inspector {
        Some(inspector) => match serve_inspector(&options, front_door.addr(), inspector).await {
            Ok(server) => Some(server),
            Err(message) => {
                say!("{message}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    // The first environment starts now, so that start-up problems show before any request.
    if function.environment().await.is_err() {
        return ExitCode::FAILURE;
    }
    let watcher = (!options.watch.is_empty())
        .then(|| tokio::spawn(crate::watch::watch(options.watch.clone(), function.clone())));

    let signal = shutdown.recv().await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    // No new requests while the environment shuts down.
    drop(front_door);
    say!("received {signal}: shutting down");
    function.shutdown().await;
    ExitCode::SUCCESS
}

/// Starts the inspector's server where `--inspector-port` says, and prints its address.
async fn serve_inspector(
    options: &Options,
    front_door: SocketAddr,
    inspector: Arc<Inspector>,
) -> Result<InspectorServer, String> {
    let info = json!({
        "functionName": options.function_name,
        "source": options.source.name(),
        "frontDoor": format!("http://{front_door}"),
        "timeoutSeconds": options.timeout.as_secs_f64(),
        "concurrency": options.concurrency,
    });
    let (wanted, fallback) = match options.inspector {
        InspectorPort::Port(port) => (port, false),
        // Beside the front door; any free port when that is taken (two emulators at once).
        _ if options.port == 0 || front_door.port() == u16::MAX => (0, false),
        _ => (front_door.port() + 1, true),
    };
    let mut bound = InspectorServer::bind(loopback(wanted), inspector.clone(), info.clone()).await;
    if bound.is_err() && fallback {
        bound = InspectorServer::bind(loopback(0), inspector, info).await;
    }
    let server = bound.map_err(|err| {
        format!(
            "cannot serve the inspector on 127.0.0.1:{wanted}: {err} (choose another --inspector-port, or --no-inspector)"
        )
    })?;
    say!(
        "inspector on http://{}/ (every invocation: its event, response and log lines)",
        server.addr()
    );
    Ok(server)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Ctrl-C (SIGINT) and SIGTERM, the two ways to stop the emulator.
struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<ShutdownSignals> {
        Ok(ShutdownSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The name of the next signal received.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            Some(()) = self.interrupt.recv() => Signal::Interrupt.name(),
            Some(()) = self.terminate.recv() => Signal::Terminate.name(),
            else => std::future::pending().await,
        }
    }
}

/// The extension to run: `explicit` (a path, or a bare name looked up on `PATH`), else
/// `lambda-adapter` next to the emulator's executable, in `target/release` or `target/debug`
/// under `cwd`, or on `PATH`.
pub fn locate_extension(
    explicit: Option<&Path>,
    current_exe: Option<&Path>,
    cwd: &Path,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, String> {
    let on_path = |name: &OsStr| {
        path_var
            .into_iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    };
    if let Some(explicit) = explicit {
        if explicit.is_file() {
            return Ok(explicit.to_path_buf());
        }
        let bare_name = explicit.components().count() == 1 && !explicit.has_root();
        return bare_name
            .then(|| on_path(explicit.as_os_str()))
            .flatten()
            .ok_or_else(|| format!("--extension {}: no such file", explicit.display()));
    }
    let beside_emulator = current_exe
        .and_then(Path::parent)
        .map(|dir| dir.join(EXTENSION_NAME));
    let in_target =
        ["release", "debug"].map(|profile| cwd.join("target").join(profile).join(EXTENSION_NAME));
    beside_emulator
        .into_iter()
        .chain(in_target)
        .find(|candidate| candidate.is_file())
        .or_else(|| on_path(OsStr::new(EXTENSION_NAME)))
        .ok_or_else(|| {
            format!(
                "no {EXTENSION_NAME} found next to lambda-emulator, in target/release or target/debug, or on PATH; \
                 build it with `cargo build --release --bin {EXTENSION_NAME}` or pass --extension PATH"
            )
        })
}

/// The variables of the `--env-file`s that the environment does not set already; says which
/// were set and which were left alone.
fn load_env_files(files: &[PathBuf]) -> Result<Vec<(String, String)>, String> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let parsed = files
        .iter()
        .map(|file| crate::env_file::read(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| err.to_string())?;
    let (applied, kept) = crate::env_file::merge(&parsed, |name| std::env::var_os(name).is_some());
    let names =
        |variables: &mut dyn Iterator<Item = &str>| variables.collect::<Vec<_>>().join(", ");
    let listed = files
        .iter()
        .map(|file| file.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    say!(
        "--env-file {listed}: set {}",
        if applied.is_empty() {
            "nothing".to_owned()
        } else {
            names(&mut applied.iter().map(|(name, _)| name.as_str()))
        }
    );
    if !kept.is_empty() {
        say!(
            "--env-file: kept from your environment (it wins over the file): {}",
            names(&mut kept.iter().map(String::as_str))
        );
    }
    Ok(applied)
}

/// The function's region: the user's `AWS_REGION` (or `AWS_DEFAULT_REGION`), else us-east-1.
pub fn region(user_env: impl Fn(&str) -> Option<String>) -> String {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .filter_map(&user_env)
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| FunctionConfig::default().region)
}

/// The variables Lambda sets for the runtime and the extensions (set on top of the user's own
/// environment, which both inherit), and those to remove; `AWS_LAMBDA_RUNTIME_API` is each
/// environment's own.
pub fn lambda_environment(
    options: &Options,
    task_root: &Path,
    handler: &str,
    user_env: impl Fn(&str) -> Option<String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let name = &options.function_name;
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            MEMORY_SIZE_MB.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            if options.snapstart {
                "snap-start"
            } else {
                "on-demand"
            }
            .to_owned(),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "local/[$LATEST]lambda-emulator".to_owned(),
        ),
        ("_HANDLER", handler.to_owned()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let region = region(&user_env);
    for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if user_env(variable).is_none_or(|value| value.is_empty()) {
            env.push((variable.to_owned(), region.clone()));
        }
    }
    let mut remove = Vec::new();
    if options.concurrency > 1 {
        env.push((
            "AWS_LAMBDA_MAX_CONCURRENCY".to_owned(),
            options.concurrency.to_string(),
        ));
    } else {
        remove.push("AWS_LAMBDA_MAX_CONCURRENCY".to_owned());
    }
    (env, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    #[test]
    fn lambda_environment_for_the_children() {
        let options = Options {
            function_name: "shop".to_owned(),
            concurrency: 3,
            ..Options::default()
        };
        let (env, remove) = lambda_environment(&options, Path::new("/srv/app"), "run.sh", |name| {
            (name == "AWS_REGION").then(|| "eu-west-1".to_owned())
        });
        assert_eq!(lookup(&env, "AWS_LAMBDA_RUNTIME_API"), None);
        assert_eq!(lookup(&env, "AWS_LAMBDA_FUNCTION_NAME"), Some("shop"));
        assert_eq!(lookup(&env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("128"));
        assert_eq!(lookup(&env, "AWS_LAMBDA_FUNCTION_VERSION"), Some("$LATEST"));
        assert_eq!(
            lookup(&env, "AWS_LAMBDA_INITIALIZATION_TYPE"),
            Some("on-demand")
        );
        assert_eq!(lookup(&env, "_HANDLER"), Some("run.sh"));
        assert_eq!(lookup(&env, "LAMBDA_TASK_ROOT"), Some("/srv/app"));
        assert_eq!(lookup(&env, "AWS_LAMBDA_MAX_CONCURRENCY"), Some("3"));
        // The user's region is kept; the missing one is filled in with it.
        assert_eq!(lookup(&env, "AWS_REGION"), None);
        assert_eq!(lookup(&env, "AWS_DEFAULT_REGION"), Some("eu-west-1"));
        assert!(remove.is_empty());

        let (env, remove) = lambda_environment(&Options::default(), Path::new("/"), "x", |_| None);
        assert_eq!(lookup(&env, "AWS_LAMBDA_MAX_CONCURRENCY"), None);
        assert_eq!(remove, ["AWS_LAMBDA_MAX_CONCURRENCY"]);
        let snapstart = Options {
            snapstart: true,
            ..Options::default()
        };
        let (env, _) = lambda_environment(&snapstart, Path::new("/"), "x", |_| None);
        assert_eq!(
            lookup(&env, "AWS_LAMBDA_INITIALIZATION_TYPE"),
            Some("snap-start")
        );
    }

    #[test]
    fn extension_lookup_order() {
        let dir =
            std::env::temp_dir().join(format!("lambda-emulator-lookup-{}", std::process::id()));
        let bin = dir.join("bin");
        let debug = dir.join("project/target/debug");
        let on_path = dir.join("path");
        for created in [&bin, &debug, &on_path] {
            std::fs::create_dir_all(created).unwrap();
        }
        let emulator = bin.join("lambda-emulator");
        let cwd = dir.join("project");
        let path_var = std::env::join_paths([&on_path]).unwrap();
        let find = |explicit: Option<&Path>| {
            locate_extension(explicit, Some(&emulator), &cwd, Some(&path_var))
        };

        assert!(find(None).unwrap_err().contains("--extension PATH"));
        std::fs::write(on_path.join(EXTENSION_NAME), "").unwrap();
        assert_eq!(find(None).unwrap(), on_path.join(EXTENSION_NAME));
        std::fs::write(debug.join(EXTENSION_NAME), "").unwrap();
        assert_eq!(find(None).unwrap(), debug.join(EXTENSION_NAME));
        std::fs::write(bin.join(EXTENSION_NAME), "").unwrap();
        assert_eq!(find(None).unwrap(), bin.join(EXTENSION_NAME));

        let explicit = debug.join(EXTENSION_NAME);
        assert_eq!(find(Some(&explicit)).unwrap(), explicit);
        assert_eq!(
            find(Some(Path::new(EXTENSION_NAME))).unwrap(),
            on_path.join(EXTENSION_NAME)
        );
        let missing = find(Some(Path::new("/nowhere/ext"))).unwrap_err();
        assert!(missing.contains("/nowhere/ext"), "{missing}");

        let _ = std::fs::remove_dir_all(&dir);
    }
}
