//! One scenario: what runs behind the hub and how many conversations
//! carry what traffic, run in a fresh `switchboard` process, and what it
//! measured (throughput, latency percentiles, RSS, plugin swaps).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::SET_UP_TIMEOUT;
use crate::consumer::Consumer;
use crate::gateway::{admin_get, stamp, start_process, write_config};
use crate::relay::start_relays;

/// What runs behind the hub.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Behind {
    /// The minimal relay in this process.
    Relay,
    /// switchboard's connectors with this many plugins (0, 1 or 4).
    Gateway(usize),
}

/// One scenario.
#[derive(Clone, Debug)]
pub(super) struct Scenario {
    name: String,
    pub(super) behind: Behind,
    conversations: usize,
    pub(super) agents: usize,
    /// Closed-loop traffic for this long (zero: one message each, for RSS).
    traffic: Duration,
    /// Open loop at this many messages per second instead of closed loop.
    pub(super) rate: Option<f64>,
    /// Replace the (stamp) plugin this often during the traffic.
    pub(super) replace_every: Option<Duration>,
    /// Closed loop with at most this many messages in flight, passed round
    /// the conversations in turn (instead of every consumer in closed loop).
    pub(super) in_flight: Option<usize>,
    /// Only the first this many consumers stay connected after their first
    /// answer; the others' conversations stay open on the hub and with the
    /// agents, their consumers gone (a messaging conversation outlives its
    /// consumer's socket), and carry no traffic. How a count above the
    /// open-files limit is reached: each connected consumer holds a socket.
    pub(super) connected: Option<usize>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct Outcome {
    messages: u64,
    seconds: f64,
    latencies_us: Vec<u64>,
    pub(super) lost: u64,
    pub(super) duplicated: u64,
    pub(super) rss_idle_before_kib: u64,
    pub(super) rss_idle_after_kib: u64,
    pub(super) swaps_ms: Vec<u64>,
    /// How long opening every conversation took (signup, socket, ring
    /// accepted, first answer).
    pub(super) set_up: Duration,
}

impl Outcome {
    pub(super) fn throughput(&self) -> f64 {
        self.messages as f64 / self.seconds.max(1e-9)
    }

    pub(super) fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index] as f64 / 1000.0
    }

    pub(super) fn rss_per_conversation_kib(&self, conversations: usize) -> f64 {
        self.rss_idle_after_kib
            .saturating_sub(self.rss_idle_before_kib) as f64
            / conversations.max(1) as f64
    }
}

pub(super) fn scenario(
    name: &str,
    behind: Behind,
    conversations: usize,
    traffic_s: u64,
) -> Scenario {
    Scenario {
        name: name.into(),
        behind,
        conversations,
        agents: conversations.div_ceil(900).max(2),
        traffic: Duration::from_secs(traffic_s),
        rate: None,
        replace_every: None,
        in_flight: None,
        connected: None,
    }
}

/// Runs one scenario in a fresh process.
pub(super) async fn run(s: &Scenario) -> Outcome {
    eprintln!(
        "loadgen: {} ({:?}, {} conversations)",
        s.name, s.behind, s.conversations
    );
    // The configuration in config/, the state store beside it in data/ (as
    // the shipped configuration has it: the file watcher never sees the
    // store's writes).
    let root = tempfile_dir();
    let dir = root.join("config");
    write_config(&dir, s);
    let process = start_process(&dir);
    // Relay agents (baseline) or connectors online.
    let _relays = match s.behind {
        Behind::Relay => Some(start_relays(&process.hub, s.agents).await),
        Behind::Gateway(_) => {
            let deadline = Instant::now() + SET_UP_TIMEOUT;
            loop {
                let list = admin_get(&process, "/api/connectors").await;
                let online = list["connectors"]
                    .as_array()
                    .map_or(0, |c| c.iter().filter(|c| c["status"] == "Online").count());
                if online == s.agents {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "connectors never all came online: {list}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = process.rss_kib();

    // Open every conversation (not measured), with one message each.
    let connected = s.connected.unwrap_or(s.conversations);
    let mut consumers = Vec::with_capacity(s.conversations.min(connected));
    let mut lost_opening = 0;
    let opening_started = Instant::now();
    let mut opening = tokio::task::JoinSet::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(200));
    for n in 0..s.conversations {
        let (hub, permits) = (process.hub.clone(), permits.clone());
        opening.spawn(async move {
            let _permit = permits.acquire().await.unwrap();
            let mut consumer = Consumer::open(&hub, n).await;
            consumer.round_trip().await;
            if n < connected {
                (Some(consumer), 0)
            } else {
                // Dropped, its socket closes; its conversation stays open.
                (None, consumer.lost)
            }
        });
    }
    while let Some(opened) = opening.join_next().await {
        let (consumer, lost) = opened.expect("a consumer opens its conversation");
        consumers.extend(consumer);
        lost_opening += lost;
    }
    let mut outcome = Outcome {
        rss_idle_before_kib: rss_before,
        set_up: opening_started.elapsed(),
        lost: lost_opening,
        ..Outcome::default()
    };
    if s.traffic.is_zero() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        outcome.rss_idle_after_kib = process.rss_kib();
        drop(process);
        let _ = std::fs::remove_dir_all(&root);
        return outcome;
    }

    // Traffic: closed loop, or open loop at `rate` spread over the consumers.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut traffic = tokio::task::JoinSet::new();
    let interval = s
        .rate
        .map(|rate| Duration::from_secs_f64(s.conversations as f64 / rate));
    // tokio's semaphore is fair: the consumers take their turns in order.
    let window = s
        .in_flight
        .map(|permits| Arc::new(tokio::sync::Semaphore::new(permits)));
    for (index, mut consumer) in consumers.into_iter().enumerate() {
        let (stop, sent, window) = (stop.clone(), sent.clone(), window.clone());
        traffic.spawn(async move {
            if let Some(interval) = interval {
                // Spread the consumers' first messages over one interval.
                tokio::time::sleep(interval.mul_f64(index as f64 / 100.0 % 1.0)).await;
            }
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let _turn = match &window {
                    Some(window) => match window.acquire().await {
                        Ok(turn) => Some(turn),
                        Err(_) => break,
                    },
                    None => None,
                };
                let tick = Instant::now();
                match consumer.round_trip().await {
                    Some(latency) => latencies.push(latency),
                    None => break,
                }
                sent.fetch_add(1, Ordering::Relaxed);
                if let Some(interval) = interval {
                    tokio::time::sleep(interval.saturating_sub(tick.elapsed())).await;
                }
            }
            (latencies, consumer.lost, consumer.finish().await)
        });
    }
    // Plugin replacements while the traffic runs.
    if let Some(every) = s.replace_every {
        let mut version = 0;
        while started.elapsed() + every <= s.traffic {
            tokio::time::sleep(every).await;
            version += 1;
            let bytes = stamp(version);
            let expected: String = switchboard::plugin::PluginEngine::digest(&bytes)[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let written = Instant::now();
            let file = dir.join("plugins/stamp.wasm");
            let partial = dir.join("plugins/stamp.partial");
            std::fs::write(&partial, &bytes).unwrap();
            std::fs::rename(&partial, &file).unwrap();
            loop {
                let plugins = admin_get(&process, "/api/connectors/c0/plugins").await;
                if plugins["plugins"][0]["version"] == expected.as_str() {
                    break;
                }
                assert!(
                    written.elapsed() < SET_UP_TIMEOUT,
                    "version {version} never served"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            outcome.swaps_ms.push(written.elapsed().as_millis() as u64);
        }
    }
    tokio::time::sleep(s.traffic.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    if let Some(window) = &window {
        window.close();
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    while let Some(result) = traffic.join_next().await {
        let (latencies, lost, duplicated) = result.expect("a consumer task ends");
        outcome.latencies_us.extend(latencies);
        outcome.lost += lost;
        outcome.duplicated += duplicated;
    }
    outcome.messages = outcome.latencies_us.len() as u64;
    outcome.rss_idle_after_kib = process.rss_kib();
    // Stopped first: a running gateway writes into its store while the
    // directory is being removed, and the removal fails half done.
    drop(process);
    let _ = std::fs::remove_dir_all(&root);
    outcome
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-loadgen-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
