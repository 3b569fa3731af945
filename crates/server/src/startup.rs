//! Build and run the application: store, first key, scheduler, HTTP server.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use chrono::Utc;

use crate::auth::AuthThrottle;
use crate::config::ServeConfig;
use crate::cpu_pool::CpuPool;
use crate::keys;
use crate::quota::{ScheduleError, Schedules};
use crate::scheduler::ResetScheduler;
use crate::store::{NewKey, Store, StoreError};

/// Shared, read-only state of every worker.
#[derive(Debug)]
pub struct AppState {
    /// The key store.
    pub store: Store,
    /// Reset schedules.
    pub schedules: Arc<Schedules>,
    /// Bounded pool for large primality checks.
    pub cpu: CpuPool,
    /// Failed-authentication throttle.
    pub throttle: AuthThrottle,
    /// Largest accepted number, in bits.
    pub max_bits: u64,
    /// Largest accepted body, in bytes.
    pub max_body_bytes: usize,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Bad `--reset-schedule`.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Store unreachable or not migratable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Cannot bind or start.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// Cannot start the reset scheduler.
    #[error("cannot start the reset scheduler: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
    /// Cannot generate the first key.
    #[error(transparent)]
    Rng(#[from] keys::RngError),
    /// Invalid option value.
    #[error("{0}")]
    Config(String),
    /// Bad `--tls-cert`/`--tls-key`.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// A built, bound, not yet awaited server.
pub struct Application {
    server: Server,
    addr: SocketAddr,
    state: web::Data<AppState>,
    scheduler: ResetScheduler,
    /// The `--metrics-bind` server and its address.
    metrics: Option<(Server, SocketAddr)>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// On a store without any key, create `default` and print it once on stdout.
pub async fn ensure_initial_key(store: &Store, limit: i64) -> Result<Option<String>, StartupError> {
    if store.count_keys().await? > 0 {
        return Ok(None);
    }
    let key = keys::generate()?;
    // Atomic "insert if the store is still empty": instances starting at the same moment on an
    // empty shared database create one key between them, not one each.
    let Some(id) = store
        .create_first_key(&NewKey {
            name: "default".to_owned(),
            prefix: key.display_prefix.clone(),
            hash: key.hash,
            limit,
            reset_schedule: None,
            expires_at: None,
            now: Utc::now().timestamp(),
        })
        .await?
    else {
        return Ok(None);
    };
    tracing::info!(id, prefix = %key.display_prefix, limit, "store had no keys: created key 'default'");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Created API key 'default' (shown once, store it now): {}",
        key.secret
    );
    let _ = out.flush();
    Ok(Some(key.display_prefix))
}

impl Application {
    /// Connect the store, create the first key if needed, apply missed resets, start the
    /// scheduler and bind the listener (port 0 picks a free port).
    pub async fn build(config: &ServeConfig, database: &str) -> Result<Self, StartupError> {
        if config.default_limit < 0 {
            return Err(StartupError::Config("--default-limit must be >= 0".into()));
        }
        let schedules = Arc::new(Schedules::new(&config.reset_schedule)?);
        // Certificate problems stop the start before the store is touched.
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
            _ => None,
        };
        crate::metrics::init();
        let store = Store::connect_with(database, &config.pool_config()).await?;
        ensure_initial_key(&store, config.default_limit).await?;
        let scheduler = ResetScheduler::start(store.clone(), Arc::clone(&schedules)).await?;

        let state = web::Data::new(AppState {
            store,
            schedules,
            cpu: CpuPool::new(
                config.cpu_threads.unwrap_or_else(cpus),
                config.cpu_queue,
                Duration::from_millis(config.cpu_queue_timeout_ms),
            ),
            throttle: AuthThrottle::new(
                config.auth_failure_burst,
                Duration::from_millis(config.auth_failure_period_ms),
                config.trusted_proxies.clone(),
            ),
            max_bits: config.max_bits,
            max_body_bytes: config.max_body_bytes,
        });

        let listener = TcpListener::bind(config.bind)?;
        let addr = listener.local_addr()?;
        let data = state.clone();
        let metrics_on_main = config.metrics_bind.is_none();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(from_fn(crate::telemetry::log_request))
                .configure(crate::routes::configure)
                .configure(|cfg| crate::routes::configure_operations(cfg, metrics_on_main))
                .default_service(web::to(crate::routes::not_found))
        })
        .workers(config.workers.unwrap_or_else(cpus).max(1))
        .keep_alive(Duration::from_secs(config.keep_alive_secs))
        .client_request_timeout(Duration::from_millis(config.request_timeout_ms))
        .client_disconnect_timeout(Duration::from_secs(1))
        .shutdown_timeout(config.shutdown_timeout_secs);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        let metrics = match config.metrics_bind {
            Some(metrics_addr) => {
                let (server, bound) = crate::metrics::serve(metrics_addr, state.clone())?;
                tracing::info!("serving metrics at http://{bound}/metrics only");
                Some((server, bound))
            }
            None => None,
        };
        tracing::info!("prime-server listening on {scheme}://{addr}");
        Ok(Application {
            server,
            addr,
            state,
            scheduler,
            metrics,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `--metrics-bind` address, when metrics have their own listener.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    /// A handle to stop the server (`stop(true)` is graceful).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serve until SIGTERM/SIGINT (or [`ServerHandle::stop`]): in-flight requests finish, then
    /// the scheduler stops and the store closes.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let throttle_state = self.state.clone();
        let pruner = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                throttle_state.throttle.prune();
            }
        });
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        pruner.abort();
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        tracing::info!("HTTP server stopped; stopping the scheduler");
        self.scheduler.shutdown().await;
        self.state.store.close().await;
        tracing::info!("store closed; bye");
        Ok(result?)
    }
}
