//! Plugin limits, declared once in [`KEYS`]: `[plugins.limits]` in
//! `switchboard.toml` (every plugin's defaults) and a `[[plugins]]` entry's
//! `limits` (its own) take the same keys, in the same units, with the same
//! ranges, and each key sets one field of the runtime's [`Limits`].

use std::fmt;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::number_in;
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;
use crate::config::{Limits, MAX_PLUGIN_MEMORY_BYTES};

/// One limit: its key, the numbers it takes, and what a number sets.
struct LimitKey {
    name: &'static str,
    range: RangeInclusive<u64>,
    set: fn(&mut Limits, u64),
}

/// Every limit key, in the order findings about them are reported.
const KEYS: [LimitKey; 6] = [
    LimitKey {
        name: "deadline_ms",
        range: 1..=10_000,
        set: |limits, ms| limits.deadline = Duration::from_millis(ms),
    },
    LimitKey {
        name: "memory_mib",
        range: 1..=(MAX_PLUGIN_MEMORY_BYTES >> 20) as u64,
        set: |limits, mib| limits.memory_bytes = (mib as usize) << 20,
    },
    LimitKey {
        name: "fuel",
        range: 1_000..=u64::MAX,
        set: |limits, fuel| limits.fuel = Some(fuel),
    },
    LimitKey {
        name: "max_output_kib",
        range: 1..=16 * 1024,
        set: |limits, kib| limits.max_output_bytes = (kib as usize) << 10,
    },
    LimitKey {
        name: "kv_quota_kib",
        range: 1..=1024 * 1024,
        set: |limits, kib| limits.kv_quota_bytes = (kib as usize) << 10,
    },
    LimitKey {
        name: "quarantine_after",
        range: 1..=1_000,
        set: |limits, faults| limits.quarantine_after = faults as u32,
    },
];

/// The keys' names, for serde's "expected one of" message.
const NAMES: [&str; KEYS.len()] = {
    let mut names = [""; KEYS.len()];
    let mut i = 0;
    while i < KEYS.len() {
        names[i] = KEYS[i].name;
        i += 1;
    }
    names
};

/// Limits that replace the defaults they are applied to: the checked
/// number of each key the table sets.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitOverrides([Option<u64>; KEYS.len()]);

impl LimitOverrides {
    /// `defaults` with these overrides applied.
    pub fn apply(self, defaults: Limits) -> Limits {
        let mut limits = defaults;
        for (key, value) in KEYS.iter().zip(self.0) {
            if let Some(value) = value {
                (key.set)(&mut limits, value);
            }
        }
        limits
    }

    /// True if `fuel` is set: the engine must meter fuel.
    pub fn sets_fuel(&self) -> bool {
        self.apply(Limits::default()).fuel.is_some()
    }
}

impl fmt::Debug for LimitOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                NAMES
                    .iter()
                    .zip(self.0)
                    .filter_map(|(name, value)| Some((name, value?))),
            )
            .finish()
    }
}

/// A limits table as written: each key's number at its place.
#[derive(Default)]
pub(super) struct RawLimits([Option<Located<u64>>; KEYS.len()]);

impl RawLimits {
    /// The overrides, each number checked against its key's range and
    /// refused at its place.
    pub(super) fn check(
        &self,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> LimitOverrides {
        let mut overrides = LimitOverrides::default();
        for (i, key) in KEYS.iter().enumerate() {
            let what = format!("`{}`", key.name);
            overrides.0[i] = number_in(
                self.0[i].as_ref(),
                &what,
                key.range.clone(),
                file,
                source,
                diagnostics,
            );
        }
        overrides
    }
}

/// A key of the table: its index in [`KEYS`].
struct KeyIndex(usize);

impl<'de> Deserialize<'de> for KeyIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = KeyIndex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a limit's name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<KeyIndex, E> {
                NAMES
                    .iter()
                    .position(|known| *known == name)
                    .map(KeyIndex)
                    .ok_or_else(|| E::unknown_field(name, &NAMES))
            }
        }
        deserializer.deserialize_identifier(Name)
    }
}

impl<'de> Deserialize<'de> for RawLimits {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = RawLimits;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of plugin limits")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLimits, A::Error> {
                let mut table = RawLimits::default();
                while let Some(KeyIndex(i)) = map.next_key()? {
                    table.0[i] = Some(map.next_value()?);
                }
                Ok(table)
            }
        }
        deserializer.deserialize_map(Table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(text: &str) -> (LimitOverrides, Vec<Diagnostic>) {
        let raw: RawLimits = toml::from_str(text).unwrap();
        let mut diagnostics = Vec::new();
        let overrides = raw.check(Path::new("f.toml"), text, &mut diagnostics);
        (overrides, diagnostics)
    }

    #[test]
    fn each_key_sets_its_limit_in_its_unit() {
        let (set, found) = overrides(
            "deadline_ms = 7\nmemory_mib = 3\nfuel = 5000\nmax_output_kib = 2\nkv_quota_kib = 4\nquarantine_after = 9\n",
        );
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            set.apply(Limits::default()),
            Limits {
                deadline: Duration::from_millis(7),
                memory_bytes: 3 << 20,
                fuel: Some(5000),
                max_output_bytes: 2 << 10,
                kv_quota_bytes: 4 << 10,
                quarantine_after: 9,
            }
        );
        assert!(set.sets_fuel());
    }

    #[test]
    fn keys_left_out_keep_the_defaults() {
        let (set, _) = overrides("deadline_ms = 7\n");
        let defaults = Limits::default();
        assert_eq!(
            set.apply(defaults),
            Limits {
                deadline: Duration::from_millis(7),
                ..defaults
            }
        );
        assert!(!set.sets_fuel());
        assert_eq!(format!("{set:?}"), "{\"deadline_ms\": 7}");
    }
}
