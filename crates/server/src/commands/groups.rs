//! `prime-server groups create|list|update|reset-usage|usage`: one function per subcommand.

use std::io::Write;

use chrono::Utc;
use serde::Serialize;

use super::CommandError;
use crate::args::GroupsCommand;
use crate::domain::burst::Rate;
use crate::domain::schedule::rfc3339;
use crate::store::{GroupRecord, GroupUpdate, NewGroup, Store};

/// Run a `groups` subcommand against `store`.
pub async fn run(command: GroupsCommand, store: &Store) -> Result<(), CommandError> {
    let now = Utc::now().timestamp();
    match command {
        GroupsCommand::Create {
            name,
            limit,
            reset_schedule,
            rate,
        } => {
            let group = NewGroup {
                name,
                limit,
                reset_schedule,
                rate,
            };
            create(store, &group, now).await
        }
        GroupsCommand::List { json } => list(store, json, now).await,
        GroupsCommand::Update {
            name,
            limit,
            reset_schedule,
            clear_reset_schedule,
            rate,
            no_rate,
        } => {
            let update = GroupUpdate {
                limit,
                reset_schedule: if clear_reset_schedule {
                    Some(None)
                } else {
                    reset_schedule.map(Some)
                },
                rate: if no_rate { Some(None) } else { rate.map(Some) },
            };
            update_group(store, &name, &update, now).await
        }
        GroupsCommand::ResetUsage { name } => reset_usage(store, &name).await,
        GroupsCommand::Usage { name, days, json } => usage(store, &name, days, json, now).await,
    }
}

fn no_such(name: &str) -> CommandError {
    CommandError::Invalid(format!("no group named '{name}'"))
}

async fn create(store: &Store, group: &NewGroup, now: i64) -> Result<(), CommandError> {
    match store.create_group(group, now).await? {
        Some(id) => {
            eprintln!(
                "Created group {id} '{}', limit {}. Add keys with: prime-server keys create \
                 --name NAME --group '{}'",
                group.name, group.limit, group.name
            );
            Ok(())
        }
        None => Err(CommandError::Invalid(format!(
            "a group named '{}' exists already",
            group.name
        ))),
    }
}

/// One group as `groups list` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupView<'a> {
    id: i64,
    name: &'a str,
    limit: u64,
    used: u64,
    reset_schedule: Option<&'a str>,
    resets_at: Option<String>,
    rate: Option<String>,
    keys: u64,
    created_at: String,
}

fn group_view<'a>(g: &'a GroupRecord, store: &Store, now: i64) -> GroupView<'a> {
    let quota = g.state.quota_at(now, store.schedules());
    let resets_at = (g.state.period.end > now || g.state.reset_schedule.is_some())
        .then(|| rfc3339(quota.period.end));
    GroupView {
        id: g.id,
        name: &g.name,
        limit: g.state.limit,
        used: quota.used,
        reset_schedule: g.state.reset_schedule.as_deref(),
        resets_at,
        rate: g.rate.map(|r: Rate| r.to_string()),
        keys: g.keys,
        created_at: rfc3339(g.created_at),
    }
}

async fn list(store: &Store, json: bool, now: i64) -> Result<(), CommandError> {
    let groups = store.list_groups().await?;
    let rows: Vec<GroupView<'_>> = groups.iter().map(|g| group_view(g, store, now)).collect();
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&rows)
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        let _ = writeln!(out, "{text}");
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{:>4}  {:<16} {:>8} {:>8} {:<8} {:>5}  {:<16} RESETS AT",
        "ID", "NAME", "LIMIT", "USED", "RATE", "KEYS", "SCHEDULE"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "{:>4}  {:<16} {:>8} {:>8} {:<8} {:>5}  {:<16} {}",
            r.id,
            r.name,
            r.limit,
            r.used,
            r.rate.as_deref().unwrap_or("-"),
            r.keys,
            r.reset_schedule.unwrap_or("(default)"),
            r.resets_at.as_deref().unwrap_or("-"),
        );
    }
    let _ = out.flush();
    Ok(())
}

async fn update_group(
    store: &Store,
    name: &str,
    update: &GroupUpdate,
    now: i64,
) -> Result<(), CommandError> {
    if !store.update_group(name, update, now).await? {
        return Err(no_such(name));
    }
    eprintln!("Updated group '{name}'.");
    Ok(())
}

async fn reset_usage(store: &Store, name: &str) -> Result<(), CommandError> {
    if !store.reset_group_usage(name).await? {
        return Err(no_such(name));
    }
    eprintln!("Reset usage of group '{name}'.");
    Ok(())
}

async fn usage(
    store: &Store,
    name: &str,
    days: u32,
    json: bool,
    now: i64,
) -> Result<(), CommandError> {
    let group = store.get_group(name).await?.ok_or_else(|| no_such(name))?;
    let first = super::usage::first_day(now, days);
    let rows = store.group_history(group.id, first).await?;
    let what = serde_json::json!({"group": group.name});
    let title = format!("group '{}' ({} keys)", group.name, group.keys);
    super::usage::print(&title, &what, &rows, days, now, json)
}
