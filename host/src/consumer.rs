//! A consumer of a messaging platform (the embedded hub, or anything that
//! serves LivePerson's Messaging Window API): signs up, opens the consumer
//! socket with `lp`'s client, authenticates, opens a conversation and
//! chats in it, typed end to end.
//!
//! Owns: the consumer's steps, said once. The load generator and the
//! tests are its users (the product's own consumer is the web chat page);
//! a test that must send what no consumer would reaches the socket through
//! [`ConsumerClient::connection`] and reads it raw from the inbox.

use lp::ConsumerNotification;
use lp::client::{Arrived, ClientError, Connection, Inbox, Options, Received};
use lp::common::{ChannelType, Role};
use lp::connection::{ClientProperties, ConsumerAuthentication, Feature, Header, InitConnection};
use lp::conversations::{ConsumerRequestConversation, ConversationState, SubscribeExConversations};
use lp::fields::{ConversationField, ConversationStateField, UpdateConversationField};
use lp::kind::Consumer;
use lp::messaging::{ContentEvent, Event, EventRecord, PublishEvent, SubscribeMessagingEvents};

use crate::http::HttpClient;

/// Why a consumer step failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Signup failed (the hub refused, e.g. 429, or is not there).
    #[error("signup: {0}")]
    Signup(String),
    /// The socket could not be opened, or a request got no answer.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// A signed-up consumer on its socket.
pub struct ConsumerClient {
    /// The socket.
    pub connection: Connection<Consumer>,
    /// What arrives on it besides responses.
    pub inbox: Inbox<Consumer>,
    /// The consumer JWT it authenticated with.
    pub jwt: String,
    /// Its conversation, once opened.
    pub conversation_id: Option<String>,
}

/// The consumer socket's URL for `account` on a hub at `base_url`
/// (`http(s)://host:port`).
pub fn socket_url(base_url: &str, account: &str) -> String {
    format!(
        "{}/ws_api/account/{account}/messaging/consumer?v=3",
        base_url.replacen("http", "ws", 1)
    )
}

/// Signs up an unauthenticated consumer: its JWT.
pub async fn sign_up(
    http: &HttpClient,
    base_url: &str,
    account: &str,
) -> Result<String, ConsumerError> {
    let url = format!("{base_url}/api/account/{account}/signup");
    let answer = http
        .post_json(&url, &serde_json::json!({}))
        .await
        .map_err(|e| ConsumerError::Signup(e.to_string()))?;
    answer["jwt"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ConsumerError::Signup(format!("no jwt in {answer}")))
}

impl ConsumerClient {
    /// Signs up, opens the socket, authenticates and subscribes to its
    /// conversations.
    pub async fn connect(
        http: &HttpClient,
        base_url: &str,
        account: &str,
        options: &Options,
    ) -> Result<ConsumerClient, ConsumerError> {
        let jwt = sign_up(http, base_url, account).await?;
        let (connection, inbox) = Connection::open(&socket_url(base_url, account), options).await?;
        Self::authenticate(connection, inbox, jwt).await
    }

    /// Authenticates an open socket with `jwt` (`InitConnection`) and
    /// subscribes to the consumer's conversations.
    pub async fn authenticate(
        connection: Connection<Consumer>,
        inbox: Inbox<Consumer>,
        jwt: String,
    ) -> Result<ConsumerClient, ConsumerError> {
        let headers = [
            Header::ClientProperties(ClientProperties {
                features: vec![Feature::RichContent, Feature::QuickReplies],
            }),
            Header::ConsumerAuthentication(ConsumerAuthentication { jwt: jwt.clone() }),
        ];
        connection
            .request_with(
                &InitConnection {},
                lp::envelope::Extras {
                    headers: &headers,
                    ..Default::default()
                },
            )
            .await?;
        connection
            .request(&SubscribeExConversations {
                conv_state: vec![ConversationState::Open, ConversationState::Close],
                agent_ids: None,
            })
            .await?;
        Ok(ConsumerClient {
            connection,
            inbox,
            jwt,
            conversation_id: None,
        })
    }

    /// Asks for a conversation (`account`'s default skill) and subscribes
    /// to its events: its id.
    pub async fn start_conversation(&mut self, account: &str) -> Result<String, ConsumerError> {
        let id = start_conversation(&self.connection, account).await?;
        self.conversation_id = Some(id.clone());
        Ok(id)
    }

    /// Publishes text in the conversation: its sequence.
    pub async fn say(&self, text: &str) -> Result<u64, ConsumerError> {
        say(
            &self.connection,
            self.conversation_id.as_deref().unwrap_or_default(),
            text,
        )
        .await
    }

    /// Closes its conversation (the consumer ends it).
    pub async fn close(&self) -> Result<(), ConsumerError> {
        let id = self.conversation_id.as_deref().unwrap_or_default();
        self.connection
            .request(&UpdateConversationField {
                conversation_id: id.into(),
                conversation_field: vec![ConversationField::State(ConversationStateField {
                    conversation_state: ConversationState::Close,
                })],
            })
            .await?;
        Ok(())
    }

    /// The next frame that is not a response to a request waiting.
    pub async fn next(&mut self) -> Option<Arrived<ConsumerNotification>> {
        self.inbox.next().await
    }
}

/// Asks for a conversation (`account`'s default skill) on `connection`
/// and subscribes to its events: its id.
pub async fn start_conversation(
    connection: &Connection<Consumer>,
    account: &str,
) -> Result<String, ConsumerError> {
    let created = connection
        .request(&ConsumerRequestConversation {
            brand_id: Some(account.into()),
            skill_id: None,
            channel_type: Some(ChannelType::Messaging),
            campaign_info: None,
            conversation_context: None,
        })
        .await?;
    let id: String = created.conversation_id.into();
    connection
        .request(&SubscribeMessagingEvents {
            dialog_id: id.as_str().into(),
            conversation_id: None,
            from_seq: 0,
        })
        .await?;
    Ok(id)
}

/// Publishes `text` in `conversation`: its sequence.
pub async fn say(
    connection: &Connection<Consumer>,
    conversation: &str,
    text: &str,
) -> Result<u64, ConsumerError> {
    let mut publish = PublishEvent::new(conversation, Event::Content(ContentEvent::text(text)));
    publish.conversation_id = Some(conversation.into());
    Ok(connection.request(&publish).await?.sequence)
}

/// The events an agent published, among what arrived.
pub fn agent_events(arrived: &Arrived<ConsumerNotification>) -> Vec<&EventRecord> {
    match &arrived.frame {
        Ok(Received::Notification(ConsumerNotification::MessagingEvents(events))) => events
            .changes
            .iter()
            .filter(|change| matches!(change.role(), Some(Role::AssignedAgent | Role::Agent)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The texts an agent published, among what arrived.
pub fn agent_texts(arrived: &Arrived<ConsumerNotification>) -> Vec<String> {
    agent_events(arrived)
        .into_iter()
        .filter_map(|record| match &record.event {
            Event::Content(content) => content.as_text().map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// True when what arrived says an agent has joined the conversation.
pub fn agent_joined(arrived: &Arrived<ConsumerNotification>) -> bool {
    match &arrived.frame {
        Ok(Received::Notification(ConsumerNotification::ExConversationChange(change))) => change
            .changes
            .iter()
            .filter_map(|change| change.result.conversation_details.as_ref())
            .any(|details| {
                !details
                    .participants
                    .with_role(&Role::AssignedAgent)
                    .is_empty()
            }),
        _ => false,
    }
}
