//! `switchboard validate` is as strict as `run`: a plugin file that `run`
//! would refuse (not WebAssembly, a core module rather than a component, a
//! component that traps while starting) makes `validate` fail, located at
//! the plugin's entry (file:line:col), without binding a port; so do TLS
//! files it could not load. Findings
//! point at the value that is wrong, not at a neighbour.

use crate::support::{ConfigDir, SCRIPTED_BOT, built_plugin, connector_file, validate};

const BOT: &str = SCRIPTED_BOT;

/// Runs `switchboard validate` on a configuration whose connector `c` has
/// one plugin, `plugins/x.wasm`, with these bytes.
fn validate_with_plugin(bytes: &[u8]) -> (bool, String, String) {
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", BOT);
    config.append("switchboard.toml", "\n[plugins]\ndirs = [\"plugins\"]\n");
    config.replace("plugins/x.wasm", bytes);
    // The `file` value is on line 8, column 8: after six lines of
    // connector_file and the `[[plugins]]` header.
    let file = connector_file("c", "b", "bot-user", "[[plugins]]\nfile = \"x.wasm\"\n", "");
    config.write("connectors/c.toml", &file);
    let (ok, output) = validate(config.path());
    let connector = config.path().join("connectors/c.toml");
    (ok, output, connector.display().to_string())
}

#[test]
fn validate_refuses_what_run_refuses_at_the_plugins_entry() {
    let start_trap = std::fs::read(built_plugin("hostile_start_trap")).unwrap();
    let cases: [(&str, &[u8]); 3] = [
        ("not WebAssembly", b"\0asm but not really"),
        ("a core module", b"\0asm\x01\0\0\0"),
        ("a start that traps", &start_trap),
    ];
    for (what, bytes) in cases {
        let (ok, output, file) = validate_with_plugin(bytes);
        assert!(!ok, "{what}: validate must fail:\n{output}");
        assert!(
            output.contains(&format!("{file}:8:8: error")),
            "{what}: located at the `file` value:\n{output}"
        );
    }
    let (ok, output, _) = validate_with_plugin(&std::fs::read(built_plugin("greeting")).unwrap());
    assert!(ok, "a real plugin is valid:\n{output}");
}

/// Each finding is at the offending value's line and column.
#[test]
fn findings_point_at_the_offending_value() {
    // A short admin token: at the token, not at `listen`.
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "", ""),
    );
    config.append(
        "switchboard.toml",
        "\n[admin]\nlisten = \"127.0.0.1:0\"\n[[admin.tokens]]\nowner = \"o\"\nrole = \"viewer\"\ntoken = \"short\"\n",
    );
    let gateway_file = config.path().join("switchboard.toml");
    let line = std::fs::read_to_string(&gateway_file)
        .unwrap()
        .lines()
        .position(|l| l == "token = \"short\"")
        .unwrap()
        + 1;
    let (ok, output) = validate(config.path());
    assert!(!ok);
    let at = format!(
        "{}:{line}:9: error: the admin token of `o` is shorter",
        gateway_file.display()
    );
    assert!(output.contains(&at), "{at}\n{output}");

    // A `say` entry with both text and card: at the entry, not at `match`.
    let config = ConfigDir::new(&["bot-user"]);
    config.write(
        "bots/b.toml",
        "id = \"b\"\nkind = \"scripted\"\n[[rules]]\nmatch = '.*'\nsay = [{ text = \"a\" }, { text = \"a\", card = { title = \"t\" } }]\n",
    );
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "", ""),
    );
    let (ok, output) = validate(config.path());
    assert!(!ok);
    let at = format!(
        "{}:5:24: error: each `say` entry needs exactly one",
        config.path().join("bots/b.toml").display()
    );
    assert!(output.contains(&at), "{at}\n{output}");

    // An unset environment variable: at its value, not at `[api_key]`.
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        "id = \"c\"\nbot = \"b\"\naccount = \"123\"\nagent_user_id = \"bot-user\"\n\
         [api_key]\napp_key = \"k\"\nsecret = { env = \"SWITCHBOARD_TEST_UNSET\" }\n\
         access_token = \"t\"\naccess_token_secret = \"s\"\n",
    );
    let (ok, output) = validate(config.path());
    assert!(!ok);
    let at = format!(
        "{}:7:10: error: environment variable `SWITCHBOARD_TEST_UNSET` is not set",
        config.path().join("connectors/c.toml").display()
    );
    assert!(output.contains(&at), "{at}\n{output}");
}

/// Skills named by `default_skill`, engagements and users must be among
/// `[[hub.skills]]`; each unknown one is reported at its value.
#[test]
fn skills_that_do_not_exist_are_refused_where_they_are_named() {
    let config = ConfigDir::with_hub(
        "[[hub.users]]\nlogin = \"bot-user\"\npassword = \"pw\"\nskills = [\"1\", \"9\"]\n\n\
         [[hub.engagements]]\nid = \"web\"\nskill = \"8\"\n\n",
    );
    let toml = std::fs::read_to_string(config.path().join("switchboard.toml")).unwrap();
    config.write(
        "switchboard.toml",
        &toml.replace("default_skill = \"1\"", "default_skill = \"7\""),
    );
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "", ""),
    );
    let (ok, output) = validate(config.path());
    assert!(!ok, "{output}");
    let file = config.path().join("switchboard.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    for (what, value) in [
        ("default_skill `7`", "\"7\""),
        ("the user's skill `9`", "\"9\""),
        ("the engagement's skill `8`", "\"8\""),
    ] {
        let offset = text.find(value).unwrap();
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = offset - before.rfind('\n').map_or(0, |n| n + 1) + 1;
        let at = format!(
            "{}:{line}:{column}: error: {what} is not one of",
            file.display()
        );
        assert!(output.contains(&at), "{at}\n{output}");
    }
}

/// Every kind of finding a single file can have, each at the exact line and
/// column of the value (or key) that is wrong. Files are checked alone
/// (`config::check_source`); findings that need the whole directory (a
/// missing bot, a shared agent user, differing custom fields, plugin files)
/// have their own tests.
#[test]
fn each_kind_of_finding_is_reported_at_its_exact_place() {
    use switchboard::config::{FileKind, check_source};
    const CONNECTOR: &str = "id = \"c\"\nbot = \"b\"\naccount = \"1\"\nagent_user_id = \"u\"\n";
    let with_password = |rest: &str| format!("{CONNECTOR}password = \"p\"\n{rest}");
    let cases: Vec<(FileKind, String, &str)> = vec![
        (FileKind::Gateway, "[hub]\n[[hub.skills]]\nid = \"2\"\n".into(),
         "switchboard.toml:3:6: error: default_skill (not set, so the default) `1` is not one of the hub's skills"),
        (FileKind::Gateway, "[hub]\nlisten = \"nope\"\n".into(),
         "switchboard.toml:2:10: error: `listen` must be an address like 127.0.0.1:8080"),
        (FileKind::Gateway, "[hub]\n[[hub.users]]\nlogin = \"u\"\npassword = \"p\"\nmax_conversations = 0\n".into(),
         "switchboard.toml:5:21: error: `max_conversations` must be 1 to 999"),
        (FileKind::Gateway, "[hub]\n[[hub.users]]\nlogin = \"u\"\n".into(),
         "switchboard.toml:3:9: error: the hub user needs exactly one of `[oauth2]`, `[api_key]`, `password` or `password_env`"),
        (FileKind::Gateway, "[hub]\n[[hub.users]]\nlogin = \"u\"\npassword_env = \"SWITCHBOARD_TEST_UNSET\"\n".into(),
         "switchboard.toml:4:16: error: environment variable `SWITCHBOARD_TEST_UNSET` (the hub user's password) is not set"),
        (FileKind::Gateway, "[hub]\n[[hub.skills]]\nid = \"1\"\n[[hub.users]]\nlogin = \"u\"\npassword = \"p\"\nskills = [\"2\"]\n".into(),
         "switchboard.toml:7:11: error: the user's skill `2` is not one of the hub's skills"),
        (FileKind::Gateway, "[hub]\n[hub.consumer_auth]\nhs256_secret_env = \"SWITCHBOARD_TEST_UNSET\"\n".into(),
         "switchboard.toml:3:20: error: environment variable `SWITCHBOARD_TEST_UNSET` is not set"),
        (FileKind::Gateway, "[hub]\n[hub.consumer_auth]\nrs256_public_key_file = \"missing.pem\"\n".into(),
         "switchboard.toml:3:25: error: cannot read the RS256 public key"),
        (FileKind::Gateway, "[hub]\n[hub.consumer_auth]\nissuer = \"\"\n".into(),
         "switchboard.toml:3:10: error: [hub.consumer_auth] `issuer` must not be empty"),
        (FileKind::Gateway, "[hub]\n[hub.consumer_auth]\nmax_tokens = 0\n".into(),
         "switchboard.toml:3:14: error: [hub.consumer_auth] `max_tokens` must be 1 to 10000000"),
        (FileKind::Gateway, "[hub]\n[hub.tls]\ncert_file = \"c.pem\"\n".into(),
         "switchboard.toml:3:13: error: `cert_file` needs `key_file`"),
        (FileKind::Gateway, "[hub]\n[hub.tls]\nkey_file = \"k.pem\"\n".into(),
         "switchboard.toml:3:12: error: [hub.tls] `key_file` needs `cert_file`"),
        (FileKind::Gateway, "[admin]\nlisten = \"x\"\n".into(),
         "switchboard.toml:2:10: error: `listen` must be an address"),
        (FileKind::Gateway, "[admin]\n[[admin.tokens]]\nowner = \"o\"\nrole = \"viewer\"\n".into(),
         "switchboard.toml:3:9: error: the admin token of `o` needs exactly one of `token` or `token_env`"),
        (FileKind::Gateway, "[admin]\n[[admin.tokens]]\nowner = \"o\"\nrole = \"viewer\"\ntoken_env = \"SWITCHBOARD_TEST_UNSET\"\n".into(),
         "switchboard.toml:5:13: error: environment variable `SWITCHBOARD_TEST_UNSET` (the admin token of `o`) is not set"),
        (FileKind::Gateway, "[admin]\n[[admin.tokens]]\nowner = \"o\"\nrole = \"viewer\"\ntoken = \"short\"\n".into(),
         "switchboard.toml:5:9: error: the admin token of `o` is shorter than 16 characters"),
        (FileKind::Gateway, "[plugins.limits]\ndeadline_ms = 0\n".into(),
         "switchboard.toml:2:15: error: `deadline_ms` must be"),
        (FileKind::Connector, CONNECTOR.into(),
         "connectors/input.toml:4:17: error: the agent user needs exactly one of `[oauth2]`, `[api_key]`, `password` or `password_env`"),
        (FileKind::Connector, with_password(""),
         "connectors/input.toml:5:12: warning: password login works"),
        (FileKind::Connector, with_password("max_conversations = 1000\n"),
         "connectors/input.toml:6:21: error: `max_conversations` must be 1 to 999"),
        (FileKind::Connector, with_password("[custom]\nmesageDelay = 1\n"),
         "connectors/input.toml:7:1: error: unknown custom field `mesageDelay`"),
        (FileKind::Connector, with_password("[custom]\nmessageDelay = -5\n"),
         "connectors/input.toml:7:16: error: `messageDelay`"),
        (FileKind::Connector, with_password("conversation_type = \"chat\"\n[custom]\nmessageDelay = 5\n"),
         "connectors/input.toml:8:1: warning: `messageDelay` applies to messaging conversations only"),
        (FileKind::Connector, with_password("[[plugins]]\nfile = \"x.wasm\"\nlimits = { deadline_ms = 0 }\n"),
         "connectors/input.toml:8:26: error: `deadline_ms` must be"),
        (FileKind::Connector, with_password("[[plugins]]\nfile = \"x.wasm\"\ngrants = { env = [\"SWITCHBOARD_TEST_UNSET\"] }\n"),
         "connectors/input.toml:8:19: warning: granted environment variable `SWITCHBOARD_TEST_UNSET` is not set"),
        (FileKind::Bot, "id = \"b\"\nkind = \"nope\"\n".into(),
         "bots/input.toml:2:8: error: unknown bot kind `nope`"),
        (FileKind::Bot, "id = \"b\"\nkind = \"rasa\"\n".into(),
         "bots/input.toml:2:8: error: this bot kind needs `url`"),
        (FileKind::Bot, "id = \"b\"\nkind = \"webhook\"\nurl = \"ftp://x\"\n".into(),
         "bots/input.toml:3:7: error: `url` must start with http:// or https://"),
        (FileKind::Bot, "id = \"b\"\nkind = \"botframework\"\nurl = \"http://x\"\ncallback_listen = \"nope\"\n".into(),
         "bots/input.toml:4:19: error: `callback_listen` must be an address"),
        (FileKind::Bot, "id = \"b\"\nkind = \"scripted\"\n[[rules]]\nmatch = '('\n".into(),
         "bots/input.toml:4:9: error: `match` is not a valid regular expression"),
    ];
    let mut wrong = Vec::new();
    for (kind, source, expected) in &cases {
        let found: Vec<String> = check_source(*kind, source)
            .iter()
            .map(ToString::to_string)
            .collect();
        if !found.iter().any(|f| f.starts_with(expected)) {
            wrong.push(format!(
                "expected {expected}\n  in {source:?}\n  found {found:#?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// TLS files `run` loads before it listens are loaded by `validate` too.
#[test]
fn validate_loads_the_tls_files_run_would_load() {
    let config = ConfigDir::new(&["bot-user"]);
    config.write("bots/b.toml", BOT);
    config.write(
        "connectors/c.toml",
        &connector_file("c", "b", "bot-user", "", ""),
    );
    config.write("not-a-cert.pem", "hello");
    config.append(
        "switchboard.toml",
        "\n[hub.tls]\ncert_file = \"not-a-cert.pem\"\nkey_file = \"not-a-cert.pem\"\n",
    );
    let (ok, output) = validate(config.path());
    assert!(!ok, "{output}");
    assert!(output.contains("[hub.tls]: "), "{output}");
}
