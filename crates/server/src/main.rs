//! `prime-server`: parse the command line and dispatch.

use std::process::ExitCode;

use clap::Parser;
use prime_server::config::Cli;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = prime_server::telemetry::init(cli.log_format);
    let result = prime_server::cli::run(cli).await;
    drop(logs); // flush pending log lines before the last words
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
