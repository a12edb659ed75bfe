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
    let path = receipt::location(&store, &id)?;
    let (path, text) = match receipt::read_here_or_shared(&store, &id, &path) {
        Ok(found) => found,
        Err(e) => {
            return Err(
                CommandError::new(Exit::Internal, e).hint(format!("reading {}", path.display()))
            );
        }
    };
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
