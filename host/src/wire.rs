//! The JSON envelopes of LivePerson's messaging WebSockets (agent
//! and consumer sides): requests, responses and notifications, shared by the
//! connector's client (`messaging`) and the embedded hub's server (`hub`).
//!
//! Owns: framing only. What a request type means belongs to each side.

use serde::Deserialize;
use serde_json::{Value, json};

/// A request frame: `{"kind":"req","id":..,"type":..,"body":..}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The request id, as a string (clients may send numbers).
    pub id: String,
    /// The request type, e.g. `.ams.ms.PublishEvent`.
    pub kind: String,
    /// The body (`null` when absent).
    pub body: Value,
    /// Headers (consumer `InitConnection` carries its JWT here).
    pub headers: Vec<Value>,
}

/// Any frame a peer may send.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request to answer.
    Request(Request),
    /// A response to one of our requests.
    Response {
        /// The id of the request it answers.
        req_id: String,
        /// HTTP-like status; above 399 is an error.
        code: u16,
        /// The response type.
        kind: String,
        /// The body.
        body: Value,
    },
    /// A notification.
    Notification {
        /// The notification type.
        kind: String,
        /// The body.
        body: Value,
    },
}

/// Why a frame could not be read; the peer gets a 400 naming it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    /// Not JSON at all.
    #[error("frame is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an envelope.
    #[error("frame is not a request, response or notification: {0}")]
    NotEnvelope(String),
}

#[derive(Deserialize)]
struct RawFrame {
    kind: Option<String>,
    id: Option<Value>,
    #[serde(rename = "reqId")]
    req_id: Option<Value>,
    #[serde(rename = "type")]
    kind_type: Option<String>,
    code: Option<u16>,
    #[serde(default)]
    body: Value,
    #[serde(default)]
    headers: Vec<Value>,
}

fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<Frame, FrameError> {
    let raw: RawFrame = serde_json::from_str(text).map_err(|e| {
        if serde_json::from_str::<Value>(text).is_ok() {
            FrameError::NotEnvelope(e.to_string())
        } else {
            FrameError::NotJson(e.to_string())
        }
    })?;
    let missing = |what: &str| FrameError::NotEnvelope(format!("missing \"{what}\""));
    match raw.kind.as_deref() {
        Some("req") => Ok(Frame::Request(Request {
            id: raw
                .id
                .as_ref()
                .and_then(id_text)
                .ok_or_else(|| missing("id"))?,
            kind: raw.kind_type.ok_or_else(|| missing("type"))?,
            body: raw.body,
            headers: raw.headers,
        })),
        Some("resp") => Ok(Frame::Response {
            req_id: raw
                .req_id
                .as_ref()
                .and_then(id_text)
                .ok_or_else(|| missing("reqId"))?,
            code: raw.code.ok_or_else(|| missing("code"))?,
            kind: raw.kind_type.unwrap_or_default(),
            body: raw.body,
        }),
        Some("notification") => Ok(Frame::Notification {
            kind: raw.kind_type.ok_or_else(|| missing("type"))?,
            body: raw.body,
        }),
        Some(other) => Err(FrameError::NotEnvelope(format!("unknown kind \"{other}\""))),
        None => Err(missing("kind")),
    }
}

/// The id of a frame that failed to parse, if one can be found in it, so
/// the error response can still name the request.
pub fn salvage_id(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .get("id")
        .and_then(id_text)
}

/// A request frame.
pub fn request(id: &str, kind: &str, body: Value) -> String {
    json!({"kind": "req", "id": id, "type": kind, "body": body}).to_string()
}

/// A response frame; `req_id` is `None` when the request's id was unreadable.
pub fn response(req_id: Option<&str>, code: u16, kind: &str, body: Value) -> String {
    json!({"kind": "resp", "reqId": req_id, "code": code, "type": kind, "body": body}).to_string()
}

/// A notification frame.
pub fn notification(kind: &str, body: Value) -> String {
    json!({"kind": "notification", "type": kind, "body": body}).to_string()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_are_read_as_strings() {
        let frame = parse(r#"{"kind":"req","id":7,"type":"GetClock"}"#).unwrap();
        assert_eq!(
            frame,
            Frame::Request(Request {
                id: "7".into(),
                kind: "GetClock".into(),
                body: Value::Null,
                headers: vec![],
            })
        );
    }

    #[test]
    fn malformed_frames_say_what_is_wrong() {
        assert!(matches!(parse("{nope"), Err(FrameError::NotJson(_))));
        assert!(
            matches!(parse(r#"{"kind":"req","type":"x"}"#), Err(FrameError::NotEnvelope(m)) if m.contains("id"))
        );
        assert!(matches!(parse(r#"[1,2]"#), Err(FrameError::NotEnvelope(_))));
        assert_eq!(
            salvage_id(r#"{"id":"a","kind":"bogus"}"#).as_deref(),
            Some("a")
        );
    }
}
