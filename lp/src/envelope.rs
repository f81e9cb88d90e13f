//! The frame envelope every message of both WebSockets travels in:
//!
//! ```text
//! {"kind":"req","id":"1","type":"<kind>","body":{..},"headers":[..]}
//! {"kind":"resp","reqId":"1","code":200,"type":"<kind>$Response","body":..}
//! {"kind":"notification","type":"<kind>","body":{..}}
//! ```
//!
//! Reading: [`Frame::parse`] reads a frame text and dispatches on `type`
//! once, into the request enum of a server's side (e.g. `AgentRequest`) or
//! the notification enum of a client's (e.g. `ConsumerNotification`);
//! [`Untyped`] stands for the direction a reader does not type. Request ids
//! may be strings or numbers on the wire; they are kept as text. A
//! response's body stays JSON until its reader, who knows which request it
//! answers, decodes it ([`ResponseFrame::decode`]).
//!
//! Writing: [`Frame::to_text`], [`Incoming::respond`], and the side
//! markers' `request`/`response`/`notification` (`Agent::request(..)`).

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::connection::Header;
use crate::error::{ErrorResponse, FrameError};
use crate::kind::{NotificationSet, RequestSet};
use crate::metadata::Metadata;

/// A request as a server reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Incoming<Q> {
    /// Its id, echoed as the response's `reqId`.
    pub id: String,
    /// The `type` it came under (a table's kind or one it also accepts).
    pub kind: String,
    /// The typed request.
    pub request: Q,
    /// Its headers (the consumer's `InitConnection` carries its JWT here).
    pub headers: Vec<Header>,
    /// Its metadata (bot context on `PublishEvent` and transfers).
    pub metadata: Vec<Metadata>,
}

impl<Q: RequestSet> Incoming<Q> {
    /// The `type` of its success response.
    pub fn response_kind(&self) -> Cow<'static, str> {
        self.request.response_kind(&self.kind)
    }

    /// The response frame answering it with `code` and `body`.
    pub fn respond<B: Serialize + ?Sized>(&self, code: u16, body: &B) -> String {
        response_frame(Some(&self.id), code, &self.response_kind(), body)
    }

    /// The error response frame refusing it: `code` and `{"msg": message}`,
    /// under its response type.
    pub fn refuse(&self, refusal: &ErrorResponse) -> String {
        refusal.to_frame(Some(&self.id), &self.response_kind())
    }
}

/// A response as a client reads it; its body is decoded by whoever knows
/// the request it answers.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponseFrame {
    /// The id of the request it answers (`None`: the server could not read it).
    pub req_id: Option<String>,
    /// HTTP-like status; above 399 is an error.
    pub code: u16,
    /// Its `type` (empty when absent).
    pub kind: String,
    /// Its body.
    pub body: Value,
}

impl ResponseFrame {
    /// The refusal it carries, when `code` is above 399.
    pub fn error(&self) -> Option<ErrorResponse> {
        ErrorResponse::from_response(self.code, &self.body)
    }

    /// Its body as `T`, typically `<R as Request<S>>::Response`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, FrameError> {
        T::deserialize(&self.body).map_err(|e| FrameError::BadBody {
            kind: self.kind.clone(),
            reason: e.to_string(),
            id: self.req_id.clone(),
        })
    }
}

/// Any frame, with requests typed as `Q` and notifications as `N`.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame<Q, N> {
    /// A request to answer.
    Request(Incoming<Q>),
    /// A response to one of ours.
    Response(ResponseFrame),
    /// A notification.
    Notification(N),
}

/// A request or notification of any type, body left as JSON: what a
/// reader uses for the direction it does not type (a server's view of
/// notifications, a client's of requests).
#[derive(Clone, Debug, PartialEq)]
pub struct Untyped {
    /// Its `type`.
    pub kind: String,
    /// Its body.
    pub body: Value,
}

/// An untyped body keeps its JSON; absent is `null`.
fn untyped(kind: &str, body: Option<&RawValue>) -> Result<Untyped, serde_json::Error> {
    Ok(Untyped {
        kind: kind.to_owned(),
        body: body.map_or(Ok(Value::Null), |raw| serde_json::from_str(raw.get()))?,
    })
}

impl RequestSet for Untyped {
    const SIDE: &'static str = "any";

    fn from_kind(kind: &str, body: Option<&RawValue>) -> Option<Result<Self, serde_json::Error>> {
        Some(untyped(kind, body))
    }

    fn kind(&self) -> &str {
        &self.kind
    }

    fn response_kind(&self, received: &str) -> Cow<'static, str> {
        Cow::Owned(format!("{received}$Response"))
    }

    fn to_body(&self) -> Value {
        self.body.clone()
    }
}

impl NotificationSet for Untyped {
    const SIDE: &'static str = "any";

    fn from_kind(kind: &str, body: Option<&RawValue>) -> Option<Result<Self, serde_json::Error>> {
        Some(untyped(kind, body))
    }

    fn kind(&self) -> &str {
        &self.kind
    }

    fn to_body(&self) -> Value {
        self.body.clone()
    }
}

/// The envelope's fields, before `type` is looked at. The body, headers
/// and metadata stay text borrowed from the frame until their type is
/// known, so each is parsed once, straight into its type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFrame<'a> {
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    id: Option<Value>,
    req_id: Option<Value>,
    #[serde(rename = "type")]
    kind_type: Option<String>,
    code: Option<u16>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
    /// Read only on requests: a response or notification is not lost
    /// over a header it never needed.
    #[serde(borrow)]
    headers: Option<&'a RawValue>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
}

/// A request's `headers` or `metadata`: absent is none.
fn listed<T: serde::de::DeserializeOwned>(
    raw: Option<&RawValue>,
) -> Result<Vec<T>, serde_json::Error> {
    raw.map_or(Ok(Vec::new()), |raw| serde_json::from_str(raw.get()))
}

fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

impl<Q: RequestSet, N: NotificationSet> Frame<Q, N> {
    /// Reads one frame text.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let raw: RawFrame = serde_json::from_str(text).map_err(|e| {
            if serde_json::from_str::<Value>(text).is_ok() {
                FrameError::NotEnvelope(e.to_string())
            } else {
                FrameError::NotJson(e.to_string())
            }
        })?;
        let missing = |what: &str| FrameError::NotEnvelope(format!("missing \"{what}\""));
        match raw.kind.as_deref() {
            Some("req") => {
                let id = raw
                    .id
                    .as_ref()
                    .and_then(id_text)
                    .ok_or_else(|| missing("id"))?;
                let kind = raw.kind_type.ok_or_else(|| missing("type"))?;
                let request = match Q::from_kind(&kind, raw.body) {
                    Some(Ok(request)) => request,
                    Some(Err(e)) => {
                        return Err(FrameError::BadBody {
                            kind,
                            reason: crate::common::without_position(&e),
                            id: Some(id),
                        });
                    }
                    None => {
                        return Err(FrameError::UnknownType {
                            frame: "request",
                            kind,
                            side: Q::SIDE,
                            id: Some(id),
                        });
                    }
                };
                let bad = |what: &str, e: serde_json::Error| FrameError::BadBody {
                    kind: kind.clone(),
                    reason: format!("{what}: {}", crate::common::without_position(&e)),
                    id: Some(id.clone()),
                };
                let headers = listed::<Header>(raw.headers).map_err(|e| bad("headers", e))?;
                let metadata = listed::<Metadata>(raw.metadata).map_err(|e| bad("metadata", e))?;
                Ok(Frame::Request(Incoming {
                    id,
                    kind,
                    request,
                    headers,
                    metadata,
                }))
            }
            Some("resp") => Ok(Frame::Response(ResponseFrame {
                req_id: raw.req_id.as_ref().and_then(id_text),
                code: raw.code.ok_or_else(|| missing("code"))?,
                kind: raw.kind_type.unwrap_or_default(),
                body: raw
                    .body
                    .map_or(Ok(Value::Null), |raw| serde_json::from_str(raw.get()))
                    .map_err(|e| FrameError::NotEnvelope(e.to_string()))?,
            })),
            Some("notification") => {
                let kind = raw.kind_type.ok_or_else(|| missing("type"))?;
                match N::from_kind(&kind, raw.body) {
                    Some(Ok(notification)) => Ok(Frame::Notification(notification)),
                    Some(Err(e)) => Err(FrameError::BadBody {
                        kind,
                        reason: crate::common::without_position(&e),
                        id: None,
                    }),
                    None => Err(FrameError::UnknownType {
                        frame: "notification",
                        kind,
                        side: N::SIDE,
                        id: None,
                    }),
                }
            }
            Some(other) => Err(FrameError::UnknownFrameKind(other.to_owned())),
            None => Err(missing("kind")),
        }
    }

    /// The frame as text: requests under their table's `type`.
    pub fn to_text(&self) -> String {
        match self {
            Frame::Request(incoming) => request_frame(
                &incoming.id,
                incoming.request.kind(),
                &incoming.request.to_body(),
                &incoming.headers,
                &incoming.metadata,
            ),
            Frame::Response(response) => response_frame(
                response.req_id.as_deref(),
                response.code,
                &response.kind,
                &response.body,
            ),
            Frame::Notification(notification) => {
                notification_frame(notification.kind(), &notification.to_body())
            }
        }
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

/// A request frame as written; `headers` and `metadata` only when not empty.
#[derive(Serialize)]
struct RequestOut<'a, B: ?Sized> {
    kind: &'static str,
    id: &'a str,
    #[serde(rename = "type")]
    kind_type: &'a str,
    body: &'a B,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    headers: &'a [Header],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    metadata: &'a [Metadata],
}

/// A response frame as written (`reqId` is `null` when unknown).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseOut<'a, B: ?Sized> {
    kind: &'static str,
    req_id: Option<&'a str>,
    code: u16,
    #[serde(rename = "type")]
    kind_type: &'a str,
    body: &'a B,
}

/// A notification frame as written.
#[derive(Serialize)]
struct NotificationOut<'a, B: ?Sized> {
    kind: &'static str,
    #[serde(rename = "type")]
    kind_type: &'a str,
    body: &'a B,
}

/// A frame's text. The crate's bodies are plain data (string keys, no
/// failing `Serialize`), so this cannot fail.
fn frame_text<F: Serialize>(frame: &F) -> String {
    serde_json::to_string(frame).expect("protocol frames are plain JSON data")
}

/// A request frame; empty `headers` and `metadata` are left out.
pub fn request_frame<B: Serialize + ?Sized>(
    id: &str,
    kind: &str,
    body: &B,
    headers: &[Header],
    metadata: &[Metadata],
) -> String {
    frame_text(&RequestOut {
        kind: "req",
        id,
        kind_type: kind,
        body,
        headers,
        metadata,
    })
}

/// A response frame; `req_id` is `None` when the request's id was unreadable.
pub fn response_frame<B: Serialize + ?Sized>(
    req_id: Option<&str>,
    code: u16,
    kind: &str,
    body: &B,
) -> String {
    frame_text(&ResponseOut {
        kind: "resp",
        req_id,
        code,
        kind_type: kind,
        body,
    })
}

/// A notification frame.
pub fn notification_frame<B: Serialize + ?Sized>(kind: &str, body: &B) -> String {
    frame_text(&NotificationOut {
        kind: "notification",
        kind_type: kind,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type AnyFrame = Frame<Untyped, Untyped>;

    #[test]
    fn an_envelope_field_written_with_escapes_reads_as_its_text() {
        let frame = AnyFrame::parse(r#"{"kind":"r\u0065q","id":"1","type":"GetClock"}"#);
        assert!(matches!(frame, Ok(Frame::Request(_))), "{frame:?}");
    }

    #[test]
    fn numeric_request_ids_are_read_as_text() {
        let frame = AnyFrame::parse(r#"{"kind":"req","id":7,"type":"GetClock"}"#).unwrap();
        let Frame::Request(incoming) = frame else {
            panic!("a request")
        };
        assert_eq!(incoming.id, "7");
        assert_eq!(incoming.kind, "GetClock");
        assert_eq!(incoming.request.body, Value::Null);
    }

    #[test]
    fn responses_keep_their_body_for_the_caller_to_decode() {
        let text = r#"{"kind":"resp","reqId":"1","code":200,"type":".ams.ms.PublishEvent$Response","body":{"sequence":17}}"#;
        let Frame::Response(response) = AnyFrame::parse(text).unwrap() else {
            panic!("a response")
        };
        assert_eq!(response.req_id.as_deref(), Some("1"));
        assert_eq!(response.error(), None);
        let published: crate::messaging::Published = response.decode().unwrap();
        assert_eq!(published.sequence, 17);
        assert_eq!(
            AnyFrame::parse(&AnyFrame::Response(response).to_text()).unwrap(),
            AnyFrame::parse(text).unwrap()
        );
    }

    #[test]
    fn error_responses_carry_their_refusal() {
        let text = r#"{"kind":"resp","reqId":null,"code":400,"type":"GenericResponse","body":{"msg":"frame is not JSON"}}"#;
        let Frame::Response(response) = AnyFrame::parse(text).unwrap() else {
            panic!("a response")
        };
        assert_eq!(response.req_id, None);
        assert_eq!(
            response.error(),
            Some(ErrorResponse::new(400, "frame is not JSON"))
        );
    }

    #[test]
    fn malformed_frames_say_what_is_wrong() {
        assert!(matches!(
            AnyFrame::parse("{nope"),
            Err(FrameError::NotJson(_))
        ));
        assert!(
            matches!(AnyFrame::parse(r#"{"kind":"req","type":"x"}"#), Err(FrameError::NotEnvelope(m)) if m.contains("id"))
        );
        assert!(matches!(
            AnyFrame::parse("[1,2]"),
            Err(FrameError::NotEnvelope(_))
        ));
        assert_eq!(
            AnyFrame::parse(r#"{"kind":"bogus","id":"a"}"#),
            Err(FrameError::UnknownFrameKind("bogus".into()))
        );
        assert_eq!(
            salvage_id(r#"{"id":"a","kind":"bogus"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(salvage_id(r#"{"id":3}"#).as_deref(), Some("3"));
    }

    #[test]
    fn written_frames_leave_out_empty_headers_and_metadata() {
        let text = request_frame("1", ".GetClock", &json!({}), &[], &[]);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"kind": "req", "id": "1", "type": ".GetClock", "body": {}})
        );
        let text = notification_frame(".ams.ms.OnlineEventDistribution", &json!({"sequence": 2}));
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"kind": "notification", "type": ".ams.ms.OnlineEventDistribution", "body": {"sequence": 2}})
        );
    }
}
