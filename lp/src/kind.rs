//! Kinds: which body type travels under which `type` string, on which side.
//!
//! A body type is a request or a notification of a side ([`Agent`] or
//! [`Consumer`]) through [`Request`] and [`Notification`], whose `KIND` is
//! the `type` string. Those impls are never written by hand: the tables in
//! `agent` and `consumer` list each kind once, as
//! `Variant(Body) -> Response = "type"`, and `requests!` and
//! `notifications!` turn a table into the impls and into the enum a
//! reader parses into ([`RequestSet`], [`NotificationSet`]; both read a
//! body straight from the frame's reader through their shared
//! [`ReadKind`]). A table may name other `type` strings it also accepts
//! (older names, the other side's), and a response type that is not
//! `type` + `$Response`.
//!
//! The same body may be a kind of both sides under different strings
//! (`.ams.ms.PublishEvent` and `ms.PublishEvent`), hence the side parameter.

use std::borrow::Cow;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::envelope::{self, Extras};

/// One side of LivePerson's messaging: which socket a kind belongs to.
pub trait Side {
    /// `agent` or `consumer`, for messages.
    const NAME: &'static str;
}

/// A request body of side `S`.
pub trait Request<S: Side>: Serialize + DeserializeOwned {
    /// Its `type` string.
    const KIND: &'static str;
    /// The `type` of its success response.
    const RESPONSE_KIND: &'static str;
    /// The body of its success response.
    type Response: Serialize + DeserializeOwned;
}

/// A notification body of side `S`.
pub trait Notification<S: Side>: Serialize + DeserializeOwned {
    /// Its `type` string.
    const KIND: &'static str;
}

/// What a set of requests or of notifications has in common: its bodies
/// read straight from the frame's reader, by their `type`.
pub trait ReadKind: Sized {
    /// The body of type `kind` read where the frame's reader meets it
    /// (`null` reads as the set's `from_kind` reads an absent body);
    /// `None`, the body skipped, when the set has no such type.
    fn read_kind<'de, D: Deserializer<'de>>(kind: &str, body: D) -> Result<Option<Self>, D::Error>;
}

/// Every request a server of one side reads, as one enum (made by
/// `requests!`); [`crate::envelope::Untyped`] reads any.
pub trait RequestSet: ReadKind {
    /// The side, for messages.
    const SIDE: &'static str;
    /// The request of type `kind` from its body's text (`None`: absent or
    /// `null`); `None` when the set has no such type.
    fn from_kind(kind: &str, body: Option<&RawValue>) -> Option<Result<Self, serde_json::Error>>;
    /// Its `type` string (the table's, not an alias it was read under).
    fn kind(&self) -> &str;
    /// The `type` of its success response, for a request read under `received`.
    fn response_kind(&self, received: &str) -> Cow<'static, str>;
    /// Its body as JSON.
    fn to_body(&self) -> Value;
}

/// Every notification a client of one side reads, as one enum (made by
/// `notifications!`); [`crate::envelope::Untyped`] reads any.
pub trait NotificationSet: ReadKind {
    /// The side, for messages.
    const SIDE: &'static str;
    /// The notification of type `kind` from its body's text (`None`: absent
    /// or `null`); `None` when the set has no such type.
    fn from_kind(kind: &str, body: Option<&RawValue>) -> Option<Result<Self, serde_json::Error>>;
    /// Its `type` string.
    fn kind(&self) -> &str;
    /// Its body as JSON.
    fn to_body(&self) -> Value;
}

macro_rules! side {
    ($(#[$meta:meta])* $name:ident = $text:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {}

        impl Side for $name {
            const NAME: &'static str = $text;
        }

        impl $name {
            /// The request frame for `body` with id `id`.
            pub fn request<R: Request<$name>>(id: &str, body: &R) -> String {
                envelope::request_frame(id, R::KIND, body, Extras::default())
            }

            /// The request frame for `body` with id `id` and `extras`
            /// (headers, metadata, encoded metadata).
            pub fn request_with<R: Request<$name>>(id: &str, body: &R, extras: Extras<'_>) -> String {
                envelope::request_frame(id, R::KIND, body, extras)
            }

            /// The success response frame of a request `R` with id `req_id`.
            pub fn response<R: Request<$name>>(req_id: &str, code: u16, body: &R::Response) -> String {
                envelope::response_frame(Some(req_id), code, R::RESPONSE_KIND, body)
            }

            /// The notification frame for `body`.
            pub fn notification<N: Notification<$name>>(body: &N) -> String {
                envelope::notification_frame(N::KIND, body)
            }
        }
    };
}

side!(
    /// The agent side: a connector (LivePerson's Messaging Agent API).
    Agent = "agent"
);
side!(
    /// The consumer side: a web chat (LivePerson's Messaging Window API).
    Consumer = "consumer"
);

/// Reads a request or notification body from its text; an absent (or
/// `null`) body reads as `{}`.
pub(crate) fn read_body<T: DeserializeOwned>(
    body: Option<&RawValue>,
) -> Result<T, serde_json::Error> {
    serde_json::from_str(body.map_or("{}", RawValue::get))
}

/// Reads a request or notification body straight from the frame's reader;
/// a `null` body reads as `{}`, as [`read_body`] reads an absent one.
pub(crate) fn read_body_from<'de, T: DeserializeOwned, D: Deserializer<'de>>(
    body: D,
) -> Result<T, D::Error> {
    struct OrEmpty<T>(std::marker::PhantomData<T>);
    impl<'de, T: DeserializeOwned> serde::de::Visitor<'de> for OrEmpty<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a body")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<T, E> {
            read_body(None).map_err(E::custom)
        }

        fn visit_some<D: Deserializer<'de>>(self, body: D) -> Result<T, D::Error> {
            T::deserialize(body)
        }
    }
    body.deserialize_option(OrEmpty(std::marker::PhantomData))
}

/// Skips the body of a type a set does not know.
pub(crate) fn skip_body<'de, T, D: Deserializer<'de>>(body: D) -> Result<Option<T>, D::Error> {
    serde::de::IgnoredAny::deserialize(body).map(|_| None)
}

/// Writes a body the crate's own types make: they are plain data (string
/// keys, no failing `Serialize`), so this cannot fail.
pub(crate) fn write_body<T: Serialize + ?Sized>(body: &T) -> Value {
    serde_json::to_value(body).expect("protocol bodies are plain JSON data")
}

/// The response type of a table row: its own, or `type` + `$Response`.
macro_rules! response_kind {
    ($kind:literal) => {
        concat!($kind, "$Response")
    };
    ($kind:literal, $answer:expr) => {
        $answer
    };
}

/// The response type for a request read under `received`.
macro_rules! response_kind_for {
    ($received:expr) => {
        std::borrow::Cow::Owned(format!("{}$Response", $received))
    };
    ($received:expr, $answer:expr) => {
        std::borrow::Cow::Borrowed($answer)
    };
}

/// A request table: the enum a server parses into, plus a [`Request`] impl
/// per row. Row: `Variant(Body) -> Response = "type"`, then optionally
/// `, also [other type strings]` and `, answered "response type"`.
macro_rules! requests {
    (
        $(#[$meta:meta])*
        pub enum $name:ident on $side:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident($body:ty) -> $resp:ty = $kind:literal
                $(, also [$($alias:expr),+])?
                $(, answered $answer:expr)?;
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($body), )+
        }

        impl $name {
            /// Every `type` of the table, in its order (not the ones it also accepts).
            pub const KINDS: &'static [&'static str] = &[$($kind),+];
        }

        $(
            impl $crate::kind::Request<$crate::kind::$side> for $body {
                const KIND: &'static str = $kind;
                const RESPONSE_KIND: &'static str = response_kind!($kind $(, $answer)?);
                type Response = $resp;
            }

            impl From<$body> for $name {
                fn from(body: $body) -> Self {
                    Self::$variant(body)
                }
            }
        )+

        impl $crate::kind::ReadKind for $name {
            fn read_kind<'de, D: serde::Deserializer<'de>>(kind: &str, body: D) -> Result<Option<Self>, D::Error> {
                $(
                    if kind == $kind $($(|| kind == $alias)+)? {
                        return $crate::kind::read_body_from(body).map(|body| Some(Self::$variant(body)));
                    }
                )+
                $crate::kind::skip_body(body)
            }
        }

        impl $crate::kind::RequestSet for $name {
            const SIDE: &'static str = <$crate::kind::$side as $crate::kind::Side>::NAME;

            fn from_kind(kind: &str, body: Option<&serde_json::value::RawValue>) -> Option<Result<Self, serde_json::Error>> {
                $(
                    if kind == $kind $($(|| kind == $alias)+)? {
                        return Some($crate::kind::read_body(body).map(Self::$variant));
                    }
                )+
                None
            }

            fn kind(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $kind, )+
                }
            }

            fn response_kind(&self, received: &str) -> std::borrow::Cow<'static, str> {
                let _ = received;
                match self {
                    $( Self::$variant(_) => response_kind_for!(received $(, $answer)?), )+
                }
            }

            fn to_body(&self) -> serde_json::Value {
                match self {
                    $( Self::$variant(body) => $crate::kind::write_body(body), )+
                }
            }
        }
    };
}

/// A notification table: the enum a client parses into, plus a
/// [`Notification`] impl per row. Row: `Variant(Body) = "type"` (or an
/// expression naming another table's kind).
macro_rules! notifications {
    (
        $(#[$meta:meta])*
        pub enum $name:ident on $side:ident {
            $( $(#[$vmeta:meta])* $variant:ident($body:ty) = $kind:expr; )+
        }
    ) => {
        $(#[$meta])*
        // A notification is parsed and matched at once; boxing the large
        // bodies would only add an allocation per frame.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($body), )+
        }

        impl $name {
            /// Every `type` of the table, in its order.
            pub const KINDS: &'static [&'static str] =
                &[$(<$body as $crate::kind::Notification<$crate::kind::$side>>::KIND),+];
        }

        $(
            impl $crate::kind::Notification<$crate::kind::$side> for $body {
                const KIND: &'static str = $kind;
            }

            impl From<$body> for $name {
                fn from(body: $body) -> Self {
                    Self::$variant(body)
                }
            }
        )+

        impl $crate::kind::ReadKind for $name {
            fn read_kind<'de, D: serde::Deserializer<'de>>(kind: &str, body: D) -> Result<Option<Self>, D::Error> {
                $(
                    if kind == <$body as $crate::kind::Notification<$crate::kind::$side>>::KIND {
                        return $crate::kind::read_body_from(body).map(|body| Some(Self::$variant(body)));
                    }
                )+
                $crate::kind::skip_body(body)
            }
        }

        impl $crate::kind::NotificationSet for $name {
            const SIDE: &'static str = <$crate::kind::$side as $crate::kind::Side>::NAME;

            fn from_kind(kind: &str, body: Option<&serde_json::value::RawValue>) -> Option<Result<Self, serde_json::Error>> {
                $(
                    if kind == <$body as $crate::kind::Notification<$crate::kind::$side>>::KIND {
                        return Some($crate::kind::read_body(body).map(Self::$variant));
                    }
                )+
                None
            }

            fn kind(&self) -> &str {
                match self {
                    $( Self::$variant(_) => <$body as $crate::kind::Notification<$crate::kind::$side>>::KIND, )+
                }
            }

            fn to_body(&self) -> serde_json::Value {
                match self {
                    $( Self::$variant(body) => $crate::kind::write_body(body), )+
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_body_reads_as_an_empty_object() {
        let clock: crate::connection::GetClock = read_body(None).unwrap();
        assert_eq!(clock, crate::connection::GetClock {});
        assert!(read_body::<crate::routing::SetAgentState>(None).is_err());
    }

    #[test]
    fn a_side_writes_a_body_under_its_own_kind() {
        let publish =
            crate::messaging::PublishEvent::new("c1", crate::messaging::ContentEvent::text("hi"));
        let agent: Value = serde_json::from_str(&Agent::request("1", &publish)).unwrap();
        let consumer: Value = serde_json::from_str(&Consumer::request("1", &publish)).unwrap();
        assert_eq!(agent["type"], ".ams.ms.PublishEvent");
        assert_eq!(consumer["type"], "ms.PublishEvent");
        assert_eq!(agent["body"], consumer["body"]);
        assert_eq!(
            <crate::messaging::PublishEvent as Request<Consumer>>::RESPONSE_KIND,
            "ms.PublishEventResponse"
        );
    }
}
