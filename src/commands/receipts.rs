//! `git batch receipts`: print a task's receipt.

use crate::commands::Ctx;
use crate::error::{CommandError, Exit};
use crate::work::{receipt, worktree};

/// Print a task's receipt: from its worktree while it has one, else from
/// this working tree (where landed receipts are).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task (default: this worktree's).
    pub id: Option<String>,
}

#[derive(serde::Serialize)]
struct Receipt {
    id: String,
    path: std::path::PathBuf,
    lines: Vec<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let id = worktree::task_or_current(&store, args.id.as_deref())?;
    ctx.check_exists(&store, &id)?;
    let mut path = receipt::location(&store, &id)?;
    let mut text = match receipt::read(&path) {
        Ok(text) => text,
        Err(e) => {
            return Err(
                CommandError::new(Exit::Internal, e).hint(format!("reading {}", path.display()))
            );
        }
    };
    // Without a worktree here: the work another clone shared (a failed or
    // escalated task's partial receipt) when it has more.
    if worktree::find_worktree(&store.repo, &id)?.is_none() {
        let work = crate::git::refs::work(&id);
        if let Ok(tip) = store.repo.refname_to_id(&work) {
            let shared = crate::store::at_commit::receipt_lines_at(&store.repo, tip, &id);
            if shared.len() > text.lines().count() {
                text = shared.iter().map(|l| format!("{l}\n")).collect();
                path = std::path::PathBuf::from(work);
            }
        }
    }
    if ctx.ui.json {
        let lines = text.lines().map(String::from).collect();
        ctx.ui.json_value(&Receipt { id, path, lines })?;
    } else {
        std::io::Write::write_all(ctx.ui.out(), crate::ui::terminal_safe(&text).as_bytes())?;
        if text.is_empty() {
            ctx.ui.status(format!("{id} has no receipt yet"));
        }
    }
    Ok(())
}
