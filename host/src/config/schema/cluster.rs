//! `[cluster]`: several gateways sharing their connectors through etcd.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::number_in;
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// `[cluster]`: the etcd cluster the gateways share and this gateway's
/// name in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// etcd's client URLs (`http://host:port`), tried in order.
    pub etcd: Vec<String>,
    /// This gateway's name, unique among the gateways of the cluster.
    pub gateway: String,
    /// Where switchboard's keys live in etcd (no trailing `/`).
    pub prefix: String,
    /// How long a gateway that stops answering keeps its connectors: its
    /// lease's time to live.
    pub lease_ttl: Duration,
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
}

impl RawCluster {
    /// The checked table; `None` (with diagnostics) if any of it is refused.
    /// `shared_platform`: `[messaging] csds` is set (the gateways of a
    /// cluster must reach one platform, not each its own hub).
    pub(super) fn check(
        self,
        shared_platform: bool,
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
        Some(ClusterConfig {
            etcd: self.etcd.get().iter().map(|u| u.get().clone()).collect(),
            gateway: self.gateway.get().clone(),
            prefix,
            lease_ttl,
        })
    }
}

/// An etcd client URL switchboard can use: `http://host:port`.
fn check_endpoint(url: &str) -> Result<(), &'static str> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(if url.starts_with("https://") {
            "TLS to etcd is not supported yet: use http:// on a trusted network"
        } else {
            "must be an http:// URL like \"http://127.0.0.1:2379\""
        });
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
