//! Consumer-side frames: what the hub reads from a consumer's socket.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        switchboard::hub::fuzzing::consumer_frame(text);
    }
});
