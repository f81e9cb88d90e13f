//! The raw relay baseline: agents logged into the hub from this process
//! that accept every ring and echo every consumer message, with no
//! plugins, no state and no store.

use std::sync::Arc;

use lp::messaging::{ContentEvent, Event};
use switchboard::config::LoginCredentials;
use switchboard::messaging::{AgentConnection, Credentials};
use switchboard::ports::{Platform, PlatformEvent};

/// The raw relay baseline: log in, accept rings, echo. No plugins, no state.
pub(super) async fn start_relays(hub: &str, agents: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let tls = switchboard::tls::client_config(None).unwrap();
    let mut tasks = Vec::new();
    for i in 0..agents {
        let credentials = Credentials::new(
            hub,
            "123",
            &format!("agent-{i}"),
            LoginCredentials::Password(format!("pw-agent-{i}")),
            None,
            tls.clone(),
        );
        let (connection, mut events) = AgentConnection::connect(&credentials, &|_| {})
            .await
            .expect("relay logs in");
        tasks.push(tokio::spawn(async move {
            let platform: Arc<dyn Platform> = connection;
            while let Some(event) = events.recv().await {
                match event {
                    PlatformEvent::Ring { ring_id, .. } => {
                        let platform = platform.clone();
                        tokio::spawn(async move {
                            let _ = platform.accept_ring(&ring_id).await;
                        });
                    }
                    PlatformEvent::ConsumerEvent {
                        conversation_id,
                        event: Event::Content(content),
                        ..
                    } => {
                        let text = content.as_text().unwrap_or_default();
                        let answer =
                            Event::Content(ContentEvent::text(format!("you said: {text}")));
                        let platform = platform.clone();
                        tokio::spawn(async move {
                            let _ = platform.publish(&conversation_id, answer).await;
                        });
                    }
                    _ => {}
                }
            }
        }));
    }
    tasks
}
