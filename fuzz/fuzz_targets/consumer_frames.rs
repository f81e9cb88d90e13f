//! Consumer-side frames: what the hub reads from a consumer's socket; and
//! that the one-pass frame reader reads each as the two-pass one does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(lp::ConsumerServerFrame::parse(text), lp::ConsumerServerFrame::parse_in_two_passes(text));
        assert_eq!(lp::ConsumerClientFrame::parse(text), lp::ConsumerClientFrame::parse_in_two_passes(text));
        switchboard::hub::fuzzing::consumer_frame(text);
    }
});
