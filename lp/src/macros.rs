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
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self::from(text.as_ref()))
            }
        }
    };
}

/// An object tagged by one field, with an `Other(Map)` fallback; see the
/// module doc. A known tag whose body does not fit is an error naming the tag.
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
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::Error as _;
                let (mut map, tag) = match self {
                    $( Self::$variant(body) => match serde_json::to_value(body).map_err(S::Error::custom)? {
                        serde_json::Value::Object(map) => (map, $text),
                        _ => return Err(S::Error::custom(concat!($text, " must be a JSON object"))),
                    }, )+
                    Self::Other(map) => return map.serialize(serializer),
                };
                map.insert($tag.to_owned(), serde_json::Value::from(tag));
                map.serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let mut map = <serde_json::Map<String, serde_json::Value>>::deserialize(deserializer)?;
                let tag = map.get($tag).and_then(serde_json::Value::as_str).map(str::to_owned);
                match tag.as_deref() {
                    $( Some($text) => {
                        map.remove($tag);
                        serde_json::from_value(serde_json::Value::Object(map))
                            .map(Self::$variant)
                            .map_err(|e| D::Error::custom(format_args!("{} {}: {e}", $text, $tag)))
                    } )+
                    _ => Ok(Self::Other(map)),
                }
            }
        }
    };
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
}
