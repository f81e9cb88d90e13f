//! Reaching the account: the domain lookup (CSDS), login, and the checks
//! of the bot user's prerequisites in the account's configuration.

use serde_json::{Value, json};

use super::Credentials;
use crate::config::LoginCredentials;
use crate::http;
use crate::ports::DialError;

/// Domain lookup and login: the agentVep and messaging domains, the
/// bearer token and the agent's account-qualified id.
pub(super) async fn login(
    credentials: &Credentials,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(String, String, String, String), DialError> {
    let account = &credentials.account;
    progress("looking up the account's domains");
    let lookup_url = format!(
        "{}/api/account/{account}/service/baseURI.json?version=1.0",
        credentials.csds
    );
    let domains = credentials
        .client
        .get_json(&lookup_url)
        .await
        .map_err(|e| DialError::Lookup(e.to_string()))?;
    let domain = |service: &str| {
        domains["baseURIs"]
            .as_array()
            .and_then(|list| list.iter().find(|d| d["service"] == service))
            .and_then(|d| d["baseURI"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| DialError::Lookup(format!("no {service} domain for account {account}")))
    };
    let (vep, messaging) = (domain("agentVep")?, domain("asyncMessagingEnt")?);

    progress("logging in");
    let login_url = format!(
        "{}://{vep}/api/account/{account}/login?v=1.3",
        credentials.http()
    );
    let body = match &credentials.login {
        LoginCredentials::OAuth2 {
            client_id,
            client_secret,
        } => json!({
            "username": credentials.username, "appKey": client_id, "secret": client_secret,
            "accessToken": "dummy", "accessTokenSecret": "dummy",
        }),
        LoginCredentials::Password(password) => {
            json!({"username": credentials.username, "password": password})
        }
        LoginCredentials::ApiKey {
            app_key,
            secret,
            access_token,
            access_token_secret,
        } => json!({
            "username": credentials.username, "appKey": app_key, "secret": secret,
            "accessToken": access_token, "accessTokenSecret": access_token_secret,
        }),
    };
    let login = credentials
        .client
        .post_json(&login_url, &body)
        .await
        .map_err(|e| DialError::Login {
            user: credentials.username.clone(),
            reason: e.to_string(),
        })?;
    let (Some(bearer), Some(user_id)) =
        (login["bearer"].as_str(), login["config"]["userId"].as_str())
    else {
        return Err(DialError::Login {
            user: credentials.username.clone(),
            reason: "the answer lacks bearer or config.userId".into(),
        });
    };
    let agent_id = format!("{account}.{user_id}");

    Ok((vep, messaging, bearer.to_owned(), agent_id))
}

/// What the account's configuration says about the bot user.
pub(super) struct Prerequisites {
    /// Who created the user, where the platform says.
    pub(super) created_by: Option<String>,
    /// Account-qualified ids of the bot's agent users.
    pub(super) bot_agents: std::collections::HashSet<String>,
}

/// Checks, where the platform publishes its account configuration (the
/// hub does), that the user exists, is enabled, is a bot and has a skill,
/// and learns the ids of the bot's agent users. A platform without that
/// API is trusted, and its ids are taken to be the login names.
pub(super) async fn check_prerequisites(
    credentials: &Credentials,
    vep: &str,
    bearer: &str,
) -> Result<Prerequisites, DialError> {
    let (account, username) = (credentials.account.as_str(), credentials.username.as_str());
    let get = |path: &str| {
        let url = format!(
            "{}://{vep}/api/account/{account}/configuration/{path}",
            credentials.http()
        );
        let bearer = bearer.to_owned();
        async move { credentials.client.get_json_with_bearer(&url, &bearer).await }
    };
    let users = match get("le-users/users").await {
        Ok(users) => users,
        // Without the users' ids only this agent's own words are known
        // (the caller adds its id).
        Err(http::ClientError::Status { status: 404, .. }) => {
            return Ok(Prerequisites {
                created_by: None,
                bot_agents: Default::default(),
            });
        }
        Err(error) => {
            return Err(DialError::Prerequisite(format!(
                "cannot read the account's users: {error}"
            )));
        }
    };
    let missing = |what: String| Err(DialError::Prerequisite(what));
    let Some(user) = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["loginName"] == username))
    else {
        return missing(format!(
            "user {username} does not exist in account {account}"
        ));
    };
    if user["isEnabled"] != true {
        return missing(format!("user {username} is disabled"));
    }
    if user["userTypeId"] != 2 {
        return missing(format!(
            "user {username} is not a bot user (connectors log in as bot users)"
        ));
    }
    let skill_ids: Vec<&Value> = user["skillIds"].as_array().into_iter().flatten().collect();
    let skills: Vec<&str> = skill_ids.iter().filter_map(|s| s.as_str()).collect();
    if skills.is_empty() {
        return missing(format!(
            "user {username} has no skill, so no conversation can be routed to it"
        ));
    }
    // A skill no engagement routes to is reached by transfers only: allowed, but worth a word.
    if let Ok(engagements) = get("le-campaigns/engagements").await {
        let routed: Vec<&str> = engagements
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["skillId"].as_str())
            .collect();
        if !skills.iter().any(|s| routed.contains(s)) {
            tracing::warn!(
                user = username,
                skills = skills.join(", "),
                "no engagement routes to this bot user's skills: it will get transferred conversations only"
            );
        }
    }
    // The bot's users that serve one of this user's skills: a conversation
    // one of them leaves comes here without changing skill (a failover).
    // One that serves other skills only hands over by a transfer.
    let shares_a_skill = |user: &Value| {
        user["skillIds"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|skill| skill_ids.contains(&skill))
    };
    // Ids are strings on the hub and numbers on LivePerson.
    let bot_agents = users
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| {
            u["loginName"]
                .as_str()
                .is_some_and(|login| credentials.bot_users.iter().any(|b| b == login))
                && shares_a_skill(u)
        })
        .filter_map(|u| match &u["id"] {
            Value::String(id) => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
        .map(|id| format!("{account}.{id}"))
        .collect();
    Ok(Prerequisites {
        created_by: user["createdBy"].as_str().map(str::to_owned),
        bot_agents,
    })
}
