//! SnapStart (SPEC LIF-3, LIF-8, LIF-9): the checkpoint and the restore, bridged to the app.
//!
//! With `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`, Lambda snapshots the initialised environment
//! while the runtime waits on `GET /runtime/restore/next`, and answers that call in a restored copy,
//! maybe much later and on another machine. The app cannot see this, so the adapter tells it:
//!
//! ```text
//! app ready ─▶ POST before-checkpoint hook ─▶ restore/next … snapshot … restored
//!           ─▶ forget every pre-snapshot connection ─▶ POST after-restore hook
//!           ─▶ readiness again ─▶ invocations
//! ```
//!
//! The monotonic clock does not advance across the snapshot gap, so an idle pooled connection's
//! age lies; none opened before the snapshot is used after it (LIF-3). A hook that fails (non-2xx,
//! no connection, no answer in [`HOOK_TIMEOUT`]) fails its phase: init before the snapshot,
//! restore after it, each with one log line and the error type `Adapter.SnapStartHookFailed`.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::uri::PathAndQuery;
use http::Method;
use http_body_util::Full;

use crate::body::read_all;
use crate::client::AppClient;
use crate::config::{Initialization, Settings};
use crate::error::{AdapterError, Error, ErrorKind};
use crate::readiness::ReadinessCheck;
use crate::request::BasePath;
use crate::runtime_api::{retry, RuntimeApi};

/// LIF-8: how long a hook may take to answer.
pub(crate) const HOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// What the adapter needs around the snapshot: the app's client and readiness check, the hooks.
pub(crate) struct SnapStart {
    app: AppClient,
    readiness: ReadinessCheck,
    before_checkpoint: Option<PathAndQuery>,
    after_restore: Option<PathAndQuery>,
    readiness_timeout: Option<Duration>,
}

impl SnapStart {
    /// The SnapStart steps for an environment that is snapshotted; `None` for any other.
    pub(crate) fn new(
        settings: &Settings,
        app: &AppClient,
        readiness: &ReadinessCheck,
    ) -> Option<SnapStart> {
        (settings.initialization == Initialization::SnapStart).then(|| SnapStart {
            app: app.clone(),
            readiness: readiness.clone(),
            before_checkpoint: settings.before_checkpoint_hook.clone(),
            after_restore: settings.after_restore_hook.clone(),
            readiness_timeout: settings.readiness_timeout,
        })
    }

    /// LIF-8: the before-checkpoint hook, the snapshot (`restore/next`), then, in the restored
    /// environment, fresh connections, the after-restore hook and the app ready again. A failure
    /// is reported to the Runtime API and returned (for its one log line) to end the adapter.
    pub(crate) async fn checkpoint_and_restore(&self, api: &RuntimeApi) -> Result<(), Error> {
        if let Some(path) = &self.before_checkpoint {
            if let Err(error) = call_hook(&self.app, path, "before-checkpoint").await {
                let _ = retry("init/error", || api.init_error(&error)).await;
                return Err(Box::new(error));
            }
        }
        tracing::info!("ready for the SnapStart snapshot: waiting for the restore");
        retry("restore/next", || api.restore_next()).await?;
        self.app.forget_idle();
        self.readiness.forget_idle();
        if let Err(error) = self.after_restore().await {
            let _ = retry("restore/error", || api.restore_error(&error)).await;
            return Err(Box::new(error));
        }
        tracing::info!("restored from the SnapStart snapshot");
        Ok(())
    }

    async fn after_restore(&self) -> Result<(), AdapterError> {
        if let Some(path) = &self.after_restore {
            call_hook(&self.app, path, "after-restore").await?;
        }
        self.readiness
            .wait(self.readiness_timeout)
            .await
            .map(drop)
            .map_err(|not_ready| {
                AdapterError::new(
                    ErrorKind::AppNotReady,
                    format!(
                        "the app was not ready {:.1}s after the SnapStart restore \
                         (AWS_LWA_READINESS_CHECK_TIMEOUT_SECONDS); last: {}",
                        not_ready.waited.as_secs_f64(),
                        not_ready.last
                    ),
                )
            })
    }
}

/// `POST path` to the app at `app` with an empty body: a 2xx answer within [`HOOK_TIMEOUT`] is
/// success.
async fn call_hook(app: &AppClient, path: &PathAndQuery, phase: &str) -> Result<(), AdapterError> {
    let failed = |why: String| {
        AdapterError::new(
            ErrorKind::SnapStartHook,
            format!("the SnapStart {phase} hook POST {path} {why}"),
        )
    };
    let mut request = http::Request::new(Full::<Bytes>::default());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = path.clone().into();
    if let Ok(host) = HeaderValue::from_str(app.address()) {
        request.headers_mut().insert(HOST, host);
    }
    let answer = async {
        let response = app.forward(request).await?;
        let status = response.status();
        let body = read_all(response.into_body()).await.unwrap_or_default();
        Ok::<_, AdapterError>((status, body))
    };
    match tokio::time::timeout(HOOK_TIMEOUT, answer).await {
        Err(_) => Err(failed(format!(
            "did not answer within {} s",
            HOOK_TIMEOUT.as_secs()
        ))),
        Ok(Err(error)) => Err(failed(format!("failed: {}", error.message()))),
        Ok(Ok((status, _))) if status.is_success() => {
            tracing::info!("the SnapStart {phase} hook POST {path} answered {status}");
            Ok(())
        }
        Ok(Ok((status, body))) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            Err(failed(format!("answered {status}: {}", text.trim())))
        }
    }
}

/// LIF-9: the hook paths, which no invocation may reach; requests for them get a `403` from the
/// adapter. Paths are compared as an app would route them: percent-decoded, repeated and
/// trailing slashes ignored.
#[derive(Clone, Debug, Default)]
pub(crate) struct HookPaths {
    routes: Vec<String>,
    /// The base path the app's requests lose on the way (EVT-5).
    base_path: Option<BasePath>,
}

impl HookPaths {
    pub(crate) fn new(settings: &Settings) -> HookPaths {
        let hooks = [
            &settings.before_checkpoint_hook,
            &settings.after_restore_hook,
        ];
        HookPaths {
            routes: hooks
                .into_iter()
                .flatten()
                .map(|path| route(path.path()))
                .collect(),
            base_path: settings.rules.base_path.clone(),
        }
    }

    /// Whether a request for `path` (the event's, before the base path is removed) targets a hook.
    pub(crate) fn guards(&self, path: &str) -> bool {
        if self.routes.is_empty() {
            return false;
        }
        let path = match &self.base_path {
            Some(base) => base.strip(path),
            None => path,
        };
        self.routes.contains(&route(path))
    }
}

/// `path` as a router sees it: percent-decoded, without empty segments, lower-case.
fn route(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", segments.join("/")).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_paths_are_guarded_in_every_spelling() {
        // covers LIF-9
        let hooks = HookPaths {
            routes: vec![route("/_snapstart/before")],
            base_path: BasePath::new("/prod"),
        };
        for path in [
            "/_snapstart/before",
            "/_snapstart/before/",
            "//_snapstart//before",
            "/_snapstart%2Fbefore",
            "/_SnapStart/Before",
            "/%5Fsnapstart/before",
            "/prod/_snapstart/before",
        ] {
            assert!(hooks.guards(path), "{path}");
        }
        for path in ["/", "/_snapstart", "/_snapstart/before/x", "/before"] {
            assert!(!hooks.guards(path), "{path}");
        }
        assert!(!HookPaths::default().guards("/_snapstart/before"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hook_that_never_answers_fails_after_60_seconds() {
        // covers LIF-8 (the 60 s bound; the paused clock moves on while the app says nothing)
        use lambda_emulator::testing::raw_app::{RawAnswer, RawApp};
        let app = RawApp::start(None, |_| RawAnswer::WriteAndHold(Vec::new())).await;
        let client = AppClient::new(format!("127.0.0.1:{}", app.port()), Duration::ZERO);
        let path = PathAndQuery::from_static("/_snapstart/before");
        let started = tokio::time::Instant::now();
        let error = call_hook(&client, &path, "before-checkpoint")
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::SnapStartHook);
        assert!(
            error.message().contains("did not answer within 60 s"),
            "{error}"
        );
        assert!(started.elapsed() >= HOOK_TIMEOUT);
        assert_eq!(app.requests_to("/_snapstart/before").len(), 1);
    }
}
