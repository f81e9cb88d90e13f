//! What can be wrong with a frame ([`FrameError`]), and the error answer a
//! server sends for it or for a request it refuses ([`ErrorResponse`]).
//!
//! LivePerson's services answer a failed request with a response frame
//! whose `code` is above 399; the hub puts the reason in the body as
//! `{"msg": ".."}`. Peers are not uniform (some answer a bare string), so
//! reading an error takes whatever body came.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The response type the hub gives answers that belong to no request
/// type: a frame it could not read, and the consumer side's refusals.
pub const GENERIC_RESPONSE: &str = "GenericResponse";

/// Why a frame could not be read. A server answers it with
/// [`ErrorResponse::from`] (400) and [`FrameError::request_id`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON at all.
    #[error("frame is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an envelope (or one missing `id`, `type`, `code`).
    #[error("frame is not a request, response or notification: {0}")]
    NotEnvelope(String),
    /// An envelope whose `kind` is none of `req`, `resp`, `notification`.
    #[error("unknown frame kind \"{0}\": expected req, resp or notification")]
    UnknownFrameKind(String),
    /// A request or notification type the reader does not serve.
    #[error("unsupported {frame} type {kind} on the {side} side")]
    UnknownType {
        /// `request` or `notification`.
        frame: &'static str,
        /// The `type` it carried.
        kind: String,
        /// `agent` or `consumer`.
        side: &'static str,
        /// The request's id, when it is a request.
        id: Option<String>,
    },
    /// A known type whose body does not fit it.
    #[error("invalid body for {kind}: {reason}")]
    BadBody {
        /// The `type` it carried.
        kind: String,
        /// What serde found wrong.
        reason: String,
        /// The request's id, when it is a request.
        id: Option<String>,
    },
}

impl FrameError {
    /// The id of the request the frame was, when it could be read, so the
    /// error response can name it (see also `envelope::salvage_id`).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            FrameError::UnknownType { id, .. } | FrameError::BadBody { id, .. } => id.as_deref(),
            _ => None,
        }
    }
}

/// The body of an error response as the hub writes it: `{"msg": ".."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong and, where it helps, what to do.
    pub msg: String,
}

/// A refused request: the response's `code` (above 399) and its message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ErrorResponse {
    /// HTTP-like status: 400 bad request, 401 not authenticated, 403 not
    /// yours, 404 unknown, 413 too large.
    pub code: u16,
    /// Why.
    pub message: String,
}

impl ErrorResponse {
    /// A refusal with `code` and `message`.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        ErrorResponse {
            code,
            message: message.into(),
        }
    }

    /// Reads a refusal from a response's code and body, if `code` is an
    /// error: the body's `msg`, a bare string body, or the body's JSON text.
    pub fn from_response(code: u16, body: &Value) -> Option<Self> {
        if code < 400 {
            return None;
        }
        let message = match body {
            Value::String(text) => text.clone(),
            _ => match body.get("msg").and_then(Value::as_str) {
                Some(msg) => msg.to_owned(),
                None => body.to_string(),
            },
        };
        Some(ErrorResponse { code, message })
    }

    /// The body the hub sends for it.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            msg: self.message.clone(),
        }
    }

    /// The response frame answering request `req_id` (`null` when the
    /// request's id could not be read) with type `kind`.
    pub fn to_frame(&self, req_id: Option<&str>, kind: &str) -> String {
        crate::envelope::response_frame(req_id, self.code, kind, &self.body())
    }
}

impl From<&FrameError> for ErrorResponse {
    /// A frame that cannot be read is a bad request (400) naming what is wrong.
    fn from(error: &FrameError) -> Self {
        ErrorResponse::new(400, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_read_msg_strings_or_any_body() {
        assert_eq!(
            ErrorResponse::from_response(404, &json!({"msg": "no dialog c9"})),
            Some(ErrorResponse::new(404, "no dialog c9"))
        );
        assert_eq!(
            ErrorResponse::from_response(400, &json!("Bad request")),
            Some(ErrorResponse::new(400, "Bad request"))
        );
        assert_eq!(
            ErrorResponse::from_response(500, &json!({"error": 1}))
                .unwrap()
                .message,
            r#"{"error":1}"#
        );
        assert_eq!(ErrorResponse::from_response(200, &json!({})), None);
    }

    #[test]
    fn an_unreadable_frame_is_answered_400_with_its_reason() {
        let error = FrameError::UnknownType {
            frame: "request",
            kind: ".ams.nope.Nothing".into(),
            side: "agent",
            id: Some("7".into()),
        };
        let refusal = ErrorResponse::from(&error);
        let frame: Value =
            serde_json::from_str(&refusal.to_frame(error.request_id(), GENERIC_RESPONSE)).unwrap();
        assert_eq!(
            frame,
            json!({"kind": "resp", "reqId": "7", "code": 400, "type": "GenericResponse",
                   "body": {"msg": "unsupported request type .ams.nope.Nothing on the agent side"}})
        );
    }
}
