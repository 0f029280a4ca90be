//! Waiting for the app to be ready (SPEC RDY-1 … RDY-5, RDY-7).
//!
//! A [`ReadinessCheck`] probes the app every 10 ms, over HTTP (a `GET` whose status must be in the
//! healthy set) or TCP (a connect), and logs every 2 s how long it has waited, what it saw last and
//! which setting to change for that: a refused port names `AWS_LWA_PORT` and any loopback port that
//! started listening meanwhile (the app's, probably), an unhealthy status names the readiness path
//! and healthy statuses. While the app answers unhealthy statuses it is probed at most every
//! 100 ms, so its own log is not flooded; a port that refuses connections is probed finely, which
//! costs the app nothing and finds it as soon as it listens. Probes are plain requests: no Lambda
//! context headers, so the app never mistakes them for users.

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
/// RDY-7: time between two probes while the app answers with an unhealthy status.
const UNHEALTHY_PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Time between two "still waiting" log lines.
const REPORT_INTERVAL: Duration = Duration::from_secs(2);

/// What is probed, and which HTTP statuses count as ready.
#[derive(Clone, Debug)]
pub(crate) struct ReadinessCheck {
    target: Target,
    healthy_status: Vec<u16>,
    /// The variable that sets the probed port (RDY-7's advice).
    port_variable: &'static str,
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

/// What one probe saw when the app was not ready.
#[derive(Clone, Debug)]
enum Seen {
    /// No connection, or no HTTP answer.
    Unreachable(String),
    /// An HTTP answer whose status is not healthy.
    Unhealthy { status: u16, url: String },
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seen::Unreachable(error) => f.write_str(error),
            Seen::Unhealthy { status, url } => write!(f, "status {status} from {url}"),
        }
    }
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
        let port_variable = if authority == &settings.app.to_string() {
            "AWS_LWA_PORT"
        } else {
            "AWS_LWA_READINESS_CHECK_PORT"
        };
        ReadinessCheck {
            target,
            healthy_status: settings.healthy_status.clone(),
            port_variable,
        }
    }

    /// Closes the probes' idle connections (LIF-3).
    pub(crate) fn forget_idle(&self) {
        if let Target::Http { client, .. } = &self.target {
            client.forget_idle();
        }
    }

    /// One probe: what made the app ready, else what was seen.
    async fn probe(&self) -> Result<String, Seen> {
        match &self.target {
            Target::Tcp(authority) => match TcpStream::connect(authority.as_str()).await {
                Ok(_) => Ok(format!("tcp connect to {authority}")),
                Err(e) => Err(Seen::Unreachable(format!(
                    "tcp connect to {authority}: {e}"
                ))),
            },
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
                    .map_err(|(e, _)| Seen::Unreachable(format!("{}: {}", url(), describe(&e))))?;
                let status = response.status().as_u16();
                if !self.healthy_status.contains(&status) {
                    return Err(Seen::Unhealthy { status, url: url() });
                }
                if status == 404 && path.path() != "/" {
                    tracing::warn!(
                        "the readiness path {path} (AWS_LWA_READINESS_CHECK_PATH) answers 404, which \
                         counts as ready (AWS_LWA_READINESS_CHECK_HEALTHY_STATUS): is the path right?"
                    );
                }
                Ok(format!("GET {path} → {status}"))
            }
        }
    }

    /// RDY-7: what to change, for what was seen last; `listening` are the loopback ports that
    /// started listening since the wait began.
    fn advice(&self, seen: &Seen, listening: &[u16]) -> String {
        match seen {
            Seen::Unhealthy { status, .. } => format!(
                "the app answers {status}, which is not healthy: point AWS_LWA_READINESS_CHECK_PATH \
                 at a health endpoint, or add {status} to AWS_LWA_READINESS_CHECK_HEALTHY_STATUS"
            ),
            Seen::Unreachable(error) if error.contains("refused") => match listening {
                [] => format!(
                    "nothing listens on the port of {} yet; is it the app's port?",
                    self.port_variable
                ),
                [port] => format!(
                    "is the app listening on {port}? set {}={port}",
                    self.port_variable
                ),
                ports => {
                    let listed: Vec<String> = ports.iter().take(8).map(u16::to_string).collect();
                    format!(
                        "is the app listening on one of {}? set {} to its port",
                        listed.join(", "),
                        self.port_variable
                    )
                }
            },
            Seen::Unreachable(_) => format!(
                "check that the app speaks HTTP on the port of {}",
                self.port_variable
            ),
        }
    }

    /// Probes until the app is ready, or until `limit` has passed.
    pub(crate) async fn wait(&self, limit: Option<Duration>) -> Result<Duration, NotReady> {
        let started = Instant::now();
        let give_up = limit.map(|limit| started + limit);
        let mut next_report = started + REPORT_INTERVAL;
        let mut last: Option<Seen> = None;
        let mut new_ports = NewPorts::default();
        // Probes start on a fixed schedule, whatever each one took, so an app that starts
        // listening is found within one interval (a probe slower than that is followed at once).
        let mut next_probe = started;
        loop {
            let probe = self.probe();
            tokio::pin!(probe);
            let outcome = loop {
                tokio::select! {
                    outcome = &mut probe => break Some(outcome),
                    _ = sleep_until(next_report) => {
                        let waited = started.elapsed().as_secs_f64();
                        match &last {
                            Some(seen) => {
                                let advice = self.advice(seen, &new_ports.since_start().await);
                                tracing::info!("app is not ready after {waited:.1}s (last: {seen}): {advice}");
                            }
                            None => tracing::info!("app is not ready after {waited:.1}s (last: no answer yet)"),
                        }
                        next_report += REPORT_INTERVAL;
                    }
                    _ = sleep_until(give_up.unwrap_or(next_report)), if give_up.is_some() => break None,
                }
            };
            let interval = match outcome {
                Some(Ok(what)) => {
                    let waited = started.elapsed();
                    tracing::info!("app is ready after {} ms ({what})", waited.as_millis());
                    return Ok(waited);
                }
                Some(Err(seen)) => {
                    new_ports.watch();
                    let interval = match seen {
                        Seen::Unhealthy { .. } => UNHEALTHY_PROBE_INTERVAL,
                        Seen::Unreachable(_) => PROBE_INTERVAL,
                    };
                    last = Some(seen);
                    interval
                }
                None => PROBE_INTERVAL,
            };
            if give_up.is_some_and(|at| Instant::now() >= at) {
                return Err(NotReady {
                    waited: started.elapsed(),
                    last: last.map_or_else(|| "no answer yet".to_string(), |seen| seen.to_string()),
                });
            }
            next_probe = (next_probe + interval).max(Instant::now());
            sleep_until(next_probe).await;
        }
    }
}

/// RDY-7: the loopback ports that started listening while the app was not ready. The first reading
/// is taken when a probe first fails, on a thread of its own: with thousands of sockets on the
/// machine, reading `/proc/net/tcp` takes milliseconds, which must not delay a probe.
#[derive(Default)]
struct NewPorts {
    first: Option<tokio::task::JoinHandle<Vec<u16>>>,
    at_first: Option<Vec<u16>>,
}

impl NewPorts {
    /// Takes the first reading, once.
    fn watch(&mut self) {
        if self.first.is_none() && self.at_first.is_none() {
            self.first = Some(tokio::task::spawn_blocking(listening_loopback_ports));
        }
    }

    /// The ports listening now that were not at the first reading.
    async fn since_start(&mut self) -> Vec<u16> {
        if let Some(first) = self.first.take() {
            self.at_first = Some(first.await.unwrap_or_default());
        }
        let Some(at_first) = &self.at_first else {
            return Vec::new();
        };
        let now = tokio::task::spawn_blocking(listening_loopback_ports).await;
        let new = now.unwrap_or_default().into_iter();
        new.filter(|port| !at_first.contains(port)).collect()
    }
}

/// The TCP ports listening on a loopback or any address, from `/proc/net/tcp` and `tcp6`; none
/// where those cannot be read.
fn listening_loopback_ports() -> Vec<u16> {
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            ports.extend(text.lines().skip(1).filter_map(listening_loopback_port));
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The port of one line of `/proc/net/tcp{,6}` when it is a socket listening (state `0A`) on a
/// loopback or any address, which `127.0.0.1` reaches.
fn listening_loopback_port(line: &str) -> Option<u16> {
    let mut fields = line.split_whitespace();
    let local = fields.nth(1)?;
    let state = fields.nth(1)?;
    if state != "0A" {
        return None;
    }
    let (address, port) = local.split_once(':')?;
    // IPv4 as one little-endian word; IPv6 as four, so `::1` ends in 01000000 and `::ffff:127.0.0.1`
    // in FFFF0000 0100007F.
    let reachable = matches!(
        address,
        "00000000" | "0100007F" | "00000000000000000000000000000000"
    ) || address == "00000000000000000000000001000000"
        || (address.len() == 32
            && address.starts_with("0000000000000000FFFF0000")
            && address.ends_with("7F"));
    reachable
        .then(|| u16::from_str_radix(port, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_loopback_ports_from_proc_net_tcp() {
        // covers RDY-7 (which ports the advice may name)
        let line = |local: &str, state: &str| {
            format!(
                "  0: {local} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000 0 0 1 1"
            )
        };
        let port = |local: &str, state: &str| listening_loopback_port(&line(local, state));
        assert_eq!(port("0100007F:1F40", "0A"), Some(8000), "127.0.0.1:8000");
        assert_eq!(port("00000000:0BB8", "0A"), Some(3000), "0.0.0.0:3000");
        assert_eq!(
            port("0100007F:1F40", "01"),
            None,
            "established, not listening"
        );
        assert_eq!(
            port("0A00000A:1F40", "0A"),
            None,
            "10.0.0.10 is not loopback"
        );
        assert_eq!(
            port("00000000000000000000000000000000:1388", "0A"),
            Some(5000),
            "[::]:5000"
        );
        assert_eq!(
            port("00000000000000000000000001000000:1389", "0A"),
            Some(5001),
            "[::1]"
        );
        assert_eq!(
            port("0000000000000000FFFF00000100007F:138A", "0A"),
            Some(5002),
            "[::ffff:127.0.0.1]"
        );
        assert_eq!(listening_loopback_port("garbage"), None);
    }

    #[tokio::test]
    async fn a_port_that_starts_listening_is_found() {
        // covers RDY-7
        let before = listening_loopback_ports();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!before.contains(&port));
        assert!(listening_loopback_ports().contains(&port));
    }
}
