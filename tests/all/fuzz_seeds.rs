//! The fuzz targets' entry points (see `fuzz/`) run on their seed corpora
//! and on malformed variants in the ordinary test run, so a regression in
//! what they accept shows up without a fuzzing session.

use std::path::Path;

use switchboard::config::{FileKind, check_source};

fn seeds(target: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    // Truncations and byte flips of every seed, the fuzzer's first moves.
    let mut variants = Vec::new();
    for text in &texts {
        for cut in (0..text.len()).step_by(7) {
            if text.is_char_boundary(cut) {
                variants.push(text[..cut].to_owned());
            }
        }
        variants.push(text.replace('"', "'"));
        variants.push(text.replace("1", "-1"));
    }
    texts.extend(variants);
    texts
}

#[test]
fn agent_frames_never_panic() {
    for text in seeds("agent_frames") {
        let _ = switchboard::messaging::notification_events(&text, "123.bot");
        switchboard::hub::fuzzing::agent_frame(&text);
    }
}

#[test]
fn consumer_frames_never_panic() {
    for text in seeds("consumer_frames") {
        switchboard::hub::fuzzing::consumer_frame(&text);
    }
}

#[test]
fn admin_bodies_never_panic() {
    for text in seeds("admin_bodies") {
        switchboard::admin::fuzzing::connector_body(text.as_bytes());
    }
}

#[test]
fn configuration_text_never_panics_and_the_seeds_are_valid() {
    for text in seeds("config") {
        for kind in [FileKind::Gateway, FileKind::Connector, FileKind::Bot] {
            let _ = check_source(kind, &text);
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/config");
    let connector = std::fs::read_to_string(dir.join("connector.toml")).unwrap();
    let errors: Vec<_> = check_source(FileKind::Connector, &connector)
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
