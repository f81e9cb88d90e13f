//! `switchboard run` and `switchboard hub`: a gateway (or the embedded hub
//! alone) from start to a clean stop, with the signals that end it.
//!
//! Owns: the process's lifetime: what it prints for the person running it,
//! the admin server and the file watcher beside the gateway, and the order
//! things stop in. What a gateway is lives in `app`; the admin API in
//! `admin`, which depends on `app` (never the other way round).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::app::{Gateway, Overrides, StartError, Watcher};
use crate::config;
use crate::hub::Hub;

/// The configuration directory to use when none is given: `config/` in the
/// working directory or the nearest parent that has one (so `cargo run`
/// finds the shipped one from anywhere in a checkout); else `./config`,
/// which then fails to load with a message naming it.
pub fn default_config_dir() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_default();
    here.ancestors()
        .map(|dir| dir.join("config"))
        .find(|dir| dir.join("switchboard.toml").is_file())
        .unwrap_or_else(|| PathBuf::from("config"))
}

/// `switchboard run`: starts the gateway, prints where to chat, and runs
/// until Ctrl-C or SIGTERM.
pub async fn run(config_dir: &Path, overrides: Overrides) -> Result<(), StartError> {
    let mut signals = Signals::new();
    let loaded = config::load(config_dir)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
        let _ = writeln!(std::io::stderr(), "{warning}");
    }
    // A signal while starting (plugins compile off the runtime's threads,
    // which takes seconds for a large one) stops at once: what was started
    // goes with the process.
    say(format_args!("switchboard: starting"));
    let gateway = tokio::select! {
        started = Gateway::start(loaded.config, &overrides) => started?,
        () = signals.next() => {
            say(format_args!("switchboard: stopped while starting"));
            return Ok(());
        }
    };
    if let Some(url) = gateway.hub_url() {
        if let Some(certificate) = gateway.hub_certificate() {
            say(format_args!(
                "switchboard: hub TLS certificate at {} (trust it, e.g. NODE_EXTRA_CA_CERTS={0})",
                certificate.display()
            ));
        }
        say(format_args!("switchboard: hub listening on {url}"));
        say(format_args!("switchboard: web chat at {url}/"));
    }
    for (id, report) in gateway.reports() {
        say(format_args!(
            "switchboard: connector {id}: {:?}",
            report.status
        ));
    }
    let admin_config = gateway.admin_config().cloned();
    let gateway = Arc::new(tokio::sync::Mutex::new(gateway));
    let admin = match admin_config {
        Some(admin) => {
            let listener = tokio::net::TcpListener::bind(admin.listen)
                .await
                .map_err(|source| StartError::Admin {
                    listen: admin.listen,
                    source,
                })?;
            let address = listener.local_addr().map_err(|source| StartError::Admin {
                listen: admin.listen,
                source,
            })?;
            say(format_args!(
                "switchboard: Agent Connectors page and admin API at http://{address}/"
            ));
            Some(AbortOnDrop(tokio::spawn(crate::admin::serve(
                listener,
                gateway.clone(),
                admin,
            ))))
        }
        None => None,
    };
    // Without a watcher the gateway still serves; changes wait for a restart.
    let watcher = match Watcher::start(gateway.clone()).await {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::error!("hot reload is off: {error}");
            None
        }
    };
    let cluster = gateway
        .lock()
        .await
        .cluster()
        .cloned()
        .map(|link| crate::cluster::Cluster::start(gateway.clone(), link));
    signals.next().await;
    say(format_args!("switchboard: shutting down"));
    tokio::spawn(async move {
        signals.next().await;
        let _ = writeln!(
            std::io::stderr(),
            "switchboard: a second signal: exiting at once, without a clean shutdown"
        );
        std::process::exit(EXIT_INTERRUPTED);
    });
    if let Some(watcher) = watcher {
        watcher.stop().await;
    }
    if let Some(admin) = admin {
        admin.stop().await;
    }
    // The cluster claims nothing more; its lease goes once the connectors
    // have logged out, so the other gateways take them over at once.
    let release = match cluster {
        Some(cluster) => Some(cluster.halt().await),
        None => None,
    };
    // Nobody else holds the lock for long now: the watcher, the cluster
    // task and every admin request are gone.
    gateway.lock().await.wind_down().await;
    if let Some(release) = release {
        release.revoke().await;
    }
    say(format_args!("switchboard: stopped"));
    Ok(())
}

/// The exit status after a second signal cut a shutdown short (as a shell
/// reports a process ended by SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// `switchboard hub`: runs the embedded hub of `config_dir` alone, as the
/// platform's own process (so a gateway that crashes or restarts finds its
/// conversations there), until Ctrl-C or SIGTERM.
pub async fn run_hub(config_dir: &Path, overrides: Overrides) -> Result<(), StartError> {
    let mut signals = Signals::new();
    let loaded = config::load(config_dir)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let gateway = loaded.config.gateway;
    let Some(mut hub_config) = gateway.hub else {
        return Err(StartError::NoHub(config_dir.to_owned()));
    };
    if let Some(listen) = overrides.hub_listen {
        hub_config.listen = listen;
    }
    if !loaded.config.connectors.is_empty() {
        tracing::warn!(
            "{}: `switchboard hub` runs the hub only; the connectors there start with `switchboard run`",
            config_dir.display()
        );
    }
    let hub = Hub::start(hub_config, &gateway.data_dir).await?;
    let url = hub.url();
    if let Some(certificate) = &hub.certificate {
        say(format_args!(
            "switchboard: hub TLS certificate at {} (trust it, e.g. NODE_EXTRA_CA_CERTS={0})",
            certificate.display()
        ));
    }
    say(format_args!("switchboard: hub listening on {url}"));
    say(format_args!("switchboard: web chat at {url}/"));
    signals.next().await;
    say(format_args!("switchboard: hub stopping"));
    hub.stop().await;
    say(format_args!("switchboard: stopped"));
    Ok(())
}

/// A task that ends when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    /// Ends the task and waits until it is gone (a server's connections
    /// with it).
    async fn stop(mut self) {
        self.0.abort();
        let _ = (&mut self.0).await;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Prints a line for the person running `switchboard run`; a closed
/// stdout (a pipe nobody reads any more) is no reason to stop serving.
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// SIGTERM and SIGINT (Ctrl-C), listened to from the start to the end of a
/// run, so that a second signal during the shutdown is not missed.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                terminate: signal(SignalKind::terminate()).expect("SIGTERM handler installs"),
                interrupt: signal(SignalKind::interrupt()).expect("SIGINT handler installs"),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next SIGTERM or SIGINT.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
