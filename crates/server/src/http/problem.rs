//! The one HTTP error type and its one mapping to RFC 9457 problem details
//! (`application/problem+json`), which also carry the tutorial's `error` member.
//!
//! Errors of the layers below (numbers, the store, the CPU pool) become [`ApiError`] here, by
//! `From`, and nowhere else. Each class of error has its own stable `type` URI
//! ([`ProblemType`]), so clients decide by `type`, never by text; the list is in docs/api.md.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::headers::{insert_policy_headers, insert_quota_headers};
use crate::cpu_pool::PoolError;
use crate::domain::burst::BurstState;
use crate::domain::number::NumberError;
use crate::domain::quota::QuotaState;
use crate::store::StoreError;

/// The tutorial's quota message, kept verbatim for old clients.
pub const QUOTA_MESSAGE: &str = "Request limit exceeded. Please try again later.";

/// The burst limit's message.
pub const BURST_MESSAGE: &str = "Rate limit exceeded. Please slow down.";

/// A request refused by a key policy: the burst limit (when `burst` says it was limited) or the
/// quota; both policies' states go in the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverLimit {
    /// The burst limit's state, when the key has one.
    pub burst: Option<BurstState>,
    /// The quota as it is.
    pub quota: QuotaState,
    /// Unix seconds at the time of the answer.
    pub now: i64,
}

impl OverLimit {
    /// The policy that was exceeded: `"burst"` or `"quota"`.
    pub fn violated(&self) -> &'static str {
        if self.burst.is_some_and(|b| b.limited()) {
            "burst"
        } else {
            "quota"
        }
    }

    /// Whole seconds to wait, at least 1.
    pub fn retry_after(&self) -> u64 {
        match self.burst.and_then(|b| b.retry_after) {
            Some(wait) => wait.max(1),
            None => self.quota.seconds_to_reset(self.now).max(1),
        }
    }
}

/// Every class of error, with its `type` URI. Our own types are `tag:` URIs (RFC 4151): stable
/// identifiers that are not meant to be fetched (RFC 9457, section 3.1.1); quota exhaustion uses
/// the type the IETF ratelimit-headers draft registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// `401`: missing, malformed, unknown, revoked or expired key.
    Unauthorized,
    /// `429`: too many failed authentications from this address.
    Throttled,
    /// `429`: the key's quota (or burst limit) is used up.
    QuotaExceeded,
    /// `413`: the body is larger than the limit.
    BodyTooLarge,
    /// `422`: the number is larger than the bit limit.
    NumberTooLarge,
    /// `422`: a batch with more numbers, or more work, than one request may hold.
    BatchTooLarge,
    /// `415`: the body is not JSON.
    UnsupportedMediaType,
    /// `400`: the request is malformed.
    BadRequest,
    /// `404`: no such route.
    NotFound,
    /// `405`: the route exists, the method does not.
    MethodNotAllowed,
    /// `503`: the key store is unreachable or the CPU pool is saturated.
    Unavailable,
    /// `408`: the request did not arrive in time.
    Timeout,
    /// `500`: a bug.
    Internal,
}

impl ProblemType {
    /// Every problem type, in documentation order.
    pub const ALL: [ProblemType; 13] = [
        ProblemType::Unauthorized,
        ProblemType::Throttled,
        ProblemType::QuotaExceeded,
        ProblemType::BodyTooLarge,
        ProblemType::NumberTooLarge,
        ProblemType::BatchTooLarge,
        ProblemType::UnsupportedMediaType,
        ProblemType::BadRequest,
        ProblemType::NotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::Unavailable,
        ProblemType::Timeout,
        ProblemType::Internal,
    ];

    /// The `type` URI.
    pub fn uri(self) -> &'static str {
        match self {
            ProblemType::Unauthorized => "tag:prime-api,2026:problems/unauthorized",
            ProblemType::Throttled => "tag:prime-api,2026:problems/throttled",
            ProblemType::QuotaExceeded => {
                "https://iana.org/assignments/http-problem-types#quota-exceeded"
            }
            ProblemType::BodyTooLarge => "tag:prime-api,2026:problems/body-too-large",
            ProblemType::NumberTooLarge => "tag:prime-api,2026:problems/number-too-large",
            ProblemType::BatchTooLarge => "tag:prime-api,2026:problems/batch-too-large",
            ProblemType::UnsupportedMediaType => {
                "tag:prime-api,2026:problems/unsupported-media-type"
            }
            ProblemType::BadRequest => "tag:prime-api,2026:problems/bad-request",
            ProblemType::NotFound => "tag:prime-api,2026:problems/not-found",
            ProblemType::MethodNotAllowed => "tag:prime-api,2026:problems/method-not-allowed",
            ProblemType::Unavailable => "tag:prime-api,2026:problems/unavailable",
            ProblemType::Timeout => "tag:prime-api,2026:problems/timeout",
            ProblemType::Internal => "tag:prime-api,2026:problems/internal",
        }
    }
}

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
        quota: QuotaState,
        /// Unix seconds at the time of the answer.
        now: i64,
    },
    /// A key policy (burst limit or quota) refused the request; both are in the headers.
    #[error("{}", if .0.violated() == "burst" { BURST_MESSAGE } else { QUOTA_MESSAGE })]
    OverLimit(Box<OverLimit>),
    /// Malformed request: the message says what is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// Body larger than the limit.
    #[error("request body larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// A line of an NDJSON stream longer than the limit.
    #[error("line {line} is longer than the limit of {limit} bytes")]
    LineTooLong {
        /// The line's number (1-based).
        line: u64,
        /// The limit (`--max-body-bytes`).
        limit: usize,
    },
    /// Wrong content type.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// Wrong content type for a batch.
    #[error("Content-Type must be application/json or application/x-ndjson")]
    UnsupportedBatchType,
    /// Number larger than `--max-bits`.
    #[error("number is larger than the limit of {0} bits")]
    NumberTooLarge(u64),
    /// A proof asked for a number larger than `--max-proof-bits`.
    #[error("{}", NumberError::TooLargeForProof { max_bits: *.0 })]
    TooLargeForProof(u64),
    /// A certificate to verify whose number is larger than `--max-proof-bits`.
    #[error(
        "the certificate's number is larger than the limit of {0} bits (--max-proof-bits); verify it offline with `prime-client verify`"
    )]
    CertificateTooLarge(u64),
    /// More numbers in a batch than `--max-batch`, or more work than `--max-request-work`.
    #[error("{0}")]
    BatchTooLarge(NumberError),
    /// No such route.
    #[error("no such route: {0}")]
    NotFound(String),
    /// Route exists, method does not.
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(String),
    /// The CPU pool is saturated.
    #[error("{}", PoolError::Saturated)]
    Busy,
    /// The key store cannot be reached: fail closed. The cause is logged, never sent.
    #[error("the key store is unavailable; retry shortly")]
    StoreUnavailable(StoreError),
    /// The request did not arrive in time.
    #[error("the request was not received in time")]
    Timeout,
    /// A bug. The cause is logged, never sent.
    #[error("internal server error")]
    Internal(String),
}

impl From<NumberError> for ApiError {
    fn from(e: NumberError) -> Self {
        match e {
            NumberError::Malformed(message) => ApiError::BadRequest(message),
            NumberError::TooLarge { max_bits } => ApiError::NumberTooLarge(max_bits),
            NumberError::TooLargeForProof { max_bits } => ApiError::TooLargeForProof(max_bits),
            e @ (NumberError::TooManyItems { .. } | NumberError::TooMuchWork { .. }) => {
                ApiError::BatchTooLarge(e)
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::StoreUnavailable(e)
    }
}

impl From<PoolError> for ApiError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Saturated => ApiError::Busy,
            PoolError::Panicked => ApiError::Internal("a computation panicked".to_owned()),
        }
    }
}

/// RFC 9457 problem details, plus the tutorial's `error` member.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    /// The problem's class: a stable URI (see docs/api.md).
    #[serde(rename = "type")]
    #[schema(example = "tag:prime-api,2026:problems/unauthorized")]
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
    /// For `quota-exceeded`: the policies that were exceeded (`quota` or `burst`).
    #[serde(rename = "violated-policies", skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["quota"]))]
    violated_policies: Option<&'a [&'a str]>,
}

/// Seconds clients are told to wait after a `503`.
const RETRY_BUSY_SECS: u64 = 1;

impl ApiError {
    /// The problem's class.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            ApiError::Unauthorized => ProblemType::Unauthorized,
            ApiError::AuthThrottled { .. } => ProblemType::Throttled,
            ApiError::QuotaExhausted { .. } | ApiError::OverLimit(_) => ProblemType::QuotaExceeded,
            ApiError::BadRequest(_) => ProblemType::BadRequest,
            ApiError::PayloadTooLarge(_) | ApiError::LineTooLong { .. } => {
                ProblemType::BodyTooLarge
            }
            ApiError::UnsupportedMediaType | ApiError::UnsupportedBatchType => {
                ProblemType::UnsupportedMediaType
            }
            ApiError::NumberTooLarge(_)
            | ApiError::TooLargeForProof(_)
            | ApiError::CertificateTooLarge(_) => ProblemType::NumberTooLarge,
            ApiError::BatchTooLarge(_) => ProblemType::BatchTooLarge,
            ApiError::NotFound(_) => ProblemType::NotFound,
            ApiError::MethodNotAllowed(_) => ProblemType::MethodNotAllowed,
            ApiError::Busy | ApiError::StoreUnavailable(_) => ProblemType::Unavailable,
            ApiError::Timeout => ProblemType::Timeout,
            ApiError::Internal(_) => ProblemType::Internal,
        }
    }

    /// The headers that go with this error besides the content type.
    fn insert_headers(&self, builder: &mut actix_web::HttpResponseBuilder) {
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
            ApiError::QuotaExhausted { quota, now } => {
                insert_quota_headers(builder, quota, *now);
                let wait = quota.seconds_to_reset(*now).max(1);
                builder.insert_header((header::RETRY_AFTER, wait.to_string()));
            }
            ApiError::OverLimit(o) => {
                insert_policy_headers(builder, &o.quota, o.burst.as_ref(), o.now);
                builder.insert_header((header::RETRY_AFTER, o.retry_after().to_string()));
            }
            ApiError::Busy | ApiError::StoreUnavailable(_) => {
                builder.insert_header((header::RETRY_AFTER, RETRY_BUSY_SECS.to_string()));
            }
            ApiError::MethodNotAllowed(allow) => {
                builder.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        // The body of these requests was not read (or not all of it): the connection cannot
        // carry another request, and a client that stalls or fails to authenticate keeps no
        // connection open.
        if matches!(
            self,
            ApiError::Unauthorized
                | ApiError::AuthThrottled { .. }
                | ApiError::Timeout
                | ApiError::PayloadTooLarge(_)
                | ApiError::LineTooLong { .. }
        ) {
            builder.force_close();
        }
    }
}

impl ApiError {
    /// The error as one line of an NDJSON stream (`{"status": 429, "error": "..."}`), and what
    /// `error_response` logs for it.
    pub fn stream_line(&self) -> Vec<u8> {
        self.log();
        let line = serde_json::json!({
            "status": self.status_code().as_u16(),
            "error": self.to_string(),
        });
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    fn log(&self) {
        match self {
            ApiError::StoreUnavailable(e) => tracing::error!(error = %e, "store unavailable"),
            ApiError::Internal(why) => tracing::error!(error = %why, "internal error"),
            _ => {}
        }
    }
}

/// The status of one invalid item of a batch (`400` or `422`), as `/check-prime` would answer
/// for it alone.
pub fn item_status(e: &NumberError) -> u16 {
    ApiError::from(e.clone()).status_code().as_u16()
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.problem_type() {
            ProblemType::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemType::Throttled | ProblemType::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ProblemType::BadRequest => StatusCode::BAD_REQUEST,
            ProblemType::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemType::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemType::NumberTooLarge | ProblemType::BatchTooLarge => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ProblemType::NotFound => StatusCode::NOT_FOUND,
            ProblemType::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemType::Timeout => StatusCode::REQUEST_TIMEOUT,
            ProblemType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let status = self.status_code();
        let detail = self.to_string();
        let body = Problem {
            kind: self.problem_type().uri(),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: &detail,
            error: &detail,
            violated_policies: match self {
                ApiError::QuotaExhausted { .. } => Some(&["quota"]),
                ApiError::OverLimit(o) if o.violated() == "burst" => Some(&["burst"]),
                ApiError::OverLimit(_) => Some(&["quota"]),
                _ => None,
            },
        };
        let mut builder = HttpResponse::build(status);
        builder.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        self.insert_headers(&mut builder);
        match serde_json::to_vec(&body) {
            Ok(bytes) => builder.body(bytes),
            Err(_) => builder.body("{\"error\":\"internal server error\"}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_class_has_its_own_type() {
        let mut uris: Vec<&str> = ProblemType::ALL.iter().map(|t| t.uri()).collect();
        uris.sort_unstable();
        uris.dedup();
        assert_eq!(uris.len(), ProblemType::ALL.len());
    }

    #[test]
    fn the_tutorial_texts_stay() {
        assert_eq!(ApiError::Unauthorized.to_string(), "Unauthorized");
        let quota = QuotaState {
            limit: 1,
            used: 1,
            period: crate::domain::schedule::Period { start: 0, end: 10 },
        };
        let e = ApiError::QuotaExhausted { quota, now: 5 };
        assert_eq!(e.to_string(), QUOTA_MESSAGE);
        let r = e.error_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers().get("retry-after").unwrap(), "5");
    }
}
