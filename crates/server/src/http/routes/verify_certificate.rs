//! `POST /verify-certificate`: check an ECPP certificate (ours, or PARI/GP's). Metered.
//!
//! Order: admission from the headers (429/401, the body is never read) → content type (415) →
//! body within `--body-timeout-ms` (408) and `--max-certificate-bytes` (413) → the certificate
//! readable (400) and its number within `--max-proof-bits` (422) → CPU place (503) → one unit
//! and the request's place in the key's burst limit (401/429) → verify → 200, valid or not. A
//! unit charged for a verification that then fails inside the server is given back.

use actix_web::web::Payload;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::check_prime::{check_content_type, metered_work, read_body_up_to};
use crate::domain::certificate;
use crate::http::auth::admit;
use crate::http::headers::insert_policy_headers;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// Whether a certificate proves its number prime.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyResponse {
    /// `true` when every condition of every step holds.
    valid: bool,
    /// The number the certificate is for, decimal.
    #[schema(example = "170141183460469231731687303715884105727")]
    number: String,
    /// When `valid` is false: the first failing step and condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "step 7: m·P is not the point at infinity")]
    error: Option<String>,
}

/// Verify a primality certificate. Metered: one unit per `200`, valid or not.
#[utoipa::path(
    post,
    path = "/verify-certificate",
    tag = "prime",
    request_body(
        description = "A certificate in the JSON form of docs/certificates.md (`{\"format\": \"ecpp\", \"number\": \"N\", \"steps\": [...]}`), or PARI/GP's `primecert` vector as text: `{\"pari\": \"[[N, t, s, a4, [x, y]], ...]\"}`.",
        content(
            (Object = "application/json", example = json!({"pari": "[[1000000000000000000000000000057, 1941308218874090, 1603111594224, 0, [519335238006017621936447751736, 51315546389334118416664791836]]]"}))
        )
    ),
    security(("authorization" = []), ("bearer" = []), ("x_api_key" = [])),
    responses(
        (status = 200, description = "Checked: `valid`, and the first failure when invalid; one unit consumed", body = VerifyResponse),
        (status = 400, description = "Not a certificate in either form", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, unknown, revoked or expired key", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 408, description = "Body not received within `--body-timeout-ms`", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than `--max-certificate-bytes`", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not JSON", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 422, description = "The certificate's number is larger than `--max-proof-bits`", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 429, description = "Burst limit or quota exceeded (`violated-policies`), or too many failed authentications from this address", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json"),
        (status = 503, description = "Key store unavailable, or CPU pool saturated", body = crate::http::problem::Problem<'static>, content_type = "application/problem+json")
    )
)]
pub async fn verify_certificate(
    req: HttpRequest,
    payload: Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = admit(&req, &state).await?;
    check_content_type(&req)?;
    let limits = &state.limits;
    let body = read_body_up_to(&req, payload, limits, limits.max_certificate_bytes).await?;
    let certificate = certificate::parse_request(&body)?;
    let bits = certificate.number().bits();
    if bits > limits.max_proof_bits {
        return Err(ApiError::CertificateTooLarge(limits.max_proof_bits));
    }
    let number = certificate.number().to_string();
    let (verified, charged, now) =
        metered_work(&req, &state, &hash, bits, move || certificate.verify()).await?;
    let mut builder = HttpResponse::Ok();
    insert_policy_headers(&mut builder, &charged.quota, charged.burst.as_ref(), now);
    Ok(builder.json(VerifyResponse {
        valid: verified.is_ok(),
        number,
        error: verified.err().map(|e| e.to_string()),
    }))
}
