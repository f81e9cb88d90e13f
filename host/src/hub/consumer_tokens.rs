//! The consumer JWTs the hub issued: which consumer each
//! names, until when it is honoured, and how many are kept.
//!
//! Every token lives `[hub.consumer_auth] token_lifetime_ms` (an hour by
//! default) and is refused after it. At most `max_tokens` (100,000 by
//! default) are kept: issuing a token first forgets the expired ones, then,
//! if the store is still full, the oldest. Forgetting the oldest rather
//! than refusing signups with 429 keeps the hub open to new consumers
//! during a flood of signups (which would otherwise fill it for a whole
//! lifetime); a consumer whose token was forgotten keeps its open socket
//! and conversations, and signs up again when it reconnects, as it does
//! after expiry. One lifetime for all means tokens expire in the order
//! they were issued, so both kinds of forgetting take from the front.
//!
//! The clock is the caller's (`now`), so the rules are tested without
//! waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// The consumer JWTs the hub honours. Its Debug counts them: they are
/// bearer credentials.
pub struct ConsumerTokens {
    lifetime: Duration,
    max: usize,
    issued: HashMap<Arc<str>, Issued>,
    /// The same tokens, oldest first.
    order: VecDeque<Arc<str>>,
}

#[derive(Debug)]
struct Issued {
    consumer_id: String,
    expires: Instant,
    /// For a token from `/authenticate` that came with the consumer's
    /// unauthenticated JWT: the consumer id it steps up from.
    steps_up_from: Option<String>,
}

impl ConsumerTokens {
    /// An empty store whose tokens live `lifetime`, at most `max` at once.
    pub fn new(lifetime: Duration, max: usize) -> Self {
        ConsumerTokens {
            lifetime,
            max: max.max(1),
            issued: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// How long a token lives.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Remembers `token` for `consumer_id` (and the consumer it steps up
    /// from, if any) until `now` + the lifetime, forgetting expired tokens
    /// and, when full, the oldest.
    pub fn issue(
        &mut self,
        token: &str,
        consumer_id: String,
        steps_up_from: Option<String>,
        now: Instant,
    ) {
        while self
            .order
            .front()
            // A token missing from `issued` is one already forgotten.
            .is_some_and(|oldest| self.issued.get(oldest).is_none_or(|t| t.expires <= now))
        {
            self.forget_oldest();
        }
        while self.order.len() >= self.max {
            self.forget_oldest();
        }
        let token: Arc<str> = token.into();
        self.order.push_back(token.clone());
        self.issued.insert(
            token,
            Issued {
                consumer_id,
                expires: now + self.lifetime,
                steps_up_from,
            },
        );
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) = self.order.pop_front() {
            self.issued.remove(&oldest);
        }
    }

    fn valid(&self, token: &str, now: Instant) -> Option<&Issued> {
        self.issued.get(token).filter(|issued| now < issued.expires)
    }

    /// The consumer `token` names, if the hub issued it and it has not
    /// expired or been forgotten.
    pub fn consumer(&self, token: &str, now: Instant) -> Option<&str> {
        self.valid(token, now).map(|i| i.consumer_id.as_str())
    }

    /// The consumer id a valid `token` steps up from, once.
    pub fn take_step_up(&mut self, token: &str, now: Instant) -> Option<String> {
        self.valid(token, now)?;
        self.issued.get_mut(token)?.steps_up_from.take()
    }

    /// Whether some valid token names `consumer_id`.
    pub fn knows(&self, consumer_id: &str, now: Instant) -> bool {
        self.issued
            .values()
            .any(|i| i.consumer_id == consumer_id && now < i.expires)
    }

    /// How many tokens are kept (never more than the bound).
    pub fn len(&self) -> usize {
        self.order.len()
    }
}

impl std::fmt::Debug for ConsumerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerTokens")
            .field("lifetime", &self.lifetime)
            .field("max", &self.max)
            .field("issued", &self.issued.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn debug_output_carries_no_token() {
        let mut tokens = ConsumerTokens::new(HOUR, 10);
        tokens.issue("eyJ.secret-token", "c".into(), None, Instant::now());
        let printed = format!("{tokens:?}");
        assert!(!printed.contains("secret-token"), "{printed}");
        assert!(printed.contains("issued: 1"), "{printed}");
    }

    #[test]
    fn a_token_is_honoured_for_its_lifetime_and_refused_after_it() {
        let start = Instant::now();
        let mut tokens = ConsumerTokens::new(HOUR, 10);
        tokens.issue("t", "c".into(), None, start);
        assert_eq!(tokens.consumer("t", start), Some("c"));
        let last_moment = start + HOUR - Duration::from_millis(1);
        assert_eq!(tokens.consumer("t", last_moment), Some("c"));
        assert!(tokens.knows("c", last_moment));
        assert_eq!(tokens.consumer("t", start + HOUR), None);
        assert!(!tokens.knows("c", start + HOUR));
    }

    #[test]
    fn issuing_forgets_expired_tokens() {
        let start = Instant::now();
        let mut tokens = ConsumerTokens::new(HOUR, 10);
        for n in 0..5 {
            tokens.issue(&format!("old-{n}"), "c".into(), None, start);
        }
        tokens.issue("new", "d".into(), None, start + HOUR);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens.consumer("new", start + HOUR), Some("d"));
    }

    #[test]
    fn a_full_store_forgets_its_oldest_token_first() {
        let start = Instant::now();
        let mut tokens = ConsumerTokens::new(HOUR, 3);
        for n in 0..1_000u64 {
            let now = start + Duration::from_millis(n);
            tokens.issue(&format!("t{n}"), format!("c{n}"), None, now);
            assert!(tokens.len() <= 3);
        }
        let now = start + Duration::from_secs(1);
        assert_eq!(tokens.consumer("t996", now), None);
        for n in 997..1_000 {
            assert_eq!(
                tokens.consumer(&format!("t{n}"), now),
                Some(&*format!("c{n}"))
            );
        }
    }

    #[test]
    fn a_step_up_link_is_taken_once_and_not_after_the_token_expires() {
        let start = Instant::now();
        let mut tokens = ConsumerTokens::new(HOUR, 10);
        tokens.issue("auth", "a".into(), Some("u".into()), start);
        tokens.issue("late", "b".into(), Some("v".into()), start);
        assert_eq!(tokens.take_step_up("auth", start), Some("u".into()));
        assert_eq!(tokens.take_step_up("auth", start), None);
        assert_eq!(tokens.take_step_up("late", start + HOUR), None);
    }
}
