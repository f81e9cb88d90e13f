//! Several gateways sharing their connectors through etcd (`[cluster]`).
//!
//! Every gateway of a cluster has the same connector files and reaches
//! the same platform. Each connector runs on **one** gateway at a time
//! (the platform keeps one session per agent user: two gateways logged in
//! as one bot user would log each other out), and another gateway takes
//! it over when that one stops or is lost. The keys, under `prefix`:
//!
//! - `gateways/{name}`: each live gateway, attached to its lease;
//! - `owners/{connector}`: the gateway running the connector, attached to
//!   that gateway's lease, so a lost gateway's connectors come free when
//!   its lease runs out (`lease_ttl_ms`);
//! - `desired/{connector}`: `running` or `stopped`, a person's last Start
//!   or Stop on any gateway (without one, the file's `autostart`);
//! - `files/{connector}`: a connector file as last added or edited through
//!   a gateway's admin API (empty: deleted there). Every gateway writes it
//!   into its own `connectors/` and reloads, so a change made on one
//!   gateway holds on all.
//!
//! Two tasks per gateway:
//!
//! - [`keeper`] renews the lease (every sixth of it) and **fences**: when
//!   the lease was not renewed in time, it signals every connector this
//!   gateway runs to stop serving at once ([`FENCE_MARGIN`] before the
//!   lease can have run out), without waiting for anything else;
//! - [`round`] reads the keys (every second, or every eighth of the lease
//!   if shorter, and at once after a Start or Stop made here) and acts on
//!   them: it releases what nobody wants any more, claims free connectors
//!   while this gateway runs fewer than its share and no more than the
//!   least loaded gateway, hands one over when it
//!   runs two or more above the least loaded gateway, and reports where
//!   every connector runs (Standby where another gateway runs it).
//!
//! A clean stop keeps the lease renewed until its connectors have logged
//! out, then revokes it, so the others take them over at once.
//!
//! Owns: the keys above and the decisions; it reaches the gateway only
//! through [`Members`] (`app` implements it; this module never names
//! `app`).

mod endpoints;
mod etcd;
mod keeper;
mod round;

pub use etcd::{Created, Entry, Etcd, EtcdError, Lease, LeaseId};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};

use crate::config::ClusterConfig;
use crate::connector::StopSignal;
use crate::ports::Placement;

/// What the cluster needs of a gateway.
pub trait Members: Send + 'static {
    /// The configured connectors: each id and whether it starts without
    /// a person's Start (`autostart`).
    fn connectors(&self) -> Vec<(String, bool)>;
    /// This gateway won connector `id`: run it. What stops it at once, or
    /// why it cannot run here.
    fn run_here(&mut self, id: &str) -> Result<StopSignal, String>;
    /// This gateway no longer holds connectors `ids`: stop them here, all
    /// at once.
    fn release_here(&mut self, ids: Vec<String>) -> impl Future<Output = ()> + Send + '_;
    /// Where connector `id` runs.
    fn place(&self, id: &str, placement: Placement);
    /// Connector `id`'s file as this gateway has it.
    fn connector_file(&self, id: &str) -> Option<String>;
    /// Writes connector `id`'s file as another gateway shared it (`None`:
    /// deleted there) and reloads; false if this gateway refused it.
    fn apply_file(
        &mut self,
        id: &str,
        text: Option<String>,
    ) -> impl Future<Output = bool> + Send + '_;
}

/// What a gateway and its cluster task share: the etcd client, the keys,
/// and a way to ask the task to look again at once.
#[derive(Clone, Debug)]
pub struct ClusterLink {
    etcd: Arc<Etcd>,
    config: ClusterConfig,
    nudge: Arc<Notify>,
}

/// A person's Start or Stop could not be recorded in etcd.
#[derive(Debug, thiserror::Error)]
#[error("the cluster could not record it: {0}")]
pub struct WantError(#[from] EtcdError);

impl ClusterLink {
    /// The link of a gateway configured with `config`; an error if its
    /// TLS files cannot be used.
    pub fn new(config: &ClusterConfig) -> Result<ClusterLink, crate::tls::TlsError> {
        let tls = crate::tls::client_config_with_identity(
            config.tls.ca_file.as_deref(),
            config.tls.identity(),
        )?;
        Ok(ClusterLink {
            etcd: Arc::new(Etcd::new(&config.etcd, tls, config.auth.clone())),
            config: config.clone(),
            nudge: Arc::new(Notify::new()),
        })
    }

    /// This gateway's name.
    pub fn gateway(&self) -> &str {
        &self.config.gateway
    }

    /// Records a person's Start (`running`) or Stop of connector `id` for
    /// every gateway of the cluster, and has this one act on it at once.
    pub async fn want(&self, id: &str, running: bool) -> Result<(), WantError> {
        let value = if running { RUNNING } else { STOPPED };
        self.etcd.put(&self.key(DESIRED, id), value, None).await?;
        self.nudge.notify_one();
        Ok(())
    }

    /// Shares connector `id`'s file as a person added or edited it (or
    /// deleted it: `None`) through this gateway, for every gateway. A
    /// deleted connector's last Start or Stop goes with it: one added again
    /// under its id starts as its file says.
    pub async fn share_file(&self, id: &str, text: Option<&str>) -> Result<(), WantError> {
        let file = self.key(FILES, id);
        match text {
            Some(text) => self.etcd.put(&file, text, None).await?,
            None => {
                self.etcd
                    .put_and_delete(&file, "", &self.key(DESIRED, id))
                    .await?
            }
        }
        Ok(())
    }

    fn key(&self, family: &str, name: &str) -> String {
        format!("{}/{family}/{name}", self.config.prefix)
    }

    fn root(&self) -> String {
        format!("{}/", self.config.prefix)
    }
}

const GATEWAYS: &str = "gateways";
const OWNERS: &str = "owners";
const DESIRED: &str = "desired";
const FILES: &str = "files";
const RUNNING: &str = "running";
const STOPPED: &str = "stopped";

/// How long before its lease can run out a gateway that could not renew it
/// stops its connectors: a third of the lease, and at least 3 s, longer
/// than a stopping connector's patience for its bot calls in flight and
/// its session's end (2 s), so it has stopped serving before another
/// gateway may take over.
pub fn fence_margin(lease_ttl: Duration) -> Duration {
    (lease_ttl / 3).max(FENCE_MARGIN)
}

/// The shortest [`fence_margin`].
pub const FENCE_MARGIN: Duration = Duration::from_secs(3);

/// The cluster task of one gateway.
pub struct Cluster {
    task: tokio::task::JoinHandle<Option<round::Membership>>,
    halt: tokio::sync::watch::Sender<bool>,
    link: ClusterLink,
}

/// A halted cluster task's membership: its lease is still renewed, so the
/// gateway keeps its connectors while it winds down; revoke it after.
pub struct Release {
    membership: Option<round::Membership>,
    link: ClusterLink,
}

impl Release {
    /// Revokes the lease (2 s at most: a lease that cannot be revoked runs
    /// out by itself), so the other gateways take the connectors over.
    pub async fn revoke(self) {
        if let Some(membership) = self.membership {
            membership.leave(&self.link).await;
        }
    }
}

impl Cluster {
    /// Starts the cluster task of `gateway`.
    pub fn start<G: Members>(gateway: Arc<Mutex<G>>, link: ClusterLink) -> Cluster {
        let (halt, halted) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(round::run(gateway, link.clone(), halted));
        Cluster { task, halt, link }
    }

    /// Ends the task: it claims and releases nothing more (a round under
    /// way is cut short). The membership is returned to be left after the
    /// gateway winds down.
    pub async fn halt(self) -> Release {
        let _ = self.halt.send(true);
        let membership = self.task.await.ok().flatten();
        Release {
            membership,
            link: self.link,
        }
    }
}
