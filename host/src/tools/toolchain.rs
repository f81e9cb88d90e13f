//! The tools that turn JavaScript and Python into components, installed on
//! first use at pinned versions into the cache (`toolchains/` under
//! [`super::cache_root`]), and the running of every build command with its
//! output kept for the error that names it.
//!
//! An install holds a file lock beside its folder, so concurrent builds
//! install once, and writes an `installed` mark last, so an install cut
//! short is started over by the next build.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

use super::project::ProjectError;

/// `@bytecodealliance/componentize-js`: JavaScript to a component.
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";
/// `@bytecodealliance/jco`: TypeScript declarations from the WIT (guest-types).
pub const JCO_VERSION: &str = "1.35.0";
/// `@bytecodealliance/preview2-shim`, pinned under jco: from 0.26 on the
/// shim opens no folder unless told to, and jco's guest-types does not
/// tell it, so it cannot read any WIT ("No such file or directory"). 0.25
/// opens `/` as jco expects.
pub const PREVIEW2_SHIM_VERSION: &str = "0.25.0";
/// `componentize-py` (PyPI): Python to a component, and its bindings.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The folder every toolchain is installed in.
pub fn toolchains_dir() -> PathBuf {
    super::cache_root().join("toolchains")
}

/// The JavaScript toolchain: an npm project holding componentize-js and jco.
#[derive(Clone, Debug)]
pub struct JsTools {
    /// Its folder (with `node_modules/`).
    pub dir: PathBuf,
}

/// The Python toolchain: a virtual environment holding componentize-py.
#[derive(Clone, Debug)]
pub struct PyTools {
    /// Its folder (the virtual environment).
    pub dir: PathBuf,
}

/// The JavaScript toolchain, installed first if it is not yet.
pub fn js(progress: &dyn Fn(&str)) -> Result<JsTools, ProjectError> {
    require(
        "node",
        "JavaScript plugins are built with Node.js (18 or newer, with npm)",
    )?;
    require(
        "npm",
        "JavaScript plugins are built with tools installed by npm (it comes with Node.js)",
    )?;
    let name = format!(
        "js-componentize-js-{COMPONENTIZE_JS_VERSION}-jco-{JCO_VERSION}-shim-{PREVIEW2_SHIM_VERSION}"
    );
    let what = format!(
        "@bytecodealliance/componentize-js {COMPONENTIZE_JS_VERSION} and @bytecodealliance/jco {JCO_VERSION}"
    );
    let dir = installed(&name, &what, progress, |dir| {
        let package = serde_json::json!({
            "name": "switchboard-js-toolchain",
            "private": true,
            "description": "The tools `switchboard plugin build` builds JavaScript plugins with",
            "dependencies": {
                "@bytecodealliance/componentize-js": COMPONENTIZE_JS_VERSION,
                "@bytecodealliance/jco": JCO_VERSION,
            },
            "overrides": { "@bytecodealliance/preview2-shim": PREVIEW2_SHIM_VERSION },
        });
        let path = dir.join("package.json");
        std::fs::write(&path, format!("{package:#}\n"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir);
        run(&mut npm).map(drop)
    })?;
    Ok(JsTools { dir })
}

impl JsTools {
    /// The script that runs componentize-js's `componentize()` (it lives
    /// here, where `@bytecodealliance/componentize-js` resolves), named by
    /// its content so that a newer switchboard writes its own beside it.
    pub fn driver(&self) -> Result<PathBuf, ProjectError> {
        let script = include_str!("templates/wrappers/componentize.mjs");
        let digest = Sha256::digest(script.as_bytes());
        let tag: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let path = self.dir.join(format!("switchboard-componentize-{tag}.mjs"));
        if !path.is_file() {
            crate::store::write_atomically(&path, script.as_bytes())
                .map_err(ProjectError::io(&path))?;
        }
        Ok(path)
    }

    /// jco's command-line entry.
    pub fn jco(&self) -> PathBuf {
        self.dir.join("node_modules/.bin/jco")
    }
}

/// The Python toolchain, installed first if it is not yet.
pub fn python(progress: &dyn Fn(&str)) -> Result<PyTools, ProjectError> {
    require(
        "python3",
        "Python plugins are built with componentize-py, installed into a virtual environment \
         by Python 3 (with its venv module)",
    )?;
    let name = format!("py-componentize-py-{COMPONENTIZE_PY_VERSION}");
    let what = format!("componentize-py {COMPONENTIZE_PY_VERSION}");
    let dir = installed(&name, &what, progress, |dir| {
        run(Command::new("python3").args(["-m", "venv"]).arg(dir))?;
        run(Command::new(dir.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("componentize-py=={COMPONENTIZE_PY_VERSION}"),
        ]))
        .map(drop)
    })?;
    Ok(PyTools { dir })
}

impl PyTools {
    /// The `componentize-py` command.
    pub fn componentize_py(&self) -> PathBuf {
        self.dir.join("bin/componentize-py")
    }
}

/// The toolchain `name` in the cache, installed by `install` (into an
/// empty folder) unless a finished install is there.
fn installed(
    name: &str,
    what: &str,
    progress: &dyn Fn(&str),
    install: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, ProjectError> {
    let root = toolchains_dir();
    std::fs::create_dir_all(&root).map_err(ProjectError::io(&root))?;
    let dir = root.join(name);
    let lock_path = root.join(format!("{name}.lock"));
    let lock = std::fs::File::create(&lock_path).map_err(ProjectError::io(&lock_path))?;
    // Held until the install is done: another build waits here, then
    // finds the mark and installs nothing.
    lock.lock().map_err(ProjectError::io(&lock_path))?;
    let done = dir.join("installed");
    if done.is_file() {
        return Ok(dir);
    }
    progress(&format!(
        "installing {what} into {} (once; later builds reuse it)",
        dir.display()
    ));
    let failed = |detail: String| ProjectError::Install {
        what: what.to_owned(),
        dir: dir.clone(),
        detail,
    };
    match std::fs::remove_dir_all(&dir) {
        Err(error) if error.kind() != ErrorKind::NotFound => {
            return Err(failed(format!("clearing a half-done install: {error}")));
        }
        _ => {}
    }
    std::fs::create_dir_all(&dir).map_err(|e| failed(e.to_string()))?;
    install(&dir).map_err(failed)?;
    std::fs::write(&done, what).map_err(ProjectError::io(&done))?;
    Ok(dir)
}

/// Fails naming `program` and what needs it when it cannot be started.
fn require(program: &str, need: &'static str) -> Result<(), ProjectError> {
    let started = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match started {
        Err(error) if error.kind() == ErrorKind::NotFound => Err(ProjectError::Missing {
            program: program.to_owned(),
            need,
        }),
        _ => Ok(()),
    }
}

/// Runs `command` to its end with its output kept: the output if it
/// succeeded, else what it printed (the last lines) or why it did not start.
pub fn run(command: &mut Command) -> Result<Output, String> {
    let shown = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("{shown} did not start: {error}"))?;
    if output.status.success() {
        return Ok(output);
    }
    Err(format!(
        "{shown} exited with {}:\n{}",
        output.status,
        printed(&output)
    ))
}

/// What a command printed, stdout then stderr, cut to its last 60 lines.
pub fn printed(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(60);
    let mut kept = lines[from..].join("\n");
    if from > 0 {
        kept.insert_str(0, &format!("[{from} earlier lines left out]\n"));
    }
    kept
}

/// The message a generated wrapper stopped the build with, if `text` holds
/// one (it starts with `[switchboard] `).
pub fn wrapper_message(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let at = line.find("[switchboard] ")?;
        Some(line[at + "[switchboard] ".len()..].trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapper_s_message_is_found_among_the_tool_s_lines() {
        let text = "Traceback (most recent call last):\n  File x\nRuntimeError: [switchboard] app.py defines `on_x`, which is no hook\n\nCaused by: ...";
        assert_eq!(
            wrapper_message(text).as_deref(),
            Some("app.py defines `on_x`, which is no hook")
        );
        assert_eq!(wrapper_message("error: something else"), None);
    }

    #[test]
    fn a_failed_command_names_itself_and_shows_what_it_printed() {
        let error =
            run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"])).unwrap_err();
        assert!(
            error.contains("\"sh\"") && error.contains("exit status: 3"),
            "{error}"
        );
        assert!(error.contains("out\nerr"), "{error}");
        let error = run(&mut Command::new("surely-no-such-program-here")).unwrap_err();
        assert!(error.contains("did not start"), "{error}");
    }
}
