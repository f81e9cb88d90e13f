//! Consumers' profiles: the engagement attributes a consumer says of
//! itself (`userprofile.SetUserProfile`: names, attributes) and those its
//! brand vouches for (a brand JWT's `lp_sdes` at `/authenticate`), and
//! what the agent assigned to its conversation is shown (`GetUserProfile`).
//!
//! The brand's attributes win: a consumer's own attribute of a type the
//! brand gave is not shown, so a consumer cannot rewrite what its brand
//! vouched for. A brand JWT without `lp_sdes` withdraws the brand's.
//!
//! Bounded like the rest of the hub: each part of a profile is at most
//! [`MAX_PROFILE_BYTES`] as JSON (413 over it) and is kept as that text,
//! and the hub remembers the last [`KEPT_PROFILES`] consumers' profiles,
//! forgetting the one set earliest.

use std::collections::{HashMap, VecDeque};

use lp::users::UserProfile;

use super::state::Refusal;

/// The largest part of a profile (the consumer's own, or the brand's), as JSON.
pub const MAX_PROFILE_BYTES: usize = 8 << 10;

/// How many consumers' profiles the hub remembers.
pub const KEPT_PROFILES: usize = 10_000;

/// Who said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The consumer, of itself.
    Consumer,
    /// The brand, in the consumer's brand JWT.
    Brand,
}

/// One consumer's profile, as JSON texts.
#[derive(Default)]
struct Entry {
    own: Option<Box<str>>,
    brand: Option<Box<str>>,
    /// When it was last set: its place in `order`.
    set_at: u64,
}

/// The profiles, by consumer id, and the order they were set in.
#[derive(Default)]
pub struct Profiles {
    by_consumer: HashMap<String, Entry>,
    /// Consumer ids and when they were set, earliest first; an id set
    /// again leaves its older place behind, skipped when it comes up.
    order: VecDeque<(String, u64)>,
    next: u64,
}

impl Profiles {
    /// Sets the part of `consumer_id`'s profile `source` gives (`None`:
    /// withdraws it).
    pub fn set(
        &mut self,
        consumer_id: &str,
        source: Source,
        attributes: Option<&UserProfile>,
    ) -> Result<(), Refusal> {
        let text = match attributes {
            None => None,
            Some(attributes) => {
                let text = serde_json::to_string(attributes).unwrap_or_default();
                if text.len() > MAX_PROFILE_BYTES {
                    return Err(Refusal::new(
                        413,
                        format!(
                            "the profile is {} bytes; the most is {MAX_PROFILE_BYTES}",
                            text.len()
                        ),
                    ));
                }
                Some(text.into_boxed_str())
            }
        };
        if text.is_none() && !self.by_consumer.contains_key(consumer_id) {
            return Ok(());
        }
        let set_at = self.next;
        self.next += 1;
        let entry = self.by_consumer.entry(consumer_id.to_owned()).or_default();
        match source {
            Source::Consumer => entry.own = text,
            Source::Brand => entry.brand = text,
        }
        entry.set_at = set_at;
        self.order.push_back((consumer_id.to_owned(), set_at));
        self.forget_beyond_the_bound();
        Ok(())
    }

    /// The earliest set go while more than [`KEPT_PROFILES`] are kept.
    /// Places left behind by a profile set again are dropped as they come
    /// up, and all at once when they would outnumber the profiles kept.
    fn forget_beyond_the_bound(&mut self) {
        let current = |profiles: &HashMap<String, Entry>, (id, set_at): &(String, u64)| {
            profiles.get(id).is_some_and(|e| e.set_at == *set_at)
        };
        while self.by_consumer.len() > KEPT_PROFILES {
            let Some(place) = self.order.pop_front() else {
                break;
            };
            if current(&self.by_consumer, &place) {
                self.by_consumer.remove(&place.0);
            }
        }
        if self.order.len() > 2 * KEPT_PROFILES {
            let profiles = &self.by_consumer;
            self.order.retain(|place| current(profiles, place));
        }
    }

    /// `consumer_id`'s engagement attributes: the brand's, then the
    /// consumer's own of the types the brand did not give. Empty when
    /// neither set any.
    pub fn get(&self, consumer_id: &str) -> UserProfile {
        let Some(entry) = self.by_consumer.get(consumer_id) else {
            return UserProfile::new();
        };
        let read = |text: &Option<Box<str>>| -> UserProfile {
            text.as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default()
        };
        let mut profile = read(&entry.brand);
        let own = read(&entry.own);
        let vouched: Vec<String> = profile.iter().map(|a| a.kind.clone()).collect();
        profile.extend(own.into_iter().filter(|a| !vouched.contains(&a.kind)));
        profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lp::users::EngagementAttribute;

    fn named(name: &str) -> UserProfile {
        vec![EngagementAttribute::names(Some(name), None)]
    }

    fn customer(id: &str) -> UserProfile {
        serde_json::from_value(
            serde_json::json!([{"type": "ctmrinfo", "info": {"customerId": id}}]),
        )
        .unwrap()
    }

    #[test]
    fn a_profile_is_bounded_and_the_earliest_set_is_forgotten_first() {
        let mut profiles = Profiles::default();
        for n in 0..=KEPT_PROFILES {
            let id = format!("c{n}");
            profiles
                .set(&id, Source::Consumer, Some(&named("x")))
                .unwrap();
        }
        assert!(profiles.get("c0").is_empty(), "the earliest is forgotten");
        assert_eq!(profiles.get("c1").len(), 1);
        // Set again, c1 is the latest: c2 goes next.
        profiles
            .set("c1", Source::Consumer, Some(&named("y")))
            .unwrap();
        profiles
            .set("new", Source::Consumer, Some(&named("z")))
            .unwrap();
        assert!(profiles.get("c2").is_empty());
        assert_eq!(profiles.get("c1"), named("y"));
        // Setting one again and again leaves no trail.
        for _ in 0..3 * KEPT_PROFILES {
            profiles
                .set("c1", Source::Consumer, Some(&named("y")))
                .unwrap();
        }
        assert!(profiles.order.len() <= 2 * KEPT_PROFILES);
        assert_eq!(profiles.by_consumer.len(), KEPT_PROFILES);
        // Still in order: the next two newcomers push out the earliest,
        // never each other nor the one set again and again.
        profiles
            .set("newer", Source::Consumer, Some(&named("n")))
            .unwrap();
        profiles
            .set("newest", Source::Consumer, Some(&named("n")))
            .unwrap();
        assert_eq!(profiles.get("newer"), named("n"));
        assert_eq!(profiles.get("newest"), named("n"));
        assert_eq!(profiles.get("c1"), named("y"));
        assert!(profiles.get("c3").is_empty() && profiles.get("c4").is_empty());
        assert_eq!(profiles.get("c5").len(), 1);
        // Withdrawing the brand's part of an unknown consumer keeps no place.
        profiles.set("stranger", Source::Brand, None).unwrap();
        assert!(!profiles.by_consumer.contains_key("stranger"));

        let huge = named(&"x".repeat(MAX_PROFILE_BYTES));
        let refused = profiles
            .set("c1", Source::Consumer, Some(&huge))
            .unwrap_err();
        assert_eq!(refused.code, 413);
        assert_eq!(profiles.get("c1"), named("y"), "kept as it was");
    }

    #[test]
    fn the_brands_attributes_win_over_the_consumers_own() {
        let mut profiles = Profiles::default();
        let mut own = customer("forged");
        own.extend(named("Ada"));
        profiles.set("c", Source::Consumer, Some(&own)).unwrap();
        profiles
            .set("c", Source::Brand, Some(&customer("C-42")))
            .unwrap();
        let mut shown = customer("C-42");
        shown.extend(named("Ada"));
        assert_eq!(profiles.get("c"), shown);
        // Set again by the consumer: the brand's customer info still wins.
        profiles.set("c", Source::Consumer, Some(&own)).unwrap();
        assert_eq!(profiles.get("c"), shown);
        // A brand JWT without lp_sdes withdraws the brand's.
        profiles.set("c", Source::Brand, None).unwrap();
        assert_eq!(profiles.get("c"), own);
    }
}
