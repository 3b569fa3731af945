//! `check` with several numbers: chunks of `--batch-size` numbers, each one
//! `POST /check-prime/batch`, sent by a worker thread while the main thread reads the next
//! chunk and prints the previous one.
//!
//! The output is what one request per number gives: the worker answers each chunk in order
//! and hands the main thread one outcome per input item. A batch the quota cannot cover (the
//! server takes all or nothing) is retried with as many numbers as the `429` says are left,
//! so every number that one-by-one requests would have answered is answered, then the quota
//! error is reported. A batch refused by the key's burst limit is sent again after its
//! `Retry-After` (within `--max-wait`, with or without `--wait`). A batch the server finds too
//! large (`413`/`422`) is halved; a server without the batch route (`404`/`405`) is asked
//! number by number.

use std::io::BufRead;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use crate::api::{Answer, Api, BatchFailure, CheckAnswer, CheckResult, ClientError, Limit};
use crate::numbers::{Number, NumberStream, StreamItem};
use crate::output;

/// The most bytes of numbers in one batch (the server's default body limit is 1 MiB).
pub const MAX_CHUNK_BYTES: usize = 1_000_000;

/// One item of the input, in order.
#[derive(Debug)]
pub enum Item {
    /// A valid number, to ask about.
    Number(Number),
    /// A token refused locally (reported in its place).
    Invalid(ClientError),
}

/// What becomes of one item.
#[derive(Debug)]
pub enum Outcome {
    /// The server's answer.
    Answer(Box<Answer<CheckAnswer>>),
    /// An error about this item alone (reported; the run goes on).
    Error(ClientError),
}

/// What the worker tells the main thread, in order.
#[derive(Debug)]
pub enum Event {
    /// A line for stderr (`--wait` is waiting).
    Note(String),
    /// The outcomes of one chunk, in input order, and the error that stopped the run after
    /// them, if one did.
    Done {
        /// One per item, up to where the run stopped.
        outcomes: Vec<Outcome>,
        /// Why the run stops here.
        halt: Option<ClientError>,
    },
}

/// The items of `check`'s arguments, with stdin's numbers at the place of `-`.
#[derive(Debug)]
pub struct Items<R> {
    sources: std::vec::IntoIter<Option<Number>>,
    stdin: Option<R>,
    stream: Option<NumberStream<R>>,
}

impl<R: BufRead> Items<R> {
    /// `sources`: the validated arguments, `None` for `-`.
    pub fn new(sources: Vec<Option<Number>>, stdin: R) -> Self {
        Items {
            sources: sources.into_iter(),
            stdin: Some(stdin),
            stream: None,
        }
    }

    /// The next chunk: up to `size` numbers (and [`MAX_CHUNK_BYTES`] of them), with the
    /// invalid tokens among them; a stdin read error ends it.
    pub fn chunk(&mut self, size: usize) -> (Vec<Item>, Option<ClientError>) {
        let (mut chunk, mut numbers, mut bytes) = (Vec::new(), 0, 0);
        while numbers < size && bytes < MAX_CHUNK_BYTES {
            match self.next() {
                None => break,
                Some(Err(e)) => return (chunk, Some(e)),
                Some(Ok(item)) => {
                    if let Item::Number(n) = &item {
                        numbers += 1;
                        bytes += n.as_str().len() + 1;
                    }
                    chunk.push(item);
                }
            }
        }
        (chunk, None)
    }
}

impl<R: BufRead> Iterator for Items<R> {
    type Item = Result<Item, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(stream) = self.stream.as_mut() {
                match stream.next() {
                    Some(Ok(StreamItem::Number(n, _))) => return Some(Ok(Item::Number(n))),
                    Some(Ok(StreamItem::Invalid(error, at))) => {
                        return Some(Ok(Item::Invalid(ClientError::InvalidNumber {
                            context: format!("{at}: "),
                            error,
                        })));
                    }
                    Some(Err(e)) => {
                        self.stream = None;
                        return Some(Err(ClientError::Stdin(e)));
                    }
                    None => self.stream = None,
                }
            }
            match self.sources.next()? {
                Some(n) => return Some(Ok(Item::Number(n))),
                None => self.stream = self.stdin.take().map(NumberStream::new),
            }
        }
    }
}

/// The worker's settings.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    /// `--wait`.
    pub wait: bool,
    /// `--max-wait`.
    pub max_wait: Duration,
    /// `--verbose`: say so when a burst-limit 429 is waited out.
    pub verbose: bool,
}

/// How a 429 is waited out.
#[derive(Debug)]
pub struct Pause {
    /// How long to sleep.
    pub sleep: Duration,
    /// What the sleep counts against `--max-wait`.
    pub counted: Duration,
    /// The line to say on stderr, if any.
    pub note: Option<String>,
}

impl Waiting {
    /// How to wait out the 429 `info` of a call that has waited `waited` already: with
    /// `--wait`, until the quota resets; a burst-limit 429 even without `--wait`, for its
    /// `Retry-After` (it charged nothing and is short). Beyond `--max-wait` in all for the call,
    /// or when neither applies, the quota error to report.
    pub fn pause_for(
        &self,
        mut info: Box<crate::api::Exhausted>,
        waited: Duration,
    ) -> Result<Pause, ClientError> {
        let burst = info.limit == Limit::Burst;
        if (!self.wait && !burst) || info.note.is_some() {
            return Err(ClientError::QuotaExhausted(info));
        }
        let secs = if burst {
            info.retry_after.unwrap_or(1).max(1)
        } else {
            info.retry_after
                .or_else(|| info.quota.as_ref().and_then(|q| q.reset_in))
                .unwrap_or(crate::DEFAULT_WAIT_SECS)
                .max(1)
        };
        let pause = Duration::from_secs(secs);
        if waited + pause > self.max_wait {
            info.note = Some(format!(
                "not waiting: that is more than --max-wait {}",
                output::duration(self.max_wait.as_secs())
            ));
            return Err(ClientError::QuotaExhausted(info));
        }
        Ok(if burst {
            Pause {
                sleep: pause,
                counted: pause,
                note: self.verbose.then(|| {
                    format!(
                        "rate limited (burst); waiting {} (Retry-After)",
                        output::duration(secs)
                    )
                }),
            }
        } else {
            Pause {
                sleep: pause + crate::WAIT_MARGIN,
                counted: pause,
                note: Some(format!(
                    "quota exhausted; waiting {} for the reset (--wait)",
                    output::duration(secs)
                )),
            }
        })
    }
}

/// Answer the chunks of `jobs` in order, one [`Event::Done`] each, until the jobs end or an
/// error stops the run.
pub fn worker(api: &Api, waiting: Waiting, jobs: &Receiver<Vec<Item>>, events: &Sender<Event>) {
    let mut checker = Checker {
        api,
        waiting,
        events,
        unsupported: false,
    };
    for chunk in jobs {
        let (outcomes, halt) = checker.chunk(chunk);
        let stop = halt.is_some();
        if events.send(Event::Done { outcomes, halt }).is_err() || stop {
            return;
        }
    }
}

struct Checker<'a> {
    api: &'a Api,
    waiting: Waiting,
    events: &'a Sender<Event>,
    /// The server has no batch route.
    unsupported: bool,
}

impl Checker<'_> {
    fn chunk(&mut self, chunk: Vec<Item>) -> (Vec<Outcome>, Option<ClientError>) {
        let mut numbers = Vec::with_capacity(chunk.len());
        let mut invalid = Vec::new();
        for item in chunk {
            match item {
                Item::Number(n) => numbers.push(n),
                Item::Invalid(e) => invalid.push((numbers.len(), e)),
            }
        }
        let (results, halt) = self.numbers(&numbers);
        let answered = results.len();
        let mut outcomes = Vec::with_capacity(answered + invalid.len());
        let mut invalid = invalid.into_iter().peekable();
        for (i, result) in results.into_iter().enumerate() {
            while let Some((_, e)) = invalid.next_if(|(at, _)| *at == i) {
                outcomes.push(Outcome::Error(e));
            }
            outcomes.push(match result {
                Ok(answer) => Outcome::Answer(Box::new(answer)),
                Err(e) => Outcome::Error(e),
            });
        }
        // Invalid tokens after the last answered number, up to the next one (not reached when
        // the run stopped there).
        while let Some((_, e)) = invalid.next_if(|(at, _)| *at == answered) {
            outcomes.push(Outcome::Error(e));
        }
        (outcomes, halt)
    }

    /// Ask about `numbers`, in order: one result per number answered, and the error that
    /// stopped before the rest, if one did.
    fn numbers(&mut self, numbers: &[Number]) -> (Vec<CheckResult>, Option<ClientError>) {
        let mut results = Vec::with_capacity(numbers.len());
        let mut rest = numbers;
        let mut take = rest.len();
        let mut waited = Duration::ZERO;
        while !rest.is_empty() {
            let n = take.clamp(1, rest.len());
            let attempt = if n == 1 || self.unsupported {
                self.api
                    .check(&rest[0])
                    .map(|a| vec![Ok(a)])
                    .map_err(BatchFailure::Failed)
            } else {
                self.api.check_batch(&rest[..n])
            };
            match attempt {
                Ok(part) => {
                    rest = &rest[part.len()..];
                    results.extend(part);
                    take = rest.len();
                    waited = Duration::ZERO;
                }
                Err(BatchFailure::Unsupported) => self.unsupported = true,
                Err(BatchFailure::TooLarge) => take = n / 2,
                Err(BatchFailure::Failed(ClientError::QuotaExhausted(info))) => {
                    let left = match info.limit {
                        Limit::Quota => info.quota.as_ref().and_then(|q| q.remaining),
                        _ => None,
                    };
                    match left.and_then(|l| usize::try_from(l).ok()) {
                        // All or nothing: ask for what is left first.
                        Some(left) if n > 1 && left > 0 => take = left.min(n - 1),
                        _ => {
                            if let Err(e) = self.wait_for_reset(info, &mut waited) {
                                return (results, Some(e));
                            }
                        }
                    }
                }
                Err(BatchFailure::Failed(e)) if n == 1 && e.affects_only_this_number() => {
                    results.push(Err(e));
                    rest = &rest[1..];
                    take = rest.len();
                }
                Err(BatchFailure::Failed(e)) => return (results, Some(e)),
            }
        }
        (results, None)
    }

    /// Wait out a 429 as [`Waiting::pause_for`] says (its note sent as an event), or the quota
    /// error.
    fn wait_for_reset(
        &self,
        info: Box<crate::api::Exhausted>,
        waited: &mut Duration,
    ) -> Result<(), ClientError> {
        let pause = self.waiting.pause_for(info, *waited)?;
        if let Some(note) = pause.note {
            let _ = self.events.send(Event::Note(note));
        }
        std::thread::sleep(pause.sleep);
        *waited += pause.counted;
        Ok(())
    }
}
