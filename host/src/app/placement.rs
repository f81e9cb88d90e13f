//! Where a gateway's connectors run: here, as a person's Start and Stop
//! say (one gateway), or where the cluster puts them (`[cluster]`: the
//! cluster task in `crate::cluster` decides, through [`Members`]).

use std::future::Future;

use futures_util::FutureExt as _;

use super::{Gateway, LifecycleError};
use crate::cluster::{ClusterLink, Members};
use crate::connector::StopSignal;
use crate::ports::Placement;

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

    /// In a cluster, connectors start where the cluster puts them: until
    /// this gateway knows, each may run elsewhere.
    pub(super) fn place_unknown(&self) {
        if self.cluster.is_some() {
            for connector in self.connectors.values() {
                connector.place(Placement::Unknown);
            }
        }
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

    fn run_here(&mut self, id: &str) -> Result<StopSignal, String> {
        self.start_connector(id).map_err(|e| e.to_string())?;
        self.connectors
            .get(id)
            .and_then(crate::connector::Connector::stop_signal)
            .ok_or_else(|| format!("connector `{id}` did not start"))
    }

    fn release_here(&mut self, ids: Vec<String>) -> impl Future<Output = ()> + Send + '_ {
        let stops = self
            .connectors
            .iter_mut()
            .filter(move |(id, _)| ids.contains(id))
            .map(|(_, connector)| connector.stop());
        futures_util::future::join_all(stops).map(|_| ())
    }

    fn place(&self, id: &str, placement: Placement) {
        if let Some(connector) = self.connectors.get(id) {
            connector.place(placement);
        }
    }

    fn connector_file(&self, id: &str) -> Option<String> {
        self.connector_config(id).ok().map(|c| c.source.to_string())
    }

    fn apply_file(
        &mut self,
        id: &str,
        text: Option<String>,
    ) -> impl Future<Output = bool> + Send + '_ {
        let id = id.to_owned();
        async move {
            match self.write_connector(&id, text.as_deref()).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::error!(connector = %id, %error, "cluster: the connector file shared through another gateway is refused here; this gateway keeps its own, and tries again later");
                    false
                }
            }
        }
    }
}
