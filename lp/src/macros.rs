//! The three shapes of value the protocol repeats, each written once as a
//! declarative macro so that every wire string sits in one table:
//!
//! - `string_enum!`: a string with known values (`"ONLINE"`, `"text/plain"`)
//!   and an `Other(String)` for any value LivePerson adds later, kept as sent.
//! - `open_enum!`: an object tagged by one field (`"type"`, `"field"`) whose
//!   known tags have typed bodies and whose unknown ones are kept whole as
//!   `Other(Map)`, so a peer that sends something new is not refused.
//! - `id!`: a string id newtype that also reads ids sent as numbers
//!   (LivePerson sends skill and user ids as numbers, the hub as strings) and
//!   always writes a string.

/// A string enum with an `Other(String)` fallback; see the module doc.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept as it was sent.
            Other(String),
        }

        impl $name {
            /// The value as it is written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $text => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::macros::read_str(deserializer, |text| Self::from(text))
            }
        }
    };
}

/// An object tagged by one field, with an `Other(Map)` fallback; see the
/// module doc. A known tag whose body does not fit is an error naming the tag.
/// Read in one pass when the tag comes first, through a map otherwise; the
/// two differ only for keys sent twice, which no peer does: in one pass a
/// repeated field is refused (the body's reader says so) and the first tag
/// counts, through the map the last of each counts.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident tagged $tag:literal {
            $( $(#[$vmeta:meta])* $variant:ident($body:ty) = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($body), )+
            /// A tag this crate does not know: the whole object, tag included.
            Other(serde_json::Map<String, serde_json::Value>),
        }

        impl $name {
            /// The value of the tag field (empty when an unknown object has none).
            pub fn tag(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $text, )+
                    Self::Other(map) => map.get($tag).and_then(serde_json::Value::as_str).unwrap_or(""),
                }
            }
        }

        $(
            impl From<$body> for $name {
                fn from(body: $body) -> Self {
                    Self::$variant(body)
                }
            }
        )+

        impl serde::Serialize for $name {
            /// The tag first, then the body's fields, written straight out.
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                #[derive(serde::Serialize)]
                struct Tagged<'a, T> {
                    #[serde(rename = $tag)]
                    tag: &'static str,
                    #[serde(flatten)]
                    body: &'a T,
                }
                match self {
                    $( Self::$variant(body) => Tagged { tag: $text, body }.serialize(serializer), )+
                    Self::Other(map) => map.serialize(serializer),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Read;
                impl<'de> serde::de::Visitor<'de> for Read {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("an object tagged by `", $tag, "`"))
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        use serde::de::Error as _;
                        // The tag first (as this crate, LivePerson and its SDKs
                        // write it): the rest of the object is the body's.
                        let whole = match crate::macros::first_entry(&mut map, $tag)? {
                            crate::macros::First::Tag(tag) => match tag.as_str() {
                                $( $text => return serde::Deserialize::deserialize(
                                    serde::de::value::MapAccessDeserializer::new(map),
                                )
                                .map($name::$variant)
                                .map_err(|e| A::Error::custom(format_args!(
                                    "{} {}: {}", $text, $tag, crate::common::without_position(&e),
                                ))), )+
                                _ => crate::macros::rest_of(map, Some(($tag.to_owned(), tag.into())))?,
                            },
                            crate::macros::First::Other(first) => crate::macros::rest_of(map, first)?,
                        };
                        // The tag elsewhere: the whole object, then its body.
                        let tag = whole.get($tag).and_then(serde_json::Value::as_str).map(str::to_owned);
                        match tag.as_deref() {
                            $( Some($text) => {
                                let mut body = whole;
                                body.remove($tag);
                                serde_json::from_value(serde_json::Value::Object(body))
                                    .map($name::$variant)
                                    .map_err(|e| A::Error::custom(format_args!("{} {}: {e}", $text, $tag)))
                            } )+
                            _ => Ok($name::Other(whole)),
                        }
                    }
                }
                deserializer.deserialize_map(Read)
            }
        }
    };
}

/// Reads a string through `from` without copying it first (a known value
/// of a `string_enum!` is then read without allocating).
pub(crate) fn read_str<'de, D, T>(deserializer: D, from: fn(&str) -> T) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Read<T>(fn(&str) -> T);
    impl<T> serde::de::Visitor<'_> for Read<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
            Ok((self.0)(text))
        }
    }
    deserializer.deserialize_str(Read(from))
}

/// The first entry of an `open_enum!` object.
pub(crate) enum First {
    /// The tag, with a string value.
    Tag(String),
    /// Another key, or a tag whose value is not a string (`None`: the
    /// object is empty).
    Other(Option<(String, serde_json::Value)>),
}

/// Reads the first entry of an object tagged by `tag`.
pub(crate) fn first_entry<'de, A: serde::de::MapAccess<'de>>(
    map: &mut A,
    tag: &'static str,
) -> Result<First, A::Error> {
    let Some(key) = map.next_key::<String>()? else {
        return Ok(First::Other(None));
    };
    let value: serde_json::Value = map.next_value()?;
    Ok(match value {
        serde_json::Value::String(text) if key == tag => First::Tag(text),
        value => First::Other(Some((key, value))),
    })
}

/// `first` and the rest of `map`, as an object.
pub(crate) fn rest_of<'de, A: serde::de::MapAccess<'de>>(
    mut map: A,
    first: Option<(String, serde_json::Value)>,
) -> Result<serde_json::Map<String, serde_json::Value>, A::Error> {
    let mut whole = serde_json::Map::new();
    whole.extend(first);
    while let Some((key, value)) = map.next_entry()? {
        whole.insert(key, value);
    }
    Ok(whole)
}

/// A string id newtype; see the module doc.
macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::common::text_or_number(deserializer).map(Self)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    string_enum!(
        /// A test enum.
        pub enum Colour {
            /// Red.
            Red = "RED",
        }
    );

    /// A test body.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Circle {
        /// Its radius.
        pub radius: u32,
    }

    open_enum!(
        /// A test object.
        pub enum Shape tagged "kind" {
            /// A circle.
            Circle(Circle) = "circle",
        }
    );

    #[test]
    fn string_enums_keep_unknown_values() {
        assert_eq!(
            serde_json::from_value::<Colour>(json!("RED")).unwrap(),
            Colour::Red
        );
        let blue: Colour = serde_json::from_value(json!("BLUE")).unwrap();
        assert_eq!(blue.as_str(), "BLUE");
        assert_eq!(serde_json::to_value(&blue).unwrap(), json!("BLUE"));
    }

    #[test]
    fn open_enums_type_known_tags_and_keep_unknown_objects_whole() {
        let circle = json!({"kind": "circle", "radius": 2});
        let shape: Shape = serde_json::from_value(circle.clone()).unwrap();
        assert_eq!(shape, Shape::Circle(Circle { radius: 2 }));
        assert_eq!(serde_json::to_value(&shape).unwrap(), circle);
        let square = json!({"kind": "square", "side": 3});
        let shape: Shape = serde_json::from_value(square.clone()).unwrap();
        assert_eq!(shape.tag(), "square");
        assert_eq!(serde_json::to_value(&shape).unwrap(), square);
        let error = serde_json::from_value::<Shape>(json!({"kind": "circle"})).unwrap_err();
        assert_eq!(error.to_string(), "circle kind: missing field `radius`");
        assert!(serde_json::from_value::<Shape>(Value::from(1)).is_err());
    }

    #[test]
    fn open_enums_read_the_tag_wherever_it_is_and_write_it_first() {
        let circle = Shape::Circle(Circle { radius: 2 });
        for text in [
            r#"{"kind":"circle","radius":2}"#,
            r#"{"radius":2,"kind":"circle"}"#,
        ] {
            assert_eq!(
                serde_json::from_str::<Shape>(text).unwrap(),
                circle,
                "{text}"
            );
        }
        assert_eq!(
            serde_json::to_string(&circle).unwrap(),
            r#"{"kind":"circle","radius":2}"#
        );
        // Unknown tags, and tags that are not text, keep the object whole, in either place.
        for text in [
            r#"{"kind":"square","side":3}"#,
            r#"{"side":3,"kind":"square"}"#,
            r#"{"kind":4,"side":3}"#,
            r#"{}"#,
        ] {
            let shape: Shape = serde_json::from_str(text).unwrap();
            assert_eq!(
                serde_json::to_value(&shape).unwrap(),
                serde_json::from_str::<Value>(text).unwrap(),
                "{text}"
            );
        }
        // A body that does not fit names the tag, once, without a position inside.
        for text in [
            r#"{"kind":"circle","radius":"x"}"#,
            r#"{"radius":"x","kind":"circle"}"#,
        ] {
            let error = serde_json::from_str::<Shape>(text).unwrap_err().to_string();
            assert!(
                error.starts_with(
                    "circle kind: invalid type: string \"x\", expected u32 at line 1 column "
                ),
                "{error}"
            );
            assert_eq!(error.matches(" at line ").count(), 1, "{error}");
        }
    }
}
