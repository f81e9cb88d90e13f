//! The rounds: each reads the cluster's keys and acts on them (see the
//! module above for the rules).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::keeper::Keeper;
use super::{
    ClusterLink, Created, DESIRED, Entry, FILES, GATEWAYS, LeaseId, Members, OWNERS, RUNNING,
    STOPPED,
};
use crate::ports::Placement;

/// One gateway's membership: its lease (with its keeper) and what it runs.
pub(super) struct Membership {
    keeper: Keeper,
    owned: BTreeSet<String>,
    /// Since when each wanted connector has been seen free.
    free_since: HashMap<String, Instant>,
    /// Connectors claimed after they stayed free a whole lease (no other
    /// gateway took them): never handed over again, or they would cycle.
    kept: BTreeSet<String>,
    /// Connectors that could not start here, not to be claimed again
    /// before then.
    refused: HashMap<String, Instant>,
    /// The newest revision of a shared file this gateway has read.
    files_revision: i64,
    /// Shared files this gateway refused, to try again at the time given.
    files_retry: HashMap<String, (Option<String>, Instant)>,
    /// Rounds since joining: the first claims nothing beyond its own
    /// claims, so gateways that start together see each other first.
    rounds: u64,
    /// Connectors whose shared file says deleted: never claimed.
    deleted: BTreeSet<String>,
}

impl Membership {
    fn lease(&self) -> LeaseId {
        self.keeper.lease()
    }

    /// Leaves the cluster: the lease is revoked, every key it holds goes.
    /// True if etcd revoked the lease.
    pub(super) async fn leave(self, link: &ClusterLink) -> bool {
        self.keeper.revoke(link).await
    }
}

/// What one read of the keys says.
#[derive(Debug, Default)]
struct View {
    gateways: BTreeSet<String>,
    owners: BTreeMap<String, Entry>,
    desired: BTreeMap<String, bool>,
    /// Shared files changed since the last read (`None`: deleted).
    files: Vec<(String, Option<String>, i64)>,
}

/// The cluster task: a round every second (every eighth of the lease if
/// shorter) and at once when nudged, until halted; answers the membership
/// to leave after the gateway winds down.
pub(super) async fn run<G: Members>(
    gateway: Arc<Mutex<G>>,
    link: ClusterLink,
    mut halted: tokio::sync::watch::Receiver<bool>,
) -> Option<Membership> {
    let poll = (link.config.lease_ttl / 8).min(Duration::from_secs(1));
    let mut membership: Option<Membership> = None;
    // A lease a fence could not revoke (etcd out of reach): revoked
    // before joining again, or this gateway's name stays taken by it.
    let mut stale: Option<LeaseId> = None;
    loop {
        let halt = tokio::select! {
            _ = halted.wait_for(|h| *h) => true,
            () = tokio::time::sleep(poll) => false,
            () = link.nudge.notified() => false,
        };
        // (Not once fenced: the round that logs the fenced connectors out
        // must not be cut short by the fence it answers.)
        let mut fencing = membership
            .as_ref()
            .filter(|m| !m.keeper.fenced())
            .map(|m| m.keeper.fencing());
        let fenced = async {
            match &mut fencing {
                Some(fencing) => {
                    let _ = fencing.wait_for(|fenced| *fenced).await;
                }
                None => std::future::pending().await,
            }
        };
        // A halt, or a fence, does not wait for a round that waits on
        // etcd or on the gateway.
        let halt = halt
            || tokio::select! {
                _ = halted.wait_for(|h| *h) => true,
                () = fenced => false,
                () = round(&gateway, &link, &mut membership, &mut stale) => false,
            };
        if halt {
            return membership;
        }
    }
}

async fn round<G: Members>(
    gateway: &Arc<Mutex<G>>,
    link: &ClusterLink,
    membership: &mut Option<Membership>,
    stale: &mut Option<LeaseId>,
) {
    if membership.as_ref().is_some_and(|m| m.keeper.fenced()) {
        // The keeper stopped the connectors' sessions; log them out.
        let fenced = membership.take().expect("checked");
        let lease = fenced.lease();
        let owned: Vec<String> = fenced.owned.iter().cloned().collect();
        gateway.lock().await.release_here(owned).await;
        place_unknown(gateway).await;
        tracing::info!("cluster: the fenced connectors are logged out");
        // The lease may still live in etcd (a hung etcd): let it go, so
        // this gateway's name is free for it to join again.
        if !fenced.leave(link).await {
            *stale = Some(lease);
        }
        return;
    }
    let Some(member) = membership else {
        if let Some(lease) = *stale {
            if !super::keeper::revoke(link, lease).await {
                place_unknown(gateway).await;
                return;
            }
            *stale = None;
        }
        *membership = join(link).await;
        if membership.is_none() {
            place_unknown(gateway).await;
        }
        return;
    };
    match read(link, member.files_revision).await {
        Ok(view) => {
            reconcile(gateway, link, member, view).await;
            member.rounds += 1;
        }
        Err(error) => tracing::warn!(%error, "cluster: could not read the connectors' places"),
    }
    member.keeper.beat();
}

/// The keys: the desired states and the members and owners whole, the
/// shared files changed since revision `files_revision`.
async fn read(link: &ClusterLink, files_revision: i64) -> Result<View, super::EtcdError> {
    let root = link.root();
    let desired = link.etcd.range_prefix(&link.key(DESIRED, "")).await?;
    // `gateways/` and `owners/` in one range: no other family sorts between.
    let members = link
        .etcd
        .range(
            &link.key(GATEWAYS, ""),
            &format!("{}/{OWNERS}0", link.config.prefix),
            None,
        )
        .await?;
    let files = link
        .etcd
        .range_prefix_since(&link.key(FILES, ""), files_revision + 1)
        .await?;
    let mut view = View::default();
    for entry in desired.into_iter().chain(members).chain(files) {
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
                view.files.push((name, text, entry.revision));
            }
            _ => {}
        }
    }
    Ok(view)
}

/// Grants a lease and enters the gateway's name; `None` (logged) when etcd
/// cannot be reached or a live gateway has the name.
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
    let keeper = Keeper::start(link, lease, sent);
    let joined = match link
        .etcd
        .create(&link.key(GATEWAYS, name), name, lease.id)
        .await
    {
        Ok(Created::Created) => true,
        // etcd's first answer was lost and the call was sent again.
        Ok(Created::Held(held)) if held.lease == Some(lease.id) => true,
        Ok(Created::Held(_)) => {
            tracing::warn!(
                gateway = name,
                "cluster: a gateway of this name is in the cluster (or one that was lost, until its lease runs out): waiting"
            );
            false
        }
        Err(error) => {
            tracing::warn!(%error, "cluster: cannot join");
            false
        }
    };
    if !joined {
        keeper.revoke(link).await;
        return None;
    }
    tracing::info!(gateway = name, "cluster: joined");
    Some(Membership {
        keeper,
        owned: BTreeSet::new(),
        free_since: HashMap::new(),
        kept: BTreeSet::new(),
        refused: HashMap::new(),
        files_revision: 0,
        files_retry: HashMap::new(),
        rounds: 0,
        deleted: BTreeSet::new(),
    })
}

async fn reconcile<G: Members>(
    gateway: &Arc<Mutex<G>>,
    link: &ClusterLink,
    member: &mut Membership,
    view: View,
) {
    let me = link.gateway();
    let lease = member.lease();
    let ours = |entry: &Entry| entry.lease == Some(lease);
    for (id, text, _) in &view.files {
        if text.is_none() {
            member.deleted.insert(id.clone());
        } else {
            member.deleted.remove(id);
        }
    }
    let configured = gateway.lock().await.connectors();
    let wanted: BTreeSet<String> = configured
        .iter()
        .filter(|(id, autostart)| {
            !member.deleted.contains(id) && view.desired.get(id).copied().unwrap_or(*autostart)
        })
        .map(|(id, _)| id.clone())
        .collect();
    let now = Instant::now();
    member.refused.retain(|_, until| *until > now);

    // Claims of ours this gateway does not know of (a claim whose answer
    // was lost): run them if wanted, let them go otherwise.
    for (id, entry) in &view.owners {
        if ours(entry) && !member.owned.contains(id) {
            if wanted.contains(id) && !member.refused.contains_key(id) && !member.keeper.fenced() {
                start(gateway, link, member, id).await;
            } else {
                let _ = link
                    .etcd
                    .delete_if_leased(&link.key(OWNERS, id), lease)
                    .await;
            }
        }
    }

    // What this gateway runs that nobody wants any more, or that is no
    // longer its own (its claim is gone).
    let mut release: Vec<String> = member
        .owned
        .iter()
        .filter(|id| !(view.owners.get(*id).is_some_and(ours) && wanted.contains(*id)))
        .cloned()
        .collect();
    // Two or more above the least loaded live gateway: hand one over.
    let mut load: BTreeMap<&str, usize> = view.gateways.iter().map(|g| (g.as_str(), 0)).collect();
    for owner in view.owners.values() {
        if let Some(count) = load.get_mut(owner.value.as_str()) {
            *count += 1;
        }
    }
    let least = load.values().copied().min().unwrap_or(0);
    let mine = member.owned.len() - release.len();
    let handed = (mine >= least + 2)
        .then(|| {
            member
                .owned
                .iter()
                .rev()
                .find(|id| !release.contains(id) && !member.kept.contains(*id))
                .cloned()
        })
        .flatten();
    release.extend(handed.clone());
    if !release.is_empty() {
        for id in &release {
            // Stopped now, before waiting for the gateway: a fence meanwhile
            // would no longer know of it.
            member.keeper.stop_now(id);
            member.owned.remove(id);
            member.kept.remove(id);
        }
        gateway.lock().await.release_here(release.clone()).await;
        for id in &release {
            let still_ours = view.owners.get(id).is_some_and(ours);
            if still_ours
                && let Err(error) = link
                    .etcd
                    .delete_if_leased(&link.key(OWNERS, id), lease)
                    .await
            {
                tracing::warn!(connector = %id, %error, "cluster: could not let go of the connector; it comes free with the lease");
            }
            match (still_ours, handed.as_ref() == Some(id)) {
                (true, true) => {
                    tracing::info!(connector = %id, "cluster: handed over to a gateway with fewer connectors")
                }
                (true, false) => {
                    tracing::info!(connector = %id, "cluster: stopped here, as a person asked")
                }
                (false, _) => {
                    tracing::error!(connector = %id, "cluster: this gateway no longer holds the connector: stopped here")
                }
            }
        }
    }

    // Free wanted connectors: claim while under the share and among the
    // least loaded (so a gateway that just handed one over does not take
    // it back), or any that stayed free a whole lease.
    let share = wanted.len().div_ceil(view.gateways.len().max(1));
    member
        .free_since
        .retain(|id, _| wanted.contains(id) && !view.owners.contains_key(id));
    for id in &wanted {
        if view.owners.contains_key(id) || release.contains(id) {
            continue;
        }
        let since = *member.free_since.entry(id.clone()).or_insert(now);
        let abandoned = now.duration_since(since) >= link.config.lease_ttl;
        let due = member.owned.len() < share && member.owned.len() <= least;
        if member.rounds == 0
            || member.keeper.fenced()
            || member.refused.contains_key(id)
            || !(due || abandoned)
        {
            continue;
        }
        match link.etcd.create(&link.key(OWNERS, id), me, lease).await {
            Ok(Created::Created) => {}
            Ok(Created::Held(entry)) if ours(&entry) => {}
            Ok(Created::Held(_)) => continue,
            Err(error) => {
                tracing::warn!(connector = %id, %error, "cluster: could not claim the connector");
                continue;
            }
        }
        member.free_since.remove(id);
        if start(gateway, link, member, id).await && abandoned {
            member.kept.insert(id.clone());
        }
    }

    // Where every connector runs, then the shared files (after: a file
    // changing who a connector is must see that it runs elsewhere).
    {
        let gateway = gateway.lock().await;
        for (id, _) in &configured {
            let placement = match view.owners.get(id) {
                _ if member.owned.contains(id) => Placement::Here(me.to_owned()),
                Some(owner) if ours(owner) => Placement::Nowhere,
                Some(owner) => Placement::Elsewhere(owner.value.clone()),
                None => Placement::Nowhere,
            };
            gateway.place(id, placement);
        }
    }
    apply_files(gateway, link, member, view.files).await;
}

/// Runs claimed connector `id` here; if it cannot run here, lets the
/// claim go (for another gateway) and does not claim it again for a
/// lease. True if it runs.
async fn start<G: Members>(
    gateway: &Arc<Mutex<G>>,
    link: &ClusterLink,
    member: &mut Membership,
    id: &str,
) -> bool {
    let started = gateway.lock().await.run_here(id);
    match started {
        Ok(signal) => {
            member.keeper.arm(id, signal);
            member.owned.insert(id.to_owned());
            tracing::info!(connector = %id, "cluster: runs here");
            true
        }
        Err(error) => {
            tracing::error!(connector = %id, %error, "cluster: cannot run the connector here; letting another gateway take it");
            let _ = link
                .etcd
                .delete_if_leased(&link.key(OWNERS, id), member.lease())
                .await;
            member
                .refused
                .insert(id.to_owned(), Instant::now() + link.config.lease_ttl);
            false
        }
    }
}

/// Writes the shared files that changed (and retries, once a lease, the
/// ones this gateway refused).
async fn apply_files<G: Members>(
    gateway: &Arc<Mutex<G>>,
    link: &ClusterLink,
    member: &mut Membership,
    changed: Vec<(String, Option<String>, i64)>,
) {
    let now = Instant::now();
    let mut due: Vec<(String, Option<String>)> = Vec::new();
    for (id, text, revision) in changed {
        member.files_revision = member.files_revision.max(revision);
        member.files_retry.remove(&id);
        due.push((id, text));
    }
    let retries: Vec<String> = member
        .files_retry
        .iter()
        .filter(|(_, (_, at))| *at <= now)
        .map(|(id, _)| id.clone())
        .collect();
    for id in retries {
        if let Some((text, _)) = member.files_retry.remove(&id) {
            due.push((id, text));
        }
    }
    for (id, text) in due {
        // Written and reloaded in a task of its own: a halt or a fence that
        // cuts the round short does not leave a file written but not
        // loaded (or not put back).
        let write = {
            let (gateway, id, text) = (gateway.clone(), id.clone(), text.clone());
            tokio::spawn(async move {
                let mut gateway = gateway.lock_owned().await;
                if gateway.connector_file(&id) == text {
                    return true;
                }
                tracing::info!(connector = %id, "cluster: applying the connector file shared through another gateway");
                gateway.apply_file(&id, text).await
            })
        };
        if !write.await.unwrap_or(false) {
            member
                .files_retry
                .insert(id, (text, now + link.config.lease_ttl));
        }
    }
}

/// Outside the cluster, this gateway does not know where connectors run.
async fn place_unknown<G: Members>(gateway: &Arc<Mutex<G>>) {
    let gateway = gateway.lock().await;
    for (id, _) in gateway.connectors() {
        gateway.place(&id, Placement::Unknown);
    }
}
