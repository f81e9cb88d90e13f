//! A connector's `[transcripts]` table: whether every hook call's input
//! and output is recorded (JSON lines in the data directory, for
//! `switchboard plugin replay`), whether consumer text is masked, and how
//! much is kept.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// The most a connector's transcripts may keep, MiB.
const MAX_MIB: u64 = 10_240;
/// The longest they may be kept, days.
const MAX_DAYS: u64 = 365;

/// The table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTranscripts {
    #[serde(default)]
    record: bool,
    #[serde(default = "masked_by_default")]
    mask: bool,
    #[serde(default)]
    max_mib: Option<Located<u64>>,
    #[serde(default)]
    max_age_days: Option<Located<u64>>,
}

fn masked_by_default() -> bool {
    true
}

/// How a connector records its transcripts (present only when it does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptSettings {
    /// Digit runs and email addresses in texts are masked (the default).
    pub mask: bool,
    /// The most bytes kept for the connector; the oldest files go first.
    pub max_bytes: u64,
    /// Files older than this are deleted.
    pub max_age: Duration,
}

impl RawTranscripts {
    /// The settings, if recording is on; out-of-range values are reported.
    pub(super) fn check(
        self,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<TranscriptSettings> {
        let mut bounded = |value: Option<Located<u64>>, default: u64, max: u64, key: &str| {
            let Some(value) = value else {
                return default;
            };
            if *value == 0 || *value > max {
                diagnostics.push(Diagnostic::error(
                    file,
                    source,
                    value.span(),
                    format!("`{key}` must be 1 to {max}"),
                ));
            }
            (*value).clamp(1, max)
        };
        let max_mib = bounded(self.max_mib, 64, MAX_MIB, "max_mib");
        let days = bounded(self.max_age_days, 7, MAX_DAYS, "max_age_days");
        self.record.then_some(TranscriptSettings {
            mask: self.mask,
            max_bytes: max_mib << 20,
            max_age: Duration::from_secs(days * 86_400),
        })
    }
}
