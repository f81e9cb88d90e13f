//! Consumers' profiles: what a consumer says about itself
//! (`userprofile.SetUserProfile`: names, engagement attributes) and what
//! an agent is shown of it (`GetUserProfile`).
//!
//! Bounded like the rest of the hub: a profile is at most
//! [`MAX_PROFILE_BYTES`] as JSON (413 over it), and the hub remembers the
//! last [`KEPT_PROFILES`] consumers' profiles, forgetting the earliest set.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use lp::users::UserProfile;

use super::state::Refusal;

/// The largest profile a consumer may set, as JSON.
pub const MAX_PROFILE_BYTES: usize = 16 << 10;

/// How many consumers' profiles the hub remembers.
pub const KEPT_PROFILES: usize = 10_000;

/// The profiles, by consumer id, and the order they were set in.
#[derive(Default)]
pub struct Profiles {
    by_consumer: HashMap<String, Arc<UserProfile>>,
    order: VecDeque<String>,
}

impl Profiles {
    /// Sets `consumer_id`'s profile (replacing any it had).
    pub fn set(&mut self, consumer_id: &str, profile: UserProfile) -> Result<(), Refusal> {
        let size = serde_json::to_vec(&profile).map_or(usize::MAX, |bytes| bytes.len());
        if size > MAX_PROFILE_BYTES {
            return Err(Refusal::new(
                413,
                format!("the profile is {size} bytes; the most is {MAX_PROFILE_BYTES}"),
            ));
        }
        if self
            .by_consumer
            .insert(consumer_id.to_owned(), Arc::new(profile))
            .is_some()
        {
            self.order.retain(|id| id != consumer_id);
        }
        self.order.push_back(consumer_id.to_owned());
        while self.order.len() > KEPT_PROFILES {
            if let Some(earliest) = self.order.pop_front() {
                self.by_consumer.remove(&earliest);
            }
        }
        Ok(())
    }

    /// `consumer_id`'s profile: empty when it set none.
    pub fn get(&self, consumer_id: &str) -> Arc<UserProfile> {
        self.by_consumer
            .get(consumer_id)
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lp::users::EngagementAttribute;

    #[test]
    fn a_profile_is_bounded_and_the_earliest_set_is_forgotten_first() {
        let mut profiles = Profiles::default();
        let named = |name: &str| vec![EngagementAttribute::names(Some(name), None)];
        for n in 0..=KEPT_PROFILES {
            profiles.set(&format!("c{n}"), named("x")).unwrap();
        }
        assert!(profiles.get("c0").is_empty(), "the earliest is forgotten");
        assert_eq!(profiles.get("c1").len(), 1);
        // Set again, c1 is the latest: c2 goes next.
        profiles.set("c1", named("y")).unwrap();
        profiles.set("new", named("z")).unwrap();
        assert!(profiles.get("c2").is_empty());
        assert_eq!(*profiles.get("c1"), named("y"));

        let huge = named(&"x".repeat(MAX_PROFILE_BYTES));
        let refused = profiles.set("c1", huge).unwrap_err();
        assert_eq!(refused.code, 413);
        assert_eq!(*profiles.get("c1"), named("y"), "kept as it was");
    }
}
