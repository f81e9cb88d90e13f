//! The `switchboard run` process a scenario measures: its configuration
//! directory, its start on loopback, its death with loadgen (even by
//! SIGKILL), and the admin API calls loadgen makes to it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::scenario::{Behind, Scenario};
use crate::{ADMIN_TOKEN, SET_UP_TIMEOUT};

/// The `switchboard` binary beside this one.
pub(super) fn switchboard_binary() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.with_file_name("switchboard")
}

/// A `switchboard run` process, killed on drop.
pub(super) struct Process {
    child: Child,
    pub(super) hub: String,
    admin: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    pub(super) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

pub(super) fn write_config(dir: &Path, s: &Scenario) {
    let users: String = (0..s.agents)
        .map(|i| format!("[[hub.users]]\nlogin = \"agent-{i}\"\npassword = \"pw-agent-{i}\"\nskills = [\"1\"]\nmax_conversations = 999\n\n"))
        .collect();
    std::fs::create_dir_all(dir.join("connectors")).unwrap();
    std::fs::create_dir_all(dir.join("bots")).unwrap();
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            "[hub]\nlisten = \"127.0.0.1:0\"\naccount = \"123\"\ndefault_skill = \"1\"\nring_expiration_ms = 60000\n\n[[hub.skills]]\nid = \"1\"\n\n{users}\
             # loadgen is one client standing for many consumers: it lifts the per-client limits.\n\
             [hub.clients]\nsignups_per_minute = 1000000\nopen_conversations = 1000000\nopen_sockets = 1000000\n\n\
             [store]\ndata_dir = \"../data\"\n\n[plugins]\ndirs = [\"plugins\"]\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n[[admin.tokens]]\nowner = \"loadgen\"\nrole = \"administrator\"\ntoken = \"{ADMIN_TOKEN}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("bots/echo.toml"),
        "id = \"echo\"\nkind = \"scripted\"\n[[rules]]\nmatch = \".*\"\nsay = [{ text = \"you said: {text}\" }]\n",
    )
    .unwrap();
    let Behind::Gateway(plugins) = s.behind else {
        return;
    };
    let files: &[&str] = match plugins {
        0 => &[],
        1 => &["stamp.wasm"],
        _ => &[
            "greeting.wasm",
            "step-up.wasm",
            "tile-display.wasm",
            "accessibility.wasm",
        ],
    };
    std::fs::write(dir.join("plugins/stamp.wasm"), stamp(0)).unwrap();
    let entries: String = files
        .iter()
        .map(|f| {
            format!(
                "[[plugins]]\nfile = \"{}\"\n",
                f.replace("step-up", "step_up")
                    .replace("tile-display", "tile_display")
            )
        })
        .collect();
    for i in 0..s.agents {
        std::fs::write(
            dir.join(format!("connectors/c{i}.toml")),
            format!(
                "id = \"c{i}\"\nbot = \"echo\"\naccount = \"123\"\nagent_user_id = \"agent-{i}\"\npassword = \"pw-agent-{i}\"\n\
                 autostart = true\nmax_conversations = 999\n{entries}\n[custom]\nmessageDelay = 0\nringAcceptWait = 0\nmessageResendMaxRetries = 0\n"
            ),
        )
        .unwrap();
    }
}

/// The stamp fixture, tagged with `version`.
pub(super) fn stamp(version: usize) -> Vec<u8> {
    let mut bytes =
        std::fs::read(Path::new(switchboard::plugin::BUILT_PLUGIN_DIR).join("fixture_stamp.wasm"))
            .expect("the stamp fixture is built (cargo build builds every component)");
    let at = bytes
        .windows(12)
        .position(|w| w == b"STAMP-000000")
        .expect("stamp tag");
    bytes[at..at + 12].copy_from_slice(format!("STAMP-{version:06}").as_bytes());
    bytes
}

/// Starts `switchboard run` on `dir`. Killed when the [`Process`] drops,
/// and on Linux also when loadgen dies any other way (SIGKILL included).
pub(super) fn start_process(dir: &Path) -> Process {
    let mut command = Command::new(switchboard_binary());
    command
        .args(["run", "--config"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    die_with_loadgen(&mut command);
    let mut child = command
        .spawn()
        .expect("the switchboard binary starts (build it with `cargo build --release`)");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let (mut hub, mut admin) = (String::new(), String::new());
    while hub.is_empty() || admin.is_empty() {
        let line = lines_rx
            .recv_timeout(SET_UP_TIMEOUT)
            .expect("switchboard starts");
        if let Some(url) = line.strip_prefix("switchboard: hub listening on ") {
            hub = url.trim().to_owned();
        }
        if let Some(url) = line.strip_prefix("switchboard: Agent Connectors page and admin API at ")
        {
            admin = url.trim().trim_end_matches('/').to_owned();
        }
    }
    eprintln!(
        "loadgen: switchboard pid {} is up: hub {hub}, admin API {admin}",
        child.id()
    );
    Process { child, hub, admin }
}

/// Has the kernel SIGKILL the child when loadgen dies, which the drop of
/// [`Process`] cannot do when loadgen itself is SIGKILLed.
///
/// PR_SET_PDEATHSIG fires when the thread that forked the child exits, not
/// the process: the child must be spawned from a thread that lives as long
/// as loadgen. That is the main thread, which runs the scenarios through
/// `block_on`; the assertion keeps it so.
#[cfg(target_os = "linux")]
pub(super) fn die_with_loadgen(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    assert_eq!(
        std::thread::current().name(),
        Some("main"),
        "switchboard processes are spawned from the main thread (PR_SET_PDEATHSIG follows the spawning thread)"
    );
    let loadgen = std::process::id();
    // SAFETY: the hook runs in the forked child before exec and calls only
    // async-signal-safe functions (prctl, getppid, _exit); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // loadgen died before the prctl: the signal will never come.
            if libc::getppid() as u32 != loadgen {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Elsewhere only the drop of [`Process`] stops the child.
#[cfg(not(target_os = "linux"))]
pub(super) fn die_with_loadgen(_command: &mut Command) {}

pub(super) async fn admin_get(process: &Process, path: &str) -> Value {
    let client = switchboard::http::default_client();
    client
        .call(
            "GET",
            &format!("{}{path}", process.admin),
            ADMIN_TOKEN,
            None,
        )
        .await
        .map(|(_, body)| body)
        .unwrap_or(Value::Null)
}
