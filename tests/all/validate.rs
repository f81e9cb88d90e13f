//! `switchboard validate` is as strict as `run`: a plugin file that `run`
//! would refuse (not WebAssembly, a core module rather than a component, a
//! component that traps while starting) makes `validate` fail, located at
//! the plugin's entry (file:line:col), without binding a port. Findings
//! point at the value that is wrong, not at a neighbour.

use std::process::Command;

use crate::support::{ConfigDir, built_plugin, connector_file};

const BOT: &str =
    "id = \"b\"\nkind = \"scripted\"\n[[rules]]\nmatch = '.*'\nsay = [{ text = \"ok\" }]\n";

/// `switchboard validate DIR`: success, and what it printed.
fn validate(dir: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("validate")
        .arg(dir)
        .env_remove("SWITCHBOARD_TEST_UNSET")
        .output()
        .expect("switchboard runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

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
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("validate")
        .arg(config.path())
        .output()
        .expect("switchboard runs");
    let connector = config.path().join("connectors/c.toml");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        connector.display().to_string(),
    )
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
