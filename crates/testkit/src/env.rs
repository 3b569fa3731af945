//! A temporary directory and a real database, and keys made through the server's own code.

use std::future::Future;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::Utc;
use clap::Parser;
use prime_server::args::{Cli, Command as ServerCommand, KeysCommand};
use prime_server::commands::keys::{KeyTerms, create_key_with, list_json};
use prime_server::domain::schedule::{DEFAULT_SCHEDULE, Schedules};
use prime_server::settings::ServeSettings;
use prime_server::store::{DatabaseUrl, KeyPolicy, PoolOptions, Store, StoreOptions};
use serde_json::Value;

use crate::app::TestApp;
use crate::process::{ServerProcess, server_binary};

/// Run `fut` to completion on a runtime of its own (tests are synchronous).
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fut)
}

/// A temporary directory and the database of one test.
#[derive(Debug)]
pub struct TestEnv {
    /// The directory (the SQLite file, TLS files, port files live here).
    pub dir: tempfile::TempDir,
    /// The SQLite file (unused for PostgreSQL).
    pub db_path: PathBuf,
    /// The `--database` URL.
    pub db_url: String,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A fresh SQLite file in a fresh directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("prime-api.db");
        let db_url = format!("sqlite://{}", db_path.display());
        TestEnv {
            dir,
            db_path,
            db_url,
        }
    }

    /// A fresh schema in `PRIME_TEST_POSTGRES_URL`'s database and its name; `None` (after
    /// saying so) when that variable is unset.
    pub fn postgres() -> Option<(Self, String)> {
        let Ok(base) = std::env::var("PRIME_TEST_POSTGRES_URL") else {
            eprintln!("skipped: PRIME_TEST_POSTGRES_URL is not set");
            return None;
        };
        Some(Self::postgres_at(&base))
    }

    /// A fresh schema in the PostgreSQL database at `base`, and its name.
    pub fn postgres_at(base: &str) -> (Self, String) {
        let dir = tempfile::tempdir().unwrap();
        let schema = format!(
            "prime_test_{}_{}",
            std::process::id(),
            Utc::now().timestamp_micros()
        );
        pg_exec(base, format!("CREATE SCHEMA {schema}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let db_url = format!("{base}{sep}options[search_path]={schema}");
        let env = TestEnv {
            db_path: dir.path().join("unused"),
            dir,
            db_url,
        };
        (env, schema)
    }

    /// The database as the server opens it (default schedule, default pool).
    pub async fn open_store(&self) -> Store {
        let options = StoreOptions {
            pool: PoolOptions::default(),
            schedules: Arc::new(Schedules::new(DEFAULT_SCHEDULE).unwrap()),
            policies: prime_server::store::Policies::default(),
        };
        Store::connect(&DatabaseUrl::parse(&self.db_url).unwrap(), &options)
            .await
            .unwrap()
    }

    /// Run `f` on this env's store, on a runtime of its own.
    fn with_store<T>(&self, f: impl AsyncFnOnce(&Store) -> T) -> T {
        block_on(async {
            let store = self.open_store().await;
            let out = f(&store).await;
            store.close().await;
            out
        })
    }

    /// Create a key as `keys create --name NAME EXTRA...` would (the same flags, parsed and
    /// checked by the same code); the secret.
    pub fn create_key(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["prime-server", "keys", "create", "--name", name];
        args.extend_from_slice(extra);
        let cli = Cli::try_parse_from(args).unwrap();
        let Some(ServerCommand::Keys {
            command:
                KeysCommand::Create {
                    name,
                    limit,
                    reset_schedule,
                    expires_in,
                    group,
                    rate,
                },
        }) = cli.command
        else {
            unreachable!("parsed as keys create")
        };
        let now = Utc::now().timestamp();
        let terms = KeyTerms {
            name,
            limit,
            reset_schedule,
            expires_in,
        };
        let policy = KeyPolicy { group, rate };
        self.with_store(async |store| {
            let (_, key) = create_key_with(store, &terms, &policy, now).await.unwrap();
            key.secret
        })
    }

    /// The keys as `keys list --json` shows them.
    pub fn list(&self) -> Vec<Value> {
        let now = Utc::now().timestamp();
        let json = self.with_store(async |store| list_json(store, now).await.unwrap());
        json.as_array().unwrap().clone()
    }

    /// The id of the key whose display prefix `key` starts with.
    pub fn id_of(&self, key: &str) -> i64 {
        let prefix: String = key.chars().take(8).collect();
        self.list()
            .iter()
            .find(|k| k["prefix"] == prefix.as_str())
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    /// `serve` with these flags, in-process on a free port.
    pub fn spawn(&self, extra: &[&str]) -> TestApp {
        TestApp::spawn(self, extra, None)
    }

    /// `serve` with these flags, then `tweak` applied to the settings (for what no flag sets,
    /// such as a failing primality check).
    pub fn spawn_with(&self, extra: &[&str], tweak: impl FnOnce(&mut ServeSettings)) -> TestApp {
        let mut settings = crate::app::settings(self, extra, false);
        tweak(&mut settings);
        TestApp::start(self, settings, None)
            .unwrap_or_else(|e| panic!("the app did not start: {e}"))
    }

    /// `serve` over HTTPS with `cert.pem`/`key.pem` of [`crate::tls`] in this env's directory;
    /// its client trusts only `ca_pem`.
    pub fn spawn_tls(&self, extra: &[&str], ca_pem: &str) -> TestApp {
        TestApp::spawn(self, extra, Some(ca_pem))
    }

    /// The real binary, `serve --database URL EXTRA...` (see [`ServerProcess`]).
    pub fn spawn_process(&self, extra: &[&str]) -> ServerProcess {
        ServerProcess::spawn(self, extra, &[])
    }

    /// The real binary with extra environment variables (e.g. `RUST_LOG`).
    pub fn spawn_process_env(&self, extra: &[&str], vars: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::spawn(self, extra, vars)
    }

    /// Run the real binary: `prime-server ARGS --database URL`.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(server_binary())
            .args(args)
            .args(["--database", &self.db_url])
            .env_remove("PRIME_DATABASE_URL")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// A column of integers from the database (inspection, time travel).
    pub fn sql_i64(&self, sql: &str) -> Vec<i64> {
        if self.db_url.starts_with("postgres") {
            return pg_i64(&self.db_url, sql);
        }
        let conn = rusqlite::Connection::open(&self.db_path).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Run one statement against the database.
    pub fn sql_exec(&self, sql: &str) {
        if self.db_url.starts_with("postgres") {
            return pg_exec(&self.db_url, sql.to_owned());
        }
        let conn = rusqlite::Connection::open(&self.db_path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn.execute_batch(sql).unwrap();
    }
}

/// A column of BIGINTs from a PostgreSQL database.
pub fn pg_i64(url: &str, sql: &str) -> Vec<i64> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    block_on(async move {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let rows: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows
    })
}

/// Run one statement against a PostgreSQL database.
pub fn pg_exec(url: &str, sql: String) {
    let url = url.to_owned();
    block_on(async move {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
}
