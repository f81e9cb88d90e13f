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
//!   gateway holds on all; files changed by hand stay the gateway's own.
//!
//! Each gateway renews its lease every sixth of `lease_ttl`, and reads the
//! keys every eighth (at most every second)
//! and at once after a Start or Stop made through it, and then:
//! releases what it runs that nobody wants any more; claims free wanted
//! connectors while it runs fewer than its share (wanted connectors over
//! live gateways, rounded up), or any left free for a whole `lease_ttl`
//! (so a connector never waits for a gateway that will not come); and
//! reports where every other connector runs (its status is Standby).
//! A gateway that runs more than its share while another runs less hands
//! one connector over per round: a gateway that joins gets its share.
//!
//! **Fencing:** a gateway that cannot renew its lease stops its connectors
//! before the lease can have run out (a quarter of `lease_ttl` early), so
//! two gateways never serve one connector on purpose. A clean stop
//! revokes the lease after its connectors have logged out, so the others
//! take them over at once.
//!
//! Owns: the keys above and the decisions; it reaches the gateway only
//! through [`Members`] (`app` implements it; this module never names
//! `app`).

mod etcd;

pub use etcd::{Created, Entry, Etcd, EtcdError, Lease, LeaseId};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

use crate::config::ClusterConfig;

/// What the cluster needs of a gateway.
pub trait Members: Send + 'static {
    /// The configured connectors: each id and whether it starts without
    /// a person's Start (`autostart`).
    fn connectors(&self) -> Vec<(String, bool)>;
    /// This gateway won connector `id`: run it.
    fn run_here(&mut self, id: &str);
    /// This gateway no longer holds connector `id`: stop it here.
    fn release_here(&mut self, id: &str) -> impl Future<Output = ()> + Send + '_;
    /// Where connector `id` runs: `Some(gateway)` (`elsewhere` when that
    /// is another gateway), or `None` when no gateway runs it.
    fn place(&self, id: &str, gateway: Option<&str>, elsewhere: bool);
    /// Connector `id`'s file as this gateway has it.
    fn connector_file(&self, id: &str) -> Option<String>;
    /// Writes connector `id`'s file as another gateway shared it (`None`:
    /// deleted there) and reloads.
    fn apply_file(
        &mut self,
        id: &str,
        text: Option<String>,
    ) -> impl Future<Output = ()> + Send + '_;
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
    /// The link of a gateway configured with `config`.
    pub fn new(config: &ClusterConfig) -> ClusterLink {
        ClusterLink {
            etcd: Arc::new(Etcd::new(&config.etcd)),
            config: config.clone(),
            nudge: Arc::new(Notify::new()),
        }
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
    /// deleted it: `None`) through this gateway, for every gateway.
    pub async fn share_file(&self, id: &str, text: Option<&str>) -> Result<(), WantError> {
        self.etcd
            .put(&self.key(FILES, id), text.unwrap_or(""), None)
            .await?;
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

/// The cluster task of one gateway.
pub struct Cluster {
    task: tokio::task::JoinHandle<Option<LeaseId>>,
    halt: tokio::sync::watch::Sender<bool>,
    link: ClusterLink,
}

/// A halted cluster task's lease: revoke it once the gateway's connectors
/// have stopped, so the other gateways take them over at once.
pub struct Release {
    lease: Option<LeaseId>,
    link: ClusterLink,
}

impl Release {
    /// Revokes the lease (a second at most: a lease that cannot be
    /// revoked runs out by itself).
    pub async fn revoke(self) {
        let Some(lease) = self.lease else { return };
        match tokio::time::timeout(Duration::from_secs(1), self.link.etcd.revoke(lease)).await {
            Ok(Ok(())) => tracing::info!(
                "cluster: lease revoked; the connectors are free for the other gateways"
            ),
            Ok(Err(error)) => {
                tracing::warn!(%error, "cluster: could not revoke the lease; it runs out by itself")
            }
            Err(_) => tracing::warn!(
                "cluster: etcd did not answer the revoke; the lease runs out by itself"
            ),
        }
    }
}

impl Cluster {
    /// Starts the cluster task of `gateway`.
    pub fn start<G: Members>(gateway: Arc<Mutex<G>>, link: ClusterLink) -> Cluster {
        let (halt, halted) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run(gateway, link.clone(), halted));
        Cluster { task, halt, link }
    }

    /// Ends the task: it claims and releases nothing more. The lease it
    /// held is returned to be revoked after the gateway winds down.
    pub async fn halt(self) -> Release {
        let _ = self.halt.send(true);
        let lease = self.task.await.ok().flatten();
        Release {
            lease,
            link: self.link,
        }
    }
}

/// What one read of the keys says.
#[derive(Debug, Default)]
struct View {
    gateways: BTreeSet<String>,
    owners: BTreeMap<String, Entry>,
    desired: BTreeMap<String, bool>,
    /// Shared connector files (`None`: deleted) and their revisions.
    files: BTreeMap<String, (Option<String>, i64)>,
}

impl View {
    fn read(link: &ClusterLink, entries: Vec<Entry>) -> View {
        let root = link.root();
        let mut view = View::default();
        for entry in entries {
            let Some((family, name)) = entry
                .key
                .strip_prefix(&root)
                .and_then(|rest| rest.split_once('/'))
            else {
                continue;
            };
            let name = name.to_owned();
            match family {
                GATEWAYS => {
                    view.gateways.insert(name);
                }
                OWNERS => {
                    view.owners.insert(name, entry);
                }
                DESIRED => match entry.value.as_str() {
                    RUNNING => {
                        view.desired.insert(name, true);
                    }
                    STOPPED => {
                        view.desired.insert(name, false);
                    }
                    other => {
                        tracing::warn!(key = %entry.key, value = other, "cluster: a desired state that is neither `running` nor `stopped`: ignored")
                    }
                },
                FILES => {
                    let text = (!entry.value.is_empty()).then_some(entry.value);
                    view.files.insert(name, (text, entry.revision));
                }
                _ => {}
            }
        }
        view
    }
}

impl Membership {
    /// When this gateway stops its connectors unless the lease is renewed
    /// first: a quarter lease before it can run out.
    fn fence_at(&self, ttl: Duration) -> Instant {
        self.alive_until
            .checked_sub(ttl / 4)
            .unwrap_or(self.alive_until)
    }
}

/// One gateway's membership: its lease and what it runs.
struct Membership {
    lease: Lease,
    /// The lease surely lives until then (counted from before a renewal
    /// was sent).
    alive_until: Instant,
    renewed_at: Instant,
    owned: BTreeSet<String>,
    free_since: HashMap<String, Instant>,
    /// The revision of each shared file this gateway has looked at.
    files_seen: HashMap<String, i64>,
}

async fn run<G: Members>(
    gateway: Arc<Mutex<G>>,
    link: ClusterLink,
    mut halted: tokio::sync::watch::Receiver<bool>,
) -> Option<LeaseId> {
    let poll = (link.config.lease_ttl / 8).min(Duration::from_secs(1));
    let mut membership: Option<Membership> = None;
    loop {
        let lease = membership.as_ref().map(|m| m.lease.id);
        // Far off when not a member: nothing to fence then.
        let fence_at = membership.as_ref().map_or_else(
            || Instant::now() + poll * 2,
            |m| m.fence_at(link.config.lease_ttl),
        );
        tokio::select! {
            _ = halted.wait_for(|h| *h) => return lease,
            () = tokio::time::sleep(poll) => {}
            () = tokio::time::sleep_until(fence_at) => {}
            () = link.nudge.notified() => {}
        }
        // A halt does not wait for a round that waits on etcd.
        tokio::select! {
            _ = halted.wait_for(|h| *h) => return lease,
            () = round(&gateway, &link, &mut membership) => {}
        }
    }
}

/// One look at the cluster: join if not a member; otherwise renew the
/// lease when due, read the keys and act on them, all before the fence
/// deadline, or else stop this gateway's connectors.
async fn round<G: Members>(
    gateway: &Arc<Mutex<G>>,
    link: &ClusterLink,
    membership: &mut Option<Membership>,
) {
    let ttl = link.config.lease_ttl;
    let Some(member) = membership else {
        *membership = join(link).await;
        if membership.is_none() {
            unplace_all(gateway).await;
        }
        return;
    };
    let fence_at = member.fence_at(ttl);
    let alive = tokio::time::timeout_at(fence_at, renew_and_reconcile(gateway, link, member)).await;
    match alive {
        Ok(true) if Instant::now() < member.fence_at(ttl) => return,
        Ok(true) | Err(_) => tracing::error!(
            "cluster: etcd has not renewed this gateway's lease in time: its connectors stop here before another gateway may take them"
        ),
        Ok(false) => {
            tracing::error!("cluster: this gateway's lease ran out: its connectors stop here");
        }
    }
    fence(gateway, member).await;
    *membership = None;
}

/// Renews the lease when due (false if etcd says it is gone), then reads
/// the keys and acts on them.
async fn renew_and_reconcile<G: Members>(
    gateway: &Arc<Mutex<G>>,
    link: &ClusterLink,
    member: &mut Membership,
) -> bool {
    let ttl = link.config.lease_ttl;
    if member.renewed_at.elapsed() >= ttl / 6 {
        let sent = Instant::now();
        match link.etcd.keep_alive(member.lease.id).await {
            Ok(Some(left)) => {
                member.alive_until = sent + left;
                member.renewed_at = sent;
            }
            Ok(None) => return false,
            Err(error) => tracing::warn!(%error, "cluster: could not renew the lease"),
        }
    }
    if Instant::now() >= member.fence_at(ttl) {
        return true;
    }
    match link.etcd.range_prefix(&link.root()).await {
        Ok(entries) => reconcile(gateway, link, member, &View::read(link, entries)).await,
        Err(error) => tracing::warn!(%error, "cluster: could not read the connectors' places"),
    }
    true
}

/// Grants a lease and enters the gateway's name; `None` (logged) when etcd
/// cannot be reached or the name is taken by a live gateway.
async fn join(link: &ClusterLink) -> Option<Membership> {
    let name = link.gateway();
    let sent = Instant::now();
    let lease = match link.etcd.grant(link.config.lease_ttl).await {
        Ok(lease) => lease,
        Err(error) => {
            tracing::warn!(%error, "cluster: cannot join");
            return None;
        }
    };
    match link
        .etcd
        .create(&link.key(GATEWAYS, name), name, lease.id)
        .await
    {
        Ok(Created::Created) => {
            tracing::info!(gateway = name, "cluster: joined");
            Some(Membership {
                lease,
                alive_until: sent + lease.ttl,
                renewed_at: sent,
                owned: BTreeSet::new(),
                free_since: HashMap::new(),
                files_seen: HashMap::new(),
            })
        }
        Ok(Created::Held(_)) => {
            tracing::warn!(
                gateway = name,
                "cluster: a gateway of this name is in the cluster (or one that was lost, until its lease runs out): waiting"
            );
            let _ = link.etcd.revoke(lease.id).await;
            None
        }
        Err(error) => {
            tracing::warn!(%error, "cluster: cannot join");
            let _ = link.etcd.revoke(lease.id).await;
            None
        }
    }
}

async fn reconcile<G: Members>(
    gateway: &Arc<Mutex<G>>,
    link: &ClusterLink,
    member: &mut Membership,
    view: &View,
) {
    let me = link.gateway();
    for (id, (text, revision)) in &view.files {
        if member.files_seen.insert(id.clone(), *revision) == Some(*revision) {
            continue;
        }
        let mut gateway = gateway.lock().await;
        let here = gateway.connector_file(id);
        if here != *text && (here.is_some() || text.is_some()) {
            tracing::info!(connector = %id, "cluster: applying the connector file shared through another gateway");
            gateway.apply_file(id, text.clone()).await;
        }
    }
    let ours = |entry: Option<&Entry>| entry.is_some_and(|e| e.lease == Some(member.lease.id));
    let configured = gateway.lock().await.connectors();
    let wanted: BTreeSet<&str> = configured
        .iter()
        .filter(|(id, autostart)| view.desired.get(id).copied().unwrap_or(*autostart))
        .map(|(id, _)| id.as_str())
        .collect();
    for id in member.owned.clone() {
        let still_ours = ours(view.owners.get(&id));
        if still_ours && wanted.contains(id.as_str()) {
            continue;
        }
        gateway.lock().await.release_here(&id).await;
        member.owned.remove(&id);
        if still_ours {
            if let Err(error) = link.etcd.delete_if(&link.key(OWNERS, &id), me).await {
                tracing::warn!(connector = %id, %error, "cluster: could not let go of the connector; it comes free with the lease");
            }
            tracing::info!(connector = %id, "cluster: stopped here, as a person asked");
        } else {
            tracing::error!(connector = %id, "cluster: this gateway no longer holds the connector: stopped here");
        }
    }
    let share = wanted.len().div_ceil(view.gateways.len().max(1));
    // More than its share while another gateway has less: hand one over
    // (a round at a time, so the connectors move one by one).
    let mut load: BTreeMap<&str, usize> = view.gateways.iter().map(|g| (g.as_str(), 0)).collect();
    for owner in view.owners.values() {
        *load.entry(owner.value.as_str()).or_default() += 1;
    }
    if member.owned.len() > share
        && load.values().any(|n| *n < share)
        && let Some(id) = member.owned.pop_last()
    {
        gateway.lock().await.release_here(&id).await;
        match link.etcd.delete_if(&link.key(OWNERS, &id), me).await {
            Ok(_) => {
                tracing::info!(connector = %id, "cluster: handed over to a gateway with fewer connectors")
            }
            Err(error) => {
                tracing::warn!(connector = %id, %error, "cluster: could not let go of the connector; it comes free with the lease")
            }
        }
    }
    let now = Instant::now();
    member
        .free_since
        .retain(|id, _| wanted.contains(id.as_str()) && !view.owners.contains_key(id));
    for id in &wanted {
        if view.owners.contains_key(*id) {
            continue;
        }
        let since = *member.free_since.entry((*id).to_owned()).or_insert(now);
        if member.owned.len() >= share && now.duration_since(since) < link.config.lease_ttl {
            continue;
        }
        match link
            .etcd
            .create(&link.key(OWNERS, id), me, member.lease.id)
            .await
        {
            Ok(Created::Created) => {
                tracing::info!(connector = %id, "cluster: runs here");
                member.owned.insert((*id).to_owned());
                member.free_since.remove(*id);
                gateway.lock().await.run_here(id);
            }
            Ok(Created::Held(_)) => {}
            Err(error) => {
                tracing::warn!(connector = %id, %error, "cluster: could not claim the connector")
            }
        }
    }
    let gateway = gateway.lock().await;
    for (id, _) in &configured {
        match view.owners.get(id) {
            _ if member.owned.contains(id) => gateway.place(id, Some(me), false),
            Some(owner) => gateway.place(id, Some(&owner.value), !ours(Some(owner))),
            None => gateway.place(id, None, false),
        }
    }
}

/// Stops every connector this gateway runs: its lease may run out.
async fn fence<G: Members>(gateway: &Arc<Mutex<G>>, member: &mut Membership) {
    let mut locked = gateway.lock().await;
    for id in std::mem::take(&mut member.owned) {
        locked.release_here(&id).await;
    }
    drop(locked);
    unplace_all(gateway).await;
}

/// Outside the cluster, this gateway does not know where connectors run.
async fn unplace_all<G: Members>(gateway: &Arc<Mutex<G>>) {
    let gateway = gateway.lock().await;
    for (id, _) in gateway.connectors() {
        gateway.place(&id, None, false);
    }
}
