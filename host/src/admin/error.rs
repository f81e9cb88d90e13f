//! The admin API's one error shape, and what each of the gateway's
//! lifecycle errors answers in it.

use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::app::LifecycleError;
use crate::http::{self, Body};

/// An API error in the stable shape.
pub(super) struct ApiError {
    pub(super) status: StatusCode,
    code: &'static str,
    pub(super) message: String,
    pub(super) details: Vec<String>,
    /// The methods a 405's path takes, for its `Allow` header.
    pub(super) allow: Option<String>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            allow: None,
        }
    }

    pub(super) fn response(self) -> Response<Body> {
        let mut error = json!({
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
        });
        if !self.details.is_empty() {
            error["details"] = json!(self.details);
        }
        let mut response = http::json(self.status, &json!({ "error": error }));
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            response.headers_mut().insert(hyper::header::ALLOW, allow);
        }
        response
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        let message = error.to_string();
        let (status, code) = match &error {
            LifecycleError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown_connector"),
            LifecycleError::UnknownPlugin { .. } => (StatusCode::NOT_FOUND, "unknown_plugin"),
            LifecycleError::Exists(_) => (StatusCode::CONFLICT, "connector_exists"),
            LifecycleError::Running { .. } => (StatusCode::CONFLICT, "connector_running"),
            LifecycleError::UserTaken { .. } => (StatusCode::CONFLICT, "agent_user_taken"),
            LifecycleError::NoBot { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_bot"),
            LifecycleError::Platform { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "platform_refused")
            }
            LifecycleError::BadId(_) => (StatusCode::BAD_REQUEST, "bad_id"),
            LifecycleError::Closing => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            LifecycleError::Cluster { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "cluster_unavailable")
            }
            LifecycleError::Write { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "write_failed"),
            LifecycleError::Refused(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_configuration")
            }
        };
        let details = match error {
            LifecycleError::Refused(report) => report.errors,
            _ => Vec::new(),
        };
        ApiError {
            status,
            code,
            message,
            details,
            allow: None,
        }
    }
}

pub(super) type Handled = Result<Response<Body>, ApiError>;

pub(super) fn bad_id(error: crate::config::BadConnectorId) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_id", error.to_string())
}

pub(super) fn bad_connector(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_connector", message)
}
