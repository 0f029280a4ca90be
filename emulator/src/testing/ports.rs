//! Loopback ports for servers that start later than the process that must know their port (an
//! adapter told `AWS_LWA_PORT` before its app listens: RDY-1, RDY-7). SPEC IDs: none of its own.

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// A loopback port that was free a moment ago: bound to port 0, then let go.
///
/// Good enough when nothing else on the machine binds ephemeral ports in between; see
/// [`unshared_port`] when tests running in parallel do.
pub fn free_port() -> io::Result<u16> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
}

/// A loopback port that no other test process will be handed, for an app that listens later.
///
/// A port that was merely free a moment ago is not enough while tests run in parallel: the
/// kernel hands the same ephemeral port to another test's server or connection, and an adapter's
/// readiness check then finds someone else's listener. So the port comes from below the kernel's
/// ephemeral range, where nothing binds on its own, and is derived from this process's id
/// (unique among the running tests) and a per-process counter, skipping any port that turns out
/// to be busy. With an unusual port range, or every candidate busy, it falls back to
/// [`free_port`].
pub fn unshared_port() -> io::Result<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 10_000;
    const PER_PROCESS: u32 = 16;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_start.saturating_sub(FIRST) / PER_PROCESS * PER_PROCESS;
    if span >= PER_PROCESS * 64 {
        for _ in 0..PER_PROCESS {
            let n = NEXT.fetch_add(1, Ordering::Relaxed) % PER_PROCESS;
            let candidate = FIRST + (std::process::id() * PER_PROCESS + n) % span;
            let Ok(port) = u16::try_from(candidate) else {
                break;
            };
            if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(port);
            }
        }
    }
    free_port()
}
