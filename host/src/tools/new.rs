//! `switchboard plugin new NAME --lang rust|js|python [--dir PARENT]`:
//! writes a plugin project from the templates in `templates/`: a sample
//! hook, its test in the language's own runner, a README, and (JavaScript
//! and Python) a copy of the contract with what is generated from it.

use std::path::{Path, PathBuf};

use super::build;
use super::contract::{Contract, WIT};
use super::project::{Lang, Project, ProjectError, check_name, file_stem};

/// The SDK a Rust project depends on without `--sdk`: the one of the
/// checkout this binary was built from.
pub const DEFAULT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

/// The checkout's toolchain file: a Rust project builds with the release
/// the SDK is built with.
const TOOLCHAIN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rust-toolchain.toml"
));

/// One file of a template: where it goes in the project, and its text
/// with `{{...}}` placeholders.
type TemplateFile = (&'static str, &'static str);

const RUST: &[TemplateFile] = &[
    ("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
    (
        "rust-toolchain.toml",
        include_str!("templates/rust/rust-toolchain.toml"),
    ),
    ("src/lib.rs", include_str!("templates/rust/src/lib.rs")),
    ("README.md", include_str!("templates/rust/README.md")),
    (".gitignore", include_str!("templates/rust/gitignore")),
];

const JS: &[TemplateFile] = &[
    ("package.json", include_str!("templates/js/package.json")),
    ("plugin.js", include_str!("templates/js/plugin.js")),
    ("host.js", include_str!("templates/js/host.js")),
    (
        "plugin.test.js",
        include_str!("templates/js/plugin.test.js"),
    ),
    ("jsconfig.json", include_str!("templates/js/jsconfig.json")),
    ("README.md", include_str!("templates/js/README.md")),
    (".gitignore", include_str!("templates/js/gitignore")),
    ("wit/connector.wit", WIT),
];

const PYTHON: &[TemplateFile] = &[
    (
        "pyproject.toml",
        include_str!("templates/python/pyproject.toml"),
    ),
    ("app.py", include_str!("templates/python/app.py")),
    ("test_app.py", include_str!("templates/python/test_app.py")),
    ("README.md", include_str!("templates/python/README.md")),
    (".gitignore", include_str!("templates/python/gitignore")),
    ("wit/connector.wit", WIT),
];

/// What to write.
#[derive(Clone, Debug)]
pub struct NewOptions {
    /// The project's name, and its folder's.
    pub name: String,
    /// Its language.
    pub lang: Lang,
    /// The folder to make it in.
    pub parent: PathBuf,
    /// The switchboard-sdk a Rust project depends on (default [`DEFAULT_SDK`]).
    pub sdk: Option<PathBuf>,
}

/// A project written.
#[derive(Clone, Debug)]
pub struct NewProject {
    /// The project.
    pub project: Project,
    /// Its files, relative to its folder.
    pub files: Vec<PathBuf>,
}

impl NewProject {
    /// What `plugin new` prints.
    pub fn summary(&self) -> String {
        let dir = self.project.dir.display();
        let test = match self.project.lang {
            Lang::Rust => "cargo test",
            Lang::Js => "node --test",
            Lang::Python => "python -m unittest",
        };
        let mut text = format!("wrote {dir} ({}):\n", self.project.lang.as_str());
        for file in &self.files {
            text.push_str(&format!("  {}\n", file.display()));
        }
        text.push_str(&format!(
            "test it:  cd {dir} && {test}\nbuild it: switchboard plugin build {dir}\n"
        ));
        text
    }
}

/// Writes the project, then (JavaScript and Python) what the contract
/// generates for it, installing the build tools if they are not yet.
pub fn new_project(
    options: &NewOptions,
    progress: &dyn Fn(&str),
) -> Result<NewProject, ProjectError> {
    check_name(&options.name)?;
    let dir = options.parent.join(&options.name);
    if dir.exists() {
        return Err(ProjectError::Exists(dir));
    }
    let contract = Contract::built_in();
    let mut values = vec![
        ("name", options.name.clone()),
        ("file", file_stem(&options.name)),
        ("contract", contract.version.clone()),
    ];
    let templates = match options.lang {
        Lang::Rust => {
            let sdk = sdk_dir(options.sdk.as_deref())?;
            values.push(("sdk", sdk.display().to_string()));
            values.push((
                "sdk_toml",
                toml::Value::String(sdk.display().to_string()).to_string(),
            ));
            values.push(("type", type_name(&options.name)));
            values.push(("toolchain", toolchain_channel()));
            RUST
        }
        Lang::Js => JS,
        Lang::Python => PYTHON,
    };
    let mut files = Vec::new();
    for (relative, template) in templates {
        let path = dir.join(relative);
        let parent = path.parent().expect("a template file sits in a folder");
        std::fs::create_dir_all(parent).map_err(ProjectError::io(parent))?;
        let text = values
            .iter()
            .fold(template.to_string(), |text, (key, value)| {
                text.replace(&format!("{{{{{key}}}}}"), value)
            });
        std::fs::write(&path, text).map_err(ProjectError::io(&path))?;
        files.push(PathBuf::from(relative));
    }
    let project = Project {
        dir,
        lang: options.lang,
        name: options.name.clone(),
    };
    let generated = match options.lang {
        Lang::Rust => None,
        Lang::Js => Some(build::js_types(&project, progress)),
        Lang::Python => Some(build::python_bindings(&project, progress)),
    };
    if let Some(generated) = generated {
        files.push(generated.map_err(|source| ProjectError::Unfinished {
            dir: project.dir.clone(),
            source: Box::new(source),
        })?);
    }
    Ok(NewProject { project, files })
}

/// The SDK folder, checked to be one.
fn sdk_dir(given: Option<&Path>) -> Result<PathBuf, ProjectError> {
    let dir = given.unwrap_or(Path::new(DEFAULT_SDK));
    let manifest = dir.join("Cargo.toml");
    let is_sdk = std::fs::read_to_string(&manifest)
        .is_ok_and(|text| text.contains("name = \"switchboard-sdk\""));
    if !is_sdk {
        return Err(ProjectError::Project {
            path: dir.to_owned(),
            reason: "not the switchboard-sdk crate (its Cargo.toml names no switchboard-sdk): \
                     pass the sdk/ folder of a switchboard checkout with --sdk PATH"
                .into(),
        });
    }
    std::fs::canonicalize(dir).map_err(ProjectError::io(dir))
}

/// The Rust type of a plugin named `name`: `mask-pii` → `MaskPii`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The release the checkout's rust-toolchain.toml names.
fn toolchain_channel() -> String {
    let file: toml::Table = toml::from_str(TOOLCHAIN).expect("rust-toolchain.toml is TOML");
    file["toolchain"]["channel"]
        .as_str()
        .expect("rust-toolchain.toml names its channel")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rust_project_names_its_type_sdk_and_toolchain() {
        let parent = tempfile::tempdir().unwrap();
        let options = NewOptions {
            name: "mask-pii".into(),
            lang: Lang::Rust,
            parent: parent.path().to_owned(),
            sdk: None,
        };
        let made = new_project(&options, &|_| {}).unwrap();
        let lib = std::fs::read_to_string(made.project.dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("impl Plugin for MaskPii"), "{lib}");
        let manifest = std::fs::read_to_string(made.project.dir.join("Cargo.toml")).unwrap();
        let sdk = std::fs::canonicalize(DEFAULT_SDK).unwrap();
        assert!(manifest.contains(&format!("path = \"{}\"", sdk.display())));
        let toolchain =
            std::fs::read_to_string(made.project.dir.join("rust-toolchain.toml")).unwrap();
        assert!(toolchain.contains(&format!("channel = \"{}\"", toolchain_channel())));
        assert_eq!(Project::open(&made.project.dir).unwrap(), made.project);
        for file in &made.files {
            let text = std::fs::read_to_string(made.project.dir.join(file)).unwrap();
            assert!(
                !text.contains("{{"),
                "{} keeps a placeholder",
                file.display()
            );
        }

        let again = new_project(&options, &|_| {}).unwrap_err();
        assert!(matches!(again, ProjectError::Exists(_)), "{again}");
        let elsewhere = NewOptions {
            sdk: Some(parent.path().to_owned()),
            name: "other".into(),
            ..options
        };
        let error = new_project(&elsewhere, &|_| {}).unwrap_err().to_string();
        assert!(error.contains("--sdk PATH"), "{error}");
    }
}
