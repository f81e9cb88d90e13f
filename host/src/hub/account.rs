//! The account's HTTP lookups: the domain lookup (CSDS: every service is
//! this hub), and a subset of LivePerson's account configuration API for
//! a logged-in agent: users (`le-users/users?v=4.0`), skills
//! (`le-users/skills?v=2.0`), the hub's one campaign and its engagements
//! (`le-campaigns/campaigns?v=3.4`, `.../campaigns/{id}/engagements?v=3.4`).
//!
//! Ids are typed as LivePerson's schemas type them where the hub can:
//! skill ids are numbers (the configuration refuses others), engagements
//! are numbered in the order they are configured (the configured id is
//! their `name`), the campaign is number 1. A user's `id` stays its login
//! name: the hub's agent ids are `{account}.{login}` everywhere (login
//! answer, participants, agent state), and the users' ids must match them.
//! Each request needs a live bearer (401), a user allowed to read the
//! configuration (403, `can_read_account_config`) and `v` (400).

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use lp::login::{DomainLookup, ServiceDomain};
use serde::Serialize;
use serde_json::Value;

use super::{Hub, answer_json, bearer_of, version_missing};
use crate::config::{HubConfig, LoginCredentials, UserKind};
use crate::http::{self, Body};

/// The services the domain lookup names, as LivePerson names them; the
/// hub serves them all.
const SERVICES: [&str; 6] = [
    "agentVep",
    "asyncMessagingEnt",
    "facadeMsg",
    "accountConfigReadOnly",
    "accountConfigReadWrite",
    "idp",
];

/// The id of the hub's one campaign.
const CAMPAIGN_ID: u64 = 1;

/// What the account configuration lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Listing {
    Users,
    Skills,
    Campaigns,
    /// The engagements of a campaign (its id as asked).
    Engagements(Option<u64>),
}

impl Listing {
    /// The listing under `.../configuration/{api}/{rest}`, if it is one.
    pub(super) fn of(api: &str, rest: &[&str]) -> Option<Listing> {
        match (api, rest) {
            ("le-users", ["users"]) => Some(Listing::Users),
            ("le-users", ["skills"]) => Some(Listing::Skills),
            ("le-campaigns", ["campaigns"]) => Some(Listing::Campaigns),
            ("le-campaigns", ["campaigns", campaign, "engagements"]) => {
                Some(Listing::Engagements(campaign.parse().ok()))
            }
            _ => None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct User<'a> {
    id: &'a str,
    login_name: &'a str,
    /// 1 human, 2 bot.
    user_type_id: u8,
    is_enabled: bool,
    skill_ids: Vec<Value>,
    max_async_chats: u32,
    created_by: Option<&'a str>,
    /// `password`, `apiKey` or `oauth2`.
    login_method: &'a str,
}

#[derive(Serialize)]
struct Skill<'a> {
    id: Value,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Campaign<'a> {
    id: u64,
    name: &'a str,
    engagement_ids: Vec<u64>,
    is_deleted: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Engagement<'a> {
    id: u64,
    name: &'a str,
    campaign_id: u64,
    skill_id: Value,
    enabled: bool,
}

impl Hub {
    /// Where the account's services are: all at this hub.
    pub(super) fn base_uris(&self, account: &str) -> Response<Body> {
        let base_uris = SERVICES
            .iter()
            .map(|service| self.domain_of(account, service))
            .collect();
        answer_json(&DomainLookup { base_uris })
    }

    /// Where one service is (404 for a service the hub does not know).
    pub(super) fn base_uri(&self, account: &str, service: &str) -> Response<Body> {
        if !SERVICES.contains(&service) {
            return http::error(
                StatusCode::NOT_FOUND,
                format!("no service {service} (known: {})", SERVICES.join(", ")),
            );
        }
        answer_json(&self.domain_of(account, service))
    }

    /// Where `service` is: at this hub.
    fn domain_of(&self, account: &str, service: &str) -> ServiceDomain {
        ServiceDomain {
            service: service.to_owned(),
            account: account.to_owned(),
            base_uri: self.addr.to_string(),
        }
    }

    /// The account's users, skills, campaign or engagements, for a
    /// logged-in agent (`Authorization: Bearer <token>`) allowed to read them.
    pub(super) fn account_configuration(
        &self,
        request: &Request<Incoming>,
        what: Listing,
    ) -> Response<Body> {
        let Some(session) = bearer_of(request).and_then(|b| self.live_session(b)) else {
            return http::error(
                StatusCode::UNAUTHORIZED,
                "a live session's Authorization: Bearer token is required: log in again",
            );
        };
        let state = self.state();
        let config = &state.config;
        let allowed = config
            .users
            .iter()
            .find(|u| u.login == session.login)
            .is_some_and(|u| u.can_read_account_config);
        if !allowed {
            return http::error(
                StatusCode::FORBIDDEN,
                format!(
                    "user {} may not read the account configuration",
                    session.login
                ),
            );
        }
        if let Some(refused) = version_missing(request) {
            return refused;
        }
        match what {
            Listing::Users => answer_json(&users(config)),
            Listing::Skills => answer_json(&skills(config)),
            Listing::Campaigns => answer_json(&[campaign(config)]),
            Listing::Engagements(Some(CAMPAIGN_ID)) => answer_json(&engagements(config)),
            Listing::Engagements(_) => {
                http::error(StatusCode::NOT_FOUND, "no such campaign in this account")
            }
        }
    }
}

/// A skill id as LivePerson types it: a number. The configuration admits
/// only digits; a hub built in code with another id shows it as a string.
fn skill_id(id: &str) -> Value {
    id.parse::<u64>().map_or_else(|_| id.into(), Value::from)
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
            skill_ids: u.skills.iter().map(|s| skill_id(s)).collect(),
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
            id: skill_id(&s.id),
            name: &s.name,
        })
        .collect()
}

/// The hub's one campaign, holding every engagement.
fn campaign(config: &HubConfig) -> Campaign<'_> {
    Campaign {
        id: CAMPAIGN_ID,
        name: "hub",
        engagement_ids: engagements(config).iter().map(|e| e.id).collect(),
        is_deleted: false,
    }
}

/// The configured engagements, numbered from 1 in order, and `default`
/// on the default skill (where consumers that name no skill come in).
fn engagements(config: &HubConfig) -> Vec<Engagement<'_>> {
    let configured = config
        .engagements
        .iter()
        .map(|e| (e.id.as_str(), e.skill.as_str()));
    configured
        .chain([("default", config.default_skill.as_str())])
        .zip(1..)
        .map(|((name, skill), id)| Engagement {
            id,
            name,
            campaign_id: CAMPAIGN_ID,
            skill_id: skill_id(skill),
            enabled: true,
        })
        .collect()
}
