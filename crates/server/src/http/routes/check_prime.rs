//! `POST /check-prime`: authenticated and metered.
//!
//! Order: admission from the headers alone (throttled client 429, bad or unknown key 401: the
//! body is never read) → content type (415) → body within `--body-timeout-ms` (408) and
//! `--max-body-bytes` (413) → number (400/422) → CPU place for large numbers (503) → the
//! atomic consume, which decides (401/429) → compute → 200. A unit granted for a request that
//! then fails inside the server is given back.

use actix_web::http::header;
use actix_web::web::{BytesMut, Payload};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::Utc;
use futures_util::StreamExt;
use primality::{Evidence, Factorization, Verdict};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::cpu_pool::PoolError;
use crate::domain::check::{Outcome, Proof};
use crate::domain::keys::KeyHash;
use crate::domain::number::{self, CheckRequest};
use crate::domain::quota::{Demand, QuotaState};
use crate::http::auth::{Charged, admit, charged};
use crate::http::headers::insert_policy_headers;
use crate::http::problem::ApiError;
use crate::http::state::{AppState, Limits};

/// Numbers up to this many bits are checked (and factored) inline, in microseconds; larger
/// ones on the CPU pool.
pub const INLINE_BITS: u64 = 64;

/// The verdict on `number`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResponse<'a> {
    /// The number in canonical decimal form, as the same JSON type it came in.
    #[schema(value_type = crate::http::openapi::IntegerOfAnyLength)]
    number: &'a RawValue,
    /// `true` for `prime` and `probable_prime`.
    is_prime: bool,
    /// The verdict's name (`primality::Verdict::as_str`).
    #[schema(value_type = crate::http::openapi::VerdictName)]
    verdict: &'static str,
    /// A nontrivial factor of a composite, decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "3")]
    factor: Option<String>,
    /// A Miller-Rabin witness base proving a composite, decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    witness: Option<String>,
    /// With `"factorize": true` (numbers of at least 2): the prime factors found, ascending,
    /// repeated by multiplicity, decimal. Factors above 2^64 are probable primes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["9020941", "47434853", "404254839687862545241277653549"]))]
    factors: Option<Vec<String>>,
    /// With `factors`: whether their product is the number.
    #[serde(skip_serializing_if = "Option::is_none")]
    complete: Option<bool>,
    /// With `factors`, when `complete` is false: the composite part not split in time
    /// (`factors` times `cofactor` is the number), decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    cofactor: Option<String>,
    /// With `"proof": true`, for a prime of at least 2^64 proven within `--proof-timeout-ms`:
    /// its ECPP certificate in the JSON form of docs/certificates.md (`verdict` is then
    /// `prime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    certificate: Option<Box<RawValue>>,
    /// With `"proof": true`, when no certificate came: `timed_out` (not proven within
    /// `--proof-timeout-ms`; `verdict` is Baillie-PSW's) or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "timed_out")]
    proof: Option<&'static str>,
}

impl<'a> CheckResponse<'a> {
    /// The answer for `number` (echoed as `echo`) given what the check found.
    pub fn new(echo: &'a RawValue, outcome: &Outcome) -> Self {
        let verdict = &outcome.verdict;
        let (factor, witness) = match verdict {
            Verdict::Composite(Evidence::Factor(f)) => (Some(f.to_string()), None),
            Verdict::Composite(Evidence::Witness(w)) => (None, Some(w.to_string())),
            _ => (None, None),
        };
        let factors = outcome.factors.as_ref();
        let certificate = match &outcome.proof {
            // The certificate's own writer makes valid JSON (a failure here would be a bug),
            // one step per line; a response is one line (NDJSON streams are line-framed), and
            // its line breaks and indentation lie between tokens only.
            Some(Proof::Certificate(c)) => {
                let one_line: String = c.to_json().lines().map(str::trim_start).collect();
                RawValue::from_string(one_line).ok()
            }
            _ => None,
        };
        CheckResponse {
            number: echo,
            is_prime: verdict.is_prime(),
            verdict: verdict.as_str(),
            factor,
            witness,
            factors: factors.map(|f| f.primes().map(ToString::to_string).collect()),
            complete: factors.map(Factorization::is_complete),
            cofactor: factors.and_then(|f| f.cofactor.as_ref().map(ToString::to_string)),
            certificate,
            proof: outcome.proof.as_ref().and_then(Proof::failure_name),
        }
    }
}

/// Whether the request's content type is JSON (or not given, as the tutorial's clients send).
pub fn is_json(req: &HttpRequest) -> bool {
    let ct = req.content_type();
    ct.is_empty()
        || ct.eq_ignore_ascii_case("application/json")
        || ct.to_ascii_lowercase().ends_with("+json")
}

/// `415` unless the request is JSON ([`is_json`]).
pub fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    if is_json(req) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// The whole body, refused with `413` as soon as it is known to exceed the byte limit, and with
/// `408` when it has not arrived within the body timeout.
pub async fn read_body(
    req: &HttpRequest,
    payload: Payload,
    limits: &Limits,
) -> Result<BytesMut, ApiError> {
    read_body_up_to(req, payload, limits, limits.max_body_bytes).await
}

/// [`read_body`] with another byte limit.
pub async fn read_body_up_to(
    req: &HttpRequest,
    payload: Payload,
    limits: &Limits,
    max_bytes: usize,
) -> Result<BytesMut, ApiError> {
    tokio::time::timeout(limits.body_timeout, read_all(req, payload, max_bytes))
        .await
        .map_err(|_| ApiError::Timeout)?
}

async fn read_all(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
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

/// Take one unit of the key's quota (and the request's place in its burst limit): what was
/// granted, or `401`/`429`.
pub async fn consume_one(
    req: &HttpRequest,
    state: &AppState,
    hash: &KeyHash,
    now_us: i64,
) -> Result<Charged, ApiError> {
    consume(req, state, hash, Demand::Exactly(1), now_us).await
}

/// Take `demand` units of the key's quota and the request's place in its burst limit: what
/// was granted (at least one unit), or `401`/`429` (burst limit or quota).
pub async fn consume(
    req: &HttpRequest,
    state: &AppState,
    hash: &KeyHash,
    demand: Demand,
    now_us: i64,
) -> Result<Charged, ApiError> {
    let consumed = state.store.consume_at(hash, demand, now_us).await?;
    charged(req, state, consumed, now_us.div_euclid(1_000_000))
}

/// [`consume`] for a later charge of a request that already took its place in the burst limit
/// (an NDJSON stream's chunks after its first charge): the units only.
pub async fn consume_more(
    req: &HttpRequest,
    state: &AppState,
    hash: &KeyHash,
    demand: Demand,
    now_us: i64,
) -> Result<Charged, ApiError> {
    let consumed = state.store.consume_more(hash, demand, now_us).await?;
    charged(req, state, consumed, now_us.div_euclid(1_000_000))
}

/// Take only the request's place in the key's burst limit (a request that is served without
/// taking any unit, like a batch with no valid number): the quota as it is and the burst
/// limit's state, or `401`/`429`.
pub async fn pace(
    req: &HttpRequest,
    state: &AppState,
    hash: &KeyHash,
    now_us: i64,
) -> Result<Charged, ApiError> {
    let consumed = state.store.pace(hash, now_us).await?;
    charged(req, state, consumed, now_us.div_euclid(1_000_000))
}

/// Give back the `units` of a request that failed inside the server after they were charged,
/// and return the failure.
pub async fn give_back(
    state: &AppState,
    hash: &KeyHash,
    quota: &QuotaState,
    units: u64,
    e: ApiError,
) -> ApiError {
    let demand = Demand::GiveBack {
        units,
        period_end: quota.period.end,
    };
    let now = Utc::now().timestamp();
    if let Err(store) = state.store.consume(hash, demand, now).await {
        tracing::error!(error = %store, "a unit charged for a failed request could not be given back");
    }
    e
}

/// Is `number` prime? Metered: one unit of the key's quota per `200`, nothing otherwise.
#[utoipa::path(
    post,
    path = "/check-prime",
    tag = "prime",
    request_body(content = crate::http::openapi::CheckRequest, content_type = "application/json"),
    security(("authorization" = []), ("bearer" = []), ("x_api_key" = [])),
    responses(
        (status = 200, description = "The verdict; one unit of quota consumed", body = CheckResponse<'static>),
        (status = 400, description = "Malformed JSON, missing `number`, not an integer", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, unknown, revoked or expired key", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the byte limit", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not JSON", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 422, description = "Number larger than the bit limit (`--max-bits`, or `--max-proof-bits` with `\"proof\": true`)", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 429, description = "Burst limit or quota exceeded (`violated-policies`), or too many failed authentications from this address", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 503, description = "Key store unavailable, or CPU pool saturated", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn check_prime(
    req: HttpRequest,
    payload: Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = admit(&req, &state).await?;
    check_content_type(&req)?;
    let body = read_body(&req, payload, &state.limits).await?;
    let CheckRequest { number, options } = number::parse_body(&body, state.limits.max_bits)?;
    options.check_proof_size(&number, state.limits.max_proof_bits)?;
    let echo = RawValue::from_string(number.echo_json())
        .map_err(|e| ApiError::Internal(format!("echo of a parsed number: {e}")))?;
    let bits = number.bits();
    let work = state.work;
    let (outcome, charged, now) = metered_work(&req, &state, &hash, bits, move || {
        work.run(&number.value, options)
    })
    .await?;
    state.metrics.checks(bits, outcome.verdict.as_str(), 1);
    let mut builder = HttpResponse::Ok();
    insert_policy_headers(&mut builder, &charged.quota, charged.burst.as_ref(), now);
    Ok(builder.json(CheckResponse::new(&echo, &outcome)))
}

/// One unit's worth of work on a number of `bits` bits: a CPU place for a large number (taken
/// before the unit, so a saturated pool charges nothing), the unit, then `work` on the pool
/// (inline for a small number). A unit whose work fails inside the server is given back. The
/// result, what was charged, and the time (Unix seconds) of the charge.
pub async fn metered_work<T, F>(
    req: &HttpRequest,
    state: &AppState,
    hash: &KeyHash,
    bits: u64,
    work: F,
) -> Result<(T, Charged, i64), ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot = if bits > INLINE_BITS {
        Some(state.cpu.reserve().await?)
    } else {
        None
    };
    let now_us = Utc::now().timestamp_micros();
    let now = now_us.div_euclid(1_000_000);
    let charged = consume_one(req, state, hash, now_us).await?;
    let done = match slot {
        Some(slot) => slot.run(work).await,
        // The work's state is dropped with the request if it panics.
        None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .map_err(|_| PoolError::Panicked),
    };
    match done {
        Ok(done) => Ok((done, charged, now)),
        Err(e) => Err(give_back(state, hash, &charged.quota, 1, e.into()).await),
    }
}
