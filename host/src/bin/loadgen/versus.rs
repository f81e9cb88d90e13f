//! LivePerson's own Node SDK against switchboard: the node-agent-sdk echo
//! bot of `tests/peers/node-agent-sdk` and one switchboard connector (the
//! four shipped plugins, the scripted echo bot, durable state), each in
//! its own process, behind the same hub (`switchboard hub`, its own
//! process, over TLS as the SDK requires), under the same consumers.
//!
//! Runs alternate A B B A so drift on a shared machine falls on both
//! sides. Each run: a fresh bot process logs in, N consumers open their
//! conversations (not measured), then closed-loop traffic for a fixed time;
//! the CPU time (user + system, from /proc) the bot's process and the
//! hub's process spent during the traffic is divided by the messages
//! answered. At the end of a run the consumers close their conversations
//! and the bot process is stopped, so the next run starts clean.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::SET_UP_TIMEOUT;
use crate::consumer::Consumer;
use crate::gateway::{die_with_loadgen, switchboard_binary};

/// What both bots answer: the SDK bot's echo, which switchboard's scripted bot copies.
const ECHO: &str = "sdk echo: ";

/// Which bot runs behind the hub.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    /// node-agent-sdk's echo bot (Node.js).
    Sdk,
    /// One switchboard connector: 4 plugins, scripted echo, durable state.
    Switchboard,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Sdk => "node-agent-sdk echo bot",
            Side::Switchboard => "switchboard, 1 connector, 4 plugins",
        }
    }
}

/// A child process killed on drop, with the lines it printed.
struct Running {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(mut command: Command) -> Running {
        command.stdout(Stdio::piped()).stderr(Stdio::null());
        die_with_loadgen(&mut command);
        let mut child = command.spawn().expect("the process starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        Running { child, lines }
    }

    /// Waits for a line starting with `prefix`: the rest of it.
    fn wait_for(&self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(SET_UP_TIMEOUT)
                .unwrap_or_else(|_| panic!("no line starting {prefix:?}"));
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    /// CPU seconds (user + system) the process has used.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id())
    }
}

/// CPU seconds (user + system) process `pid` has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line: 11 and 12 here.
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

/// One run's numbers.
struct Run {
    side: Side,
    messages: u64,
    seconds: f64,
    bot_cpu: f64,
    hub_cpu: f64,
    /// This process's: the consumers' side.
    consumers_cpu: f64,
    latencies_us: Vec<u64>,
    lost: u64,
}

impl Run {
    fn throughput(&self) -> f64 {
        self.messages as f64 / self.seconds
    }

    /// CPU ms per message of the bot's process.
    fn bot_ms(&self) -> f64 {
        1e3 * self.bot_cpu / self.messages.max(1) as f64
    }

    fn hub_ms(&self) -> f64 {
        1e3 * self.hub_cpu / self.messages.max(1) as f64
    }

    fn consumers_ms(&self) -> f64 {
        1e3 * self.consumers_cpu / self.messages.max(1) as f64
    }

    /// Cores the three processes kept busy together.
    fn cores_busy(&self) -> f64 {
        (self.bot_cpu + self.hub_cpu + self.consumers_cpu) / self.seconds.max(f64::EPSILON)
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
        sorted.get(index).map_or(f64::NAN, |us| *us as f64 / 1e3)
    }
}

/// The SDK peer of the tests, installed (npm) into the target directory once.
fn sdk_peer() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/node-agent-sdk");
    let dir = Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join("../peers/node-agent-sdk");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["bot.js", "package.json"] {
        std::fs::copy(source.join(file), dir.join(file)).expect("the SDK peer's files copy");
    }
    if !dir.join("node_modules/.package-lock.json").exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm runs (Node.js is needed for the SDK scenario)");
        assert!(status.success(), "npm install of node-agent-sdk failed");
    }
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Runs A B B A for `seconds` each with `consumers` consumers; the report.
pub(super) async fn versus(seconds: u64, consumers: usize) -> String {
    let root = std::env::temp_dir().join(format!("switchboard-versus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let users: String = ["sdk-bot", "sb-bot"]
        .iter()
        .map(|u| format!("[[hub.users]]\nlogin = \"{u}\"\npassword = \"pw-{u}\"\nskills = [\"1\"]\nmax_conversations = 999\n\n"))
        .collect();
    write(
        &root.join("hub/switchboard.toml"),
        &format!(
            "[hub]\nlisten = \"127.0.0.1:0\"\naccount = \"123\"\ndefault_skill = \"1\"\nagent_grace_ms = 1000\n\n\
             [[hub.skills]]\nid = \"1\"\n\n{users}\
             # loadgen is one client standing for many consumers: it lifts the per-client limits.\n\
             [hub.clients]\nsignups_per_minute = 1000000\nopen_conversations = 1000000\nopen_sockets = 1000000\n\n\
             [hub.tls]\n\n[store]\ndata_dir = \"data\"\n"
        ),
    );
    let mut hub = Command::new(switchboard_binary());
    hub.args(["hub", "--config"])
        .arg(root.join("hub"))
        .env("RUST_LOG", "warn");
    let hub = Running::start(hub);
    let certificate = PathBuf::from(
        hub.wait_for("switchboard: hub TLS certificate at ")
            .split(" (")
            .next()
            .unwrap(),
    );
    let hub_url = hub.wait_for("switchboard: hub listening on ");
    eprintln!("loadgen: versus: hub pid {} at {hub_url}", hub.child.id());

    // The switchboard side's configuration: connectors only, reaching the
    // hub; its state beside the watched directory, as the shipped one's.
    let gateway = root.join("gateway");
    write(
        &gateway.join("switchboard.toml"),
        &format!(
            "[messaging]\ncsds = \"{hub_url}\"\nca_file = \"{}\"\n\n[store]\ndata_dir = \"../gateway-data\"\n",
            certificate.display()
        ),
    );
    write(
        &gateway.join("bots/echo.toml"),
        &format!(
            "id = \"echo\"\nkind = \"scripted\"\n[[rules]]\nmatch = \".*\"\nsay = [{{ text = \"{ECHO}{{text}}\" }}]\n"
        ),
    );
    write(
        &gateway.join("connectors/c.toml"),
        "id = \"c\"\nbot = \"echo\"\naccount = \"123\"\nagent_user_id = \"sb-bot\"\npassword = \"pw-sb-bot\"\n\
         autostart = true\nmax_conversations = 999\n\
         [[plugins]]\nfile = \"greeting.wasm\"\n[[plugins]]\nfile = \"step_up.wasm\"\n\
         [[plugins]]\nfile = \"tile_display.wasm\"\n[[plugins]]\nfile = \"accessibility.wasm\"\n\
         [custom]\nmessageDelay = 0\nringAcceptWait = 0\nmessageResendMaxRetries = 0\n",
    );
    let sdk = sdk_peer();

    let mut runs = Vec::new();
    for side in [Side::Sdk, Side::Switchboard, Side::Switchboard, Side::Sdk] {
        let bot = match side {
            Side::Sdk => {
                let mut node = Command::new("node");
                node.arg("bot.js")
                    .current_dir(&sdk)
                    .env("LP_ACCOUNT", "123")
                    .env("LP_USER", "sdk-bot")
                    .env("LP_PASS", "pw-sdk-bot")
                    .env("LP_CSDS", hub_url.trim_start_matches("https://"))
                    .env("NODE_EXTRA_CA_CERTS", &certificate);
                let node = Running::start(node);
                node.wait_for("connected as ");
                node
            }
            Side::Switchboard => {
                let mut run = Command::new(switchboard_binary());
                run.args(["run", "--config"])
                    .arg(&gateway)
                    .env("RUST_LOG", "warn");
                Running::start(run)
            }
        };
        runs.push(measure(side, &bot, &hub, &hub_url, &certificate, seconds, consumers).await);
        drop(bot);
        // The hub notices the agent gone before the next one logs in.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    drop(hub);
    let _ = std::fs::remove_dir_all(&root);
    render(&runs, seconds, consumers)
}

async fn measure(
    side: Side,
    bot: &Running,
    hub: &Running,
    hub_url: &str,
    certificate: &Path,
    seconds: u64,
    consumers: usize,
) -> Run {
    eprintln!("loadgen: versus: {} (pid {})", side.name(), bot.child.id());
    // Conversations open (an agent joins each) and carry one message: not measured.
    let mut opening = tokio::task::JoinSet::new();
    for n in 0..consumers {
        let (hub_url, certificate) = (hub_url.to_owned(), certificate.to_owned());
        opening.spawn(async move {
            let mut consumer = Consumer::open_with(&hub_url, n, Some(&certificate), ECHO).await;
            consumer.round_trip().await;
            consumer
        });
    }
    let mut opened = Vec::new();
    while let Some(consumer) = opening.join_next().await {
        opened.push(consumer.expect("a consumer opens its conversation"));
    }
    let me = std::process::id();
    let (bot_before, hub_before, consumers_before) =
        (bot.cpu_seconds(), hub.cpu_seconds(), cpu_seconds(me));
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut traffic = tokio::task::JoinSet::new();
    for mut consumer in opened {
        let stop = stop.clone();
        traffic.spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match consumer.round_trip().await {
                    Some(latency) => latencies.push(latency),
                    None => break,
                }
            }
            (latencies, consumer)
        });
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut run = Run {
        side,
        messages: 0,
        seconds: 0.0,
        bot_cpu: 0.0,
        hub_cpu: 0.0,
        consumers_cpu: 0.0,
        latencies_us: Vec::new(),
        lost: 0,
    };
    let mut finished = Vec::new();
    while let Some(result) = traffic.join_next().await {
        let (latencies, consumer) = result.expect("a consumer task ends");
        run.latencies_us.extend(latencies);
        finished.push(consumer);
    }
    run.seconds = started.elapsed().as_secs_f64();
    run.bot_cpu = bot.cpu_seconds() - bot_before;
    run.hub_cpu = hub.cpu_seconds() - hub_before;
    run.consumers_cpu = cpu_seconds(me) - consumers_before;
    run.messages = run.latencies_us.len() as u64;
    for consumer in &finished {
        run.lost += consumer.lost;
        consumer.close().await;
    }
    run
}

fn render(runs: &[Run], seconds: u64, consumers: usize) -> String {
    let mut out = format!(
        "### LivePerson's node-agent-sdk echo bot against one switchboard connector\n\n\
         {consumers} consumers over TLS, closed loop, {seconds} s per run, runs in the order A B B A; \
         the hub (`switchboard hub`) in its own process, the consumers in the load generator's; CPU \
         is user + system time of each process during the traffic; cores busy is the three \
         processes' CPU together per second of traffic.\n\n\
         | run | behind the hub | messages/s | bot CPU ms / message | hub CPU ms / message | consumers CPU ms / message | cores busy | p50 ms | p99 ms | lost |\n\
         |---|---|---|---|---|---|---|---|---|---|\n"
    );
    for (i, run) in runs.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.4} | {:.4} | {:.4} | {:.2} | {:.3} | {:.3} | {} |\n",
            i + 1,
            run.side.name(),
            run.throughput(),
            run.bot_ms(),
            run.hub_ms(),
            run.consumers_ms(),
            run.cores_busy(),
            run.percentile(0.5),
            run.percentile(0.99),
            run.lost
        ));
    }
    let mean = |side: Side, f: fn(&Run) -> f64| {
        let of: Vec<f64> = runs.iter().filter(|r| r.side == side).map(f).collect();
        of.iter().sum::<f64>() / of.len().max(1) as f64
    };
    let cpu = mean(Side::Switchboard, Run::bot_ms) / mean(Side::Sdk, Run::bot_ms);
    let throughput = mean(Side::Switchboard, Run::throughput) / mean(Side::Sdk, Run::throughput);
    out.push_str(&format!(
        "\nswitchboard / SDK: CPU per message {cpu:.2}x (target at most 0.5x), throughput {throughput:.2}x (target at least 2x)\n"
    ));
    // What twice the SDK bot's throughput would cost the hub and the
    // consumers alone, at their CPU per message in the SDK's runs.
    let sdk_rate = mean(Side::Sdk, Run::throughput);
    let others_ms = mean(Side::Sdk, Run::hub_ms) + mean(Side::Sdk, Run::consumers_ms);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    out.push_str(&format!(
        "\nThe machine has {cores} cores. At twice the SDK bot's throughput ({:.0} messages/s), the hub and \
         the consumers alone would keep {:.2} cores busy at their CPU per message in the SDK's runs, \
         before any bot runs.\n",
        2.0 * sdk_rate,
        2.0 * sdk_rate * others_ms / 1e3,
    ));
    out
}
