//! `id` of a connector: the one rule for which connector ids exist.
//!
//! A connector id names its file (`connectors/<id>.toml`) and a segment of
//! the admin API's paths, so it is 1 to [`MAX_LEN`] characters, each an
//! ASCII letter, a digit, `-` or `_`: nothing that could leave the
//! `connectors/` folder, exceed a file name's length or need escaping in a
//! URL. Config loading, `switchboard validate`, the admin API and the
//! gateway's file writer all check ids with [`ConnectorId::parse`].

use std::fmt;

/// The longest connector id, in characters (all ASCII, so also bytes).
pub const MAX_LEN: usize = 64;

/// The rule in words, for messages and documentation.
pub const RULE: &str =
    "a connector id is 1 to 64 characters, each a letter A-Z or a-z, a digit, `-` or `_`";

/// How much of a refused id a message repeats.
const SHOWN: usize = 24;

/// A connector id that follows the rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectorId(String);

/// Why a text is not a connector id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadConnectorId {
    /// Nothing at all.
    #[error("the connector id is empty; {RULE}")]
    Empty,
    /// Longer than [`MAX_LEN`].
    #[error("connector id `{shown}` is {length} characters long; {RULE}")]
    TooLong {
        /// The id's beginning.
        shown: String,
        /// Its length in characters.
        length: usize,
    },
    /// A character outside `[A-Za-z0-9_-]`.
    #[error("connector id `{shown}` holds {character:?}; {RULE}")]
    Character {
        /// The id (its beginning, if long).
        shown: String,
        /// The first character the rule refuses.
        character: char,
    },
}

impl ConnectorId {
    /// `text` as a connector id, or why it is not one. Length is checked
    /// before characters.
    pub fn parse(text: &str) -> Result<ConnectorId, BadConnectorId> {
        if text.is_empty() {
            return Err(BadConnectorId::Empty);
        }
        let length = text.chars().count();
        if length > MAX_LEN {
            return Err(BadConnectorId::TooLong {
                shown: shorten(text),
                length,
            });
        }
        if let Some(character) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(BadConnectorId::Character {
                shown: shorten(text),
                character,
            });
        }
        Ok(ConnectorId(text.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ConnectorId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `text`, cut to its first [`SHOWN`] characters with `…` if longer.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_dash_and_underscore_up_to_64_characters_are_ids() {
        for id in ["demo-1", "A_b-9", "x", &"a".repeat(MAX_LEN)] {
            assert_eq!(ConnectorId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn empty_long_and_path_like_ids_are_refused_with_the_rule() {
        assert_eq!(ConnectorId::parse(""), Err(BadConnectorId::Empty));
        let long = "a".repeat(MAX_LEN + 1);
        let error = ConnectorId::parse(&long).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "connector id `{}…` is 65 characters long; {RULE}",
                &long[..24]
            )
        );
        for (id, character) in [("../evil", '.'), ("a/b", '/'), ("é", 'é'), ("a b", ' ')] {
            assert_eq!(
                ConnectorId::parse(id),
                Err(BadConnectorId::Character {
                    shown: id.into(),
                    character
                })
            );
        }
        assert!(matches!(
            ConnectorId::parse(&"é".repeat(40)),
            Err(BadConnectorId::Character {
                character: 'é', ..
            })
        ));
    }
}
