//! Snapshot tests of configuration diagnostics, as Spin's manifest crate
//! keeps them: each case under `tests/ui/config/` is an input and the
//! located findings it must produce, one `file:line:col: severity: message`
//! a line, in its `.expected` file.
//!
//! - `gateway/*.toml`, `connector/*.toml`, `bot/*.toml`: one file checked
//!   alone by [`check_source`], as that kind of file (its findings name it
//!   `switchboard.toml`, `connectors/input.toml` or `bots/input.toml`).
//! - `dir/<case>/`: a whole configuration directory given to
//!   [`config::load`], for the rules that span files; paths in its findings
//!   are relative to the case's directory, and the shipped plugin directory
//!   reads `$SHIPPED_PLUGINS`.
//!
//! `BLESS=1 cargo test --test all -- config_ui` rewrites the `.expected`
//! files from what the loader says now; review the diff before committing.
//! No variable named `SWITCHBOARD_TEST_UNSET` may be set while they run.

use std::path::{Path, PathBuf};

use switchboard::config::{self, FileKind, check_source};

/// `tests/ui/config/`.
fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ui/config")
}

/// The entries of `dir` whose names pass `keep`, in name order.
fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| keep(path))
        .collect();
    found.sort();
    found
}

fn lines(diagnostics: &[config::Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

/// What one single-file case produces.
fn check_file(kind: FileKind, input: &Path) -> String {
    let source = std::fs::read_to_string(input).unwrap();
    lines(&check_source(kind, &source))
}

/// What one directory case produces, its paths made relative.
fn check_dir(dir: &Path) -> String {
    let diagnostics = match config::load(dir) {
        Ok(loaded) => loaded.warnings,
        Err(errors) => errors.0,
    };
    let mut text = lines(&diagnostics).replace(&format!("{}/", dir.display()), "");
    if let Some(shipped) = switchboard::config::shipped_plugin_dir() {
        text = text.replace(&shipped.display().to_string(), "$SHIPPED_PLUGINS");
    }
    text
}

/// Every case's input with what it produces now.
fn run_all() -> Vec<(PathBuf, String)> {
    let root = cases_dir();
    let mut outcomes = Vec::new();
    for (folder, kind) in [
        ("gateway", FileKind::Gateway),
        ("connector", FileKind::Connector),
        ("bot", FileKind::Bot),
    ] {
        let is_toml = |p: &Path| p.extension().is_some_and(|e| e == "toml");
        for input in entries(&root.join(folder), is_toml) {
            let found = check_file(kind, &input);
            outcomes.push((input, found));
        }
    }
    for case in entries(&root.join("dir"), |p| p.is_dir()) {
        let found = check_dir(&case);
        outcomes.push((case, found));
    }
    outcomes
}

#[test]
fn every_config_case_produces_its_expected_findings() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let mut wrong = Vec::new();
    for (input, found) in run_all() {
        let expected_file = input.with_extension("expected");
        if found.is_empty() {
            wrong.push(format!(
                "{}: produces no finding; a case shows one",
                input.display()
            ));
            continue;
        }
        if bless {
            std::fs::write(&expected_file, &found).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_file).unwrap_or_default();
        if expected != found {
            wrong.push(format!(
                "{}:\n--- expected\n{expected}+++ found\n{found}",
                input.display()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n(BLESS=1 rewrites the .expected files)",
        wrong.join("\n")
    );
}

/// An `.expected` file without its input would pass unnoticed forever.
#[test]
fn every_expected_file_has_its_case() {
    let root = cases_dir();
    let mut orphans = Vec::new();
    for folder in ["gateway", "connector", "bot", "dir"] {
        let expected = |p: &Path| p.extension().is_some_and(|e| e == "expected");
        for file in entries(&root.join(folder), expected) {
            let input = if folder == "dir" {
                file.with_extension("")
            } else {
                file.with_extension("toml")
            };
            if !input.exists() {
                orphans.push(file.display().to_string());
            }
        }
    }
    assert!(orphans.is_empty(), "no case for {orphans:?}");
}
