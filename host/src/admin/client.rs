//! The admin API's client, behind `switchboard connectors ...`.

use serde_json::Value;

use crate::http::{ClientError, HttpClient};

/// Where the API is and the token to use.
pub struct AdminClient {
    base: String,
    token: String,
    http: HttpClient,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The API could not be reached.
    #[error(transparent)]
    Transport(#[from] ClientError),
    /// The API answered with an error.
    #[error("{status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error's message (and details).
        message: String,
    },
}

impl AdminClient {
    /// A client of the API at `base` (`http://127.0.0.1:8081`).
    pub fn new(base: &str, token: &str) -> Self {
        AdminClient {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: HttpClient::new(crate::tls::client_config(None).expect("public roots load")),
        }
    }

    async fn call(&self, method: &str, path: &str) -> Result<Value, CommandError> {
        let url = format!("{}{path}", self.base);
        let (status, body) = self.http.call(method, &url, &self.token, None).await?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let error = &body["error"];
        let mut message = error["message"].as_str().unwrap_or("error").to_owned();
        for detail in error["details"].as_array().into_iter().flatten() {
            message.push_str(&format!("\n  {}", detail.as_str().unwrap_or_default()));
        }
        Err(CommandError::Api { status, message })
    }

    /// `connectors list`: one line per connector.
    pub async fn list(&self) -> Result<String, CommandError> {
        let body = self.call("GET", "/api/connectors").await?;
        let mut out = format!(
            "{:<24} {:<16} {:>13}  {}\n",
            "CONNECTOR", "STATUS", "CONVERSATIONS", "BOT"
        );
        for c in body["connectors"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{:<24} {:<16} {:>13}  {}\n",
                c["id"].as_str().unwrap_or_default(),
                c["status"].as_str().unwrap_or_default(),
                c["conversations"],
                c["bot"].as_str().unwrap_or_default()
            ));
        }
        Ok(out)
    }

    /// `connectors start ID` / `connectors stop ID`: the new status.
    pub async fn start_stop(&self, id: &str, verb: &str) -> Result<String, CommandError> {
        let body = self
            .call("POST", &format!("/api/connectors/{id}/{verb}"))
            .await?;
        Ok(format!(
            "{id}: {}\n",
            body["status"].as_str().unwrap_or_default()
        ))
    }

    /// `connectors details ID`: status, progress and components, as JSON.
    pub async fn details(&self, id: &str) -> Result<String, CommandError> {
        let body = self.call("GET", &format!("/api/connectors/{id}")).await?;
        Ok(serde_json::to_string_pretty(&body).unwrap_or_default() + "\n")
    }
}
