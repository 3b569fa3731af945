//! `prime-server keys create|list|revoke|update|reset-usage`: one function per subcommand.

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use super::CommandError;
use crate::args::KeysCommand;
use crate::domain::keys::{self, GeneratedKey};
use crate::domain::quota::KeyState;
use crate::domain::schedule::rfc3339;
use crate::store::{KeyPolicy, KeyRecord, KeyUpdate, NewKey, Rotation, Store};

/// Run a `keys` subcommand against `store`.
pub async fn run(command: KeysCommand, store: &Store) -> Result<(), CommandError> {
    let now = Utc::now().timestamp();
    match command {
        KeysCommand::Create {
            name,
            limit,
            reset_schedule,
            expires_in,
            group,
            rate,
        } => {
            let terms = KeyTerms {
                name,
                limit,
                reset_schedule,
                expires_in,
            };
            create(store, terms, &KeyPolicy { group, rate }, now).await
        }
        KeysCommand::List { json } => list(store, json, now).await,
        KeysCommand::Revoke { id } => revoke(store, id).await,
        update @ KeysCommand::Update { .. } => {
            let (id, update) = key_update(update, now);
            update_key(store, id, &update, now).await
        }
        KeysCommand::ResetUsage { id } => reset_usage(store, id).await,
        KeysCommand::Rotate { id, grace } => rotate(store, id, grace, now).await,
        KeysCommand::Usage { id, days, json } => usage(store, id, days, json, now).await,
    }
}

/// The id and changes of a `keys update`.
fn key_update(command: KeysCommand, now: i64) -> (i64, KeyUpdate) {
    let KeysCommand::Update {
        id,
        name,
        limit,
        reset_schedule,
        clear_reset_schedule,
        expires_in,
        no_expiry,
        rate,
        no_rate,
    } = command
    else {
        return (0, KeyUpdate::default());
    };
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
            expires_in.map(|d| Some(expiry(now, d)))
        },
        rate: if no_rate { Some(None) } else { rate.map(Some) },
    };
    (id, update)
}

/// A new key's name and quota terms.
#[derive(Debug, Clone)]
pub struct KeyTerms {
    /// Name.
    pub name: String,
    /// Units per period.
    pub limit: u64,
    /// Own reset schedule.
    pub reset_schedule: Option<String>,
    /// Expire after this long.
    pub expires_in: Option<Duration>,
}

/// `now + d` in Unix seconds (`args` has checked that it falls before the year 10000).
fn expiry(now: i64, d: Duration) -> i64 {
    now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn no_such(id: i64) -> CommandError {
    CommandError::Invalid(format!("no key with id {id}"))
}

/// Print `line` alone on stdout (the only thing `keys create` writes there).
fn print_stdout(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Generate a key with its own quota and store it; its id and the key (whose secret is shown
/// only once).
pub async fn create_key(
    store: &Store,
    name: &str,
    limit: u64,
    reset_schedule: Option<String>,
    expires_in: Option<Duration>,
    now: i64,
) -> Result<(i64, GeneratedKey), CommandError> {
    let key = keys::generate().map_err(|e| CommandError::Invalid(e.to_string()))?;
    let id = store
        .create_key(&NewKey {
            name: name.to_owned(),
            prefix: key.display_prefix.clone(),
            hash: key.hash,
            state: KeyState::new(limit, reset_schedule, expires_in.map(|d| expiry(now, d))),
            now,
        })
        .await?;
    Ok((id, key))
}

/// Generate a key with `terms` and `policy` and store it; its id and the key (whose secret is
/// shown only once).
pub async fn create_key_with(
    store: &Store,
    terms: &KeyTerms,
    policy: &KeyPolicy,
    now: i64,
) -> Result<(i64, GeneratedKey), CommandError> {
    let key = keys::generate().map_err(|e| CommandError::Invalid(e.to_string()))?;
    let new = NewKey {
        name: terms.name.clone(),
        prefix: key.display_prefix.clone(),
        hash: key.hash,
        state: KeyState::new(
            terms.limit,
            terms.reset_schedule.clone(),
            terms.expires_in.map(|d| expiry(now, d)),
        ),
        now,
    };
    match store.create_key_with(&new, policy).await? {
        Some(id) => Ok((id, key)),
        None => Err(CommandError::Invalid(format!(
            "no group named '{}'",
            policy.group.as_deref().unwrap_or_default()
        ))),
    }
}

async fn create(
    store: &Store,
    terms: KeyTerms,
    policy: &KeyPolicy,
    now: i64,
) -> Result<(), CommandError> {
    let (id, key) = create_key_with(store, &terms, policy, now).await?;
    let quota = match &policy.group {
        Some(group) => format!("quota of group '{group}'"),
        None => format!("limit {}", terms.limit),
    };
    eprintln!(
        "Created key {id} '{}' ({}), {quota}. It is shown only once:",
        terms.name, key.display_prefix
    );
    print_stdout(&key.secret);
    Ok(())
}

async fn rotate(store: &Store, id: i64, grace: Duration, now: i64) -> Result<(), CommandError> {
    let key = keys::generate().map_err(|e| CommandError::Invalid(e.to_string()))?;
    let secret = NewKey {
        name: String::new(),
        prefix: key.display_prefix.clone(),
        hash: key.hash,
        state: KeyState::new(0, None, None),
        now,
    };
    let grace_ends_at = expiry(now, grace);
    match store.rotate_key(id, &secret, grace_ends_at).await? {
        Rotation::Rotated(new_id) => {
            eprintln!(
                "Rotated key {id} to key {new_id} ({}); key {id} is accepted until {}. \
                 The new key is shown only once:",
                key.display_prefix,
                rfc3339(grace_ends_at)
            );
            print_stdout(&key.secret);
            Ok(())
        }
        Rotation::NoSuchKey => Err(no_such(id)),
        Rotation::Revoked => Err(CommandError::Invalid(format!("key {id} is revoked"))),
        Rotation::AlreadyRotated(to) => Err(CommandError::Invalid(format!(
            "key {id} was rotated already (to key {to}); rotate key {to}"
        ))),
    }
}

async fn usage(
    store: &Store,
    id: i64,
    days: u32,
    json: bool,
    now: i64,
) -> Result<(), CommandError> {
    let key = store.get_key(id).await?.ok_or_else(|| no_such(id))?;
    let rows = store
        .key_history(id, super::usage::first_day(now, days))
        .await?;
    let what = serde_json::json!({"id": key.id, "name": key.name, "prefix": key.prefix});
    let title = format!("key {} '{}' ({})", key.id, key.name, key.prefix);
    super::usage::print(&title, &what, &rows, days, now, json)
}

/// One key as `keys list` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyView<'a> {
    id: i64,
    name: &'a str,
    prefix: &'a str,
    limit: u64,
    used: u64,
    reset_schedule: Option<&'a str>,
    resets_at: Option<String>,
    expires_at: Option<String>,
    revoked: bool,
    created_at: String,
    group: Option<&'a str>,
    rate: Option<String>,
    grace_ends_at: Option<String>,
    /// After a rotation: the key that took over (the old key's view only).
    rotated_to: Option<i64>,
}

fn key_view<'a>(k: &'a KeyRecord, store: &Store, now: i64) -> KeyView<'a> {
    let quota = k.quota_at(now, store.schedules());
    // A key on the default schedule that has never been used has no period yet.
    let resets_at = (k.state.period.end > now || k.state.reset_schedule.is_some())
        .then(|| rfc3339(quota.period.end));
    KeyView {
        id: k.id,
        name: &k.name,
        prefix: &k.prefix,
        limit: k.state.limit,
        used: quota.used,
        reset_schedule: k.state.reset_schedule.as_deref(),
        resets_at,
        expires_at: k.state.expires_at.map(rfc3339),
        revoked: k.state.revoked,
        created_at: rfc3339(k.created_at),
        group: k.group.as_ref().map(|g| g.name.as_str()),
        rate: k.rate.map(|r| r.to_string()),
        grace_ends_at: k.grace_ends_at.map(rfc3339),
        rotated_to: k.grace_ends_at.and(k.quota_key_id),
    }
}

fn print_table(rows: &[KeyView<'_>]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:>4}  {:<16} {:<9} {:<12} {:>8} {:>8} {:<8}  {:<16} {:<21} {:<21} STATUS",
        "ID",
        "NAME",
        "PREFIX",
        "GROUP",
        "LIMIT",
        "USED",
        "RATE",
        "SCHEDULE",
        "RESETS AT",
        "EXPIRES AT"
    );
    for r in rows {
        let status = match (&r.grace_ends_at, r.revoked) {
            (_, true) => "revoked".to_owned(),
            (Some(end), false) => format!("rotated, grace until {end}"),
            (None, false) => "active".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:>4}  {:<16} {:<9} {:<12} {:>8} {:>8} {:<8}  {:<16} {:<21} {:<21} {status}",
            r.id,
            r.name,
            r.prefix,
            r.group.unwrap_or("-"),
            r.limit,
            r.used,
            r.rate.as_deref().unwrap_or("-"),
            r.reset_schedule.unwrap_or("(default)"),
            r.resets_at.as_deref().unwrap_or("-"),
            r.expires_at.as_deref().unwrap_or("never"),
        );
    }
    let _ = out.flush();
}

/// The keys as `keys list --json` prints them.
pub async fn list_json(store: &Store, now: i64) -> Result<serde_json::Value, CommandError> {
    let keys = store.list_keys().await?;
    let rows: Vec<KeyView<'_>> = keys.iter().map(|k| key_view(k, store, now)).collect();
    serde_json::to_value(&rows).map_err(|e| CommandError::Invalid(e.to_string()))
}

async fn list(store: &Store, json: bool, now: i64) -> Result<(), CommandError> {
    if json {
        let text = serde_json::to_string_pretty(&list_json(store, now).await?)
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        print_stdout(&text);
        return Ok(());
    }
    let keys = store.list_keys().await?;
    let rows: Vec<KeyView<'_>> = keys.iter().map(|k| key_view(k, store, now)).collect();
    print_table(&rows);
    Ok(())
}

/// Say `done` on stderr when the key existed, else fail naming the id.
fn report(found: bool, id: i64, done: &str) -> Result<(), CommandError> {
    if !found {
        return Err(no_such(id));
    }
    eprintln!("{done} key {id}.");
    Ok(())
}

async fn revoke(store: &Store, id: i64) -> Result<(), CommandError> {
    report(store.revoke(id).await?, id, "Revoked")
}

async fn update_key(
    store: &Store,
    id: i64,
    update: &KeyUpdate,
    now: i64,
) -> Result<(), CommandError> {
    report(store.update(id, update, now).await?, id, "Updated")
}

async fn reset_usage(store: &Store, id: i64) -> Result<(), CommandError> {
    report(store.reset_usage(id).await?, id, "Reset usage of")
}
