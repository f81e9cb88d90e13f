//! The connector endpoints' own work: adding and editing a connector from
//! a JSON body (read within a size bound, checked like a connector file,
//! and by its owner and production role), and a connector's row in the
//! connector table.

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Admin;
use super::auth::{Action, Caller};
use super::error::{ApiError, Handled, bad_connector, bad_id};
use crate::app::Gateway;
use crate::config::{ConnectorId, DeployTo};
use crate::http;
use crate::ports::Status;

/// The largest request body the API reads.
const MAX_BODY: usize = 256 << 10;

impl Admin {
    /// `POST /api/connectors`: the caller may change demo connectors (checked
    /// before this); a production one needs more, known once the body is.
    pub(super) async fn add(&self, caller: &Caller, request: Request<Incoming>) -> Handled {
        let body = read_json(request).await?;
        let id = match body.get("id") {
            None => return Err(bad_connector("`id` is missing".into())),
            Some(Value::String(id)) => ConnectorId::parse(id).map_err(bad_id)?,
            Some(_) => return Err(bad_connector("`id` must be a string".into())),
        };
        caller.require(Action::Change, deploys_to_production(&body))?;
        let config = connector_from_json(&body, &id)?;
        let mut gateway = self.gateway.lock().await;
        check_owner(&gateway, caller, &config).await?;
        gateway.add_connector(config).await?;
        tracing::info!(connector = %id, owner = %caller.owner, "connector added through the admin API");
        Ok(http::json(
            StatusCode::CREATED,
            &summary(&gateway, id.as_str())?,
        ))
    }

    /// `PUT /api/connectors/{id}`: a production connector, or a body that
    /// makes one, needs more than a demo one. The connector's own side is
    /// checked before the body is read, the body's after.
    pub(super) async fn edit(
        &self,
        caller: &Caller,
        id: &ConnectorId,
        request: Request<Incoming>,
    ) -> Handled {
        let is_production_now = |gateway: &Gateway| is_production(gateway, id.as_str());
        caller.require(
            Action::Change,
            is_production_now(&*self.gateway.lock().await)?,
        )?;
        let body = read_json(request).await?;
        match body.get("id") {
            None => {}
            Some(Value::String(given)) if given == id.as_str() => {}
            Some(Value::String(given)) => {
                ConnectorId::parse(given).map_err(bad_id)?;
                return Err(bad_connector(format!(
                    "the body's id `{given}` is not the path's `{id}`"
                )));
            }
            Some(_) => return Err(bad_connector("`id` must be a string".into())),
        }
        caller.require(Action::Change, deploys_to_production(&body))?;
        let config = connector_from_json(&body, id)?;
        let mut gateway = self.gateway.lock().await;
        // Checked again: it may have changed while the body was read.
        caller.require(Action::Change, is_production_now(&gateway)?)?;
        check_owner(&gateway, caller, &config).await?;
        gateway.edit_connector(config).await?;
        tracing::info!(connector = %id, owner = %caller.owner, "connector edited through the admin API");
        Ok(http::json(StatusCode::OK, &summary(&gateway, id.as_str())?))
    }
}

/// Adding or editing a connector for a bot user created by another owner
/// answers 401, as the product documents.
async fn check_owner(
    gateway: &Gateway,
    caller: &Caller,
    config: &crate::config::ConnectorConfig,
) -> Result<(), ApiError> {
    match gateway.bot_user_owner(config).await {
        Some(owner) if owner != caller.owner => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_owner",
            format!(
                "bot user `{}` was created by another owner: only they can add or edit its connectors",
                config.identity.agent_user_id
            ),
        )),
        _ => Ok(()),
    }
}

/// The request's body as JSON: 413 over [`MAX_BODY`] (by its
/// `Content-Length` before reading, or while reading), 400 if not JSON.
async fn read_json(request: Request<Incoming>) -> Result<Value, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {} KiB", MAX_BODY >> 10),
        )
    };
    let declared = request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(too_large());
    }
    let bytes = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<LengthLimitError>() {
                too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "the body could not be read",
                )
            }
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not JSON: {e}"),
        )
    })
}

/// Whether a connector document asks for production, read with the same
/// [`DeployTo`] the file's parser uses (anything else is refused by it
/// later).
pub(super) fn deploys_to_production(body: &Value) -> bool {
    body.get("deploy_to")
        .and_then(|value| DeployTo::deserialize(value).ok())
        == Some(DeployTo::Production)
}

/// A connector document (the keys of a connector file, as JSON) turned
/// into the file it will be, checked like one; `id` is already checked
/// and the body's `id`, if any, is the same.
pub(super) fn connector_from_json(
    body: &Value,
    id: &ConnectorId,
) -> Result<crate::config::ConnectorConfig, ApiError> {
    let mut body = body.clone();
    let Some(object) = body.as_object_mut() else {
        return Err(bad_connector(
            "the body must be a JSON object with the keys of a connector file".into(),
        ));
    };
    object.insert("id".into(), json!(id.as_str()));
    let text = toml::to_string(&body)
        .map_err(|e| bad_connector(format!("the connector cannot be written as TOML: {e}")))?;
    let file = std::path::PathBuf::from(format!("connectors/{id}.toml"));
    crate::config::connector_from_text(&file, &text).map_err(|errors| {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_configuration",
            format!("connector `{id}` has errors"),
        );
        error.details = errors.0.iter().map(ToString::to_string).collect();
        error
    })
}

pub(super) fn is_production(gateway: &Gateway, id: &str) -> Result<bool, ApiError> {
    Ok(*gateway.connector_config(id)?.identity.deploy_to == DeployTo::Production)
}

/// One row of the connector table.
pub(super) fn summary(gateway: &Gateway, id: &str) -> Result<Value, ApiError> {
    let identity = &gateway.connector_config(id)?.identity;
    let report = gateway.report(id)?;
    Ok(json!({
        "id": id,
        "bot": identity.bot,
        "account": identity.account,
        "agent_user_id": identity.agent_user_id,
        "conversation_type": identity.conversation_type,
        "deploy_to": identity.deploy_to,
        "status": report.status,
        // A Standby connector runs, on another gateway of the cluster.
        "running": gateway.is_running(id) || report.status == Status::Standby,
        "conversations": report.conversations,
        "gateway": report.gateway,
    }))
}
