//! `POST /check-prime/batch`: many numbers in one request, authenticated and metered one unit
//! per valid number.
//!
//! - `application/json` (`{"numbers": [...]}`): one answer, `{"results": [...]}` in input
//!   order; all or nothing: the units of every valid number are taken in one atomic step
//!   (`Demand::Exactly`) or none (`429`).
//! - `application/x-ndjson`: one number per line, one result line per input line, streamed
//!   ([`super::check_stream`]).
//!
//! Order, as for `/check-prime`: admission from the headers alone (401/429) → content type
//! (415) → body within `--body-timeout-ms` (408) and `--max-batch-body-bytes` (413) → at most
//! `--max-batch` numbers and `--max-request-work` work units (422) → the atomic consume, which
//! takes the request's one place in the key's burst limit and its units (401/429; a batch with
//! no valid number takes the place alone) → compute (numbers above 64 bits, or all with `factorize`, one at a time on the
//! CPU pool: one request never holds more than one pool thread) → 200. Units granted for a
//! request that then fails inside the server are given back.

use actix_web::web::Payload;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use serde_json::value::RawValue;

use super::check_prime::{
    CheckResponse, INLINE_BITS, consume, give_back, is_json, pace, read_body_up_to,
};
use super::check_stream;
use crate::cpu_pool::PoolError;
use crate::domain::check::Outcome;
use crate::domain::number::{self, BatchItem, BatchLimits, CheckOptions, Number, NumberError};
use crate::domain::quota::Demand;
use crate::http::auth::admit;
use crate::http::headers::insert_policy_headers;
use crate::http::problem::{ApiError, item_status};
use crate::http::state::AppState;

/// The answer for an invalid item of a batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemError<'a> {
    /// The item exactly as sent.
    #[schema(value_type = Value)]
    pub number: &'a RawValue,
    /// What `/check-prime` would answer for it alone: `400` or `422`.
    #[schema(example = 400)]
    pub status: u16,
    /// What is wrong with it (the `error` text `/check-prime` would give).
    #[schema(example = "'number' must be an integer: fractions and exponents are not accepted")]
    pub error: String,
}

/// One result of a batch: what `/check-prime` answers for a valid number, or an
/// [`ItemError`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the contract; results are written item by item
pub enum BatchResult<'a> {
    /// A valid number's answer.
    Checked(CheckResponse<'a>),
    /// An invalid item.
    Invalid(ItemError<'a>),
}

/// `200` body of a JSON batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // documents the contract; the body is written item by item
pub struct BatchResponse<'a> {
    /// One result per item, in input order.
    results: Vec<BatchResult<'a>>,
}

/// Whether the request's content type is NDJSON.
pub fn is_ndjson(req: &HttpRequest) -> bool {
    let ct = req.content_type();
    ct.eq_ignore_ascii_case("application/x-ndjson")
}

/// Check `numbers` in order as `options` ask: numbers up to 64 bits inline (unless factors are
/// asked for), others one at a time on the CPU pool, so one request never holds more than one
/// pool thread, nor one for longer than one number, and waits its turn for each.
pub async fn check_all(
    state: &AppState,
    numbers: &[Number],
    options: CheckOptions,
) -> Result<Vec<Outcome>, PoolError> {
    let work = state.work;
    let mut outcomes = Vec::with_capacity(numbers.len());
    for n in numbers {
        let outcome = if n.bits() > INLINE_BITS || options.factorize {
            let value = n.value.clone();
            let slot = state.cpu.reserve().await?;
            slot.run(move || work.run(&value, options)).await?
        } else {
            std::panic::catch_unwind(|| work.run(&n.value, options))
                .map_err(|_| PoolError::Panicked)?
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Append the answer for a checked number, exactly what `/check-prime` answers for it.
pub fn write_checked(
    out: &mut Vec<u8>,
    number: &Number,
    outcome: &Outcome,
) -> Result<(), ApiError> {
    let echo = RawValue::from_string(number.echo_json())
        .map_err(|e| ApiError::Internal(format!("echo of a parsed number: {e}")))?;
    serde_json::to_writer(&mut *out, &CheckResponse::new(&echo, outcome))
        .map_err(|e| ApiError::Internal(format!("writing a result: {e}")))
}

/// Append the answer for an invalid item.
pub fn write_invalid(
    out: &mut Vec<u8>,
    sent: &RawValue,
    error: &NumberError,
) -> Result<(), ApiError> {
    let item = ItemError {
        number: sent,
        status: item_status(error),
        error: error.to_string(),
    };
    serde_json::to_writer(&mut *out, &item)
        .map_err(|e| ApiError::Internal(format!("writing a result: {e}")))
}

/// Count the checks in the metrics: one per number, by size and verdict.
pub fn count_checks(state: &AppState, numbers: &[Number], outcomes: &[Outcome]) {
    for (n, outcome) in numbers.iter().zip(outcomes) {
        state.metrics.checks(n.bits(), outcome.verdict.as_str(), 1);
    }
}

/// The items of a batch in order: `None` for a valid number (the next of `numbers`), else the
/// item as sent and why it was refused.
type Slots<'a> = Vec<Option<(&'a RawValue, NumberError)>>;

/// Move the valid numbers out of `items`; what is left in their place.
fn split(items: Vec<BatchItem<'_>>) -> (Vec<Number>, Slots<'_>) {
    let mut numbers = Vec::with_capacity(items.len());
    let slots = items
        .into_iter()
        .map(|item| match item {
            Ok(n) => {
                numbers.push(n);
                None
            }
            Err(refused) => Some(refused),
        })
        .collect();
    (numbers, slots)
}

/// The `{"results": [...]}` body: the items in order, the valid ones answered by `outcomes`.
fn results_body(
    items: &Slots<'_>,
    numbers: &[Number],
    outcomes: &[Outcome],
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(16 + items.len() * 64);
    body.extend_from_slice(b"{\"results\":[");
    let mut answered = numbers.iter().zip(outcomes);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        match item {
            None => {
                let (n, outcome) = answered
                    .next()
                    .ok_or_else(|| ApiError::Internal("a result is missing".to_owned()))?;
                write_checked(&mut body, n, outcome)?;
            }
            Some((sent, error)) => write_invalid(&mut body, sent, error)?,
        }
    }
    body.extend_from_slice(b"]}");
    Ok(body)
}

/// Check many numbers at once. Metered: one unit per valid number, all or nothing.
#[utoipa::path(
    post,
    path = "/check-prime/batch",
    tag = "prime",
    request_body(
        description = "`application/json`: `{\"numbers\": [N, ...], \"factorize\": false}`, at most `--max-batch` numbers. `application/x-ndjson`: one number per line (a JSON integer, a decimal string or `{\"number\": N}`); `?factorize=true` asks for factors of every number.",
        content(
            (crate::http::openapi::BatchRequest = "application/json"),
            (String = "application/x-ndjson", example = "17\n\"18\"\n{\"number\": 19}\n")
        )
    ),
    security(("authorization" = []), ("bearer" = []), ("x_api_key" = [])),
    responses(
        (status = 200, description = "JSON: one result per item in input order; one unit consumed per valid item. NDJSON: one result line per input line, written as they are computed, units consumed as lines are answered; a stream cut short ends with a line `{\"status\": 429|422|408|413|503, \"error\": \"...\"}`", content(
            (BatchResponse<'static> = "application/json"),
            (String = "application/x-ndjson", example = "{\"number\":17,\"isPrime\":true,\"verdict\":\"prime\"}\n{\"status\":429,\"error\":\"Request limit exceeded. Please try again later.\"}\n")
        )),
        (status = 400, description = "Malformed JSON, or no `numbers` array", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, unknown, revoked or expired key", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 408, description = "Body not received within `--body-timeout-ms`", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than `--max-batch-body-bytes` (an NDJSON line longer than `--max-body-bytes`)", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is neither JSON nor NDJSON", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 422, description = "More than `--max-batch` numbers, or more work than `--max-request-work`", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 429, description = "Over the burst limit, or fewer units left than valid numbers (nothing consumed; `violated-policies` says which), or too many failed authentications from this address", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 503, description = "Key store unavailable, or CPU pool saturated (nothing consumed)", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn check_batch(
    req: HttpRequest,
    payload: Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = admit(&req, &state).await?;
    if is_ndjson(&req) {
        return check_stream::stream(req, payload, state, hash).await;
    }
    if !is_json(&req) {
        return Err(ApiError::UnsupportedBatchType);
    }
    let limits = &state.limits;
    let body = read_body_up_to(&req, payload, limits, limits.max_batch_body_bytes).await?;
    let batch = number::parse_batch_body(
        &body,
        BatchLimits {
            max_bits: limits.max_bits,
            max_items: limits.max_batch,
            max_proof_bits: limits.max_proof_bits,
            max_work: limits.max_request_work,
        },
    )?;
    let (numbers, slots) = split(batch.items);
    let mut builder = HttpResponse::Ok();
    let now_us = Utc::now().timestamp_micros();
    let now = now_us.div_euclid(1_000_000);
    let outcomes = if numbers.is_empty() {
        // Nothing to charge, but the request still takes its place in the burst limit.
        let paced = pace(&req, &state, &hash, now_us).await?;
        insert_policy_headers(&mut builder, &paced.quota, paced.burst.as_ref(), now);
        Vec::new()
    } else {
        let valid = numbers.len() as u64;
        let charged = consume(&req, &state, &hash, Demand::Exactly(valid), now_us).await?;
        let outcomes = match check_all(&state, &numbers, batch.options).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                let (quota, units) = (&charged.quota, charged.units);
                return Err(give_back(&state, &hash, quota, units, e.into()).await);
            }
        };
        insert_policy_headers(&mut builder, &charged.quota, charged.burst.as_ref(), now);
        outcomes
    };
    count_checks(&state, &numbers, &outcomes);
    let body = results_body(&slots, &numbers, &outcomes)?;
    Ok(builder.content_type("application/json").body(body))
}
