//! The application in-process: `Application::build` on port 0 on a thread of its own, its
//! address read from `local_addr()`.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use clap::Parser;
use prime_server::args::{Cli, Command};
use prime_server::settings::ServeSettings;
use prime_server::startup::Application;
use prime_server::store::DatabaseUrl;

use crate::env::{TestEnv, block_on};
use crate::target::{Target, client};
use crate::tls::client_trusting;

/// A running application, stopped (immediately) when dropped.
#[derive(Debug)]
pub struct TestApp {
    target: Target,
    /// The bound address.
    pub addr: SocketAddr,
    /// The `--metrics-bind` address, if any.
    pub metrics_addr: Option<SocketAddr>,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Deref for TestApp {
    type Target = Target;
    fn deref(&self) -> &Target {
        &self.target
    }
}

type Started = Result<(SocketAddr, Option<SocketAddr>, ServerHandle), String>;

/// The settings `serve EXTRA...` would run with, on port 0 of the loopback.
pub(crate) fn settings(env: &TestEnv, extra: &[&str], tls: bool) -> ServeSettings {
    let cert = env.dir.path().join("cert.pem").display().to_string();
    let key = env.dir.path().join("key.pem").display().to_string();
    let mut args = vec!["prime-server", "serve", "--bind", "127.0.0.1:0"];
    if tls {
        args.extend(["--tls-cert", &cert, "--tls-key", &key]);
    }
    args.extend_from_slice(extra);
    let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("serve flags {extra:?}: {e}"));
    let Some(Command::Serve(serve)) = cli.command else {
        unreachable!("parsed as serve")
    };
    ServeSettings::try_from(&serve).unwrap()
}

impl TestApp {
    /// Build and start `serve EXTRA...` on `env`'s database; HTTPS when `ca_pem` is given (its
    /// client then trusts only that certificate).
    pub fn spawn(env: &TestEnv, extra: &[&str], ca_pem: Option<&str>) -> TestApp {
        Self::try_spawn(env, extra, ca_pem).unwrap_or_else(|e| panic!("the app did not start: {e}"))
    }

    /// Like [`TestApp::spawn`], but a start that fails is returned as its error message.
    pub fn try_spawn(
        env: &TestEnv,
        extra: &[&str],
        ca_pem: Option<&str>,
    ) -> Result<TestApp, String> {
        let settings = settings(env, extra, ca_pem.is_some());
        Self::start(env, settings, ca_pem)
    }

    /// Start the application with `settings` as given.
    pub fn start(
        env: &TestEnv,
        settings: ServeSettings,
        ca_pem: Option<&str>,
    ) -> Result<TestApp, String> {
        let database = DatabaseUrl::parse(&env.db_url).map_err(|e| e.to_string())?;
        let (started_tx, started) = mpsc::channel::<Started>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                match Application::build(&settings, &database).await {
                    Ok(app) => {
                        let started = (app.local_addr(), app.metrics_addr(), app.handle());
                        let _ = started_tx.send(Ok(started));
                        let _ = app.run_until_stopped().await;
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e.to_string()));
                    }
                }
            });
        });
        let (addr, metrics_addr, handle) = started.recv().map_err(|e| e.to_string())??;
        let (scheme, client) = match ca_pem {
            Some(pem) => ("https", client_trusting(pem)),
            None => ("http", client()),
        };
        let host = if ca_pem.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        };
        Ok(TestApp {
            target: Target {
                base: format!("{scheme}://{host}:{}", addr.port()),
                client,
            },
            addr,
            metrics_addr,
            handle,
            thread: Some(thread),
        })
    }

    /// The target (base URL and client) of this app.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Stop gracefully (in-flight requests finish) and wait until the store is closed.
    pub fn stop(mut self) {
        self.stop_with(true);
    }

    fn stop_with(&mut self, graceful: bool) {
        let handle = self.handle.clone();
        // Not on the caller's thread: the caller may itself be inside a runtime.
        let _ = std::thread::spawn(move || block_on(handle.stop(graceful))).join();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_with(false);
        }
    }
}
