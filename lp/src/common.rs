//! What several families share: the id newtypes, participant roles,
//! channels, the `UPSERT`/`DELETE` change wrapper of subscription
//! notifications, and the plain response bodies (`{}`, a string, a
//! subscription id).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

id!(
    /// A conversation id (`convId`, `conversationId`).
    ConversationId
);
id!(
    /// A dialog id. The MAIN dialog's id equals its conversation's id.
    DialogId
);
id!(
    /// A skill id; LivePerson sends numbers, the hub strings.
    SkillId
);
id!(
    /// A ring id (`ringId`), from a routing task.
    RingId
);
id!(
    /// A subscription id, from a `Subscribe...` response.
    SubscriptionId
);
id!(
    /// An account (brand) id, e.g. `123`.
    BrandId
);
id!(
    /// An agent user, account-qualified: `123.456` (`agentUserId`,
    /// `agentIds`, `userId` of a participants change).
    AgentId
);
id!(
    /// A participant as a conversation lists it: a consumer id, an agent's
    /// pid, or (in the agent side's `participants`) an account-qualified
    /// agent id.
    ParticipantId
);

impl DialogId {
    /// The id of `conversation`'s MAIN dialog (the same text).
    pub fn main_of(conversation: &ConversationId) -> Self {
        DialogId(conversation.0.clone())
    }
}

string_enum!(
    /// A participant's role in a conversation.
    pub enum Role {
        /// The consumer.
        Consumer = "CONSUMER",
        /// The agent (human or bot) the conversation is assigned to.
        AssignedAgent = "ASSIGNED_AGENT",
        /// An agent, as the consumer side names agents' events.
        Agent = "AGENT",
        /// A manager who joined the conversation.
        Manager = "MANAGER",
        /// A participant who only reads.
        Reader = "READER",
        /// The platform itself (automatic messages).
        Controller = "CONTROLLER",
    }
);

string_enum!(
    /// A channel (`channels`, `channelType`).
    pub enum ChannelType {
        /// Asynchronous messaging: the only channel switchboard serves.
        Messaging = "MESSAGING",
        /// Live chat.
        Chat = "CHAT",
    }
);

string_enum!(
    /// What a subscription notification's change does.
    pub enum ChangeType {
        /// The item is new or changed: `result` is its whole current state.
        Upsert = "UPSERT",
        /// The item left the subscription's view.
        Delete = "DELETE",
    }
);

/// One change of a subscription notification: `{"type":"UPSERT","result":{..}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    /// UPSERT or DELETE.
    #[serde(rename = "type")]
    pub change_type: ChangeType,
    /// The item.
    pub result: T,
}

impl<T> Change<T> {
    /// An UPSERT of `result`.
    pub fn upsert(result: T) -> Self {
        Change {
            change_type: ChangeType::Upsert,
            result,
        }
    }

    /// A DELETE of `result`.
    pub fn delete(result: T) -> Self {
        Change {
            change_type: ChangeType::Delete,
            result,
        }
    }
}

/// A response body that carries nothing: written as `{}`, and read from
/// any body (a peer may send `{}`, nothing, or details we do not use).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Empty {})
    }
}

/// A response body that is a bare string (`"OK"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(pub String);

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text(text.to_owned())
    }
}

/// The answer to a `Subscribe...` request: `{"subscriptionId":".."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscribed {
    /// The new subscription; its notifications carry this id.
    pub subscription_id: SubscriptionId,
}

/// Reads a string, or a number as its decimal text.
pub(crate) fn text_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    struct TextOrNumber;

    impl serde::de::Visitor<'_> for TextOrNumber {
        type Value = String;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an id (a string or a number)")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_owned())
        }

        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<String, E> {
            Ok(text)
        }

        fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<String, E> {
            Ok(number.to_string())
        }

        fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<String, E> {
            Ok(number.to_string())
        }

        fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<String, E> {
            Ok(serde_json::Number::from_f64(number)
                .map_or_else(|| number.to_string(), |n| n.to_string()))
        }
    }

    deserializer.deserialize_any(TextOrNumber)
}

/// Why a part of a frame did not read, without serde_json's " at line L
/// column C": read from the part's own text, the position would count
/// within it, not the frame (and a wrapped error gets the frame's own).
/// Any error type, as the generic readers of `macros` see serde_json's.
pub(crate) fn without_position(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    let Some(at) = text.rfind(" at line ") else {
        return text;
    };
    let position = &text[at + " at line ".len()..];
    let digits = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    match position.split_once(" column ") {
        Some((line, column)) if digits(line) && digits(column) => text[..at].to_owned(),
        _ => text,
    }
}

/// Reads a list, or a single item as a list of one (peers send
/// `conversationField` both ways).
pub(crate) fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error as _;
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    let text = raw.get();
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            serde_json::from_str(text).map_err(|e| D::Error::custom(without_position(&e)))
        }
        Some(b'{') => serde_json::from_str(text)
            .map(|one| vec![one])
            .map_err(|e| D::Error::custom(without_position(&e))),
        _ => Err(D::Error::custom("expected an object or a list of objects")),
    }
}

/// Reads a list a client receives, keeping the items that read and
/// dropping those that do not: one odd item from a peer (a ring, a change,
/// a history event) must not cost the others. Absent, `null` or not a list
/// is empty. Each item is kept as its text until it is read.
pub(crate) fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let Some(raw) = Option::<Box<RawValue>>::deserialize(deserializer)? else {
        return Ok(Vec::new());
    };
    let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get()).unwrap_or_default();
    Ok(items
        .iter()
        .filter_map(|item| serde_json::from_str(item.get()).ok())
        .collect())
}

/// Reads an optional value nobody relies on: one that does not read is
/// `None`, not an error that loses the frame around it.
pub(crate) fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(Option::<Box<RawValue>>::deserialize(deserializer)?
        .and_then(|raw| serde_json::from_str(raw.get()).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_lists_keep_the_items_that_read() {
        #[derive(serde::Deserialize)]
        struct Holder {
            #[serde(default, deserialize_with = "lenient_list")]
            items: Vec<u32>,
            #[serde(default, deserialize_with = "lenient")]
            weight: Option<u32>,
        }
        let held: Holder =
            serde_json::from_value(json!({"items": [1, "two", 3], "weight": 0.5})).unwrap();
        assert_eq!((held.items, held.weight), (vec![1, 3], None));
        let held: Holder = serde_json::from_value(json!({"items": null})).unwrap();
        assert!(held.items.is_empty());
    }

    #[test]
    fn ids_sent_as_numbers_read_as_text_and_write_as_text() {
        let skill: SkillId = serde_json::from_value(json!(77)).unwrap();
        assert_eq!(skill, "77");
        assert_eq!(serde_json::to_value(&skill).unwrap(), json!("77"));
        assert!(serde_json::from_value::<SkillId>(json!({"id": 1})).is_err());
    }

    #[test]
    fn unknown_roles_are_kept_as_sent() {
        let role: Role = serde_json::from_value(json!("SUPERVISOR")).unwrap();
        assert_eq!(role, Role::Other("SUPERVISOR".into()));
        assert_eq!(serde_json::to_value(&role).unwrap(), json!("SUPERVISOR"));
        assert_eq!(Role::from("ASSIGNED_AGENT"), Role::AssignedAgent);
    }

    #[test]
    fn an_empty_response_reads_from_anything() {
        for body in [json!({}), json!(null), json!({"x": 1}), json!("OK")] {
            assert_eq!(serde_json::from_value::<Empty>(body).unwrap(), Empty {});
        }
        assert_eq!(serde_json::to_value(Empty {}).unwrap(), json!({}));
    }

    #[test]
    fn changes_name_their_type() {
        let change = Change::upsert(json!({"convId": "c1"}));
        assert_eq!(
            serde_json::to_value(&change).unwrap(),
            json!({"type": "UPSERT", "result": {"convId": "c1"}})
        );
    }
}
