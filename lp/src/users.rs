//! Users: what an agent asks about a consumer (`GetUserProfile`) and what
//! a consumer says about itself (`SetUserProfile`): names, and engagement
//! attributes (SDEs, "structured data entities").
//!
//! An engagement attribute is a record tagged by `type`: customer info
//! (`ctmrinfo`, under `info`), personal info (`personal`, under
//! `personal`), and others LivePerson defines (cart, purchase, lead, ...).
//! The tag is typed; a record's content stays JSON: switchboard reads no
//! field of it, it hands the records on to bots as they came.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::common::ParticipantId;

/// `GetUserProfile`: a participant's profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetUserProfile {
    /// The participant (a consumer id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<ParticipantId>,
}

/// A consumer's profile as `GetUserProfile` answers it: its engagement
/// attributes.
pub type UserProfile = Vec<EngagementAttribute>;

/// One engagement attribute: its `type` and its content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngagementAttribute {
    /// `ctmrinfo`, `personal`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The rest of the record (`{"info": {..}}` for `ctmrinfo`).
    #[serde(flatten)]
    pub content: Map<String, Value>,
}

impl EngagementAttribute {
    /// Personal info with the consumer's names.
    pub fn names(first: Option<&str>, last: Option<&str>) -> Self {
        let mut personal = Map::new();
        if let Some(first) = first {
            personal.insert("firstname".into(), first.into());
        }
        if let Some(last) = last {
            personal.insert("lastname".into(), last.into());
        }
        let mut content = Map::new();
        content.insert("personal".into(), Value::Object(personal));
        EngagementAttribute {
            kind: "personal".into(),
            content,
        }
    }
}

/// `userprofile.SetUserProfile`: what a consumer says about itself, its
/// names and its engagement attributes (`authenticatedData.lp_sdes`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetUserProfile {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    /// Engagement attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated_data: Option<AuthenticatedData>,
}

/// A profile's `authenticatedData`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthenticatedData {
    /// The engagement attributes.
    #[serde(default)]
    pub lp_sdes: Vec<EngagementAttribute>,
}

impl SetUserProfile {
    /// The profile an agent is shown: the engagement attributes, with the
    /// names as personal info unless one was given.
    pub fn profile(self) -> UserProfile {
        let mut profile = self.authenticated_data.unwrap_or_default().lp_sdes;
        let named = self.first_name.is_some() || self.last_name.is_some();
        if named && !profile.iter().any(|sde| sde.kind == "personal") {
            let names =
                EngagementAttribute::names(self.first_name.as_deref(), self.last_name.as_deref());
            profile.push(names);
        }
        profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentRequest, AgentServerFrame};
    use crate::envelope::Frame;
    use serde_json::{Value, json};

    #[test]
    fn a_consumer_sets_its_profile_and_an_agent_reads_its_engagement_attributes() {
        let text = r#"{"kind":"req","id":"1","type":"userprofile.SetUserProfile","body":{"firstName":"Ada","authenticatedData":{"lp_sdes":[{"type":"ctmrinfo","info":{"customerId":"C-1","ctype":"vip"}}]}}}"#;
        let Ok(Frame::Request(incoming)) = crate::consumer::ConsumerServerFrame::parse(text) else {
            panic!("a request")
        };
        let crate::consumer::ConsumerRequest::SetUserProfile(set) = incoming.request else {
            panic!("SetUserProfile")
        };
        let profile = set.profile();
        assert_eq!(
            serde_json::to_value(&profile).unwrap(),
            json!([{"type": "ctmrinfo", "info": {"customerId": "C-1", "ctype": "vip"}},
                   {"type": "personal", "personal": {"firstname": "Ada"}}])
        );
        let answer = crate::Agent::response::<GetUserProfile>("6", 200, &profile);
        let read: Value = serde_json::from_str(&answer).unwrap();
        let back: UserProfile = serde_json::from_value(read["body"].clone()).unwrap();
        assert_eq!(back, profile);
    }

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
        let answer: Value =
            serde_json::from_str(&incoming.respond(200, &UserProfile::new())).unwrap();
        assert_eq!(answer["type"], ".ams.userprofile.GetUserProfile$Response");
        assert_eq!(answer["body"], json!([]));
    }
}
