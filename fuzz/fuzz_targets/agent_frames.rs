//! Agent-side frames: what a connector reads from the platform (the
//! client's translation into events) and what the hub reads from an agent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = switchboard::messaging::notification_events(text, "123.bot");
        switchboard::hub::fuzzing::agent_frame(text);
    }
});
