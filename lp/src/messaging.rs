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
}

impl ContentEvent {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        ContentEvent {
            content_type: ContentType::TextPlain,
            message: Message::Text(text.into()),
            quick_replies: None,
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Message {
    /// Text.
    Text(String),
    /// A hosted file.
    File(HostedFile),
    /// Anything else, kept as sent.
    Other(Value),
}

impl<'de> Deserialize<'de> for Message {
    /// Text as it comes (most messages are); anything else is read whole
    /// first, then as a file's description if it is one.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::String(text) => Message::Text(text),
            other => match HostedFile::deserialize(&other) {
                Ok(file) => Message::File(file),
                Err(_) => Message::Other(other),
            },
        })
    }
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
}

/// `encodedMetadata`: what a message carries for the receiving side's own
/// use (a brand's window reads it), as base64 text of at most
/// [`EncodedMetadata::MAX_LEN`] characters. It rides in the envelope of a
/// `PublishEvent` request (beside `metadata`, see
/// [`crate::envelope::Extras`]), and live notifications carry it on the
/// event's record ([`EventRecord::encoded_metadata`]); history does not.
/// LivePerson refuses a request whose metadata breaks either rule (400). As
/// read from the wire it is kept as sent; a sender makes one with
/// [`EncodedMetadata::new`], and a platform judges one with
/// [`EncodedMetadata::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedMetadata(Written);

/// Encoded metadata as written: text, or (from a peer that wrote something
/// else) the JSON it wrote, which no check passes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Written {
    Text(String),
    NotText(String),
}

impl EncodedMetadata {
    /// The longest LivePerson takes ("5k"), in characters of base64.
    pub const MAX_LEN: usize = 5 << 10;

    /// Metadata LivePerson takes, or why it would drop the message.
    pub fn new(text: impl Into<String>) -> Result<Self, EncodedMetadataError> {
        let metadata = EncodedMetadata::as_written(text);
        metadata.check()?;
        Ok(metadata)
    }

    /// Metadata as a peer wrote it, not judged yet (see [`Self::check`]).
    pub fn as_written(text: impl Into<String>) -> Self {
        EncodedMetadata(Written::Text(text.into()))
    }

    /// Metadata as a peer wrote it in JSON: what is not text never passes
    /// [`Self::check`].
    pub fn from_json(written: &Value) -> Self {
        EncodedMetadata(match written {
            Value::String(text) => Written::Text(text.clone()),
            other => Written::NotText(other.to_string()),
        })
    }

    /// Whether LivePerson takes it: base64 text (standard alphabet; the
    /// `=` padding may be left out), not empty, not too long.
    pub fn check(&self) -> Result<(), EncodedMetadataError> {
        use base64::Engine;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        const BASE64: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        let text = match &self.0 {
            Written::Text(text) => text,
            Written::NotText(json) => return Err(EncodedMetadataError::NotText(json.clone())),
        };
        let length = text.len();
        if length > Self::MAX_LEN {
            return Err(EncodedMetadataError::TooLong { length });
        }
        if text.is_empty() {
            return Err(EncodedMetadataError::Empty);
        }
        BASE64
            .decode(text)
            .map(drop)
            .map_err(|e| EncodedMetadataError::NotBase64(e.to_string()))
    }

    /// The base64 text (for metadata that is not text, the JSON written).
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Written::Text(text) | Written::NotText(text) => text,
        }
    }
}

impl Serialize for EncodedMetadata {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EncodedMetadata {
    /// Text as sent; anything else is refused (the frame names the field).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(EncodedMetadata::as_written)
    }
}

/// Why LivePerson would drop a message for its `encodedMetadata`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodedMetadataError {
    /// Longer than [`EncodedMetadata::MAX_LEN`].
    #[error(
        "encodedMetadata is {length} characters long; the most LivePerson takes is {}",
        EncodedMetadata::MAX_LEN
    )]
    TooLong {
        /// Its length.
        length: usize,
    },
    /// Empty.
    #[error("encodedMetadata is empty")]
    Empty,
    /// Not text (a number, an object, ...).
    #[error("encodedMetadata must be base64 text, not {0}")]
    NotText(String),
    /// Not base64.
    #[error("encodedMetadata is not base64: {0}")]
    NotBase64(String),
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
    /// Its encoded metadata, on live notifications only. Read leniently:
    /// metadata that is not text is left out, never the event with it.
    #[serde(
        default,
        deserialize_with = "crate::common::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub encoded_metadata: Option<EncodedMetadata>,
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
mod tests;
