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
//! usage: loadgen [--quick | --smoke | --scale SECONDS] [--out FILE] (`loadgen --help`)
//!
//! # Layout
//! - this file: the arguments, the suite they choose, and the constants
//!   the modules share;
//! - `report`: the suites' scenarios and the Markdown tables they print;
//! - `scenario`: one scenario, run in a fresh process, and what it measured;
//! - `gateway`: the `switchboard run` process (its configuration, its
//!   start, its death with loadgen) and the admin API calls to it;
//! - `consumer`: one consumer and its conversation, message by message;
//! - `relay`: the raw relay baseline;
//! - `scale`: the grid of conversations × connectors (`--scale`);
//! - `versus`: LivePerson's node-agent-sdk echo bot against one
//!   switchboard connector, each in its own process behind one hub.

mod consumer;
mod gateway;
mod relay;
mod report;
mod scale;
mod scenario;
mod versus;

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser};

use report::{run_all, smoke};

/// The allocator `switchboard` runs with, so the raw relay in this process
/// is measured as the gateway is.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ADMIN_TOKEN: &str = "loadgen-admin-token-0123456789";
const SET_UP_TIMEOUT: Duration = Duration::from_secs(120);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Consumers of the SDK scenario (as the issue that asked for it measured).
const VERSUS_CONSUMERS: usize = 20;

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
    /// Only LivePerson's node-agent-sdk echo bot against one switchboard
    /// connector (runs A B B A of this many seconds each; npm installs the
    /// SDK on first use).
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["quick", "smoke"])]
    versus: Option<u64>,
    /// Only the idle memory scenario, with this many conversations.
    #[arg(long, value_name = "CONVERSATIONS", conflicts_with_all = ["quick", "smoke", "versus"])]
    rss: Option<usize>,
    /// Only the grid of conversations × connectors (how cost grows), this
    /// many seconds of traffic per cell.
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["quick", "smoke", "versus", "rss"])]
    scale: Option<u64>,
    /// With --scale: also write the grid's numbers as CSV to FILE (for the plot).
    #[arg(long, value_name = "FILE", requires = "scale")]
    csv: Option<PathBuf>,
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

fn main() {
    let args = Args::parse();
    let suite = args.suite();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    // `block_on` runs the scenarios on this, the main thread, so the
    // `switchboard` processes are spawned from it (see `start_process`).
    if let Some(seconds) = args.scale {
        let (report, csv) = runtime.block_on(scale::scale(seconds));
        print!("{report}");
        if let Some(out) = args.out {
            std::fs::write(&out, &report).expect("the report file is writable");
        }
        if let Some(file) = args.csv {
            std::fs::write(&file, &csv).expect("the CSV file is writable");
        }
        return;
    }
    if args.versus.is_some() || args.rss.is_some() {
        let report = match (args.versus, args.rss) {
            (Some(seconds), _) => runtime.block_on(versus::versus(seconds, VERSUS_CONSUMERS)),
            (None, Some(conversations)) => runtime.block_on(report::rss(conversations)),
            (None, None) => unreachable!("one of them is set"),
        };
        print!("{report}");
        if let Some(out) = args.out {
            std::fs::write(&out, &report).expect("the report file is writable");
        }
        return;
    }
    let report = match suite {
        Suite::Smoke { rate } => runtime.block_on(smoke(rate)),
        Suite::Full | Suite::Quick => runtime.block_on(run_all(suite)),
    };
    print!("{report}");
    if let Some(out) = args.out {
        std::fs::write(&out, &report).expect("the report file is writable");
    }
}
