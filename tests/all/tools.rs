//! The command-line tools as real processes: `switchboard` and `loadgen`
//! answer `--help` with their usage, and loadgen's `switchboard run`
//! children do not outlive it, even when it is killed with SIGKILL (on
//! Linux, where it asks the kernel for that).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::PATIENCE;

const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");
const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

/// Runs `program args` with `tmp` as its TMPDIR to its end, failing (and
/// killing it) if that takes longer than `PATIENCE`.
fn finish(program: &str, args: &[&str], tmp: &Path) -> Output {
    finish_command(Command::new(program).args(args).env("TMPDIR", tmp))
}

fn finish_command(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not end within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn loadgen_help_prints_its_usage_and_starts_nothing() {
    for flag in ["--help", "-h"] {
        let tmp = tempfile::tempdir().unwrap();
        let output = finish(LOADGEN, &[flag], tmp.path());
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "loadgen {flag}: {stdout}{stderr}");
        for documented in [
            "Usage: loadgen",
            "--quick",
            "--smoke",
            "--out <FILE>",
            "LOADGEN_RATE",
        ] {
            assert!(
                stdout.contains(documented),
                "loadgen {flag} lacks {documented:?}: {stdout}"
            );
        }
        // A scenario announces itself on stderr and makes its directory in TMPDIR.
        assert_eq!(stderr, "", "loadgen {flag} ran something");
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "loadgen {flag} made a scenario directory"
        );
    }
}

#[test]
fn loadgen_refuses_unknown_arguments_and_a_bad_loadgen_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let output = finish(LOADGEN, &["--smoek"], tmp.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--smoek"));
    let output = finish_command(
        Command::new(LOADGEN)
            .arg("--smoke")
            .env("LOADGEN_RATE", "fast")
            .env("TMPDIR", tmp.path()),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LOADGEN_RATE=\"fast\""), "{stderr}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn switchboard_help_and_run_help_print_their_usage() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (&["--help"][..], "Usage: switchboard"),
        (&["run", "--help"][..], "--config <CONFIG>"),
    ] {
        let output = finish(SWITCHBOARD, args, tmp.path());
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "switchboard {args:?}: {stdout}");
        assert!(stdout.contains(expected), "switchboard {args:?}: {stdout}");
    }
}

/// A process as /proc shows it: its parent, its name and when it started
/// (which tells it from a later process given the same pid).
#[cfg(target_os = "linux")]
#[derive(Debug, PartialEq)]
struct Proc {
    parent: u32,
    name: String,
    started: u64,
    zombie: bool,
}

#[cfg(target_os = "linux")]
fn proc(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid ... ; comm may hold spaces and parentheses.
    let (name, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(Proc {
        parent: fields[1].parse().ok()?,
        name: name.to_owned(),
        started: fields[19].parse().ok()?,
        zombie: fields[0] == "Z" || fields[0] == "X",
    })
}

/// SIGKILLs the pid on drop unless disarmed: no gateway is left behind if
/// the test fails.
#[cfg(target_os = "linux")]
struct Reaper(Option<(u32, u64)>);

#[cfg(target_os = "linux")]
impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some((pid, started)) = self.0
            && proc(pid).is_some_and(|p| p.started == started)
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_sigkilled_loadgen_takes_its_gateway_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    // --smoke's first scenario starts a `switchboard run` straight away.
    let mut loadgen: Child = Command::new(LOADGEN)
        .arg("--smoke")
        .env("LOADGEN_RATE", "10")
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = loadgen.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // Once the gateway has said where it listens it writes nothing more to
    // loadgen: it would live on without it, were it not killed with it.
    let deadline = Instant::now() + PATIENCE * 4;
    let gateway: u32 = loop {
        let line = lines_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| {
                let _ = loadgen.kill();
                panic!(
                    "loadgen said no switchboard was up within {:?}",
                    PATIENCE * 4
                )
            });
        if let Some(up) = line.strip_prefix("loadgen: switchboard pid ") {
            break up.split(' ').next().unwrap().parse().unwrap();
        }
    };
    let before = proc(gateway).expect("the gateway runs");
    let mut reaper = Reaper(Some((gateway, before.started)));
    assert_eq!(
        (before.parent, before.name.as_str(), before.zombie),
        (loadgen.id(), "switchboard", false),
        "loadgen's child"
    );

    loadgen.kill().unwrap(); // SIGKILL
    loadgen.wait().unwrap();

    let deadline = Instant::now() + PATIENCE;
    loop {
        // Gone, or dead and waiting for init to reap it, or its pid reused.
        match proc(gateway) {
            Some(now) if now.started == before.started && !now.zombie => {}
            _ => break,
        }
        assert!(
            Instant::now() < deadline,
            "switchboard (pid {gateway}) outlived its SIGKILLed loadgen by {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    reaper.0 = None;
}
