//! Entry points for `cargo fuzz` (`fuzz/fuzz_targets/admin_bodies.rs`) and
//! the seed test: the admin API's connector documents, taken the way the
//! API takes them once the caller may send one. None may panic.

/// A body of `POST /api/connectors` or `PUT /api/connectors/{id}`.
pub fn connector_body(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = super::connectors::deploys_to_production(&body);
    let id = body
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("fuzz");
    if let Ok(id) = crate::config::ConnectorId::parse(id) {
        let _ = super::connectors::connector_from_json(&body, &id);
    }
}
