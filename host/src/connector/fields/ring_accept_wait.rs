//! `ringAcceptWait`: a ring is accepted no sooner than this after it arrives.

use std::sync::Arc;
use std::time::Duration;

use crate::ports::{Platform, PlatformError};

/// Waits `wait`, then accepts `ring_id`; false only if the platform
/// refused (the ring ended meanwhile). An answer that did not come may
/// hide an accept that worked: the conversation may still arrive.
pub async fn accept_after_wait(platform: Arc<dyn Platform>, ring_id: &str, wait: Duration) -> bool {
    tokio::time::sleep(wait).await;
    match platform.accept_ring(ring_id).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(ring = %ring_id, %error, "could not accept the ring");
            !matches!(error, PlatformError::Refused { .. })
        }
    }
}
