//! Start-up order, registration, SnapStart's connections and the Lambda variables the runtime
//! client needs (SPEC LIF-1, LIF-2, LIF-3, LIF-7), seen from outside the real `lambda-adapter`
//! binary. The SnapStart hooks are in `snapstart.rs`.

mod support;

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use support::{
    adapter_command, events, final_output, invoke, spawn_adapter, wait_runtime_loop,
    AdapterProcess, ControlPlane, ControlPlaneConfig, TestApp, TIMEOUT,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// LIF-1 order
// ---------------------------------------------------------------------------------------------

// covers LIF-1
#[tokio::test]
async fn lif1_registers_and_parks_before_the_app_is_ready_and_polls_next_only_after() {
    let app = TestApp::builder().not_ready().start().await.unwrap();
    let port = app.port().to_string();
    let cp = ControlPlane::start().await.unwrap();
    let adapter = spawn_adapter(&cp, &[("AWS_LWA_PORT", &port)]);

    // The registration arrives, and the extension parks, while every probe still fails.
    let parked = cp
        .wait_parked(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no registration; output:\n{}", adapter.logs()));
    assert!(cp.wait_extension_parked(&parked.id, TIMEOUT).await);
    let probes_at_park = app.probes().len();
    // Readiness goes on failing after the registration: the registration did not wait for it.
    assert!(
        app.wait_probes(probes_at_park + 5, TIMEOUT).await.is_some(),
        "readiness probes go on; output:\n{}",
        adapter.logs()
    );
    assert_eq!(
        cp.next_calls_total(),
        0,
        "no runtime call before the app is ready"
    );
    assert!(cp.is_parked(&parked.id));

    app.set_ready();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/after-ready")).await;
    assert!(!result.is_error(), "{}", result.describe());
    assert_eq!(cp.registrations().len(), 1, "one registration");
}

// covers LIF-1, RDY-1
#[tokio::test]
async fn lif1_registers_even_while_nothing_listens_on_the_app_port() {
    let port = TestApp::reserve_port();
    let cp = ControlPlane::start().await.unwrap();
    let adapter = spawn_adapter(&cp, &[("AWS_LWA_PORT", &port.to_string())]);
    let parked = cp
        .wait_parked(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no registration; output:\n{}", adapter.logs()));
    assert!(cp.wait_extension_parked(&parked.id, TIMEOUT).await);
    assert_eq!(cp.next_calls_total(), 0);
    assert!(adapter.is_running());

    let app = TestApp::builder()
        .start_on(port)
        .await
        .expect("the reserved port is still free");
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/late")).await;
    assert!(!result.is_error(), "{}", result.describe());
    assert!(app.wait_request(TIMEOUT).await.is_some());
}

// ---------------------------------------------------------------------------------------------
// LIF-2 registration
// ---------------------------------------------------------------------------------------------

// covers LIF-2
#[tokio::test]
async fn lif2_registers_as_lambda_adapter_with_no_events_then_parks() {
    let app = TestApp::start().await.unwrap();
    let port = app.port().to_string();
    let cp = ControlPlane::start().await.unwrap();
    let adapter = spawn_adapter(&cp, &[("AWS_LWA_PORT", &port)]);

    let registration = cp
        .wait_registered(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no registration; output:\n{}", adapter.logs()));
    assert_eq!(registration.name, "lambda-adapter");
    assert_eq!(
        registration
            .headers
            .get("lambda-extension-name")
            .map(|v| v.as_bytes()),
        Some(&b"lambda-adapter"[..])
    );
    assert!(registration.events.is_empty(), "{:?}", registration.events);
    let parked = cp.wait_parked(TIMEOUT).await.expect("parks on event/next");
    assert_eq!(parked.id, registration.id);
    assert!(cp.wait_extension_parked(&registration.id, TIMEOUT).await);

    // Parked for good: invocations do not disturb it (it subscribed to nothing).
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/x")).await;
    assert!(!result.is_error(), "{}", result.describe());
    assert!(cp.is_parked(&registration.id));
    assert_eq!(cp.registrations().len(), 1);
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let unique = format!(
            "lambda-adapter-{tag}-{}-{}",
            std::process::id(),
            TestApp::reserve_port()
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).expect("a temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// covers LIF-2
#[tokio::test]
async fn lif2_extension_name_is_the_executable_file_name() {
    // As if installed as /opt/extensions/my-web-adapter.
    let dir = TempDir::new("name");
    let program = dir.0.join("my-web-adapter");
    std::os::unix::fs::symlink(support::adapter::ADAPTER_BINARY, &program).expect("a symlink");

    let app = TestApp::start().await.unwrap();
    let cp = ControlPlane::start().await.unwrap();
    let adapter = adapter_command(cp.addr())
        .program(&program)
        .env("AWS_LWA_PORT", app.port().to_string())
        .spawn()
        .expect("the adapter starts under another name");
    let registration = cp
        .wait_registered(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no registration; output:\n{}", adapter.logs()));
    assert_eq!(registration.name, "my-web-adapter");
    assert!(cp.wait_extension_parked(&registration.id, TIMEOUT).await);
}

// covers LIF-2
#[tokio::test]
async fn lif2_failed_registration_logs_why_and_exits_1() {
    // Nothing listens on either port: registration is refused, and the app is never ready, so
    // the runtime loop cannot fail first.
    let dead_api = SocketAddr::from((Ipv4Addr::LOCALHOST, TestApp::reserve_port()));
    let app_port = TestApp::reserve_port().to_string();
    let adapter = adapter_command(dead_api)
        .env("AWS_LWA_PORT", &app_port)
        .spawn()
        .expect("the adapter binary starts");
    let status = adapter
        .wait_exit(TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("did not exit; output:\n{}", adapter.logs()));
    let logs = final_output(&adapter).await;
    assert_eq!(status.code(), Some(1), "{status}; output:\n{logs}");
    let expected = format!("registration with the Extensions API at {dead_api} failed");
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&expected)).collect();
    assert_eq!(lines.len(), 1, "{logs}");
    assert!(
        lines[0].trim_start().starts_with("ERROR "),
        "{:?}",
        lines[0]
    );
}

// ---------------------------------------------------------------------------------------------
// LIF-3 SnapStart: no reuse of pooled app connections
// ---------------------------------------------------------------------------------------------

/// One request as seen by [`PeerApp`].
#[derive(Debug, Clone)]
struct Seen {
    /// The client's port: one per TCP connection.
    peer_port: u16,
    path: String,
    /// Carries `x-amzn-lambda-context`: a forwarded invocation, not a probe.
    forwarded: bool,
}

/// A minimal HTTP/1.1 app (keep-alive on) that records which TCP connection each request came
/// on, which the shared `TestApp` does not record.
struct PeerApp {
    addr: SocketAddr,
    seen: Arc<watch::Sender<Vec<Seen>>>,
    accept_loop: JoinHandle<()>,
}

impl PeerApp {
    async fn start() -> PeerApp {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(watch::Sender::new(Vec::new()));
        let recorder = seen.clone();
        let accept_loop = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let recorder = recorder.clone();
                        async move {
                            let forwarded = request.headers().contains_key("x-amzn-lambda-context");
                            let path = request.uri().path().to_owned();
                            let _ = request.into_body().collect().await;
                            recorder.send_modify(|seen| {
                                seen.push(Seen {
                                    peer_port: peer.port(),
                                    path,
                                    forwarded,
                                })
                            });
                            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
                            response
                                .headers_mut()
                                .insert("content-type", "text/plain".parse().unwrap());
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        PeerApp {
            addr,
            seen,
            accept_loop,
        }
    }

    /// The adapter at `cp` with `AWS_LWA_PORT` set to this app's port, then `env`.
    fn spawn_adapter(&self, cp: &ControlPlane, env: &[(&str, &str)]) -> AdapterProcess {
        adapter_command(cp.addr())
            .env("AWS_LWA_PORT", self.addr.port().to_string())
            .envs(env.iter().copied())
            .spawn()
            .expect("the adapter binary starts")
    }

    /// Every request so far, probes included.
    fn seen(&self) -> Vec<Seen> {
        self.seen.borrow().clone()
    }

    fn forwarded(&self) -> Vec<Seen> {
        self.seen
            .borrow()
            .iter()
            .filter(|seen| seen.forwarded)
            .cloned()
            .collect()
    }
}

impl Drop for PeerApp {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// Three invocations one after the other; returns the peer port of each forwarded request.
async fn peer_ports_of_three_invocations(env: &[(&str, &str)]) -> Vec<u16> {
    let app = PeerApp::start().await;
    let cp = ControlPlane::start().await.unwrap();
    let adapter = app.spawn_adapter(&cp, env);
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    three_invocations(&cp, &adapter, &app).await
}

/// Three invocations one after the other; the peer port of each forwarded request.
async fn three_invocations(cp: &ControlPlane, adapter: &AdapterProcess, app: &PeerApp) -> Vec<u16> {
    for n in 0..3 {
        let path = format!("/req{n}");
        let result = invoke(cp, adapter, events::http_v2("GET", &path)).await;
        let response = result.json().expect("a buffered response");
        assert_eq!(response["statusCode"], 200, "{response}");
    }
    let forwarded = app.forwarded();
    let paths: Vec<&str> = forwarded.iter().map(|seen| seen.path.as_str()).collect();
    assert_eq!(paths, ["/req0", "/req1", "/req2"]);
    forwarded.iter().map(|seen| seen.peer_port).collect()
}

// covers LIF-3
#[tokio::test]
async fn lif3_no_connection_from_before_the_snapshot_is_used_after_the_restore() {
    let app = PeerApp::start().await;
    let cp = ControlPlane::start_with(ControlPlaneConfig {
        hold_restore: true,
        ..ControlPlaneConfig::default()
    })
    .await
    .unwrap();
    let adapter = app.spawn_adapter(&cp, &[("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")]);
    // The snapshot is taken while restore/next waits: the probes' connection is kept by then.
    assert!(
        cp.wait_restore_requested(TIMEOUT).await,
        "no restore/next; output:\n{}",
        adapter.logs()
    );
    let before: Vec<u16> = app.seen().iter().map(|seen| seen.peer_port).collect();
    assert!(!before.is_empty(), "the readiness probes came first");
    cp.restore();
    wait_runtime_loop(&cp, &adapter, TIMEOUT).await;
    let ports = three_invocations(&cp, &adapter, &app).await;
    assert!(
        ports.iter().all(|port| !before.contains(port)),
        "a connection from before the snapshot was used after it: {before:?} then {ports:?}"
    );
    assert!(
        ports.windows(2).all(|pair| pair[0] == pair[1]),
        "connections opened after the restore are pooled: {ports:?}"
    );
}

// covers LIF-3
#[tokio::test]
async fn lif3_without_snap_start_consecutive_requests_reuse_one_connection() {
    for env in [
        &[][..],
        &[("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")][..],
    ] {
        let ports = peer_ports_of_three_invocations(env).await;
        assert!(
            ports.windows(2).all(|pair| pair[0] == pair[1]),
            "{env:?}: one pooled connection: {ports:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// LIF-7 function name, memory size and version defaults
// ---------------------------------------------------------------------------------------------

/// The `env_config` of the `x-amzn-lambda-context` header of one forwarded request.
async fn env_config_with(env: &[(&str, &str)]) -> Value {
    let app = TestApp::start().await.unwrap();
    let port = app.port().to_string();
    let cp = ControlPlane::start().await.unwrap();
    let mut all = vec![("AWS_LWA_PORT", port.as_str())];
    all.extend_from_slice(env);
    let adapter = spawn_adapter(&cp, &all);
    let result = invoke(&cp, &adapter, events::http_v2("GET", "/context")).await;
    assert!(!result.is_error(), "{}", result.describe());
    let request = app
        .wait_request(TIMEOUT)
        .await
        .expect("a forwarded request");
    let context = request
        .header("x-amzn-lambda-context")
        .expect("the Lambda context header");
    let context: Value = serde_json::from_str(&context).expect("JSON");
    context["env_config"].clone()
}

// covers LIF-7
#[tokio::test]
async fn lif7_starts_without_function_variables_and_defaults_them() {
    // The harness gives the child an empty environment: no AWS_LAMBDA_FUNCTION_* at all.
    let config = env_config_with(&[]).await;
    assert_eq!(config["function_name"], "lambda-adapter", "{config}");
    assert_eq!(config["memory"], 128, "{config}");
    assert_eq!(config["version"], "$LATEST", "{config}");
}

// covers LIF-7
#[tokio::test]
async fn lif7_function_variables_are_used_when_set() {
    let config = env_config_with(&[
        ("AWS_LAMBDA_FUNCTION_NAME", "orders-api"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
    ])
    .await;
    assert_eq!(config["function_name"], "orders-api", "{config}");
    assert_eq!(config["memory"], 512, "{config}");
    assert_eq!(config["version"], "7", "{config}");
}
