//! `GET /usage[?days=N]`: the calling key's quota state, its group and burst limit, and with
//! `days` its metered units per UTC day (authenticated, never metered).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;

use crate::domain::schedule::{rfc3339, utc_date};
use crate::http::auth::authenticate_paced;
use crate::http::headers::insert_policy_headers;
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::store::{day_of, fill_days};

/// Most days of history one request may ask for.
pub const MAX_HISTORY_DAYS: u32 = 3660;

/// The calling key's quota state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageResponse<'a> {
    /// The key's name.
    name: &'a str,
    /// The key's non-secret display prefix.
    #[schema(example = "pk_AbCdE")]
    prefix: &'a str,
    /// The quota group whose quota the key uses; `null` when it has its own.
    group: Option<&'a str>,
    /// Requests per reset period (the group's when in a group).
    limit: u64,
    /// Requests counted in the current period (by all the group's keys when in a group).
    used: u64,
    /// `limit - used`, never negative.
    remaining: u64,
    /// Next reset, RFC 3339.
    resets_at: String,
    /// The key's effective reset schedule (cron, 6 fields, seconds first, UTC).
    #[schema(example = "0 0 0 * * *")]
    reset_schedule: &'a str,
    /// The burst limit (`N/s` or `N/m`); `null` when none applies.
    #[schema(example = "10/s")]
    rate: Option<String>,
    /// Expiry, RFC 3339; `null` when the key does not expire.
    expires_at: Option<String>,
    /// After a rotation: when this (old) key stops being accepted, RFC 3339.
    grace_ends_at: Option<String>,
    /// With `?days=N`: this key's metered units per UTC day, the last N days, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<HistoryDay>>,
}

/// Metered units of one UTC day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryDay {
    /// The UTC date.
    #[schema(example = "2026-11-30")]
    date: String,
    /// Units counted that day.
    used: u64,
}

/// `days` from the query string (`None` without it), or `400`.
fn days_param(req: &HttpRequest) -> Result<Option<u32>, ApiError> {
    let Some(value) = req
        .query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("days="))
    else {
        return Ok(None);
    };
    match value.parse::<u32>() {
        Ok(days) if (1..=MAX_HISTORY_DAYS).contains(&days) => Ok(Some(days)),
        _ => Err(ApiError::BadRequest(format!(
            "days must be an integer from 1 to {MAX_HISTORY_DAYS}"
        ))),
    }
}

/// The calling key's quota state (authenticated, never metered).
#[utoipa::path(
    get,
    path = "/usage",
    tag = "prime",
    params(("days" = Option<u32>, Query, description = "Add the key's units per UTC day, the last `days` days (1 to 3660)")),
    security(("authorization" = []), ("bearer" = []), ("x_api_key" = [])),
    responses(
        (status = 200, description = "The key's name, group, limit, usage, next reset, burst limit and (with `days`) history", body = UsageResponse<'static>),
        (status = 400, description = "`days` is not an integer from 1 to 3660", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, unknown, revoked or expired key", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's burst limit, or too many failed authentications from this address", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 503, description = "Key store unavailable", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn usage(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let days = days_param(&req)?;
    let (key, paced) = authenticate_paced(&req, &state).await?;
    let now = Utc::now().timestamp();
    let schedules = state.store.schedules();
    let q = paced.map_or_else(|| key.quota_at(now, schedules), |p| p.quota);
    let history = match days {
        Some(days) => {
            let last = day_of(now);
            let first = last - i64::from(days) + 1;
            let rows = state.store.key_history(key.id, first).await?;
            let filled = fill_days(first, last, &rows)
                .into_iter()
                .map(|d| HistoryDay {
                    date: utc_date(d.day),
                    used: d.used,
                });
            Some(filled.collect())
        }
        None => None,
    };
    let mut builder = HttpResponse::Ok();
    let burst = paced.and_then(|p| p.burst);
    insert_policy_headers(&mut builder, &q, burst.as_ref(), now);
    Ok(builder.json(UsageResponse {
        name: &key.name,
        prefix: &key.prefix,
        group: key.group.as_ref().map(|g| g.name.as_str()),
        limit: q.limit,
        used: q.used,
        remaining: q.remaining(),
        resets_at: rfc3339(q.period.end),
        reset_schedule: schedules.effective(key.state.reset_schedule.as_deref()),
        rate: key
            .rate
            .or(state.store.policies().default_rate)
            .map(|r| r.to_string()),
        expires_at: key.state.expires_at.map(rfc3339),
        grace_ends_at: key.grace_ends_at.map(rfc3339),
        history,
    }))
}
