//! `git batch close`: mark tasks closed, with a reason.

use crate::commands::Ctx;
use crate::edit;
use crate::error::CommandError;

/// Close one or more tasks (one commit for all).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tasks to close.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    /// Why it is closed (kept as closed_reason).
    #[arg(long, short = 'r', value_name = "R")]
    pub reason: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let changed = edit::close(&store, &args.ids, args.reason)?;
    super::reopen::print_changes(ctx, &changed, "closed")
}
