//! `switchboard plugin build DIR [--out FILE.wasm]`: one command from a
//! project to a component, whatever its language. Rust goes through cargo
//! (`cargo build --target wasm32-wasip2 --release`); JavaScript through
//! componentize-js and Python through componentize-py, each fed a `hooks`
//! wrapper generated from the project's contract (see [`super::contract`])
//! around the author's module. JavaScript's TypeScript declarations and
//! Python's bindings are written anew on the way.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::contract::Contract;
use super::project::{Lang, Project, ProjectError};
use super::toolchain::{self, JsTools, PyTools};

/// The target Rust plugins are built for.
const RUST_TARGET: &str = "wasm32-wasip2";

/// A component built.
#[derive(Clone, Debug)]
pub struct Built {
    /// The project it was built from.
    pub project: Project,
    /// The component.
    pub file: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long the build took (tool installs included).
    pub took: Duration,
}

impl Built {
    /// What `plugin build` prints.
    pub fn summary(&self) -> String {
        format!(
            "built {} ({:.1} MB) from {} ({}) in {:.1} s\n",
            self.file.display(),
            self.bytes as f64 / 1e6,
            self.project.dir.display(),
            self.project.lang.as_str(),
            self.took.as_secs_f64()
        )
    }
}

/// Builds the project in `dir` into `out` (default: `target/NAME.wasm` in
/// the project). `progress` hears each long step before it starts.
pub fn build(
    dir: &Path,
    out: Option<&Path>,
    progress: &dyn Fn(&str),
) -> Result<Built, ProjectError> {
    let started = Instant::now();
    // Absolute and resolved: the tools run in the project's folder, and
    // componentize-js maps files by their place under it.
    let dir = std::fs::canonicalize(dir).map_err(ProjectError::io(dir))?;
    let project = Project::open(&dir)?;
    let out = match out {
        Some(out) => std::path::absolute(out).map_err(ProjectError::io(out))?,
        None => project.default_output(),
    };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(ProjectError::io(parent))?;
    }
    match project.lang {
        Lang::Rust => rust(&project, &out, progress)?,
        Lang::Js => js(&project, &out, progress)?,
        Lang::Python => python(&project, &out, progress)?,
    }
    let bytes = std::fs::metadata(&out)
        .map_err(ProjectError::io(&out))?
        .len();
    Ok(Built {
        project,
        file: out,
        bytes,
        took: started.elapsed(),
    })
}

/// cargo, then the `.wasm` cargo says it made, copied to `out`.
fn rust(project: &Project, out: &Path, progress: &dyn Fn(&str)) -> Result<(), ProjectError> {
    ensure_rust_target(&project.dir)?;
    progress(&format!(
        "building {} with cargo ({RUST_TARGET}, release)",
        project.name
    ));
    let step = format!("cargo build --target {RUST_TARGET} --release");
    // cargo's own progress and errors go to the terminal as they come; its
    // messages on stdout say where the component is.
    let output = Command::new("cargo")
        .args(["build", "--target", RUST_TARGET, "--release"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(&project.dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| ProjectError::Step {
            step: step.clone(),
            dir: project.dir.clone(),
            detail: format!("cargo did not start ({error}): install Rust with rustup"),
        })?;
    if !output.status.success() {
        return Err(ProjectError::Step {
            step,
            dir: project.dir.clone(),
            detail: "cargo's errors are above".into(),
        });
    }
    let component = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"))
        })
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|file| file.as_str().map(PathBuf::from))
        .rfind(|file| file.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| ProjectError::Project {
            path: project.dir.join("Cargo.toml"),
            reason: "cargo built no component: a plugin crate needs `crate-type = [\"cdylib\"]` \
                     under [lib]"
                .into(),
        })?;
    std::fs::copy(&component, out).map_err(ProjectError::io(out))?;
    Ok(())
}

/// Adds the wasm target to the project's toolchain if it lacks it.
fn ensure_rust_target(dir: &Path) -> Result<(), ProjectError> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let Some(sysroot) = sysroot else {
        return Err(ProjectError::Missing {
            program: "rustc".into(),
            need: "Rust plugins are built with Rust and cargo: install them with rustup",
        });
    };
    if sysroot.join("lib/rustlib").join(RUST_TARGET).is_dir() {
        return Ok(());
    }
    toolchain::run(
        Command::new("rustup")
            .args(["target", "add", RUST_TARGET])
            .current_dir(dir),
    )
    .map(drop)
    .map_err(|detail| ProjectError::Step {
        step: format!("rustup target add {RUST_TARGET} (the target is missing)"),
        dir: dir.to_owned(),
        detail,
    })
}

/// The types, the wrapper, then componentize-js.
fn js(project: &Project, out: &Path, progress: &dyn Fn(&str)) -> Result<(), ProjectError> {
    let contract = Contract::of_project(&project.dir)?;
    let wrapper = contract.js_wrapper(project.dir.join("host.js").is_file())?;
    let tools = toolchain::js(progress)?;
    write_types(project, &tools)?;
    let source = write_generated(project, "hooks.js", &wrapper)?;
    progress(&format!(
        "building {} with componentize-js {}",
        project.name,
        toolchain::COMPONENTIZE_JS_VERSION
    ));
    let mut node = Command::new("node");
    node.arg(tools.driver()?)
        .arg(&source)
        .arg(project.dir.join("wit"))
        .arg(out)
        .current_dir(&project.dir);
    componentize(project, &mut node, "componentize-js")
}

/// The bindings, the wrapper, then componentize-py.
fn python(project: &Project, out: &Path, progress: &dyn Fn(&str)) -> Result<(), ProjectError> {
    let contract = Contract::of_project(&project.dir)?;
    let wrapper = contract.python_wrapper()?;
    let tools = toolchain::python(progress)?;
    write_bindings(project, &tools)?;
    write_generated(project, "switchboard_hooks.py", &wrapper)?;
    progress(&format!(
        "building {} with componentize-py {}",
        project.name,
        toolchain::COMPONENTIZE_PY_VERSION
    ));
    let mut componentize_py = Command::new(tools.componentize_py());
    componentize_py
        .args(["--quiet", "-d", "wit", "-w", "plugin", "componentize"])
        .arg("switchboard_hooks")
        .arg("-p")
        .arg(project.build_dir())
        .arg("-p")
        .arg(&project.dir)
        .arg("-o")
        .arg(out)
        .current_dir(&project.dir);
    componentize(project, &mut componentize_py, "componentize-py")
}

/// Runs a componentize command; a wrapper's message (a hook misnamed)
/// is the error alone, anything else comes with the tool's output.
fn componentize(project: &Project, command: &mut Command, tool: &str) -> Result<(), ProjectError> {
    toolchain::run(command)
        .map(drop)
        .map_err(|detail| match toolchain::wrapper_message(&detail) {
            Some(message) => ProjectError::Hooks(format!("{}: {message}", project.dir.display())),
            None => ProjectError::Step {
                step: tool.to_owned(),
                dir: project.dir.clone(),
                detail,
            },
        })
}

/// Writes `name` into the project's generated folder: its path.
fn write_generated(project: &Project, name: &str, text: &str) -> Result<PathBuf, ProjectError> {
    let dir = project.build_dir();
    std::fs::create_dir_all(&dir).map_err(ProjectError::io(&dir))?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(ProjectError::io(&path))?;
    Ok(path)
}

/// Writes `types/` of a JavaScript project (installing the tools first
/// if needed): its path relative to the project.
pub fn js_types(project: &Project, progress: &dyn Fn(&str)) -> Result<PathBuf, ProjectError> {
    write_types(project, &toolchain::js(progress)?)
}

fn write_types(project: &Project, tools: &JsTools) -> Result<PathBuf, ProjectError> {
    let types = PathBuf::from("types");
    regenerate(project, &types, |dir| {
        let mut jco = Command::new(tools.jco());
        jco.args([
            "guest-types",
            "wit",
            "--world-name",
            "plugin",
            "--quiet",
            "-o",
        ])
        .arg(dir)
        .current_dir(&project.dir);
        jco
    })?;
    Ok(types)
}

/// Writes `bindings/` of a Python project (installing the tools first if
/// needed): its path relative to the project.
pub fn python_bindings(
    project: &Project,
    progress: &dyn Fn(&str),
) -> Result<PathBuf, ProjectError> {
    write_bindings(project, &toolchain::python(progress)?)
}

fn write_bindings(project: &Project, tools: &PyTools) -> Result<PathBuf, ProjectError> {
    let bindings = PathBuf::from("bindings");
    regenerate(project, &bindings, |dir| {
        let mut componentize_py = Command::new(tools.componentize_py());
        componentize_py
            .args(["--quiet", "-d", "wit", "-w", "plugin", "bindings"])
            .arg(dir)
            .current_dir(&project.dir);
        componentize_py
    })?;
    Ok(bindings)
}

/// Empties the generated folder `relative` of the project, then runs the
/// command `make` gives for it.
fn regenerate(
    project: &Project,
    relative: &Path,
    make: impl FnOnce(&Path) -> Command,
) -> Result<(), ProjectError> {
    let dir = project.dir.join(relative);
    match std::fs::remove_dir_all(&dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(ProjectError::Io {
                path: dir,
                source: error,
            });
        }
        _ => {}
    }
    let mut command = make(relative);
    toolchain::run(&mut command)
        .map(drop)
        .map_err(|detail| ProjectError::Step {
            step: format!("generating {} from wit/connector.wit", relative.display()),
            dir: project.dir.clone(),
            detail,
        })
}
