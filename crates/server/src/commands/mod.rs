//! What each subcommand does: [`serve`] (the default) and [`keys`].

pub mod groups;
pub mod keys;
pub mod serve;
pub mod usage;

use std::sync::Arc;

use crate::args::{Cli, Command};
use crate::domain::schedule::{DEFAULT_SCHEDULE, ScheduleError, Schedules};
use crate::startup::StartupError;
use crate::store::{DatabaseUrl, Policies, PoolOptions, Store, StoreError, StoreOptions};

/// A command-line failure: printed as one line on stderr, exit status 1.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The server could not start.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A schedule is invalid.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Invalid input or unknown id.
    #[error("{0}")]
    Invalid(String),
}

/// Run the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CommandError> {
    let database = DatabaseUrl::parse(&cli.database)?;
    match cli.command {
        None => serve::run(&cli.serve, &database).await,
        Some(Command::Serve(args)) => serve::run(&args, &database).await,
        Some(Command::Keys { command }) => {
            let store = admin_store(&database).await?;
            let result = keys::run(command, &store).await;
            store.close().await;
            result
        }
        Some(Command::Groups { command }) => {
            let store = admin_store(&database).await?;
            let result = groups::run(command, &store).await;
            store.close().await;
            result
        }
    }
}

/// The store the administration commands use. They show periods of the default schedule; a
/// server started with another `--reset-schedule` applies its own.
async fn admin_store(database: &DatabaseUrl) -> Result<Store, CommandError> {
    let options = StoreOptions {
        pool: PoolOptions::default(),
        schedules: Arc::new(Schedules::new(DEFAULT_SCHEDULE)?),
        policies: Policies::default(),
    };
    Ok(Store::connect(database, &options).await?)
}
