//! `ringAcceptWait`: a ring is accepted no sooner than this after it arrives.

use std::sync::Arc;
use std::time::Duration;

use crate::ports::Platform;

/// Waits `wait`, then accepts `ring_id`.
pub async fn accept_after_wait(platform: Arc<dyn Platform>, ring_id: String, wait: Duration) {
    tokio::time::sleep(wait).await;
    if let Err(error) = platform.accept_ring(&ring_id).await {
        tracing::warn!(ring = %ring_id, %error, "could not accept the ring");
    }
}
