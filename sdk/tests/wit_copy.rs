//! The SDK binds its own copy of the contract (`sdk/wit/connector.wit`), so
//! that the crate builds as a package of its own; the contract itself lives
//! in the workspace's `wit/connector.wit`, which the host links. This test
//! fails when the two differ, so a change to the contract cannot leave the
//! SDK behind.
//!
//! It reads the workspace's file, which a packaged copy of the SDK does not
//! have: the package leaves this test out (`exclude` in `sdk/Cargo.toml`).

use std::path::Path;

#[test]
fn the_sdk_s_copy_of_the_contract_is_the_contract() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy_path = sdk.join("wit/connector.wit");
    let contract_path = sdk.join("../wit/connector.wit");
    let read = |path: &Path| {
        std::fs::read_to_string(path).unwrap_or_else(|error| {
            panic!(
                "cannot read {}: {error}; this test runs in the switchboard workspace",
                path.display()
            )
        })
    };
    let (copy, contract) = (read(&copy_path), read(&contract_path));
    if copy == contract {
        return;
    }
    let first_difference = copy
        .lines()
        .zip(contract.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| copy.lines().count().min(contract.lines().count()));
    panic!(
        "sdk/wit/connector.wit differs from the contract wit/connector.wit (first at line {}).\n\
         The SDK must bind the contract the host links: from the workspace root run\n\
         \n    cp wit/connector.wit sdk/wit/connector.wit\n\n\
         then build the SDK and plugins again (a new hook needs a Plugin method too).",
        first_difference + 1
    );
}
