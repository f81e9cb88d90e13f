//! Getting connected, over HTTP before any socket: the domain lookup
//! (CSDS) and the agent login API (login, refresh), as LivePerson's Login
//! Service documents their bodies. The connector writes the requests and
//! reads the answers; the hub reads the requests and writes the answers.
//!
//! ```text
//! GET  /api/account/{account}/service/baseURI.json?version=1.0 -> DomainLookup
//! POST /api/account/{account}/login?v=1.3     LoginRequest     -> LoginAnswer (+ Session_id cookie)
//! POST /api/account/{account}/refresh?v=1.3   Refresh          -> {}
//! POST /api/account/{account}/logout?v=1.3    {}               -> {}
//! ```

use serde::{Deserialize, Serialize};

/// The domain lookup's answer: where each of the account's services is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainLookup {
    /// One entry per service.
    #[serde(rename = "baseURIs", default)]
    pub base_uris: Vec<ServiceDomain>,
}

impl DomainLookup {
    /// The domain (`host:port`) of `service` (`agentVep`,
    /// `asyncMessagingEnt`, ...), if the account has it.
    pub fn domain(&self, service: &str) -> Option<&str> {
        self.base_uris
            .iter()
            .find(|uri| uri.service == service)
            .map(|uri| uri.base_uri.as_str())
    }
}

/// Where one service of an account is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDomain {
    /// The service's name (`agentVep`, `asyncMessagingEnt`, `facadeMsg`, ...).
    pub service: String,
    /// The account it serves.
    #[serde(default)]
    pub account: String,
    /// Its domain, `host[:port]` (no scheme).
    #[serde(rename = "baseURI")]
    pub base_uri: String,
}

/// The login body: the agent user's login name and one form of secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The agent user's login name.
    pub username: String,
    /// How it proves who it is.
    #[serde(flatten)]
    pub secret: LoginSecret,
}

/// A login's secret (its `Debug` prints none of it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LoginSecret {
    /// `{"password"}`.
    Password {
        /// The user's password.
        password: String,
    },
    /// An API key's four parts (OAuth 1), or OAuth2 client credentials
    /// carried in them (see [`LoginSecret::oauth2`]).
    #[serde(rename_all = "camelCase")]
    ApiKey {
        /// The API key's app key (or the OAuth2 client id).
        app_key: String,
        /// Its secret (or the OAuth2 client secret).
        secret: String,
        /// Its access token (`dummy` for OAuth2).
        access_token: String,
        /// Its access token secret (`dummy` for OAuth2).
        access_token_secret: String,
    },
}

impl LoginSecret {
    /// The OAuth1 tokens a login with OAuth2 client credentials sends.
    pub const OAUTH2_TOKEN: &str = "dummy";

    /// OAuth2 client credentials, as a bot logs in with them: in the API
    /// key's fields, with [`LoginSecret::OAUTH2_TOKEN`] for the two tokens.
    pub fn oauth2(client_id: &str, client_secret: &str) -> LoginSecret {
        LoginSecret::ApiKey {
            app_key: client_id.to_owned(),
            secret: client_secret.to_owned(),
            access_token: Self::OAUTH2_TOKEN.to_owned(),
            access_token_secret: Self::OAUTH2_TOKEN.to_owned(),
        }
    }
}

impl std::fmt::Debug for LoginSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoginSecret::Password { .. } => "Password(<hidden>)",
            LoginSecret::ApiKey { .. } => "ApiKey(<hidden>)",
        })
    }
}

/// The answer to a login (a `Session_id` cookie comes with it). Its
/// `Debug` hides the bearer and the csrf.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAnswer {
    /// The bearer token: the agent socket's path and the account APIs'
    /// `Authorization`.
    pub bearer: String,
    /// What a refresh sends back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// Who logged in.
    pub config: SessionUser,
}

impl std::fmt::Debug for LoginAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAnswer")
            .field("bearer", &"<hidden>")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Who a login session is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionUser {
    /// The user's id in the account.
    pub user_id: UserId,
    /// The user's participant id in conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pid: Option<String>,
    /// The user's login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_name: Option<String>,
}

id!(
    /// A user id in the account: LivePerson sends a number, the hub the
    /// login name (`{account}.{userId}` is the user's agent id).
    UserId
);

/// The refresh body (its `Debug` hides the csrf).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refresh {
    /// The login answer's `csrf`.
    pub csrf: String,
}

impl std::fmt::Debug for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Refresh(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_login_body_carries_a_password_or_an_api_key_and_reads_back_alike() {
        let password = LoginRequest {
            username: "bot".into(),
            secret: LoginSecret::Password {
                password: "pw".into(),
            },
        };
        let text = serde_json::to_value(&password).unwrap();
        assert_eq!(text, json!({"username": "bot", "password": "pw"}));
        assert_eq!(
            serde_json::from_value::<LoginRequest>(text).unwrap(),
            password
        );

        let oauth2 = LoginRequest {
            username: "bot".into(),
            secret: LoginSecret::oauth2("id", "s3cret"),
        };
        let text = serde_json::to_value(&oauth2).unwrap();
        assert_eq!(
            text,
            json!({"username": "bot", "appKey": "id", "secret": "s3cret",
                   "accessToken": "dummy", "accessTokenSecret": "dummy"})
        );
        assert_eq!(
            serde_json::from_value::<LoginRequest>(text).unwrap(),
            oauth2
        );
    }

    #[test]
    fn a_login_body_with_neither_form_is_refused() {
        let half_a_key = json!({"username": "bot", "appKey": "id", "secret": "s"});
        assert!(serde_json::from_value::<LoginRequest>(half_a_key).is_err());
        assert!(serde_json::from_value::<LoginRequest>(json!({"username": "bot"})).is_err());
    }

    #[test]
    fn a_login_answer_reads_liveperson_s_numeric_user_id_and_the_hub_s_text_one() {
        let liveperson =
            json!({"bearer": "b", "csrf": "c", "config": {"userId": 456, "userPid": "p"}});
        let answer: LoginAnswer = serde_json::from_value(liveperson).unwrap();
        assert_eq!(answer.config.user_id.to_string(), "456");
        let hub = json!({"bearer": "b", "config": {"userId": "bot", "loginName": "bot"}});
        let answer: LoginAnswer = serde_json::from_value(hub).unwrap();
        assert_eq!(answer.config.user_id, "bot");
        assert_eq!(answer.csrf, None);
    }

    #[test]
    fn the_domain_lookup_names_each_service_s_domain() {
        let lookup: DomainLookup = serde_json::from_value(json!({"baseURIs": [
            {"service": "agentVep", "account": "123", "baseURI": "va.example:443"},
            {"service": "asyncMessagingEnt", "account": "123", "baseURI": "msg.example"}
        ]}))
        .unwrap();
        assert_eq!(lookup.domain("asyncMessagingEnt"), Some("msg.example"));
        assert_eq!(lookup.domain("facadeMsg"), None);
    }
}
