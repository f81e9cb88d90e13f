//! Opening and keeping a connection: the consumer's `InitConnection` and
//! the request headers it carries (`ClientProperties`, and
//! `ConsumerAuthentication` with the consumer's JWT), and `GetClock`, the
//! application keep-alive both sides send.

use serde::{Deserialize, Serialize};

/// `InitConnection`: a consumer authenticates its socket. The body is
/// empty; the JWT rides in a [`Header::ConsumerAuthentication`] header.
/// Answered with the string `"OK"`, or 401 and a close (4401).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitConnection {}

/// `GetClock`: a keep-alive that also asks the server's time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetClock {}

/// The answer to [`GetClock`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Clock {
    /// Milliseconds since the Unix epoch.
    pub current_time: u64,
}

open_enum!(
    /// A request header, tagged by `type`.
    pub enum Header tagged "type" {
        /// What the consumer's client can show.
        ClientProperties(ClientProperties) = ".ams.headers.ClientProperties",
        /// The consumer's JWT.
        ConsumerAuthentication(ConsumerAuthentication) = ".ams.headers.ConsumerAuthentication",
    }
);

impl Header {
    /// The JWT of the first `ConsumerAuthentication` among `headers`.
    pub fn jwt_in(headers: &[Header]) -> Option<&str> {
        headers.iter().find_map(|header| match header {
            Header::ConsumerAuthentication(auth) => Some(auth.jwt.as_str()),
            _ => None,
        })
    }
}

/// `.ams.headers.ClientProperties`: the consumer client's capabilities.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientProperties {
    /// What it can display.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
}

string_enum!(
    /// A consumer client capability (`features` of [`ClientProperties`]).
    pub enum Feature {
        /// Structured content (`RichContentEvent`).
        RichContent = "RICH_CONTENT",
        /// Quick replies.
        QuickReplies = "QUICK_REPLIES",
        /// Automatic messages from the platform.
        AutoMessages = "AUTO_MESSAGES",
        /// More than one dialog per conversation (post-conversation surveys).
        MultiDialog = "MULTI_DIALOG",
    }
);

/// `.ams.headers.ConsumerAuthentication`: the consumer's JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerAuthentication {
    /// From signup or authenticate.
    pub jwt: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Text;
    use crate::consumer::{ConsumerRequest, ConsumerServerFrame};
    use crate::envelope::Frame;
    use crate::kind::{Agent, Consumer, Request};
    use crate::{AgentServerFrame, agent::AgentRequest};
    use serde_json::{Value, json};

    const INIT: &str = r#"{"kind":"req","id":"0","type":"InitConnection","headers":[{"type":".ams.headers.ClientProperties","features":["RICH_CONTENT","QUICK_REPLIES"]},{"type":".ams.headers.ConsumerAuthentication","jwt":"eyJ.x.y"}]}"#;

    #[test]
    fn init_connection_carries_the_jwt_in_its_headers() {
        let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(INIT) else {
            panic!("a request")
        };
        assert_eq!(
            incoming.request,
            ConsumerRequest::InitConnection(InitConnection {})
        );
        assert_eq!(Header::jwt_in(&incoming.headers), Some("eyJ.x.y"));
        assert_eq!(
            incoming.headers[0],
            Header::ClientProperties(ClientProperties {
                features: vec![Feature::RichContent, Feature::QuickReplies],
            })
        );
        let again =
            ConsumerServerFrame::parse(&ConsumerServerFrame::Request(incoming.clone()).to_text())
                .unwrap();
        assert_eq!(again, Frame::Request(incoming.clone()));
        let answer: Value =
            serde_json::from_str(&incoming.respond(200, &Text::from("OK"))).unwrap();
        assert_eq!(
            answer,
            json!({"kind": "resp", "reqId": "0", "code": 200, "type": ".ReqBody$StringResp", "body": "OK"})
        );
    }

    #[test]
    fn a_consumer_client_writes_init_connection_with_its_headers() {
        let headers = [Header::from(ConsumerAuthentication { jwt: "J".into() })];
        let extras = crate::envelope::Extras {
            headers: &headers,
            ..Default::default()
        };
        let text = Consumer::request_with("0", &InitConnection {}, extras);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"kind": "req", "id": "0", "type": "InitConnection", "body": {},
                   "headers": [{"type": ".ams.headers.ConsumerAuthentication", "jwt": "J"}]})
        );
    }

    #[test]
    fn unknown_headers_are_kept_whole() {
        let header: Header =
            serde_json::from_value(json!({"type": ".ams.headers.Other", "x": 1})).unwrap();
        assert_eq!(header.tag(), ".ams.headers.Other");
        assert_eq!(
            serde_json::to_value(&header).unwrap(),
            json!({"type": ".ams.headers.Other", "x": 1})
        );
    }

    #[test]
    fn get_clock_is_answered_under_the_name_it_came_with() {
        for (text, response_kind) in [
            (
                r#"{"kind":"req","id":"k","type":".GetClock","body":{}}"#,
                ".GetClock$Response",
            ),
            (
                r#"{"kind":"req","id":"k","type":"GetClock"}"#,
                "GetClock$Response",
            ),
        ] {
            let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
                panic!("a request")
            };
            assert_eq!(incoming.request, AgentRequest::GetClock(GetClock {}));
            assert_eq!(incoming.response_kind(), response_kind);
        }
        let Ok(Frame::Request(incoming)) =
            ConsumerServerFrame::parse(r#"{"kind":"req","id":"k","type":"GetClock"}"#)
        else {
            panic!("a request")
        };
        assert_eq!(incoming.request, ConsumerRequest::GetClock(GetClock {}));
        let answer: Value =
            serde_json::from_str(&incoming.respond(200, &Clock { current_time: 5 })).unwrap();
        assert_eq!(answer["type"], "GetClock$Response");
        assert_eq!(answer["body"], json!({"currentTime": 5}));
        assert_eq!(
            <GetClock as Request<Agent>>::RESPONSE_KIND,
            ".GetClock$Response"
        );
    }
}
