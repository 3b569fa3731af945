//! `prime-server`: parse the command line and dispatch.

use std::process::ExitCode;

use clap::Parser;
use prime_server::config::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    prime_server::telemetry::init();
    match prime_server::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
