//! The hub's model of its account: conversations with their event history,
//! logged-in agents and connected consumers, and the routing rules (skill,
//! free slots, least loaded first, ring expiry, re-routing on agent loss).
//!
//! Every method runs under the hub's one lock and sends frames to
//! connections through their outboxes; none of them awaits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::clients::{ClientKey, Clients};
use super::consumer_tokens::ConsumerTokens;
use super::limits;
use crate::config::HubConfig;
use crate::wire::{self, now_ms};

/// A connection's outbox: text frames to send, or a close with a code.
#[derive(Debug)]
pub enum Outgoing {
    /// A text frame.
    Text(String),
    /// Close the socket with this code and reason.
    Close(u16, String),
}

/// How many frames may wait for one connection. A peer that stops reading
/// is disconnected rather than let the hub hold its frames without end.
const OUTBOX_FRAMES: usize = 4096;

/// How many bytes of frames may wait for one connection (frames differ in
/// size by four orders of magnitude, so their count alone bounds little).
const OUTBOX_BYTES: usize = 16 * 1024 * 1024;

/// The sending side of a connection's outbox.
#[derive(Clone, Debug)]
pub struct Outbox {
    frames: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
}

/// The receiving side, read by the connection's writer.
pub struct OutboxReader {
    frames: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
}

/// What both sides of an outbox see.
#[derive(Debug, Default)]
struct Shared {
    overflow: Notify,
    /// Bytes of text frames queued and not yet taken by the writer.
    waiting: AtomicUsize,
}

/// A new, bounded outbox.
pub fn outbox() -> (Outbox, OutboxReader) {
    let (sender, receiver) = mpsc::channel(OUTBOX_FRAMES);
    let shared = Arc::new(Shared::default());
    (
        Outbox {
            frames: sender,
            shared: shared.clone(),
        },
        OutboxReader {
            frames: receiver,
            shared,
        },
    )
}

impl Outbox {
    /// Queues a frame. A full outbox (in frames or bytes) closes the
    /// connection (1008); a closed one means the connection is going away
    /// and its cleanup follows.
    pub fn send(&self, frame: Outgoing) -> Result<(), ()> {
        let size = frame.size();
        let waiting = self.shared.waiting.fetch_add(size, Ordering::Relaxed) + size;
        let sent = if waiting > OUTBOX_BYTES {
            Err(mpsc::error::TrySendError::Full(frame))
        } else {
            self.frames.try_send(frame)
        };
        match sent {
            Ok(()) => Ok(()),
            Err(refused) => {
                self.shared.waiting.fetch_sub(size, Ordering::Relaxed);
                if let mpsc::error::TrySendError::Full(_) = refused {
                    self.shared.overflow.notify_one();
                }
                Err(())
            }
        }
    }
}

impl Outgoing {
    /// The bytes it holds while it waits.
    fn size(&self) -> usize {
        match self {
            Outgoing::Text(text) => text.len(),
            Outgoing::Close(_, reason) => reason.len(),
        }
    }
}

/// Writes a connection's outbox to its socket until either closes. Frames
/// already waiting go out in one write (one flush per burst, not per frame).
pub async fn write_frames(
    mut sink: futures_util::stream::SplitSink<crate::http::ServerSocket, Message>,
    mut outgoing: OutboxReader,
) {
    use futures_util::SinkExt;
    while let Some(mut frame) = outgoing.next().await {
        loop {
            let result = match frame {
                Outgoing::Text(text) => sink.feed(Message::text(text)).await,
                Outgoing::Close(code, reason) => {
                    let close = CloseFrame {
                        code: CloseCode::from(code),
                        reason: reason.into(),
                    };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    return;
                }
            };
            if result.is_err() {
                return;
            }
            match outgoing.frames.try_recv() {
                Ok(next) => frame = outgoing.taken(next),
                Err(_) => break,
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

impl OutboxReader {
    /// The next frame to write; a close when the peer fell too far behind.
    pub async fn next(&mut self) -> Option<Outgoing> {
        tokio::select! {
            biased;
            _ = self.shared.overflow.notified() => {
                Some(Outgoing::Close(1008, "too many frames waiting: the peer is not reading".into()))
            }
            frame = self.frames.recv() => frame.map(|frame| self.taken(frame)),
        }
    }

    /// A frame leaves the queue: its bytes no longer wait.
    fn taken(&self, frame: Outgoing) -> Outgoing {
        self.shared
            .waiting
            .fetch_sub(frame.size(), Ordering::Relaxed);
        frame
    }
}

/// Who sent an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Consumer,
    AssignedAgent,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Consumer => "CONSUMER",
            Role::AssignedAgent => "ASSIGNED_AGENT",
        }
    }
}

/// One event of a conversation's history.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub sequence: u64,
    /// Account-qualified id (`123.cons-1`, `123.bot-user`).
    pub originator_id: String,
    /// Participant id (consumer id or the agent's pid).
    pub originator_pid: String,
    pub role: Role,
    pub server_ts: u64,
    pub event: Value,
}

#[derive(Debug)]
pub struct Ring {
    pub id: String,
    pub agent_conn: u64,
}

#[derive(Debug)]
pub struct Conversation {
    pub id: String,
    pub consumer_id: String,
    pub skill_id: String,
    pub open: bool,
    pub close_reason: Option<&'static str>,
    pub start_ts: u64,
    /// The agent user (`123.login`) it is assigned to.
    pub assigned: Option<String>,
    pub assigned_pid: Option<String>,
    pub ring: Option<Ring>,
    pub rejected_by: HashSet<u64>,
    /// Its last [`limits::KEPT_EVENTS`] events, in sequence order.
    pub events: VecDeque<StoredEvent>,
    pub next_sequence: u64,
    /// The client whose consumer asked for it; `None` for one an agent
    /// opened, which no consumer client is charged for.
    pub client: Option<ClientKey>,
}

/// An agent's availability (`.ams.routing.SetAgentState`): only ONLINE
/// agents are offered new conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Availability {
    Online,
    Occupied,
    Away,
    Offline,
}

/// An agent's `.ams.aam.SubscribeExConversations`.
#[derive(Debug)]
pub struct ConversationSubscription {
    pub id: String,
    /// The assigned agents whose conversations it sees; `None`: every
    /// conversation of the account (the manager view).
    pub agent_ids: Option<Vec<String>>,
    /// The states it sees (`OPEN`, `CLOSE`); empty: all.
    pub states: Vec<String>,
}

impl ConversationSubscription {
    fn sees(&self, assigned: Option<&str>) -> bool {
        match &self.agent_ids {
            None => true,
            Some(ids) => assigned.is_some_and(|user| ids.iter().any(|id| id == user)),
        }
    }

    fn wants(&self, open: bool) -> bool {
        let state = if open { "OPEN" } else { "CLOSE" };
        self.states.is_empty() || self.states.iter().any(|s| s == state)
    }
}

/// An agent's `.ams.routing.SubscribeAgentsState`: the state changes of
/// one agent user.
#[derive(Debug)]
pub struct AgentStateSubscription {
    pub id: String,
    /// The watched agent user (`account.login`).
    pub agent_user_id: String,
}

#[derive(Debug)]
pub struct Agent {
    pub outbox: Outbox,
    pub login: String,
    /// `account.login`.
    pub user_id: String,
    pub pid: String,
    pub availability: Availability,
    pub routing_subscription: Option<String>,
    pub conversation_subscription: Option<ConversationSubscription>,
    pub agent_state_subscription: Option<AgentStateSubscription>,
    pub skills: Vec<String>,
    pub max_conversations: u32,
    pub last_assigned: u64,
}

#[derive(Debug, Default)]
pub struct Consumer {
    pub outbox: Option<Outbox>,
    /// The client the socket comes from (charged for its conversations).
    pub client: Option<ClientKey>,
    pub consumer_id: Option<String>,
    pub conversation_subscription: Option<String>,
    pub dialog_subscriptions: HashSet<String>,
}

/// A logged-in agent session (from `login`, used by the WebSocket).
#[derive(Clone, Debug)]
pub struct Session {
    pub login: String,
    pub user_id: String,
    pub pid: String,
}

/// Why a request was refused: the response code and message.
pub type Refusal = (u16, String);

fn refuse<T>(code: u16, message: impl Into<String>) -> Result<T, Refusal> {
    Err((code, message.into()))
}

pub struct HubState {
    pub config: HubConfig,
    pub conversations: HashMap<String, Conversation>,
    /// Closed conversations' ids, the earliest closed first.
    closed: VecDeque<String>,
    pub agents: HashMap<u64, Agent>,
    pub consumers: HashMap<u64, Consumer>,
    pub sessions: HashMap<String, Session>,
    /// The consumer JWTs it issued, with their step-up links.
    pub consumer_tokens: ConsumerTokens,
    /// What each consumer client has taken (`[hub.clients]`).
    pub clients: Clients,
    /// Bearer token → connection of agents in HTTP (webhook) mode.
    pub webhook_sessions: HashMap<String, u64>,
    next_id: u64,
    assignment_clock: u64,
}

impl HubState {
    pub fn new(config: HubConfig) -> Self {
        let auth = &config.consumer_auth;
        HubState {
            consumer_tokens: ConsumerTokens::new(auth.token_lifetime, auth.max_tokens),
            clients: Clients::new(config.clients),
            config,
            conversations: HashMap::new(),
            closed: VecDeque::new(),
            agents: HashMap::new(),
            consumers: HashMap::new(),
            sessions: HashMap::new(),
            webhook_sessions: HashMap::new(),
            next_id: 1,
            assignment_clock: 0,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn send(outbox: &Outbox, frame: String) {
        // A closed outbox means the connection is going away; its cleanup follows.
        let _ = outbox.send(Outgoing::Text(frame));
    }

    // ---- agent side -------------------------------------------------------

    /// The agent-side view of a conversation (`ExConversationChangeNotification`).
    fn agent_details(&self, conv: &Conversation) -> Value {
        let account = &self.config.account;
        let mut participants = json!({"CONSUMER": [conv.consumer_id]});
        let mut pids = json!({"CONSUMER": [conv.consumer_id]});
        let mut details =
            vec![json!({"id": conv.consumer_id, "role": "CONSUMER", "state": "ACTIVE"})];
        if let (Some(agent), Some(pid)) = (&conv.assigned, &conv.assigned_pid) {
            participants["ASSIGNED_AGENT"] = json!([agent]);
            pids["ASSIGNED_AGENT"] = json!([pid]);
            details.push(json!({"id": agent, "role": "ASSIGNED_AGENT", "state": "ACTIVE"}));
        }
        let state = if conv.open { "OPEN" } else { "CLOSE" };
        let mut result = json!({
            "skillId": conv.skill_id, "brandId": account, "state": state, "stage": state,
            "startTs": conv.start_ts, "participants": participants, "participantsPId": pids,
            "dialogs": [{"dialogId": conv.id, "dialogType": "MAIN", "channelType": "MESSAGING",
                         "state": state, "participantsDetails": details}],
        });
        if let Some(reason) = conv.close_reason {
            result["closeReason"] = json!(reason);
        }
        result
    }

    /// Tells every subscribed agent that should see `conv` about it; an agent
    /// that saw it before and should no longer gets a DELETE.
    fn notify_agents(&self, conv_id: &str, previous_user: Option<&str>) {
        let Some(conv) = self.conversations.get(conv_id) else {
            return;
        };
        let details = self.agent_details(conv);
        for agent in self.agents.values() {
            let Some(subscription) = &agent.conversation_subscription else {
                continue;
            };
            let sees_now = subscription.sees(conv.assigned.as_deref());
            let wants_state = subscription.wants(conv.open);
            let change = if sees_now && wants_state {
                json!({"type": "UPSERT", "result": {"convId": conv.id, "effectiveTTR": -1, "conversationDetails": details}})
            } else if subscription.sees(previous_user) || sees_now {
                json!({"type": "DELETE", "result": {"convId": conv.id, "conversationDetails": details}})
            } else {
                continue;
            };
            Self::send(
                &agent.outbox,
                wire::notification(
                    ".ams.aam.ExConversationChangeNotification",
                    json!({"subscriptionId": subscription.id, "changes": [change]}),
                ),
            );
        }
    }

    /// The current conversations an agent subscription should see at once.
    pub fn snapshot_for(&self, conn: u64) {
        let Some(agent) = self.agents.get(&conn) else {
            return;
        };
        let Some(subscription) = &agent.conversation_subscription else {
            return;
        };
        let changes: Vec<Value> = self
            .conversations
            .values()
            .filter(|c| subscription.sees(c.assigned.as_deref()) && subscription.wants(c.open))
            .map(|c| json!({"type": "UPSERT", "result": {"convId": c.id, "effectiveTTR": -1, "conversationDetails": self.agent_details(c)}}))
            .collect();
        if !changes.is_empty() {
            Self::send(
                &agent.outbox,
                wire::notification(
                    ".ams.aam.ExConversationChangeNotification",
                    json!({"subscriptionId": subscription.id, "changes": changes}),
                ),
            );
        }
    }

    /// Ends an agent connection's conversation subscription: no more
    /// `ExConversationChangeNotification` for it.
    pub fn unsubscribe_conversations(&mut self, conn: u64, id: &str) -> Result<(), Refusal> {
        let agent = self
            .agents
            .get_mut(&conn)
            .ok_or((401, "not logged in".to_string()))?;
        match agent.conversation_subscription.take_if(|s| s.id == id) {
            Some(_) => Ok(()),
            None => refuse(
                404,
                format!("no conversation subscription {id} on this connection"),
            ),
        }
    }

    /// An agent connection sets its availability; every subscription to
    /// that agent user's state hears of it (`.ams.routing.AgentStateNotification`).
    pub fn set_availability(&mut self, conn: u64, availability: Availability, channels: &[String]) {
        let Some(agent) = self.agents.get_mut(&conn) else {
            return;
        };
        agent.availability = availability;
        let user_id = agent.user_id.clone();
        for watcher in self.agents.values() {
            let Some(subscription) = watcher
                .agent_state_subscription
                .as_ref()
                .filter(|s| s.agent_user_id == user_id)
            else {
                continue;
            };
            Self::send(
                &watcher.outbox,
                wire::notification(
                    ".ams.routing.AgentStateNotification",
                    json!({"subscriptionId": subscription.id, "changes": [{"type": "UPSERT", "result": {
                        "agentUserId": user_id, "channels": channels,
                        "availability": availability, "description": ""}}]}),
                ),
            );
        }
    }

    /// The past events of a dialog from `from_seq` on, sent to an agent
    /// connection as `ms.MessagingEventNotification`s of at most
    /// [`limits::HISTORY_PAGE`] changes each: what
    /// `.ams.ms.SubscribeMessagingEvents` delivers on the agent side (the
    /// live events reach participants as `OnlineEventDistribution`).
    pub fn send_history(&self, conn: u64, dialog_id: &str, from_seq: u64) {
        let (Some(agent), Some(conv)) = (self.agents.get(&conn), self.conversations.get(dialog_id))
        else {
            return;
        };
        for changes in changes_from(conv, from_seq).chunks(limits::HISTORY_PAGE) {
            Self::send(
                &agent.outbox,
                wire::notification(
                    "ms.MessagingEventNotification",
                    json!({"dialogId": dialog_id, "changes": changes}),
                ),
            );
        }
    }

    /// Every agent connection's load (open conversations assigned to its
    /// user or ringing it), in one pass over the conversations.
    fn loads(&self) -> HashMap<u64, usize> {
        let mut by_user: HashMap<&str, Vec<u64>> = HashMap::new();
        for (conn, agent) in &self.agents {
            by_user
                .entry(agent.user_id.as_str())
                .or_default()
                .push(*conn);
        }
        let mut loads: HashMap<u64, usize> = self.agents.keys().map(|c| (*c, 0)).collect();
        for conv in self.conversations.values().filter(|c| c.open) {
            let mut counted: Vec<u64> = conv
                .assigned
                .as_deref()
                .and_then(|user| by_user.get(user))
                .cloned()
                .unwrap_or_default();
            if let Some(ring) = &conv.ring
                && !counted.contains(&ring.agent_conn)
            {
                counted.push(ring.agent_conn);
            }
            for conn in counted {
                if let Some(load) = loads.get_mut(&conn) {
                    *load += 1;
                }
            }
        }
        loads
    }

    /// Offers every waiting conversation to a free agent. Returns the rings
    /// made, so the caller can start their expiry timers.
    pub fn route_waiting(&mut self) -> Vec<(String, String)> {
        let mut waiting: Vec<(u64, String)> = self
            .conversations
            .values()
            .filter(|c| c.open && c.assigned.is_none() && c.ring.is_none())
            .map(|c| (c.start_ts, c.id.clone()))
            .collect();
        waiting.sort();
        if waiting.is_empty() {
            return Vec::new();
        }
        let mut loads = self.loads();
        waiting
            .into_iter()
            .filter_map(|(_, id)| self.route(&id, &mut loads))
            .collect()
    }

    /// Rings the least loaded agent with the conversation's skill and a free slot.
    fn route(
        &mut self,
        conv_id: &str,
        loads: &mut HashMap<u64, usize>,
    ) -> Option<(String, String)> {
        let conv = self.conversations.get(conv_id)?;
        let (skill, rejected) = (conv.skill_id.clone(), conv.rejected_by.clone());
        let (conn, _) = self
            .agents
            .iter()
            .filter(|(conn, a)| {
                a.routing_subscription.is_some()
                    && a.availability == Availability::Online
                    && (a.skills.is_empty() || a.skills.contains(&skill))
                    && !rejected.contains(conn)
                    && loads.get(conn).copied().unwrap_or(0) < a.max_conversations as usize
            })
            .min_by_key(|(conn, a)| {
                (
                    loads.get(conn).copied().unwrap_or(0),
                    a.last_assigned,
                    **conn,
                )
            })
            .map(|(conn, a)| (*conn, a.pid.clone()))?;
        *loads.entry(conn).or_default() += 1;
        let serial = self.next_id();
        let ring_id = format!("{conv_id}_{}_{serial}", self.agents[&conn].login);
        self.assignment_clock += 1;
        let agent = self.agents.get_mut(&conn).expect("chosen above");
        agent.last_assigned = self.assignment_clock;
        let conv = self
            .conversations
            .get_mut(conv_id)
            .expect("looked up above");
        conv.ring = Some(Ring {
            id: ring_id.clone(),
            agent_conn: conn,
        });
        self.send_ring(conn, conv_id, &ring_id, "WAITING");
        Some((conv_id.to_owned(), ring_id))
    }

    fn send_ring(&self, conn: u64, conv_id: &str, ring_id: &str, state: &str) {
        let (Some(agent), Some(conv)) = (self.agents.get(&conn), self.conversations.get(conv_id))
        else {
            return;
        };
        let Some(subscription) = &agent.routing_subscription else {
            return;
        };
        let expiration = self.config.ring_expiration.as_millis() as u64;
        let body = json!({"subscriptionId": subscription, "changes": [{"type": "UPSERT", "result": {
            "routingTaskId": format!("rt-{conv_id}"), "conversationId": conv_id,
            "consumerId": conv.consumer_id, "skillId": conv.skill_id,
            "ringsDetails": [{"ringId": ring_id, "ringExpiration": expiration,
                "ringExpirationTs": now_ms() + expiration, "ringState": state, "weight": 1}]}}]});
        Self::send(
            &agent.outbox,
            wire::notification(".ams.routing.RoutingTaskNotification", body),
        );
    }

    /// An agent answered a ring.
    pub fn update_ring(&mut self, conn: u64, ring_id: &str, state: &str) -> Result<(), Refusal> {
        let Some(conv_id) = self
            .conversations
            .values()
            .find(|c| c.ring.as_ref().is_some_and(|r| r.id == ring_id))
            .map(|c| c.id.clone())
        else {
            return refuse(404, format!("no waiting ring {ring_id}"));
        };
        let conv = self.conversations.get_mut(&conv_id).expect("found above");
        if conv.ring.as_ref().map(|r| r.agent_conn) != Some(conn) {
            return refuse(403, format!("ring {ring_id} belongs to another agent"));
        }
        match state {
            "ACCEPTED" => {
                conv.ring = None;
                let agent = &self.agents[&conn];
                conv.assigned = Some(agent.user_id.clone());
                conv.assigned_pid = Some(agent.pid.clone());
                self.send_ring(conn, &conv_id, ring_id, "ACCEPTED");
                self.notify_agents(&conv_id, None);
                self.notify_consumer(&conv_id);
                Ok(())
            }
            "REJECTED" => {
                conv.ring = None;
                conv.rejected_by.insert(conn);
                self.send_ring(conn, &conv_id, ring_id, "REJECTED");
                Ok(())
            }
            other => refuse(
                400,
                format!("ringState must be ACCEPTED or REJECTED, not {other}"),
            ),
        }
    }

    /// A ring's time ran out: it expires and the conversation is offered again.
    pub fn expire_ring(&mut self, conv_id: &str, ring_id: &str) {
        let Some(conv) = self.conversations.get_mut(conv_id) else {
            return;
        };
        let Some(ring) = conv.ring.take_if(|r| r.id == ring_id) else {
            return;
        };
        self.send_ring(ring.agent_conn, conv_id, ring_id, "EXPIRED");
    }

    /// An agent connection went away: its rings are withdrawn. An agent
    /// that went OFFLINE first (a stop) releases its conversations at once;
    /// one that dropped keeps them for the grace period, in case it comes
    /// back: returns the user to release when that period ends.
    pub fn agent_gone(&mut self, conn: u64) -> Option<String> {
        let agent = self.agents.remove(&conn)?;
        for conv in self.conversations.values_mut() {
            if conv.ring.as_ref().is_some_and(|r| r.agent_conn == conn) {
                conv.ring = None;
            }
        }
        if self.agents.values().any(|a| a.user_id == agent.user_id) {
            return None;
        }
        if agent.availability == Availability::Offline {
            self.release_user(&agent.user_id);
            return None;
        }
        Some(agent.user_id)
    }

    /// Routes the open conversations of an agent user that is not
    /// connected to others, history intact.
    pub fn release_user(&mut self, user_id: &str) {
        if self.agents.values().any(|a| a.user_id == user_id) {
            return;
        }
        let mut released = Vec::new();
        for conv in self.conversations.values_mut() {
            if conv.open && conv.assigned.as_deref() == Some(user_id) {
                conv.assigned = None;
                conv.assigned_pid = None;
                conv.rejected_by.clear();
                released.push(conv.id.clone());
            }
        }
        for conv_id in released {
            self.notify_agents(&conv_id, Some(user_id));
            self.notify_consumer(&conv_id);
        }
    }

    /// A user logged in again: its conversations carry the new session's pid.
    pub fn agent_back(&mut self, user_id: &str, pid: &str) {
        for conv in self.conversations.values_mut() {
            if conv.assigned.as_deref() == Some(user_id) {
                conv.assigned_pid = Some(pid.to_owned());
            }
        }
    }

    /// An agent publishes an event into a conversation it is assigned to.
    pub fn agent_publish(
        &mut self,
        conn: u64,
        conv_id: &str,
        event: Value,
    ) -> Result<u64, Refusal> {
        let agent = self
            .agents
            .get(&conn)
            .ok_or((401, "not logged in".to_string()))?;
        let (user_id, pid) = (agent.user_id.clone(), agent.pid.clone());
        let conv = self
            .conversations
            .get(conv_id)
            .ok_or((404, format!("no conversation {conv_id}")))?;
        if conv.assigned.as_deref() != Some(user_id.as_str()) {
            return refuse(403, format!("agent {user_id} is not assigned to {conv_id}"));
        }
        if !conv.open {
            return refuse(400, format!("conversation {conv_id} is closed"));
        }
        Ok(self.append(conv_id, user_id, pid, Role::AssignedAgent, event))
    }

    /// A consumer publishes an event into its conversation.
    pub fn consumer_publish(
        &mut self,
        consumer_id: &str,
        conv_id: &str,
        event: Value,
    ) -> Result<u64, Refusal> {
        let conv = self
            .conversations
            .get(conv_id)
            .ok_or((404, format!("no conversation {conv_id}")))?;
        if conv.consumer_id != consumer_id {
            return refuse(
                403,
                format!("conversation {conv_id} is not this consumer's"),
            );
        }
        if !conv.open {
            return refuse(400, format!("conversation {conv_id} is closed"));
        }
        let originator = format!("{}.{consumer_id}", self.config.account);
        Ok(self.append(
            conv_id,
            originator,
            consumer_id.to_owned(),
            Role::Consumer,
            event,
        ))
    }

    /// Records an event (chat states are passed on, not stored) and sends it
    /// to both sides. Returns its sequence (0 for chat states).
    fn append(
        &mut self,
        conv_id: &str,
        originator_id: String,
        originator_pid: String,
        role: Role,
        event: Value,
    ) -> u64 {
        let transient = event.get("type").and_then(Value::as_str) == Some("ChatStateEvent");
        let conv = self
            .conversations
            .get_mut(conv_id)
            .expect("checked by callers");
        let sequence = if transient {
            0
        } else {
            let sequence = conv.next_sequence;
            conv.next_sequence += 1;
            sequence
        };
        let stored = StoredEvent {
            sequence,
            originator_id,
            originator_pid,
            role,
            server_ts: now_ms(),
            event,
        };
        if !transient {
            if conv.events.len() == limits::KEPT_EVENTS {
                conv.events.pop_front();
            }
            conv.events.push_back(stored.clone());
        }
        let conv = &self.conversations[conv_id];
        // Agent side: every agent assigned to the conversation sees every event.
        if let Some(assigned) = &conv.assigned {
            let body = self.agent_event(conv, &stored, transient);
            for agent in self.agents.values().filter(|a| &a.user_id == assigned) {
                Self::send(
                    &agent.outbox,
                    wire::notification(".ams.ms.OnlineEventDistribution", body.clone()),
                );
            }
        }
        // Consumer side: every socket subscribed to the dialog.
        let change = consumer_change(conv, &stored, transient);
        for consumer in self.consumers.values() {
            if consumer.dialog_subscriptions.contains(conv_id)
                && let Some(outbox) = &consumer.outbox
            {
                Self::send(
                    outbox,
                    wire::notification(
                        "ms.MessagingEventNotification",
                        json!({"changes": [change.clone()]}),
                    ),
                );
            }
        }
        sequence
    }

    fn agent_event(&self, conv: &Conversation, e: &StoredEvent, transient: bool) -> Value {
        let mut body = json!({
            "dialogId": conv.id, "conversationId": conv.id, "originatorId": e.originator_id,
            "originatorPId": e.originator_pid,
            "originatorMetadata": {"id": e.originator_pid, "role": e.role.as_str()},
            "serverTimestamp": e.server_ts, "event": e.event,
        });
        if !transient {
            body["sequence"] = json!(e.sequence);
        }
        body
    }

    /// Past events of a conversation, for `QueryMessages`: the first
    /// `page` of those newer than `newer_than`, oldest first.
    pub fn history(
        &self,
        conv_id: &str,
        newer_than: Option<u64>,
        page: usize,
    ) -> Result<Value, Refusal> {
        let conv = self
            .conversations
            .get(conv_id)
            .ok_or((404, format!("no conversation {conv_id}")))?;
        // Events are kept in sequence order: a page starts by bisection.
        let start = conv
            .events
            .partition_point(|e| newer_than.is_some_and(|n| e.sequence <= n));
        let events: Vec<Value> = conv
            .events
            .range(start..)
            .take(page)
            .map(|e| self.agent_event(conv, e, false))
            .collect();
        Ok(Value::Array(events))
    }

    /// Transfer (`ParticipantsChange REMOVE ASSIGNED_AGENT` + `Skill UPDATE`)
    /// and close, from an agent.
    pub fn agent_update_fields(
        &mut self,
        conn: u64,
        conv_id: &str,
        fields: &[Value],
    ) -> Result<(), Refusal> {
        let user_id = self
            .agents
            .get(&conn)
            .map(|a| a.user_id.clone())
            .ok_or((401, "not logged in".into()))?;
        let conv = self
            .conversations
            .get(conv_id)
            .ok_or((404, format!("no conversation {conv_id}")))?;
        let field = |name: &str| {
            fields
                .iter()
                .find(|f| f.get("field").and_then(Value::as_str) == Some(name))
        };
        if let Some(close) = field("ConversationStateField") {
            if close.get("conversationState").and_then(Value::as_str) != Some("CLOSE") {
                return refuse(400, "conversationState must be CLOSE");
            }
            self.close(conv_id, "AGENT");
            return Ok(());
        }
        let removes_agent = field("ParticipantsChange").is_some_and(|f| {
            f.get("type").and_then(Value::as_str) == Some("REMOVE")
                && f.get("role").and_then(Value::as_str) == Some("ASSIGNED_AGENT")
        });
        let new_skill = field("Skill")
            .and_then(|f| f.get("skill"))
            .and_then(|s| match s {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        if !removes_agent && new_skill.is_none() {
            return refuse(
                400,
                "supported fields: ConversationStateField CLOSE, or ParticipantsChange REMOVE ASSIGNED_AGENT with Skill UPDATE",
            );
        }
        if !conv.open {
            return refuse(400, format!("conversation {conv_id} is closed"));
        }
        if removes_agent && conv.assigned.as_deref() != Some(user_id.as_str()) {
            return refuse(
                400,
                format!("{user_id} is not the assigned agent of {conv_id}"),
            );
        }
        if let Some(skill) = &new_skill
            && !self.config.skills.iter().any(|s| &s.id == skill)
        {
            return refuse(
                400,
                format!("no skill {skill} in account {}", self.config.account),
            );
        }
        let conv = self.conversations.get_mut(conv_id).expect("found above");
        if let Some(skill) = new_skill {
            conv.skill_id = skill;
        }
        let previous = if removes_agent {
            conv.assigned_pid = None;
            conv.rejected_by.clear();
            conv.assigned.take()
        } else {
            None
        };
        self.notify_agents(conv_id, previous.as_deref());
        self.notify_consumer(conv_id);
        Ok(())
    }

    /// Closes a conversation.
    pub fn close(&mut self, conv_id: &str, by: &'static str) {
        let Some(conv) = self.conversations.get_mut(conv_id) else {
            return;
        };
        if !conv.open {
            return;
        }
        conv.open = false;
        conv.close_reason = Some(by);
        conv.ring = None;
        if let Some(client) = conv.client {
            self.clients.conversation_closed(client);
        }
        let assigned = conv.assigned.clone();
        // A slot is free: agents that declined while full may take waiting ones now.
        for waiting in self
            .conversations
            .values_mut()
            .filter(|c| c.open && c.assigned.is_none())
        {
            waiting.rejected_by.clear();
        }
        self.notify_agents(conv_id, assigned.as_deref());
        self.notify_consumer(conv_id);
        self.closed.push_back(conv_id.to_owned());
        if self.closed.len() > limits::KEPT_CLOSED_CONVERSATIONS
            && let Some(oldest) = self.closed.pop_front()
        {
            self.conversations.remove(&oldest);
        }
    }

    // ---- consumer side ----------------------------------------------------

    /// The consumer-side view of a conversation (`cqm.ExConversationChangeNotification`).
    fn consumer_details(&self, conv: &Conversation) -> Value {
        let mut participants = vec![json!({"id": conv.consumer_id, "role": "CONSUMER"})];
        if let Some(pid) = &conv.assigned_pid {
            participants.push(json!({"id": pid, "role": "ASSIGNED_AGENT"}));
        }
        let state = if conv.open { "OPEN" } else { "CLOSE" };
        let mut details = json!({
            "skillId": conv.skill_id, "participants": participants, "brandId": self.config.account,
            "state": state, "stage": state, "startTs": conv.start_ts,
            "dialogs": [{"dialogId": conv.id, "dialogType": "MAIN", "channelType": "MESSAGING", "state": state}],
        });
        if let Some(reason) = conv.close_reason {
            details["closeReason"] = json!(reason);
            details["closedBy"] = json!(reason);
        }
        details
    }

    /// Sends the conversation's state to its consumer's subscriptions.
    fn notify_consumer(&self, conv_id: &str) {
        let Some(conv) = self.conversations.get(conv_id) else {
            return;
        };
        let details = self.consumer_details(conv);
        for consumer in self.consumers.values() {
            if consumer.consumer_id.as_deref() != Some(conv.consumer_id.as_str()) {
                continue;
            }
            if let (Some(subscription), Some(outbox)) =
                (&consumer.conversation_subscription, &consumer.outbox)
            {
                Self::send(
                    outbox,
                    wire::notification(
                        "cqm.ExConversationChangeNotification",
                        json!({"subscriptionId": subscription, "changes": [
                            {"type": "UPSERT", "result": {"convId": conv.id, "conversationDetails": details}}]}),
                    ),
                );
            }
        }
    }

    /// Every conversation of the consumer on `conn`, for a new subscription.
    pub fn consumer_snapshot(&self, conn: u64) {
        let Some(consumer) = self.consumers.get(&conn) else {
            return;
        };
        let (Some(subscription), Some(outbox), Some(consumer_id)) = (
            &consumer.conversation_subscription,
            &consumer.outbox,
            &consumer.consumer_id,
        ) else {
            return;
        };
        let changes: Vec<Value> = self
            .conversations
            .values()
            .filter(|c| &c.consumer_id == consumer_id)
            .map(|c| json!({"type": "UPSERT", "result": {"convId": c.id, "conversationDetails": self.consumer_details(c)}}))
            .collect();
        Self::send(
            outbox,
            wire::notification(
                "cqm.ExConversationChangeNotification",
                json!({"subscriptionId": subscription, "changes": changes}),
            ),
        );
    }

    /// Step-up: the open conversation of `from` now
    /// belongs to `to`, history and id kept; both sides get an UPSERT, where
    /// the changed CONSUMER id is the agent side's step-up signal.
    pub fn step_up(&mut self, from: &str, to: &str) {
        let Some(conv_id) = self
            .conversations
            .values()
            .find(|c| c.open && c.consumer_id == from)
            .map(|c| c.id.clone())
        else {
            return;
        };
        self.conversations
            .get_mut(&conv_id)
            .expect("found above")
            .consumer_id = to.to_owned();
        for consumer in self.consumers.values_mut() {
            if consumer.consumer_id.as_deref() == Some(from) {
                consumer.consumer_id = Some(to.to_owned());
            }
        }
        self.notify_agents(&conv_id, None);
        self.notify_consumer(&conv_id);
    }

    /// A consumer, connected from `client`, asks for a conversation.
    pub fn request_conversation(
        &mut self,
        consumer_id: &str,
        client: Option<ClientKey>,
        skill: Option<String>,
    ) -> Result<String, Refusal> {
        if self
            .conversations
            .values()
            .any(|c| c.open && c.consumer_id == consumer_id)
        {
            return refuse(400, "the consumer already has an open conversation");
        }
        let skill_id = self.skill_or_default(skill)?;
        if let Some(client) = client {
            self.clients
                .open_conversation(client)
                .map_err(|over| (429, over.message))?;
        }
        let id = self.open_conversation(consumer_id, skill_id, None, client);
        self.notify_consumer(&id);
        Ok(id)
    }

    /// An agent opens a conversation with a consumer (outbound,
    /// `.ams.cm.AgentRequestConversation`): it is assigned to that agent at
    /// once, no ring. The caller announces it ([`HubState::announce`]).
    pub fn agent_request_conversation(
        &mut self,
        conn: u64,
        consumer_id: &str,
        skill: Option<String>,
    ) -> Result<String, Refusal> {
        let agent = self
            .agents
            .get(&conn)
            .ok_or((401, "not logged in".to_string()))?;
        let assigned = (agent.user_id.clone(), agent.pid.clone());
        let known = self.consumer_tokens.knows(consumer_id, Instant::now())
            || self
                .conversations
                .values()
                .any(|c| c.consumer_id == consumer_id);
        if !known {
            return refuse(
                404,
                format!(
                    "no consumer {consumer_id} in account {}",
                    self.config.account
                ),
            );
        }
        if self
            .conversations
            .values()
            .any(|c| c.open && c.consumer_id == consumer_id)
        {
            return refuse(
                400,
                format!("consumer {consumer_id} already has an open conversation"),
            );
        }
        let skill_id = self.skill_or_default(skill)?;
        Ok(self.open_conversation(consumer_id, skill_id, Some(assigned), None))
    }

    /// Tells both sides about a conversation just opened.
    pub fn announce(&self, conv_id: &str) {
        self.notify_agents(conv_id, None);
        self.notify_consumer(conv_id);
    }

    /// A skill of the account; `-1` or none is the default skill.
    fn skill_or_default(&self, skill: Option<String>) -> Result<String, Refusal> {
        match skill.filter(|s| s != "-1") {
            Some(skill) if self.config.skills.iter().any(|s| s.id == skill) => Ok(skill),
            Some(skill) => refuse(
                400,
                format!("no skill {skill} in account {}", self.config.account),
            ),
            None => Ok(self.config.default_skill.clone()),
        }
    }

    /// Records a new open conversation; `assigned` is the agent user and
    /// pid it starts with, `client` the consumer client charged for it.
    /// Returns its id (also its MAIN dialog's id).
    fn open_conversation(
        &mut self,
        consumer_id: &str,
        skill_id: String,
        assigned: Option<(String, String)>,
        client: Option<ClientKey>,
    ) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let (assigned, assigned_pid) = assigned.unzip();
        self.conversations.insert(
            id.clone(),
            Conversation {
                id: id.clone(),
                consumer_id: consumer_id.to_owned(),
                skill_id,
                open: true,
                close_reason: None,
                start_ts: now_ms(),
                assigned,
                assigned_pid,
                ring: None,
                rejected_by: HashSet::new(),
                events: VecDeque::new(),
                next_sequence: 1,
                client,
            },
        );
        id
    }

    /// A consumer socket subscribes to a dialog's events: past ones from
    /// `from_seq` at once, new ones as they come.
    pub fn subscribe_dialog(
        &mut self,
        conn: u64,
        consumer_id: &str,
        dialog_id: &str,
        from_seq: u64,
    ) -> Result<(), Refusal> {
        let conv = self
            .conversations
            .get(dialog_id)
            .ok_or((404, format!("no dialog {dialog_id}")))?;
        if conv.consumer_id != consumer_id {
            return refuse(403, format!("dialog {dialog_id} is not this consumer's"));
        }
        let changes = changes_from(conv, from_seq);
        let consumer = self
            .consumers
            .get_mut(&conn)
            .ok_or((401, "not connected".to_string()))?;
        consumer.dialog_subscriptions.insert(dialog_id.to_owned());
        if let Some(outbox) = &consumer.outbox {
            for changes in changes.chunks(limits::HISTORY_PAGE) {
                Self::send(
                    outbox,
                    wire::notification(
                        "ms.MessagingEventNotification",
                        json!({"changes": changes}),
                    ),
                );
            }
        }
        Ok(())
    }
}

/// The conversation's events from sequence `from_seq` on, as the changes
/// of an `ms.MessagingEventNotification`.
fn changes_from(conv: &Conversation, from_seq: u64) -> Vec<Value> {
    let start = conv.events.partition_point(|e| e.sequence < from_seq);
    conv.events
        .range(start..)
        .map(|e| consumer_change(conv, e, false))
        .collect()
}

fn consumer_change(conv: &Conversation, e: &StoredEvent, transient: bool) -> Value {
    let mut change = json!({
        "originatorId": e.originator_pid,
        "originatorMetadata": {"id": e.originator_pid, "role": e.role.as_str()},
        "serverTimestamp": e.server_ts, "event": e.event,
        "conversationId": conv.id, "dialogId": conv.id,
    });
    if !transient {
        change["sequence"] = json!(e.sequence);
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClientLimits, ConsumerAuth, HubSkill};

    fn hub_state() -> HubState {
        HubState::new(HubConfig {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            account: "123".into(),
            default_skill: "1".into(),
            skills: vec![HubSkill {
                id: "1".into(),
                name: "one".into(),
            }],
            users: Vec::new(),
            ring_expiration: std::time::Duration::from_secs(30),
            engagements: Vec::new(),
            consumer_auth: ConsumerAuth::default(),
            clients: ClientLimits::default(),
            agent_grace: std::time::Duration::from_secs(1),
            tls: None,
        })
    }

    fn text(n: usize) -> Value {
        json!({"type": "ContentEvent", "contentType": "text/plain", "message": format!("m{n}")})
    }

    #[test]
    fn a_conversation_keeps_its_last_thousand_events() {
        let mut state = hub_state();
        let id = state.request_conversation("c", None, None).unwrap();
        for n in 1..=limits::KEPT_EVENTS + 5 {
            assert_eq!(state.consumer_publish("c", &id, text(n)).unwrap(), n as u64);
        }
        let kept = &state.conversations[&id].events;
        assert_eq!(kept.len(), limits::KEPT_EVENTS);
        let page = state.history(&id, None, 2).unwrap();
        assert_eq!(page[0]["sequence"], 6, "the five oldest left: {page}");
        let page = state.history(&id, Some(1003), 100).unwrap();
        assert_eq!(page.as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_hub_forgets_the_earliest_closed_conversations_first() {
        let mut state = hub_state();
        let mut ids = Vec::new();
        for n in 0..=limits::KEPT_CLOSED_CONVERSATIONS {
            let id = state
                .request_conversation(&format!("c{n}"), None, None)
                .unwrap();
            state.close(&id, "CONSUMER");
            ids.push(id);
        }
        let open = state
            .request_conversation("still-open", None, None)
            .unwrap();
        assert!(!state.conversations.contains_key(&ids[0]));
        assert!(state.conversations.contains_key(&ids[1]));
        assert!(state.conversations.contains_key(ids.last().unwrap()));
        assert!(state.conversations[&open].open);
        assert_eq!(
            state.conversations.len(),
            limits::KEPT_CLOSED_CONVERSATIONS + 1
        );
    }

    #[test]
    fn a_client_is_charged_for_its_open_conversations_until_they_close() {
        let mut state = hub_state();
        let client = ClientKey::of([10, 0, 0, 1].into());
        let mut ids = Vec::new();
        for n in 0..ClientLimits::default().open_conversations {
            let id = state.request_conversation(&format!("c{n}"), Some(client), None);
            ids.push(id.unwrap());
        }
        let refused = state.request_conversation("one-more", Some(client), None);
        assert_eq!(refused.unwrap_err().0, 429);
        state.close(&ids[0], "CONSUMER");
        state.close(&ids[0], "CONSUMER");
        state
            .request_conversation("one-more", Some(client), None)
            .unwrap();
        let refused = state.request_conversation("two-more", Some(client), None);
        assert_eq!(refused.unwrap_err().0, 429, "closing twice gave back one");
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_is_closed_not_buffered_without_end() {
        let (outbox, mut reader) = outbox();
        for n in 0..OUTBOX_FRAMES {
            outbox
                .send(Outgoing::Text(n.to_string()))
                .expect("room for it");
        }
        assert!(outbox.send(Outgoing::Text("one too many".into())).is_err());
        match reader.next().await {
            Some(Outgoing::Close(code, _)) => assert_eq!(code, 1008),
            other => panic!("expected a close, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_large_frames_is_closed_at_the_byte_bound() {
        let (outbox, mut reader) = outbox();
        let page = "x".repeat(1024 * 1024);
        for _ in 0..OUTBOX_BYTES / page.len() {
            outbox
                .send(Outgoing::Text(page.clone()))
                .expect("room for it");
        }
        assert!(outbox.send(Outgoing::Text(page.clone())).is_err());
        match reader.next().await {
            Some(Outgoing::Close(code, _)) => assert_eq!(code, 1008),
            other => panic!("expected a close, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn bytes_taken_by_the_writer_make_room_again() {
        let (outbox, mut reader) = outbox();
        let page = "x".repeat(1024 * 1024);
        for _ in 0..3 * OUTBOX_BYTES / page.len() {
            outbox
                .send(Outgoing::Text(page.clone()))
                .expect("room for it");
            assert!(matches!(reader.next().await, Some(Outgoing::Text(_))));
        }
    }

    #[tokio::test]
    async fn frames_come_out_in_order() {
        let (outbox, mut reader) = outbox();
        for n in 0..3 {
            outbox.send(Outgoing::Text(n.to_string())).unwrap();
        }
        for n in 0..3 {
            assert!(matches!(reader.next().await, Some(Outgoing::Text(t)) if t == n.to_string()));
        }
    }
}
