//! `/metrics`: the gateway's state and counters in Prometheus text format
//! (version 0.0.4).

use std::fmt::Write;

use crate::app::Gateway;
use crate::connector::{Connector, StatusReport};
use crate::metrics::{BUCKETS, HistogramSnapshot};
use crate::ports::Status;

const STATUSES: [(Status, &str); 6] = [
    (Status::ReadyToStart, "Ready to Start"),
    (Status::Starting, "Starting"),
    (Status::Online, "Online"),
    (Status::Offline, "Offline"),
    (Status::Stopped, "Stopped"),
    (Status::Standby, "Standby"),
];

/// Renders every metric.
pub fn render(gateway: &Gateway) -> String {
    let mut out = String::new();
    let connectors: Vec<_> = gateway.connectors().collect();
    let reports: Vec<_> = connectors.iter().map(|c| (c, c.report())).collect();

    header(
        &mut out,
        "switchboard_connector_status",
        "gauge",
        "1 for the connector's current status, 0 for the others.",
    );
    for (connector, report) in &reports {
        for (status, name) in STATUSES {
            let value = u8::from(report.status == status);
            let _ = writeln!(
                out,
                "switchboard_connector_status{{connector=\"{}\",status=\"{name}\"}} {value}",
                label(connector.id())
            );
        }
    }
    type Value = fn(&Connector, &StatusReport) -> u64;
    let per_connector: [(&str, &str, &str, Value); 4] = [
        (
            "switchboard_open_conversations",
            "gauge",
            "Conversations the connector is handling.",
            |_, r| r.conversations as u64,
        ),
        (
            "switchboard_messages_in_total",
            "counter",
            "Consumer messages received.",
            |c, _| c.metrics().messages_in.get(),
        ),
        (
            "switchboard_messages_out_total",
            "counter",
            "Messages published to consumers.",
            |c, _| c.metrics().messages_out.get(),
        ),
        (
            "switchboard_bot_messages_refused_total",
            "counter",
            "Bot messages not published: content LivePerson's schemas refuse.",
            |c, _| c.metrics().bot_messages_refused.get(),
        ),
    ];
    for (name, kind, help, value) in per_connector {
        header(&mut out, name, kind, help);
        for (connector, report) in &reports {
            let _ = writeln!(
                out,
                "{name}{{connector=\"{}\"}} {}",
                label(connector.id()),
                value(connector, report)
            );
        }
    }
    header(
        &mut out,
        "switchboard_bot_latency_seconds",
        "histogram",
        "Time the bot took to answer a turn.",
    );
    for connector in &connectors {
        let labels = format!("connector=\"{}\"", label(connector.id()));
        histogram(
            &mut out,
            "switchboard_bot_latency_seconds",
            &labels,
            &connector.metrics().bot_latency.snapshot(),
        );
    }
    header(
        &mut out,
        "switchboard_plugin_hook_latency_seconds",
        "histogram",
        "Time a plugin's hook call took.",
    );
    for connector in &connectors {
        for plugin in connector.settings().plugins.plugins() {
            let labels = format!(
                "connector=\"{}\",plugin=\"{}\"",
                label(connector.id()),
                label(plugin.name())
            );
            histogram(
                &mut out,
                "switchboard_plugin_hook_latency_seconds",
                &labels,
                &plugin.hook_latency(),
            );
        }
    }
    for (name, kind, help) in [
        (
            "switchboard_plugin_hook_calls_total",
            "counter",
            "Hook calls made.",
        ),
        (
            "switchboard_plugin_faults_total",
            "counter",
            "Hook calls that fell back to the hook's default.",
        ),
        (
            "switchboard_plugin_quarantined",
            "gauge",
            "1 while the plugin is quarantined.",
        ),
    ] {
        header(&mut out, name, kind, help);
        for (connector, report) in &reports {
            for plugin in &report.details.plugins {
                let value = match name {
                    "switchboard_plugin_hook_calls_total" => plugin.calls,
                    "switchboard_plugin_faults_total" => plugin.faults,
                    _ => u64::from(plugin.quarantined),
                };
                let _ = writeln!(
                    out,
                    "{name}{{connector=\"{}\",plugin=\"{}\",version=\"{}\"}} {value}",
                    label(connector.id()),
                    label(&plugin.name),
                    plugin.version
                );
            }
        }
    }
    let compiles = gateway.compile_stats();
    header(
        &mut out,
        "switchboard_plugin_compiles_total",
        "counter",
        "Plugin components compiled.",
    );
    let _ = writeln!(
        out,
        "switchboard_plugin_compiles_total {}",
        compiles.compiled
    );
    header(
        &mut out,
        "switchboard_plugin_compile_cache_hits_total",
        "counter",
        "Plugin components taken from the on-disk compile cache.",
    );
    let _ = writeln!(
        out,
        "switchboard_plugin_compile_cache_hits_total {}",
        compiles.from_cache
    );
    header(
        &mut out,
        "switchboard_reloads_total",
        "counter",
        "Configuration reloads, by outcome.",
    );
    let _ = writeln!(
        out,
        "switchboard_reloads_total{{result=\"applied\"}} {}",
        gateway.reloads_applied()
    );
    let _ = writeln!(
        out,
        "switchboard_reloads_total{{result=\"refused\"}} {}",
        gateway.reloads_refused()
    );
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, snapshot: &HistogramSnapshot) {
    for (bound, count) in BUCKETS.iter().zip(&snapshot.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels},le=\"+Inf\"}} {}",
        snapshot.count
    );
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", snapshot.sum_seconds);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", snapshot.count);
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
