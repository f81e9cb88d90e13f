//! What a plugin author runs on their own machine, behind
//! `switchboard plugin ...`: writing a project, building it, running one
//! hook outside the gateway, and replaying recorded conversations through
//! a new version before it is deployed.
//!
//! Files: `call` (`plugin call`: one hook, a local host, a report) and
//! `replay` (`plugin replay`: transcripts through a new version, compared
//! with the old one or with what was recorded); for `plugin new` and
//! `plugin build`: `project` (a project's language, name and output, and
//! their errors), `new` (writes a project from `templates/rust`, `js` or
//! `python`), `build` (one command from a project to a component),
//! `contract` (the embedded WIT, a project's copy of it, and the `hooks`
//! wrappers generated for JavaScript and Python from `templates/wrappers`)
//! and `toolchain` (componentize-js, jco and componentize-py, installed
//! once at pinned versions into the cache).
//!
//! Owns: the commands' options and reports. May not touch: running
//! connectors; it uses the plugin runtime ([`crate::plugin`]) exactly as
//! the gateway does, with a local host in place of a connector.

pub mod build;
pub mod call;
pub mod contract;
pub mod new;
pub mod project;
pub mod replay;
pub mod toolchain;

use std::path::PathBuf;

/// Where the tools keep what they install and compile between runs:
/// `$SWITCHBOARD_CACHE`, else `$XDG_CACHE_HOME/switchboard`, else
/// `~/.cache/switchboard`.
pub fn cache_root() -> PathBuf {
    let set = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    set("SWITCHBOARD_CACHE")
        .or_else(|| set("XDG_CACHE_HOME").map(|dir| dir.join("switchboard")))
        .or_else(|| set("HOME").map(|home| home.join(".cache/switchboard")))
        .unwrap_or_else(|| PathBuf::from(".switchboard-cache"))
}
