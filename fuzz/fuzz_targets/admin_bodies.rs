//! The admin API's request bodies: connector documents (JSON) turned into
//! connector files and checked, as `POST` and `PUT /api/connectors` do.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    switchboard::admin::fuzzing::connector_body(data);
});
