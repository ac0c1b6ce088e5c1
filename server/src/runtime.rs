//! Start-up: the database, the first admin, and the clusters — real, or the built-in simulator.
//!
//! This is the one place where real or simulated Proxmox VE (`demo`) is chosen.

use std::{path::Path, sync::Arc, time::Duration};

use app::{
    console::ssr::ConsoleHub,
    embed::ssr::EmbedKey,
    schedules::ssr::{Scheduler, clock::SystemClock},
    state::{
        AppState, SessionSettings,
        clusters::{Cluster, Clusters},
        db,
    },
    users::ssr as users,
};
use leptos::prelude::LeptosOptions;
use pve::client::HttpClient;

use crate::{
    assets,
    config::Config,
    demo::{self, DemoError, Simulation},
    live::{
        LiveHub,
        alerts::AlertEngine,
        collector::{self, ClusterSource},
        hub::Subscription,
    },
    render::{RenderPool, RenderSettings},
    serve::ConnectionLimits,
    shutdown::Shutdown,
};

/// Everything the server runs on; keeps the simulator alive in demo mode.
pub struct Runtime {
    /// Shared state for the router.
    pub state: AppState,
    /// Console sessions waiting for their WebSocket, and the per-VM console locks.
    pub console: Arc<ConsoleHub>,
    /// The key embed tokens are signed with.
    pub embed_key: Arc<EmbedKey>,
    /// The lite bundle's directory, when the build made one.
    pub lite_bundle: Option<app::assets::LiteBundle>,
    /// The in-process simulator, in demo mode.
    pub simulator: Option<Simulation>,
    /// The admin password, when it was generated on this start (printed once).
    pub generated_admin_password: Option<String>,
    /// Live metrics, fed by one collector per cluster.
    pub live: Arc<LiveHub>,
    /// The runtime pages are rendered on.
    pub render: RenderPool,
    /// Longest a server function or REST call may take.
    pub request_timeout: Duration,
    /// Set when the server starts stopping; streams and consoles end then.
    pub shutdown: Shutdown,
    /// The bounds on open connections.
    pub connection_limits: ConnectionLimits,
    /// Runs the power schedules; server functions reach it as a context.
    pub scheduler: Arc<Scheduler>,
    /// Keeps the collectors polling for the alert rules.
    _alert_watch: Subscription,
    /// The scheduler's loop, when this process runs the schedules; ends with the runtime.
    _scheduler_loop: Option<AbortOnDrop>,
}

/// A background task that ends when its owner is dropped (a test's runtime, too).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A start-up failure, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database {url}: {source}")]
    Database {
        /// The configured URL.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// Demo mode did not start.
    #[error("demo mode: {0}")]
    Demo(#[from] DemoError),
    /// A cluster client could not be built.
    #[error("cluster {name}: {source}")]
    Client {
        /// Cluster name.
        name: String,
        /// The cause.
        source: pve::Error,
    },
    /// The render runtime could not be started.
    #[error("the page render runtime could not start: {0}")]
    Render(std::io::Error),
    /// The first admin could not be created.
    #[error("could not create the first admin user: {0}")]
    Admin(app::error::AppError),
}

/// Builds the runtime from the configuration.
pub async fn start(config: &Config) -> Result<Runtime, StartError> {
    let db = db::connect(&config.database_url)
        .await
        .map_err(|source| StartError::Database {
            url: config.database_url.clone(),
            source,
        })?;
    let generated_admin_password = users::ensure_first_admin(&db, config.admin_password.as_deref())
        .await
        .map_err(StartError::Admin)?;
    let (clusters, simulator) = if config.is_demo() {
        let (cluster, simulation) = demo::start(&config.demo, config.resources_fresh_for()).await?;
        (vec![cluster], Some(simulation))
    } else {
        (real_clusters(config)?, None)
    };
    let bundles = assets::bundles(Path::new(&config.site_root));
    let leptos_options = LeptosOptions::builder()
        .output_name(app::assets::OUTPUT_NAME)
        .site_root(config.site_root.clone())
        .site_pkg_dir(bundles.panel.clone())
        .site_addr(config.listen)
        .build();
    let state = AppState {
        leptos_options,
        db,
        clusters: Arc::new(Clusters::new(clusters)),
        sessions: SessionSettings {
            ttl: Duration::from_secs(config.session_hours.max(1) * 3600),
            secure_cookie: config.secure_cookies,
            login_failure_delay: Duration::from_millis(config.login_failure_delay_ms),
        },
        demo: config.is_demo(),
        public_origin: config.public_origin(),
    };
    let live = LiveHub::new(config.live_points());
    let alerts = Arc::new(AlertEngine::new(state.db.clone(), state.clusters.clone()).await);
    for cluster in state.clusters.all() {
        let source = Arc::new(ClusterSource(cluster.clone()));
        collector::spawn(
            Arc::clone(&live),
            cluster.name.clone(),
            source,
            config.live_tick(),
            Some(Arc::clone(&alerts)),
        );
    }
    // Alert rules need data even when nobody watches: this subscription keeps the
    // collectors polling (its events are never read; the channel is bounded).
    let alert_watch = live.subscribe();
    let scheduler = Scheduler::new(
        state.db.clone(),
        state.clusters.clone(),
        Arc::new(SystemClock),
    );
    let scheduler_loop = config.run_schedules.then(|| AbortOnDrop(scheduler.spawn()));
    let render = RenderPool::start(RenderSettings {
        threads: config.render_threads,
        timeout: config.request_timeout(),
        ..RenderSettings::default()
    })
    .map_err(StartError::Render)?;
    Ok(Runtime {
        state,
        console: Arc::new(ConsoleHub::with_session_ttl(config.console_session_ttl())),
        embed_key: Arc::new(EmbedKey::default()),
        lite_bundle: bundles.lite,
        simulator,
        generated_admin_password,
        live,
        render,
        request_timeout: config.request_timeout(),
        shutdown: Shutdown::new(),
        connection_limits: config.connection_limits(),
        scheduler,
        _alert_watch: alert_watch,
        _scheduler_loop: scheduler_loop,
    })
}

fn real_clusters(config: &Config) -> Result<Vec<Cluster>, StartError> {
    let clusters = config
        .clusters
        .iter()
        .map(|c| {
            let client_config = c.client_config().map_err(|e| StartError::Client {
                name: c.name.clone(),
                source: pve::Error::Connect {
                    message: e.to_string(),
                },
            })?;
            let api = HttpClient::new(client_config).map_err(|source| StartError::Client {
                name: c.name.clone(),
                source,
            })?;
            Ok(Cluster::new(
                c.name.clone(),
                Arc::new(api),
                config.resources_fresh_for(),
            ))
        })
        .collect::<Result<_, StartError>>()?;
    Ok(clusters)
}
