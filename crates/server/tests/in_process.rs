//! The library's startup API in-process: build on port 0, serve, stop gracefully via the handle.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use prime_server::config::{Cli, Command};
use prime_server::startup::Application;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_builds_on_port_0_serves_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let cli = Cli::try_parse_from([
        "prime-server",
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--database",
        &db,
        "--workers",
        "1",
    ])
    .unwrap();
    let Some(Command::Serve(config)) = cli.command else {
        panic!("serve expected")
    };
    let app = Application::build(&config, &cli.database).await.unwrap();
    let addr = app.local_addr();
    assert_ne!(addr.port(), 0);
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());

    let healthz = tokio::task::spawn_blocking(move || {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("http://{addr}/healthz"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(healthz, r#"{"status":"ok"}"#);

    handle.stop(true).await;
    server.await.unwrap().unwrap();
}
