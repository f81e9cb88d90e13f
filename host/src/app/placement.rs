//! Where a gateway's connectors run: here, as a person's Start and Stop
//! say (one gateway), or where the cluster puts them (`[cluster]`: the
//! cluster task in `crate::cluster` decides, through [`Members`]).

use std::future::Future;

use super::{Gateway, LifecycleError};
use crate::cluster::{ClusterLink, Members};

impl Gateway {
    /// A person's Start (`running`) or Stop of connector `id`. On one
    /// gateway it starts or stops here, and a restart does the same. In a
    /// cluster it is recorded for every gateway of the cluster, and the
    /// gateway that runs the connector (or wins it) acts on it.
    pub async fn set_running(&mut self, id: &str, running: bool) -> Result<(), LifecycleError> {
        let Some(cluster) = &self.cluster else {
            return if running {
                self.start_connector(id)
            } else {
                self.stop_connector(id).await
            };
        };
        self.connector(id)?;
        if running && self.closing {
            return Err(LifecycleError::Closing);
        }
        cluster
            .want(id, running)
            .await
            .map_err(|error| LifecycleError::Cluster {
                id: id.to_owned(),
                reason: error.to_string(),
            })
    }

    /// A person's change of connector `id`'s file (`None`: deleted)
    /// through this gateway: written and reloaded here, then, in a
    /// cluster, shared with every gateway. A change the cluster cannot
    /// take is undone here too, so the gateways do not drift apart.
    pub(super) async fn change_connector(
        &mut self,
        id: &str,
        text: Option<&str>,
    ) -> Result<(), LifecycleError> {
        let before = self.connector_config(id).ok().map(|c| c.source.clone());
        self.write_connector(id, text).await?;
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        let Err(error) = cluster.share_file(id, text).await else {
            return Ok(());
        };
        if let Err(undo) = self.write_connector(id, before.as_deref()).await {
            tracing::error!(connector = id, error = %undo, "cluster: could not undo a change etcd did not take");
        }
        Err(LifecycleError::Cluster {
            id: id.to_owned(),
            reason: format!("{error}; the change was undone"),
        })
    }

    /// The cluster this gateway is part of, if any.
    pub fn cluster(&self) -> Option<&ClusterLink> {
        self.cluster.as_ref()
    }
}

impl Members for Gateway {
    fn connectors(&self) -> Vec<(String, bool)> {
        self.config
            .connectors
            .iter()
            .map(|c| (c.id.get().clone(), c.autostart))
            .collect()
    }

    fn run_here(&mut self, id: &str) {
        if let Err(error) = self.start_connector(id) {
            tracing::error!(connector = id, %error, "cluster: cannot start the connector here");
        }
    }

    fn release_here(&mut self, id: &str) -> impl Future<Output = ()> + Send + '_ {
        let id = id.to_owned();
        async move {
            if let Some(connector) = self.connectors.get_mut(&id) {
                connector.stop().await;
            }
        }
    }

    fn place(&self, id: &str, gateway: Option<&str>, elsewhere: bool) {
        if let Some(connector) = self.connectors.get(id) {
            connector.place(gateway, elsewhere);
        }
    }

    fn connector_file(&self, id: &str) -> Option<String> {
        self.connector_config(id).ok().map(|c| c.source.to_string())
    }

    fn apply_file(
        &mut self,
        id: &str,
        text: Option<String>,
    ) -> impl Future<Output = ()> + Send + '_ {
        let id = id.to_owned();
        async move {
            if let Err(error) = self.write_connector(&id, text.as_deref()).await {
                tracing::error!(connector = %id, %error, "cluster: the connector file shared through another gateway is refused here; this gateway keeps its own");
            }
        }
    }
}
