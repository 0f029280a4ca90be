//! Waiting for the app to be ready (SPEC RDY-1 … RDY-5).
//!
//! A [`ReadinessCheck`] probes the app every 10 ms, over HTTP (a `GET` whose status must be in the
//! healthy set) or TCP (a connect), and logs every 2 s how long it has waited and what it saw last.
//! Probes are plain requests: no Lambda context headers, so the app never mistakes them for users.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::uri::PathAndQuery;
use http_body_util::Full;
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};

use crate::client::AppClient;

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
        host: HeaderValue,
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
    /// Probes `GET path` through `client` (the app's own client when the readiness port is the
    /// app's, so that the connection of the last probe serves the first invocation).
    pub(crate) fn http(
        client: AppClient,
        path: PathAndQuery,
        healthy_status: Vec<u16>,
    ) -> Result<Self, String> {
        let host = HeaderValue::from_str(client.address())
            .map_err(|_| format!("{:?} is not a usable host", client.address()))?;
        Ok(ReadinessCheck {
            target: Target::Http { client, path, host },
            healthy_status,
        })
    }

    pub(crate) fn tcp(authority: String) -> Self {
        ReadinessCheck {
            target: Target::Tcp(authority),
            healthy_status: Vec::new(),
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
                request.headers_mut().insert(HOST, host.clone());
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

/// An error with its chain of causes, e.g. `client error (Connect): tcp connect error: Connection refused`.
pub(crate) fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
