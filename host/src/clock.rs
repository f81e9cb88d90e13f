//! The wall clock as LivePerson's timestamps count it: milliseconds since
//! the Unix epoch. (The frames themselves are `lp`'s.)

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
