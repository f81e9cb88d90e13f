//! The source's layout holds by test, not by care: the host's top-level
//! modules import each other without cycles, and no source file outside
//! tests grows past 600 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the workspace")
        .to_owned()
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found
}

/// The host's top-level modules (`host/src/NAME.rs` or `host/src/NAME/`)
/// and, for each, the others it names as `crate::OTHER`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = workspace().join("host/src");
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if ["lib", "main", "bin"].contains(&name.as_str()) {
            continue;
        }
        let files = if path.is_dir() {
            sources(&path)
        } else {
            vec![path]
        };
        modules.insert(name, files);
    }
    let names: Vec<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(module, files)| {
            let text: String = files
                .iter()
                .map(|f| std::fs::read_to_string(f).unwrap())
                .collect();
            let named = named_modules(&text);
            let uses = names
                .iter()
                .filter(|other| *other != module && named.contains(*other))
                .cloned()
                .collect();
            (module.clone(), uses)
        })
        .collect()
}

/// The top-level modules `text` names through `crate::`: `crate::name`
/// and every first segment inside a `crate::{..}` group.
fn named_modules(text: &str) -> BTreeSet<String> {
    let ident = |rest: &str| -> String {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut named = BTreeSet::new();
    for (at, found) in text.match_indices("crate::") {
        let rest = &text[at + found.len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                // Top-level items of the group: split at commas outside braces.
                let mut depth = 0;
                let mut start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => start = true,
                        c if start && !c.is_whitespace() => {
                            named.insert(ident(&group[i..]));
                            start = false;
                        }
                        _ => {}
                    }
                }
            }
            None => {
                named.insert(ident(rest));
            }
        }
    }
    named
}

/// A cycle through `start`, if there is one: the modules along it.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut path = vec![start.to_owned()];
    let mut seen = BTreeSet::new();
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let here = path.last().unwrap().clone();
        for next in &graph[&here] {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    walk(graph, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn imports_in_groups_are_seen_too() {
    let named =
        named_modules("use crate::{app::Gateway, config::{self, Config}};\nuse crate::ports::Bot;");
    let expected: BTreeSet<String> = ["app", "config", "ports"].map(String::from).into();
    assert_eq!(named, expected);
}

#[test]
fn the_host_s_modules_import_each_other_without_cycles() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the modules were found: {graph:?}");
    assert!(graph["admin"].contains("app"), "the scan sees imports");
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_from(&graph, module))
        .map(|cycle| cycle.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn no_source_file_outside_tests_is_over_600_lines() {
    let root = workspace();
    let mut long: Vec<String> = ["host/src", "lp/src", "sdk/src", "plugins"]
        .iter()
        .map(|dir| root.join(dir))
        .filter(|dir| dir.is_dir())
        .flat_map(|dir| sources(&dir))
        .filter(|file| !file.components().any(|c| c.as_os_str() == "target"))
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file).ok()?.lines().count();
            (lines > 600).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    long.sort();
    assert!(long.is_empty(), "split these:\n{}", long.join("\n"));
}
