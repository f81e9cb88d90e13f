//! The messages switchboard publishes to consumers, and the judge of their
//! structured content: LivePerson's own JSON Schemas (json-pollock, MIT,
//! `host/schema/lp-structured-content-schema/`), embedded in the binary.
//!
//! Owns: [`OutMessage`] (what bots and plugins produce), its validation, and
//! [`ValidatedCache`], the texts of messages that passed it. Touches nothing
//! else; every module that produces a message uses it.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use jsonschema::{Draft, Retrieve, Uri, Validator};
use lp::messaging::{ContentEvent, EncodedMetadata, EncodedMetadataError, Event, RichContentEvent};
use serde_json::Value;

/// A message on its way to the consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct OutMessage {
    /// What is shown.
    pub body: Body,
    /// LivePerson quick replies (`{"type":"quickReplies",...}`), if any.
    pub quick_replies: Option<Value>,
    /// What the message carries for the consumer's window (`encodedMetadata`,
    /// published beside the event), if any. Plugins do not see it; it keeps
    /// to its message through them (the plugin chain puts it back).
    pub encoded_metadata: Option<EncodedMetadata>,
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
        OutMessage::new(Body::Text(text.into()))
    }

    /// Structured content without quick replies.
    pub fn structured(content: Value) -> Self {
        OutMessage::new(Body::Structured(content))
    }

    /// A message of `body` alone.
    pub fn new(body: Body) -> Self {
        OutMessage {
            body,
            quick_replies: None,
            encoded_metadata: None,
        }
    }

    /// Checks structured content and quick replies against LivePerson's
    /// schemas, the encoded metadata against its rules, and the event's size
    /// against [`MAX_EVENT_BYTES`].
    pub fn validate(&self) -> Result<(), ContentError> {
        if let Body::Structured(content) = &self.body {
            validate_structured(content)?;
        }
        if let Some(replies) = &self.quick_replies {
            validate_quick_replies(replies)?;
        }
        if let Some(metadata) = &self.encoded_metadata {
            metadata.check()?;
        }
        let size = serialized_size(&self.to_event());
        if size > MAX_EVENT_BYTES {
            return Err(ContentError::TooLarge { size });
        }
        Ok(())
    }

    /// The event a connector publishes for this message (LivePerson's `PublishEvent`);
    /// quick replies ride inside the event, the encoded metadata beside it
    /// in the request.
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
            }),
        }
    }
}

/// Bytes of `value` as JSON, counted as they are written rather than kept.
fn serialized_size(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
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
    /// `encodedMetadata` LivePerson would drop the message for.
    #[error(transparent)]
    EncodedMetadata(#[from] EncodedMetadataError),
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

/// Messages that passed [`OutMessage::validate`], remembered by their JSON
/// text, so a card template a plugin returns on every turn is judged by the
/// schema once. Only messages with structured content are kept: the schema
/// pass is the expensive part, a text message's check is its size.
///
/// A text maps to one value and a value to one verdict, so a text that
/// passed once passes again. Entries are found by a keyed hash and then
/// compared in full, so a hash collision is a miss, never a pass; what
/// failed is not kept and is judged again each time.
///
/// Bounded in bytes of text, not in entries: a message may be 20 bytes or
/// [`MAX_EVENT_BYTES`], so a count says little about memory. Two
/// generations of at most `budget / 2` bytes each: a hit in the older one
/// moves the entry to the newer; when the newer is full, the older is
/// dropped and the newer becomes the older. Templates in use stay; a plugin
/// returning fresh content every time only churns the cache.
pub struct ValidatedCache {
    generations: Mutex<Generations>,
    hasher: RandomState,
    budget: usize,
    hits: AtomicU64,
    validations: AtomicU64,
}

#[derive(Default)]
struct Generations {
    newer: HashMap<u64, CachedText>,
    newer_bytes: usize,
    older: HashMap<u64, CachedText>,
    older_bytes: usize,
}

/// The texts a message was parsed from.
#[derive(Clone, PartialEq, Eq)]
struct CachedText {
    structured: Box<str>,
    quick_replies: Option<Box<str>>,
}

impl CachedText {
    fn is(&self, structured: &str, quick_replies: Option<&str>) -> bool {
        *self.structured == *structured && self.quick_replies.as_deref() == quick_replies
    }

    fn bytes(&self) -> usize {
        self.structured.len() + self.quick_replies.as_deref().map_or(0, str::len)
    }
}

/// What a [`ValidatedCache`] did since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Messages found in the cache: not judged again.
    pub hits: u64,
    /// Messages judged by [`OutMessage::validate`].
    pub validations: u64,
    /// Texts kept now.
    pub entries: usize,
    /// Bytes of text kept now.
    pub bytes: usize,
}

/// The cache plugin output is judged through: one per process, as the
/// schema is (a text's verdict does not depend on the connector).
pub static VALIDATED: LazyLock<ValidatedCache> =
    LazyLock::new(|| ValidatedCache::new(VALIDATED_CACHE_BYTES));

/// The most bytes of text [`VALIDATED`] keeps: a few hundred typical cards.
pub const VALIDATED_CACHE_BYTES: usize = 1 << 20;

impl ValidatedCache {
    /// An empty cache keeping at most `budget` bytes of text.
    pub fn new(budget: usize) -> Self {
        ValidatedCache {
            generations: Mutex::new(Generations::default()),
            hasher: RandomState::new(),
            budget,
            hits: AtomicU64::new(0),
            validations: AtomicU64::new(0),
        }
    }

    /// Validates `message`, parsed from `structured` (its structured
    /// content's JSON text, when it has some) and `quick_replies` (theirs):
    /// a message whose texts passed before is not judged again.
    pub fn validate(
        &self,
        message: &OutMessage,
        structured: Option<&str>,
        quick_replies: Option<&str>,
    ) -> Result<(), ContentError> {
        let Some(structured) = structured else {
            self.validations.fetch_add(1, Ordering::Relaxed);
            return message.validate();
        };
        let key = self.hasher.hash_one((structured, quick_replies));
        if self.seen(key, structured, quick_replies) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.validations.fetch_add(1, Ordering::Relaxed);
        message.validate()?;
        self.keep(
            key,
            CachedText {
                structured: structured.into(),
                quick_replies: quick_replies.map(Into::into),
            },
        );
        Ok(())
    }

    /// True if these texts passed before; a hit in the older generation
    /// moves to the newer.
    fn seen(&self, key: u64, structured: &str, quick_replies: Option<&str>) -> bool {
        let mut generations = self.generations.lock().expect("not poisoned");
        if generations
            .newer
            .get(&key)
            .is_some_and(|text| text.is(structured, quick_replies))
        {
            return true;
        }
        match generations.older.remove(&key) {
            Some(text) if text.is(structured, quick_replies) => {
                generations.older_bytes -= text.bytes();
                self.insert(&mut generations, key, text);
                true
            }
            Some(other) => {
                generations.older.insert(key, other);
                false
            }
            None => false,
        }
    }

    fn keep(&self, key: u64, text: CachedText) {
        let mut generations = self.generations.lock().expect("not poisoned");
        self.insert(&mut generations, key, text);
    }

    fn insert(&self, generations: &mut Generations, key: u64, text: CachedText) {
        let half = self.budget / 2;
        let bytes = text.bytes();
        if bytes > half {
            return;
        }
        if generations.newer_bytes + bytes > half {
            generations.older = std::mem::take(&mut generations.newer);
            generations.older_bytes = std::mem::take(&mut generations.newer_bytes);
        }
        // Another text with the same hash (or the same text, validated by
        // two callers at once) makes way for this one.
        if let Some(replaced) = generations.newer.insert(key, text) {
            generations.newer_bytes -= replaced.bytes();
        }
        generations.newer_bytes += bytes;
    }

    /// Hits, validations and what is kept now.
    pub fn stats(&self) -> CacheStats {
        let generations = self.generations.lock().expect("not poisoned");
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            validations: self.validations.load(Ordering::Relaxed),
            entries: generations.newer.len() + generations.older.len(),
            bytes: generations.newer_bytes + generations.older_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn card(text: &str) -> (OutMessage, String) {
        let json = json!({"type":"vertical","elements":[{"type":"text","text":text}]}).to_string();
        let message = OutMessage::structured(serde_json::from_str(&json).unwrap());
        (message, json)
    }

    #[test]
    fn a_repeated_card_is_validated_once() {
        let cache = ValidatedCache::new(1 << 20);
        let (message, json) = card("Basic plan");
        for _ in 0..3 {
            cache.validate(&message, Some(&json), None).unwrap();
        }
        let stats = cache.stats();
        assert_eq!((stats.validations, stats.hits), (1, 2), "{stats:?}");
        // Other quick replies make another message.
        let replies = r#"{"type":"quickReplies","replies":[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]}"#;
        let with_replies = OutMessage {
            quick_replies: Some(serde_json::from_str(replies).unwrap()),
            ..message.clone()
        };
        cache
            .validate(&with_replies, Some(&json), Some(replies))
            .unwrap();
        assert_eq!(cache.stats().validations, 2);
    }

    #[test]
    fn refused_content_is_judged_every_time() {
        let cache = ValidatedCache::new(1 << 20);
        let (mut message, _) = card("x");
        let json = r#"{"type":"carousel","elements":[]}"#;
        message.body = Body::Structured(serde_json::from_str(json).unwrap());
        for _ in 0..2 {
            assert!(cache.validate(&message, Some(json), None).is_err());
        }
        let stats = cache.stats();
        assert_eq!((stats.validations, stats.hits, stats.entries), (2, 0, 0));
    }

    #[test]
    fn the_cache_keeps_at_most_its_budget() {
        let budget = 4 << 10;
        let cache = ValidatedCache::new(budget);
        for n in 0..500 {
            let (message, json) = card(&format!("card number {n}"));
            cache.validate(&message, Some(&json), None).unwrap();
            assert!(cache.stats().bytes <= budget, "{:?}", cache.stats());
        }
        // The most recent cards are still there; the first are gone.
        let (recent, json) = card("card number 499");
        cache.validate(&recent, Some(&json), None).unwrap();
        assert_eq!(cache.stats().hits, 1);
        let (first, json) = card("card number 0");
        cache.validate(&first, Some(&json), None).unwrap();
        assert_eq!(cache.stats().hits, 1);
    }

    #[test]
    fn a_used_card_survives_the_churn() {
        let cache = ValidatedCache::new(4 << 10);
        let (template, template_json) = card("template");
        for n in 0..500 {
            cache
                .validate(&template, Some(&template_json), None)
                .unwrap();
            let (message, json) = card(&format!("card number {n}"));
            cache.validate(&message, Some(&json), None).unwrap();
        }
        assert_eq!(cache.stats().hits, 499, "{:?}", cache.stats());
    }

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
