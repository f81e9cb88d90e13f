//! `switchboard validate` as a real process: the shipped configuration is
//! valid, and each kind of bad input is reported at file:line:col with a
//! non-zero exit.

use std::path::Path;

use crate::support::{ConfigDir, SCRIPTED_BOT, validate};

const BOT: &str = SCRIPTED_BOT;

fn connector(extra: &str) -> String {
    format!(
        "id = \"c\"\nbot = \"b\"\naccount = \"123\"\nagent_user_id = \"u\"\npassword = \"p\"\n{extra}"
    )
}

#[test]
fn the_shipped_configuration_is_valid() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let (ok, output) = validate(&shipped);
    assert!(ok, "{output}");
    assert!(output.contains("configuration is valid"));
}

#[test]
fn an_unknown_custom_field_is_located_and_the_nearest_name_suggested() {
    let config = ConfigDir::new(&["u"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector("[custom]\nmesageDelay = 300\n"),
    );
    let (ok, output) = validate(config.path());
    assert!(!ok);
    let expected = format!(
        "{}:7:1: error: unknown custom field `mesageDelay`; did you mean `messageDelay`?",
        config.path().join("connectors/c.toml").display()
    );
    assert!(output.contains(&expected), "{output}");
}

#[test]
fn out_of_range_and_mistyped_values_are_located() {
    let config = ConfigDir::new(&["u"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector("[custom]\nmessageDelay = -5\ntileDisplay = \"diagonal\"\n"),
    );
    let (ok, output) = validate(config.path());
    assert!(!ok);
    assert!(
        output.contains("c.toml:7:16: error: `messageDelay` is -5 ms"),
        "{output}"
    );
    assert!(
        output.contains("c.toml:8:15: error: `tileDisplay` must be \"vertical\" or \"horizontal\""),
        "{output}"
    );
}

#[test]
fn an_unknown_plugin_file_and_a_missing_bot_are_refused() {
    let config = ConfigDir::new(&["u"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector("[[plugins]]\nfile = \"nope.wasm\"\n").replace("bot = \"b\"", "bot = \"x\""),
    );
    let (ok, output) = validate(config.path());
    assert!(!ok);
    assert!(
        output.contains("c.toml:2:7: error: no bot `x` in bots/ (known: b)"),
        "{output}"
    );
    assert!(
        output.contains("c.toml:7:8: error: unknown plugin file `nope.wasm`"),
        "{output}"
    );
}

#[test]
fn a_syntax_error_is_located() {
    let config = ConfigDir::new(&["u"]);
    config.write("bots/b.toml", BOT);
    config.write("connectors/c.toml", "id = \"c\"\nbot = \n");
    let (ok, output) = validate(config.path());
    assert!(!ok);
    assert!(output.contains("c.toml:2:"), "{output}");
}

#[test]
fn connectors_of_one_bot_with_different_custom_fields_are_reported() {
    let config = ConfigDir::new(&["u", "v"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector("[custom]\nmessageDelay = 300\n"),
    );
    config.write(
        "connectors/d.toml",
        &connector("[custom]\nmessageDelay = 900\n")
            .replace("id = \"c\"", "id = \"d\"")
            .replace("\"u\"", "\"v\""),
    );
    let (ok, output) = validate(config.path());
    assert!(!ok);
    assert!(
        output.contains("d.toml:7:1: error: `messageDelay` is 900 here but 300 on connector `c`"),
        "{output}"
    );
}

#[test]
fn a_messaging_field_on_a_chat_connector_is_a_warning() {
    let config = ConfigDir::new(&["u"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector("conversation_type = \"chat\"\n[custom]\nmessageDelay = 300\n"),
    );
    let (ok, output) = validate(config.path());
    assert!(ok, "{output}");
    assert!(
        output.contains(
            "c.toml:8:1: warning: `messageDelay` applies to messaging conversations only"
        ),
        "{output}"
    );
}

#[test]
fn capacity_above_999_and_a_shared_agent_user_are_refused_and_password_login_is_warned() {
    let config = ConfigDir::new(&["u"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector("max_conversations = 1000\n"),
    );
    config.write(
        "connectors/d.toml",
        &connector("").replace("id = \"c\"", "id = \"d\""),
    );
    let (ok, output) = validate(config.path());
    assert!(!ok);
    assert!(
        output.contains("c.toml:6:21: error: `max_conversations` must be 1 to 999"),
        "{output}"
    );
    assert!(
        output.contains("d.toml:1:6: error: agent user `u` is already used by connector `c`"),
        "{output}"
    );
    assert!(
        output.contains("c.toml:5:12: warning: password login works, but LivePerson asks bot users to log in with OAuth2"),
        "{output}"
    );
}

#[test]
fn a_connector_id_outside_the_rule_is_located_at_its_value() {
    let long = "c".repeat(65);
    let long_finding = format!("connector id `{}…` is 65 characters long", &long[..24]);
    for (id, finding) in [
        ("../evil", "connector id `../evil` holds '.'"),
        (long.as_str(), long_finding.as_str()),
        ("", "the connector id is empty"),
    ] {
        let config = ConfigDir::new(&["u"]);
        config.write("bots/b.toml", BOT);
        config.write(
            "connectors/c.toml",
            &connector("").replace("id = \"c\"", &format!("id = \"{id}\"")),
        );
        let (ok, output) = validate(config.path());
        assert!(!ok, "{output}");
        let expected = format!("c.toml:1:6: error: {finding}");
        assert!(output.contains(&expected), "{expected} in {output}");
        assert!(
            output.contains("a connector id is 1 to 64 characters, each a letter A-Z or a-z, a digit, `-` or `_`"),
            "{output}"
        );
    }
    // 64 characters are an id.
    let config = ConfigDir::new(&["u"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector("").replace("id = \"c\"", &format!("id = \"{}\"", "c".repeat(64))),
    );
    let (ok, output) = validate(config.path());
    assert!(ok, "{output}");
}

#[test]
fn validate_reads_the_certificate_files_a_cluster_reaches_etcd_with() {
    let config = ConfigDir::new(&["u"]);
    config.write(
        "switchboard.toml",
        "[messaging]\ncsds = \"http://127.0.0.1:9\"\n\n[cluster]\netcd = [\"https://127.0.0.1:2379\"]\ngateway = \"a\"\nca_file = \"etcd-ca.pem\"\n",
    );
    let (ok, output) = validate(config.path());
    assert!(!ok, "{output}");
    assert!(
        output.contains("[cluster] TLS to etcd: ") && output.contains("etcd-ca.pem"),
        "{output}"
    );
    // A readable CA, and a client certificate with its key, all found
    // beside switchboard.toml: nothing to say.
    let certificates = tempfile::tempdir().unwrap();
    let (cert, key) = switchboard::tls::self_signed(certificates.path()).unwrap();
    config.write("etcd-ca.pem", &std::fs::read_to_string(&cert).unwrap());
    config.write("gw.pem", &std::fs::read_to_string(&cert).unwrap());
    config.append(
        "switchboard.toml",
        "cert_file = \"gw.pem\"\nkey_file = \"gw-key.pem\"\n",
    );
    let (ok, output) = validate(config.path());
    assert!(!ok, "the key is missing: {output}");
    assert!(output.contains("gw-key.pem"), "{output}");
    config.write("gw-key.pem", &std::fs::read_to_string(&key).unwrap());
    let (ok, output) = validate(config.path());
    assert!(ok, "{output}");
}
