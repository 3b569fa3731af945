//! `prime-client`: a command-line client for the prime-api HTTP server.
//!
//! - [`cli`]: the command line (clap), flags and environment variables;
//! - [`numbers`]: validation of decimal input and bounded-memory streaming of stdin;
//! - [`api`]: the HTTP calls, typed answers and [`api::ClientError`], which alone decides exit
//!   codes;
//! - [`batch`]: several numbers in batches, pipelined;
//! - [`output`]: human and JSON lines;
//! - [`factor`]: the `factor` command's lines and the check that factors multiply back;
//! - [`prove`]: what the server's answer to a proof request proves (its certificate verified
//!   here);
//! - [`verify`]: `verify FILE`, offline.
//!
//! [`main_entry`] is the whole binary; [`execute`] runs one parsed command line against any
//! stdin/stdout/stderr.

pub mod api;
pub mod batch;
pub mod cli;
pub mod factor;
pub mod numbers;
pub mod output;
pub mod prove;
pub mod tls;
pub mod verify;

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;

use crate::api::{Answer, Api, ApiConfig, CheckAnswer, ClientError};
use crate::batch::{Event, Items, Outcome, Waiting};
use crate::cli::{CertificateFormat, Cli, Command};
use crate::numbers::{Number, NumberStream, StreamItem};

/// Prefix of every line the client writes to stderr.
const PREFIX: &str = "prime-client";
/// How long `--wait` sleeps after a 429 that names no reset time.
pub(crate) const DEFAULT_WAIT_SECS: u64 = 10;
/// Added to each `--wait` sleep so that a whole-second `Retry-After` rounded down does not wake
/// the client just before the reset.
pub(crate) const WAIT_MARGIN: Duration = Duration::from_millis(500);

/// The binary: parse the command line, run it, map the outcome to an exit code. Never panics
/// on bad input, never prints a backtrace.
pub fn main_entry() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let text = info.to_string().replace(['\n', '\r'], " ");
        let _ = writeln!(io::stderr(), "{PREFIX}: internal error: {text}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout and exit 0; usage errors to stderr, exit 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let stdin = io::stdin();
    let interactive = stdin.is_terminal() && io::stderr().is_terminal();
    let code = execute(
        &cli,
        stdin.lock(),
        interactive,
        // Answers are flushed line by line, or chunk by chunk in batches.
        &mut io::BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
        &mut io::stderr(),
    );
    ExitCode::from(code)
}

/// What is asked about each number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// `check`: is it prime?
    Check,
    /// `factor`: its prime factors.
    Factor,
}

/// Why a run stops early.
enum Halt {
    /// An error that ends the run (unauthorized, quota, unreachable, ...).
    Error(ClientError),
    /// Whoever read stdout went away (`| head`): stop quietly.
    BrokenPipe,
}

impl From<ClientError> for Halt {
    fn from(e: ClientError) -> Halt {
        Halt::Error(e)
    }
}

/// The human line of a `factor` answer, after checking that its factors multiply back to the
/// number (an answer that does not is not from a working prime-api server: exit 5).
fn factor_answer(answer: &CheckAnswer, api: Option<&Api>) -> Result<String, ClientError> {
    let unexpected = |detail: &str| ClientError::Unexpected {
        url: api.map(Api::base_url).unwrap_or_default(),
        detail: format!("{detail} for {}", output::shorten(&answer.number)),
    };
    if let Some(factors) = &answer.factors
        && !factor::multiplies_back(&answer.number, factors, answer.cofactor.as_deref())
    {
        return Err(unexpected("factors that do not multiply to the number"));
    }
    factor::factor_line(answer)
        .ok_or_else(|| unexpected("no `factors` (does the server support \"factorize\"?)"))
}

/// Run one parsed command line. Returns the exit code.
pub fn execute<R: BufRead, W: Write, E: Write>(
    cli: &Cli,
    stdin: R,
    interactive: bool,
    out: &mut W,
    err: &mut E,
) -> u8 {
    if let Command::Verify { file } = &cli.command {
        return verify::run(file, cli.json, stdin, out, err);
    }
    let mut session = Session {
        cli,
        api: None,
        out,
        err,
        worst: 0,
    };
    match session.run(stdin, interactive) {
        Ok(()) => session.worst,
        Err(Halt::BrokenPipe) => session.worst,
        Err(Halt::Error(e)) => {
            session.report(&e);
            e.exit_code().max(session.worst)
        }
    }
}

struct Session<'a, W, E> {
    cli: &'a Cli,
    api: Option<Api>,
    out: &'a mut W,
    err: &'a mut E,
    /// Highest exit code of the errors that did not stop the run.
    worst: u8,
}

impl<W: Write, E: Write> Session<'_, W, E> {
    fn run<R: BufRead>(&mut self, stdin: R, interactive: bool) -> Result<(), Halt> {
        match &self.cli.command {
            Command::Check {
                numbers,
                batch_size,
            } => {
                let batch_size = usize::try_from(*batch_size).unwrap_or(usize::MAX);
                self.check_command(Ask::Check, numbers, batch_size, stdin, interactive)
            }
            // Factorisations take up to the server's budget each: one request per number.
            Command::Factor { numbers } => {
                self.check_command(Ask::Factor, numbers, 1, stdin, interactive)
            }
            Command::Prove {
                number,
                format,
                out,
            } => self.prove_command(number, *format, out.as_deref()),
            Command::Verify { .. } => Ok(()), // handled by `execute`, offline
            Command::Time => {
                self.connect()?;
                let answer = self.with_wait(Api::time)?;
                let line = if self.cli.json {
                    output::json_line(&answer.body)
                } else {
                    output::time_line(&answer.value)
                };
                self.emit(&line)?;
                self.verbose_quota(&answer);
                Ok(())
            }
        }
    }

    /// `prove N`: ask for a proof, verify the certificate, write it (to `out`, else stdout with
    /// the verdict line on stderr). Not proven (composite, or no proof in time): exit 1.
    fn prove_command(
        &mut self,
        arg: &str,
        format: CertificateFormat,
        out: Option<&std::path::Path>,
    ) -> Result<(), Halt> {
        let n = numbers::parse_number(arg.trim_ascii()).map_err(|error| {
            ClientError::InvalidNumber {
                context: String::new(),
                error,
            }
        })?;
        self.connect()?;
        let answer = self.with_wait(|api| api.prove(&n))?;
        let value = primality::BigUint::parse_bytes(answer.value.number.as_bytes(), 10);
        let proven = match value {
            Some(value) => prove::interpret(&value, &answer.value),
            // A negative number: not prime, nothing to verify.
            None => Ok(prove::Proven::NotProven {
                line: output::check_line(&answer.value),
            }),
        }
        .map_err(|detail| ClientError::Unexpected {
            url: self.api.as_ref().map(Api::base_url).unwrap_or_default(),
            detail: format!("{detail} for {}", output::shorten(n.as_str())),
        })?;
        let json = self.cli.json.then(|| output::json_line(&answer.body));
        match proven {
            prove::Proven::Prime { certificate, line } => {
                let text = prove::render(&certificate, format);
                match out {
                    Some(path) => {
                        std::fs::write(path, text).map_err(|e| {
                            ClientError::Output(io::Error::new(
                                e.kind(),
                                format!("{}: {e}", path.display()),
                            ))
                        })?;
                        self.emit(json.as_deref().unwrap_or(&line))?;
                    }
                    // The server's JSON object holds the certificate already.
                    None if json.is_some() => self.emit(json.as_deref().unwrap_or(&line))?,
                    None => {
                        let written = self.out.write_all(text.as_bytes());
                        self.output_result(written)?;
                        self.flush()?;
                        self.note(&line);
                    }
                }
            }
            prove::Proven::NotProven { line } => {
                self.emit(json.as_deref().unwrap_or(&line))?;
                self.worst = self.worst.max(1);
            }
        }
        self.verbose_quota(&answer);
        Ok(())
    }

    /// `check N [N...]` and `factor N [N...]`: validate every argument, then ask about each in
    /// order; `-` streams stdin at its place.
    fn check_command<R: BufRead>(
        &mut self,
        ask: Ask,
        args: &[String],
        batch_size: usize,
        stdin: R,
        interactive: bool,
    ) -> Result<(), Halt> {
        // Every argument is validated before anything is sent. `None` stands for stdin.
        let mut sources: Vec<Option<Number>> = Vec::with_capacity(args.len());
        let mut invalid = false;
        for arg in args {
            if arg == "-" {
                if sources.contains(&None) {
                    return Err(Halt::Error(ClientError::Usage(
                        "'-' (read stdin) may be given only once".to_string(),
                    )));
                }
                sources.push(None);
                continue;
            }
            // Surrounding whitespace (from `"$(cat file)"` and the like) is not an error.
            match numbers::parse_number(arg.trim_ascii()) {
                Ok(n) => sources.push(Some(n)),
                Err(error) => {
                    invalid = true;
                    self.report(&ClientError::InvalidNumber {
                        context: String::new(),
                        error,
                    });
                }
            }
        }
        if invalid {
            return Err(Halt::Error(ClientError::Usage(
                "nothing was sent: fix the invalid numbers above".to_string(),
            )));
        }
        self.connect()?;
        let reads_stdin = sources.contains(&None);
        // Several numbers go in batches; numbers typed at a terminal are answered as typed.
        if batch_size > 1 && (sources.len() > 1 || reads_stdin) && !(interactive && reads_stdin) {
            return self.check_batched(Items::new(sources, stdin), batch_size);
        }
        let mut stdin = Some(stdin);
        for source in sources {
            match (source, stdin.take()) {
                (Some(n), reader) => {
                    stdin = reader;
                    self.check_one(ask, &n)?;
                }
                (None, Some(reader)) => {
                    if interactive {
                        self.note("reading numbers from stdin; end with Ctrl-D");
                    }
                    self.check_stream(ask, reader)?;
                }
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// Ask about `items` in chunks of `batch_size` numbers: a worker thread sends each chunk
    /// while this thread reads the next one and prints the previous one (at most two chunks
    /// in flight, so memory stays bounded whatever the input's length).
    fn check_batched<R: BufRead>(
        &mut self,
        mut items: Items<R>,
        batch_size: usize,
    ) -> Result<(), Halt> {
        let Some(api) = self.api.take() else {
            return Err(Halt::Error(ClientError::Usage("not connected".to_string())));
        };
        let waiting = self.waiting();
        let result = std::thread::scope(|scope| {
            let (job_tx, job_rx) = mpsc::channel();
            let (event_tx, event_rx) = mpsc::channel();
            let api = &api;
            scope.spawn(move || batch::worker(api, waiting, &job_rx, &event_tx));
            let (mut pending, mut more, mut stdin_error) = (0usize, true, None);
            while more || pending > 0 {
                if more {
                    let (chunk, error) = items.chunk(batch_size);
                    more = error.is_none() && !chunk.is_empty();
                    stdin_error = error;
                    if !chunk.is_empty() {
                        if job_tx.send(chunk).is_err() {
                            more = false;
                        } else {
                            pending += 1;
                        }
                    }
                }
                if pending > 0 && (pending >= 2 || !more) {
                    self.print_chunk(&event_rx)?;
                    pending -= 1;
                }
            }
            stdin_error.map_or(Ok(()), |e| Err(Halt::Error(e)))
        });
        self.api = Some(api);
        result
    }

    /// Print the outcomes of the next chunk the worker answers (and its notes before them).
    fn print_chunk(&mut self, events: &mpsc::Receiver<Event>) -> Result<(), Halt> {
        loop {
            let event = events.recv().map_err(|_| {
                Halt::Error(ClientError::Usage("the request thread stopped".to_string()))
            })?;
            match event {
                Event::Note(text) => self.note(&text),
                Event::Done { outcomes, halt } => {
                    for outcome in outcomes {
                        match outcome {
                            Outcome::Answer(answer) => {
                                self.print_answer(Ask::Check, &answer, false)?
                            }
                            Outcome::Error(e) => {
                                self.report(&e);
                                self.worst = self.worst.max(e.exit_code());
                            }
                        }
                    }
                    self.flush()?;
                    return halt.map_or(Ok(()), |e| Err(Halt::Error(e)));
                }
            }
        }
    }

    /// Validate the key and URL and build the HTTP client.
    fn connect(&mut self) -> Result<(), ClientError> {
        let base_url = api::parse_base_url(&self.cli.url)?;
        let key = match self.cli.key.as_deref().map(str::trim) {
            Some(key) if !key.is_empty() => key.to_string(),
            _ => {
                return Err(ClientError::Usage(
                    "no API key: pass --key or set PRIME_API_KEY".to_string(),
                ));
            }
        };
        self.api = Some(Api::new(ApiConfig {
            base_url,
            key,
            timeout: self.cli.timeout,
            trusted: match &self.cli.ca_cert {
                Some(path) => Some(tls::TrustedFile::load(path)?),
                None => None,
            },
        })?);
        Ok(())
    }

    fn check_stream<R: BufRead>(&mut self, ask: Ask, reader: R) -> Result<(), Halt> {
        for item in NumberStream::new(reader) {
            match item.map_err(ClientError::Stdin)? {
                StreamItem::Number(n, _) => self.check_one(ask, &n)?,
                StreamItem::Invalid(error, at) => {
                    let e = ClientError::InvalidNumber {
                        context: format!("{at}: "),
                        error,
                    };
                    self.report(&e);
                    self.worst = self.worst.max(e.exit_code());
                }
            }
        }
        Ok(())
    }

    fn check_one(&mut self, ask: Ask, n: &Number) -> Result<(), Halt> {
        let call = |api: &Api| match ask {
            Ask::Check => api.check(n),
            Ask::Factor => api.factor(n),
        };
        let answer = match self.with_wait(call) {
            Ok(answer) => answer,
            Err(e) if e.affects_only_this_number() => {
                self.report(&e);
                self.worst = self.worst.max(e.exit_code());
                return Ok(());
            }
            Err(e) => return Err(Halt::Error(e)),
        };
        self.print_answer(ask, &answer, true)
    }

    /// One answer's line on stdout (and its quota on stderr with `-v`).
    /// With `flush`, the line is flushed at once; otherwise the caller flushes (after a chunk).
    fn print_answer(
        &mut self,
        ask: Ask,
        answer: &Answer<CheckAnswer>,
        flush: bool,
    ) -> Result<(), Halt> {
        // A factorisation is checked (its factors multiply back) whatever the output format.
        let human = match ask {
            Ask::Check => output::check_line(&answer.value),
            Ask::Factor => factor_answer(&answer.value, self.api.as_ref())?,
        };
        let line = if self.cli.json {
            output::json_line(&answer.body)
        } else {
            human
        };
        let written = writeln!(self.out, "{line}");
        self.output_result(written)?;
        if flush || self.cli.verbose {
            self.flush()?;
        }
        self.verbose_quota(answer);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Halt> {
        let flushed = self.out.flush();
        self.output_result(flushed)
    }

    fn output_result(&self, result: io::Result<()>) -> Result<(), Halt> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Halt::BrokenPipe),
            Err(e) => Err(Halt::Error(ClientError::Output(e))),
        }
    }

    /// Call the server; with `--wait`, sleep through 429s until the reset, up to `--max-wait`
    /// in total for this one call. A burst-limit 429 (`violated-policies: ["burst"]`) is waited
    /// out even without `--wait`: it charged nothing and its `Retry-After` is short, so the
    /// client simply slows down to the key's rate.
    fn with_wait<T>(
        &mut self,
        call: impl Fn(&Api) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut waited = Duration::ZERO;
        loop {
            let Some(api) = self.api.as_ref() else {
                return Err(ClientError::Usage("not connected".to_string()));
            };
            match call(api) {
                Err(ClientError::QuotaExhausted(info)) => {
                    let pause = self.waiting().pause_for(info, waited)?;
                    if let Some(note) = &pause.note {
                        self.note(note);
                    }
                    std::thread::sleep(pause.sleep);
                    waited += pause.counted;
                }
                other => return other,
            }
        }
    }

    /// How this run waits out 429s (`--wait`, `--max-wait`, `-v`).
    fn waiting(&self) -> Waiting {
        Waiting {
            wait: self.cli.wait,
            max_wait: self.cli.max_wait,
            verbose: self.cli.verbose,
        }
    }

    fn verbose_quota<T>(&mut self, answer: &Answer<T>) {
        if self.cli.verbose {
            let line = output::quota_line(answer.quota.as_ref());
            self.note(&line);
        }
    }

    /// Write one answer line to stdout and flush it.
    fn emit(&mut self, line: &str) -> Result<(), Halt> {
        let result = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
        self.output_result(result)
    }

    /// One error line on stderr.
    fn report(&mut self, e: &ClientError) {
        let _ = writeln!(self.err, "{PREFIX}: error: {e}");
        let _ = self.err.flush();
    }

    /// One informational line on stderr.
    fn note(&mut self, text: &str) {
        let _ = writeln!(self.err, "{PREFIX}: {text}");
        let _ = self.err.flush();
    }
}
