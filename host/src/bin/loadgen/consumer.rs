//! One consumer of the hub with its conversation: opened once, then one
//! message at a time, each timed until its echo arrives.

use std::time::{Duration, Instant};

use lp::client::Options;
use switchboard::consumer::ConsumerClient;

use crate::{ANSWER_TIMEOUT, SET_UP_TIMEOUT};

/// One consumer with its conversation.
pub(super) struct Consumer {
    client: ConsumerClient,
    name: usize,
    next: u64,
    /// What the bot's echo starts with.
    echo: &'static str,
    pub(super) lost: u64,
}

impl Consumer {
    /// A consumer of the hub at `hub` (plain HTTP) whose bot answers "you said: TEXT".
    pub(super) async fn open(hub: &str, name: usize) -> Consumer {
        Self::open_with(hub, name, None, "you said: ").await
    }

    /// A consumer trusting `ca` for https and wss, whose bot's echo starts with `echo`.
    pub(super) async fn open_with(
        hub: &str,
        name: usize,
        ca: Option<&std::path::Path>,
        echo: &'static str,
    ) -> Consumer {
        let tls = switchboard::tls::client_config(ca).expect("the hub's certificate loads");
        let http = switchboard::http::HttpClient::new(tls.clone());
        let options = Options {
            nodelay: true,
            tls: Some(tls),
            ..Options::default()
        };
        let mut client = ConsumerClient::connect(&http, hub, "123", &options)
            .await
            .expect("a consumer connects");
        client
            .start_conversation("123")
            .await
            .expect("a conversation opens");
        // The relay keeps no history: wait until an agent has the
        // conversation before the first message (the gateway would not need to).
        let accepted = async {
            while let Some(arrived) = client.next().await {
                if switchboard::consumer::agent_joined(&arrived) {
                    return;
                }
            }
            panic!("the consumer socket closed before an agent joined");
        };
        tokio::time::timeout(SET_UP_TIMEOUT, accepted)
            .await
            .expect("the conversation is accepted");
        Consumer {
            client,
            name,
            next: 0,
            echo,
            lost: 0,
        }
    }

    /// Sends one message and waits for its answer; the latency in µs.
    pub(super) async fn round_trip(&mut self) -> Option<u64> {
        self.next += 1;
        let text = format!("m{}-{}", self.name, self.next);
        let expected = format!("{}{text}", self.echo);
        let started = Instant::now();
        if self.client.say(&text).await.is_err() {
            self.lost += 1;
            return None;
        }
        let answered = async {
            while let Some(arrived) = self.client.next().await {
                let texts = switchboard::consumer::agent_texts(&arrived);
                if texts.iter().any(|t| answers(t, &expected)) {
                    return true;
                }
            }
            false
        };
        match tokio::time::timeout(ANSWER_TIMEOUT, answered).await {
            Ok(true) => Some(started.elapsed().as_micros() as u64),
            _ => {
                self.lost += 1;
                None
            }
        }
    }

    /// Closes the conversation.
    pub(super) async fn close(&self) {
        let _ = self.client.close().await;
    }

    /// Reads what is still coming for a moment: any answer now is a duplicate.
    pub(super) async fn finish(mut self) -> u64 {
        let mut duplicated = 0;
        while let Ok(Some(arrived)) =
            tokio::time::timeout(Duration::from_millis(300), self.client.next()).await
        {
            duplicated += switchboard::consumer::agent_texts(&arrived).len() as u64;
        }
        duplicated
    }
}

/// True for the echo of `expected` (a plugin may append a stamp in brackets).
fn answers(text: &str, expected: &str) -> bool {
    text.starts_with(expected)
        && text[expected.len()..]
            .trim_start()
            .chars()
            .next()
            .is_none_or(|c| c == '[')
}
