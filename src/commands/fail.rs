//! `git batch fail` and `git batch escalate`: stop work on a task, saying why.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::task::Status;
use crate::work::worktree;

/// Mark a task failed: the reason becomes a note, the status is committed on
/// its branch, and the claim is released. Branch and worktree are kept, so
/// no work is lost.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task (default: this worktree's).
    pub id: Option<String>,
    /// Why (recorded as a note on the task).
    #[arg(long, short = 'r')]
    pub reason: String,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    give_up(ctx, args, Status::Failed)
}

/// `fail` and `escalate` differ only in the status they set.
pub fn give_up(ctx: &mut Ctx, args: Args, status: Status) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let id = worktree::task_or_current(&store, args.id.as_deref())?;
    let who = args.worker.claimant_for(&store, &id)?;
    let finished = worktree::give_up(
        &store,
        &id,
        status,
        &worktree::Ended::because(&args.reason),
        &who,
    )?;
    if ctx.ui.json {
        ctx.ui.json_value(&finished)?;
    } else {
        ctx.ui.done(format!(
            "{} {status} on {}; claim released, branch and worktree kept",
            finished.id, finished.branch
        ))?;
    }
    Ok(())
}
