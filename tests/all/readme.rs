//! The README's commands as a new user runs them.
//!
//! - `cargo run` on the embedded default: `scripts/readme-run` (a step of
//!   `scripts/test`) runs that command as written from the checkout root,
//!   then runs [`the_readme_run_command_serves_a_chat`] against it (ignored
//!   otherwise: it needs that gateway), then stops it with SIGTERM and
//!   checks it exits 0.
//! - The binary does not depend on the checkout it was built in: copied
//!   elsewhere beside the shipped plugins, it finds them and its
//!   configuration from where it runs.

use std::path::Path;
use std::process::Command;

use crate::support::{Consumer, GatewayProcess};

/// Chats with the gateway `scripts/readme-run` started with `cargo run`
/// (its hub's URL in `SWITCHBOARD_README_HUB`): the demo bot greets back,
/// and *plans* comes back as one horizontal carousel with tooltips.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the gateway scripts/readme-run starts"]
async fn the_readme_run_command_serves_a_chat() {
    let hub = std::env::var("SWITCHBOARD_README_HUB")
        .expect("SWITCHBOARD_README_HUB names the hub of the running `cargo run`");
    let mut consumer = Consumer::connect(&hub, "123").await;
    consumer.start_conversation().await;
    consumer.say("hi").await;
    let greeting = consumer.next_agent_text().await;
    assert!(
        greeting.starts_with("Hi! I am the switchboard demo bot"),
        "{greeting}"
    );
    consumer.say("plans").await;
    assert_eq!(consumer.next_agent_text().await, "Here are our plans:");
    let cards = consumer.next_agent_message().await;
    assert_eq!(cards["type"], "RichContentEvent", "{cards}");
    assert_eq!(
        cards["content"]["type"], "carousel",
        "tileDisplay horizontal: {cards}"
    );
    assert!(
        cards["content"]["elements"][0]["elements"][0]["tooltip"].is_string(),
        "accessibility tooltips: {cards}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An installed layout far from the checkout: `bin/switchboard`,
/// `plugins/*.wasm` beside `bin/`, and the shipped `config/` (on free
/// ports) in the working directory. It starts, loads the shipped plugins
/// and answers a chat with them at work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_away_from_its_checkout() {
    let root = tempfile::tempdir().unwrap();
    let (bin, plugins, config) = (
        root.path().join("bin"),
        root.path().join("plugins"),
        root.path().join("config"),
    );
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_switchboard"), bin.join("switchboard")).unwrap();
    std::fs::create_dir_all(&plugins).unwrap();
    for name in ["greeting", "step_up", "tile_display", "accessibility"] {
        let file = format!("{name}.wasm");
        std::fs::copy(
            Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join(&file),
            plugins.join(&file),
        )
        .unwrap();
    }
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    copy_dir(&shipped, &config);
    let toml = std::fs::read_to_string(config.join("switchboard.toml"))
        .unwrap()
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:8081", "127.0.0.1:0")
        .replace("data_dir = \"../data\"", "data_dir = \"data\"");
    std::fs::write(config.join("switchboard.toml"), toml).unwrap();

    let mut command = Command::new(bin.join("switchboard"));
    command.current_dir(root.path());
    let gateway = GatewayProcess::spawn_until(command, "switchboard: connector demo-2:");
    let mut consumer = Consumer::connect(&gateway.hub_url, "123").await;
    consumer.start_conversation().await;
    consumer.say("plans").await;
    assert_eq!(consumer.next_agent_text().await, "Here are our plans:");
    let cards = consumer.next_agent_message().await;
    assert_eq!(
        cards["content"]["type"], "carousel",
        "the tile-display plugin from plugins/ beside bin/ ran: {cards}"
    );
}
