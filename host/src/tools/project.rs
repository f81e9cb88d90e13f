//! A plugin project on disk: which language it is written in, its name and
//! the file its component gets, read back from what `plugin new` wrote, and
//! the one error type of `plugin new` and `plugin build`.

use std::path::{Path, PathBuf};

/// The languages a plugin project can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with `switchboard-sdk`; built with cargo.
    Rust,
    /// JavaScript; built with componentize-js.
    Js,
    /// Python; built with componentize-py.
    Python,
}

impl Lang {
    /// The name `--lang` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Js => "js",
            Lang::Python => "python",
        }
    }
}

/// What `plugin new` and `plugin build` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The project name breaks the naming rule.
    #[error(
        "`{name}` cannot name a plugin: {reason} (use 1 to 64 lowercase letters, digits and \
         `-`, starting with a letter, e.g. `mask-pii`)"
    )]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `plugin new` would overwrite something.
    #[error("{0} already exists: choose another name or --dir, or remove it")]
    Exists(PathBuf),
    /// The folder holds no project `plugin new` writes.
    #[error(
        "{0} is not a plugin project: it has no Cargo.toml (Rust), package.json with plugin.js \
         (JavaScript) or app.py (Python); `switchboard plugin new NAME --lang LANG` makes one"
    )]
    NotAProject(PathBuf),
    /// A project file does not say what the build needs.
    #[error("{path}: {reason}")]
    Project {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong, and what to do.
        reason: String,
    },
    /// A program the build needs is not installed.
    #[error("`{program}` was not found: {need}")]
    Missing {
        /// The program.
        program: String,
        /// What needs it and how to get it.
        need: &'static str,
    },
    /// Installing a build tool into the cache failed.
    #[error(
        "installing {what} into {dir} failed (the next build starts the install over):\n{detail}"
    )]
    Install {
        /// The tool and version.
        what: String,
        /// Where it was being installed.
        dir: PathBuf,
        /// The installer's output, or its error.
        detail: String,
    },
    /// The plugin's hooks are not what the contract has.
    #[error("{0}")]
    Hooks(String),
    /// `plugin new` wrote the project, then could not generate what the
    /// contract makes for it (the types or bindings).
    #[error(
        "wrote {dir}, but not what the contract generates for it; `switchboard plugin build {dir}` \
         makes it. {source}"
    )]
    Unfinished {
        /// The project.
        dir: PathBuf,
        /// What failed.
        source: Box<ProjectError>,
    },
    /// A build step failed.
    #[error("{step} failed in {dir}:\n{detail}")]
    Step {
        /// The step (the command run).
        step: String,
        /// The project.
        dir: PathBuf,
        /// Its output, or its error.
        detail: String,
    },
}

impl ProjectError {
    /// An I/O error at `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectError + '_ {
        move |source| ProjectError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Checks a project name: 1 to 64 of `a-z`, `0-9` and `-`, starting with a
/// letter, not ending with `-`: a folder, a crate, an npm package and a
/// Python project may all take it, and so may a plugin file.
pub fn check_name(name: &str) -> Result<(), ProjectError> {
    let bad = |reason| {
        Err(ProjectError::BadName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("it must be 1 to 64 characters long");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("it must start with a lowercase letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("it may hold only lowercase letters, digits and `-`");
    }
    if name.ends_with('-') || name.contains("--") {
        return bad("a `-` must stand between two letters or digits");
    }
    Ok(())
}

/// The file stem of a project's component: its name with `_` for `-`, as
/// cargo names a crate's artifacts (and the gateway names a plugin by its
/// file stem).
pub fn file_stem(name: &str) -> String {
    name.replace('-', "_")
}

/// A project found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    /// Its folder.
    pub dir: PathBuf,
    /// Its language.
    pub lang: Lang,
    /// Its name (from Cargo.toml, package.json or pyproject.toml).
    pub name: String,
}

impl Project {
    /// Reads the project in `dir`: the language from the files present,
    /// the name from its manifest.
    pub fn open(dir: &Path) -> Result<Project, ProjectError> {
        let has = |file: &str| dir.join(file).is_file();
        let (lang, manifest) = if has("Cargo.toml") {
            (Lang::Rust, "Cargo.toml")
        } else if has("package.json") && has("plugin.js") {
            (Lang::Js, "package.json")
        } else if has("app.py") && has("pyproject.toml") {
            (Lang::Python, "pyproject.toml")
        } else if !dir.is_dir() {
            return Err(ProjectError::Io {
                path: dir.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
            });
        } else {
            return Err(ProjectError::NotAProject(dir.to_owned()));
        };
        let path = dir.join(manifest);
        let text = std::fs::read_to_string(&path).map_err(ProjectError::io(&path))?;
        let name = match lang {
            Lang::Js => serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["name"].as_str().map(str::to_owned)),
            Lang::Rust => toml_name(&text, "package"),
            Lang::Python => toml_name(&text, "project"),
        };
        let name = name.ok_or_else(|| ProjectError::Project {
            path: path.clone(),
            reason: "it names no project: the build names the component after it (add `name`)"
                .into(),
        })?;
        Ok(Project {
            dir: dir.to_owned(),
            lang,
            name,
        })
    }

    /// Where the component goes without `--out`: `target/NAME.wasm`.
    pub fn default_output(&self) -> PathBuf {
        self.dir
            .join("target")
            .join(format!("{}.wasm", file_stem(&self.name)))
    }

    /// The folder the build writes what it generates into.
    pub fn build_dir(&self) -> PathBuf {
        self.dir.join("target").join("switchboard")
    }
}

/// The `name` of the `[table]` in a TOML manifest.
fn toml_name(text: &str, table: &str) -> Option<String> {
    let manifest: toml::Table = toml::from_str(text).ok()?;
    Some(manifest.get(table)?.get("name")?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_folder_a_crate_a_package_and_a_file_may_all_take_pass() {
        for good in ["mask-pii", "a", "business-hours2", "x1-y2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Mask", "1st", "-a", "a-", "a--b", "a_b", "a.b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn a_project_is_known_by_its_files_and_named_by_its_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Project::open(dir.path()),
            Err(ProjectError::NotAProject(_))
        ));
        std::fs::write(dir.path().join("app.py"), "").unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"business-hours\"\n",
        )
        .unwrap();
        let project = Project::open(dir.path()).unwrap();
        assert_eq!(project.lang, Lang::Python);
        assert_eq!(
            project.default_output(),
            dir.path().join("target/business_hours.wasm")
        );
    }
}
