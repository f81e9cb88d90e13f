//! `loadgen`: switchboard's load generator (BENCHMARKS.md).
//!
//! Each scenario starts a fresh `switchboard` process on loopback (its
//! embedded hub, and connectors with the scripted echo bot), opens N
//! consumer WebSockets on the hub, and measures: messages per second
//! (closed loop: each consumer sends its next message when the answer to
//! the last one arrived), round-trip latency percentiles, and the
//! process's RSS per open conversation once they are idle. The raw relay
//! baseline runs the same hub and frames through a minimal relay in this
//! process (log in, accept rings, echo each consumer message: no plugins,
//! no state, no store); the gateway's added latency is the difference of
//! the percentiles. messageDelay and ringAcceptWait are 0, and conversation
//! set-up is outside every measurement. Every loop is bounded by time or
//! count and stops itself. The `switchboard` processes it starts die with
//! it, even when it is killed with SIGKILL.
//!
//! usage: loadgen [--quick | --smoke] [--out FILE] (`loadgen --help`)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use lp::client::Options;
use lp::messaging::{ContentEvent, Event};
use serde_json::Value;
use switchboard::config::LoginCredentials;
use switchboard::consumer::ConsumerClient;
use switchboard::messaging::{AgentConnection, Credentials};
use switchboard::ports::{Platform, PlatformEvent};

const ADMIN_TOKEN: &str = "loadgen-admin-token-0123456789";
const SET_UP_TIMEOUT: Duration = Duration::from_secs(120);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// switchboard's load generator: runs the scenarios of BENCHMARKS.md, each
/// against a fresh `switchboard run` on loopback beside a raw relay
/// baseline, and prints the report as Markdown tables.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    after_help = "Environment:\n  LOADGEN_RATE=N  with --smoke: send N messages/s in total (open loop) instead of closed loop\n\n\
                  It runs the `switchboard` binary beside its own (build both with `cargo build --release`)."
)]
struct Args {
    /// Every scenario, shorter: 2 s of traffic instead of 5 and 2,000 idle
    /// conversations instead of 10,000 (`scripts/bench --quick`).
    #[arg(long, conflicts_with = "smoke")]
    quick: bool,
    /// Only the raw relay and the 4-plugin gateway, 100 conversations for
    /// 3 s each: a check that everything runs.
    #[arg(long)]
    smoke: bool,
    /// Also write the report to FILE.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Which scenarios run, chosen by the flags.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Suite {
    /// Every scenario, full length.
    Full,
    /// Every scenario, shorter (`--quick`).
    Quick,
    /// The relay and the 4-plugin gateway (`--smoke`), in open loop at
    /// `rate` messages per second when LOADGEN_RATE gives one.
    Smoke { rate: Option<f64> },
}

impl Args {
    /// The suite the flags and LOADGEN_RATE ask for; a LOADGEN_RATE that is
    /// not a positive number ends the process with a usage error.
    fn suite(&self) -> Suite {
        if self.quick {
            return Suite::Quick;
        }
        if !self.smoke {
            return Suite::Full;
        }
        let rate = std::env::var("LOADGEN_RATE").ok().map(|text| {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|rate| rate.is_finite() && *rate > 0.0)
                .unwrap_or_else(|| {
                    Args::command()
                        .error(
                            clap::error::ErrorKind::ValueValidation,
                            format!("LOADGEN_RATE={text:?} is not a positive number of messages per second"),
                        )
                        .exit()
                })
        });
        Suite::Smoke { rate }
    }
}

/// What runs behind the hub.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behind {
    /// The minimal relay in this process.
    Relay,
    /// switchboard's connectors with this many plugins (0, 1 or 4).
    Gateway(usize),
}

/// One scenario.
#[derive(Clone, Debug)]
struct Scenario {
    name: String,
    behind: Behind,
    conversations: usize,
    agents: usize,
    /// Closed-loop traffic for this long (zero: one message each, for RSS).
    traffic: Duration,
    /// Open loop at this many messages per second instead of closed loop.
    rate: Option<f64>,
    /// Replace the (stamp) plugin this often during the traffic.
    replace_every: Option<Duration>,
}

#[derive(Debug, Default, Clone)]
struct Outcome {
    messages: u64,
    seconds: f64,
    latencies_us: Vec<u64>,
    lost: u64,
    duplicated: u64,
    rss_idle_before_kib: u64,
    rss_idle_after_kib: u64,
    swaps_ms: Vec<u64>,
}

impl Outcome {
    fn throughput(&self) -> f64 {
        self.messages as f64 / self.seconds.max(1e-9)
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index] as f64 / 1000.0
    }

    fn rss_per_conversation_kib(&self, conversations: usize) -> f64 {
        self.rss_idle_after_kib
            .saturating_sub(self.rss_idle_before_kib) as f64
            / conversations.max(1) as f64
    }
}

fn main() {
    let args = Args::parse();
    let suite = args.suite();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    // `block_on` runs the scenarios on this, the main thread, so the
    // `switchboard` processes are spawned from it (see `start_process`).
    let report = match suite {
        Suite::Smoke { rate } => runtime.block_on(smoke(rate)),
        Suite::Full | Suite::Quick => runtime.block_on(run_all(suite)),
    };
    print!("{report}");
    if let Some(out) = args.out {
        std::fs::write(&out, &report).expect("the report file is writable");
    }
}

fn scenario(name: &str, behind: Behind, conversations: usize, traffic_s: u64) -> Scenario {
    Scenario {
        name: name.into(),
        behind,
        conversations,
        agents: conversations.div_ceil(900).max(2),
        traffic: Duration::from_secs(traffic_s),
        rate: None,
        replace_every: None,
    }
}

/// `--smoke`: the raw relay and the 4-plugin gateway, 100 conversations,
/// closed loop or at `rate` messages per second.
async fn smoke(rate: Option<f64>) -> String {
    let mut relay = scenario("relay", Behind::Relay, 100, 3);
    let mut gateway = scenario("gateway", Behind::Gateway(4), 100, 3);
    relay.rate = rate;
    gateway.rate = rate;
    let (relay, gateway) = (run(&relay).await, run(&gateway).await);
    row("raw relay", 100, &relay, relay.throughput())
        + &row("gateway, 4 plugins", 100, &gateway, relay.throughput())
}

async fn run_all(suite: Suite) -> String {
    let quick = suite == Suite::Quick;
    let traffic = if quick { 2 } else { 5 };
    let big = if quick { 2_000 } else { 10_000 };
    let mut report = String::new();
    report.push_str(&format!(
        "machine: {} cores, {}\n\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    ));

    // Throughput and latency, closed loop, 100 and 1,000 conversations.
    report.push_str("| scenario | conversations | messages/s | × relay | p50 ms | p99 ms | p999 ms | lost | duplicated |\n|---|---|---|---|---|---|---|---|---|\n");
    let mut maxima = HashMap::new();
    for conversations in [100, 1_000] {
        let relay = run(&scenario("relay", Behind::Relay, conversations, traffic)).await;
        maxima.insert(("relay", conversations), relay.throughput());
        report.push_str(&row("raw relay", conversations, &relay, relay.throughput()));
        for plugins in [0, 1, 4] {
            let outcome = run(&scenario(
                "gateway",
                Behind::Gateway(plugins),
                conversations,
                traffic,
            ))
            .await;
            if plugins == 4 {
                maxima.insert(("gateway", conversations), outcome.throughput());
            }
            report.push_str(&row(
                &format!("gateway, {plugins} plugins"),
                conversations,
                &outcome,
                relay.throughput(),
            ));
        }
    }

    // Latency at half of the gateway's maximum load (100 conversations, open loop).
    let half = maxima[&("gateway", 100)] / 2.0;
    report.push_str(&format!(
        "\nLatency at half of the 4-plugin gateway's maximum load ({half:.0} messages/s, 100 conversations, open loop):\n\n| behind the hub | p50 ms | p99 ms | p999 ms |\n|---|---|---|---|\n"
    ));
    let mut at_half = Vec::new();
    for (label, behind) in [
        ("raw relay", Behind::Relay),
        ("gateway, 4 plugins", Behind::Gateway(4)),
    ] {
        let mut s = scenario("half", behind, 100, traffic);
        s.rate = Some(half);
        let outcome = run(&s).await;
        report.push_str(&format!(
            "| {label} | {:.3} | {:.3} | {:.3} |\n",
            outcome.percentile(0.5),
            outcome.percentile(0.99),
            outcome.percentile(0.999)
        ));
        at_half.push(outcome);
    }
    report.push_str(&format!(
        "| gateway adds | {:.3} | {:.3} | {:.3} |\n",
        at_half[1].percentile(0.5) - at_half[0].percentile(0.5),
        at_half[1].percentile(0.99) - at_half[0].percentile(0.99),
        at_half[1].percentile(0.999) - at_half[0].percentile(0.999)
    ));

    // Idle memory per open conversation.
    report.push_str(&format!(
        "\nRSS per open, idle conversation ({big} conversations, one message each):\n\n| process | RSS idle before, MiB | RSS with the conversations, MiB | KiB per conversation |\n|---|---|---|---|\n"
    ));
    let mut per = Vec::new();
    for (label, behind) in [
        ("hub only (relay baseline)", Behind::Relay),
        ("hub + gateway, 4 plugins", Behind::Gateway(4)),
    ] {
        let outcome = run(&scenario("rss", behind, big, 0)).await;
        let kib = outcome.rss_per_conversation_kib(big);
        per.push(kib);
        report.push_str(&format!(
            "| {label} | {:.1} | {:.1} | {kib:.2} |\n",
            outcome.rss_idle_before_kib as f64 / 1024.0,
            outcome.rss_idle_after_kib as f64 / 1024.0,
        ));
    }
    report.push_str(&format!(
        "| the gateway's own share | | | {:.2} |\n",
        per[1] - per[0]
    ));

    // A plugin replaced every second under load.
    let mut s = scenario(
        "replace",
        Behind::Gateway(1),
        100,
        if quick { 4 } else { 10 },
    );
    s.replace_every = Some(Duration::from_secs(1));
    let outcome = run(&s).await;
    let mut swaps = outcome.swaps_ms.clone();
    swaps.sort_unstable();
    report.push_str(&format!(
        "\nA plugin replaced every second under load (100 conversations, closed loop): {} replacements, time from file written to new version serving: median {} ms, max {} ms; {:.0} messages/s; lost {}, duplicated {}.\n",
        swaps.len(),
        swaps.get(swaps.len() / 2).copied().unwrap_or(0),
        swaps.last().copied().unwrap_or(0),
        outcome.throughput(),
        outcome.lost,
        outcome.duplicated
    ));
    report
}

fn row(label: &str, conversations: usize, o: &Outcome, relay: f64) -> String {
    format!(
        "| {label} | {conversations} | {:.0} | {:.2} | {:.3} | {:.3} | {:.3} | {} | {} |\n",
        o.throughput(),
        o.throughput() / relay,
        o.percentile(0.5),
        o.percentile(0.99),
        o.percentile(0.999),
        o.lost,
        o.duplicated
    )
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The `switchboard` binary beside this one.
fn switchboard_binary() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.with_file_name("switchboard")
}

/// A `switchboard run` process, killed on drop.
struct Process {
    child: Child,
    hub: String,
    admin: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn write_config(dir: &Path, s: &Scenario) {
    let users: String = (0..s.agents)
        .map(|i| format!("[[hub.users]]\nlogin = \"agent-{i}\"\npassword = \"pw-agent-{i}\"\nskills = [\"1\"]\nmax_conversations = 999\n\n"))
        .collect();
    std::fs::create_dir_all(dir.join("connectors")).unwrap();
    std::fs::create_dir_all(dir.join("bots")).unwrap();
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            "[hub]\nlisten = \"127.0.0.1:0\"\naccount = \"123\"\ndefault_skill = \"1\"\nring_expiration_ms = 60000\n\n[[hub.skills]]\nid = \"1\"\n\n{users}\
             # loadgen is one client standing for many consumers: it lifts the per-client limits.\n\
             [hub.clients]\nsignups_per_minute = 1000000\nopen_conversations = 1000000\nopen_sockets = 1000000\n\n\
             [store]\ndata_dir = \"data\"\n\n[plugins]\ndirs = [\"plugins\"]\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n[[admin.tokens]]\nowner = \"loadgen\"\nrole = \"administrator\"\ntoken = \"{ADMIN_TOKEN}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("bots/echo.toml"),
        "id = \"echo\"\nkind = \"scripted\"\n[[rules]]\nmatch = \".*\"\nsay = [{ text = \"you said: {text}\" }]\n",
    )
    .unwrap();
    let Behind::Gateway(plugins) = s.behind else {
        return;
    };
    let files: &[&str] = match plugins {
        0 => &[],
        1 => &["stamp.wasm"],
        _ => &[
            "greeting.wasm",
            "step-up.wasm",
            "tile-display.wasm",
            "accessibility.wasm",
        ],
    };
    std::fs::write(dir.join("plugins/stamp.wasm"), stamp(0)).unwrap();
    let entries: String = files
        .iter()
        .map(|f| {
            format!(
                "[[plugins]]\nfile = \"{}\"\n",
                f.replace("step-up", "step_up")
                    .replace("tile-display", "tile_display")
            )
        })
        .collect();
    for i in 0..s.agents {
        std::fs::write(
            dir.join(format!("connectors/c{i}.toml")),
            format!(
                "id = \"c{i}\"\nbot = \"echo\"\naccount = \"123\"\nagent_user_id = \"agent-{i}\"\npassword = \"pw-agent-{i}\"\n\
                 autostart = true\nmax_conversations = 999\n{entries}\n[custom]\nmessageDelay = 0\nringAcceptWait = 0\nmessageResendMaxRetries = 0\n"
            ),
        )
        .unwrap();
    }
}

/// The stamp fixture, tagged with `version`.
fn stamp(version: usize) -> Vec<u8> {
    let mut bytes =
        std::fs::read(Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join("fixture_stamp.wasm"))
            .expect("the stamp fixture is built (cargo build builds every component)");
    let at = bytes
        .windows(12)
        .position(|w| w == b"STAMP-000000")
        .expect("stamp tag");
    bytes[at..at + 12].copy_from_slice(format!("STAMP-{version:06}").as_bytes());
    bytes
}

/// Starts `switchboard run` on `dir`. Killed when the [`Process`] drops,
/// and on Linux also when loadgen dies any other way (SIGKILL included).
fn start_process(dir: &Path) -> Process {
    let mut command = Command::new(switchboard_binary());
    command
        .args(["run", "--config"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    die_with_loadgen(&mut command);
    let mut child = command
        .spawn()
        .expect("the switchboard binary starts (build it with `cargo build --release`)");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let (mut hub, mut admin) = (String::new(), String::new());
    while hub.is_empty() || admin.is_empty() {
        let line = lines_rx
            .recv_timeout(SET_UP_TIMEOUT)
            .expect("switchboard starts");
        if let Some(url) = line.strip_prefix("switchboard: hub listening on ") {
            hub = url.trim().to_owned();
        }
        if let Some(url) = line.strip_prefix("switchboard: Agent Connectors page and admin API at ")
        {
            admin = url.trim().trim_end_matches('/').to_owned();
        }
    }
    eprintln!(
        "loadgen: switchboard pid {} is up: hub {hub}, admin API {admin}",
        child.id()
    );
    Process { child, hub, admin }
}

/// Has the kernel SIGKILL the child when loadgen dies, which the drop of
/// [`Process`] cannot do when loadgen itself is SIGKILLed.
///
/// PR_SET_PDEATHSIG fires when the thread that forked the child exits, not
/// the process: the child must be spawned from a thread that lives as long
/// as loadgen. That is the main thread, which runs the scenarios through
/// `block_on`; the assertion keeps it so.
#[cfg(target_os = "linux")]
fn die_with_loadgen(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    assert_eq!(
        std::thread::current().name(),
        Some("main"),
        "switchboard processes are spawned from the main thread (PR_SET_PDEATHSIG follows the spawning thread)"
    );
    let loadgen = std::process::id();
    // SAFETY: the hook runs in the forked child before exec and calls only
    // async-signal-safe functions (prctl, getppid, _exit); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // loadgen died before the prctl: the signal will never come.
            if libc::getppid() as u32 != loadgen {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Elsewhere only the drop of [`Process`] stops the child.
#[cfg(not(target_os = "linux"))]
fn die_with_loadgen(_command: &mut Command) {}

async fn admin_get(process: &Process, path: &str) -> Value {
    let client = switchboard::http::default_client();
    client
        .call(
            "GET",
            &format!("{}{path}", process.admin),
            ADMIN_TOKEN,
            None,
        )
        .await
        .map(|(_, body)| body)
        .unwrap_or(Value::Null)
}

/// Runs one scenario in a fresh process.
async fn run(s: &Scenario) -> Outcome {
    eprintln!(
        "loadgen: {} ({:?}, {} conversations)",
        s.name, s.behind, s.conversations
    );
    let dir = tempfile_dir();
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
    let mut consumers = Vec::with_capacity(s.conversations);
    let mut opening = tokio::task::JoinSet::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(200));
    for n in 0..s.conversations {
        let (hub, permits) = (process.hub.clone(), permits.clone());
        opening.spawn(async move {
            let _permit = permits.acquire().await.unwrap();
            let mut consumer = Consumer::open(&hub, n).await;
            consumer.round_trip().await;
            consumer
        });
    }
    while let Some(consumer) = opening.join_next().await {
        consumers.push(consumer.expect("a consumer opens its conversation"));
    }
    let mut outcome = Outcome {
        rss_idle_before_kib: rss_before,
        ..Outcome::default()
    };
    if s.traffic.is_zero() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        outcome.rss_idle_after_kib = process.rss_kib();
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
    for (index, mut consumer) in consumers.into_iter().enumerate() {
        let (stop, sent) = (stop.clone(), sent.clone());
        traffic.spawn(async move {
            if let Some(interval) = interval {
                // Spread the consumers' first messages over one interval.
                tokio::time::sleep(interval.mul_f64(index as f64 / 100.0 % 1.0)).await;
            }
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
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
    outcome.seconds = started.elapsed().as_secs_f64();
    while let Some(result) = traffic.join_next().await {
        let (latencies, lost, duplicated) = result.expect("a consumer task ends");
        outcome.latencies_us.extend(latencies);
        outcome.lost += lost;
        outcome.duplicated += duplicated;
    }
    outcome.messages = outcome.latencies_us.len() as u64;
    outcome.rss_idle_after_kib = process.rss_kib();
    let _ = std::fs::remove_dir_all(&dir);
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

/// One consumer with its conversation.
struct Consumer {
    client: ConsumerClient,
    name: usize,
    next: u64,
    lost: u64,
}

impl Consumer {
    async fn open(hub: &str, name: usize) -> Consumer {
        let http = switchboard::http::default_client();
        let options = Options {
            compress: true,
            ..Options::default()
        };
        let mut client = ConsumerClient::connect(http, hub, "123", &options)
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
            lost: 0,
        }
    }

    /// Sends one message and waits for its answer; the latency in µs.
    async fn round_trip(&mut self) -> Option<u64> {
        self.next += 1;
        let text = format!("m{}-{}", self.name, self.next);
        let expected = format!("you said: {text}");
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

    /// Reads what is still coming for a moment: any answer now is a duplicate.
    async fn finish(mut self) -> u64 {
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

/// The raw relay baseline: log in, accept rings, echo. No plugins, no state.
async fn start_relays(hub: &str, agents: usize) -> Vec<tokio::task::JoinHandle<()>> {
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
                    PlatformEvent::ConversationEvent {
                        conversation_id,
                        from_consumer: true,
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
