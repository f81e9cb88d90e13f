//! `[cluster]`: several gateways sharing their connectors through etcd.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::number_in;
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// `[cluster]`: the etcd cluster the gateways share and this gateway's
/// name in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// etcd's client URLs (`http://host:port`, or all `https://`), tried in
    /// order.
    pub etcd: Vec<String>,
    /// How `https://` endpoints are trusted and whom the gateway shows them.
    pub tls: EtcdTls,
    /// etcd's user and password, when etcd's authentication is on.
    pub auth: Option<EtcdAuth>,
    /// This gateway's name, unique among the gateways of the cluster.
    pub gateway: String,
    /// Where switchboard's keys live in etcd (no trailing `/`).
    pub prefix: String,
    /// How long a gateway that stops answering keeps its connectors: its
    /// lease's time to live.
    pub lease_ttl: Duration,
}

/// TLS to etcd (`https://` endpoints).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtcdTls {
    /// The CA certificate (PEM) etcd's server certificate must chain to,
    /// instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// The client certificate and its key (PEM), for an etcd started with
    /// `--client-cert-auth`.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl EtcdTls {
    /// The client certificate file and its key file, if set.
    pub fn identity(&self) -> Option<(&Path, &Path)> {
        self.identity
            .as_ref()
            .map(|(cert, key)| (cert.as_path(), key.as_path()))
    }
}

/// A user of etcd's authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdAuth {
    /// The user name.
    pub username: String,
    /// The password (from `password` or the variable `password_env`).
    pub password: String,
}

impl std::fmt::Debug for EtcdAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The default `lease_ttl_ms`.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);

/// The `lease_ttl_ms` accepted: long enough for a gateway to renew its
/// lease several times and to stop its connectors (see the cluster's
/// fencing) before the lease can run out.
const LEASE_TTL_MS: std::ops::RangeInclusive<u64> = 6_000..=60_000;

/// `[cluster]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    etcd: Located<Vec<Located<String>>>,
    gateway: Located<String>,
    #[serde(default)]
    prefix: Option<Located<String>>,
    #[serde(default)]
    lease_ttl_ms: Option<Located<u64>>,
    #[serde(default)]
    ca_file: Option<Located<String>>,
    #[serde(default)]
    cert_file: Option<Located<String>>,
    #[serde(default)]
    key_file: Option<Located<String>>,
    #[serde(default)]
    username: Option<Located<String>>,
    #[serde(default)]
    password: Option<Located<String>>,
    #[serde(default)]
    password_env: Option<Located<String>>,
}

impl RawCluster {
    /// The checked table; `None` (with diagnostics) if any of it is refused.
    /// `shared_platform`: `[messaging] csds` is set (the gateways of a
    /// cluster must reach one platform, not each its own hub). The files
    /// it names are relative to `dir`.
    pub(super) fn check(
        self,
        shared_platform: bool,
        dir: &Path,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<ClusterConfig> {
        let before = diagnostics.len();
        let mut refuse = |span, message: String| {
            diagnostics.push(Diagnostic::error(file, source, span, message));
        };
        if self.etcd.is_empty() {
            refuse(
                self.etcd.span(),
                "[cluster] `etcd` needs at least one client URL, like \"http://127.0.0.1:2379\""
                    .into(),
            );
        }
        for url in self.etcd.iter() {
            if let Err(why) = check_endpoint(url) {
                refuse(url.span(), format!("[cluster] `etcd` {url:?}: {why}"));
            }
        }
        let https = self.etcd.iter().any(|url| url.starts_with("https://"));
        if https && self.etcd.iter().any(|url| url.starts_with("http://")) {
            refuse(
                self.etcd.span(),
                "[cluster] `etcd` mixes http:// and https:// URLs: one cluster is reached one way"
                    .into(),
            );
        }
        let http = self.etcd.iter().any(|url| url.starts_with("http://"));
        for field in [&self.ca_file, &self.cert_file, &self.key_file]
            .into_iter()
            .flatten()
            .filter(|_| http && !https)
        {
            refuse(
                field.span(),
                "[cluster] certificate files are for https:// etcd URLs: these are http://".into(),
            );
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), None) => refuse(
                cert.span(),
                "[cluster] `cert_file` needs its `key_file` (the client certificate's private key)"
                    .into(),
            ),
            (None, Some(key)) => refuse(
                key.span(),
                "[cluster] `key_file` needs its `cert_file` (the client certificate)".into(),
            ),
            _ => {}
        }
        let auth = self.auth(&mut refuse);
        if !shared_platform {
            refuse(
                self.gateway.span(),
                "[cluster] needs the platform its gateways share: set [messaging] `csds` (each gateway's own hub would be a platform of its own)".into(),
            );
        }
        let name = self.gateway.as_str();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            refuse(
                self.gateway.span(),
                format!(
                    "[cluster] `gateway` {name:?} must be 1 to 64 letters, digits, `-`, `_` or `.`"
                ),
            );
        }
        let prefix = match &self.prefix {
            Some(prefix) if !prefix.starts_with('/') || prefix.ends_with('/') => {
                refuse(
                    prefix.span(),
                    format!(
                        "[cluster] `prefix` {:?} must start with `/` and not end with one, like \"/switchboard\"",
                        prefix.as_str()
                    ),
                );
                String::new()
            }
            Some(prefix) => prefix.get().clone(),
            None => "/switchboard".into(),
        };
        let lease_ttl = number_in(
            self.lease_ttl_ms.as_ref(),
            "[cluster] `lease_ttl_ms`",
            LEASE_TTL_MS,
            file,
            source,
            diagnostics,
        )
        .map_or(DEFAULT_LEASE_TTL, Duration::from_millis);
        if let Some(ms) = &self.lease_ttl_ms
            && LEASE_TTL_MS.contains(ms.get())
            && **ms % 1000 != 0
        {
            // etcd counts leases in whole seconds.
            diagnostics.push(Diagnostic::error(
                file,
                source,
                ms.span(),
                "[cluster] `lease_ttl_ms` must be whole seconds (etcd counts leases in seconds), like 10000".to_owned(),
            ));
        }
        if diagnostics.len() > before {
            return None;
        }
        if let Some(username) = self.username.as_ref().filter(|_| http && !https) {
            diagnostics.push(Diagnostic::warning(
                file,
                source,
                username.span(),
                "[cluster] the etcd password crosses the network in the clear over http://: use https:// URLs",
            ));
        }
        let path = |f: &Located<String>| dir.join(f.as_str());
        Some(ClusterConfig {
            etcd: self.etcd.get().iter().map(|u| u.get().clone()).collect(),
            tls: EtcdTls {
                ca_file: self.ca_file.as_ref().map(path),
                identity: self
                    .cert_file
                    .as_ref()
                    .map(path)
                    .zip(self.key_file.as_ref().map(path)),
            },
            auth,
            gateway: self.gateway.get().clone(),
            prefix,
            lease_ttl,
        })
    }
}

impl RawCluster {
    /// `username` with exactly one of `password` and `password_env`, or
    /// none of the three.
    fn auth(&self, refuse: &mut impl FnMut(std::ops::Range<usize>, String)) -> Option<EtcdAuth> {
        let password = match (&self.password, &self.password_env) {
            (Some(password), None) => Some(password.get().clone()),
            (None, Some(var)) => match std::env::var(var.as_str()) {
                Ok(password) => Some(password),
                Err(_) => {
                    refuse(
                        var.span(),
                        format!("environment variable `{var}` (the etcd password) is not set"),
                    );
                    None
                }
            },
            (Some(password), Some(_)) => {
                refuse(
                    password.span(),
                    "[cluster] takes one of `password` and `password_env`, not both".into(),
                );
                None
            }
            (None, None) => None,
        };
        match &self.username {
            Some(username) if username.is_empty() => {
                refuse(username.span(), "[cluster] `username` is empty".into());
                None
            }
            Some(username) => match password {
                Some(password) => Some(EtcdAuth {
                    username: username.get().clone(),
                    password,
                }),
                None => {
                    if self.password.is_none() && self.password_env.is_none() {
                        refuse(
                            username.span(),
                            "[cluster] `username` needs `password` or `password_env`".into(),
                        );
                    }
                    None
                }
            },
            None => {
                if let Some(at) = self.password.as_ref().or(self.password_env.as_ref()) {
                    refuse(
                        at.span(),
                        "[cluster] a password needs the `username` it belongs to".into(),
                    );
                }
                None
            }
        }
    }
}

/// An etcd client URL switchboard can use: `http://host:port` or
/// `https://host:port`.
fn check_endpoint(url: &str) -> Result<(), &'static str> {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return Err("must be an http:// or https:// URL like \"http://127.0.0.1:2379\"");
    };
    let authority = rest.trim_end_matches('/');
    match authority.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty() && !authority.contains('/') && port.parse::<u16>().is_ok() =>
        {
            Ok(())
        }
        _ => Err("must name a host and a port, like \"http://127.0.0.1:2379\""),
    }
}
