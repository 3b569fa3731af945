//! `POST /check-prime`: authenticated and metered.
//!
//! Order: key format → body (limit, content type) → number (400/422) → CPU slot for large
//! numbers (503) → one atomic authenticate-and-consume (401/429) → compute → 200. Nothing after
//! the consume can fail, so no unit is ever charged for a non-`200` answer.

use actix_web::http::header;
use actix_web::web::{BytesMut, Payload};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::Utc;
use futures_util::StreamExt;
use primality::{Evidence, Verdict};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::number;
use crate::startup::AppState;
use crate::store::Consume;
use crate::telemetry::set_key_prefix;

/// Numbers up to this many bits are checked inline (microseconds); larger ones on the CPU pool.
pub const INLINE_BITS: u64 = 64;

/// The verdict on `number`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResponse<'a> {
    /// The number in canonical decimal form, as the same JSON type it came in.
    #[schema(value_type = crate::openapi::IntegerOfAnyLength)]
    number: &'a RawValue,
    /// `true` for `prime` and `probable_prime`.
    is_prime: bool,
    /// `prime` (proven, n < 2^64), `probable_prime` (passed Baillie-PSW), `composite`, or
    /// `neither` (n < 2).
    #[schema(
        pattern = "^(prime|probable_prime|composite|neither)$",
        example = "composite"
    )]
    verdict: &'static str,
    /// A nontrivial factor of a composite, decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "3")]
    factor: Option<String>,
    /// A Miller-Rabin witness base proving a composite, decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    witness: Option<String>,
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req.content_type();
    if ct.is_empty()
        || ct.eq_ignore_ascii_case("application/json")
        || ct.to_ascii_lowercase().ends_with("+json")
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

async fn read_body(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<BytesMut, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::BadRequest(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Is `number` prime? Metered: one unit of the key's quota per `200`, nothing otherwise.
#[utoipa::path(
    post,
    path = "/check-prime",
    tag = "prime",
    request_body(content = crate::openapi::CheckRequest, content_type = "application/json"),
    security(("authorization" = []), ("bearer" = []), ("x_api_key" = [])),
    responses(
        (status = 200, description = "The verdict; one unit of quota consumed", body = CheckResponse<'static>),
        (status = 400, description = "Malformed JSON, missing `number`, not an integer", body = crate::error::Problem<'static>, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, unknown, revoked or expired key", body = crate::error::Problem<'static>, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the byte limit", body = crate::error::Problem<'static>, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not JSON", body = crate::error::Problem<'static>, content_type = "application/problem+json"),
        (status = 422, description = "Number larger than the bit limit", body = crate::error::Problem<'static>, content_type = "application/problem+json"),
        (status = 429, description = "Quota used up, or too many failed authentications from this address", body = crate::error::Problem<'static>, content_type = "application/problem+json"),
        (status = 503, description = "Key store unavailable, or CPU pool saturated", body = crate::error::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn check_prime(
    req: HttpRequest,
    payload: Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(hash) = crate::auth::presented_key(&req) else {
        return Err(state.throttle.failure(&req));
    };
    check_content_type(&req)?;
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let number = number::parse_body(&body, state.max_bits)?;
    let echo = RawValue::from_string(number.echo_json()).map_err(|_| ApiError::Internal)?;

    let slot = if number.bits() > INLINE_BITS {
        Some(state.cpu.reserve().await?)
    } else {
        None
    };

    let now = Utc::now().timestamp();
    let quota = match state.store.consume(&hash, &state.schedules, now).await? {
        Consume::Granted { prefix, state: q } => {
            set_key_prefix(&req, prefix);
            q
        }
        Consume::Exhausted { prefix, state: q } => {
            set_key_prefix(&req, prefix);
            crate::metrics::record_quota_rejection();
            return Err(ApiError::QuotaExhausted { state: q, now });
        }
        Consume::Unauthorized => return Err(state.throttle.failure(&req)),
    };

    let bits = number.bits();
    let verdict = match slot {
        Some(slot) => {
            let value = number.value;
            slot.run(move || primality::check_signed(&value)).await?
        }
        None => primality::check_signed(&number.value),
    };

    let (verdict_name, factor, witness) = match verdict {
        Verdict::Prime => ("prime", None, None),
        Verdict::ProbablePrime => ("probable_prime", None, None),
        Verdict::Composite(Evidence::Factor(f)) => ("composite", Some(f.to_string()), None),
        Verdict::Composite(Evidence::Witness(w)) => ("composite", None, Some(w.to_string())),
        Verdict::Neither => ("neither", None, None),
    };
    crate::metrics::record_check(bits, verdict_name);
    let mut builder = HttpResponse::Ok();
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    quota.apply_headers(&mut builder, now);
    Ok(builder.json(CheckResponse {
        number: &echo,
        is_prime: matches!(verdict_name, "prime" | "probable_prime"),
        verdict: verdict_name,
        factor,
        witness,
    }))
}
