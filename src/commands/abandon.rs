//! `git batch abandon`: remove a task's worktree and branch.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::work::worktree;

/// Remove a task's worktree and branch and release its claim. Refuses when
/// the worktree has uncommitted changes or the branch has commits not on
/// the main branch, unless --force.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// Remove even unlanded commits and uncommitted changes.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    crate::task::id::validate_id(&args.id).map_err(crate::store::StoreError::from)?;
    let who = args.worker.claimant(&store)?;
    let gone = worktree::abandon(&store, &args.id, &who, args.force)?;
    if ctx.ui.json {
        ctx.ui.json_value(&gone)?;
    } else {
        let mut what = Vec::new();
        if let Some(p) = &gone.worktree {
            what.push(format!("worktree {}", p.display()));
        }
        if let Some(b) = &gone.branch {
            what.push(format!("branch {b}"));
        }
        if gone.released {
            what.push("claim".into());
        }
        if what.is_empty() {
            ctx.ui.done(format!("{}: nothing to remove", gone.id))?;
        } else {
            ctx.ui
                .done(format!("{}: removed {}", gone.id, what.join(", ")))?;
        }
    }
    Ok(())
}
