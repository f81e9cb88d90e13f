//! What one consumer client may take from the hub (`[hub.clients]`), so
//! that one client flooding signups, sockets or conversations cannot fill
//! the connectors' slots and leave other consumers unanswered.
//!
//! A client is the address its TCP connection comes from: one IPv4
//! address, or one IPv6 /64 (the block one subscriber is usually given,
//! so rotating addresses inside it does not help). Three limits apply:
//! - signups: a bucket of `signups_per_minute`, refilled evenly over the
//!   minute; a signup from an empty bucket is answered 429 with
//!   `Retry-After` (LivePerson answers floods with 429 too);
//! - open consumer sockets, `open_sockets`: one more is answered 429
//!   before the WebSocket upgrade;
//! - open conversations, `open_conversations`: one more
//!   `ConsumerRequestConversation` is answered 429; closing one frees it.
//!
//! Memory stays bounded: a bucket that has refilled is the same as no
//! bucket, so full ones are forgotten whenever the table has doubled
//! since the last sweep; counts that reach zero are removed at once.
//! The clock is the caller's (`now`), so the rules are tested without
//! waiting.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::ClientLimits;

/// One client: an IPv4 address or an IPv6 /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The client an address belongs to.
    pub fn of(address: IpAddr) -> ClientKey {
        match address {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    ClientKey(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// A refusal for going over a limit: what to tell the client, and when
/// trying again can succeed (for signups).
#[derive(Debug, PartialEq)]
pub struct OverLimit {
    /// The message for the client.
    pub message: String,
    /// How long until the bucket holds a signup again.
    pub retry_after: Option<Duration>,
}

/// The three limits' bookkeeping.
#[derive(Debug)]
pub struct Clients {
    limits: ClientLimits,
    signups: HashMap<ClientKey, Bucket>,
    /// Sweep full buckets when the table reaches this size.
    sweep_at: usize,
    sockets: HashMap<ClientKey, u32>,
    conversations: HashMap<ClientKey, u32>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The smallest signup table that is swept.
const SWEEP_FLOOR: usize = 1024;

impl Clients {
    /// No client has taken anything yet.
    pub fn new(limits: ClientLimits) -> Clients {
        Clients {
            limits,
            signups: HashMap::new(),
            sweep_at: SWEEP_FLOOR,
            sockets: HashMap::new(),
            conversations: HashMap::new(),
        }
    }

    /// Takes one signup from `client`'s bucket, or says how long to wait.
    pub fn signup(&mut self, client: ClientKey, now: Instant) -> Result<(), OverLimit> {
        let capacity = f64::from(self.limits.signups_per_minute);
        let per_second = capacity / 60.0;
        if !self.signups.contains_key(&client) && self.signups.len() >= self.sweep_at {
            self.signups
                .retain(|_, bucket| bucket.level(now, per_second, capacity) < capacity);
            self.sweep_at = (self.signups.len() * 2).max(SWEEP_FLOOR);
        }
        let bucket = self.signups.entry(client).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        bucket.tokens = bucket.level(now, per_second, capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        // Whole seconds, rounded up: what `Retry-After` says, and the message.
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / per_second);
        let wait = Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        Err(OverLimit {
            message: format!(
                "client {client} signed up {} times in the last minute, the most a client may; \
                 try again in {} s",
                self.limits.signups_per_minute,
                wait.as_secs()
            ),
            retry_after: Some(wait),
        })
    }

    /// Counts one more open socket of `client`, or refuses it.
    pub fn open_socket(&mut self, client: ClientKey) -> Result<(), OverLimit> {
        take(
            &mut self.sockets,
            client,
            self.limits.open_sockets,
            "consumer sockets",
        )
    }

    /// A socket of `client` closed.
    pub fn socket_closed(&mut self, client: ClientKey) {
        give_back(&mut self.sockets, client);
    }

    /// Counts one more open conversation of `client`, or refuses it.
    pub fn open_conversation(&mut self, client: ClientKey) -> Result<(), OverLimit> {
        take(
            &mut self.conversations,
            client,
            self.limits.open_conversations,
            "open conversations",
        )
    }

    /// A conversation of `client` closed.
    pub fn conversation_closed(&mut self, client: ClientKey) {
        give_back(&mut self.conversations, client);
    }

    /// How many clients the tables remember (signup buckets, sockets and
    /// conversations together), for tests of the bound.
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.signups.len() + self.sockets.len() + self.conversations.len()
    }
}

impl Bucket {
    /// The tokens the bucket holds at `now`.
    fn level(&self, now: Instant, per_second: f64, capacity: f64) -> f64 {
        let refilled = now.saturating_duration_since(self.at).as_secs_f64() * per_second;
        (self.tokens + refilled).min(capacity)
    }
}

fn take(
    counts: &mut HashMap<ClientKey, u32>,
    client: ClientKey,
    limit: u32,
    what: &str,
) -> Result<(), OverLimit> {
    let count = counts.entry(client).or_insert(0);
    if *count >= limit {
        return Err(OverLimit {
            message: format!(
                "client {client} holds {count} {what}, the most a client may; close one first"
            ),
            retry_after: None,
        });
    }
    *count += 1;
    Ok(())
}

fn give_back(counts: &mut HashMap<ClientKey, u32>, client: ClientKey) {
    if let Some(count) = counts.get_mut(&client) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(&client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(signups: u32, conversations: u32, sockets: u32) -> ClientLimits {
        ClientLimits {
            signups_per_minute: signups,
            open_conversations: conversations,
            open_sockets: sockets,
        }
    }

    fn v4(last: u8) -> ClientKey {
        ClientKey::of(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64_and_a_mapped_ipv4_address_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(other));
        assert_eq!(ClientKey::of(a).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(ClientKey::of(mapped), v4(7));
    }

    #[test]
    fn signups_take_from_a_bucket_that_refills_over_the_minute() {
        let mut clients = Clients::new(limits(3, 1, 1));
        let start = Instant::now();
        for _ in 0..3 {
            clients.signup(v4(1), start).unwrap();
        }
        let refused = clients.signup(v4(1), start).unwrap_err();
        assert_eq!(refused.retry_after, Some(Duration::from_secs(20)));
        assert!(refused.message.contains("10.0.0.1"), "{}", refused.message);
        // Another client has a bucket of its own.
        clients.signup(v4(2), start).unwrap();
        // One token comes back every 20 s.
        assert!(
            clients
                .signup(v4(1), start + Duration::from_secs(19))
                .is_err()
        );
        let forty = start + Duration::from_secs(40);
        clients.signup(v4(1), forty).unwrap();
        clients.signup(v4(1), forty).unwrap();
        assert!(clients.signup(v4(1), forty).is_err());
    }

    #[test]
    fn sockets_and_conversations_are_counted_per_client_and_given_back() {
        let mut clients = Clients::new(limits(1, 2, 1));
        clients.open_conversation(v4(1)).unwrap();
        clients.open_conversation(v4(1)).unwrap();
        let refused = clients.open_conversation(v4(1)).unwrap_err();
        assert!(
            refused.message.contains("2 open conversations"),
            "{refused:?}"
        );
        clients.open_conversation(v4(2)).unwrap();
        clients.conversation_closed(v4(1));
        clients.open_conversation(v4(1)).unwrap();

        clients.open_socket(v4(1)).unwrap();
        assert!(clients.open_socket(v4(1)).is_err());
        clients.socket_closed(v4(1));
        clients.open_socket(v4(1)).unwrap();
    }

    #[test]
    fn the_tables_forget_clients_with_nothing_to_remember() {
        let mut clients = Clients::new(limits(60, 5, 5));
        let start = Instant::now();
        for n in 0..5000u32 {
            let client = ClientKey::of(IpAddr::from(n.to_be_bytes()));
            clients
                .signup(client, start + Duration::from_millis(u64::from(n)))
                .unwrap();
        }
        // One signup refills in a second: the sweeps kept only the last
        // second's clients and those not yet swept, never all 5,000.
        assert!(
            clients.remembered() < 2 * SWEEP_FLOOR + 1000,
            "{}",
            clients.remembered()
        );
        clients.open_socket(v4(1)).unwrap();
        clients.open_conversation(v4(1)).unwrap();
        clients.socket_closed(v4(1));
        clients.conversation_closed(v4(1));
        assert!(clients.sockets.is_empty() && clients.conversations.is_empty());
    }
}
