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
use crate::kind::{NotificationSet, ReadKind, RequestSet};
use crate::messaging::EncodedMetadata;
use crate::metadata::Metadata;

mod one_pass;

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
    /// Its encoded metadata (base64 data for the other side's window, on
    /// `PublishEvent`), as sent.
    pub encoded_metadata: Option<EncodedMetadata>,
}

/// What a request frame carries beside its body; empty parts are left out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras<'a> {
    /// Headers (the consumer's `InitConnection` carries its JWT here).
    pub headers: &'a [Header],
    /// Metadata (bot context on `PublishEvent` and transfers).
    pub metadata: &'a [Metadata],
    /// Encoded metadata: base64 data for the other side's window, which
    /// LivePerson takes on a `PublishEvent` of text or structured content.
    pub encoded_metadata: Option<&'a EncodedMetadata>,
}

impl<Q: RequestSet> Incoming<Q> {
    /// What it carries beside its body.
    pub fn extras(&self) -> Extras<'_> {
        Extras {
            headers: &self.headers,
            metadata: &self.metadata,
            encoded_metadata: self.encoded_metadata.as_ref(),
        }
    }

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

/// Any body reads untyped; `null` is `null`.
impl ReadKind for Untyped {
    fn read_kind<'de, D: serde::Deserializer<'de>>(
        kind: &str,
        body: D,
    ) -> Result<Option<Self>, D::Error> {
        Ok(Some(Untyped {
            kind: kind.to_owned(),
            body: Value::deserialize(body)?,
        }))
    }
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

/// The envelope's fields as the two-pass reader reads them: the body,
/// headers and metadata stay text borrowed from the frame until `type` is
/// known (scanned once here, typed from that text after).
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
    #[serde(borrow)]
    encoded_metadata: Option<&'a RawValue>,
}

/// The envelope's fields as read, by either reader: the body as text, or
/// already typed when the one-pass reader could ([`one_pass`]).
struct Fields<'a, Q, N> {
    kind: Option<Cow<'a, str>>,
    id: Option<Value>,
    req_id: Option<Value>,
    kind_type: Option<String>,
    code: Option<u16>,
    body: Body<'a, Q, N>,
    headers: Option<&'a RawValue>,
    metadata: Option<&'a RawValue>,
    encoded_metadata: Option<&'a RawValue>,
}

/// A frame's body as read.
enum Body<'a, Q, N> {
    /// As text (`None`: absent or `null`), typed once the envelope is read.
    Text(Option<&'a RawValue>),
    /// A request's, typed where the one-pass reader met it (`None`: of a
    /// type `Q` does not know).
    Request(Option<Q>),
    /// A notification's, likewise. The one-pass reader types a body only
    /// once the frame's `kind` said which it is, and a `kind` cannot follow.
    Notification(Option<N>),
}

impl<'a, Q, N> From<RawFrame<'a>> for Fields<'a, Q, N> {
    fn from(raw: RawFrame<'a>) -> Self {
        Fields {
            kind: raw.kind,
            id: raw.id,
            req_id: raw.req_id,
            kind_type: raw.kind_type,
            code: raw.code,
            body: Body::Text(raw.body),
            headers: raw.headers,
            metadata: raw.metadata,
            encoded_metadata: raw.encoded_metadata,
        }
    }
}

/// A request's `headers`, `metadata` and `encodedMetadata` as text.
struct RawExtras<'a> {
    headers: Option<&'a RawValue>,
    metadata: Option<&'a RawValue>,
    encoded_metadata: Option<&'a RawValue>,
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
    /// Reads one frame text: in one pass when its envelope's fields come
    /// in the usual order (`kind` and `type` before `body`), and again in
    /// two passes when that reader refuses it, to say why.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        match one_pass::read::<Q, N>(text) {
            Some(fields) => fields.into_frame(),
            None => Self::parse_in_two_passes(text),
        }
    }

    /// Reads one frame text as [`parse`](Self::parse) does, but always in
    /// two passes: the envelope with its body as text, then the body.
    /// Public so that the fuzz targets check both readers read alike.
    #[doc(hidden)]
    pub fn parse_in_two_passes(text: &str) -> Result<Self, FrameError> {
        let raw: RawFrame = serde_json::from_str(text).map_err(|e| {
            if serde_json::from_str::<Value>(text).is_ok() {
                FrameError::NotEnvelope(e.to_string())
            } else {
                FrameError::NotJson(e.to_string())
            }
        })?;
        Fields::from(raw).into_frame()
    }

    /// The frame as text: requests under their table's `type`.
    pub fn to_text(&self) -> String {
        match self {
            Frame::Request(incoming) => request_frame(
                &incoming.id,
                incoming.request.kind(),
                &incoming.request.to_body(),
                incoming.extras(),
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

impl<Q: RequestSet, N: NotificationSet> Fields<'_, Q, N> {
    /// The frame these fields make, or what is wrong with them.
    fn into_frame(self) -> Result<Frame<Q, N>, FrameError> {
        let Fields {
            kind,
            id,
            req_id,
            kind_type,
            code,
            body,
            headers,
            metadata,
            encoded_metadata,
        } = self;
        let extras = RawExtras {
            headers,
            metadata,
            encoded_metadata,
        };
        let text = match body {
            // Typed in one pass, as the frame's kind said.
            Body::Request(read) => {
                return request_frame_of(id, kind_type, |_| read.map(Ok), extras);
            }
            Body::Notification(read) => return notification_of(kind_type, |_| read.map(Ok)),
            Body::Text(text) => text,
        };
        match kind.as_deref() {
            Some("req") => request_frame_of(id, kind_type, |kind| Q::from_kind(kind, text), extras),
            Some("resp") => Ok(Frame::Response(ResponseFrame {
                req_id: req_id.as_ref().and_then(id_text),
                code: code.ok_or_else(|| missing("code"))?,
                kind: kind_type.unwrap_or_default(),
                body: text
                    .map_or(Ok(Value::Null), |raw| serde_json::from_str(raw.get()))
                    .map_err(|e| FrameError::NotEnvelope(e.to_string()))?,
            })),
            Some("notification") => notification_of(kind_type, |kind| N::from_kind(kind, text)),
            Some(other) => Err(FrameError::UnknownFrameKind(other.to_owned())),
            None => Err(missing("kind")),
        }
    }
}

fn missing(what: &str) -> FrameError {
    FrameError::NotEnvelope(format!("missing \"{what}\""))
}

/// A request frame from its envelope's fields and its body, read by `read`
/// once its `type` is known (`None`: a type `Q` does not know).
fn request_frame_of<Q: RequestSet, N>(
    id: Option<Value>,
    kind_type: Option<String>,
    read: impl FnOnce(&str) -> Option<Result<Q, serde_json::Error>>,
    extras: RawExtras<'_>,
) -> Result<Frame<Q, N>, FrameError> {
    let id = id.as_ref().and_then(id_text).ok_or_else(|| missing("id"))?;
    let kind = kind_type.ok_or_else(|| missing("type"))?;
    let request = match read(&kind) {
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
    let headers = listed::<Header>(extras.headers).map_err(|e| bad("headers", e))?;
    let metadata = listed::<Metadata>(extras.metadata).map_err(|e| bad("metadata", e))?;
    let encoded_metadata = extras
        .encoded_metadata
        .map(|raw| serde_json::from_str::<Option<EncodedMetadata>>(raw.get()))
        .transpose()
        .map_err(|e| bad("encodedMetadata", e))?
        .flatten();
    Ok(Frame::Request(Incoming {
        id,
        kind,
        request,
        headers,
        metadata,
        encoded_metadata,
    }))
}

/// A notification frame from its `type` and its body, read by `read` once
/// the type is known (`None`: a type `N` does not know).
fn notification_of<Q, N: NotificationSet>(
    kind_type: Option<String>,
    read: impl FnOnce(&str) -> Option<Result<N, serde_json::Error>>,
) -> Result<Frame<Q, N>, FrameError> {
    let kind = kind_type.ok_or_else(|| missing("type"))?;
    match read(&kind) {
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

/// The id of a frame that failed to parse, if one can be found in it, so
/// the error response can still name the request.
pub fn salvage_id(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .get("id")
        .and_then(id_text)
}

/// A request frame as written; `headers`, `metadata` and
/// `encodedMetadata` only when not empty.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    encoded_metadata: Option<&'a EncodedMetadata>,
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

/// A request frame; empty `extras` are left out.
pub fn request_frame<B: Serialize + ?Sized>(
    id: &str,
    kind: &str,
    body: &B,
    extras: Extras<'_>,
) -> String {
    frame_text(&RequestOut {
        kind: "req",
        id,
        kind_type: kind,
        body,
        headers: extras.headers,
        metadata: extras.metadata,
        encoded_metadata: extras.encoded_metadata,
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
mod tests;
