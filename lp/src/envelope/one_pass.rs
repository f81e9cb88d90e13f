//! Reading a frame in one pass. When `kind` and `type` come before `body`
//! (as switchboard, LivePerson and its SDKs write them), a request's or a
//! notification's body is read straight into its type where the reader
//! meets it; otherwise it is kept as text, as the two-pass reader keeps it,
//! and typed once the envelope is read. Reading the body as text first
//! meant scanning it once to find where it ends and again to type it.
//!
//! Whatever this reader refuses, [`Frame::parse`](super::Frame::parse)
//! reads again in two passes, which says why; what it accepts reads as the
//! two-pass reader would read it (same fields, a key sent twice refused).

use std::borrow::Cow;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Body, Fields};
use crate::kind::{NotificationSet, ReadKind, RequestSet};

/// Reads `text`'s envelope; `None` when serde_json refuses it.
pub(super) fn read<Q: RequestSet, N: NotificationSet>(text: &str) -> Option<Fields<'_, Q, N>> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let fields = reader.deserialize_map(FrameVisitor(PhantomData)).ok()?;
    reader.end().ok()?;
    Some(fields)
}

/// The envelope's keys; the rest are skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Key {
    Kind,
    Id,
    ReqId,
    Type,
    Code,
    Body,
    Headers,
    Metadata,
    EncodedMetadata,
    #[serde(other)]
    Other,
}

/// Each key once: a key sent twice is refused, as serde's derived readers refuse it.
fn once<T, E: Error>(slot: &mut Option<T>, value: T, key: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(key));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads the envelope's keys in their order, each once.
struct FrameVisitor<Q, N>(PhantomData<(Q, N)>);

impl<'de, Q: RequestSet, N: NotificationSet> Visitor<'de> for FrameVisitor<Q, N> {
    type Value = Fields<'de, Q, N>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Each slot is `Some` once its key was read, whatever its value.
        let mut kind: Option<Option<Cow<'de, str>>> = None;
        let mut id: Option<Option<Value>> = None;
        let mut req_id: Option<Option<Value>> = None;
        let mut kind_type: Option<Option<String>> = None;
        let mut code: Option<Option<u16>> = None;
        let mut body: Option<Body<'de, Q, N>> = None;
        let mut headers: Option<Option<&'de RawValue>> = None;
        let mut metadata: Option<Option<&'de RawValue>> = None;
        let mut encoded_metadata: Option<Option<&'de RawValue>> = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Kind => once(&mut kind, map.next_value_seed(KindText)?, "kind")?,
                Key::Id => once(&mut id, map.next_value()?, "id")?,
                Key::ReqId => once(&mut req_id, map.next_value()?, "reqId")?,
                Key::Type => once(&mut kind_type, map.next_value()?, "type")?,
                Key::Code => once(&mut code, map.next_value()?, "code")?,
                Key::Body => {
                    let frame = kind.as_ref().and_then(|kind| kind.as_deref());
                    let of_type = kind_type.as_ref().and_then(|kind| kind.as_deref());
                    let read = match (frame, of_type) {
                        (Some("req"), Some(of_type)) => {
                            Body::Request(map.next_value_seed(Typed::new(of_type))?)
                        }
                        (Some("notification"), Some(of_type)) => {
                            Body::Notification(map.next_value_seed(Typed::new(of_type))?)
                        }
                        _ => Body::Text(map.next_value()?),
                    };
                    once(&mut body, read, "body")?;
                }
                Key::Headers => once(&mut headers, map.next_value()?, "headers")?,
                Key::Metadata => once(&mut metadata, map.next_value()?, "metadata")?,
                Key::EncodedMetadata => {
                    once(&mut encoded_metadata, map.next_value()?, "encodedMetadata")?
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Fields {
            kind: kind.flatten(),
            id: id.flatten(),
            req_id: req_id.flatten(),
            kind_type: kind_type.flatten(),
            code: code.flatten(),
            body: body.unwrap_or(Body::Text(None)),
            headers: headers.flatten(),
            metadata: metadata.flatten(),
            encoded_metadata: encoded_metadata.flatten(),
        })
    }
}

/// The frame's `kind`: borrowed from the frame unless it has escapes;
/// `null` is none.
struct KindText;

impl<'de> DeserializeSeed<'de> for KindText {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, value: D) -> Result<Self::Value, D::Error> {
        value.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for KindText {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, value: D) -> Result<Self::Value, D::Error> {
        value.deserialize_str(self)
    }

    fn visit_borrowed_str<E: Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(text)))
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(text.to_owned())))
    }
}

/// A body of type `kind`, read by the set `S` (requests or notifications).
struct Typed<'k, S> {
    kind: &'k str,
    set: PhantomData<S>,
}

impl<'k, S> Typed<'k, S> {
    fn new(kind: &'k str) -> Self {
        Typed {
            kind,
            set: PhantomData,
        }
    }
}

impl<'de, S: ReadKind> DeserializeSeed<'de> for Typed<'_, S> {
    type Value = Option<S>;

    fn deserialize<D: Deserializer<'de>>(self, body: D) -> Result<Option<S>, D::Error> {
        S::read_kind(self.kind, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentNotification, AgentRequest};

    type AgentFields<'a> = Fields<'a, AgentRequest, AgentNotification>;

    #[test]
    fn a_body_after_kind_and_type_is_typed_where_it_is_met() {
        let text = r#"{"kind":"req","id":"1","type":".GetClock","body":{}}"#;
        let fields: AgentFields = read(text).unwrap();
        assert!(matches!(
            fields.body,
            Body::Request(Some(AgentRequest::GetClock(_)))
        ));
        let text = r#"{"kind":"notification","type":".ams.unknown","body":{"a":1}}"#;
        let fields: AgentFields = read(text).unwrap();
        assert!(matches!(fields.body, Body::Notification(None)), "skipped");
    }

    #[test]
    fn a_body_before_its_type_is_kept_as_text() {
        let text = r#"{"kind":"req","id":"1","body":{"a":1},"type":".GetClock"}"#;
        let fields: AgentFields = read(text).unwrap();
        let Body::Text(text) = fields.body else {
            panic!("kept as text")
        };
        assert_eq!(text.map(RawValue::get), Some(r#"{"a":1}"#));
    }

    #[test]
    fn what_it_refuses_is_left_to_the_two_pass_reader() {
        for text in [
            r#"{"kind":"req","id":"1","type":".ams.routing.SetAgentState","body":{}}"#,
            r#"{"kind":"req","kind":"req"}"#,
            r#"{"kind":"req"} x"#,
            "[]",
        ] {
            assert!(
                read::<AgentRequest, AgentNotification>(text).is_none(),
                "{text}"
            );
        }
    }
}
