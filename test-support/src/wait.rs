//! Waiting on a condition with a deadline, instead of sleeping and hoping.

use std::future::Future;
use std::time::Duration;

/// Polls `condition` every 20 ms until it holds; panics naming `what` once `limit` has passed.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
