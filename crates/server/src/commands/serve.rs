//! `prime-server serve` (the default command): validate the flags, build, run until stopped.

use super::CommandError;
use crate::args::ServeArgs;
use crate::settings::ServeSettings;
use crate::startup::Application;
use crate::store::DatabaseUrl;

/// Serve until SIGTERM or SIGINT.
pub async fn run(args: &ServeArgs, database: &DatabaseUrl) -> Result<(), CommandError> {
    let settings = ServeSettings::try_from(args)?;
    let app = Application::build(&settings, database).await?;
    app.run_until_stopped().await?;
    Ok(())
}
