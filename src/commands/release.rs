//! `git batch release`: give a claim back.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::work::claim;

/// Release a claim so the task is ready again.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// Release another worker's live claim too.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let who = args.worker.claimant(&store)?;
    let released = claim::release(&store, &args.id, &who, args.force)?;
    if ctx.ui.json {
        ctx.ui.json_value(&released)?;
    } else {
        ctx.ui.done(format!(
            "released {} (held by {})",
            released.task, released.worker
        ))?;
    }
    Ok(())
}
