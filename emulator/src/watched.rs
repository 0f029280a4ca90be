//! Waiting, with a timeout, for something to show up in a value that a tokio `watch` channel
//! holds: the control plane's state (its `wait_*` methods), and in the test kit a process's
//! output and a test app's records.

use std::time::Duration;

use tokio::sync::watch;

/// The first `Some` that `check` finds in `value`, looking now and after each change, for at
/// most `timeout`; `None` when the time runs out.
pub(crate) async fn first_found<T, R>(
    value: &watch::Sender<T>,
    timeout: Duration,
    mut check: impl FnMut(&T) -> Option<R>,
) -> Option<R> {
    let mut changes = value.subscribe();
    let mut found = None;
    let waited = tokio::time::timeout(
        timeout,
        changes.wait_for(|value| {
            found = check(value);
            found.is_some()
        }),
    )
    .await;
    match waited {
        Ok(Ok(_)) => found,
        _ => None,
    }
}
