//! [`Located`]: a configuration value with the place in its file it was
//! read from, kept inside the typed configuration so that any later
//! finding (a cross-file rule, a reload's refusal) can point at the value's
//! `line:col` without a parallel table of spans.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, Range};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value and the byte span of its file it was read from.
///
/// Equality, order, hashing and `Debug` look at the value alone: the same
/// value written elsewhere in the file is the same configuration. A value
/// the file leaves to its default carries the span of the place a finding
/// about it should point at (a connector's `id`, say), or an empty one.
#[derive(Clone, Default)]
pub struct Located<T> {
    value: T,
    span: Range<usize>,
}

impl<T> Located<T> {
    /// `value`, read at `span`.
    pub fn new(value: T, span: Range<usize>) -> Self {
        Located { value, span }
    }

    /// Where the value is in its file (bytes).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The value, without its place.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// A value derived from this one, at the same place.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Located<U> {
        Located {
            value: f(self.value),
            span: self.span,
        }
    }
}

impl<T> Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl Borrow<str> for Located<String> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Located<T> {}

impl<T: PartialOrd> PartialOrd for Located<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<T: Ord> Ord for Located<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<T: Hash> Hash for Located<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<T: fmt::Debug> fmt::Debug for Located<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: fmt::Display> fmt::Display for Located<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    /// Through `toml::Spanned`, which the TOML deserializer fills with the
    /// value's span.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
        let span = spanned.span();
        Ok(Located::new(spanned.into_inner(), span))
    }
}

impl<T: Serialize> Serialize for Located<T> {
    /// As the value alone: its place is the file's business.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        name: Located<String>,
    }

    #[test]
    fn a_value_keeps_its_place_but_compares_by_value() {
        let here: File = toml::from_str("name = \"a\"").unwrap();
        let there: File = toml::from_str("\n\nname   = \"a\"").unwrap();
        assert_eq!(here.name.span(), 7..10);
        assert_eq!(there.name.span(), 11..14);
        assert_eq!(here.name, there.name);
        assert_eq!(format!("{:?}", here.name), "\"a\"");
    }
}
