//! A started connector's life: the supervisor that dials the platform,
//! reconnects with backoff and jitter, and the session loop that takes
//! rings and hands each conversation's events to its task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use super::conversation::{Conversation, Input};
use super::early::Early;
use super::fields::ring_accept_wait::accept_after_wait;
use super::inbox;
use super::status::{Component, Lifecycle};
use super::{IN_FLIGHT_PATIENCE, Shared};
use crate::plugin::ConversationView;
use crate::ports::{Bot, Dialer, Platform, PlatformEvent, Session};

const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Resolves once the connector is told to stop.
async fn stop_requested(stop: &mut tokio::sync::watch::Receiver<bool>) {
    // An error means the `Connector` is gone: that is a stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

pub(super) async fn supervise(
    shared: Arc<Shared>,
    dialer: Arc<dyn Dialer>,
    bot: Arc<dyn Bot>,
    slot: Arc<Mutex<Option<Arc<dyn Session>>>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_START;
    loop {
        let progress_shared = shared.clone();
        let progress =
            move |step: &str| progress_shared.update(|h| h.progress = Some(step.to_owned()));
        let connected = tokio::select! {
            connected = dialer.dial(&progress) => connected,
            () = stop_requested(&mut stop) => return,
        };
        match connected {
            Ok((connection, events)) => {
                tracing::info!(connector = %shared.settings().id, agent = connection.agent_id(), "online");
                *slot.lock().expect("not poisoned") = Some(connection.clone());
                // What the platform could not check stays in view beside "connected".
                let warnings = connection.warnings();
                for warning in &warnings {
                    tracing::warn!(connector = %shared.settings().id, %warning, "connected with a warning");
                }
                let detail = std::iter::once("connected".to_owned())
                    .chain(warnings.into_iter().map(|w| format!("warning: {w}")))
                    .collect::<Vec<_>>()
                    .join("; ");
                shared.update(|h| {
                    h.lifecycle = Lifecycle::Running;
                    h.progress = None;
                    h.messaging = Component {
                        up: Some(true),
                        detail,
                    };
                });
                backoff = BACKOFF_START;
                let Some(reason) =
                    session(&shared, connection, events, bot.clone(), &mut stop).await
                else {
                    // Stopped: `Connector::stop` logs out with the connection in `slot`.
                    return;
                };
                slot.lock().expect("not poisoned").take();
                tracing::warn!(connector = %shared.settings().id, %reason, "messaging connection lost");
                shared.update(|h| {
                    h.messaging = Component {
                        up: Some(false),
                        detail: format!("disconnected ({reason}); reconnecting"),
                    };
                    h.conversations = 0;
                });
            }
            Err(error) => {
                tracing::warn!(connector = %shared.settings().id, %error, "could not connect");
                let retry = jitter(backoff);
                shared.update(|h| {
                    h.lifecycle = Lifecycle::Running;
                    h.progress = None;
                    h.messaging = Component {
                        up: Some(false),
                        detail: format!("{error}; retrying in {} ms", retry.as_millis()),
                    };
                });
            }
        }
        tokio::select! {
            () = tokio::time::sleep(jitter(backoff)) => {}
            () = stop_requested(&mut stop) => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// A ring being accepted: its id, and the task that accepts it once
/// ringAcceptWait is over.
struct Rung {
    ring_id: String,
    accept: AbortHandle,
}

/// Forgets the ring `ring_id` of `conversation_id` if it is still the one
/// being accepted (a newer ring for the same conversation stays); returns it.
fn forget_ring(
    rung: &mut HashMap<String, Rung>,
    conversation_id: &str,
    ring_id: &str,
) -> Option<Rung> {
    if rung
        .get(conversation_id)
        .is_some_and(|rung| rung.ring_id == ring_id)
    {
        return rung.remove(conversation_id);
    }
    None
}

/// `base` plus up to 50% more, so that many connectors do not retry in step.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// One conversation as the session loop knows it.
struct Tracked {
    inbox: inbox::Sender<Input>,
    consumer_id: String,
}

/// Serves one platform session; returns why it ended, or `None` when the
/// connector was told to stop (its conversation tasks have ended then).
async fn session(
    shared: &Arc<Shared>,
    connection: Arc<dyn Session>,
    mut events: mpsc::UnboundedReceiver<PlatformEvent>,
    bot: Arc<dyn Bot>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<String> {
    let platform: Arc<dyn Platform> = connection;
    let mut conversations: HashMap<String, Tracked> = HashMap::new();
    // Rings being accepted, by conversation: a slot each until the
    // conversation comes (its UPSERT) or the ring ends without it.
    let mut rung: HashMap<String, Rung> = HashMap::new();
    let mut early = Early::default();
    // Conversation tasks live as long as the session: dropping the set (a
    // stop, a lost connection) ends them all.
    let mut tasks = JoinSet::new();
    // Accepting or declining rings: a stop cancels them at once. An accept
    // the platform refused gives back its conversation and ring.
    let mut rings: JoinSet<Option<(String, String)>> = JoinSet::new();
    let mut reported_open = usize::MAX;
    let reason = loop {
        let event = tokio::select! {
            event = events.recv() => event,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            Some(answered) = rings.join_next(), if !rings.is_empty() => {
                // An accept the platform refused: the conversation is not coming.
                if let Ok(Some((conversation_id, ring_id))) = answered {
                    forget_ring(&mut rung, &conversation_id, &ring_id);
                }
                continue;
            }
            () = stop_requested(stop) => {
                rings.shutdown().await;
                // Rings waiting to be accepted are not; conversations finish
                // the bot call in flight, save their state and end.
                for tracked in conversations.values() {
                    let _ = tracked.inbox.send(Input::Stop);
                }
                let drained = async { while tasks.join_next().await.is_some() {} };
                if tokio::time::timeout(IN_FLIGHT_PATIENCE, drained).await.is_err() {
                    tracing::warn!(connector = %shared.settings().id, "bot calls still in flight at the stop: not answered here");
                }
                tasks.shutdown().await;
                return None;
            }
        };
        let Some(event) = event else {
            break "event stream ended".to_string();
        };
        match event {
            PlatformEvent::Ring {
                ring_id,
                conversation_id,
                ..
            } => {
                // The same ring again (a platform may repeat a routing task)
                // is being accepted already.
                if rung
                    .get(&conversation_id)
                    .is_some_and(|rung| rung.ring_id == ring_id)
                {
                    continue;
                }
                let settings = shared.settings();
                // A conversation held already (rung again before its DELETE
                // came) has its slot; rings of others being accepted take one.
                let rung_others = rung
                    .keys()
                    .filter(|c| **c != conversation_id && !conversations.contains_key(*c))
                    .count();
                if !conversations.contains_key(&conversation_id)
                    && conversations.len() + rung_others >= settings.max_conversations as usize
                {
                    let platform = platform.clone();
                    rings.spawn(async move {
                        if let Err(error) = platform.reject_ring(&ring_id).await {
                            tracing::warn!(ring = %ring_id, %error, "could not decline the ring");
                        }
                        None
                    });
                    continue;
                }
                let (platform, wait) = (platform.clone(), settings.custom.ring_accept_wait);
                let accept = rings.spawn({
                    let (conversation_id, ring_id) = (conversation_id.clone(), ring_id.clone());
                    async move {
                        let refused = !accept_after_wait(platform, &ring_id, wait).await;
                        refused.then_some((conversation_id, ring_id))
                    }
                });
                rung.insert(conversation_id, Rung { ring_id, accept });
            }
            PlatformEvent::RingEnded {
                ring_id,
                conversation_id,
            } => {
                // Withdrawn (the consumer left, another agent took it) or
                // expired: an accept still waiting for ringAcceptWait would
                // only be refused.
                if let Some(ended) = forget_ring(&mut rung, &conversation_id, &ring_id) {
                    ended.accept.abort();
                }
            }
            PlatformEvent::ConversationUpsert {
                conversation_id,
                skill_id,
                consumer_id,
                open,
                assigned_to_me,
            } => {
                if !open {
                    rung.remove(&conversation_id);
                    early.take(&conversation_id);
                    if let Some(tracked) = conversations.remove(&conversation_id) {
                        let _ = tracked.inbox.send(Input::Closed);
                    }
                    continue;
                }
                if !assigned_to_me {
                    if let Some(tracked) = conversations.remove(&conversation_id) {
                        let _ = tracked.inbox.send(Input::Gone);
                    }
                    continue;
                }
                if let Some(tracked) = conversations.get_mut(&conversation_id) {
                    // Its ring, if it was rung again, is answered.
                    rung.remove(&conversation_id);
                    let _ = tracked.inbox.send(Input::Skill(skill_id));
                    if tracked.consumer_id != consumer_id {
                        tracked.consumer_id = consumer_id.clone();
                        let _ = tracked.inbox.send(Input::StepUp { consumer_id });
                    }
                    continue;
                }
                let settings = shared.settings();
                let view = ConversationView {
                    id: conversation_id.clone(),
                    connector_id: settings.id.clone(),
                    bot_id: settings.bot_id.clone(),
                    skill_id,
                    consumer_id: consumer_id.clone(),
                    authenticated: false,
                    conversation_type: settings.conversation_type,
                    accessibility: settings.accessibility,
                    custom_fields: settings.custom_pairs.clone(),
                    record: Default::default(),
                };
                let is_new = rung.remove(&conversation_id).is_some();
                let (inbox, receiver) = inbox::inbox();
                for (sequence, event) in early.take(&conversation_id) {
                    let _ = inbox.send(Input::Consumer {
                        sequence,
                        event: Box::new(event),
                    });
                }
                let task = Conversation::new(
                    view,
                    shared.clone(),
                    platform.clone(),
                    bot.clone(),
                    is_new,
                    inbox.clone(),
                );
                tasks.spawn(Box::new(task).run(receiver));
                conversations.insert(conversation_id, Tracked { inbox, consumer_id });
            }
            PlatformEvent::ConversationGone { conversation_id } => {
                rung.remove(&conversation_id);
                if let Some(tracked) = conversations.remove(&conversation_id) {
                    let _ = tracked.inbox.send(Input::Gone);
                }
            }
            PlatformEvent::ConsumerEvent {
                conversation_id,
                sequence,
                event,
            } => {
                match conversations.get(&conversation_id) {
                    Some(tracked) => {
                        let _ = tracked.inbox.send(Input::Consumer {
                            sequence,
                            event: Box::new(event),
                        });
                    }
                    // Notification order is not guaranteed: keep it for the UPSERT.
                    None => early.keep(conversation_id, sequence, event, Instant::now()),
                }
            }
            PlatformEvent::Disconnected { reason } => break reason,
        }
        // Only a change of the count is worth a status report.
        if conversations.len() != reported_open {
            reported_open = conversations.len();
            shared.update(|h| h.conversations = reported_open);
        }
    };
    // The conversations stay saved: the platform gives them back on the
    // next login (within its grace period) and they resume.
    for (_, tracked) in conversations.drain() {
        let _ = tracked.inbox.send(Input::Detached);
    }
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `run` returns, without making one.
    fn future_size<F, Fut>(_: F) -> usize
    where
        F: FnOnce(Box<Conversation>, inbox::Receiver<Input>) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    #[test]
    fn an_idle_conversation_task_holds_its_conversation_once_and_boxed() {
        // Held by value, the conversation took the future's room twice
        // (1.6 KiB per idle conversation instead of 0.4 plus the box).
        let run = future_size(Conversation::run);
        assert!(
            run < std::mem::size_of::<Conversation>(),
            "the task's future is {run} bytes"
        );
    }
}
