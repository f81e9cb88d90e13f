//! The lease keeper: renews a gateway's lease, and fences when it cannot.
//!
//! It runs apart from the rounds, which wait for the gateway (a reload, an
//! admin request, connectors stopping), so nothing they wait for delays a
//! renewal or a fence. It holds each running connector's [`StopSignal`]:
//! fencing needs no lock and waits for nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{ClusterLink, EtcdError, Lease, LeaseId, fence_margin};
use crate::connector::StopSignal;

/// A running keeper of one lease.
pub(super) struct Keeper {
    lease: LeaseId,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    signals: Mutex<HashMap<String, StopSignal>>,
    fenced: AtomicBool,
    /// When the last round ended: rounds that stop coming for many leases
    /// (a round stuck for good) fence too, as a lost gateway would.
    heartbeat: Mutex<Instant>,
    /// Says when the keeper fences, to cut a round under way short.
    fence: tokio::sync::watch::Sender<bool>,
    /// Revoked or left: a drop has nothing to stop.
    done: AtomicBool,
}

impl State {
    /// Stops every connector's session now and says so.
    fn fence(&self) {
        self.fenced.store(true, Ordering::SeqCst);
        let signals: Vec<StopSignal> = self.signals().values().cloned().collect();
        for signal in signals {
            signal.send();
        }
        self.fence.send_replace(true);
    }

    fn signals(&self) -> std::sync::MutexGuard<'_, HashMap<String, StopSignal>> {
        self.signals
            .lock()
            .expect("signals lock is never poisoned: no panics under it")
    }
}

impl Keeper {
    /// Keeps `lease`, granted by a request sent at `sent`.
    pub(super) fn start(link: &ClusterLink, lease: Lease, sent: Instant) -> Keeper {
        let state = Arc::new(State {
            signals: Mutex::default(),
            fenced: AtomicBool::new(false),
            heartbeat: Mutex::new(sent),
            fence: tokio::sync::watch::channel(false).0,
            done: AtomicBool::new(false),
        });
        let task = tokio::spawn(keep(link.clone(), lease, sent, state.clone()));
        Keeper {
            lease: lease.id,
            state,
            task,
        }
    }

    /// The lease kept.
    pub(super) fn lease(&self) -> LeaseId {
        self.lease
    }

    /// True once the keeper fenced: the lease may be gone.
    pub(super) fn fenced(&self) -> bool {
        self.state.fenced.load(Ordering::SeqCst)
    }

    /// Connector `id` runs here under this lease: a fence stops it. If the
    /// keeper fenced already, it is stopped now.
    pub(super) fn arm(&self, id: &str, signal: StopSignal) {
        self.state.signals().insert(id.to_owned(), signal.clone());
        if self.fenced() {
            signal.send();
        }
    }

    /// Connector `id` is to stop running here: its session stops now, and
    /// a fence no longer needs to stop it.
    pub(super) fn stop_now(&self, id: &str) {
        if let Some(signal) = self.state.signals().remove(id) {
            signal.send();
        }
    }

    /// A round ended.
    pub(super) fn beat(&self) {
        *self
            .state
            .heartbeat
            .lock()
            .expect("heartbeat lock is never poisoned") = Instant::now();
    }

    /// Says when the keeper fences.
    pub(super) fn fencing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.state.fence.subscribe()
    }

    /// Stops renewing and revokes the lease (2 s at most); true if etcd
    /// revoked it (a lease that cannot be revoked runs out by itself).
    pub(super) async fn revoke(self, link: &ClusterLink) -> bool {
        self.state.done.store(true, Ordering::SeqCst);
        self.task.abort();
        revoke(link, self.lease).await
    }
}

/// Revokes `lease`, 2 s at most; true if etcd did.
pub(super) async fn revoke(link: &ClusterLink, lease: LeaseId) -> bool {
    match tokio::time::timeout(Duration::from_secs(2), link.etcd.revoke(lease)).await {
        Ok(Ok(())) => {
            tracing::info!(
                "cluster: lease revoked; its connectors are free for the other gateways"
            );
            true
        }
        // Gone already (it ran out): as good as revoked.
        Ok(Err(EtcdError::Refused { status: 404, .. })) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "cluster: could not revoke the lease; it runs out by itself");
            false
        }
        Err(_) => {
            tracing::warn!("cluster: etcd did not answer the revoke; the lease runs out by itself");
            false
        }
    }
}

impl Drop for Keeper {
    /// A keeper dropped without leaving (its round task ended early, a
    /// panic): nothing renews the lease any more, so its connectors stop.
    fn drop(&mut self) {
        self.task.abort();
        if !self.state.done.load(Ordering::SeqCst) {
            self.state.fence();
        }
    }
}

/// How many leases the rounds may stay away before the keeper fences.
const ROUNDS_PATIENCE: u32 = 5;

/// Renews the lease every sixth of it (sooner after a failure) until the
/// fence deadline passes without a renewal, or etcd says it is gone; then
/// signals every connector to stop and ends.
async fn keep(link: ClusterLink, lease: Lease, sent: Instant, state: Arc<State>) {
    let ttl = link.config.lease_ttl;
    let margin = fence_margin(ttl);
    let mut alive_until = sent + lease.ttl;
    let mut next = sent + ttl / 6;
    loop {
        let fence_at = alive_until.checked_sub(margin).unwrap_or(alive_until);
        tokio::time::sleep_until(next.min(fence_at)).await;
        if Instant::now() >= fence_at {
            break;
        }
        let last_round = *state
            .heartbeat
            .lock()
            .expect("heartbeat lock is never poisoned");
        // Rounds wait for the gateway, which a reload compiling a large
        // plugin holds for seconds: only a round task gone quiet for many
        // leases (stuck for good) counts as a lost gateway.
        if last_round.elapsed() > ttl * ROUNDS_PATIENCE {
            tracing::error!(
                "cluster: no round for {ROUNDS_PATIENCE} leases: this gateway's connectors stop"
            );
            break;
        }
        let sent = Instant::now();
        match tokio::time::timeout_at(fence_at, link.etcd.keep_alive(lease.id)).await {
            Ok(Ok(Some(left))) => {
                alive_until = sent + left;
                next = sent + ttl / 6;
            }
            Ok(Ok(None)) => {
                tracing::error!("cluster: etcd says this gateway's lease is gone");
                break;
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "cluster: could not renew the lease; trying again");
                next = Instant::now() + ttl / 24;
            }
            Err(_) => break,
        }
    }
    tracing::error!(
        connectors = state.signals().len(),
        "cluster: the lease was not renewed in time: this gateway's connectors stop serving now, before another gateway may take them"
    );
    state.fence();
    link.nudge.notify_one();
}
