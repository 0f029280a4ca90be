//! Statistics of the samples: nearest-rank percentiles, medians, CPU time per invocation.

use std::time::Duration;

pub const PERCENTILES: [(f64, &str); 3] = [(50.0, "p50"), (90.0, "p90"), (99.0, "p99")];

/// Nearest-rank percentile of sorted durations, in microseconds.
pub fn percentile(sorted: &[Duration], percent: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() as f64 * percent / 100.0).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1e6)
}

pub fn median_f64(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[(values.len() - 1) / 2])
}

/// `cpu` spread over `count` invocations, in µs; `None` for no invocations.
pub fn micros_per_invocation(cpu: Duration, count: usize) -> Option<f64> {
    (count > 0).then(|| cpu.as_secs_f64() * 1e6 / count as f64)
}
