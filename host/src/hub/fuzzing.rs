//! Entry points for the fuzz targets in `fuzz/`: one frame through the
//! agent side, or the consumer side, of a fresh hub with one logged-in
//! agent or one authenticated consumer. Not for production use.

use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::state::{Consumer, HubState, Session};
use super::{Hub, agent, consumer};
use crate::config::{ClientLimits, ConsumerAuth, HubConfig, HubSkill};

/// The smallest hub configuration: account 123 with skill 1, no users.
/// (The hub's unit tests build on it too.)
pub(crate) fn minimal_config() -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        account: "123".into(),
        default_skill: "1".into(),
        skills: vec![HubSkill {
            id: "1".into(),
            name: "one".into(),
        }],
        users: Vec::new(),
        ring_expiration: std::time::Duration::from_secs(30),
        engagements: Vec::new(),
        consumer_auth: ConsumerAuth::default(),
        clients: ClientLimits::default(),
        agent_grace: std::time::Duration::from_secs(1),
        sessions: Default::default(),
        tls: None,
    }
}

fn hub() -> Arc<Hub> {
    let config = minimal_config();
    Arc::new(Hub {
        state: Mutex::new(HubState::new(config)),
        profiles: Mutex::default(),
        addr: "127.0.0.1:0".parse().expect("literal address"),
    })
}

/// One frame from an agent.
pub fn agent_frame(text: &str) {
    let hub = hub();
    let session = Session {
        bearer: "bearer".into(),
        login: "bot".into(),
        user_id: "123.bot".into(),
        pid: "pid".into(),
    };
    let (outbox, _frames) = super::state::outbox();
    let conn = agent::register(&hub, &session, outbox);
    let (_reply, then) = agent::process(&hub, conn, &session, text);
    agent::after(&hub, conn, then);
}

/// One frame from a consumer.
pub fn consumer_frame(text: &str) {
    let hub = hub();
    let (outbox, _frames) = super::state::outbox();
    let conn = {
        let mut state = hub.state();
        let conn = state.next_id();
        state
            .consumer_tokens
            .issue("jwt", "consumer-1".into(), None, Instant::now());
        state.add_consumer(
            conn,
            Consumer {
                outbox: Some(outbox.clone()),
                consumer_id: Some("consumer-1".into()),
                ..Consumer::default()
            },
        );
        conn
    };
    consumer::process(&hub, conn, &outbox, text);
}
