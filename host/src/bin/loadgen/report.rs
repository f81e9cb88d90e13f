//! The suites' scenarios in order, and the report they print: Markdown
//! tables of throughput, latency, memory and plugin replacement.

use std::collections::HashMap;
use std::time::Duration;

use crate::Suite;
use crate::scenario::{Behind, Outcome, run, scenario};

/// `--smoke`: the raw relay and the 4-plugin gateway, 100 conversations,
/// closed loop or at `rate` messages per second.
pub(super) async fn smoke(rate: Option<f64>) -> String {
    let mut relay = scenario("relay", Behind::Relay, 100, 3);
    let mut gateway = scenario("gateway", Behind::Gateway(4), 100, 3);
    relay.rate = rate;
    gateway.rate = rate;
    let (relay, gateway) = (run(&relay).await, run(&gateway).await);
    row("raw relay", 100, &relay, relay.throughput())
        + &row("gateway, 4 plugins", 100, &gateway, relay.throughput())
}

pub(super) async fn run_all(suite: Suite) -> String {
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
    report.push_str(&rss(big).await);

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

pub(super) fn cpu_model() -> String {
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

/// RSS per open, idle conversation: the hub alone (the relay baseline)
/// and the hub with the gateway, `big` conversations each.
pub(super) async fn rss(big: usize) -> String {
    let mut out = String::new();
    out.push_str(&format!(
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
        out.push_str(&format!(
            "| {label} | {:.1} | {:.1} | {kib:.2} |\n",
            outcome.rss_idle_before_kib as f64 / 1024.0,
            outcome.rss_idle_after_kib as f64 / 1024.0,
        ));
    }
    out.push_str(&format!(
        "| the gateway's own share | | | {:.2} |\n",
        per[1] - per[0]
    ));

    out
}
