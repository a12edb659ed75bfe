//! `git batch start`: claim a task and give it a worktree on its own branch.

use super::{TargetArgs, WorkerArgs};
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::work::claim::Target;
use crate::work::worktree;

/// Claim a task (or the next free one) and create its worktree on branch
/// `batch/<id>` from the main branch's tip; print the worktree's path.
///
/// Running it again for a task you hold returns the same worktree.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// When the task's dependencies are finished on their branches but not
    /// landed, start its branch from the branch of one of them (the one that
    /// contains the others); `land` then lands them in order.
    #[arg(long, conflicts_with = "next")]
    pub stack: bool,
    /// Check out only the task's scope and `.batch/` (default:
    /// workers.sparse); `git sparse-checkout disable` there brings the rest.
    #[arg(long)]
    pub sparse: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let target = match args.target.target(ctx, &store)? {
        Target::Id(id) if args.stack => Target::Stacked(id),
        t => t,
    };
    let cache = ctx.cache_for(&store, &target)?;
    let who = args.worker.claimant(&store)?;
    let started = worktree::start(
        &store,
        &cache,
        &target,
        &who,
        args.sparse || store.config.workers.sparse,
    )?;
    super::warn_skipped(ctx, &started.claim.skipped);
    if ctx.ui.json {
        ctx.ui.json_value(&started)?;
    } else {
        ctx.ui.line(started.path.display())?;
        let how = if started.resumed {
            "resumed"
        } else {
            "started"
        };
        ctx.ui.status(format!(
            "{how} {} on {} for {}",
            started.id, started.branch, started.claim.claim.worker
        ));
        if let Some(s) = &started.claim.claim.stack {
            ctx.ui.status(format!(
                "stacked on {}'s finished branch at {}",
                s.task,
                &s.commit[..s.commit.len().min(10)]
            ));
        }
        if let Some(was) = started.reopened {
            ctx.ui.status(format!(
                "{} was {was} on its branch: reopened there for another attempt",
                started.id
            ));
        }
    }
    Ok(())
}
