//! The few etcd v3 calls the cluster needs (leases, a prefix read, a
//! create-if-absent, a compare-and-delete), over etcd's own JSON gateway
//! (`POST /v3/...`, served by every etcd on its client URL).
//!
//! Why not the gRPC client crates: they compile etcd's protobufs in their
//! build scripts and need `protoc` on the machine, which `cargo run` on a
//! fresh checkout would then lack. The JSON gateway is part of etcd's
//! documented API; its messages are typed here once (keys and values are
//! base64, 64-bit numbers are decimal strings).
//!
//! How a call reaches etcd (endpoints, TLS, login) is [`super::endpoints`].

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::endpoints::Endpoints;
pub use super::endpoints::EtcdError;
use crate::config::EtcdAuth;

/// A lease's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseId(pub i64);

/// A granted lease.
#[derive(Clone, Copy, Debug)]
pub struct Lease {
    /// Its id.
    pub id: LeaseId,
    /// Its time to live, as etcd granted it.
    pub ttl: Duration,
}

/// One key and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The lease the key lives with, if any.
    pub lease: Option<LeaseId>,
    /// The revision of the key's last change.
    pub revision: i64,
}

/// What a create-if-absent found.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    /// The key was absent and is now ours.
    Created,
    /// Someone holds it.
    Held(Entry),
}

/// A client of one etcd cluster.
#[derive(Debug)]
pub struct Etcd {
    endpoints: Endpoints,
}

impl Etcd {
    /// A client of the cluster at `endpoints` (`http://host:port` or
    /// `https://host:port`), reaching `https://` ones with `tls`, logging
    /// in as `auth` when given.
    pub fn new(
        endpoints: &[String],
        tls: Arc<rustls::ClientConfig>,
        auth: Option<EtcdAuth>,
    ) -> Etcd {
        Etcd {
            endpoints: Endpoints::new(endpoints, tls, auth),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, EtcdError> {
        self.endpoints.call(call, path, body).await
    }

    /// Grants a lease of `ttl`.
    pub async fn grant(&self, ttl: Duration) -> Result<Lease, EtcdError> {
        #[derive(Deserialize)]
        struct Granted {
            #[serde(rename = "ID", deserialize_with = "number")]
            id: i64,
            #[serde(rename = "TTL", deserialize_with = "number")]
            ttl: i64,
        }
        let granted: Granted = self
            .call(
                "lease grant",
                "/v3/lease/grant",
                json!({ "TTL": ttl.as_secs().max(1) }),
            )
            .await?;
        Ok(Lease {
            id: LeaseId(granted.id),
            ttl: seconds(granted.ttl),
        })
    }

    /// Renews lease `id`; its time to live from now, or `None` if the
    /// lease is gone (it expired or was revoked).
    pub async fn keep_alive(&self, id: LeaseId) -> Result<Option<Duration>, EtcdError> {
        #[derive(Deserialize)]
        struct Renewed {
            result: RenewedResult,
        }
        #[derive(Deserialize)]
        struct RenewedResult {
            #[serde(rename = "TTL", default, deserialize_with = "number")]
            ttl: i64,
        }
        let renewed: Renewed = self
            .call(
                "lease keep-alive",
                "/v3/lease/keepalive",
                json!({ "ID": id.0.to_string() }),
            )
            .await?;
        Ok((renewed.result.ttl > 0).then(|| seconds(renewed.result.ttl)))
    }

    /// Revokes lease `id`: every key attached to it goes at once.
    pub async fn revoke(&self, id: LeaseId) -> Result<(), EtcdError> {
        let _: serde_json::Value = self
            .call(
                "lease revoke",
                "/v3/lease/revoke",
                json!({ "ID": id.0.to_string() }),
            )
            .await?;
        Ok(())
    }

    /// Every key under `prefix`, in key order.
    pub async fn range_prefix(&self, prefix: &str) -> Result<Vec<Entry>, EtcdError> {
        self.range(prefix, &prefix_end(prefix), None).await
    }

    /// The keys under `prefix` changed at revision `since` or later.
    pub async fn range_prefix_since(
        &self,
        prefix: &str,
        since: i64,
    ) -> Result<Vec<Entry>, EtcdError> {
        self.range(prefix, &prefix_end(prefix), Some(since)).await
    }

    /// Every key from `from` up to (not including) `to`, in key order.
    pub async fn range(
        &self,
        from: &str,
        to: &str,
        since: Option<i64>,
    ) -> Result<Vec<Entry>, EtcdError> {
        let mut body = json!({ "key": encode(from), "range_end": encode(to) });
        if let Some(since) = since {
            body["min_mod_revision"] = json!(since.to_string());
        }
        let ranged: Ranged = self.call("range", "/v3/kv/range", body).await?;
        ranged
            .kvs
            .into_iter()
            .map(|raw| raw.decode("range"))
            .collect()
    }

    /// Puts `key` = `value` and deletes `gone`, at once.
    pub async fn put_and_delete(
        &self,
        key: &str,
        value: &str,
        gone: &str,
    ) -> Result<(), EtcdError> {
        let _: serde_json::Value = self
            .call(
                "put and delete",
                "/v3/kv/txn",
                json!({
                    "success": [
                        { "request_delete_range": { "key": encode(gone) } },
                        { "request_put": { "key": encode(key), "value": encode(value) } },
                    ],
                }),
            )
            .await?;
        Ok(())
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &str) -> Result<(), EtcdError> {
        let _: serde_json::Value = self
            .call(
                "delete",
                "/v3/kv/deleterange",
                json!({ "key": encode(key) }),
            )
            .await?;
        Ok(())
    }

    /// Puts `key` = `value`, attached to `lease` if given.
    pub async fn put(
        &self,
        key: &str,
        value: &str,
        lease: Option<LeaseId>,
    ) -> Result<(), EtcdError> {
        let mut body = json!({ "key": encode(key), "value": encode(value) });
        if let Some(lease) = lease {
            body["lease"] = json!(lease.0.to_string());
        }
        let _: serde_json::Value = self.call("put", "/v3/kv/put", body).await?;
        Ok(())
    }

    /// Creates `key` = `value` with `lease` if nobody holds `key`;
    /// otherwise answers who does.
    pub async fn create(
        &self,
        key: &str,
        value: &str,
        lease: LeaseId,
    ) -> Result<Created, EtcdError> {
        let answer: Transacted = self
            .call(
                "create",
                "/v3/kv/txn",
                json!({
                    "compare": [{ "key": encode(key), "target": "CREATE", "create_revision": "0" }],
                    "success": [{ "request_put": {
                        "key": encode(key), "value": encode(value), "lease": lease.0.to_string(),
                    }}],
                    "failure": [{ "request_range": { "key": encode(key) } }],
                }),
            )
            .await?;
        if answer.succeeded {
            return Ok(Created::Created);
        }
        let held = answer
            .responses
            .into_iter()
            .filter_map(|r| r.response_range)
            .flat_map(|r| r.kvs)
            .next();
        match held {
            Some(entry) => Ok(Created::Held(entry.decode("create")?)),
            // Deleted between the compare and the read: try again later.
            None => Err(EtcdError::Answer {
                call: "create",
                reason: "the key was held and is gone".into(),
            }),
        }
    }

    /// Deletes `key` if it lives with `lease`; true if it was deleted.
    pub async fn delete_if_leased(&self, key: &str, lease: LeaseId) -> Result<bool, EtcdError> {
        let answer: Transacted = self
            .call(
                "compare-and-delete",
                "/v3/kv/txn",
                json!({
                    "compare": [{ "key": encode(key), "target": "LEASE", "lease": lease.0.to_string() }],
                    "success": [{ "request_delete_range": { "key": encode(key) } }],
                }),
            )
            .await?;
        Ok(answer.succeeded)
    }
}

#[derive(Deserialize)]
struct Ranged {
    #[serde(default)]
    kvs: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct Transacted {
    #[serde(default)]
    succeeded: bool,
    #[serde(default)]
    responses: Vec<TxnResponse>,
}

#[derive(Deserialize)]
struct TxnResponse {
    #[serde(default)]
    response_range: Option<Ranged>,
}

#[derive(Deserialize)]
struct RawEntry {
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default, deserialize_with = "number")]
    lease: i64,
    #[serde(default, deserialize_with = "number")]
    mod_revision: i64,
}

impl RawEntry {
    fn decode(self, call: &'static str) -> Result<Entry, EtcdError> {
        let text = |field: &str, base64: &str| {
            BASE64
                .decode(base64)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| EtcdError::Answer {
                    call,
                    reason: format!("a {field} is not base64 of UTF-8 text"),
                })
        };
        Ok(Entry {
            key: text("key", &self.key)?,
            value: text("value", &self.value)?,
            lease: (self.lease != 0).then_some(LeaseId(self.lease)),
            revision: self.mod_revision,
        })
    }
}

/// A 64-bit number as etcd's JSON writes it: a decimal string (or, read
/// leniently, a number).
fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Text(String),
        Number(i64),
    }
    match Number::deserialize(deserializer)? {
        Number::Number(n) => Ok(n),
        Number::Text(text) => text.parse().map_err(serde::de::Error::custom),
    }
}

fn seconds(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}

fn encode(text: &str) -> String {
    BASE64.encode(text)
}

/// The end of the range of keys starting with `prefix`: its last byte
/// plus one (switchboard's prefixes end in `/`, never in 0xff).
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    String::from_utf8(end).expect("the prefix ends in an ASCII byte")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_ends_after_its_last_byte() {
        assert_eq!(prefix_end("/switchboard/"), "/switchboard0");
    }

    #[test]
    fn numbers_are_read_as_etcd_writes_them() {
        let entry: RawEntry =
            serde_json::from_str(r#"{"key":"L2E=","value":"Zw==","lease":"7","mod_revision":"9"}"#)
                .unwrap();
        assert_eq!(
            entry.decode("range").unwrap(),
            Entry {
                key: "/a".into(),
                value: "g".into(),
                lease: Some(LeaseId(7)),
                revision: 9,
            }
        );
    }
}
