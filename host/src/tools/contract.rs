//! The contract as the project tools see it: the WIT this binary was built
//! with (every new project gets a copy), what a project's own copy says
//! (its version and its hooks), and the `hooks` wrappers generated from
//! those hooks for JavaScript and Python, whose hook list is what the
//! author's module defines.

use std::path::Path;

use super::project::ProjectError;

/// The contract this binary was built with: `wit/connector.wit`.
pub const WIT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/connector.wit"));

/// Every hook the tools know, in any contract version that has it: its
/// name in the contract, its parameters after `conv`, and its default in
/// JavaScript and Python (what the gateway does without a plugin).
struct KnownHook {
    name: &'static str,
    params: &'static [&'static str],
    js_default: &'static str,
    py_default: &'static str,
}

const KNOWN_HOOKS: &[KnownHook] = &[
    KnownHook {
        name: "conversation-start",
        params: &["greeting"],
        js_default: "greeting",
        py_default: "greeting",
    },
    KnownHook {
        name: "step-up",
        params: &["text"],
        js_default: "text",
        py_default: "text",
    },
    KnownHook {
        name: "consumer-message",
        params: &["text"],
        js_default: "({ tag: 'forward' })",
        py_default: "types.ConsumerAction_Forward()",
    },
    KnownHook {
        name: "bot-message",
        params: &["messages"],
        js_default: "messages",
        py_default: "messages",
    },
    KnownHook {
        name: "bot-error",
        params: &["text", "failure"],
        js_default: "({ tag: 'default-behaviour' })",
        py_default: "types.FailureAction_DefaultBehaviour()",
    },
    KnownHook {
        name: "conversation-end",
        params: &["reason"],
        js_default: "undefined",
        py_default: "None",
    },
];

/// What a copy of the contract says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    /// The package version, e.g. `0.2.0`.
    pub version: String,
    /// The cases of its `hook` enum, in order (`consumer-message`, ...).
    pub hooks: Vec<String>,
}

impl Contract {
    /// Reads `wit/connector.wit` of the project in `dir`.
    pub fn of_project(dir: &Path) -> Result<Contract, ProjectError> {
        let path = dir.join("wit").join("connector.wit");
        let text = std::fs::read_to_string(&path).map_err(ProjectError::io(&path))?;
        Contract::parse(&text).map_err(|reason| ProjectError::Project {
            path,
            reason: format!("{reason}; `switchboard plugin new` writes a good copy"),
        })
    }

    /// The contract this binary was built with.
    pub fn built_in() -> Contract {
        Contract::parse(WIT).expect("wit/connector.wit declares its package and hooks")
    }

    /// Reads the package version and the `hook` enum of a WIT text.
    pub fn parse(text: &str) -> Result<Contract, String> {
        let version = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("package switchboard:connector@"))
            .and_then(|rest| rest.strip_suffix(';'))
            .ok_or("it declares no `package switchboard:connector@VERSION;`")?
            .to_owned();
        let start = text
            .find("enum hook {")
            .ok_or("it has no `enum hook { ... }`")?;
        let body = &text[start + "enum hook {".len()..];
        let body = &body[..body.find('}').ok_or("its `enum hook` is not closed")?];
        // Comments may stand between the cases.
        let body: String = body
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        let hooks: Vec<String> = body
            .split(',')
            .map(|case| case.trim().to_owned())
            .filter(|case| !case.is_empty())
            .collect();
        if hooks.is_empty() {
            return Err("its `enum hook` names no hook".into());
        }
        Ok(Contract { version, hooks })
    }

    fn known_hooks(&self, path: &str) -> Result<Vec<&'static KnownHook>, ProjectError> {
        self.hooks
            .iter()
            .map(|hook| {
                KNOWN_HOOKS.iter().find(|k| k.name == hook).ok_or_else(|| {
                    ProjectError::Hooks(format!(
                        "{path} (switchboard:connector@{}) has hook `{hook}`, which this \
                         switchboard does not know: build with the switchboard the contract \
                         came from, or a newer one",
                        self.version
                    ))
                })
            })
            .collect()
    }

    /// The JavaScript module exporting `hooks`, made from what plugin.js
    /// exports. It sits in `target/switchboard/`; `with_host` wires
    /// host.js to the contract's host imports.
    pub fn js_wrapper(&self, with_host: bool) -> Result<String, ProjectError> {
        let mut hooks = String::new();
        for hook in self.known_hooks("wit/connector.wit")? {
            let params = std::iter::once("conv")
                .chain(hook.params.iter().copied())
                .collect::<Vec<_>>()
                .join(", ");
            hooks.push_str(&format!(
                "  ['{}', '{}', ({params}) => {}],\n",
                js_name(hook.name),
                hook.name,
                hook.js_default
            ));
        }
        let host = if with_host {
            format!(
                "import * as witHost from 'switchboard:connector/host@{}';\n\
                 import {{ useHost }} from '../../host.js';\n\n\
                 // plugin.js reaches the host through host.js (so its tests can set\n\
                 // one of their own); here it is the gateway's.\n\
                 useHost(witHost);\n",
                self.version
            )
        } else {
            String::new()
        };
        Ok(include_str!("templates/wrappers/hooks.js")
            .replace("{{host}}", &host)
            .replace("{{hooks}}", &hooks)
            .replace("{{contract}}", &self.version))
    }

    /// The Python module defining `Hooks`, made from what app.py defines.
    pub fn python_wrapper(&self) -> Result<String, ProjectError> {
        let (mut hooks, mut methods) = (String::new(), String::new());
        for hook in self.known_hooks("wit/connector.wit")? {
            let name = format!("on_{}", hook.name.replace('-', "_"));
            let params = std::iter::once("conv")
                .chain(hook.params.iter().copied())
                .collect::<Vec<_>>()
                .join(", ");
            hooks.push_str(&format!(
                "    (\"{name}\", types.Hook.{}, lambda {params}: {}),\n",
                hook.name.replace('-', "_").to_uppercase(),
                hook.py_default
            ));
            methods.push_str(&format!(
                "    def {name}(self, {params}):\n        return _CHOSEN[\"{name}\"]({params})\n\n"
            ));
        }
        Ok(include_str!("templates/wrappers/hooks.py")
            .replace("{{hooks}}", &hooks)
            .replace("{{methods}}", methods.trim_end())
            .replace("{{contract}}", &self.version))
    }
}

/// A hook's export name in JavaScript: `consumer-message` → `onConsumerMessage`.
pub fn js_name(hook: &str) -> String {
    let mut name = String::from("on");
    for word in hook.split('-') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_contract_names_its_version_and_every_hook_the_tools_know() {
        let contract = Contract::built_in();
        assert!(!contract.version.is_empty());
        assert_eq!(contract.hooks.len(), KNOWN_HOOKS.len());
        assert!(contract.js_wrapper(true).is_ok());
        assert!(contract.python_wrapper().is_ok());
    }

    #[test]
    fn wrappers_name_each_hook_with_its_default() {
        let contract = Contract::parse(
            "package switchboard:connector@0.1.0;\nenum hook { conversation-start, consumer-message }",
        )
        .unwrap();
        let js = contract.js_wrapper(false).unwrap();
        assert!(js.contains(
            "['onConsumerMessage', 'consumer-message', (conv, text) => ({ tag: 'forward' })]"
        ));
        assert!(!js.contains("useHost") && !js.contains("onBotError") && !js.contains("{{"));
        let py = contract.python_wrapper().unwrap();
        assert!(py.contains(
            "(\"on_conversation_start\", types.Hook.CONVERSATION_START, lambda conv, greeting: greeting)"
        ));
        assert!(py.contains("    def on_consumer_message(self, conv, text):\n        return _CHOSEN[\"on_consumer_message\"](conv, text)"));
        assert!(py.contains("switchboard:connector@0.1.0") && !py.contains("{{"));
    }

    #[test]
    fn a_hook_the_tools_do_not_know_is_refused_by_name() {
        let contract =
            Contract::parse("package switchboard:connector@0.9.0;\nenum hook { step-up, on-fire }")
                .unwrap();
        let error = contract.js_wrapper(true).unwrap_err().to_string();
        assert!(
            error.contains("`on-fire`") && error.contains("0.9.0"),
            "{error}"
        );
    }

    #[test]
    fn js_names_are_camel_case() {
        assert_eq!(js_name("consumer-message"), "onConsumerMessage");
        assert_eq!(js_name("step-up"), "onStepUp");
    }
}
