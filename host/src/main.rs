//! The `switchboard` command: parses arguments and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use switchboard::admin::client::AdminClient;
use switchboard::app::{self, Overrides};
use switchboard::{server, validate};

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
