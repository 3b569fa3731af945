//! Build and run the application: store, first key, reset scheduler, HTTP server(s).
//!
//! [`Application::build`] binds its listener before it returns, so a caller (a test, or `serve`
//! with `--port-file`) learns the real address from [`Application::local_addr`] even with port 0.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use chrono::Utc;

use crate::cpu_pool::CpuPool;
use crate::domain::check::Work;
use crate::domain::keys::{self, RngError};
use crate::domain::quota::KeyState;
use crate::domain::schedule::{ScheduleError, Schedules};
use crate::http::auth::AuthThrottle;
use crate::http::key_cache::KeyCache;
use crate::http::{AppState, middleware, routes};
use crate::metrics::Metrics;
use crate::scheduler::ResetScheduler;
use crate::settings::ServeSettings;
use crate::store::{DatabaseUrl, NewKey, Store, StoreError, StoreOptions};
use crate::tls::TlsError;

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
    /// Cannot generate the first key.
    #[error(transparent)]
    Rng(#[from] RngError),
    /// Bad `--tls-cert`/`--tls-key`.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A setting that cannot work on this machine.
    #[error("{0}")]
    Config(String),
    /// Cannot write `--port-file`.
    #[error("cannot write --port-file {path}: {reason}")]
    PortFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Keys remembered as recently valid (admission before the body).
const KEY_CACHE_CAPACITY: usize = 10_000;
/// Descriptors kept for the server itself (store, logs, listeners) below the descriptor limit.
const RESERVED_DESCRIPTORS: u64 = 64;

/// Raise the soft descriptor limit to the hard one; the most connections the server may then
/// hold so that it can never run out of descriptors.
fn connection_cap(settings: &ServeSettings) -> Result<usize, StartupError> {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the descriptor limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    };
    let reserved = RESERVED_DESCRIPTORS + u64::from(settings.pool.max_connections);
    let room = usize::try_from(limit.saturating_sub(reserved)).unwrap_or(usize::MAX);
    match settings.max_connections {
        Some(wanted) if wanted > room => Err(StartupError::Config(format!(
            "--max-connections {wanted} is more than the descriptor limit allows ({limit} \
             descriptors, {reserved} kept for the server: at most {room}); raise `ulimit -n`"
        ))),
        Some(wanted) => Ok(wanted),
        None if room == 0 => Err(StartupError::Config(format!(
            "the descriptor limit ({limit}) leaves no room for connections; raise `ulimit -n`"
        ))),
        None => Ok(room),
    }
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

/// On a store without any key, create `default` and print it once on stdout.
pub async fn ensure_initial_key(store: &Store, limit: u64) -> Result<Option<String>, StartupError> {
    if store.count_keys().await? > 0 {
        return Ok(None);
    }
    let key = keys::generate()?;
    // Atomic "insert if the store is still empty": instances starting at the same moment on an
    // empty shared database create one key between them, not one each.
    let new = NewKey {
        name: "default".to_owned(),
        prefix: key.display_prefix.clone(),
        hash: key.hash,
        state: KeyState::new(limit, None, None),
        now: Utc::now().timestamp(),
    };
    let Some(id) = store.create_first_key(&new).await? else {
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

/// Export the values that live outside the registry, read at each scrape.
fn export_scraped(metrics: &mut Metrics, cpu: &CpuPool, throttle: &Arc<AuthThrottle>) {
    let (c1, c2, c3, c4, t) = (
        cpu.clone(),
        cpu.clone(),
        cpu.clone(),
        cpu.clone(),
        Arc::clone(throttle),
    );
    metrics.gauge_fn(
        "prime_cpu_pool_queue_depth",
        "Primality checks waiting for a CPU-pool thread",
        move || gauge(c1.queue_depth()),
    );
    metrics.gauge_fn(
        "prime_cpu_pool_busy_threads",
        "CPU-pool threads running a primality check",
        move || gauge(c2.busy_threads()),
    );
    metrics.gauge_fn(
        "prime_cpu_pool_threads",
        "Size of the CPU pool",
        move || gauge(c3.threads()),
    );
    metrics.counter_fn(
        "prime_cpu_pool_rejections",
        "Primality checks refused with 503 because the CPU pool stayed saturated",
        move || c4.rejected(),
    );
    metrics.gauge_fn(
        "prime_auth_throttle_tracked_addresses",
        "Client addresses with recent failed authentications held by the throttle",
        move || gauge(t.tracked_addresses()),
    );
    let started = Utc::now().timestamp();
    metrics.gauge_fn(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch, in seconds",
        move || started,
    );
    metrics.counter_fn(
        "prime_log_lines_dropped",
        "Log lines dropped because the log writer's buffer was full",
        crate::telemetry::dropped_lines,
    );
}

/// The shared state of the handlers, with its values exported as metrics.
fn app_state(settings: &ServeSettings, store: Store) -> web::Data<AppState> {
    let cpu = CpuPool::new(
        settings.cpu.threads,
        settings.cpu.queue,
        settings.cpu.queue_timeout,
    );
    let throttle = Arc::new(AuthThrottle::new(
        settings.auth_failures.burst,
        settings.auth_failures.period,
        settings.auth_failures.clients,
        settings.trusted_proxies.clone(),
    ));
    let mut metrics = Metrics::new();
    export_scraped(&mut metrics, &cpu, &throttle);
    web::Data::new(AppState {
        store,
        cpu,
        throttle,
        limits: settings.limits,
        keys: KeyCache::new(KEY_CACHE_CAPACITY),
        work: Work {
            check: settings.check,
            factor_budget: settings.factor_timeout,
            proof_budget: settings.proof_timeout,
        },
        metrics: Arc::new(metrics),
    })
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Serve `/metrics` alone on its own address (`--metrics-bind`): one worker, plain HTTP.
fn metrics_server(
    addr: SocketAddr,
    state: web::Data<AppState>,
) -> std::io::Result<(Server, SocketAddr)> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(DefaultHeaders::new().add((CACHE_CONTROL, HeaderValue::from_static("no-store"))))
            .wrap(from_fn(middleware::observe))
            .configure(routes::configure_metrics_only)
    })
    .workers(1)
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok((server, local))
}

/// The public HTTP server on `listener` (HTTPS with `tls`), not yet awaited.
fn http_server(
    settings: &ServeSettings,
    state: web::Data<AppState>,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    max_connections: usize,
) -> std::io::Result<Server> {
    let metrics_on_main = settings.metrics_bind.is_none();
    let workers = settings.workers.max(1);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(DefaultHeaders::new().add((CACHE_CONTROL, HeaderValue::from_static("no-store"))))
            .wrap(from_fn(middleware::observe))
            .configure(|cfg| routes::configure(cfg, metrics_on_main))
    })
    .workers(workers)
    // actix counts connections per worker: split the cap so the total never exceeds it.
    .max_connections((max_connections / workers).max(1))
    .keep_alive(settings.keep_alive)
    .client_request_timeout(settings.request_timeout)
    .client_disconnect_timeout(std::time::Duration::from_secs(1))
    .shutdown_timeout(settings.shutdown_timeout.as_secs());
    Ok(match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    }
    .run())
}

fn write_port_file(settings: &ServeSettings, addr: SocketAddr) -> Result<(), StartupError> {
    let Some(path) = &settings.port_file else {
        return Ok(());
    };
    // Written whole under another name, then renamed: a reader never sees half an address.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, format!("{addr}\n"))
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| StartupError::PortFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

impl Application {
    /// Connect the store, create the first key if needed, apply missed resets, start the
    /// scheduler and bind the listener (port 0 picks a free port).
    pub async fn build(
        settings: &ServeSettings,
        database: &DatabaseUrl,
    ) -> Result<Self, StartupError> {
        let schedules = Arc::new(Schedules::new(&settings.reset_schedule)?);
        // Certificate problems stop the start before the store is touched.
        let tls = match &settings.tls {
            Some(files) => Some(crate::tls::server_config(&files.cert, &files.key)?),
            None => None,
        };
        let options = StoreOptions {
            pool: settings.pool.clone(),
            schedules,
            policies: settings.policies,
        };
        let store = Store::connect(database, &options).await?;
        ensure_initial_key(&store, settings.default_limit).await?;
        let scheduler = ResetScheduler::start(store.clone()).await;
        let state = app_state(settings, store);

        let max_connections = connection_cap(settings)?;
        let listener = TcpListener::bind(settings.bind)?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = http_server(settings, state.clone(), listener, tls, max_connections)?;
        let metrics = match settings.metrics_bind {
            Some(metrics_addr) => {
                let (server, bound) = metrics_server(metrics_addr, state.clone())?;
                tracing::info!("serving metrics at http://{bound}/metrics only");
                Some((server, bound))
            }
            None => None,
        };
        write_port_file(settings, addr)?;
        tracing::info!(database = %database, max_connections, "prime-server listening on {scheme}://{addr}");
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

    /// The store this application serves from.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serve until SIGTERM/SIGINT (or [`ServerHandle::stop`]): in-flight requests finish, then
    /// the scheduler stops and the store closes.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let watcher = tokio::spawn(crate::telemetry::report_dropped_lines());
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        watcher.abort();
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
