//! The bot user's prerequisites, read where LivePerson serves them: the
//! Users API (`le-users/users?v=4.0`) and the campaigns' engagements
//! (`le-campaigns/...?v=3.4`) on the `accountConfigReadOnly` domain.
//!
//! A prerequisite that is read and fails (the user is missing, disabled,
//! not a bot, or has no skill) stops the connector at this step. One that
//! cannot be read (no such domain or API, no permission: 401, 403, 404) is
//! a warning the connector shows in Details, and the user is trusted.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::Credentials;
use super::login::{excerpt, get_config};
use crate::ports::DialError;

/// What the account's configuration says about the bot user.
#[derive(Default)]
pub(super) struct Prerequisites {
    /// Who created the user, where the platform says.
    pub(super) created_by: Option<String>,
    /// Account-qualified ids of the bot's agent users.
    pub(super) bot_agents: HashSet<String>,
    /// What could not be checked, for Details.
    pub(super) warnings: Vec<String>,
    /// The account's skill ids by name: a bot written for LivePerson's
    /// Third-Party Bots names the skill it transfers to.
    pub(super) skills: HashMap<String, String>,
}

/// An id the account configuration APIs send as a number (the hub as text).
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
enum Id {
    Number(u64),
    Text(String),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::Text(t) => f.write_str(t),
        }
    }
}

/// A user as the Users API describes it (ids are numbers at LivePerson).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: Id,
    login_name: String,
    #[serde(default)]
    user_type_id: Option<u8>,
    #[serde(default)]
    is_enabled: Option<bool>,
    #[serde(default)]
    skill_ids: Vec<Id>,
    #[serde(default)]
    created_by: Option<Id>,
}

/// A skill as the Skills API describes it.
#[derive(Deserialize)]
struct Skill {
    id: Id,
    name: String,
}

#[derive(Deserialize)]
struct Campaign {
    id: Id,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Engagement {
    #[serde(default)]
    skill_id: Option<Id>,
}

/// LivePerson's user type of bots.
const BOT_USER_TYPE: u8 = 2;

/// Checks on `config` (the accountConfigReadOnly domain) that the user
/// exists, is enabled, is a bot and has a skill, and learns the ids of
/// the bot's agent users.
pub(super) async fn check(
    credentials: &Credentials,
    config: Option<&str>,
    bearer: &str,
) -> Result<Prerequisites, DialError> {
    let (account, username) = (credentials.account.as_str(), credentials.username.as_str());
    let Some(config) = config else {
        return Ok(unchecked(
            "the platform names no accountConfigReadOnly domain".into(),
        ));
    };
    let base = format!(
        "{}://{config}/api/account/{account}/configuration",
        credentials.http()
    );
    let url = format!("{base}/le-users/users?v=4.0");
    let answer = get_config(credentials, &url, bearer)
        .await
        .map_err(|e| DialError::Prerequisite(format!("cannot read the account's users: {e}")))?;
    match answer.status {
        200 => {}
        // No permission, or no such API here: the user is trusted.
        401 | 403 | 404 => {
            let mut trusted = unchecked(format!(
                "the account's users cannot be read (HTTP {})",
                answer.status
            ));
            // The skills are another API, which may answer where users do not.
            match skills_by_name(credentials, &base, bearer).await {
                Ok(skills) => trusted.skills = skills,
                Err(reason) => trusted.warnings.push(skills_unread(&reason)),
            }
            return Ok(trusted);
        }
        status => {
            return Err(DialError::Prerequisite(format!(
                "cannot read the account's users: HTTP {status}: {}",
                excerpt(&answer.body)
            )));
        }
    }
    let users: Vec<User> = serde_json::from_slice(&answer.body)
        .map_err(|e| DialError::Prerequisite(format!("the account's users do not read: {e}")))?;
    let missing = |what: String| Err(DialError::Prerequisite(what));
    let Some(user) = users.iter().find(|u| u.login_name == username) else {
        return missing(format!(
            "user {username} does not exist in account {account}"
        ));
    };
    if user.is_enabled != Some(true) {
        return missing(format!("user {username} is disabled"));
    }
    if user.user_type_id != Some(BOT_USER_TYPE) {
        return missing(format!(
            "user {username} is not a bot user (connectors log in as bot users)"
        ));
    }
    if user.skill_ids.is_empty() {
        return missing(format!(
            "user {username} has no skill, so no conversation can be routed to it"
        ));
    }
    let mut warnings = Vec::new();
    match routed_skills(credentials, &base, bearer).await {
        Ok(routed) if !user.skill_ids.iter().any(|s| routed.contains(s)) => {
            // Allowed, but worth a word: only transfers reach such a user.
            warnings.push(format!(
                "no engagement routes to the skills of user {username}: it gets transferred conversations only"
            ));
        }
        Ok(_) => {}
        Err(reason) => warnings.push(format!("the engagements cannot be read ({reason})")),
    }
    let skills = match skills_by_name(credentials, &base, bearer).await {
        Ok(skills) => skills,
        Err(reason) => {
            warnings.push(skills_unread(&reason));
            HashMap::new()
        }
    };
    // The bot's users that serve one of this user's skills: a conversation
    // one of them leaves comes here without changing skill (a failover).
    // One that serves other skills only hands over by a transfer.
    let bot_agents = users
        .iter()
        .filter(|u| credentials.bot_users.contains(&u.login_name))
        .filter(|u| u.skill_ids.iter().any(|s| user.skill_ids.contains(s)))
        .map(|u| format!("{account}.{}", u.id))
        .collect();
    Ok(Prerequisites {
        created_by: user.created_by.as_ref().map(ToString::to_string),
        bot_agents,
        warnings,
        skills,
    })
}

/// The skills some engagement of some campaign routes to.
async fn routed_skills(
    credentials: &Credentials,
    base: &str,
    bearer: &str,
) -> Result<Vec<Id>, String> {
    let campaigns: Vec<Campaign> = read_json(
        credentials,
        format!("{base}/le-campaigns/campaigns?v=3.4"),
        bearer,
    )
    .await?;
    let mut routed = Vec::new();
    for campaign in campaigns {
        let url = format!(
            "{base}/le-campaigns/campaigns/{}/engagements?v=3.4",
            campaign.id
        );
        let engagements: Vec<Engagement> = read_json(credentials, url, bearer).await?;
        routed.extend(engagements.into_iter().filter_map(|e| e.skill_id));
    }
    Ok(routed)
}

/// How long the skills may take to read: they only name skills for
/// transfers, so a slow answer must not hold the login.
const SKILLS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// The warning for skills that could not be read.
fn skills_unread(reason: &str) -> String {
    format!("the skills cannot be read ({reason}): a bot's transfer names its skill by id only")
}

/// The account's skill ids by name.
async fn skills_by_name(
    credentials: &Credentials,
    base: &str,
    bearer: &str,
) -> Result<HashMap<String, String>, String> {
    let url = format!("{base}/le-users/skills?v=2.0");
    let skills: Vec<Skill> =
        tokio::time::timeout(SKILLS_PATIENCE, read_json(credentials, url, bearer))
            .await
            .map_err(|_| format!("no answer within {} s", SKILLS_PATIENCE.as_secs()))??;
    Ok(skills
        .into_iter()
        .map(|skill| (skill.name, skill.id.to_string()))
        .collect())
}

/// A listing of the account's configuration, or why it could not be read.
async fn read_json<T: serde::de::DeserializeOwned>(
    credentials: &Credentials,
    url: String,
    bearer: &str,
) -> Result<T, String> {
    let answer = get_config(credentials, &url, bearer).await?;
    if answer.status != 200 {
        return Err(format!("HTTP {}", answer.status));
    }
    serde_json::from_slice(&answer.body).map_err(|e| e.to_string())
}

/// Prerequisites that could not be read: the user is trusted, and only
/// this agent's own words are known to be the bot's (the caller adds its id).
fn unchecked(reason: String) -> Prerequisites {
    Prerequisites {
        warnings: vec![format!(
            "{reason}: the bot user's prerequisites were not checked"
        )],
        ..Prerequisites::default()
    }
}
