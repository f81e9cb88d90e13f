//! Agent-side frames: what a connector reads from the platform (the
//! client's translation into events) and what the hub reads from an agent;
//! and that the one-pass frame reader reads each as the two-pass one does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(lp::AgentServerFrame::parse(text), lp::AgentServerFrame::parse_in_two_passes(text));
        assert_eq!(lp::AgentClientFrame::parse(text), lp::AgentClientFrame::parse_in_two_passes(text));
        let _ = switchboard::messaging::notification_events(text, "123.bot");
        switchboard::hub::fuzzing::agent_frame(text);
    }
});
