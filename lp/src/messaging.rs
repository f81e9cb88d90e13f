//! Messages in a conversation: publishing an event (`PublishEvent`), the
//! events themselves ([`Event`]: text, structured content, receipts, chat
//! states), and reading them back: live (`OnlineEventDistribution` on the
//! agent side, `MessagingEventNotification` on the consumer side), as
//! history (`QueryMessages`), or by subscription (`SubscribeMessagingEvents`).
//!
//! Structured content and quick replies stay `serde_json::Value`: they are
//! validated against LivePerson's own JSON Schemas where they are made,
//! and typing them twice would only let the two drift.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::{ConversationId, DialogId, ParticipantId, Role};
use crate::metadata::Metadata;

/// `PublishEvent`: `{"dialogId":"c1","event":{..}}`. The consumer side
/// also names the conversation; a body that names only the conversation
/// publishes in its MAIN dialog. Answered with the event's sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawPublishEvent")]
pub struct PublishEvent {
    /// The dialog (the MAIN dialog's id is the conversation's).
    pub dialog_id: DialogId,
    /// The conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// What is published.
    pub event: Event,
    /// Who may see it; everyone when absent. LivePerson names this field
    /// on the events it distributes; a private message is published with
    /// `AGENTS_AND_MANAGERS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_audience: Option<MessageAudience>,
}

/// [`PublishEvent`] as read, before the dialog is settled.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublishEvent {
    dialog_id: Option<DialogId>,
    conversation_id: Option<ConversationId>,
    event: Event,
    message_audience: Option<MessageAudience>,
}

impl TryFrom<RawPublishEvent> for PublishEvent {
    type Error = &'static str;

    fn try_from(raw: RawPublishEvent) -> Result<Self, Self::Error> {
        let dialog_id = match (raw.dialog_id, &raw.conversation_id) {
            (Some(dialog), _) => dialog,
            (None, Some(conversation)) => DialogId::main_of(conversation),
            (None, None) => return Err("missing field `dialogId`"),
        };
        Ok(PublishEvent {
            dialog_id,
            conversation_id: raw.conversation_id,
            event: raw.event,
            message_audience: raw.message_audience,
        })
    }
}

impl PublishEvent {
    /// Publishes `event` in the MAIN dialog `dialog`.
    pub fn new(dialog: impl Into<DialogId>, event: impl Into<Event>) -> Self {
        PublishEvent {
            dialog_id: dialog.into(),
            conversation_id: None,
            event: event.into(),
            message_audience: None,
        }
    }
}

/// The answer to [`PublishEvent`]: the event's sequence in its dialog
/// (0 for chat states, which are not kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Published {
    /// Its sequence.
    pub sequence: u64,
}

impl<'de> Deserialize<'de> for Published {
    /// Any answer reads: one without a readable `sequence` (no body, `null`,
    /// a platform's own shape) is sequence 0, as for a chat state. A
    /// publish that was accepted is not failed over its answer's shape.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let body = Option::<Value>::deserialize(deserializer)?;
        let sequence = body
            .as_ref()
            .and_then(|body| body.get("sequence"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Ok(Published { sequence })
    }
}

string_enum!(
    /// Who sees a message.
    pub enum MessageAudience {
        /// Everyone, the consumer included.
        All = "ALL",
        /// Agents and managers only: a private message.
        AgentsAndManagers = "AGENTS_AND_MANAGERS",
    }
);

open_enum!(
    /// An event of a dialog, tagged by `type`.
    pub enum Event tagged "type" {
        /// Text, or a file.
        Content(ContentEvent) = "ContentEvent",
        /// Structured content.
        RichContent(RichContentEvent) = "RichContentEvent",
        /// A receipt: messages accepted or read.
        AcceptStatus(AcceptStatusEvent) = "AcceptStatusEvent",
        /// Typing and presence.
        ChatState(ChatStateEvent) = "ChatStateEvent",
    }
);

/// `ContentEvent`: `{"contentType":"text/plain","message":"hello"}`.
/// Quick replies ride inside the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentEvent {
    /// What `message` holds; text when absent.
    #[serde(default)]
    pub content_type: ContentType,
    /// The text, or a file's description.
    pub message: Message,
    /// LivePerson quick replies (`{"type":"quickReplies",..}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_replies: Option<Value>,
    /// Metadata for the receiving side, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded_metadata: Option<String>,
}

impl ContentEvent {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        ContentEvent {
            content_type: ContentType::TextPlain,
            message: Message::Text(text.into()),
            quick_replies: None,
            encoded_metadata: None,
        }
    }

    /// Its text, when it is plain text.
    pub fn as_text(&self) -> Option<&str> {
        match (&self.content_type, &self.message) {
            (ContentType::TextPlain, Message::Text(text)) => Some(text),
            _ => None,
        }
    }
}

string_enum!(
    /// What a [`ContentEvent`] holds.
    #[derive(Default)]
    pub enum ContentType {
        /// Plain text.
        #[default]
        TextPlain = "text/plain",
        /// A file the consumer uploaded to LivePerson.
        HostedFile = "hosted/file",
        /// A file elsewhere.
        ExternalFile = "file/external",
    }
);

/// A [`ContentEvent`]'s `message`: text, or a file's description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Message {
    /// Text.
    Text(String),
    /// A hosted file.
    File(HostedFile),
    /// Anything else, kept as sent.
    Other(Value),
}

/// A hosted file's description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostedFile {
    /// Where to download it from (relative to the file service).
    pub relative_path: String,
    /// Its type (JPEG, PNG, PDF, ...).
    pub file_type: String,
    /// Its caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// A base64 preview, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// `RichContentEvent`: `{"content":{"type":"vertical","elements":[..]}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RichContentEvent {
    /// The structured content (see the module doc).
    pub content: Value,
    /// LivePerson quick replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_replies: Option<Value>,
    /// Metadata for the receiving side, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded_metadata: Option<String>,
}

/// `AcceptStatusEvent`: `{"status":"READ","sequenceList":[8]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptStatusEvent {
    /// ACCEPT or READ.
    pub status: AcceptStatus,
    /// The sequences of the events concerned.
    pub sequence_list: Vec<u64>,
}

string_enum!(
    /// A receipt's status.
    pub enum AcceptStatus {
        /// Delivered.
        Accept = "ACCEPT",
        /// Read.
        Read = "READ",
    }
);

/// `ChatStateEvent`: `{"chatState":"COMPOSING"}`; passed on, not kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatStateEvent {
    /// The state.
    pub chat_state: ChatState,
}

string_enum!(
    /// A participant's chat state.
    pub enum ChatState {
        /// Present.
        Active = "ACTIVE",
        /// Away from the conversation.
        Inactive = "INACTIVE",
        /// Left.
        Gone = "GONE",
        /// Typing.
        Composing = "COMPOSING",
        /// Stopped typing.
        Pause = "PAUSE",
    }
);

/// `QueryMessages`: a page of a dialog's history, oldest first, as a
/// list of [`EventRecord`]s. At most `maxQuantity` (100 by default and at most).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryMessages {
    /// The dialog.
    pub dialog_id: DialogId,
    /// The first sequence wanted (LivePerson's agent SDK sends a
    /// subscription's inclusive `fromSeq` here); none: from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_than_sequence: Option<u64>,
    /// The page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_quantity: Option<u32>,
}

/// `SubscribeMessagingEvents`: a dialog's past events from `fromSeq` on,
/// as `MessagingEventNotification`s (on the consumer side also every new one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeMessagingEvents {
    /// The dialog.
    pub dialog_id: DialogId,
    /// The conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// The first sequence wanted.
    #[serde(default)]
    pub from_seq: u64,
}

/// An event as it is distributed: the body of `OnlineEventDistribution`,
/// an item of a `QueryMessages` answer, a change of a
/// `MessagingEventNotification`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    /// Its sequence in the dialog (absent for chat states).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Its dialog.
    #[serde(default)]
    pub dialog_id: DialogId,
    /// Its conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Who sent it: account-qualified on the agent side, a pid on the consumer side.
    #[serde(default)]
    pub originator_id: ParticipantId,
    /// The sender's pid (agent side; the official agent SDK needs it).
    #[serde(
        rename = "originatorPId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub originator_pid: Option<ParticipantId>,
    /// The sender's id and role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator_metadata: Option<Originator>,
    /// When the platform received it, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub server_timestamp: u64,
    /// The event.
    pub event: Event,
    /// Who may see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_audience: Option<MessageAudience>,
    /// Its metadata.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub metadata: Vec<Metadata>,
}

impl EventRecord {
    /// The sender's role, when named.
    pub fn role(&self) -> Option<&Role> {
        self.originator_metadata.as_ref().map(|o| &o.role)
    }
}

/// `originatorMetadata`: `{"id":"cons-1","role":"CONSUMER"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Originator {
    /// The sender's pid.
    pub id: ParticipantId,
    /// Its role.
    pub role: Role,
}

/// `MessagingEventNotification`: events of a dialog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagingEventNotification {
    /// The dialog (agent side, history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog_id: Option<DialogId>,
    /// The events.
    #[serde(default, deserialize_with = "crate::common::lenient_list")]
    pub changes: Vec<EventRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentClientFrame, AgentNotification, AgentRequest, AgentServerFrame};
    use crate::common::Empty;
    use crate::consumer::{
        ConsumerClientFrame, ConsumerNotification, ConsumerRequest, ConsumerServerFrame,
    };
    use crate::envelope::Frame;
    use crate::error::FrameError;
    use crate::kind::{Agent, Consumer};
    use serde_json::json;

    fn json_of(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn any_answer_to_a_publish_reads_with_sequence_zero_when_it_has_none() {
        for (body, sequence) in [
            (json!({"sequence": 4}), 4),
            (json!(null), 0),
            (json!("OK"), 0),
            (json!({}), 0),
        ] {
            let published: Published = serde_json::from_value(body).unwrap();
            assert_eq!(published.sequence, sequence);
        }
    }

    #[test]
    fn a_consumer_publishes_text_and_is_answered_its_sequence() {
        let text = r#"{"kind":"req","id":"p1","type":"ms.PublishEvent","body":{"dialogId":"c1","conversationId":"c1","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi"}}}"#;
        let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(text) else {
            panic!("a request")
        };
        let ConsumerRequest::PublishEvent(publish) = &incoming.request else {
            panic!("PublishEvent")
        };
        let Event::Content(content) = &publish.event else {
            panic!("a ContentEvent")
        };
        assert_eq!(content.as_text(), Some("hi"));
        assert_eq!(json_of(&Consumer::request("p1", publish)), json_of(text));
        assert_eq!(
            json_of(&incoming.respond(200, &Published { sequence: 3 })),
            json!({"kind": "resp", "reqId": "p1", "code": 200, "type": "ms.PublishEventResponse", "body": {"sequence": 3}})
        );
    }

    #[test]
    fn an_agent_publishes_structured_content_with_quick_replies() {
        let replies = json!({"type": "quickReplies", "itemsPerRow": 8, "replies": [{"type": "button", "title": "Yes",
            "tooltip": "Yes", "click": {"actions": [{"type": "publishText", "text": "yes"}]}}]});
        let content =
            json!({"type": "vertical", "elements": [{"type": "text", "text": "Pick one"}]});
        let publish = PublishEvent::new(
            "c1",
            RichContentEvent {
                content: content.clone(),
                quick_replies: Some(replies.clone()),
                encoded_metadata: None,
            },
        );
        let text = Agent::request("2", &publish);
        assert_eq!(
            json_of(&text),
            json!({"kind": "req", "id": "2", "type": ".ams.ms.PublishEvent", "body": {"dialogId": "c1",
                "event": {"type": "RichContentEvent", "content": content, "quickReplies": replies}}})
        );
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(&text) else {
            panic!("a request")
        };
        assert_eq!(incoming.request, AgentRequest::PublishEvent(publish));
        assert_eq!(incoming.response_kind(), ".ams.ms.PublishEvent$Response");
    }

    #[test]
    fn receipts_chat_states_and_private_messages_are_typed() {
        let read: Event = serde_json::from_value(
            json!({"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [8]}),
        )
        .unwrap();
        assert_eq!(
            read,
            Event::AcceptStatus(AcceptStatusEvent {
                status: AcceptStatus::Read,
                sequence_list: vec![8]
            })
        );
        let typing: Event =
            serde_json::from_value(json!({"type": "ChatStateEvent", "chatState": "COMPOSING"}))
                .unwrap();
        assert_eq!(
            typing,
            Event::ChatState(ChatStateEvent {
                chat_state: ChatState::Composing
            })
        );
        let private = PublishEvent {
            message_audience: Some(MessageAudience::AgentsAndManagers),
            ..PublishEvent::new("c1", ContentEvent::text("for agents only"))
        };
        assert_eq!(
            serde_json::to_value(&private).unwrap()["messageAudience"],
            "AGENTS_AND_MANAGERS"
        );
        let unknown: Event =
            serde_json::from_value(json!({"type": "FormSubmissionEvent", "x": 1})).unwrap();
        assert_eq!(unknown.tag(), "FormSubmissionEvent");
    }

    #[test]
    fn hosted_files_are_content_events_with_a_file() {
        let event: Event = serde_json::from_value(json!({"type": "ContentEvent", "contentType": "hosted/file",
            "message": {"caption": "me", "relativePath": "/f/1.png", "fileType": "PNG", "preview": "data:"}})).unwrap();
        let Event::Content(content) = event else {
            panic!("a ContentEvent")
        };
        assert_eq!(content.content_type, ContentType::HostedFile);
        assert!(matches!(content.message, Message::File(ref f) if f.file_type == "PNG"));
        assert_eq!(content.as_text(), None);
    }

    #[test]
    fn an_event_without_a_type_or_with_a_bad_body_is_refused() {
        let text = r#"{"kind":"req","id":"3","type":".ams.ms.PublishEvent","body":{"dialogId":"c1","event":{"type":"ContentEvent"}}}"#;
        let Err(FrameError::BadBody { reason, .. }) = AgentServerFrame::parse(text) else {
            panic!("a bad body")
        };
        assert!(
            reason.contains("ContentEvent type") && reason.contains("message"),
            "{reason}"
        );
        let text = r#"{"kind":"req","id":"3","type":".ams.ms.PublishEvent","body":{"event":{"type":"ContentEvent","message":"x"}}}"#;
        assert!(
            matches!(AgentServerFrame::parse(text), Err(FrameError::BadBody { reason, .. }) if reason.contains("dialogId"))
        );
        // A conversation id alone names its MAIN dialog.
        let text = r#"{"kind":"req","id":"3","type":"ms.PublishEvent","body":{"conversationId":"c1","event":{"type":"ChatStateEvent","chatState":"ACTIVE"}}}"#;
        let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(text) else {
            panic!("a request")
        };
        let ConsumerRequest::PublishEvent(publish) = incoming.request else {
            panic!("PublishEvent")
        };
        assert_eq!(publish.dialog_id, "c1");
    }

    /// The live event an agent receives (as the hub sends it).
    const ONLINE: &str = r#"{"kind":"notification","type":".ams.ms.OnlineEventDistribution","body":{"sequence":2,"dialogId":"c1","conversationId":"c1","originatorId":"123.cons-1","originatorPId":"cons-1","originatorMetadata":{"id":"cons-1","role":"CONSUMER"},"serverTimestamp":1517000899442,"event":{"type":"ContentEvent","contentType":"text/plain","message":"hello"}}}"#;

    #[test]
    fn agents_receive_live_events_as_online_event_distribution() {
        let Ok(Frame::Notification(AgentNotification::OnlineEvent(record))) =
            AgentClientFrame::parse(ONLINE)
        else {
            panic!("an OnlineEventDistribution")
        };
        assert_eq!(record.sequence, Some(2));
        assert_eq!(record.role(), Some(&Role::Consumer));
        assert_eq!(record.originator_pid.as_ref().unwrap(), "cons-1");
        assert_eq!(json_of(&Agent::notification(&record)), json_of(ONLINE));
    }

    #[test]
    fn history_pages_are_lists_of_event_records() {
        let text = r#"{"kind":"req","id":"4","type":".ams.ms.QueryMessages","body":{"dialogId":"c1","newerThanSequence":0,"maxQuantity":100}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        let query = QueryMessages {
            dialog_id: "c1".into(),
            newer_than_sequence: Some(0),
            max_quantity: Some(100),
        };
        assert_eq!(incoming.request, AgentRequest::QueryMessages(query));
        let AgentClientFrame::Notification(AgentNotification::OnlineEvent(record)) =
            AgentClientFrame::parse(ONLINE).unwrap()
        else {
            panic!("a notification")
        };
        let answer = incoming.respond(200, &vec![record.clone()]);
        let Ok(Frame::Response(response)) = AgentClientFrame::parse(&answer) else {
            panic!("a response")
        };
        assert_eq!(response.kind, ".ams.ms.QueryMessages$Response");
        assert_eq!(response.decode::<Vec<EventRecord>>().unwrap(), vec![record]);
    }

    #[test]
    fn consumers_subscribe_to_a_dialog_and_receive_its_events() {
        let text = r#"{"kind":"req","id":"3","type":"ms.SubscribeMessagingEvents","body":{"dialogId":"c1","fromSeq":0}}"#;
        let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(text) else {
            panic!("a request")
        };
        assert_eq!(
            incoming.request,
            ConsumerRequest::SubscribeMessagingEvents(SubscribeMessagingEvents {
                dialog_id: "c1".into(),
                conversation_id: None,
                from_seq: 0
            })
        );
        assert_eq!(
            json_of(&incoming.respond(200, &Empty {}))["type"],
            "GenericSubscribeResponse"
        );
        // The agent side serves the consumer's name of the request too.
        let Ok(Frame::Request(agent)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        assert_eq!(agent.response_kind(), "GenericSubscribeResponse");

        let note = r#"{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":2,"originatorId":"pid-456","originatorMetadata":{"id":"pid-456","role":"ASSIGNED_AGENT"},"serverTimestamp":5,"event":{"type":"ContentEvent","contentType":"text/plain","message":"ok","quickReplies":{"type":"quickReplies","replies":[]}},"conversationId":"c1","dialogId":"c1","messageAudience":"ALL"},{"originatorId":"pid-456","originatorMetadata":{"id":"pid-456","role":"ASSIGNED_AGENT"},"serverTimestamp":6,"event":{"type":"ChatStateEvent","chatState":"COMPOSING"},"conversationId":"c1","dialogId":"c1"}]}}"#;
        let Ok(Frame::Notification(ConsumerNotification::MessagingEvents(events))) =
            ConsumerClientFrame::parse(note)
        else {
            panic!("a MessagingEventNotification")
        };
        assert_eq!(events.changes[0].role(), Some(&Role::AssignedAgent));
        assert_eq!(
            events.changes[0].message_audience,
            Some(MessageAudience::All)
        );
        assert_eq!(events.changes[1].sequence, None);
        assert_eq!(json_of(&Consumer::notification(&events)), json_of(note));
        // Agents get a dialog's history under the same name.
        assert!(matches!(
            AgentClientFrame::parse(note),
            Ok(Frame::Notification(AgentNotification::MessagingEvents(_)))
        ));
    }
}
