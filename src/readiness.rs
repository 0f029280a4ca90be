//! Waiting for the app to be ready (SPEC RDY-1 … RDY-5).
//!
//! A [`ReadinessCheck`] probes the app every 10 ms, over HTTP (a `GET` whose status must be in the
//! healthy set) or TCP (a connect), and logs every 2 s how long it has waited and what it saw last.
//! Probes are plain requests: no Lambda context headers, so the app never mistakes them for users.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::uri::PathAndQuery;
use http_body_util::Full;
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};

use crate::client::AppClient;
use crate::config::{Protocol, Settings};
use crate::error::describe;

/// Time between two probes.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(10);
/// Time between two "still waiting" log lines.
const REPORT_INTERVAL: Duration = Duration::from_secs(2);

/// What is probed, and which HTTP statuses count as ready.
#[derive(Clone, Debug)]
pub(crate) struct ReadinessCheck {
    target: Target,
    healthy_status: Vec<u16>,
}

#[derive(Clone, Debug)]
enum Target {
    /// `GET path` through `client`, with `Host: host`.
    Http {
        client: AppClient,
        path: PathAndQuery,
        host: Option<HeaderValue>,
    },
    Tcp(String),
}

/// The app did not become ready in time; `last` is the last status or error seen.
#[derive(Debug)]
pub(crate) struct NotReady {
    pub(crate) waited: Duration,
    pub(crate) last: String,
}

impl ReadinessCheck {
    /// The check the settings describe. An HTTP check of the app's own port probes through
    /// `app`, the app's client, so that the connection of the last probe serves the first
    /// invocation.
    pub(crate) fn new(settings: &Settings, app: &AppClient) -> Self {
        let authority = &settings.readiness_authority;
        let target = match settings.readiness_protocol {
            Protocol::Tcp => Target::Tcp(authority.clone()),
            Protocol::Http => {
                let client = if authority == app.address() {
                    app.clone()
                } else {
                    AppClient::new(authority.clone(), settings.pool_idle_timeout)
                };
                Target::Http {
                    host: HeaderValue::from_str(authority).ok(),
                    client,
                    path: settings.readiness_path.clone(),
                }
            }
        };
        ReadinessCheck {
            target,
            healthy_status: settings.healthy_status.clone(),
        }
    }

    /// Closes the probes' idle connections (LIF-3).
    pub(crate) fn forget_idle(&self) {
        if let Target::Http { client, .. } = &self.target {
            client.forget_idle();
        }
    }

    /// One probe: `Ok` when ready, else what was seen.
    async fn probe(&self) -> Result<(), String> {
        match &self.target {
            Target::Tcp(authority) => TcpStream::connect(authority.as_str())
                .await
                .map(drop)
                .map_err(|e| format!("tcp connect to {authority}: {e}")),
            Target::Http { client, path, host } => {
                let url = || format!("http://{}{path}", client.address());
                let mut request = http::Request::new(Full::<Bytes>::default());
                *request.uri_mut() = path.clone().into();
                if let Some(host) = host {
                    request.headers_mut().insert(HOST, host.clone());
                }
                let response = client
                    .send(request, false)
                    .await
                    .map_err(|(e, _)| format!("{}: {}", url(), describe(&e)))?;
                let status = response.status().as_u16();
                if self.healthy_status.contains(&status) {
                    Ok(())
                } else {
                    Err(format!("status {status} from {}", url()))
                }
            }
        }
    }

    /// Probes until the app is ready, or until `limit` has passed.
    pub(crate) async fn wait(&self, limit: Option<Duration>) -> Result<Duration, NotReady> {
        let started = Instant::now();
        let give_up = limit.map(|limit| started + limit);
        let mut next_report = started + REPORT_INTERVAL;
        let mut last = String::from("no answer yet");
        // Probes start on a fixed 10 ms schedule, whatever each one took, so an app that starts
        // listening is found within one interval (a probe slower than that is followed at once).
        let mut next_probe = started;
        loop {
            let probe = self.probe();
            tokio::pin!(probe);
            let outcome = loop {
                tokio::select! {
                    outcome = &mut probe => break Some(outcome),
                    _ = sleep_until(next_report) => {
                        tracing::info!("app is not ready after {:.1}s (last: {last})", started.elapsed().as_secs_f64());
                        next_report += REPORT_INTERVAL;
                    }
                    _ = sleep_until(give_up.unwrap_or(next_report)), if give_up.is_some() => break None,
                }
            };
            match outcome {
                Some(Ok(())) => {
                    let waited = started.elapsed();
                    tracing::info!("app is ready after {} ms", waited.as_millis());
                    return Ok(waited);
                }
                Some(Err(seen)) => last = seen,
                None => {}
            }
            if give_up.is_some_and(|at| Instant::now() >= at) {
                return Err(NotReady {
                    waited: started.elapsed(),
                    last,
                });
            }
            next_probe = (next_probe + PROBE_INTERVAL).max(Instant::now());
            sleep_until(next_probe).await;
        }
    }
}
