//! The `switchboard` command: parses arguments and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use switchboard::admin::client::AdminClient;
use switchboard::app::{self, Overrides};
use switchboard::{server, tools, validate};

/// mimalloc instead of glibc's malloc: the gateway's tasks move between
/// worker threads, and glibc frees memory of another thread's arena under
/// that arena's lock (BENCHMARKS.md §4 has the profile that showed it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A gateway that hosts bot agent connectors, customised by sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Starts the hub and the connectors (the default command).
    Run {
        /// The configuration directory (default: ./config, else the nearest
        /// parent's config/).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address of the embedded hub, overriding switchboard.toml.
        #[arg(long)]
        hub_listen: Option<SocketAddr>,
    },
    /// Runs the embedded hub alone, as the messaging platform's own process:
    /// gateways reach it through `[messaging] csds`, and their conversations
    /// outlive a gateway that crashes or restarts.
    Hub {
        /// The configuration directory whose `[hub]` table to run (default:
        /// ./config, else the nearest parent's config/).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address, overriding `[hub] listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Checks a configuration directory; prints file:line:col per finding.
    Validate {
        /// The configuration directory (default: ./config, else the nearest
        /// parent's config/).
        dir: Option<PathBuf>,
    },
    /// Lists, starts, stops and inspects connectors through the admin API
    /// (token from SWITCHBOARD_TOKEN; address from --api or SWITCHBOARD_API).
    Connectors {
        /// The admin API's base URL.
        #[arg(long)]
        api: Option<String>,
        #[command(subcommand)]
        action: ConnectorsAction,
    },
    /// A plugin author's tools.
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
}

#[derive(Subcommand)]
enum PluginAction {
    /// Writes a plugin project in PARENT/NAME: a sample hook, its test and
    /// a README (JavaScript and Python: a copy of the contract, and the
    /// types or bindings generated from it).
    New {
        /// The project's name and folder: lowercase letters, digits and `-`.
        name: String,
        /// Its language.
        #[arg(long, value_enum)]
        lang: tools::project::Lang,
        /// The folder to make it in (default: the current one).
        #[arg(long = "dir", value_name = "PARENT")]
        parent: Option<PathBuf>,
        /// The switchboard-sdk a Rust project depends on (default: the sdk/
        /// of the checkout this switchboard was built from).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Builds a plugin project into a component: cargo for Rust,
    /// componentize-js for JavaScript, componentize-py for Python (their
    /// tools are installed on first use into $SWITCHBOARD_CACHE, else
    /// $XDG_CACHE_HOME/switchboard, else ~/.cache/switchboard).
    Build {
        /// The project's folder.
        dir: PathBuf,
        /// Where to write the component (default: DIR/target/NAME.wasm).
        #[arg(long, value_name = "FILE.wasm")]
        out: Option<PathBuf>,
    },
    /// Runs one hook of a component outside the gateway: the same sandbox
    /// and limits, a local host (these settings, an in-memory key-value
    /// store, a fixed clock). Prints the output, the host calls, the fault
    /// if any, the time and the fuel used, as JSON; exits 1 on a fault.
    Call {
        /// The component (.wasm).
        file: PathBuf,
        /// The hook: conversation-start, step-up, consumer-message,
        /// bot-message, bot-error or conversation-end (`on-` may lead).
        hook: String,
        /// The input: a JSON object with the hook's fields (e.g. `text`)
        /// and, optionally, `conversation`.
        #[arg(long)]
        input: PathBuf,
        /// A setting of the plugin, KEY=VALUE (repeatable).
        #[arg(long = "settings", value_parser = tools::call::key_value)]
        settings: Vec<(String, String)>,
        /// A key-value entry present before the call, KEY=VALUE (repeatable).
        #[arg(long = "kv", value_parser = tools::call::key_value)]
        kv: Vec<(String, String)>,
        /// What the `now-ms` import answers (default 2026-01-01T00:00:00Z).
        #[arg(long, default_value_t = tools::call::DEFAULT_NOW_MS)]
        now_ms: u64,
        /// The call's deadline, overriding the gateway's default.
        #[arg(long)]
        deadline_ms: Option<u64>,
        /// The instance's memory cap, overriding the gateway's default.
        #[arg(long)]
        memory_mib: Option<usize>,
        /// A fuel limit (none by default, as in the gateway).
        #[arg(long)]
        fuel: Option<u64>,
        /// Calls to make; the report gives their median time.
        #[arg(long, default_value_t = 1)]
        repeat: u32,
    },
    /// Replays recorded hook calls (a connector's transcripts) through a
    /// new version and compares each output with the old version's, or
    /// with the recorded one. Exits 2 when a threshold is crossed.
    Replay {
        /// The new version (.wasm).
        new: PathBuf,
        /// A transcript file, or a folder searched for `*.jsonl`.
        #[arg(long)]
        transcripts: PathBuf,
        /// The old version; without it, the recorded outputs are the baseline.
        #[arg(long)]
        against: Option<PathBuf>,
        /// Only the transcripts of this plugin (by name).
        #[arg(long)]
        plugin: Option<String>,
        /// Changed outputs to show with a diff.
        #[arg(long, default_value_t = 3)]
        show: usize,
        /// Fail when more than this share (percent) of the outputs changed.
        #[arg(long)]
        max_changed_percent: Option<f64>,
        /// Fail when the new version faults more than this many times.
        #[arg(long, default_value_t = 0)]
        max_faults: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConnectorsAction {
    /// Every connector with its status.
    List,
    /// Starts a connector.
    Start {
        /// The connector id.
        id: String,
    },
    /// Stops a connector.
    Stop {
        /// The connector id.
        id: String,
    },
    /// A connector's status and Details.
    Details {
        /// The connector id.
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }

    match cli.command.unwrap_or(Command::Run {
        config: None,
        hub_listen: None,
    }) {
        Command::Validate { dir } => {
            let dir = dir.unwrap_or_else(server::default_config_dir);
            let (ok, lines) = validate::validate(&dir);
            for line in &lines {
                println!("{line}");
            }
            if ok {
                println!("{}: configuration is valid", dir.display());
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Connectors { api, action } => {
            let api = api
                .or_else(|| std::env::var("SWITCHBOARD_API").ok())
                .unwrap_or_else(|| "http://127.0.0.1:8081".into());
            let Ok(token) = std::env::var("SWITCHBOARD_TOKEN") else {
                eprintln!("switchboard: set SWITCHBOARD_TOKEN to an admin API token");
                return ExitCode::FAILURE;
            };
            let client = AdminClient::new(&api, &token);
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime starts");
            let result = runtime.block_on(async {
                match &action {
                    ConnectorsAction::List => client.list().await,
                    ConnectorsAction::Start { id } => client.start_stop(id, "start").await,
                    ConnectorsAction::Stop { id } => client.start_stop(id, "stop").await,
                    ConnectorsAction::Details { id } => client.details(id).await,
                }
            });
            match result {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("switchboard: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run { config, hub_listen } => {
            let dir = config.unwrap_or_else(server::default_config_dir);
            serve(server::run(&dir, Overrides { hub_listen }))
        }
        Command::Hub { config, listen } => {
            let dir = config.unwrap_or_else(server::default_config_dir);
            serve(server::run_hub(&dir, Overrides { hub_listen: listen }))
        }
        Command::Plugin { action } => plugin(action),
    }
}

/// `switchboard plugin ...`.
fn plugin(action: PluginAction) -> ExitCode {
    let progress = |line: &str| eprintln!("switchboard: {line}");
    let done = |result: Result<String, tools::project::ProjectError>| match result {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("switchboard: {error}");
            ExitCode::FAILURE
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime starts");
    match action {
        PluginAction::New {
            name,
            lang,
            parent,
            sdk,
        } => {
            let options = tools::new::NewOptions {
                name,
                lang,
                parent: parent.unwrap_or_else(|| PathBuf::from(".")),
                sdk,
            };
            done(tools::new::new_project(&options, &progress).map(|made| made.summary()))
        }
        PluginAction::Build { dir, out } => {
            done(tools::build::build(&dir, out.as_deref(), &progress).map(|built| built.summary()))
        }
        PluginAction::Call {
            file,
            hook,
            input,
            settings,
            kv,
            now_ms,
            deadline_ms,
            memory_mib,
            fuel,
            repeat,
        } => {
            let Some(hook) = switchboard::plugin::HookName::parse(&hook) else {
                eprintln!(
                    "switchboard: no hook `{hook}`: conversation-start, step-up, consumer-message, bot-message, bot-error or conversation-end"
                );
                return ExitCode::FAILURE;
            };
            let mut limits = tools::call::default_limits();
            if let Some(ms) = deadline_ms {
                limits.deadline = std::time::Duration::from_millis(ms);
            }
            if let Some(mib) = memory_mib {
                limits.memory_bytes = mib << 20;
            }
            limits.fuel = fuel;
            let options = tools::call::CallOptions {
                file,
                hook,
                input,
                settings: settings.into_iter().collect(),
                kv: kv.into_iter().collect(),
                now_ms,
                limits,
                repeat,
            };
            match runtime.block_on(tools::call::call(&options)) {
                Ok(report) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).expect("serializes")
                    );
                    if report.faulted() {
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(error) => {
                    eprintln!("switchboard: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        PluginAction::Replay {
            new,
            transcripts,
            against,
            plugin,
            show,
            max_changed_percent,
            max_faults,
            json,
        } => {
            let options = tools::replay::ReplayOptions {
                new,
                transcripts,
                against,
                plugin,
                show,
                max_changed_percent,
                max_faults,
                limits: tools::call::default_limits(),
            };
            match runtime.block_on(tools::replay::replay(&options)) {
                Ok(report) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&report).expect("serializes")
                        );
                    } else {
                        print!("{}", report.render());
                    }
                    if report.failures.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(2)
                    }
                }
                Err(error) => {
                    eprintln!("switchboard: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Runs a long-lived command to its end. The runtime is shut down without
/// waiting for tasks still parked on sockets: the command has already
/// stopped what needed stopping.
fn serve(run: impl std::future::Future<Output = Result<(), app::StartError>>) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime starts");
    let result = runtime.block_on(run);
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchboard: {error}");
            ExitCode::FAILURE
        }
    }
}
