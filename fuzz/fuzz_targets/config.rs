//! The configuration loader: any text as switchboard.toml, a connector
//! file and a bot file. Diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::config::{FileKind, check_source};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for kind in [FileKind::Gateway, FileKind::Connector, FileKind::Bot] {
            let _ = check_source(kind, text);
        }
    }
});
