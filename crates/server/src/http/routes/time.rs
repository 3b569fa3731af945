//! `GET`/`POST /get-current-time`: authenticated, not metered; the request body is ignored.

use actix_web::{HttpRequest, HttpResponse, web};
use std::cell::RefCell;

use chrono::{DateTime, Local, SecondsFormat};
use serde::Serialize;

use crate::http::auth::authenticate_paced;
use crate::http::headers::insert_policy_headers;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// The server's time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeResponse {
    /// Server local time, `%Y-%m-%d %H:%M:%S` (the tutorial's form).
    #[schema(example = "2026-11-28 03:59:03")]
    current_time: String,
    /// RFC 3339 with milliseconds and offset.
    #[schema(example = "2026-11-28T03:59:03.123+00:00")]
    rfc3339: String,
    /// Milliseconds since the Unix epoch.
    unix_millis: i64,
}

/// The server's time: local `%Y-%m-%d %H:%M:%S` (the tutorial's form), RFC 3339, Unix ms.
#[utoipa::path(
    method(get, post),
    path = "/get-current-time",
    tag = "prime",
    description = "The server's time. The request body is ignored. Not metered.",
    security(("authorization" = []), ("bearer" = []), ("x_api_key" = [])),
    responses(
        (status = 200, description = "The server's time", body = TimeResponse),
        (status = 401, description = "Missing, malformed, unknown, revoked or expired key", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 429, description = "Over the key's burst limit (`violated-policies: [\"burst\"]`), or too many failed authentications from this address", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 503, description = "Key store unavailable", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn current_time(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, paced) = authenticate_paced(&req, &state).await?;
    let now = Local::now();
    let mut builder = HttpResponse::Ok();
    if let Some(p) = paced {
        insert_policy_headers(&mut builder, &p.quota, p.burst.as_ref(), now.timestamp());
    }
    Ok(builder.json(TimeResponse::at(&now)))
}

/// A second as [`TimeResponse`] writes it: the tutorial's form, and RFC 3339 up to the
/// seconds and from the offset on.
#[derive(Debug)]
struct Second {
    unix: i64,
    offset: i32,
    tutorial: String,
    rfc3339_seconds: String,
    rfc3339_offset: String,
}

thread_local! {
    /// The last second formatted on this thread: `strftime` costs more than the rest of the
    /// answer, and a second serves thousands of requests.
    static SECOND: RefCell<Option<Second>> = const { RefCell::new(None) };
}

impl TimeResponse {
    /// The answer at `now`, the same text as chrono's formatting.
    fn at(now: &DateTime<Local>) -> Self {
        let (unix, offset) = (now.timestamp(), now.offset().local_minus_utc());
        let millis = now.timestamp_subsec_millis();
        if millis >= 1000 {
            // A leap second: chrono's own form.
            return TimeResponse {
                current_time: now.format("%Y-%m-%d %H:%M:%S").to_string(),
                rfc3339: now.to_rfc3339_opts(SecondsFormat::Millis, false),
                unix_millis: now.timestamp_millis(),
            };
        }
        SECOND.with_borrow_mut(|cached| {
            let second = match cached {
                Some(s) if s.unix == unix && s.offset == offset => s,
                _ => cached.insert(Second {
                    unix,
                    offset,
                    tutorial: now.format("%Y-%m-%d %H:%M:%S").to_string(),
                    rfc3339_seconds: now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    rfc3339_offset: now.format("%:z").to_string(),
                }),
            };
            TimeResponse {
                current_time: second.tutorial.clone(),
                rfc3339: format!(
                    "{}.{millis:03}{}",
                    second.rfc3339_seconds, second.rfc3339_offset
                ),
                unix_millis: now.timestamp_millis(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn the_same_text_as_chrono() {
        for millis in [0i64, 1, 999, 1_000, 59_999, 86_400_123, 1_790_000_000_456] {
            let Some(at) = Utc.timestamp_millis_opt(millis).single() else {
                continue;
            };
            let now = at.with_timezone(&Local);
            // Twice: formatted, then from this thread's remembered second.
            for _ in 0..2 {
                let r = TimeResponse::at(&now);
                assert_eq!(r.current_time, now.format("%Y-%m-%d %H:%M:%S").to_string());
                assert_eq!(r.rfc3339, now.to_rfc3339_opts(SecondsFormat::Millis, false));
                assert_eq!(r.unix_millis, millis);
            }
        }
    }
}
