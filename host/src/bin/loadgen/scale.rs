//! `--scale`: how cost grows with conversations and connectors (issue #17,
//! point 4). A grid of conversations × connectors, each cell a fresh
//! process with the four shipped plugins and the scripted echo bot, beside
//! the raw relay at the same conversation counts (the same run).
//!
//! Every conversation is open and carries traffic, but the loop is closed
//! over a fixed number of messages in flight ([`IN_FLIGHT`]) passed round
//! the conversations in turn: with every consumer in closed loop, latency
//! is conversations / throughput (Little's law) whatever the gateway does,
//! so a fixed window is what lets p99 show a per-message cost that grows.
//!
//! A connector takes at most [`MAX_CONVERSATIONS_PER_AGENT`] conversations,
//! so a cell with more conversations per connector is not applicable. Each
//! connected consumer holds one socket in loadgen and one in the hub (in the
//! measured process): above what the open-files limit allows, the other
//! consumers leave after their first answer and their conversations stay
//! open without them (as messaging conversations do), held by the hub and
//! the connectors, idle; the traffic passes round the connected ones.

use std::fmt::Write;

use switchboard::config::MAX_CONVERSATIONS_PER_AGENT;

use crate::scenario::{Behind, Outcome, run, scenario};

/// Messages in flight in every cell: the 100-conversation cells are the
/// plain closed loop of §2.
const IN_FLIGHT: usize = 100;
/// The conversation counts issue #17 asks for.
const CONVERSATIONS: [usize; 4] = [100, 1_000, 10_000, 30_000];
/// The connector counts issue #17 asks for.
const CONNECTORS: [usize; 3] = [1, 8, 64];
/// Open files either process needs besides the consumers' sockets (agent
/// sockets, store, plugins, sign-ups under way), kept free under the limit.
const OTHER_FILES: u64 = 1_000;
/// Plugins in every gateway cell: the four shipped ones.
const PLUGINS: usize = 4;

/// One measured cell, or why it was not measured.
enum Cell {
    Measured(Outcome),
    NotApplicable(&'static str),
}

/// Runs the grid with `traffic_s` seconds of traffic per cell; the
/// Markdown report, and the same numbers as CSV for the plot.
pub(super) async fn scale(traffic_s: u64) -> (String, String) {
    let limit = raise_open_files_limit();
    let largest = limit.saturating_sub(OTHER_FILES) as usize;
    let connected = |conversations: usize| (conversations > largest).then_some(largest);
    let mut report = String::new();
    let mut csv = String::from(
        "behind,connectors,conversations,set_up_s,messages_per_s,p50_ms,p99_ms,rss_mib,kib_per_conversation\n",
    );
    writeln!(
        report,
        "machine: {} cores, {}; {traffic_s} s of traffic per cell, {IN_FLIGHT} messages in flight; open files limit {limit}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        crate::report::cpu_model()
    )
    .unwrap();
    for &conversations in CONVERSATIONS.iter().filter(|&&n| n > largest) {
        writeln!(
            report,
            "{conversations} conversations: a connected consumer holds a socket in loadgen and one in the measured \
             process, and the open files limit is {limit} per process (the hard limit, which only a privileged user \
             can raise). {largest} consumers (the limit less {OTHER_FILES} for the processes' other files) stay \
             connected and carry the traffic; the others leave after their first answer, and their conversations \
             stay open on the hub and with the connectors, idle.\n"
        )
        .unwrap();
    }
    report.push_str(
        "| behind the hub | conversations | set-up s | messages/s | × relay | p50 ms | p99 ms | RSS MiB | KiB / conversation | gateway's KiB / conversation | lost |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for conversations in CONVERSATIONS {
        let mut s = scenario("scale", Behind::Relay, conversations, traffic_s);
        s.in_flight = Some(IN_FLIGHT);
        s.connected = connected(conversations);
        let relay = run(&s).await;
        report.push_str(&row("raw relay", conversations, &relay, &relay));
        csv_row(&mut csv, "relay", 0, conversations, &relay);
        for connectors in CONNECTORS {
            let label = format!(
                "{connectors} connector{}",
                if connectors == 1 { "" } else { "s" }
            );
            let cell = if conversations.div_ceil(connectors) > MAX_CONVERSATIONS_PER_AGENT as usize
            {
                Cell::NotApplicable("n/a: more than 999 conversations per connector")
            } else {
                let mut s = scenario("scale", Behind::Gateway(PLUGINS), conversations, traffic_s);
                s.agents = connectors;
                s.in_flight = Some(IN_FLIGHT);
                s.connected = connected(conversations);
                Cell::Measured(run(&s).await)
            };
            match cell {
                Cell::Measured(outcome) => {
                    report.push_str(&row(&label, conversations, &outcome, &relay));
                    csv_row(&mut csv, "gateway", connectors, conversations, &outcome);
                }
                Cell::NotApplicable(why) => {
                    writeln!(
                        report,
                        "| {label} | {conversations} | {why} | | | | | | | | |"
                    )
                    .unwrap();
                }
            }
        }
    }
    (report, csv)
}

fn row(label: &str, conversations: usize, o: &Outcome, relay: &Outcome) -> String {
    let own = o.rss_per_conversation_kib(conversations);
    let gateway_share = if std::ptr::eq(o, relay) {
        String::new()
    } else {
        format!("{:.2}", own - relay.rss_per_conversation_kib(conversations))
    };
    format!(
        "| {label} | {conversations} | {:.1} | {:.0} | {:.2} | {:.3} | {:.3} | {:.1} | {own:.2} | {gateway_share} | {} |\n",
        o.set_up.as_secs_f64(),
        o.throughput(),
        o.throughput() / relay.throughput(),
        o.percentile(0.5),
        o.percentile(0.99),
        o.rss_idle_after_kib as f64 / 1024.0,
        o.lost
    )
}

fn csv_row(csv: &mut String, behind: &str, connectors: usize, conversations: usize, o: &Outcome) {
    writeln!(
        csv,
        "{behind},{connectors},{conversations},{:.1},{:.0},{:.3},{:.3},{:.1},{:.2}",
        o.set_up.as_secs_f64(),
        o.throughput(),
        o.percentile(0.5),
        o.percentile(0.99),
        o.rss_idle_after_kib as f64 / 1024.0,
        o.rss_per_conversation_kib(conversations)
    )
    .unwrap();
}

/// Raises this process's open-files limit to its hard limit (the
/// `switchboard` processes it starts inherit it); the limit now in force.
fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur
}
