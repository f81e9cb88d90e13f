//! Users: `GetUserProfile`, what an agent asks about a consumer (names,
//! authenticated data, engagement attributes).
//!
//! The answer stays `serde_json::Value`: the hub answers an empty list and
//! LivePerson a profile whose engagement attributes (SDEs) are an open set
//! of typed records; this is where they will be typed when a connector
//! reads them.

use serde::{Deserialize, Serialize};

use crate::common::ParticipantId;

/// `GetUserProfile`: a participant's profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetUserProfile {
    /// The participant (a consumer id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<ParticipantId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentRequest, AgentServerFrame};
    use crate::envelope::Frame;
    use serde_json::{Value, json};

    #[test]
    fn a_profile_request_names_the_consumer_and_gets_json_back() {
        let text = r#"{"kind":"req","id":"6","type":".ams.userprofile.GetUserProfile","body":{"userId":"cons-1"}}"#;
        let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
            panic!("a request")
        };
        assert_eq!(
            incoming.request,
            AgentRequest::GetUserProfile(GetUserProfile {
                user_id: Some("cons-1".into())
            })
        );
        let answer: Value = serde_json::from_str(&incoming.respond(200, &json!([]))).unwrap();
        assert_eq!(answer["type"], ".ams.userprofile.GetUserProfile$Response");
        assert_eq!(answer["body"], json!([]));
    }
}
