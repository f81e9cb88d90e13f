//! The messages switchboard publishes to consumers, and the judge of their
//! structured content: LivePerson's own JSON Schemas (json-pollock, MIT,
//! `host/schema/lp-structured-content-schema/`), embedded in the binary.
//!
//! Owns: [`OutMessage`] (what bots and plugins produce) and its validation.
//! Touches nothing else; every module that produces a message uses it.

use std::sync::LazyLock;

use jsonschema::{Draft, Retrieve, Uri, Validator};
use lp::messaging::{ContentEvent, Event, RichContentEvent};
use serde_json::Value;

/// A message on its way to the consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct OutMessage {
    /// What is shown.
    pub body: Body,
    /// LivePerson quick replies (`{"type":"quickReplies",...}`), if any.
    pub quick_replies: Option<Value>,
}

/// A message body.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// Plain text, published as a `ContentEvent`.
    Text(String),
    /// Structured content, published as a `RichContentEvent`.
    Structured(Value),
}

impl OutMessage {
    /// A plain text message without quick replies.
    pub fn text(text: impl Into<String>) -> Self {
        OutMessage {
            body: Body::Text(text.into()),
            quick_replies: None,
        }
    }

    /// Checks structured content and quick replies against LivePerson's
    /// schemas, and the event's size against [`MAX_EVENT_BYTES`].
    pub fn validate(&self) -> Result<(), ContentError> {
        if let Body::Structured(content) = &self.body {
            validate_structured(content)?;
        }
        if let Some(replies) = &self.quick_replies {
            validate_quick_replies(replies)?;
        }
        let size = serde_json::to_vec(&self.to_event()).map_or(usize::MAX, |bytes| bytes.len());
        if size > MAX_EVENT_BYTES {
            return Err(ContentError::TooLarge { size });
        }
        Ok(())
    }

    /// The event a connector publishes for this message (LivePerson's `PublishEvent`);
    /// quick replies ride inside the event.
    pub fn to_event(&self) -> Event {
        let quick_replies = self.quick_replies.clone();
        match &self.body {
            Body::Text(text) => Event::Content(ContentEvent {
                quick_replies,
                ..ContentEvent::text(text.clone())
            }),
            Body::Structured(content) => Event::RichContent(RichContentEvent {
                content: content.clone(),
                quick_replies,
                encoded_metadata: None,
            }),
        }
    }
}

/// Content LivePerson would refuse.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// Structured content that does not validate.
    #[error("structured content breaks LivePerson's schema at {path}: {message}")]
    Schema {
        /// JSON pointer of the offending part.
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// Quick replies that are not `{"type":"quickReplies","replies":[buttons]}`.
    #[error("quick replies are malformed: {0}")]
    QuickReplies(String),
    /// An event larger than the platform takes.
    #[error("the message is {size} bytes as an event; the most is {MAX_EVENT_BYTES}")]
    TooLarge {
        /// Its size as an event, in bytes.
        size: usize,
    },
}

/// The largest event (its JSON: text, structured content, quick replies)
/// published on a conversation. The embedded hub refuses larger ones (413),
/// so the connector never sends one: what a bot or a plugin makes larger is
/// refused as its fault, and no single frame nears a socket's limit.
pub const MAX_EVENT_BYTES: usize = 32 << 10;

/// Serves the embedded schema files to the validator by file name.
struct EmbeddedSchemas;

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        const SCHEMA_FILES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../schema/lp-structured-content-schema/", $name)))),*
        ];
    };
}

schema_files!(
    "accessibilityWeb.json",
    "accordionSelect.json",
    "action.json",
    "basic.json",
    "button.json",
    "buttonList.json",
    "card.json",
    "carousel.json",
    "carouselSelect.json",
    "checkbox.json",
    "checklist.json",
    "displaySettings.json",
    "image.json",
    "keyValuePair.json",
    "keyValuePairList.json",
    "linkPreview.json",
    "list.json",
    "map.json",
    "rich_content.json",
    "scheduleSlot.json",
    "section.json",
    "sectionList.json",
    "specialAction.json",
    "style.json",
    "submitButton.json",
    "tabs.json",
    "template.json",
    "text.json",
);

fn schema_file(name: &str) -> Option<Value> {
    SCHEMA_FILES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| serde_json::from_str(text).expect("embedded schema is JSON"))
}

impl Retrieve for EmbeddedSchemas {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri.path().as_str();
        let name = path.rsplit('/').next().unwrap_or(path);
        schema_file(name).ok_or_else(|| format!("no embedded schema named {name}").into())
    }
}

fn validator(entry: &str) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .with_retriever(EmbeddedSchemas)
        .build(&schema_file(entry).expect("entry schema is embedded"))
        .expect("LivePerson's schemas compile")
}

static RICH_CONTENT: LazyLock<Validator> = LazyLock::new(|| validator("rich_content.json"));
static BUTTON: LazyLock<Validator> = LazyLock::new(|| validator("button.json"));

/// Validates structured content against `rich_content.json`. Of the
/// schema's alternatives, the error reported is the deepest one: the place
/// the content went wrong, not the root's "matches no alternative".
pub fn validate_structured(content: &Value) -> Result<(), ContentError> {
    if RICH_CONTENT.is_valid(content) {
        return Ok(());
    }
    let evaluation = RICH_CONTENT.evaluate(content);
    let deepest = evaluation
        .iter_errors()
        .max_by_key(|e| e.instance_location.as_str().matches('/').count())
        .map(|e| (e.instance_location.as_str().to_owned(), e.error.to_string()));
    let (path, message) =
        deepest.unwrap_or_else(|| (String::new(), "does not match the schema".into()));
    Err(ContentError::Schema { path, message })
}

/// Validates quick replies: the envelope, then every reply as a button.
pub fn validate_quick_replies(replies: &Value) -> Result<(), ContentError> {
    let bad = |what: &str| Err(ContentError::QuickReplies(what.to_owned()));
    if replies.get("type").and_then(Value::as_str) != Some("quickReplies") {
        return bad("\"type\" must be \"quickReplies\"");
    }
    if let Some(per_row) = replies.get("itemsPerRow")
        && !per_row.as_u64().is_some_and(|n| (1..=8).contains(&n))
    {
        return bad("\"itemsPerRow\" must be 1 to 8");
    }
    let Some(buttons) = replies.get("replies").and_then(Value::as_array) else {
        return bad("\"replies\" must be a list of buttons");
    };
    if buttons.is_empty() || buttons.len() > 24 {
        return bad("\"replies\" must hold 1 to 24 buttons");
    }
    for (index, button) in buttons.iter().enumerate() {
        if let Some(error) = BUTTON.iter_errors(button).next() {
            return Err(ContentError::QuickReplies(format!(
                "reply {index}: {error}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_card_and_a_carousel_validate() {
        let card = json!({"type":"vertical","elements":[{"type":"text","text":"A","tooltip":"A"}]});
        validate_structured(&card).unwrap();
        validate_structured(&json!({"type":"carousel","padding":10,"elements":[card, card]}))
            .unwrap();
    }

    #[test]
    fn schema_breaks_are_located() {
        let too_long = "x".repeat(300);
        let card =
            json!({"type":"vertical","elements":[{"type":"text","text":"A","tooltip":too_long}]});
        let error = validate_structured(&card).unwrap_err().to_string();
        assert!(error.contains("/elements/0"), "{error}");
        assert!(validate_structured(&json!({"type":"carousel","elements":[]})).is_err());
        assert!(
            validate_structured(&json!({"type":"vertical","tooltip":"no","elements":[]})).is_err()
        );
    }

    #[test]
    fn quick_replies_are_checked_as_buttons() {
        let good = json!({"type":"quickReplies","itemsPerRow":8,"replies":[
            {"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]});
        validate_quick_replies(&good).unwrap();
        let bad =
            json!({"type":"quickReplies","replies":[{"type":"button","title":"x","bogus":1}]});
        assert!(validate_quick_replies(&bad).is_err());
    }
}
