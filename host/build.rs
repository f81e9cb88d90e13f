//! Builds the shipped plugins and the test fixture plugins for
//! `wasm32-wasip2`, so that `cargo run` and `cargo test` find real components
//! without a manual step. The wasm build has its own target directory
//! (`target/plugin-build`) so it never waits on the lock of the build that
//! runs this script; the finished components are copied to
//! `target/plugins/`, a directory of `.wasm` files only, whose path is
//! handed to the crate as `SWITCHBOARD_BUILT_PLUGINS`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Every crate built as a component: the shipped plugins, then test fixtures.
const COMPONENTS: &[&str] = &[
    "greeting",
    "step-up",
    "tile-display",
    "accessibility",
    "fixture-trap",
    "fixture-spin",
    "fixture-shout",
    "fixture-stamp",
    "fixture-no-hooks",
    "fixture-failover",
    "fixture-contract-0-1",
];

/// The features of `fixture-hostile`, each built as `hostile_<feature>.wasm`.
const HOSTILE: &[&str] = &[
    "recursion",
    "memory-bomb",
    "unreachable",
    "huge-output",
    "slow",
    "sleep",
    "print",
    "invalid-content",
    "file-read",
    "env-read",
    "socket",
    "clock",
    "kv-flood",
    "start-trap",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("host/ lives in the workspace");
    for watched in [
        "wit",
        "sdk",
        "plugins",
        "tests/fixtures/plugins",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_SKIP_PLUGIN_BUILD");

    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    // Cargo builds the components in `plugin-build/`; the finished ones are
    // copied to `plugins/`, which holds nothing else.
    let target_dir = target.join("plugin-build");
    let plugins = target.join("plugins");
    let out = target_dir.join(TARGET).join("plugin");
    println!(
        "cargo:rustc-env=SWITCHBOARD_BUILT_PLUGINS={}",
        plugins.display()
    );
    if env::var_os("SWITCHBOARD_SKIP_PLUGIN_BUILD").is_some() {
        return;
    }

    ensure_target();
    // Plugin crates are plain libraries (so their unit tests run natively);
    // `cargo rustc --crate-type cdylib` turns each into a component.
    for name in COMPONENTS {
        build_component(root, &target_dir, &["-p", name]);
    }
    // The hostile fixtures: one crate, one component per feature.
    for feature in HOSTILE {
        build_component(
            root,
            &target_dir,
            &["-p", "fixture-hostile", "--features", feature],
        );
        let built = out.join("fixture_hostile.wasm");
        let named = out.join(format!("hostile_{}.wasm", feature.replace('-', "_")));
        std::fs::copy(&built, &named)
            .unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
    }
    for name in COMPONENTS {
        let file = out.join(format!("{}.wasm", name.replace('-', "_")));
        assert!(
            file.exists(),
            "the plugin build did not produce {}",
            file.display()
        );
    }
    // The components land in `target/plugins/`, where the README says and
    // where the gateway looks (beside `target/debug/`).
    std::fs::create_dir_all(&plugins).expect("target/plugins can be made");
    for entry in std::fs::read_dir(&out).expect("the plugin output directory exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let to = plugins.join(path.file_name().expect("a file name"));
            copy_if_changed(&path, &to);
        }
    }
}

/// Copies `from` to `to` unless `to` holds the same bytes already, so
/// that an unchanged plugin keeps its modification time.
fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    if std::fs::read(to).is_ok_and(|old| old == bytes) {
        return;
    }
    std::fs::write(to, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", to.display()));
}

/// Builds one component with `cargo rustc` in the wasm target directory.
fn build_component(root: &Path, target_dir: &Path, package: &[&str]) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "rustc",
            "--profile",
            "plugin",
            "--target",
            TARGET,
            "--crate-type",
            "cdylib",
        ])
        .args(package)
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's flags (and clippy's wrapper) are for the host, not for wasm.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build {package:?}: {e}"));
    assert!(status.success(), "building {package:?} for {TARGET} failed");
}

/// rustup does not install the targets rust-toolchain.toml lists by itself.
fn ensure_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |sysroot: &Path| sysroot.join("lib/rustlib").join(TARGET).exists();
    if sysroot.as_deref().is_some_and(installed) {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => {}
        _ => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed; \
             install it by hand"
        ),
    }
}
