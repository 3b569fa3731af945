//! The one HTTP error type, mapped once to RFC 9457 problem details that also carry the
//! tutorial's `error` member.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::quota::QuotaState;

/// The tutorial's quota message, kept verbatim for old clients.
pub const QUOTA_MESSAGE: &str = "Request limit exceeded. Please try again later.";

/// Every way an API request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, unknown, revoked or expired key — one answer for all (no oracle).
    #[error("Unauthorized")]
    Unauthorized,
    /// Too many failed authentication attempts from this client address.
    #[error("too many failed authentication attempts from this address; retry in {retry_after} s")]
    AuthThrottled {
        /// Seconds until another attempt is allowed.
        retry_after: u64,
    },
    /// The key's quota is used up.
    #[error("{}", QUOTA_MESSAGE)]
    QuotaExhausted {
        /// Quota state for the headers.
        state: QuotaState,
        /// Unix seconds at the time of the answer.
        now: i64,
    },
    /// Malformed request: the message says what is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// Body larger than the limit.
    #[error("request body larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// Wrong content type.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// Number larger than `--max-bits`.
    #[error("number is larger than the limit of {0} bits")]
    NumberTooLarge(u64),
    /// No such route.
    #[error("no such route: {0}")]
    NotFound(String),
    /// Route exists, method does not.
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(&'static str),
    /// The CPU pool is saturated.
    #[error("server busy: too many primality checks in progress; retry shortly")]
    Busy,
    /// The key store cannot be reached: fail closed.
    #[error("the key store is unavailable; retry shortly")]
    StoreUnavailable,
    /// A bug. Details are logged, never sent.
    #[error("internal server error")]
    Internal,
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::StoreUnavailable
    }
}

/// RFC 9457 problem details, plus the tutorial's `error` member (`application/problem+json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    kind: &'static str,
    /// The status code's reason phrase.
    #[schema(example = "Unauthorized")]
    title: &'a str,
    /// The status code.
    #[schema(example = 401)]
    status: u16,
    /// What is wrong, in one line.
    #[schema(example = "Unauthorized")]
    detail: &'a str,
    /// The tutorial's member: `Unauthorized` for 401, `Request limit exceeded. Please try again
    /// later.` for an exhausted quota, otherwise the same line as `detail`.
    #[schema(example = "Unauthorized")]
    error: &'a str,
}

/// Seconds clients are told to wait after a `503`.
const RETRY_BUSY_SECS: u64 = 1;

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::AuthThrottled { .. } | ApiError::QuotaExhausted { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NumberTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Busy | ApiError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let title = status.canonical_reason().unwrap_or("Error");
        let detail = self.to_string();
        let (kind, error) = match self {
            ApiError::Unauthorized => ("about:blank", "Unauthorized"),
            ApiError::QuotaExhausted { .. } => ("about:blank", QUOTA_MESSAGE),
            _ => ("about:blank", detail.as_str()),
        };
        let body = Problem {
            kind,
            title,
            status: status.as_u16(),
            detail: &detail,
            error,
        };
        let mut builder = HttpResponse::build(status);
        builder.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        builder.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        match self {
            ApiError::Unauthorized => {
                builder.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"prime-api\""),
                ));
            }
            ApiError::AuthThrottled { retry_after } => {
                builder.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::QuotaExhausted { state, now } => {
                state.apply_headers(&mut builder, *now);
                builder.insert_header((
                    header::RETRY_AFTER,
                    state.seconds_to_reset(*now).max(1).to_string(),
                ));
            }
            ApiError::Busy | ApiError::StoreUnavailable => {
                builder.insert_header((header::RETRY_AFTER, RETRY_BUSY_SECS.to_string()));
            }
            ApiError::MethodNotAllowed(allow) => {
                builder.insert_header((header::ALLOW, *allow));
            }
            _ => {}
        }
        match serde_json::to_vec(&body) {
            Ok(bytes) => builder.body(bytes),
            Err(_) => builder.body("{\"error\":\"internal server error\"}"),
        }
    }
}
