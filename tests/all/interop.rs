//! LivePerson's official node-agent-sdk (from npm) as a client of the
//! hub over TLS: a bot written the way its README shows goes online,
//! accepts rings, echoes (with encoded metadata too), transfers and closes,
//! and a consumer on the hub's consumer WebSocket sees all of it.

use serde_json::json;

use crate::support::{ConfigDir, Consumer, NodeAgentSdkPeer, gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_node_agent_sdk_serves_conversations_on_the_hub_over_tls() {
    let config = ConfigDir::new(&["sdk-bot"]);
    let toml = std::fs::read_to_string(config.path().join("switchboard.toml")).unwrap();
    config.write(
        "switchboard.toml",
        &toml.replace("[store]", "[hub.tls]\n\n[store]"),
    );
    let gateway = gateway(&config).await;
    let hub = gateway.hub_url().unwrap();
    assert!(hub.starts_with("https://"), "{hub}");
    let certificate = gateway.hub_certificate().unwrap().to_owned();
    let _sdk_bot = NodeAgentSdkPeer::start(&hub, "sdk-bot", "pw-sdk-bot", &certificate);

    // Echo, then a close by the agent.
    let mut first = Consumer::of(&gateway).await;
    first.start_conversation().await;
    first.say("hello").await;
    assert_eq!(first.next_agent_text().await, "sdk echo: hello");
    // Encoded metadata the SDK sends (its fourth argument) reaches the consumer.
    first.say("metadata").await;
    let change = first.next_agent_change().await;
    assert_eq!(change["event"]["message"], "sdk metadata", "{change}");
    assert_eq!(change["encodedMetadata"], "U0RLIG1ldGFkYXRh");
    first.say("close").await;
    let reason = crate::support::conversation_change(&mut first, |d| {
        (d["state"] == "CLOSE").then(|| d["closeReason"].clone())
    })
    .await;
    assert_eq!(reason, json!("AGENT"));

    // A transfer to skill 2.
    let mut second = Consumer::of(&gateway).await;
    second.start_conversation().await;
    second.say("hi there").await;
    assert_eq!(second.next_agent_text().await, "sdk echo: hi there");
    second.say("transfer").await;
    let roles = crate::support::conversation_change(&mut second, |d| {
        (d["skillId"] == "2").then(|| {
            d["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["role"].clone())
                .collect::<Vec<_>>()
        })
    })
    .await;
    assert_eq!(
        roles,
        [json!("CONSUMER")],
        "the SDK bot left the transferred conversation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_reach_a_wss_platform_trusting_a_configured_ca_and_refuse_an_unknown_one() {
    // The platform: a hub serving TLS with a certificate from files.
    let certificates = tempfile::tempdir().unwrap();
    let (cert, key) = switchboard::tls::self_signed(certificates.path()).unwrap();
    let platform = ConfigDir::new(&["bot-user"]);
    let toml = std::fs::read_to_string(platform.path().join("switchboard.toml")).unwrap();
    let tls = format!(
        "[hub.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\n[store]",
        cert.display(),
        key.display()
    );
    platform.write("switchboard.toml", &toml.replace("[store]", &tls));
    let hub = gateway(&platform).await;
    assert_eq!(hub.hub_certificate(), Some(cert.as_path()));
    let url = hub.hub_url().unwrap();

    let bot = crate::support::RecordingBot::echo().await;
    let connectors = |ca: Option<&std::path::Path>| {
        let config = ConfigDir::new(&[]);
        let ca = ca
            .map(|ca| format!("ca_file = \"{}\"\n", ca.display()))
            .unwrap_or_default();
        config.write(
            "switchboard.toml",
            &format!("[messaging]\ncsds = \"{url}\"\n{ca}[store]\ndata_dir = \"data\"\n"),
        );
        config.write("bots/b.toml", &bot.config("b"));
        config.write(
            "connectors/c.toml",
            &crate::support::connector_file("c", "b", "bot-user", "", "messageDelay = 100"),
        );
        config
    };

    // Without the CA, the TLS handshake fails and Details say so.
    let untrusting = connectors(None);
    let refused = gateway(&untrusting).await;
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    loop {
        let detail = refused.report("c").unwrap().details.messaging.detail;
        if detail.contains("certificate") || detail.contains("UnknownIssuer") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no TLS error in Details: {detail}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    refused.shutdown().await;

    // With `ca_file`, the connector logs in over https and serves over wss.
    let trusting = connectors(Some(&cert));
    let _connectors = gateway(&trusting).await;
    let mut consumer = Consumer::of(&hub).await;
    consumer.start_conversation().await;
    consumer.say("over wss").await;
    assert_eq!(consumer.next_agent_text().await, "bot heard: over wss");
}
