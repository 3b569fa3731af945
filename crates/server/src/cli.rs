//! Subcommand dispatch: `serve` (default) and `keys create|list|revoke|update|reset-usage`.

use std::io::Write;

use chrono::Utc;
use serde::Serialize;

use crate::config::{Cli, Command, KeysCommand, ServeConfig};
use crate::keys;
use crate::quota::{Schedules, parse_schedule, rfc3339};
use crate::startup::{Application, StartupError};
use crate::store::{KeyRecord, KeyUpdate, NewKey, Store, StoreError};

/// A command-line failure: printed as one line on stderr, exit status 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server could not start.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Invalid input or unknown id.
    #[error("{0}")]
    Invalid(String),
}

/// Run the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        None => serve(&cli.serve, &cli.database).await,
        Some(Command::Serve(config)) => serve(&config, &cli.database).await,
        Some(Command::Keys { command }) => keys_command(command, &cli.database).await,
    }
}

async fn serve(config: &ServeConfig, database: &str) -> Result<(), CliError> {
    let app = Application::build(config, database).await?;
    app.run_until_stopped().await?;
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyJson<'a> {
    id: i64,
    name: &'a str,
    prefix: &'a str,
    limit: i64,
    used: i64,
    reset_schedule: Option<&'a str>,
    resets_at: Option<String>,
    expires_at: Option<String>,
    revoked: bool,
    created_at: String,
}

fn key_json<'a>(k: &'a KeyRecord, schedules: &Schedules, now: i64) -> KeyJson<'a> {
    let resets_at = if k.next_reset_at > now {
        Some(rfc3339(k.next_reset_at))
    } else {
        k.reset_schedule
            .as_deref()
            .map(|s| rfc3339(schedules.period_for(Some(s), now).end))
    };
    KeyJson {
        id: k.id,
        name: &k.name,
        prefix: &k.prefix,
        limit: k.limit,
        used: k.effective_used(now),
        reset_schedule: k.reset_schedule.as_deref(),
        resets_at,
        expires_at: k.expires_at.map(rfc3339),
        revoked: k.revoked,
        created_at: rfc3339(k.created_at),
    }
}

fn check_limit(limit: i64) -> Result<i64, CliError> {
    if limit < 0 {
        Err(CliError::Invalid(format!(
            "--limit must be >= 0, got {limit}"
        )))
    } else {
        Ok(limit)
    }
}

fn check_schedule(s: &str) -> Result<String, CliError> {
    parse_schedule(s)
        .map(|_| s.to_owned())
        .map_err(|e| CliError::Invalid(e.to_string()))
}

async fn keys_command(command: KeysCommand, database: &str) -> Result<(), CliError> {
    // Own schedules are validated and used as given; the default only matters for display.
    let schedules = Schedules::new(crate::quota::DEFAULT_SCHEDULE)
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    // Validate everything before touching (or creating) the database.
    match &command {
        KeysCommand::Create {
            limit,
            reset_schedule,
            ..
        } => {
            check_limit(*limit)?;
            if let Some(s) = reset_schedule {
                check_schedule(s)?;
            }
        }
        KeysCommand::Update {
            limit,
            reset_schedule,
            ..
        } => {
            if let Some(l) = limit {
                check_limit(*l)?;
            }
            if let Some(s) = reset_schedule {
                check_schedule(s)?;
            }
        }
        _ => {}
    }
    let store = Store::connect(database).await?;
    let result = keys_with_store(command, &store, &schedules).await;
    store.close().await;
    result
}

async fn keys_with_store(
    command: KeysCommand,
    store: &Store,
    schedules: &Schedules,
) -> Result<(), CliError> {
    let now = Utc::now().timestamp();
    let no_such = |id: i64| CliError::Invalid(format!("no key with id {id}"));
    match command {
        KeysCommand::Create {
            name,
            limit,
            reset_schedule,
            expires_in,
        } => {
            let key = keys::generate().map_err(|e| CliError::Invalid(e.to_string()))?;
            let id = store
                .create_key(&NewKey {
                    name: name.clone(),
                    prefix: key.display_prefix.clone(),
                    hash: key.hash,
                    limit,
                    reset_schedule,
                    expires_at: expires_in.map(|s| now + s),
                    now,
                })
                .await?;
            eprintln!(
                "Created key {id} '{name}' ({}), limit {limit}. It is shown only once:",
                key.display_prefix
            );
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", key.secret);
            let _ = out.flush();
        }
        KeysCommand::List { json } => {
            let list = store.list_keys().await?;
            let rows: Vec<KeyJson<'_>> = list.iter().map(|k| key_json(k, schedules, now)).collect();
            let mut out = std::io::stdout().lock();
            if json {
                let text = serde_json::to_string_pretty(&rows)
                    .map_err(|e| CliError::Invalid(e.to_string()))?;
                let _ = writeln!(out, "{text}");
            } else {
                let _ = writeln!(
                    out,
                    "{:>4}  {:<16} {:<9} {:>8} {:>8}  {:<16} {:<21} {:<21} STATUS",
                    "ID", "NAME", "PREFIX", "LIMIT", "USED", "SCHEDULE", "RESETS AT", "EXPIRES AT"
                );
                for r in &rows {
                    let _ = writeln!(
                        out,
                        "{:>4}  {:<16} {:<9} {:>8} {:>8}  {:<16} {:<21} {:<21} {}",
                        r.id,
                        r.name,
                        r.prefix,
                        r.limit,
                        r.used,
                        r.reset_schedule.unwrap_or("(default)"),
                        r.resets_at.as_deref().unwrap_or("-"),
                        r.expires_at.as_deref().unwrap_or("never"),
                        if r.revoked { "revoked" } else { "active" }
                    );
                }
            }
            let _ = out.flush();
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke(id).await? {
                return Err(no_such(id));
            }
            eprintln!("Revoked key {id}.");
        }
        KeysCommand::Update {
            id,
            name,
            limit,
            reset_schedule,
            clear_reset_schedule,
            expires_in,
            no_expiry,
        } => {
            let update = KeyUpdate {
                name,
                limit,
                reset_schedule: if clear_reset_schedule {
                    Some(None)
                } else {
                    reset_schedule.map(Some)
                },
                expires_at: if no_expiry {
                    Some(None)
                } else {
                    expires_in.map(|s| Some(now + s))
                },
            };
            if !store.update(id, &update, schedules, now).await? {
                return Err(no_such(id));
            }
            eprintln!("Updated key {id}.");
        }
        KeysCommand::ResetUsage { id } => {
            if !store.reset_usage(id).await? {
                return Err(no_such(id));
            }
            eprintln!("Reset usage of key {id}.");
        }
    }
    Ok(())
}
