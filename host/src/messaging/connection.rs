//! [`AgentConnection`]: one logged-in agent session. It connects (lookup,
//! login, prerequisites, the socket, ONLINE, subscriptions), sends typed
//! requests and waits for their typed answers, keeps the session alive,
//! serves the connector's [`Platform`] requests, and logs out.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use lp::common::{ChannelType, Role};
use lp::connection::GetClock;
use lp::conversations::{ConversationState, SubscribeExConversations};
use lp::envelope::Extras;
use lp::fields::{
    ConversationField, ConversationStateField, FieldChangeType, ParticipantsChange, SkillChange,
    Ttr, UpdateConversationField,
};
use lp::messaging::{
    ContentEvent, EncodedMetadata, Event, EventRecord, MessageAudience, PublishEvent, QueryMessages,
};
use lp::routing::{Availability, RingState, SetAgentState, SubscribeRoutingTasks, UpdateRingState};
use lp::users::{GetUserProfile, UserProfile};
use lp::{Agent, Request};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Credentials;
use super::login::{self, LoginSession};
use super::prerequisites;
use super::translate;
use super::transport::{self, Transport};
use crate::ports::{DialError, PastEvent, Platform, PlatformError, PlatformEvent, Published};

/// Every request is answered within this time or counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a logout waits for the platform: a shutdown must not hang on it.
pub const LOGOUT_PATIENCE: Duration = Duration::from_secs(2);
/// The most recent events of a conversation's history the connector keeps
/// when it reads it (older ones are read and dropped).
const HISTORY_KEPT: usize = 1000;
/// Events asked for per `QueryMessages` page (LivePerson's most).
const HISTORY_PAGE: u32 = 100;
/// Application keep-alive (`GetClock`) interval.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// A live agent connection. Dropping it closes the socket.
pub struct AgentConnection {
    /// Where and as whom it logged in, for refresh and logout.
    credentials: Credentials,
    /// The agentVep domain: login, refresh, logout.
    vep: String,
    /// The login session.
    session: LoginSession,
    /// What could not be checked (see [`prerequisites`]).
    warnings: Vec<String>,
    transport: Transport,
    next_id: AtomicU64,
    agent_id: String,
    /// Account-qualified ids of the bot's agent users (see
    /// [`Credentials::bot_users`]).
    bot_agents: HashSet<String>,
    /// The account's skill ids by name (see [`Self::skill_id`]).
    skills: HashMap<String, String>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for AgentConnection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl AgentConnection {
    /// Looks the account up, logs in, opens the WebSocket, goes ONLINE and
    /// subscribes to conversations and routing tasks. Events arrive on the
    /// returned receiver.
    pub async fn connect(
        credentials: &Credentials,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(Arc<AgentConnection>, mpsc::UnboundedReceiver<PlatformEvent>), DialError> {
        let account = &credentials.account;
        progress("looking up the account's domains");
        let domains = login::domains(credentials).await?;
        let session = login::login(credentials, &domains.vep, progress).await?;
        let (bearer, agent_id) = (session.bearer.clone(), session.agent_id.clone());
        progress("checking the bot user's prerequisites");
        let checked = prerequisites::check(credentials, domains.config.as_deref(), &bearer).await;
        let mut prerequisites = match checked {
            Ok(prerequisites) => prerequisites,
            Err(error) => {
                // A session that goes no further is not left behind.
                let _ = login::logout(credentials, &domains.vep, &session).await;
                return Err(error);
            }
        };
        prerequisites.bot_agents.insert(agent_id.clone());
        let messaging = domains.messaging;

        let (events, receiver) = mpsc::unbounded_channel();
        let lost = events.clone();
        let (transport, tasks) = match &credentials.webhook {
            None => {
                transport::open_socket(
                    credentials,
                    &messaging,
                    &bearer,
                    &agent_id,
                    events,
                    progress,
                )
                .await?
            }
            Some(webhook) => {
                transport::open_webhook(
                    credentials,
                    &messaging,
                    &bearer,
                    webhook,
                    &agent_id,
                    events,
                    progress,
                )
                .await?
            }
        };
        let connection = Arc::new(AgentConnection {
            credentials: credentials.clone(),
            vep: domains.vep,
            session,
            warnings: prerequisites.warnings,
            transport,
            next_id: AtomicU64::new(1),
            agent_id: agent_id.clone(),
            bot_agents: prerequisites.bot_agents,
            skills: prerequisites.skills,
            tasks,
        });
        progress("subscribing");
        connection
            .call(SetAgentState {
                availability: Availability::Online,
                channels: vec![ChannelType::Messaging],
                agent_user_id: Some(agent_id.as_str().into()),
            })
            .await?;
        connection
            .call(SubscribeExConversations {
                // What it uses: its open conversations. A conversation that
                // closes or is transferred away leaves them (a DELETE change),
                // so the closed ones (up to 1,001 at LivePerson) never come.
                conv_state: vec![ConversationState::Open],
                agent_ids: Some(vec![agent_id.as_str().into()]),
            })
            .await?;
        connection
            .call(SubscribeRoutingTasks {
                channel_type: Some(ChannelType::Messaging),
                agent_id: Some(agent_id.as_str().into()),
                brand_id: Some(account.as_str().into()),
            })
            .await?;

        // The login session is refreshed before it expires; one the
        // platform says is over ends this session (the connector logs in again).
        let refreshing = Arc::downgrade(&connection);
        let expired = lost.clone();
        let every = credentials.session_refresh;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(connection) = refreshing.upgrade() else {
                    break;
                };
                match connection.refresh().await {
                    Ok(true) => {}
                    Ok(false) => {
                        let reason = "the login session expired: logging in again".to_owned();
                        let _ = expired.send(PlatformEvent::Disconnected { reason });
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(agent = %connection.agent_id, %error, "the login session could not be refreshed");
                    }
                }
            }
        });

        // The keep-alive is also how an HTTP session notices the platform is gone.
        let keep_alive = Arc::downgrade(&connection);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEP_ALIVE).await;
                let Some(connection) = keep_alive.upgrade() else {
                    break;
                };
                if let Err(PlatformError::Unavailable { reason, .. }) =
                    connection.call(GetClock {}).await
                {
                    let _ = lost.send(PlatformEvent::Disconnected { reason });
                    break;
                }
            }
        });
        Ok((connection, receiver))
    }

    /// Goes OFFLINE (so the platform routes this agent's conversations to
    /// others at once), closes the socket and logs the session out (its
    /// bearer is no good after). A platform that does not answer within
    /// [`LOGOUT_PATIENCE`] is left as is: it treats the closed socket as a
    /// dropped agent, and the session expires.
    pub async fn log_out(&self) {
        let offline = self.call(SetAgentState {
            availability: Availability::Offline,
            channels: Vec::new(),
            agent_user_id: Some(self.agent_id.as_str().into()),
        });
        if tokio::time::timeout(LOGOUT_PATIENCE, offline)
            .await
            .is_err()
        {
            tracing::warn!(agent = %self.agent_id, "the platform did not answer the logout in time");
        }
        match &self.transport {
            Transport::Socket(connection) => connection.close(None),
            Transport::Http {
                client, session, ..
            } => {
                let _ = client.delete(session).await;
            }
        }
        let logout = login::logout(&self.credentials, &self.vep, &self.session);
        match tokio::time::timeout(LOGOUT_PATIENCE, logout).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(agent = %self.agent_id, %error, "the login session could not be logged out");
            }
            Err(_) => {
                tracing::warn!(agent = %self.agent_id, "the platform did not answer the session's logout in time");
            }
        }
    }

    /// Refreshes the login session: `Ok(false)` when it is over.
    async fn refresh(&self) -> Result<bool, String> {
        login::refresh(&self.credentials, &self.vep, &self.session).await
    }

    /// What could not be checked at connect, for Details.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Looks the account up, logs in and checks the user's prerequisites,
    /// without opening the messaging WebSocket. Answers who created the
    /// user, where the platform says (`createdBy`).
    pub async fn verify(credentials: &Credentials) -> Result<Option<String>, DialError> {
        let domains = login::domains(credentials).await?;
        let session = login::login(credentials, &domains.vep, &|_| {}).await?;
        let checked =
            prerequisites::check(credentials, domains.config.as_deref(), &session.bearer).await;
        // The session was only for the check.
        if let Err(error) = login::logout(credentials, &domains.vep, &session).await {
            tracing::debug!(%error, "the check's session could not be logged out");
        }
        Ok(checked?.created_by)
    }

    /// The id of the skill `skill` names: a skill id stays as it is, a
    /// skill's name (as bots written for LivePerson's Third-Party Bots
    /// name it) becomes its id. Anything else goes as it is, for the
    /// platform to refuse.
    fn skill_id<'a>(&'a self, skill: &'a str) -> &'a str {
        if self.skills.values().any(|id| id == skill) {
            return skill;
        }
        match self.skills.get(skill) {
            Some(id) => id,
            None => {
                if !self.skills.is_empty() {
                    tracing::warn!(
                        skill,
                        "no skill of the account has this name or id: asking the platform with it as it is"
                    );
                }
                skill
            }
        }
    }

    /// This agent's account-qualified id.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// Sends a request and waits for its typed answer.
    pub async fn request<R: Request<Agent>>(&self, body: R) -> Result<R::Response, PlatformError> {
        let response = self.exchange(&body).await?;
        response
            .decode::<R::Response>()
            .map_err(|error| PlatformError::Unavailable {
                request: R::KIND.to_owned(),
                reason: format!("unreadable answer: {error}"),
            })
    }

    /// Sends a request whose answer's body nobody reads (platforms differ
    /// in what they put there): only its code counts.
    pub async fn call<R: Request<Agent>>(&self, body: R) -> Result<(), PlatformError> {
        self.exchange(&body).await.map(drop)
    }

    /// Sends a request and waits for its response; a refusal is an error.
    async fn exchange<R: Request<Agent>>(
        &self,
        body: &R,
    ) -> Result<lp::ResponseFrame, PlatformError> {
        let kind = R::KIND;
        let response = match &self.transport {
            Transport::Socket(connection) => {
                let exchange = connection.exchange(body, Extras::default());
                match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(error)) => return Err(unavailable(kind, error.to_string())),
                    Err(_) => return Err(unavailable(kind, "no response within 10 s".into())),
                }
            }
            Transport::Http {
                client, requests, ..
            } => {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
                post(client, requests, Agent::request(&id, body), kind).await?
            }
        };
        judged(kind, response)
    }
}

/// A request's failure to get an answer.
fn unavailable(kind: &str, reason: String) -> PlatformError {
    PlatformError::Unavailable {
        request: kind.to_owned(),
        reason,
    }
}

/// A response, or the refusal it says (code above 399).
fn judged(kind: &str, response: lp::ResponseFrame) -> Result<lp::ResponseFrame, PlatformError> {
    match response.error() {
        Some(refusal) => Err(PlatformError::Refused {
            request: kind.to_owned(),
            code: refusal.code,
            message: refusal.message,
        }),
        None => Ok(response),
    }
}

/// `external_webhook_url` mode: one request POSTed; the answer is its response frame.
async fn post(
    client: &crate::http::HttpClient,
    requests: &str,
    frame: String,
    kind: &str,
) -> Result<lp::ResponseFrame, PlatformError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, client.post_text(requests, frame)).await {
        Ok(Ok(text)) => match lp::AgentClientFrame::parse(&text) {
            Ok(lp::Frame::Response(response)) => Ok(response),
            _ => Err(unavailable(
                kind,
                "the answer is not a response frame".into(),
            )),
        },
        Ok(Err(error)) => Err(unavailable(kind, error.to_string())),
        Err(_) => Err(unavailable(kind, "no response within 10 s".into())),
    }
}

/// A publish's answer: the event's sequence.
fn sequence_of(answered: Result<lp::ResponseFrame, PlatformError>) -> Result<u64, PlatformError> {
    let kind = <PublishEvent as Request<Agent>>::KIND;
    judged(kind, answered?)?
        .decode::<<PublishEvent as Request<Agent>>::Response>()
        .map(|published| published.sequence)
        .map_err(|error| unavailable(kind, format!("unreadable answer: {error}")))
}

impl Platform for AgentConnection {
    fn reject_ring<'a>(&'a self, ring_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.call(UpdateRingState {
                ring_id: ring_id.into(),
                ring_state: RingState::Rejected,
            })
            .await
        })
    }

    fn accept_ring<'a>(&'a self, ring_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.call(UpdateRingState {
                ring_id: ring_id.into(),
                ring_state: RingState::Accepted,
            })
            .await
        })
    }

    fn publish<'a>(
        &'a self,
        conversation_id: &'a str,
        event: Event,
    ) -> BoxFuture<'a, Result<u64, PlatformError>> {
        Box::pin(async move {
            let published = self
                .request(PublishEvent::new(conversation_id, event))
                .await?;
            Ok(published.sequence)
        })
    }

    fn publish_then(
        &self,
        conversation_id: &str,
        event: Event,
        encoded_metadata: Option<&EncodedMetadata>,
        then: Published,
    ) -> Option<BoxFuture<'static, ()>> {
        let publish = PublishEvent::new(conversation_id, event);
        let kind = <PublishEvent as Request<Agent>>::KIND;
        let extras = Extras {
            encoded_metadata,
            ..Extras::default()
        };
        match &self.transport {
            Transport::Socket(connection) => {
                connection.request_then_with(
                    &publish,
                    extras,
                    Box::new(move |answered| {
                        let answered = answered
                            .map(|answered| answered.response)
                            .map_err(|error| unavailable(kind, error.to_string()));
                        then(sequence_of(answered));
                    }),
                );
                None
            }
            Transport::Http {
                client, requests, ..
            } => {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
                let frame = Agent::request_with(&id, &publish, extras);
                let (client, requests) = (client.clone(), requests.clone());
                Some(Box::pin(async move {
                    then(sequence_of(post(&client, &requests, frame, kind).await));
                }))
            }
        }
    }

    fn history<'a>(
        &'a self,
        conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PastEvent>, PlatformError>> {
        Box::pin(async move {
            // Page by page (LivePerson's maxQuantity is at most 100): a
            // long conversation never comes as one frame over a limit.
            // A dialog's first event is 0. The first page names no
            // sequence (the hub reads that as "from the start", LivePerson's
            // web client as "the newest lines"), so a short history comes
            // whole with event 0 however a platform reads
            // `newerThanSequence` (LivePerson's agent SDK sends a
            // subscription's `fromSeq` as it, so "from" rather than
            // "after"); each next page asks from the last sequence seen,
            // which is skipped if it comes again.
            let mut past: Vec<PastEvent> = Vec::new();
            let mut newer_than = None;
            loop {
                let query = QueryMessages {
                    dialog_id: conversation_id.into(),
                    newer_than_sequence: newer_than,
                    max_quantity: Some(HISTORY_PAGE),
                };
                // Each event is read on its own: one the connector cannot
                // read is skipped, not the whole history.
                let items: Vec<serde_json::Value> =
                    self.exchange(&query).await?.decode().unwrap_or_default();
                let full = items.len() >= HISTORY_PAGE as usize;
                let records: Vec<EventRecord> = items
                    .into_iter()
                    .filter_map(|item| {
                        serde_json::from_value::<EventRecord>(item)
                            .inspect_err(|error| {
                                tracing::warn!(conversation = conversation_id, %error, "a history event that does not read is skipped");
                            })
                            .ok()
                    })
                    .collect();
                // A full page may have a next one, from the newest sequence
                // it held; progress guards the loop.
                let next = records
                    .iter()
                    .filter_map(|record| record.sequence)
                    .max()
                    .filter(|&last| full && newer_than.is_none_or(|asked| last > asked));
                let mut page = translate::past_events(records, &self.bot_agents);
                page.retain(|e| newer_than.is_none_or(|asked| e.sequence > asked));
                past.extend(page);
                // Only the tail matters (the last utterances, what nobody
                // answered): a long conversation costs bounded memory.
                let excess = past.len().saturating_sub(HISTORY_KEPT);
                past.drain(..excess);
                match next {
                    Some(last) => newer_than = Some(last),
                    None => return Ok(past),
                }
            }
        })
    }

    fn transfer<'a>(
        &'a self,
        conversation_id: &'a str,
        skill_id: &'a str,
    ) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let leave = ConversationField::ParticipantsChange(ParticipantsChange {
                change: FieldChangeType::Remove,
                role: Role::AssignedAgent,
                user_id: Some(self.agent_id.as_str().into()),
            });
            let skill = ConversationField::Skill(SkillChange {
                change: FieldChangeType::Update,
                skill: self.skill_id(skill_id).into(),
            });
            self.call(UpdateConversationField {
                conversation_id: conversation_id.into(),
                conversation_field: vec![leave, skill],
            })
            .await
        })
    }

    fn user_profile<'a>(
        &'a self,
        consumer_id: &'a str,
    ) -> BoxFuture<'a, Result<UserProfile, PlatformError>> {
        Box::pin(self.request(GetUserProfile {
            user_id: Some(consumer_id.into()),
        }))
    }

    fn close<'a>(&'a self, conversation_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            let close = ConversationField::State(ConversationStateField {
                conversation_state: ConversationState::Close,
            });
            self.call(UpdateConversationField {
                conversation_id: conversation_id.into(),
                conversation_field: vec![close],
            })
            .await
        })
    }

    fn publish_private<'a>(
        &'a self,
        conversation_id: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<u64, PlatformError>> {
        Box::pin(async move {
            let note = PublishEvent {
                message_audience: Some(MessageAudience::AgentsAndManagers),
                ..PublishEvent::new(conversation_id, ContentEvent::text(text))
            };
            Ok(self.request(note).await?.sequence)
        })
    }

    fn change_ttr<'a>(
        &'a self,
        conversation_id: &'a str,
        ttr: Ttr,
    ) -> BoxFuture<'a, Result<(), PlatformError>> {
        Box::pin(async move {
            self.call(UpdateConversationField {
                conversation_id: conversation_id.into(),
                conversation_field: vec![ConversationField::Ttr(ttr)],
            })
            .await
        })
    }
}
