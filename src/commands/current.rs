//! `git batch current`: the task of this worker worktree.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::work::{WorkError, worktree};

/// Print the task of the current worker worktree (exit 1 elsewhere).
#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(serde::Serialize)]
struct Current {
    id: String,
    branch: String,
    path: std::path::PathBuf,
    title: String,
    scope: Vec<String>,
}

pub fn run(ctx: &mut Ctx, _args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let id = worktree::current_task(&store).ok_or_else(|| WorkError::NoCurrentTask {
        dir: store.root.clone(),
    })?;
    let task = store.read_task(&id)?;
    let current = Current {
        branch: crate::work::branch_of(&id),
        path: store.root.clone(),
        title: task.title,
        scope: task.scope,
        id,
    };
    if ctx.ui.json {
        ctx.ui.json_value(&current)?;
    } else {
        ctx.ui.line(&current.id)?;
    }
    Ok(())
}
