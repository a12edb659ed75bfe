//! `git batch done`: finish a task on its branch.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::work::worktree;

/// Finish a task: check that the branch only changes files in the task's
/// scope (plus its own task file and receipt), commit what is left with
/// status `done`. The claim is kept until the task lands.
///
/// Out-of-scope changes are refused, listing each file; nothing is committed.
/// So is a task whose claim another worker holds, unless `--force`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task (default: this worktree's).
    pub id: Option<String>,
    /// The commit message.
    #[arg(short, long, value_name = "MSG")]
    pub message: Option<String>,
    /// Finish it even when another worker holds its claim.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let id = worktree::task_or_current(&store, args.id.as_deref())?;
    let who = args.worker.claimant_for(&store, &id)?;
    if !args.force {
        crate::work::finish::check_holder(&store, &id, &who)?;
    }
    let finished = worktree::done(&store, &id, &who, args.message.as_deref())?;
    if ctx.ui.json {
        ctx.ui.json_value(&finished)?;
    } else {
        ctx.ui.done(format!(
            "{} done on {} ({} file(s) changed)",
            finished.id,
            finished.branch,
            finished.files.len()
        ))?;
    }
    Ok(())
}
