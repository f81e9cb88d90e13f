//! The account's HTTP lookups: the domain lookup (CSDS: every service is
//! this hub), and the users, skills and engagements of the account (a
//! subset of LivePerson's account configuration API) for a logged-in agent.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Serialize;

use super::{Hub, answer_json};
use crate::config::{HubConfig, LoginCredentials, UserKind};
use crate::http::{self, Body};

/// The services a connector looks up; the hub serves them all.
const SERVICES: [&str; 6] = [
    "agentVep",
    "asyncMessagingEnt",
    "facadeMsg",
    "accountConfigReadOnly",
    "accountConfigReadWrite",
    "idp",
];

/// The domain lookup's answer.
#[derive(Serialize)]
struct BaseUris<'a> {
    #[serde(rename = "baseURIs")]
    base_uris: Vec<BaseUri<'a>>,
}

#[derive(Serialize)]
struct BaseUri<'a> {
    service: &'a str,
    account: &'a str,
    #[serde(rename = "baseURI")]
    base_uri: &'a str,
}

/// What the account configuration lists.
#[derive(Clone, Copy)]
pub(super) enum Listing {
    Users,
    Skills,
    Engagements,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct User<'a> {
    id: &'a str,
    login_name: &'a str,
    /// 1 human, 2 bot.
    user_type_id: u8,
    is_enabled: bool,
    skill_ids: &'a [String],
    max_async_chats: u32,
    created_by: Option<&'a str>,
    /// `password` or `apiKey`.
    login_method: &'a str,
}

#[derive(Serialize)]
struct Skill<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Engagement<'a> {
    id: &'a str,
    skill_id: &'a str,
}

impl Hub {
    /// Where the account's services are: all at this hub.
    pub(super) fn base_uris(&self, account: &str) -> Response<Body> {
        let base = self.addr.to_string();
        let base_uris = SERVICES
            .iter()
            .map(|service| BaseUri {
                service,
                account,
                base_uri: &base,
            })
            .collect();
        answer_json(&BaseUris { base_uris })
    }

    /// The account's users, skills or engagements, for a logged-in agent
    /// (`Authorization: Bearer <token>`).
    pub(super) fn account_configuration(
        &self,
        request: &Request<Incoming>,
        what: Listing,
    ) -> Response<Body> {
        let bearer = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let state = self.state();
        if !bearer.is_some_and(|b| state.sessions.contains_key(b)) {
            return http::error(StatusCode::UNAUTHORIZED, "a valid Bearer token is required");
        }
        let config = &state.config;
        match what {
            Listing::Users => answer_json(&users(config)),
            Listing::Skills => answer_json(&skills(config)),
            Listing::Engagements => answer_json(&engagements(config)),
        }
    }
}

fn users(config: &HubConfig) -> Vec<User<'_>> {
    config
        .users
        .iter()
        .map(|u| User {
            id: &u.login,
            login_name: &u.login,
            user_type_id: match u.kind {
                UserKind::Human => 1,
                UserKind::Bot => 2,
            },
            is_enabled: u.enabled,
            skill_ids: &u.skills,
            max_async_chats: u.max_conversations,
            created_by: u.created_by.as_deref(),
            login_method: match u.credentials {
                LoginCredentials::OAuth2 { .. } => "oauth2",
                LoginCredentials::Password(_) => "password",
                LoginCredentials::ApiKey { .. } => "apiKey",
            },
        })
        .collect()
}

fn skills(config: &HubConfig) -> Vec<Skill<'_>> {
    config
        .skills
        .iter()
        .map(|s| Skill {
            id: &s.id,
            name: &s.name,
        })
        .collect()
}

/// The configured engagements, and `default` on the default skill.
fn engagements(config: &HubConfig) -> Vec<Engagement<'_>> {
    let mut engagements: Vec<_> = config
        .engagements
        .iter()
        .map(|e| Engagement {
            id: &e.id,
            skill_id: &e.skill,
        })
        .collect();
    engagements.push(Engagement {
        id: "default",
        skill_id: &config.default_skill,
    });
    engagements
}
