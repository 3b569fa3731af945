//! HTTP calls to a prime-api server, typed answers, and the client's one error type.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::numbers::{InvalidNumber, Number};
use crate::output;

/// Largest response body read; a prime-api answer is a few kilobytes at most.
const MAX_BODY: u64 = 4 * 1024 * 1024;
/// Largest batch answer read (1000 results of the largest numbers, with room to spare).
const MAX_BATCH_BODY: u64 = 256 * 1024 * 1024;
/// Longest server message quoted in an error line.
const MAX_MESSAGE: usize = 300;
/// The problem type of a quota or burst 429 (the IETF ratelimit draft's registered type).
const QUOTA_EXCEEDED_TYPE: &str = "https://iana.org/assignments/http-problem-types#quota-exceeded";
/// The problem type of a 429 for too many failed authentications from one address.
const THROTTLED_TYPE: &str = "tag:prime-api,2026:problems/throttled";

/// Every way the client can fail. Exit codes are decided here, in [`ClientError::exit_code`],
/// and nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A usage error: missing key, bad URL, bad flag value.
    #[error("{0}")]
    Usage(String),

    /// A number refused locally, before anything was sent.
    #[error("{context}{error}")]
    InvalidNumber {
        /// Where it came from (`"stdin line 3: "`), or empty for a command-line argument.
        context: String,
        /// What is wrong.
        error: InvalidNumber,
    },

    /// The server refused the input (400, 413, 422): nothing was charged.
    #[error("the server rejected {number}: {message}")]
    Rejected {
        /// The number, shortened for display.
        number: String,
        /// HTTP status.
        status: u16,
        /// The server's `error` text.
        message: String,
    },

    /// The key was refused (401).
    #[error("unauthorized: the server at {url} refused the API key (check --key or PRIME_API_KEY)")]
    Unauthorized {
        /// Base URL of the server.
        url: String,
    },

    /// Quota exhausted, or throttled (429).
    #[error("{0}")]
    QuotaExhausted(Box<Exhausted>),

    /// The server could not be reached (connection refused, DNS, TLS, connection broken).
    #[error("cannot reach the server at {url}: {cause}")]
    Unreachable {
        /// Base URL of the server.
        url: String,
        /// The innermost cause.
        cause: String,
    },

    /// No answer in time.
    #[error("no answer from the server at {url} within {secs} s (see --timeout)")]
    Timeout {
        /// Base URL of the server.
        url: String,
        /// The timeout, in seconds.
        secs: String,
    },

    /// The server answered with an error (5xx).
    #[error("server error at {url}: HTTP {status}: {message}{}", retry_hint(*.retry_after))]
    Server {
        /// Base URL of the server.
        url: String,
        /// HTTP status.
        status: u16,
        /// The server's `error` text.
        message: String,
        /// `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },

    /// An answer that is not what a prime-api server sends.
    #[error("unexpected response from {url}: {detail}")]
    Unexpected {
        /// The URL that was called.
        url: String,
        /// What was wrong.
        detail: String,
    },

    /// Reading numbers from stdin failed.
    #[error("cannot read stdin: {0}")]
    Stdin(std::io::Error),

    /// Writing the answers failed (other than a closed pipe, which is not an error).
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
}

impl ClientError {
    /// The process exit code for this error (the contract: 2 usage, 3 unauthorized, 4 quota,
    /// 5 unreachable or server error; 1 for a local output failure, which the contract does
    /// not cover).
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_)
            | ClientError::InvalidNumber { .. }
            | ClientError::Rejected { .. }
            | ClientError::Stdin(_) => 2,
            ClientError::Unauthorized { .. } => 3,
            ClientError::QuotaExhausted(_) => 4,
            ClientError::Unreachable { .. }
            | ClientError::Timeout { .. }
            | ClientError::Server { .. }
            | ClientError::Unexpected { .. } => 5,
            ClientError::Output(_) => 1,
        }
    }

    /// Whether the rest of the numbers can still be tried after this error. Only problems with
    /// one particular number are; anything about the key, the quota or the server stops the run.
    pub fn affects_only_this_number(&self) -> bool {
        matches!(
            self,
            ClientError::InvalidNumber { .. } | ClientError::Rejected { .. }
        )
    }
}

/// Which limit a 429 is about, from the problem's `type` (never from its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The key's quota for the period.
    Quota,
    /// The key's burst (requests per second or minute).
    Burst,
    /// Too many failed authentications from this address.
    Throttled,
    /// A 429 of another kind (or from a server that does not say).
    Other,
}

impl Limit {
    /// Read it from a problem's `type` and `violated-policies`.
    fn of(problem_type: Option<&str>, policies: &[String]) -> Limit {
        match problem_type {
            Some(QUOTA_EXCEEDED_TYPE) if policies.iter().any(|p| p == "burst") => Limit::Burst,
            Some(QUOTA_EXCEEDED_TYPE) => Limit::Quota,
            Some(THROTTLED_TYPE) => Limit::Throttled,
            _ => Limit::Other,
        }
    }
}

/// The details of a 429.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    /// Which limit was hit.
    pub limit: Limit,
    /// The server's `error` text.
    pub message: String,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    /// The rate-limit headers of the 429.
    pub quota: Option<Quota>,
    /// Why `--wait` did not wait, if it was given.
    pub note: Option<String>,
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&quota_message(
            self.limit,
            &self.message,
            self.retry_after,
            self.quota.as_ref(),
            self.note.as_deref(),
        ))
    }
}

fn retry_hint(retry_after: Option<u64>) -> String {
    retry_after
        .map(|s| format!(" (retry after {})", output::duration(s)))
        .unwrap_or_default()
}

fn quota_message(
    limit: Limit,
    message: &str,
    retry_after: Option<u64>,
    quota: Option<&Quota>,
    note: Option<&str>,
) -> String {
    let mut text = match (limit, quota.and_then(|q| q.limit)) {
        (Limit::Quota, Some(n)) => {
            format!("quota exhausted: all {n} requests of this key are used")
        }
        (Limit::Quota, None) => "quota exhausted for this key".to_string(),
        (Limit::Burst, _) => format!("rate limited: {message}"),
        (Limit::Throttled | Limit::Other, _) => format!("too many requests: {message}"),
    };
    let reset = quota
        .and_then(output::reset_phrase)
        .or_else(|| retry_after.map(|s| format!("retry after {}", output::duration(s))));
    if let Some(reset) = reset {
        text.push_str("; ");
        text.push_str(&reset);
    }
    match note {
        Some(note) => {
            text.push_str(" — ");
            text.push_str(note);
        }
        None => text.push_str(" (--wait waits for it)"),
    }
    text
}

/// Quota state from the rate-limit headers of a metered response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Requests per window (`X-RateLimit-Limit`, or `q` of `RateLimit-Policy`).
    pub limit: Option<u64>,
    /// Requests left (`X-RateLimit-Remaining`, or `r` of `RateLimit`).
    pub remaining: Option<u64>,
    /// When it resets, Unix seconds (`X-RateLimit-Reset`, or now + `t`).
    pub reset_unix: Option<u64>,
    /// Seconds until it resets (`t` of `RateLimit`, or `X-RateLimit-Reset` − now).
    pub reset_in: Option<u64>,
}

impl Quota {
    /// Read the quota headers; `None` when the response carries none (not metered).
    pub fn from_headers(headers: &HeaderMap) -> Option<Quota> {
        Self::from_headers_at(headers, unix_now())
    }

    fn from_headers_at(headers: &HeaderMap, now: u64) -> Option<Quota> {
        let int = |name: &str| -> Option<u64> { header_str(headers, name)?.trim().parse().ok() };
        let rate_limit = header_str(headers, "ratelimit");
        let policy = header_str(headers, "ratelimit-policy");
        let limit = int("x-ratelimit-limit").or_else(|| sf_param(policy?, "q"));
        let remaining = int("x-ratelimit-remaining").or_else(|| sf_param(rate_limit?, "r"));
        let t = rate_limit.and_then(|v| sf_param(v, "t"));
        let reset_unix = int("x-ratelimit-reset").or_else(|| Some(now + t?));
        let reset_in = t.or_else(|| Some(reset_unix?.saturating_sub(now)));
        if limit.is_none() && remaining.is_none() && reset_unix.is_none() {
            return None;
        }
        Some(Quota {
            limit,
            remaining,
            reset_unix,
            reset_in,
        })
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok()
}

/// A parameter of the first item of a structured-field list: `"quota";r=4;t=43150` → `r` = 4.
fn sf_param(value: &str, name: &str) -> Option<u64> {
    let first = value.split(',').next()?;
    first.split(';').skip(1).find_map(|param| {
        let (key, val) = param.split_once('=')?;
        (key.trim() == name).then(|| val.trim().parse().ok())?
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `Retry-After` in seconds (the HTTP-date form is not used by prime-api and is ignored).
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, "retry-after")?.trim().parse().ok()
}

/// The answer to `POST /check-prime`, with every number kept as exact decimal text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckAnswer {
    /// The number, canonical decimal.
    pub number: String,
    /// `isPrime`.
    pub is_prime: bool,
    /// `prime`, `probable_prime`, `composite` or `neither`.
    pub verdict: Option<String>,
    /// A nontrivial factor of a composite, decimal.
    pub factor: Option<String>,
    /// A Miller-Rabin witness base for a composite, decimal.
    pub witness: Option<String>,
    /// With `"factorize": true`: the prime factors found, ascending, repeated by multiplicity.
    pub factors: Option<Vec<String>>,
    /// With `"factorize": true`: whether the product of `factors` is the number.
    pub complete: Option<bool>,
    /// With `"factorize": true`, when not `complete`: the composite part not split in time.
    pub cofactor: Option<String>,
    /// With `"proof": true`: the certificate's JSON text, as sent.
    pub certificate: Option<String>,
    /// With `"proof": true`, when there is no certificate: `timed_out` or `failed`.
    pub proof: Option<String>,
}

#[derive(Deserialize)]
struct RawCheck<'a> {
    #[serde(borrow)]
    number: &'a RawValue,
    #[serde(rename = "isPrime")]
    is_prime: bool,
    #[serde(default)]
    verdict: Option<String>,
    #[serde(default, borrow)]
    factor: Option<&'a RawValue>,
    #[serde(default, borrow)]
    witness: Option<&'a RawValue>,
    #[serde(default, borrow)]
    factors: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    complete: Option<bool>,
    #[serde(default, borrow)]
    cofactor: Option<&'a RawValue>,
    #[serde(default, borrow)]
    certificate: Option<&'a RawValue>,
    #[serde(default)]
    proof: Option<String>,
}

/// A JSON integer literal or a string of decimal digits, as exact text.
fn raw_decimal(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    let text = if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()?
    } else {
        text.to_string()
    };
    let digits = text.strip_prefix('-').unwrap_or(&text);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// The outcome for one number of a batch: its answer, or its own rejection.
pub type CheckResult = Result<Answer<CheckAnswer>, ClientError>;

/// Why a batch as a whole was not answered.
#[derive(Debug)]
pub enum BatchFailure {
    /// The server has no batch route (an older server): ask number by number.
    Unsupported,
    /// The batch is too large for the server (items, bytes or work): send fewer at a time.
    TooLarge,
    /// Any other failure (unauthorized, quota, unreachable, ...), as for a single check.
    Failed(ClientError),
}

impl From<ClientError> for BatchFailure {
    fn from(e: ClientError) -> Self {
        BatchFailure::Failed(e)
    }
}

/// The answer to `POST /get-current-time`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TimeAnswer {
    /// The server's local time, `%Y-%m-%d %H:%M:%S`.
    #[serde(rename = "currentTime")]
    pub current_time: String,
}

/// A successful answer: the typed value, the raw body (for `--json`), and the quota headers.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The parsed answer.
    pub value: T,
    /// The body exactly as the server sent it.
    pub body: String,
    /// Rate-limit headers, when the route is metered.
    pub quota: Option<Quota>,
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Base URL (see [`parse_base_url`]).
    pub base_url: Url,
    /// The API key.
    pub key: String,
    /// Per-request timeout, connecting included.
    pub timeout: Duration,
    /// `--ca-cert`: the only certificates trusted (a private CA, or the server's own).
    pub trusted: Option<crate::tls::TrustedFile>,
}

/// Parse `--url`: `http`/`https` only (a bare `host:port` gets `http://`), no query or
/// fragment, and a path prefix kept as a directory so routes resolve under it. Empty (an empty
/// `PRIME_API_URL=`) means the default URL.
pub fn parse_base_url(input: &str) -> Result<Url, ClientError> {
    let input = match input.trim() {
        "" => crate::cli::DEFAULT_URL,
        trimmed => trimmed,
    };
    let bad = |why: &str| ClientError::Usage(format!("invalid --url {input:?}: {why}"));
    let with_scheme = if input.contains("://") {
        input.to_string()
    } else {
        format!("http://{input}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http:// and https:// are supported"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query string or fragment is not allowed"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// A URL for messages: no credentials.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// Install ring as the process-wide rustls crypto provider (reqwest is built without one).
/// Idempotent: a provider already installed is kept.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A connection to one prime-api server. Keeps connections alive between calls.
#[derive(Debug)]
pub struct Api {
    http: Client,
    base: String,
    host: String,
    ca_file: Option<std::path::PathBuf>,
    check_url: Url,
    batch_url: Url,
    time_url: Url,
    timeout: Duration,
}

impl Api {
    /// Build the HTTP client: rustls with ring, the key as a sensitive default header, no
    /// redirects (a key is never forwarded anywhere), one timeout per request.
    pub fn new(config: ApiConfig) -> Result<Api, ClientError> {
        install_crypto_provider();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.key)).map_err(|_| {
            ClientError::Usage(
                "the API key contains characters that cannot be sent in a header".to_string(),
            )
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));

        let mut builder = Client::builder()
            .tls_backend_rustls()
            .user_agent(concat!("prime-client/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(trusted) = &config.trusted {
            builder = builder.tls_backend_preconfigured(trusted.client_config()?);
        }
        let http = builder.build().map_err(|e| {
            ClientError::Usage(format!("cannot set up the HTTP client: {}", root_cause(&e)))
        })?;

        let route = |name: &str| {
            config
                .base_url
                .join(name)
                .map_err(|e| ClientError::Usage(format!("invalid --url {}: {e}", config.base_url)))
        };
        Ok(Api {
            check_url: route("check-prime")?,
            batch_url: route("check-prime/batch")?,
            time_url: route("get-current-time")?,
            base: display_url(&config.base_url),
            host: config.base_url.host_str().unwrap_or_default().to_owned(),
            ca_file: config.trusted.as_ref().map(|t| t.path().to_owned()),
            http,
            timeout: config.timeout,
        })
    }

    /// The server's base URL as shown in messages (no credentials).
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// `POST /check-prime` with `{"number": N}`, N written as an exact JSON integer literal.
    pub fn check(&self, number: &Number) -> Result<Answer<CheckAnswer>, ClientError> {
        self.check_prime(number, "")
    }

    /// `POST /check-prime` with `{"number": N, "factorize": true}`: the answer has `factors`,
    /// `complete` and, when the server's time budget ran out, `cofactor`.
    pub fn factor(&self, number: &Number) -> Result<Answer<CheckAnswer>, ClientError> {
        self.check_prime(number, ",\"factorize\":true")
    }

    /// `POST /check-prime` with `{"number": N, "proof": true}`: a prime at least 2^64 is
    /// answered with its `certificate`, or `proof` says why there is none.
    pub fn prove(&self, number: &Number) -> Result<Answer<CheckAnswer>, ClientError> {
        self.check_prime(number, ",\"proof\":true")
    }

    /// `POST /check-prime` with `number` and the `options` members (JSON text, each with a
    /// leading comma).
    fn check_prime(
        &self,
        number: &Number,
        options: &str,
    ) -> Result<Answer<CheckAnswer>, ClientError> {
        let body = format!("{{\"number\":{}{options}}}", number.as_str());
        let request = self
            .http
            .post(self.check_url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        let (status, headers, body) = self.send(request)?;
        if status != StatusCode::OK {
            return Err(self.error_for(status, &headers, &body, Some(number)));
        }
        let value = self.parse_check(&body, number)?;
        Ok(Answer {
            value,
            body,
            quota: Quota::from_headers(&headers),
        })
    }

    /// `POST /check-prime/batch` with `{"numbers": [N, ...]}`: one result per number, in order,
    /// each an answer (its `body` exactly what `/check-prime` answers for it) or the number's
    /// own rejection; or why the batch as a whole was not answered.
    pub fn check_batch(&self, numbers: &[Number]) -> Result<Vec<CheckResult>, BatchFailure> {
        let mut body = String::with_capacity(16 + numbers.len() * 8);
        body.push_str("{\"numbers\":[");
        for (i, n) in numbers.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(n.as_str());
        }
        body.push_str("]}");
        let request = self
            .http
            .post(self.batch_url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        let (status, headers, body) = self.send_up_to(request, MAX_BATCH_BODY)?;
        match status.as_u16() {
            200 => {}
            404 | 405 => return Err(BatchFailure::Unsupported),
            400 | 413 | 422 => return Err(BatchFailure::TooLarge),
            _ => return Err(self.error_for(status, &headers, &body, None).into()),
        }
        self.parse_batch(&body, numbers, Quota::from_headers(&headers))
            .map_err(BatchFailure::Failed)
    }

    fn parse_batch(
        &self,
        body: &str,
        numbers: &[Number],
        quota: Option<Quota>,
    ) -> Result<Vec<CheckResult>, ClientError> {
        #[derive(Deserialize)]
        struct Results<'a> {
            #[serde(borrow)]
            results: Vec<&'a RawValue>,
        }
        #[derive(Deserialize)]
        struct Probe {
            status: Option<u16>,
            error: Option<String>,
        }
        let unexpected = |detail: String| ClientError::Unexpected {
            url: self.batch_url.to_string(),
            detail,
        };
        let parsed: Results<'_> = serde_json::from_str(body)
            .map_err(|e| unexpected(format!("not a batch answer ({e})")))?;
        if parsed.results.len() != numbers.len() {
            return Err(unexpected(format!(
                "{} results for {} numbers",
                parsed.results.len(),
                numbers.len()
            )));
        }
        let mut out = Vec::with_capacity(numbers.len());
        for (raw, number) in parsed.results.iter().zip(numbers) {
            let probe: Probe = serde_json::from_str(raw.get())
                .map_err(|e| unexpected(format!("not a result ({e})")))?;
            if let Some(status) = probe.status {
                out.push(Err(ClientError::Rejected {
                    number: output::shorten(number.as_str()),
                    status,
                    message: one_line(probe.error.as_deref().unwrap_or("rejected")),
                }));
                continue;
            }
            let value = self.parse_check(raw.get(), number)?;
            out.push(Ok(Answer {
                value,
                body: raw.get().to_owned(),
                quota: quota.clone(),
            }));
        }
        // Each answer's quota as it was right after it: the final state plus the units of the
        // answers after it.
        for (later, answer) in out.iter_mut().rev().flatten().enumerate() {
            if let Some(q) = answer.quota.as_mut() {
                q.remaining = q.remaining.map(|r| r + later as u64);
            }
        }
        Ok(out)
    }

    /// `POST /get-current-time`, no body (as the tutorial's client).
    pub fn time(&self) -> Result<Answer<TimeAnswer>, ClientError> {
        let request = self.http.post(self.time_url.clone());
        let (status, headers, body) = self.send(request)?;
        if status != StatusCode::OK {
            return Err(self.error_for(status, &headers, &body, None));
        }
        let value: TimeAnswer =
            serde_json::from_str(&body).map_err(|e| ClientError::Unexpected {
                url: self.time_url.to_string(),
                detail: format!("not a time answer ({e})"),
            })?;
        Ok(Answer {
            value,
            body,
            quota: Quota::from_headers(&headers),
        })
    }

    fn send(
        &self,
        request: RequestBuilder,
    ) -> Result<(StatusCode, HeaderMap, String), ClientError> {
        self.send_up_to(request, MAX_BODY)
    }

    fn send_up_to(
        &self,
        request: RequestBuilder,
        max_body: u64,
    ) -> Result<(StatusCode, HeaderMap, String), ClientError> {
        let response = request.send().map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = String::new();
        response
            .take(max_body)
            .read_to_string(&mut body)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::TimedOut {
                    self.timeout_error()
                } else if e.kind() == std::io::ErrorKind::InvalidData {
                    ClientError::Unexpected {
                        url: self.base.clone(),
                        detail: "the answer is not UTF-8 text".to_string(),
                    }
                } else {
                    ClientError::Unreachable {
                        url: self.base.clone(),
                        cause: format!("connection broken while reading the answer: {e}"),
                    }
                }
            })?;
        Ok((status, headers, body))
    }

    fn timeout_error(&self) -> ClientError {
        ClientError::Timeout {
            url: self.base.clone(),
            secs: format!("{}", self.timeout.as_secs_f64()),
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> ClientError {
        if e.is_timeout() {
            return self.timeout_error();
        }
        let cause = crate::tls::explain(e, &self.host, self.ca_file.as_deref())
            .unwrap_or_else(|| root_cause(e));
        ClientError::Unreachable {
            url: self.base.clone(),
            cause,
        }
    }

    fn parse_check(&self, body: &str, sent: &Number) -> Result<CheckAnswer, ClientError> {
        let unexpected = |detail: String| ClientError::Unexpected {
            url: self.check_url.to_string(),
            detail,
        };
        let raw: RawCheck<'_> = serde_json::from_str(body)
            .map_err(|e| unexpected(format!("not a prime-check answer ({e})")))?;
        let number = raw_decimal(raw.number)
            .ok_or_else(|| unexpected("`number` is not an integer".to_string()))?;
        if number != sent.as_str() {
            return Err(unexpected(format!(
                "asked about {} but the answer is about {}",
                output::shorten(sent.as_str()),
                output::shorten(&number)
            )));
        }
        let factors = match raw.factors {
            Some(list) => Some(
                list.into_iter()
                    .map(raw_decimal)
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| unexpected("`factors` holds a non-integer".to_string()))?,
            ),
            None => None,
        };
        Ok(CheckAnswer {
            number,
            is_prime: raw.is_prime,
            verdict: raw.verdict,
            factor: raw.factor.and_then(raw_decimal),
            witness: raw.witness.and_then(raw_decimal),
            factors,
            complete: raw.complete,
            cofactor: raw.cofactor.and_then(raw_decimal),
            certificate: raw.certificate.map(|c| c.get().to_owned()),
            proof: raw.proof,
        })
    }

    /// Turn a non-200 answer into the error the user sees.
    fn error_for(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
        number: Option<&Number>,
    ) -> ClientError {
        let problem = Problem::parse(body, status);
        let message = problem.message;
        match status.as_u16() {
            401 => ClientError::Unauthorized {
                url: self.base.clone(),
            },
            429 => ClientError::QuotaExhausted(Box::new(Exhausted {
                limit: Limit::of(problem.kind.as_deref(), &problem.violated_policies),
                message,
                retry_after: retry_after(headers),
                quota: Quota::from_headers(headers),
                note: None,
            })),
            400 | 413 | 422 => ClientError::Rejected {
                number: number
                    .map(|n| output::shorten(n.as_str()))
                    .unwrap_or_else(|| "the request".to_string()),
                status: status.as_u16(),
                message,
            },
            s @ 500..=599 => ClientError::Server {
                url: self.base.clone(),
                status: s,
                message,
                retry_after: retry_after(headers),
            },
            s => ClientError::Unexpected {
                url: self.base.clone(),
                detail: format!("HTTP {s}: {message} (is --url a prime-api server?)"),
            },
        }
    }
}

/// What an error answer says: its problem `type` (and violated policies), and one line of
/// explanation.
#[derive(Debug, Default)]
struct Problem {
    kind: Option<String>,
    violated_policies: Vec<String>,
    message: String,
}

impl Problem {
    /// Read a problem+json (or legacy `{"error": ...}`) body; the message falls back to the
    /// status's reason phrase and is always one printable line of bounded length.
    fn parse(body: &str, status: StatusCode) -> Problem {
        #[derive(Deserialize)]
        struct Body {
            #[serde(rename = "type")]
            kind: Option<String>,
            #[serde(rename = "violated-policies", default)]
            violated_policies: Vec<String>,
            error: Option<String>,
            detail: Option<String>,
            title: Option<String>,
        }
        let parsed = serde_json::from_str::<Body>(body).ok();
        let text = parsed
            .as_ref()
            .and_then(|p| p.error.clone().or(p.detail.clone()).or(p.title.clone()))
            .unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("unknown status")
                    .to_string()
            });
        let (kind, violated_policies) =
            parsed.map_or((None, Vec::new()), |p| (p.kind, p.violated_policies));
        Problem {
            kind,
            violated_policies,
            message: one_line(&text),
        }
    }
}

/// The one line of explanation of an error answer.
#[cfg(test)]
fn problem_message(body: &str, status: StatusCode) -> String {
    Problem::parse(body, status).message
}

/// Control characters replaced, length bounded.
fn one_line(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE)
        .collect();
    if text.chars().count() > MAX_MESSAGE {
        out.push('…');
    }
    out.trim().to_string()
}

/// The innermost cause of an error: `Connection refused (os error 111)` rather than
/// `error sending request for url (...)`.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    one_line(&cause.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base_urls() {
        let u = |s: &str| parse_base_url(s).map(|u| u.to_string());
        assert_eq!(
            u("http://127.0.0.1:5000").unwrap(),
            "http://127.0.0.1:5000/"
        );
        assert_eq!(
            u("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000/"
        );
        assert_eq!(u("http://h/api").unwrap(), "http://h/api/");
        assert_eq!(u("http://h/api/").unwrap(), "http://h/api/");
        assert_eq!(u("localhost:5000").unwrap(), "http://localhost:5000/");
        assert_eq!(u("https://h").unwrap(), "https://h/");
        assert!(u("ftp://h").is_err());
        assert!(u("http://h/?a=1").is_err());
        assert!(u("http://h/#x").is_err());
        assert_eq!(u("").unwrap(), "http://127.0.0.1:5000/");
        assert!(u("http://").is_err());
        let base = parse_base_url("http://h/api").unwrap();
        assert_eq!(
            base.join("check-prime").unwrap().as_str(),
            "http://h/api/check-prime"
        );
    }

    #[test]
    fn credentials_are_not_displayed() {
        let url = parse_base_url("http://user:secret@h:1/").unwrap();
        assert_eq!(display_url(&url), "http://h:1/");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn quota_from_legacy_headers() {
        let h = headers(&[
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", "4"),
            ("x-ratelimit-reset", "1000"),
        ]);
        let q = Quota::from_headers_at(&h, 900).unwrap();
        assert_eq!(
            q,
            Quota {
                limit: Some(5),
                remaining: Some(4),
                reset_unix: Some(1000),
                reset_in: Some(100),
            }
        );
    }

    #[test]
    fn quota_from_structured_headers() {
        let h = headers(&[
            ("ratelimit-policy", "\"quota\";q=5;w=86400"),
            ("ratelimit", "\"quota\";r=0;t=30"),
        ]);
        let q = Quota::from_headers_at(&h, 900).unwrap();
        assert_eq!(
            q,
            Quota {
                limit: Some(5),
                remaining: Some(0),
                reset_unix: Some(930),
                reset_in: Some(30),
            }
        );
        assert_eq!(Quota::from_headers_at(&HeaderMap::new(), 900), None);
    }

    #[test]
    fn structured_field_params() {
        assert_eq!(sf_param("\"quota\";r=4;t=43150", "r"), Some(4));
        assert_eq!(sf_param("\"quota\"; r=4; t=43150", "t"), Some(43150));
        assert_eq!(sf_param("\"quota\";r=4", "t"), None);
        assert_eq!(sf_param("\"a\";r=1, \"b\";r=2", "r"), Some(1));
    }

    #[test]
    fn raw_decimals() {
        let raw = |s: &str| raw_decimal(&serde_json::from_str::<Box<RawValue>>(s).unwrap());
        assert_eq!(raw("17").as_deref(), Some("17"));
        assert_eq!(raw("\"17\"").as_deref(), Some("17"));
        assert_eq!(raw("-3").as_deref(), Some("-3"));
        let big = "172983479832623897492387592384682937659382477";
        assert_eq!(raw(big).as_deref(), Some(big));
        assert_eq!(raw("1.5"), None);
        assert_eq!(raw("1e9"), None);
        assert_eq!(raw("\"x\""), None);
        assert_eq!(raw("true"), None);
    }

    #[test]
    fn problem_messages() {
        let s = StatusCode::UNPROCESSABLE_ENTITY;
        assert_eq!(
            problem_message(
                r#"{"type":"about:blank","error":"too big: limit 8192 bits"}"#,
                s
            ),
            "too big: limit 8192 bits"
        );
        assert_eq!(problem_message(r#"{"detail":"d"}"#, s), "d");
        assert_eq!(problem_message("<html>", s), "Unprocessable Entity");
        assert_eq!(problem_message(r#"{"error":"a\nb"}"#, s), "a b");
    }

    #[test]
    fn exit_codes_and_messages() {
        let quota = ClientError::QuotaExhausted(Box::new(Exhausted {
            limit: Limit::Quota,
            message: "Request limit exceeded. Please try again later.".into(),
            retry_after: Some(30),
            quota: Some(Quota {
                limit: Some(2),
                remaining: Some(0),
                reset_unix: Some(1_795_910_400),
                reset_in: Some(30),
            }),
            note: None,
        }));
        assert_eq!(quota.exit_code(), 4);
        assert_eq!(
            quota.to_string(),
            "quota exhausted: all 2 requests of this key are used; resets 2026-11-29T00:00:00Z (in 30s) (--wait waits for it)"
        );
        let throttled = ClientError::QuotaExhausted(Box::new(Exhausted {
            limit: Limit::Throttled,
            message: "too many failed attempts".into(),
            retry_after: Some(60),
            quota: None,
            note: None,
        }));
        assert_eq!(
            throttled.to_string(),
            "too many requests: too many failed attempts; retry after 1m (--wait waits for it)"
        );
        assert_eq!(ClientError::Usage("x".into()).exit_code(), 2);
        assert_eq!(ClientError::Unauthorized { url: "u".into() }.exit_code(), 3);
        let server = ClientError::Server {
            url: "http://h/".into(),
            status: 503,
            message: "store unavailable".into(),
            retry_after: Some(5),
        };
        assert_eq!(server.exit_code(), 5);
        assert_eq!(
            server.to_string(),
            "server error at http://h/: HTTP 503: store unavailable (retry after 5s)"
        );
        assert!(!server.affects_only_this_number());
    }

    #[test]
    fn the_limit_comes_from_the_type_not_the_text() {
        let s = StatusCode::TOO_MANY_REQUESTS;
        let of = |body: &str| {
            let p = Problem::parse(body, s);
            Limit::of(p.kind.as_deref(), &p.violated_policies)
        };
        let quota = r#"{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","violated-policies":["quota"],"error":"anything"}"#;
        let burst = r#"{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","violated-policies":["burst"],"error":"Request limit exceeded"}"#;
        let throttled =
            r#"{"type":"tag:prime-api,2026:problems/throttled","error":"Request limit exceeded"}"#;
        assert_eq!(of(quota), Limit::Quota);
        assert_eq!(of(burst), Limit::Burst);
        assert_eq!(of(throttled), Limit::Throttled);
        assert_eq!(of(r#"{"error":"Request limit exceeded"}"#), Limit::Other);
        assert_eq!(of("<html>"), Limit::Other);
    }
}
