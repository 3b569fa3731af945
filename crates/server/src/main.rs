//! `prime-server`: parse the command line, start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use prime_server::args::Cli;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` print in full; a usage error is one line.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    let buffered = usize::try_from(cli.log_buffer_lines).unwrap_or(usize::MAX);
    let logs = prime_server::telemetry::init(cli.log_format, buffered);
    let result = prime_server::commands::run(cli).await;
    drop(logs); // flush pending log lines before the last words
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// clap's message on one line: its lines joined, without the usage and the `--help` hint.
fn one_line(message: &str) -> String {
    message
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ")
}
