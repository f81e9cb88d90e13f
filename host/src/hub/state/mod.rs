//! The hub's model of its account: conversations with their event history,
//! logged-in agents and connected consumers, and what changes them.
//!
//! Every method runs under the hub's one lock and sends frames to
//! connections through their outboxes; none of them awaits.
//!
//! # Layout
//! - this file: the model (conversations, agents, consumers, sessions)
//!   and the changes to a conversation's life: opening, step-up, transfer
//!   and close;
//! - [`outbox`]: the frames waiting for one socket, and their writer;
//! - [`routing`]: who is rung for a waiting conversation (a pure choice,
//!   [`routing::choose`]), ring answers and expiry, agents lost and back;
//! - [`index`]: what set-up looks up (a consumer's conversations, loads,
//!   the waiting ones) without a walk over every conversation;
//! - [`events`]: each conversation's event log: publishing, history pages,
//!   dialog subscriptions;
//! - [`notify`]: what agents and consumers are told when a conversation
//!   changes, and the snapshots a new subscription gets.

mod events;
mod index;
mod notify;
mod outbox;
pub mod routing;
mod secrets;
mod ttr;

use std::collections::{HashMap, HashSet, VecDeque};

use lp::common::{Change, ChannelType, Role};
use lp::conversations::{CloseReason, ConversationState};
use lp::fields::{ConversationField, FieldChangeType};
use lp::routing::{AgentState, AgentStateNotification};
use tokio::time::Instant;

use super::clients::{ClientKey, Clients};
use super::consumer_tokens::ConsumerTokens;
use super::limits;
use super::sessions::Sessions;
use crate::clock::now_ms;
use crate::config::HubConfig;

pub use events::StoredEvent;
pub use outbox::{Outbox, Outgoing, outbox, write_frames};

#[derive(Debug)]
pub struct Ring {
    pub id: String,
    pub agent_conn: u64,
    /// Its expiry timer, stopped when the ring ends any other way: a
    /// sleeping task for the whole ring expiration (a minute by default)
    /// is memory every conversation would hold long after it was answered.
    pub expiry: Option<tokio::task::AbortHandle>,
}

impl Drop for Ring {
    fn drop(&mut self) {
        if let Some(timer) = self.expiry.take() {
            timer.abort();
        }
    }
}

#[derive(Debug)]
pub struct Conversation {
    pub id: String,
    pub consumer_id: String,
    pub skill_id: String,
    pub open: bool,
    pub close_reason: Option<CloseReason>,
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
    /// Its time to response, once set (boxed: most never have one).
    pub ttr: Option<Box<lp::fields::Ttr>>,
}

/// An agent's availability (`.ams.routing.SetAgentState`): only ONLINE
/// agents are offered new conversations. The agent socket refuses values
/// the hub does not know, so `Other` never gets here.
pub use lp::routing::Availability;

/// An agent's `.ams.aam.SubscribeExConversations`.
#[derive(Debug)]
pub struct ConversationSubscription {
    pub id: String,
    /// The assigned agents whose conversations it sees; `None`: every
    /// conversation of the account (the manager view).
    pub agent_ids: Option<Vec<lp::common::AgentId>>,
    /// The states it sees; empty: all.
    pub states: Vec<ConversationState>,
}

impl ConversationSubscription {
    fn sees(&self, assigned: Option<&str>) -> bool {
        match &self.agent_ids {
            None => true,
            Some(ids) => assigned.is_some_and(|user| ids.iter().any(|id| id == user)),
        }
    }

    fn wants(&self, conv: &Conversation) -> bool {
        self.states.is_empty() || self.states.contains(&conv.state())
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

/// A logged-in agent socket (its Debug, in `secrets.rs`, hides the bearer).
pub struct Agent {
    pub outbox: Outbox,
    /// The bearer of the session it runs in.
    pub bearer: String,
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

/// Who a logged-in agent session runs as (from `login`, used by the
/// agent socket); the session store is `hub::sessions`.
#[derive(Clone)]
pub struct Session {
    /// Its bearer token.
    pub bearer: String,
    pub login: String,
    pub user_id: String,
    pub pid: String,
}

/// Why a request was refused: the response code and message.
pub type Refusal = lp::ErrorResponse;

fn refuse<T>(code: u16, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::new(code, message))
}

/// The refusal of a request on a connection that is not (or no longer) logged in.
fn not_logged_in() -> Refusal {
    Refusal::new(401, "not logged in")
}

pub struct HubState {
    pub config: HubConfig,
    /// Boxed: the map keeps an eighth or more of its slots free, and a
    /// slot of a box is 8 bytes where a conversation is about 300.
    pub conversations: HashMap<String, Box<Conversation>>,
    /// Closed conversations' ids, the earliest closed first.
    closed: VecDeque<String>,
    pub agents: HashMap<u64, Agent>,
    pub consumers: HashMap<u64, Consumer>,
    /// The consumer sockets subscribed to each dialog (the consumers'
    /// `dialog_subscriptions` read the other way): an event reaches its
    /// subscribers without a walk over every socket.
    dialog_subscribers: HashMap<String, Vec<u64>>,
    index: index::Index,
    /// The agents' login sessions.
    pub sessions: Sessions,
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
            sessions: Sessions::new(config.sessions),
            config,
            conversations: HashMap::new(),
            closed: VecDeque::new(),
            agents: HashMap::new(),
            consumers: HashMap::new(),
            dialog_subscribers: HashMap::new(),
            index: index::Index::default(),
            webhook_sessions: HashMap::new(),
            next_id: 1,
            assignment_clock: 0,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn send(outbox: &Outbox, frame: String) {
        // A closed outbox means the connection is going away; its cleanup follows.
        let _ = outbox.send(Outgoing::Text(frame));
    }

    /// Ends an agent connection's conversation subscription: no more
    /// `ExConversationChangeNotification` for it.
    pub fn unsubscribe_conversations(&mut self, conn: u64, id: &str) -> Result<(), Refusal> {
        let agent = self.agents.get_mut(&conn).ok_or_else(not_logged_in)?;
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
    pub fn set_availability(
        &mut self,
        conn: u64,
        availability: Availability,
        channels: &[ChannelType],
    ) {
        let Some(agent) = self.agents.get_mut(&conn) else {
            return;
        };
        agent.availability = availability.clone();
        let user_id = agent.user_id.clone();
        for watcher in self.agents.values() {
            let Some(subscription) = watcher
                .agent_state_subscription
                .as_ref()
                .filter(|s| s.agent_user_id == user_id)
            else {
                continue;
            };
            let note = AgentStateNotification {
                subscription_id: Some(subscription.id.as_str().into()),
                changes: vec![Change::upsert(AgentState {
                    agent_user_id: Some(user_id.as_str().into()),
                    channels: channels.to_vec(),
                    availability: availability.clone(),
                    description: Some(String::new()),
                })],
            };
            Self::send(&watcher.outbox, lp::Agent::notification(&note));
        }
    }

    /// Transfer (`ParticipantsChange REMOVE ASSIGNED_AGENT` + `Skill UPDATE`),
    /// close and time to response, from an agent.
    pub fn agent_update_fields(
        &mut self,
        conn: u64,
        conv_id: &str,
        fields: &[ConversationField],
    ) -> Result<(), Refusal> {
        let user_id = self
            .agents
            .get(&conn)
            .map(|a| a.user_id.clone())
            .ok_or_else(not_logged_in)?;
        let conv = self
            .conversations
            .get(conv_id)
            .ok_or_else(|| Refusal::new(404, format!("no conversation {conv_id}")))?;
        match fields {
            [ConversationField::Ttr(ttr)] => return self.set_ttr(&user_id, conv_id, ttr),
            _ if fields
                .iter()
                .any(|f| matches!(f, ConversationField::Ttr(_))) =>
            {
                return refuse(400, "TTRField goes alone, not beside other fields");
            }
            _ => {}
        }
        let close = fields.iter().find_map(|f| match f {
            ConversationField::State(close) => Some(close),
            _ => None,
        });
        if let Some(close) = close {
            if close.conversation_state != ConversationState::Close {
                return refuse(400, "conversationState must be CLOSE");
            }
            self.close(conv_id, CloseReason::Agent);
            return Ok(());
        }
        let removes_agent = fields.iter().any(|f| {
            matches!(f, ConversationField::ParticipantsChange(change)
                if change.change == FieldChangeType::Remove && change.role == Role::AssignedAgent)
        });
        let new_skill = fields.iter().find_map(|f| match f {
            ConversationField::Skill(change) => Some(change.skill.to_string()),
            _ => None,
        });
        if !removes_agent && new_skill.is_none() {
            return refuse(
                400,
                "supported fields: ConversationStateField CLOSE, TTRField alone, or ParticipantsChange REMOVE ASSIGNED_AGENT with Skill UPDATE",
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
            let previous = conv.assigned.take();
            if let Some(user) = &previous {
                self.index.unassigned(user);
            }
            self.index.may_wait(conv);
            previous
        } else {
            None
        };
        self.notify_agents(conv_id, previous.as_deref());
        self.notify_consumer(conv_id);
        Ok(())
    }

    /// Closes a conversation.
    pub fn close(&mut self, conv_id: &str, by: CloseReason) {
        let Some(conv) = self.conversations.get_mut(conv_id) else {
            return;
        };
        if !conv.open {
            return;
        }
        conv.open = false;
        conv.close_reason = Some(by);
        let withdrawn = conv.ring.take();
        if let Some(ring) = &withdrawn {
            self.index.ring_ended(ring.agent_conn);
        }
        if let Some(user) = &conv.assigned {
            self.index.unassigned(user);
        }
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
        // The agent it rang learns the ring is withdrawn, as on LivePerson.
        if let Some(ring) = withdrawn {
            self.send_ring(
                ring.agent_conn,
                conv_id,
                &ring.id,
                lp::routing::RingState::Cancelled,
            );
        }
        self.notify_agents(conv_id, assigned.as_deref());
        self.notify_consumer(conv_id);
        self.closed.push_back(conv_id.to_owned());
        if self.closed.len() > limits::KEPT_CLOSED_CONVERSATIONS
            && let Some(oldest) = self.closed.pop_front()
        {
            if let Some(forgotten) = self.conversations.remove(&oldest) {
                self.index.forgotten(&forgotten);
            }
            self.dialog_subscribers.remove(&oldest);
        }
    }

    /// Step-up: the open conversation of `from` now
    /// belongs to `to`, history and id kept; both sides get an UPSERT, where
    /// the changed CONSUMER id is the agent side's step-up signal.
    pub fn step_up(&mut self, from: &str, to: &str) {
        let Some(conv_id) = self.open_of(from).map(|c| c.id.clone()) else {
            return;
        };
        self.conversations
            .get_mut(&conv_id)
            .expect("found above")
            .consumer_id = to.to_owned();
        self.index.consumer_changed(&conv_id, from, to);
        for conn in self.sockets_of(from).to_vec() {
            self.sign_in_consumer(conn, to.to_owned());
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
        if self.open_of(consumer_id).is_some() {
            return refuse(400, "the consumer already has an open conversation");
        }
        let skill_id = self.skill_or_default(skill)?;
        if let Some(client) = client {
            self.clients
                .open_conversation(client)
                .map_err(|over| Refusal::new(429, over.message))?;
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
        let agent = self.agents.get(&conn).ok_or_else(not_logged_in)?;
        let assigned = (agent.user_id.clone(), agent.pid.clone());
        let known = self.consumer_tokens.knows(consumer_id, Instant::now())
            || !self.conversations_of(consumer_id).is_empty();
        if !known {
            return refuse(
                404,
                format!(
                    "no consumer {consumer_id} in account {}",
                    self.config.account
                ),
            );
        }
        if self.open_of(consumer_id).is_some() {
            return refuse(
                400,
                format!("consumer {consumer_id} already has an open conversation"),
            );
        }
        let skill_id = self.skill_or_default(skill)?;
        Ok(self.open_conversation(consumer_id, skill_id, Some(assigned), None))
    }

    /// A skill of the account; `-1` or none is the default skill.
    pub(super) fn skill_or_default(&self, skill: Option<String>) -> Result<String, Refusal> {
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
    pub(super) fn open_conversation(
        &mut self,
        consumer_id: &str,
        skill_id: String,
        assigned: Option<(String, String)>,
        client: Option<ClientKey>,
    ) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let (assigned, assigned_pid) = assigned.unzip();
        let conv = Box::new(Conversation {
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
            next_sequence: 0,
            client,
            ttr: None,
        });
        self.index.opened(&conv);
        self.conversations.insert(id.clone(), conv);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientLimits;

    pub(super) fn hub_state() -> HubState {
        HubState::new(crate::hub::fuzzing::minimal_config())
    }

    pub(super) fn text(n: usize) -> lp::messaging::Event {
        lp::messaging::ContentEvent::text(format!("m{n}")).into()
    }

    #[test]
    fn the_hub_forgets_the_earliest_closed_conversations_first() {
        let mut state = hub_state();
        let mut ids = Vec::new();
        for n in 0..=limits::KEPT_CLOSED_CONVERSATIONS {
            let id = state
                .request_conversation(&format!("c{n}"), None, None)
                .unwrap();
            state.close(&id, CloseReason::Consumer);
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
        assert_eq!(refused.unwrap_err().code, 429);
        state.close(&ids[0], CloseReason::Consumer);
        state.close(&ids[0], CloseReason::Consumer);
        state
            .request_conversation("one-more", Some(client), None)
            .unwrap();
        let refused = state.request_conversation("two-more", Some(client), None);
        assert_eq!(
            refused.unwrap_err().code,
            429,
            "closing twice gave back one"
        );
    }
}
