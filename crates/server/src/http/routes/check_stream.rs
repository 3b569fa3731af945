//! `POST /check-prime/batch` with `Content-Type: application/x-ndjson`: one number per line in,
//! one result line per input line out, in order, written as they are computed.
//!
//! The body is read as it arrives: the complete lines present (at most `--max-batch` at a time)
//! are one chunk; the chunk's valid numbers take their units in one atomic step
//! (`Demand::UpTo`: as many as are left), are checked, and their lines are written before the
//! next chunk is read. The response body is pulled by the connection, so a client that does not
//! read its answers stops the reading of its numbers: memory stays flat whatever the stream's
//! length. Blank lines are skipped.
//!
//! The request takes one place in the key's burst limit, with its first charge (or alone,
//! before its first lines, when they hold no valid number, or when the body is empty); later
//! chunks take units only. A burst limit exceeded is therefore always the response itself.
//!
//! The stream ends early, after the lines answered so far, with one line
//! `{"status": S, "error": "..."}`: `429` when the quota runs out (every answered line was
//! charged, nothing else), `422` when the request's work limit is reached, `413` for a line
//! longer than `--max-body-bytes`, `408` when no bytes arrive for `--body-timeout-ms`, `401`
//! and `503` as for `/check-prime`. When nothing has been answered yet the error is the
//! response itself (a problem+json with its status), and the rate-limit headers of a `200` are
//! those after the first chunk's charge (both policies when the key has a burst limit).

use std::time::Duration;

use actix_web::web::{Bytes, BytesMut, Payload};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use futures_util::StreamExt;

use super::check_batch::{check_all, count_checks, write_checked};
use super::check_prime::{consume, consume_more, give_back, pace};
use crate::domain::burst::BurstState;
use crate::domain::check::cost;
use crate::domain::keys::KeyHash;
use crate::domain::number::{self, CheckOptions, Number, NumberError};
use crate::domain::quota::{Demand, QuotaState};
use crate::http::auth::Charged;
use crate::http::headers::insert_policy_headers;
use crate::http::problem::{ApiError, item_status};
use crate::http::state::AppState;

/// The NDJSON media type.
pub const NDJSON: &str = "application/x-ndjson";

/// The lines of a request body, read as they arrive.
struct Lines {
    payload: Payload,
    buf: BytesMut,
    eof: bool,
    /// Lines taken so far.
    line: u64,
    max_line: usize,
    timeout: Duration,
    /// An error met after some lines were taken, for the next call.
    pending: Option<ApiError>,
}

impl Lines {
    /// Take the next complete line from the buffer, if there is one (blank lines skipped).
    fn take_line(&mut self) -> Result<Option<Bytes>, ApiError> {
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let line = self.buf.split_to(end + 1).freeze();
            self.line += 1;
            if line.len() > self.max_line + 1 {
                return Err(self.too_long());
            }
            if !line.trim_ascii().is_empty() {
                return Ok(Some(line));
            }
        }
        Ok(None)
    }

    fn too_long(&self) -> ApiError {
        ApiError::LineTooLong {
            line: self.line.max(1),
            limit: self.max_line,
        }
    }

    /// The complete lines available now (at most `max`), waiting for more bytes only while
    /// there are none; `None` at the end of the body.
    async fn next_lines(&mut self, max: usize) -> Result<Option<Vec<Bytes>>, ApiError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        loop {
            let mut lines = Vec::new();
            while lines.len() < max {
                match self.take_line() {
                    Ok(Some(line)) => lines.push(line),
                    Ok(None) => break,
                    Err(e) if lines.is_empty() => return Err(e),
                    Err(e) => {
                        self.pending = Some(e);
                        break;
                    }
                }
            }
            if !lines.is_empty() {
                return Ok(Some(lines));
            }
            if self.buf.len() > self.max_line {
                self.line += 1;
                return Err(self.too_long());
            }
            if self.eof {
                // A last line without its newline.
                let rest = std::mem::take(&mut self.buf).freeze();
                self.line += 1;
                return Ok((!rest.trim_ascii().is_empty()).then(|| vec![rest]));
            }
            match tokio::time::timeout(self.timeout, self.payload.next()).await {
                Err(_) => return Err(ApiError::Timeout),
                Ok(None) => self.eof = true,
                Ok(Some(Err(e))) => {
                    return Err(ApiError::BadRequest(format!(
                        "could not read the request body: {e}"
                    )));
                }
                Ok(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
            }
        }
    }
}

/// One streaming request.
struct Session {
    req: HttpRequest,
    state: web::Data<AppState>,
    hash: KeyHash,
    options: CheckOptions,
    lines: Lines,
    /// Work units this request may still spend.
    work_left: u64,
    /// The quota and the burst limit after the first charge, and its time (for the headers).
    quota: Option<(QuotaState, Option<BurstState>, i64)>,
    /// Whether the request has taken its one place in the key's burst limit (with its first
    /// charge, or alone when its first chunk has no valid number).
    paced: bool,
    done: bool,
}

/// A line parsed: the number, or the item as sent and why it was refused.
type Parsed = Result<Number, (String, NumberError)>;

impl Session {
    /// The next piece of the answer: the lines of the next chunk (followed by the line of the
    /// error that ends the stream, if one does); an error alone when no line was answered;
    /// `None` at the end.
    async fn step(&mut self) -> Option<Result<Bytes, ApiError>> {
        if self.done {
            return None;
        }
        let lines = match self.lines.next_lines(self.state.limits.max_batch).await {
            Ok(Some(lines)) => lines,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let mut out = Vec::with_capacity(lines.len() * 64);
        if let Err(e) = self.answer(&lines, &mut out).await {
            self.done = true;
            if out.is_empty() {
                return Some(Err(e));
            }
            out.extend_from_slice(&e.stream_line());
        }
        Some(Ok(Bytes::from(out)))
    }

    /// Parse, charge, check and write one chunk; an error ends the stream after what was
    /// written.
    async fn answer(&mut self, lines: &[Bytes], out: &mut Vec<u8>) -> Result<(), ApiError> {
        let mut items = self.parse_chunk(lines);
        let mut end = self.spend_work(&mut items);
        let (charged, cut) = self.charge(&mut items).await?;
        if cut.is_some() {
            end = cut;
        }
        let numbers: Vec<Number> = items
            .iter()
            .filter_map(|i| i.as_ref().ok().cloned())
            .collect();
        let outcomes = match check_all(&self.state, &numbers, self.options).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                let e = e.into();
                return Err(match charged {
                    Some((units, quota)) => {
                        give_back(&self.state, &self.hash, &quota, units, e).await
                    }
                    None => e,
                });
            }
        };
        count_checks(&self.state, &numbers, &outcomes);
        write_lines(out, &items, &numbers, &outcomes)?;
        end.map_or(Ok(()), Err)
    }

    /// The chunk's lines as numbers, or each line's own error (a number too large for the
    /// proof asked for included).
    fn parse_chunk(&self, lines: &[Bytes]) -> Vec<Parsed> {
        let (max_bits, max_proof_bits) =
            (self.state.limits.max_bits, self.state.limits.max_proof_bits);
        let options = self.options;
        lines
            .iter()
            .map(|l| {
                number::parse_line(l, max_bits).and_then(|n| {
                    match options.check_proof_size(&n, max_proof_bits) {
                        Ok(()) => Ok(n),
                        Err(e) => Err((n.echo_json(), e)),
                    }
                })
            })
            .collect()
    }

    /// Take the units of the valid `items` ("as many as are left"; the stream's first charge
    /// also takes its place in the burst limit). The units taken and the quota after them,
    /// and the error that ends the stream after the items that got a unit (those past it are
    /// dropped). `Err`: refused before anything of this chunk is answered.
    async fn charge(
        &mut self,
        items: &mut Vec<Parsed>,
    ) -> Result<(Option<(u64, QuotaState)>, Option<ApiError>), ApiError> {
        let valid = items.iter().filter(|i| i.is_ok()).count() as u64;
        let now_us = Utc::now().timestamp_micros();
        let now = now_us.div_euclid(1_000_000);
        if valid == 0 {
            if !self.paced {
                // No unit to take, but nothing is answered before the request has its place
                // in the burst limit.
                let paced = pace(&self.req, &self.state, &self.hash, now_us).await?;
                self.paced = true;
                self.quota = Some((paced.quota, paced.burst, now));
            }
            return Ok((None, None));
        }
        let demand = Demand::UpTo(valid);
        let (req, state, hash) = (&self.req, &self.state, &self.hash);
        let outcome = if self.paced {
            consume_more(req, state, hash, demand, now_us).await
        } else {
            consume(req, state, hash, demand, now_us).await
        };
        match outcome {
            Ok(Charged {
                units,
                quota,
                burst,
            }) => {
                if !self.paced {
                    self.paced = true;
                    self.quota = Some((quota, burst, now));
                }
                let mut cut = None;
                if units < valid {
                    self.state.metrics.policy_rejection("quota");
                    cut_after_valid(items, units);
                    cut = Some(ApiError::QuotaExhausted { quota, now });
                }
                Ok((Some((units, quota)), cut))
            }
            Err(e) => {
                cut_after_valid(items, 0);
                Ok((None, Some(e)))
            }
        }
    }

    /// Spend the work of `items` in order; at the first number over what is left, drop it and
    /// what follows and say so.
    fn spend_work(&mut self, items: &mut Vec<Parsed>) -> Option<ApiError> {
        for (i, item) in items.iter().enumerate() {
            let Ok(n) = item else { continue };
            let c = cost(n.bits(), self.options);
            if c > self.work_left {
                items.truncate(i);
                let max_work = self.state.limits.max_request_work;
                return Some(NumberError::TooMuchWork { max_work }.into());
            }
            self.work_left -= c;
        }
        None
    }
}

/// Keep the items up to (not including) the valid one after the first `valid`.
fn cut_after_valid(items: &mut Vec<Parsed>, valid: u64) {
    let mut seen = 0;
    let keep = items
        .iter()
        .position(|i| {
            if i.is_ok() {
                seen += 1;
            }
            seen > valid
        })
        .unwrap_or(items.len());
    items.truncate(keep);
}

/// One line per item: the valid ones answered by `outcomes`, in order.
fn write_lines(
    out: &mut Vec<u8>,
    items: &[Parsed],
    numbers: &[Number],
    outcomes: &[crate::domain::check::Outcome],
) -> Result<(), ApiError> {
    let mut answered = numbers.iter().zip(outcomes);
    for item in items {
        match item {
            Ok(_) => {
                let (n, outcome) = answered
                    .next()
                    .ok_or_else(|| ApiError::Internal("a result is missing".to_owned()))?;
                write_checked(out, n, outcome)?;
            }
            Err((sent, error)) => {
                let line = serde_json::json!({
                    "number": serde_json::value::RawValue::from_string(sent.clone())
                        .map_err(|e| ApiError::Internal(format!("echo of an item: {e}")))?,
                    "status": item_status(error),
                    "error": error.to_string(),
                });
                serde_json::to_writer(&mut *out, &line)
                    .map_err(|e| ApiError::Internal(format!("writing a result: {e}")))?;
            }
        }
        out.push(b'\n');
    }
    Ok(())
}

/// The options of a stream, from the query string (`?factorize=true&proof=true`).
fn query_options(req: &HttpRequest) -> Result<CheckOptions, ApiError> {
    let mut options = CheckOptions::default();
    for pair in req.query_string().split('&') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let flag = match name {
            "factorize" => &mut options.factorize,
            "proof" => &mut options.proof,
            _ => continue,
        };
        *flag = match value {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "'{name}' must be true or false"
                )));
            }
        };
    }
    Ok(options)
}

/// Answer an NDJSON stream (the key already admitted).
pub async fn stream(
    req: HttpRequest,
    payload: Payload,
    state: web::Data<AppState>,
    hash: KeyHash,
) -> Result<HttpResponse, ApiError> {
    let options = query_options(&req)?;
    let limits = state.limits;
    let mut session = Session {
        req,
        hash,
        options,
        lines: Lines {
            payload,
            buf: BytesMut::new(),
            eof: false,
            line: 0,
            max_line: limits.max_body_bytes,
            timeout: limits.body_timeout,
            pending: None,
        },
        work_left: limits.max_request_work,
        quota: None,
        paced: false,
        done: false,
        state,
    };
    let mut builder = HttpResponse::Ok();
    builder.content_type(NDJSON);
    let first = match session.step().await {
        None => {
            // An empty stream is answered too: it takes its place in the burst limit.
            let now_us = Utc::now().timestamp_micros();
            let paced = pace(&session.req, &session.state, &session.hash, now_us).await?;
            let now = now_us.div_euclid(1_000_000);
            insert_policy_headers(&mut builder, &paced.quota, paced.burst.as_ref(), now);
            return Ok(builder.finish());
        }
        Some(Err(e)) => return Err(e),
        Some(Ok(first)) => first,
    };
    if let Some((quota, burst, now)) = &session.quota {
        insert_policy_headers(&mut builder, quota, burst.as_ref(), *now);
    }
    let rest = futures_util::stream::unfold(session, |mut session| async move {
        let piece = session.step().await?;
        let bytes = piece.unwrap_or_else(|e| Bytes::from(e.stream_line()));
        Some((Ok::<_, actix_web::Error>(bytes), session))
    });
    let body = futures_util::stream::once(async move { Ok(first) }).chain(rest);
    Ok(builder.streaming(body))
}
